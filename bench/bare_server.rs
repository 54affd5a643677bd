//! The yardstick for BENCHMARKS.md: a bare hyper server that reads the
//! request body and answers a fixed SalesMan success with the gateway's
//! content type and CORS header (hyper adds the length and date, as for the
//! gateway; only the gateway's `x-request-id` is left out). It runs on
//! tokio's default multi-threaded runtime (a worker per core), the plain
//! way to serve hyper; the gateway's per-core runtimes are its own choice
//! and count in its figures. Whatever the gateway costs on top of this is
//! ours.
//!
//!   cargo run --profile dist --example bare_server -- 127.0.0.1:8081

use std::convert::Infallible;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use tokio::net::TcpListener;

const ANSWER: &str = r#"{"result":{"text":"Success","id":1,"mailresult":null}}"#;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let address = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:8081".into());
    let listener = TcpListener::bind(&address).await?;
    loop {
        let (stream, _) = listener.accept().await?;
        stream.set_nodelay(true)?;
        tokio::spawn(async move {
            let service = service_fn(|request: hyper::Request<Incoming>| async move {
                let _ = request.into_body().collect().await;
                Ok::<_, Infallible>(
                    hyper::Response::builder()
                        .header("content-type", "text/html; charset=utf-8")
                        .header("access-control-allow-origin", "*")
                        .body(Full::new(Bytes::from_static(ANSWER.as_bytes())))
                        .unwrap_or_default(),
                )
            });
            let _ = auto::Builder::new(TokioExecutor::new())
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}
