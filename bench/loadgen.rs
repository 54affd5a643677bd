//! A small load generator for BENCHMARKS.md: N keep-alive HTTP/1.1
//! connections, each sending adds back to back for a fixed time; prints
//! requests/s, leads/s and latency percentiles as one JSON line.
//!
//!   cargo run --profile dist --example loadgen -- http://127.0.0.1:8080 64 10
//!
//! `LOADGEN_MODE` picks the request: `salesman` (default, form `action=add`),
//! `bitrix24-add` (JSON `crm.lead.add` on webhook `LOADGEN_WEBHOOK`, default
//! `/rest/1/bench-webhook`) or `bitrix24-batch` (one `batch` of 50 adds).
//!
//! Every request carries a distinct title and phone so the gateway does the
//! real work (decode, assignment look-up, durable insert) each time. Phones
//! and e-mails count up per connection by default; `LOADGEN_CONTACTS=random`
//! scatters them over the whole number space, as real people's are, which is
//! what the contact index's merges see in production.

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
    let mode = Mode::from_env()?;
    let scatter = match std::env::var("LOADGEN_CONTACTS").as_deref() {
        Err(_) | Ok("sequential") => None,
        // A different seed each run, so a second run on the same store meets
        // new people rather than the first run's again.
        Ok("random") => Some(
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)?
                .as_nanos() as u64,
        ),
        Ok(other) => return Err(format!("unknown LOADGEN_CONTACTS {other:?}").into()),
    };
    let webhook =
        std::env::var("LOADGEN_WEBHOOK").unwrap_or_else(|_| "/rest/1/bench-webhook".into());
    let path = match mode {
        Mode::Salesman => "/developer/v1/leads".to_owned(),
        Mode::Bitrix24Add => format!("{webhook}/crm.lead.add"),
        Mode::Bitrix24Batch => format!("{webhook}/batch"),
    };
    let uri: hyper::Uri = format!("{base}{path}").parse()?;
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
                let person = match scatter {
                    None => format!("{connection:03}{n:04}"),
                    Some(seed) => {
                        let mixed = splitmix64(seed ^ ((connection as u64) << 40) ^ n);
                        format!("{:07}", mixed % 10_000_000)
                    }
                };
                let (content_type, body) = mode.body(&apikey, connection, n, &person);
                let request = hyper::Request::post(uri.clone())
                    .header("host", authority.as_str())
                    .header("content-type", content_type)
                    .body(Full::new(Bytes::from(body)))?;
                let started = Instant::now();
                sender.ready().await?;
                let response = sender.send_request(request).await?;
                let ok = response.status() == 200;
                let body = response.into_body().collect().await?.to_bytes();
                if ok && body.starts_with(mode.success_prefix()) {
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
        "{{\"connections\":{connections},\"requests\":{},\"errors\":{errors},\"rps\":{:.0},\"leads_per_s\":{:.0},\"p50_ms\":{:.2},\"p99_ms\":{:.2},\"max_ms\":{:.2}}}",
        latencies.len(),
        latencies.len() as f64 / elapsed,
        (latencies.len() * mode.leads_per_request()) as f64 / elapsed,
        percentile(0.50),
        percentile(0.99),
        percentile(1.0),
    );
    Ok(())
}

#[derive(Clone, Copy)]
enum Mode {
    Salesman,
    Bitrix24Add,
    Bitrix24Batch,
}

/// Adds per `batch` request, Bitrix24's maximum.
const BATCH: usize = 50;

impl Mode {
    fn from_env() -> Result<Mode, String> {
        match std::env::var("LOADGEN_MODE").as_deref() {
            Err(_) | Ok("salesman") => Ok(Mode::Salesman),
            Ok("bitrix24-add") => Ok(Mode::Bitrix24Add),
            Ok("bitrix24-batch") => Ok(Mode::Bitrix24Batch),
            Ok(other) => Err(format!("unknown LOADGEN_MODE {other:?}")),
        }
    }

    fn leads_per_request(self) -> usize {
        match self {
            Mode::Bitrix24Batch => BATCH,
            _ => 1,
        }
    }

    /// The start of a successful answer; the bare server's fixed answer
    /// (`{"result":{"text":"Success"...`) passes every mode's check.
    fn success_prefix(self) -> &'static [u8] {
        match self {
            Mode::Salesman => b"{\"result\":{\"text\":\"Success\"",
            _ => b"{\"result\":",
        }
    }

    /// Every lead carries a distinct title and phone so the gateway does the
    /// real work (decode, assignment look-up, durable insert) each time.
    /// `person` makes the phone (`+7900…`, `+79…` plus the item in a batch)
    /// and the e-mail distinct, scattered with `LOADGEN_CONTACTS=random`.
    fn body(self, apikey: &str, connection: usize, n: u64, person: &str) -> (&'static str, String) {
        match self {
            Mode::Salesman => (
                "application/x-www-form-urlencoded",
                format!(
                    "login=bench%40example.ru&apikey={apikey}&action=add\
                     &title=%D0%9D%D0%B0%D0%B3%D1%80%D1%83%D0%B7%D0%BA%D0%B0+{connection}-{n}\
                     &phone=%2B7900{person}&email=load{person}%40example.ru\
                     &description=%D0%A5%D0%BE%D1%87%D1%83+%D0%B4%D0%B5%D0%BC%D0%BE&path=Website\
                     &utm_source=bench"
                ),
            ),
            Mode::Bitrix24Add => (
                "application/json",
                format!(
                    r#"{{"fields":{{"TITLE":"Нагрузка {connection}-{n}","NAME":"Анна","PHONE":[{{"VALUE":"+7900{person}","VALUE_TYPE":"WORK"}}],"EMAIL":[{{"VALUE":"load{person}@example.ru"}}],"COMMENTS":"Хочу демо","SOURCE_ID":"WEB","UTM_SOURCE":"bench"}},"params":{{"REGISTER_SONET_EVENT":"Y"}}}}"#
                ),
            ),
            Mode::Bitrix24Batch => {
                let commands: Vec<String> = (0..BATCH)
                    .map(|item| {
                        format!(
                            r#""k{item}":"crm.lead.add?fields[TITLE]=load+{connection}-{n}-{item}&fields[PHONE][0][VALUE]=%2B79{person}{item:02}&fields[EMAIL][0][VALUE]=l{person}-{item}%40example.ru&fields[SOURCE_ID]=WEB""#
                        )
                    })
                    .collect();
                (
                    "application/json",
                    format!(r#"{{"halt":0,"cmd":{{{}}}}}"#, commands.join(",")),
                )
            }
        }
    }
}

/// A well-mixed 64-bit hash (SplitMix64's finaliser).
fn splitmix64(mut value: u64) -> u64 {
    value = value.wrapping_add(0x9E37_79B9_7F4A_7C15);
    value = (value ^ (value >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    value = (value ^ (value >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    value ^ (value >> 31)
}
