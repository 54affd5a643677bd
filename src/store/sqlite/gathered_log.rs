//! A VFS in front of SQLite's own that gathers a commit's log writes into one.
//!
//! SQLite writes every WAL frame with two `pwrite`s, its 24-byte header and
//! then the page, so a commit of ~20 frames costs ~40 system calls, each
//! locking and dirtying the page-cache pages it touches (a 4 120-byte frame
//! straddles two). This layer keeps contiguous writes to a `-wal` file in
//! memory and hands them to the real file in one write: when the commit
//! frame is complete, and before anything that could observe the file (a
//! sync, read, size query, truncation, file control, memory map or close).
//! Every other file, and every other call, goes straight through.
//!
//! Durability is unchanged: a commit is acknowledged only after `xSync`, and
//! `xSync` writes what is gathered first. Flushing at the commit frame (not
//! only at the sync) keeps other connections correct even without a sync
//! per commit: once SQLite publishes a commit in the shared index, its
//! frames are already in the file.

use std::ffi::{c_char, c_int, c_void, CStr};
use std::ptr;
use std::sync::OnceLock;

use rusqlite::ffi;

/// The name connections pass to `sqlite3_open_v2` to use this VFS.
pub const NAME: &CStr = c"leadgate-gathered-log";

/// The unix VFS's write masks each `pwrite` length to 17 bits (`nBuf &=
/// 0x1ffff` in `seekAndWriteFd`), so a longer write could reach it as a
/// zero-length one and fail as "disk full"; gathered bytes go in pieces
/// below that.
const MAX_WRITE: usize = 0x1f000;

/// A log write bigger than this is passed on even mid-commit, so a huge
/// transaction never keeps more than this beside SQLite's own page cache.
const MAX_GATHERED: usize = 4 << 20;

/// The buffer is kept between commits up to this size (a commit of a few
/// dozen leads is ~100 KB); a bigger one, left by a large batch, is freed.
const KEPT_CAPACITY: usize = 1 << 20;

/// Registers the VFS once per process; returns its name, or `None` if the
/// default VFS is missing or registration failed (callers then open with
/// SQLite's default, which is correct, only slower).
pub fn register() -> Option<&'static CStr> {
    static REGISTERED: OnceLock<bool> = OnceLock::new();
    let registered = *REGISTERED.get_or_init(|| {
        // SAFETY: `sqlite3_vfs_find(NULL)` returns the default VFS, which
        // lives as long as the process; the VFS built from it is leaked so it
        // does too, as `sqlite3_vfs_register` requires.
        let registered = unsafe {
            let inner = ffi::sqlite3_vfs_find(ptr::null());
            !inner.is_null() && {
                let vfs = Box::leak(Box::new(ffi::sqlite3_vfs {
                    iVersion: (*inner).iVersion,
                    szOsFile: (std::mem::size_of::<GatheringFile>() as c_int) + (*inner).szOsFile,
                    mxPathname: (*inner).mxPathname,
                    pNext: ptr::null_mut(),
                    zName: NAME.as_ptr(),
                    pAppData: inner.cast(),
                    xOpen: Some(open),
                    xDelete: Some(delete),
                    xAccess: Some(access),
                    xFullPathname: Some(full_pathname),
                    ..*inner
                }));
                ffi::sqlite3_vfs_register(vfs, 0) == ffi::SQLITE_OK
            }
        };
        if !registered {
            tracing::warn!("cannot register the gathered-log VFS; using SQLite's default");
        }
        registered
    });
    registered.then_some(NAME)
}

/// Our part of an open file; the default VFS's own file follows it in the
/// same allocation (`szOsFile` above reserves room for both).
#[repr(C)]
struct GatheringFile {
    base: ffi::sqlite3_file,
    /// Only `-wal` files gather; the rest pass every call through.
    is_log: bool,
    /// The header just written was a commit frame's, so the page written
    /// next completes the commit.
    commit_frame_pending: bool,
    gathered_at: i64,
    gathered: Vec<u8>,
}

/// A frame header is 24 bytes; bytes 4..8 hold the database size after a
/// commit frame and zero in every other frame.
const FRAME_HEADER: usize = 24;

/// The default VFS this one was built from (its `pAppData`); `vfs` must be
/// this module's VFS.
unsafe fn inner_vfs(vfs: *mut ffi::sqlite3_vfs) -> *mut ffi::sqlite3_vfs {
    (*vfs).pAppData.cast()
}

/// The default VFS's file, stored right after ours.
unsafe fn inner_file(file: *mut ffi::sqlite3_file) -> *mut ffi::sqlite3_file {
    file.cast::<u8>()
        .add(std::mem::size_of::<GatheringFile>())
        .cast()
}

unsafe fn inner_methods(file: *mut ffi::sqlite3_file) -> *const ffi::sqlite3_io_methods {
    (*inner_file(file)).pMethods
}

/// Calls one of the default file's methods, or answers `SQLITE_IOERR` if it
/// has none (never the case for the unix VFS's files). The `since N else
/// FALLBACK;` form is for methods added in version N of the methods table
/// (2: shared memory, 3: memory maps), which an older table does not even
/// have room for, and names what to answer without them.
macro_rules! forward {
    (since $version:literal else $missing:expr; $file:expr, $method:ident $(, $arg:expr)*) => {{
        let methods = inner_methods($file);
        // The version first: an older table's memory ends before the field.
        if (*methods).iVersion < $version {
            $missing
        } else {
            match (*methods).$method {
                Some(method) => method(inner_file($file) $(, $arg)*),
                None => $missing,
            }
        }
    }};
    ($file:expr, $method:ident $(, $arg:expr)*) => {
        forward!(since 1 else ffi::SQLITE_IOERR; $file, $method $(, $arg)*)
    };
}

/// Writes what is gathered, if anything. What failed to be written is
/// dropped: SQLite hears the error and rewrites those frames in its next
/// attempt.
unsafe fn flush(file: *mut ffi::sqlite3_file) -> c_int {
    let me = file.cast::<GatheringFile>();
    if (*me).gathered.is_empty() {
        return ffi::SQLITE_OK;
    }
    let mut gathered = std::mem::take(&mut (*me).gathered);
    let mut rc = ffi::SQLITE_OK;
    let mut offset = (*me).gathered_at;
    for piece in gathered.chunks(MAX_WRITE) {
        // `MAX_WRITE` fits in a c_int.
        rc = forward!(
            file,
            xWrite,
            piece.as_ptr().cast(),
            piece.len() as c_int,
            offset
        );
        if rc != ffi::SQLITE_OK {
            break;
        }
        offset += piece.len() as i64;
    }
    gathered.clear();
    if gathered.capacity() > KEPT_CAPACITY {
        gathered = Vec::new();
    }
    (*me).gathered = gathered;
    (*me).commit_frame_pending = false;
    rc
}

unsafe extern "C" fn open(
    vfs: *mut ffi::sqlite3_vfs,
    name: *const c_char,
    file: *mut ffi::sqlite3_file,
    flags: c_int,
    out_flags: *mut c_int,
) -> c_int {
    let inner_vfs = inner_vfs(vfs);
    let inner = inner_file(file);
    let Some(inner_open) = (*inner_vfs).xOpen else {
        (*file).pMethods = ptr::null();
        return ffi::SQLITE_CANTOPEN;
    };
    let rc = inner_open(inner_vfs, name, inner, flags, out_flags);
    if rc != ffi::SQLITE_OK || (*inner).pMethods.is_null() {
        // SQLite calls no method of a file whose open failed.
        (*file).pMethods = ptr::null();
        return rc;
    }
    ptr::write(
        file.cast::<GatheringFile>(),
        GatheringFile {
            base: ffi::sqlite3_file { pMethods: &METHODS },
            is_log: flags & ffi::SQLITE_OPEN_WAL != 0,
            commit_frame_pending: false,
            gathered_at: 0,
            gathered: Vec::new(),
        },
    );
    rc
}

/// A call on the VFS itself, passed to the default VFS with its own pointer,
/// since a VFS may read its own fields (`pAppData`, `mxPathname`) from it.
macro_rules! forward_to_default_vfs {
    ($name:ident, $method:ident, $missing:expr, ($($arg:ident: $type:ty),*)) => {
        unsafe extern "C" fn $name(vfs: *mut ffi::sqlite3_vfs $(, $arg: $type)*) -> c_int {
            let inner = inner_vfs(vfs);
            match (*inner).$method {
                Some(method) => method(inner $(, $arg)*),
                None => $missing,
            }
        }
    };
}

forward_to_default_vfs!(delete, xDelete, ffi::SQLITE_IOERR_DELETE, (name: *const c_char, sync: c_int));
forward_to_default_vfs!(access, xAccess, ffi::SQLITE_IOERR_ACCESS, (name: *const c_char, flags: c_int, out: *mut c_int));
forward_to_default_vfs!(full_pathname, xFullPathname, ffi::SQLITE_CANTOPEN, (name: *const c_char, size: c_int, out: *mut c_char));

static METHODS: ffi::sqlite3_io_methods = ffi::sqlite3_io_methods {
    iVersion: 3,
    xClose: Some(close),
    xRead: Some(read),
    xWrite: Some(write),
    xTruncate: Some(truncate),
    xSync: Some(sync),
    xFileSize: Some(file_size),
    xLock: Some(lock),
    xUnlock: Some(unlock),
    xCheckReservedLock: Some(check_reserved_lock),
    xFileControl: Some(file_control),
    xSectorSize: Some(sector_size),
    xDeviceCharacteristics: Some(device_characteristics),
    xShmMap: Some(shm_map),
    xShmLock: Some(shm_lock),
    xShmBarrier: Some(shm_barrier),
    xShmUnmap: Some(shm_unmap),
    xFetch: Some(fetch),
    xUnfetch: Some(unfetch),
};

unsafe extern "C" fn close(file: *mut ffi::sqlite3_file) -> c_int {
    let flushed = flush(file);
    let closed = forward!(file, xClose);
    ptr::drop_in_place(file.cast::<GatheringFile>());
    if flushed != ffi::SQLITE_OK {
        flushed
    } else {
        closed
    }
}

unsafe extern "C" fn read(
    file: *mut ffi::sqlite3_file,
    buffer: *mut c_void,
    amount: c_int,
    offset: i64,
) -> c_int {
    let rc = flush(file);
    if rc != ffi::SQLITE_OK {
        return rc;
    }
    forward!(file, xRead, buffer, amount, offset)
}

unsafe extern "C" fn write(
    file: *mut ffi::sqlite3_file,
    buffer: *const c_void,
    amount: c_int,
    offset: i64,
) -> c_int {
    let me = file.cast::<GatheringFile>();
    let Ok(length) = usize::try_from(amount) else {
        return ffi::SQLITE_IOERR_WRITE;
    };
    if !(*me).is_log || length > MAX_GATHERED {
        let rc = flush(file);
        if rc != ffi::SQLITE_OK {
            return rc;
        }
        return forward!(file, xWrite, buffer, amount, offset);
    }
    let gathered_end = (*me).gathered_at + (*me).gathered.len() as i64;
    if !(*me).gathered.is_empty() && offset != gathered_end {
        // Not contiguous (a frame rewritten within its transaction).
        let rc = flush(file);
        if rc != ffi::SQLITE_OK {
            return rc;
        }
    }
    if (*me).gathered.is_empty() {
        (*me).gathered_at = offset;
    }
    let bytes = std::slice::from_raw_parts(buffer.cast::<u8>(), length);
    (*me).gathered.extend_from_slice(bytes);
    if length == FRAME_HEADER {
        (*me).commit_frame_pending = bytes[4..8] != [0; 4];
        return ffi::SQLITE_OK;
    }
    if (*me).commit_frame_pending || (*me).gathered.len() > MAX_GATHERED {
        return flush(file);
    }
    ffi::SQLITE_OK
}

/// Flushes, then forwards: for every call that observes or changes the file
/// other than by writing.
macro_rules! flushed_forward {
    ($file:expr, $method:ident $(, $arg:expr)*) => {{
        let rc = flush($file);
        if rc != ffi::SQLITE_OK {
            return rc;
        }
        forward!($file, $method $(, $arg)*)
    }};
}

unsafe extern "C" fn truncate(file: *mut ffi::sqlite3_file, size: i64) -> c_int {
    flushed_forward!(file, xTruncate, size)
}

unsafe extern "C" fn sync(file: *mut ffi::sqlite3_file, flags: c_int) -> c_int {
    flushed_forward!(file, xSync, flags)
}

unsafe extern "C" fn file_size(file: *mut ffi::sqlite3_file, size: *mut i64) -> c_int {
    flushed_forward!(file, xFileSize, size)
}

unsafe extern "C" fn lock(file: *mut ffi::sqlite3_file, level: c_int) -> c_int {
    forward!(file, xLock, level)
}

unsafe extern "C" fn unlock(file: *mut ffi::sqlite3_file, level: c_int) -> c_int {
    flushed_forward!(file, xUnlock, level)
}

unsafe extern "C" fn check_reserved_lock(file: *mut ffi::sqlite3_file, out: *mut c_int) -> c_int {
    forward!(file, xCheckReservedLock, out)
}

unsafe extern "C" fn file_control(
    file: *mut ffi::sqlite3_file,
    operation: c_int,
    argument: *mut c_void,
) -> c_int {
    flushed_forward!(file, xFileControl, operation, argument)
}

unsafe extern "C" fn sector_size(file: *mut ffi::sqlite3_file) -> c_int {
    forward!(since 1 else 4096; file, xSectorSize)
}

unsafe extern "C" fn device_characteristics(file: *mut ffi::sqlite3_file) -> c_int {
    forward!(since 1 else 0; file, xDeviceCharacteristics)
}

unsafe extern "C" fn shm_map(
    file: *mut ffi::sqlite3_file,
    region: c_int,
    size: c_int,
    extend: c_int,
    out: *mut *mut c_void,
) -> c_int {
    forward!(since 2 else ffi::SQLITE_IOERR; file, xShmMap, region, size, extend, out)
}

unsafe extern "C" fn shm_lock(
    file: *mut ffi::sqlite3_file,
    offset: c_int,
    count: c_int,
    flags: c_int,
) -> c_int {
    forward!(since 2 else ffi::SQLITE_IOERR; file, xShmLock, offset, count, flags)
}

unsafe extern "C" fn shm_barrier(file: *mut ffi::sqlite3_file) {
    forward!(since 2 else (); file, xShmBarrier)
}

unsafe extern "C" fn shm_unmap(file: *mut ffi::sqlite3_file, delete: c_int) -> c_int {
    forward!(since 2 else ffi::SQLITE_OK; file, xShmUnmap, delete)
}

unsafe extern "C" fn fetch(
    file: *mut ffi::sqlite3_file,
    offset: i64,
    amount: c_int,
    out: *mut *mut c_void,
) -> c_int {
    let rc = flush(file);
    if rc != ffi::SQLITE_OK {
        return rc;
    }
    // No memory map: SQLite reads through `xRead` instead.
    forward!(since 3 else { *out = ptr::null_mut(); ffi::SQLITE_OK }; file, xFetch, offset, amount, out)
}

unsafe extern "C" fn unfetch(
    file: *mut ffi::sqlite3_file,
    offset: i64,
    pointer: *mut c_void,
) -> c_int {
    forward!(since 3 else ffi::SQLITE_OK; file, xUnfetch, offset, pointer)
}

#[cfg(test)]
mod tests {
    use rusqlite::{Connection, OpenFlags};

    fn open_gathering(path: &std::path::Path) -> Connection {
        let name = super::register().expect("registers").to_str().unwrap();
        Connection::open_with_flags_and_vfs(path, OpenFlags::default(), name).unwrap()
    }

    fn count(connection: &Connection) -> i64 {
        connection
            .query_row("SELECT COUNT(*) FROM t", [], |row| row.get(0))
            .unwrap()
    }

    /// Without a sync per commit, only the flush at the commit frame puts a
    /// commit's frames in the file before SQLite publishes it; a reader on
    /// the default VFS reads them from the file.
    #[test]
    fn other_connections_see_each_commit_without_a_sync() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("log.db");
        let writer = open_gathering(&path);
        writer
            .execute_batch(
                "PRAGMA journal_mode = WAL; PRAGMA synchronous = OFF;
                 CREATE TABLE t (id INTEGER PRIMARY KEY, body TEXT);",
            )
            .unwrap();
        let reader = Connection::open(&path).unwrap();
        for id in 0..40_i64 {
            writer
                .execute(
                    "INSERT INTO t (id, body) VALUES (?1, ?2)",
                    (id, "x".repeat(3000)),
                )
                .unwrap();
            assert_eq!(count(&reader), id + 1);
        }
        let body: String = reader
            .query_row("SELECT body FROM t WHERE id = 39", [], |row| row.get(0))
            .unwrap();
        assert_eq!(body.len(), 3000);
    }

    /// A transaction far bigger than the page cache spills, rewrites its
    /// own frames and gathers more than one `pwrite` may carry; all of it
    /// must come back after the writer is gone.
    #[test]
    fn large_transactions_come_back_whole() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("log.db");
        {
            let mut writer = open_gathering(&path);
            writer
                .execute_batch(
                    "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL;
                     PRAGMA wal_autocheckpoint = 0; PRAGMA cache_size = 20;
                     CREATE TABLE t (id INTEGER PRIMARY KEY, body TEXT);",
                )
                .unwrap();
            let transaction = writer.transaction().unwrap();
            for id in 0..4000_i64 {
                transaction
                    .execute(
                        "INSERT INTO t (id, body) VALUES (?1, ?2)",
                        (id, format!("{id:04}").repeat(500)),
                    )
                    .unwrap();
            }
            transaction
                .execute("UPDATE t SET body = 'rewritten' WHERE id % 100 = 0", [])
                .unwrap();
            transaction.commit().unwrap();
        }
        // Reopened on the default VFS, the log replayed from the file alone.
        let reader = Connection::open(&path).unwrap();
        assert_eq!(count(&reader), 4000);
        let (rewritten, length): (i64, i64) = reader
            .query_row(
                "SELECT SUM(body = 'rewritten'), SUM(LENGTH(body)) FROM t",
                [],
                |row| Ok((row.get(0)?, row.get(1)?)),
            )
            .unwrap();
        assert_eq!(rewritten, 40);
        assert_eq!(length, 3960 * 2000 + 40 * 9);
        let check: String = reader
            .query_row("PRAGMA integrity_check", [], |row| row.get(0))
            .unwrap();
        assert_eq!(check, "ok");
    }
}
