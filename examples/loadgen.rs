//! A small load generator for BENCHMARKS.md: N keep-alive HTTP/1.1
//! connections, each sending SalesMan `action=add` requests back to back for
//! a fixed time; prints requests/s and latency percentiles as one JSON line.
//!
//!   cargo run --release --example loadgen -- http://127.0.0.1:8080 64 10
//!
//! Every request carries a distinct title and phone so the gateway does the
//! real work (decode, assignment look-up, durable insert) each time.

use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1;
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let base = args.get(1).map_or("http://127.0.0.1:8080", String::as_str);
    let connections: usize = args.get(2).map_or(Ok(64), |arg| arg.parse())?;
    let seconds: f64 = args.get(3).map_or(Ok(10.0), |arg| arg.parse())?;
    let apikey = std::env::var("LOADGEN_APIKEY").unwrap_or_else(|_| "bench-apikey".into());
    let uri: hyper::Uri = format!("{base}/developer/v1/leads").parse()?;
    let authority = uri.authority().ok_or("no host in URL")?.clone();

    let deadline = Instant::now() + Duration::from_secs_f64(seconds);
    let mut tasks = Vec::new();
    for connection in 0..connections {
        let uri = uri.clone();
        let authority = authority.clone();
        let apikey = apikey.clone();
        tasks.push(tokio::spawn(async move {
            let stream = TcpStream::connect(authority.as_str()).await?;
            stream.set_nodelay(true)?;
            let (mut sender, driver) = http1::handshake(TokioIo::new(stream)).await?;
            tokio::spawn(driver);
            let mut latencies = Vec::with_capacity(100_000);
            let mut errors = 0u64;
            let mut n = 0u64;
            while Instant::now() < deadline {
                n += 1;
                let body = format!(
                    "login=bench%40example.ru&apikey={apikey}&action=add\
                     &title=%D0%9D%D0%B0%D0%B3%D1%80%D1%83%D0%B7%D0%BA%D0%B0+{connection}-{n}\
                     &phone=%2B7900{connection:03}{n:04}&email=load{connection}-{n}%40example.ru\
                     &description=%D0%A5%D0%BE%D1%87%D1%83+%D0%B4%D0%B5%D0%BC%D0%BE&path=Website\
                     &utm_source=bench"
                );
                let request = hyper::Request::post(uri.clone())
                    .header("host", authority.as_str())
                    .header("content-type", "application/x-www-form-urlencoded")
                    .body(Full::new(Bytes::from(body)))?;
                let started = Instant::now();
                sender.ready().await?;
                let response = sender.send_request(request).await?;
                let ok = response.status() == 200;
                let body = response.into_body().collect().await?.to_bytes();
                if ok && body.starts_with(b"{\"result\":{\"text\":\"Success\"") {
                    latencies.push(started.elapsed().as_micros() as u32);
                } else {
                    errors += 1;
                }
            }
            Ok::<_, Box<dyn std::error::Error + Send + Sync>>((latencies, errors))
        }));
    }
    let started = Instant::now();
    let mut latencies = Vec::new();
    let mut errors = 0;
    for task in tasks {
        let (mut some, failed) = task.await?.map_err(|error| error.to_string())?;
        latencies.append(&mut some);
        errors += failed;
    }
    let elapsed = started.elapsed().as_secs_f64().max(seconds);
    latencies.sort_unstable();
    let percentile = |p: f64| {
        if latencies.is_empty() {
            0.0
        } else {
            let index = ((latencies.len() as f64 * p).ceil() as usize).clamp(1, latencies.len());
            latencies[index - 1] as f64 / 1000.0
        }
    };
    println!(
        "{{\"connections\":{connections},\"requests\":{},\"errors\":{errors},\"rps\":{:.0},\"p50_ms\":{:.2},\"p99_ms\":{:.2},\"max_ms\":{:.2}}}",
        latencies.len(),
        latencies.len() as f64 / elapsed,
        percentile(0.50),
        percentile(0.99),
        percentile(1.0),
    );
    Ok(())
}
