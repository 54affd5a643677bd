//! hyper's own answers to request heads it cannot parse, in the dialect the
//! request's path names.
//!
//! A request line longer than 64 KiB, bytes that are not allowed in a
//! request target, or more than hyper's header count never reach a route:
//! hyper answers them itself, with a bare 414, 400 or 431 and no body,
//! and closes the connection. An old client that parses every answer as
//! its dialect's JSON then fails on an empty body. This wrapper on the
//! connection's stream keeps the start of the bytes read since the last
//! answer (where the refused request's line is), recognises hyper's
//! automatic answer as it is written (a 400/414/431 head without the
//! `x-request-id` every routed answer carries), and writes in its place
//! the refusal of the dialect whose route the path matches. Paths no
//! dialect serves keep hyper's answer.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use http::StatusCode;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// Why hyper refused a head.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refused {
    /// The request line or the headers are too long or too many (414, 431).
    TooLarge,
    /// The head is not HTTP hyper accepts (400).
    Malformed,
}

/// A dialect's whole answer to a refused head.
#[derive(Clone, Debug)]
pub struct Refusal {
    pub status: StatusCode,
    pub content_type: String,
    pub body: String,
}

impl Refusal {
    /// The answer as HTTP/1.1 bytes; the connection closes after it, as
    /// hyper's own would.
    fn to_bytes(&self) -> Vec<u8> {
        let mut bytes = format!(
            "HTTP/1.1 {} {}\r\ncontent-type: {}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
            self.status.as_u16(),
            self.status.canonical_reason().unwrap_or(""),
            self.content_type,
            self.body.len()
        )
        .into_bytes();
        bytes.extend_from_slice(self.body.as_bytes());
        bytes
    }
}

/// The refusal for a request path, if a dialect serves it.
pub type Refusals = Arc<dyn Fn(&str, Refused) -> Option<Refusal> + Send + Sync>;

/// How much of a request's start is kept to find its path.
const KEPT: usize = 1024;

pub struct HeadRefusals<I> {
    inner: I,
    refusals: Refusals,
    /// The first bytes read since the last answer was written.
    request_start: Vec<u8>,
    /// An answer was written since `request_start` was filled.
    answered: bool,
    /// The dialect's answer being written in place of hyper's.
    replacing: Option<Replacing>,
}

struct Replacing {
    bytes: Vec<u8>,
    written: usize,
    /// What hyper is told was written once `bytes` are out.
    claimed: usize,
}

impl<I> HeadRefusals<I> {
    pub fn new(inner: I, refusals: Refusals) -> HeadRefusals<I> {
        HeadRefusals {
            inner,
            refusals,
            request_start: Vec::new(),
            answered: false,
            replacing: None,
        }
    }

    /// The dialect answer to put in place of `head`, if `head` is hyper's
    /// automatic refusal and the refused path is a dialect's.
    fn replacement(&self, head: &[u8]) -> Option<Vec<u8>> {
        let refused = automatic_refusal(head)?;
        let path = request_path(&self.request_start)?;
        let refusal = (self.refusals)(&path, refused)?;
        Some(refusal.to_bytes())
    }
}

/// What hyper's automatic answer `head` refuses, if it is one.
fn automatic_refusal(head: &[u8]) -> Option<Refused> {
    let refused = if head.starts_with(b"HTTP/1.1 400 ") {
        Refused::Malformed
    } else if head.starts_with(b"HTTP/1.1 414 ") || head.starts_with(b"HTTP/1.1 431 ") {
        Refused::TooLarge
    } else {
        return None;
    };
    let lower = head.to_ascii_lowercase();
    let routed = lower
        .windows(b"\r\nx-request-id:".len())
        .any(|window| window == b"\r\nx-request-id:");
    let bodiless = lower
        .windows(b"\r\ncontent-length: 0\r\n".len())
        .any(|window| window == b"\r\ncontent-length: 0\r\n");
    (!routed && bodiless && head.ends_with(b"\r\n\r\n")).then_some(refused)
}

/// The path of the request line at the start of `bytes`, as text.
fn request_path(bytes: &[u8]) -> Option<String> {
    let after_method = bytes.iter().position(|byte| *byte == b' ')? + 1;
    let target = &bytes[after_method..];
    let end = target
        .iter()
        .position(|byte| matches!(byte, b' ' | b'?' | b'\r' | b'\n'))
        .unwrap_or(target.len());
    Some(String::from_utf8_lossy(&target[..end]).into_owned())
}

impl<I: AsyncRead + Unpin> AsyncRead for HeadRefusals<I> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        context: &mut Context<'_>,
        buffer: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let filled_before = buffer.filled().len();
        let this = &mut *self;
        let polled = Pin::new(&mut this.inner).poll_read(context, buffer);
        let read = &buffer.filled()[filled_before..];
        if !read.is_empty() {
            if this.answered {
                this.request_start.clear();
                this.answered = false;
            }
            let room = KEPT.saturating_sub(this.request_start.len());
            this.request_start
                .extend_from_slice(&read[..read.len().min(room)]);
        }
        polled
    }
}

impl<I: AsyncWrite + Unpin> HeadRefusals<I> {
    /// Passes `written` on, noting that an answer has begun: the next bytes
    /// read start another request.
    fn note(&mut self, written: Poll<io::Result<usize>>) -> Poll<io::Result<usize>> {
        if matches!(written, Poll::Ready(Ok(count)) if count > 0) {
            self.answered = true;
        }
        written
    }

    /// Writes `buffer`, or the dialect's answer in place of hyper's.
    fn write_or_replace(
        &mut self,
        context: &mut Context<'_>,
        buffer: &[u8],
    ) -> Option<Poll<io::Result<usize>>> {
        if self.replacing.is_none() {
            let bytes = self.replacement(buffer)?;
            self.replacing = Some(Replacing {
                bytes,
                written: 0,
                claimed: buffer.len(),
            });
        }
        let replacing = self.replacing.as_mut()?;
        while replacing.written < replacing.bytes.len() {
            match Pin::new(&mut self.inner)
                .poll_write(context, &replacing.bytes[replacing.written..])
            {
                Poll::Ready(Ok(0)) => {
                    return Some(Poll::Ready(Err(io::ErrorKind::WriteZero.into())))
                }
                Poll::Ready(Ok(count)) => replacing.written += count,
                Poll::Ready(Err(error)) => return Some(Poll::Ready(Err(error))),
                Poll::Pending => return Some(Poll::Pending),
            }
        }
        let claimed = replacing.claimed;
        self.replacing = None;
        self.answered = true;
        Some(Poll::Ready(Ok(claimed)))
    }
}

impl<I: AsyncWrite + Unpin> AsyncWrite for HeadRefusals<I> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        context: &mut Context<'_>,
        buffer: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = &mut *self;
        if let Some(replaced) = this.write_or_replace(context, buffer) {
            return replaced;
        }
        let written = Pin::new(&mut this.inner).poll_write(context, buffer);
        this.note(written)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        context: &mut Context<'_>,
        buffers: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = &mut *self;
        // hyper writes an automatic answer as one head without a body.
        if let Some(first) = buffers.iter().find(|buffer| !buffer.is_empty()) {
            if let Some(replaced) = this.write_or_replace(context, first) {
                return replaced;
            }
        }
        let written = Pin::new(&mut this.inner).poll_write_vectored(context, buffers);
        this.note(written)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, context: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(context)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, context: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(context)
    }
}

#[cfg(test)]
mod tests {
    use super::{automatic_refusal, request_path, Refused};

    #[test]
    fn hyper_refusals_are_told_from_routed_answers() {
        let automatic = b"HTTP/1.1 414 URI Too Long\r\nconnection: close\r\ncontent-length: 0\r\ndate: Thu, 03 Dec 2026 16:47:26 GMT\r\n\r\n";
        assert_eq!(automatic_refusal(automatic), Some(Refused::TooLarge));
        let bad = b"HTTP/1.1 400 Bad Request\r\nconnection: close\r\ncontent-length: 0\r\ndate: x\r\n\r\n";
        assert_eq!(automatic_refusal(bad), Some(Refused::Malformed));
        let routed = b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\nx-request-id: 1-2\r\n\r\n";
        assert_eq!(automatic_refusal(routed), None);
        let ok = b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n";
        assert_eq!(automatic_refusal(ok), None);
    }

    #[test]
    fn the_path_is_read_from_the_request_line() {
        assert_eq!(
            request_path(b"GET /developer/v1/leads?x=1 HTTP/1.1\r\n").as_deref(),
            Some("/developer/v1/leads")
        );
        assert_eq!(
            request_path(b"GET /rest/1/code/crm.lead.list").as_deref(),
            Some("/rest/1/code/crm.lead.list")
        );
        assert_eq!(request_path(b"nothing"), None);
    }
}
