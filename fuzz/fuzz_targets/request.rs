//! What the request fuzz targets share: fuzz bytes as an HTTP request (the
//! first byte picks the content type, with or without a charset, and
//! whether a legacy charset is set; the bytes up to the first 0xFF are the
//! query string, the rest the body), read into parameters the way each
//! dialect reads them, on one runtime per process.

use std::sync::OnceLock;

use bytes::Bytes;
use http_body_util::Full;
use leadgate::http::Params;

const CONTENT_TYPES: &[&str] = &[
    "application/x-www-form-urlencoded",
    "multipart/form-data; boundary=B",
    "application/json",
    "text/plain",
    "",
    "application/x-www-form-urlencoded; charset=windows-1251",
    "application/json; charset=koi8-r",
    "multipart/form-data; boundary=B; charset=cp866",
    "text/plain; charset=x-unknown",
];

fn runtime() -> &'static tokio::runtime::Runtime {
    static RUNTIME: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RUNTIME.get_or_init(|| {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime")
    })
}

/// Runs `work` on the shared runtime (stores need one to start).
pub fn block_on<F: std::future::Future>(work: F) -> F::Output {
    runtime().block_on(work)
}

/// The parameters of `data` sent to `path`; `keep_json` reads a JSON body
/// as a tree (Bitrix24, LiveTex) instead of flattening it (SalesMan).
pub fn params(data: &[u8], path: &str, keep_json: bool) -> Option<Params> {
    let (&selector, rest) = data.split_first()?;
    let split = rest
        .iter()
        .position(|byte| *byte == 0xFF)
        .unwrap_or(rest.len());
    let (query, body) = rest.split_at(split);
    let query: String = query
        .iter()
        .map(|byte| {
            if byte.is_ascii_graphic() {
                *byte as char
            } else {
                '%'
            }
        })
        .collect();
    let request = http::Request::post(format!("{path}?{query}"))
        .header(
            "content-type",
            CONTENT_TYPES[selector as usize % CONTENT_TYPES.len()],
        )
        .body(Full::new(Bytes::copy_from_slice(body)))
        .ok()?;
    let (parts, body) = request.into_parts();
    // The selector's top bit also sets a dialect's legacy charset.
    let options = leadgate::http::params::ReadOptions {
        max_bytes: 1 << 20,
        stall: None,
        legacy_charset: leadgate::dialect::legacy_charset(
            (selector & 0x80 != 0).then_some("windows-1251"),
        ),
    };
    let read = async {
        if keep_json {
            Params::read_keeping_json(&parts, body, options).await
        } else {
            Params::read(&parts, body, options).await
        }
    };
    block_on(read).ok()
}
