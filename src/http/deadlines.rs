//! Deadlines on a connection's byte stream that hyper does not keep itself.
//!
//! hyper's HTTP/1 header timeout starts only once hyper reads a request
//! head; before that, the auto builder reads the first bytes to choose
//! between HTTP/1 and HTTP/2 and would wait for them forever, so a client
//! that connects and sends nothing held a file descriptor until it left.
//! And hyper has no write timeout: a client that never reads its answer
//! held its connection while the answer sat in the socket buffer. Both are
//! kept here, on the stream hyper reads and writes:
//!
//! - **first byte**: nothing received within the deadline ends the
//!   connection (hyper's own timeout takes over from the first byte on);
//! - **write stall**: a write or flush that makes no progress for the
//!   stall time ends the connection.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::{sleep, Sleep};

/// `inner` with a first-byte deadline and a write-stall limit.
pub struct Deadlines<I> {
    inner: I,
    /// Running until the first byte arrives; `None` from then on.
    first_byte: Option<Pin<Box<Sleep>>>,
    write_stall: Duration,
    /// Running while a write waits on a full socket buffer.
    stalled_since: Option<Pin<Box<Sleep>>>,
}

impl<I> Deadlines<I> {
    pub fn new(inner: I, first_byte: Duration, write_stall: Duration) -> Deadlines<I> {
        Deadlines {
            inner,
            first_byte: Some(Box::pin(sleep(first_byte))),
            write_stall,
            stalled_since: None,
        }
    }

    /// What a write, flush or shutdown of the inner stream came to: while
    /// it waits on a full socket buffer the stall timer runs (started on
    /// the first wait), and once it has run out the write fails; any
    /// progress stops the timer.
    fn watch_write<T>(
        &mut self,
        context: &mut Context<'_>,
        polled: Poll<io::Result<T>>,
    ) -> Poll<io::Result<T>> {
        if polled.is_ready() {
            self.stalled_since = None;
            return polled;
        }
        let stall = self.write_stall;
        let timer = self
            .stalled_since
            .get_or_insert_with(|| Box::pin(sleep(stall)));
        if timer.as_mut().poll(context).is_ready() {
            return Poll::Ready(Err(io::Error::new(
                io::ErrorKind::TimedOut,
                "the client did not read its answer in time",
            )));
        }
        Poll::Pending
    }
}

impl<I: AsyncRead + Unpin> AsyncRead for Deadlines<I> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        context: &mut Context<'_>,
        buffer: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let filled_before = buffer.filled().len();
        let this = &mut *self;
        match Pin::new(&mut this.inner).poll_read(context, buffer) {
            Poll::Ready(Ok(())) => {
                if buffer.filled().len() > filled_before {
                    this.first_byte = None;
                }
                Poll::Ready(Ok(()))
            }
            Poll::Pending => {
                let expired = this
                    .first_byte
                    .as_mut()
                    .is_some_and(|deadline| deadline.as_mut().poll(context).is_ready());
                if expired {
                    return Poll::Ready(Err(io::Error::new(
                        io::ErrorKind::TimedOut,
                        "no request within the header read timeout",
                    )));
                }
                Poll::Pending
            }
            failed => failed,
        }
    }
}

impl<I: AsyncWrite + Unpin> AsyncWrite for Deadlines<I> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        context: &mut Context<'_>,
        bytes: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = &mut *self;
        let polled = Pin::new(&mut this.inner).poll_write(context, bytes);
        this.watch_write(context, polled)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        context: &mut Context<'_>,
        buffers: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = &mut *self;
        let polled = Pin::new(&mut this.inner).poll_write_vectored(context, buffers);
        this.watch_write(context, polled)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, context: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = &mut *self;
        let polled = Pin::new(&mut this.inner).poll_flush(context);
        this.watch_write(context, polled)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, context: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = &mut *self;
        let polled = Pin::new(&mut this.inner).poll_shutdown(context);
        this.watch_write(context, polled)
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    use super::Deadlines;

    #[tokio::test(start_paused = true)]
    async fn a_silent_peer_is_cut_off_at_the_first_byte_deadline() {
        let (_client, server) = tokio::io::duplex(64);
        let mut stream = Deadlines::new(server, Duration::from_secs(5), Duration::from_secs(5));
        let mut buffer = [0u8; 8];
        let error = stream.read(&mut buffer).await.unwrap_err();
        assert_eq!(error.kind(), std::io::ErrorKind::TimedOut);
    }

    #[tokio::test(start_paused = true)]
    async fn after_the_first_byte_reads_wait_as_long_as_they_must() {
        let (mut client, server) = tokio::io::duplex(64);
        let mut stream = Deadlines::new(server, Duration::from_secs(5), Duration::from_secs(5));
        client.write_all(b"G").await.unwrap();
        let mut buffer = [0u8; 8];
        assert_eq!(stream.read(&mut buffer).await.unwrap(), 1);
        let later = tokio::spawn(async move {
            tokio::time::sleep(Duration::from_secs(60)).await;
            client.write_all(b"ET").await.unwrap();
            client
        });
        assert_eq!(stream.read(&mut buffer).await.unwrap(), 2);
        drop(later.await.unwrap());
    }

    #[tokio::test(start_paused = true)]
    async fn a_peer_that_never_reads_is_cut_off_after_the_stall() {
        let (_client, server) = tokio::io::duplex(16);
        let mut stream = Deadlines::new(server, Duration::from_secs(5), Duration::from_secs(7));
        let error = stream.write_all(&[b'x'; 1024]).await.unwrap_err();
        assert_eq!(error.kind(), std::io::ErrorKind::TimedOut);
    }

    #[tokio::test(start_paused = true)]
    async fn a_slow_reader_that_keeps_reading_is_served() {
        let (mut client, server) = tokio::io::duplex(16);
        let mut stream = Deadlines::new(server, Duration::from_secs(5), Duration::from_secs(7));
        let reader = tokio::spawn(async move {
            let mut received = Vec::new();
            let mut buffer = [0u8; 16];
            while received.len() < 256 {
                tokio::time::sleep(Duration::from_secs(3)).await;
                let read = client.read(&mut buffer).await.unwrap();
                received.extend_from_slice(&buffer[..read]);
            }
            received.len()
        });
        stream.write_all(&[b'x'; 256]).await.unwrap();
        assert_eq!(reader.await.unwrap(), 256);
    }
}
