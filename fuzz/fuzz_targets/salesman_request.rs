//! The SalesMan decoder on arbitrary requests: query string, content type
//! and body bytes. Must never panic; every input decodes or is a typed error.
#![no_main]

use std::sync::OnceLock;

use bytes::Bytes;
use http_body_util::Full;
use leadgate::dialect::salesman::add;
use leadgate::http::Params;
use leadgate::lead::path::WriteContext;
use leadgate::lead::ValidationRules;
use leadgate::mapping::Mapping;
use libfuzzer_sys::fuzz_target;

const CONTENT_TYPES: &[&str] = &[
    "application/x-www-form-urlencoded",
    "multipart/form-data; boundary=B",
    "application/json",
    "text/plain",
    "",
];

fn mapping() -> &'static Mapping {
    static MAPPING: OnceLock<Mapping> = OnceLock::new();
    MAPPING.get_or_init(|| Mapping::built_in("salesman").expect("built-in mapping compiles"))
}

fuzz_target!(|data: &[u8]| {
    let Some((&selector, rest)) = data.split_first() else {
        return;
    };
    // First byte picks the content type; up to the first 0xFF is the query.
    let split = rest.iter().position(|byte| *byte == 0xFF).unwrap_or(rest.len());
    let (query, body) = rest.split_at(split);
    let query: String = query
        .iter()
        .map(|byte| if byte.is_ascii_graphic() { *byte as char } else { '%' })
        .collect();
    let Ok(request) = http::Request::post(format!("/developer/v1/leads?{query}"))
        .header("content-type", CONTENT_TYPES[selector as usize % CONTENT_TYPES.len()])
        .body(Full::new(Bytes::copy_from_slice(body)))
    else {
        return;
    };
    let (parts, body) = request.into_parts();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime");
    let Ok(params) = runtime.block_on(Params::read(&parts, body, 1 << 20)) else {
        return;
    };
    if let Ok(lead) = add::decode(mapping(), &params, &WriteContext::default()) {
        let _ = ValidationRules::default().check(&lead);
        if let Some(record) = mapping().record("info") {
            let _ = record.encode(mapping(), &lead, &Vec::new());
        }
    }
});
