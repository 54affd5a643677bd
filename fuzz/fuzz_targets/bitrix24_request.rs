//! The Bitrix24 decoder on arbitrary requests: query string, content type
//! and body bytes become arguments, then a lead (crm.lead.add), filter
//! conditions and sort order (crm.lead.list), and the lead's wire object.
//! Must never panic; every input decodes or is a typed error.
#![no_main]

use std::sync::{Arc, OnceLock};

use bytes::Bytes;
use http_body_util::Full;
use leadgate::config::Bitrix24Settings;
use leadgate::core::{Core, Employees};
use leadgate::dialect::bitrix24::{Args, Bitrix24};
use leadgate::http::Params;
use leadgate::lead::path::WriteContext;
use leadgate::lead::ValidationRules;
use leadgate::mapping::Mapping;
use leadgate::store::sqlite::{SqliteOptions, SqliteStore};
use libfuzzer_sys::fuzz_target;

const CONTENT_TYPES: &[&str] = &[
    "application/x-www-form-urlencoded",
    "multipart/form-data; boundary=B",
    "application/json",
    "text/plain",
    "",
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

fn dialect() -> &'static Bitrix24 {
    static DIALECT: OnceLock<Bitrix24> = OnceLock::new();
    DIALECT.get_or_init(|| {
        let path = std::env::temp_dir().join(format!("leadgate-fuzz-{}/leads.db", std::process::id()));
        let store = SqliteStore::open(SqliteOptions::new(path)).expect("store opens");
        let core = Arc::new(Core::new(Arc::new(store), Employees::new(Vec::new())));
        Bitrix24::new(
            core,
            Mapping::built_in("bitrix24").expect("built-in mapping compiles"),
            &Bitrix24Settings::default(),
            ValidationRules::default(),
            WriteContext::default(),
            1 << 20,
        )
    })
}

fuzz_target!(|data: &[u8]| {
    let Some((&selector, rest)) = data.split_first() else {
        return;
    };
    let split = rest.iter().position(|byte| *byte == 0xFF).unwrap_or(rest.len());
    let (query, body) = rest.split_at(split);
    let query: String = query
        .iter()
        .map(|byte| if byte.is_ascii_graphic() { *byte as char } else { '%' })
        .collect();
    let Ok(request) = http::Request::post(format!("/rest/1/code/crm.lead.add?{query}"))
        .header("content-type", CONTENT_TYPES[selector as usize % CONTENT_TYPES.len()])
        .body(Full::new(Bytes::copy_from_slice(body)))
    else {
        return;
    };
    let (parts, body) = request.into_parts();
    let Ok(params) = runtime().block_on(Params::read(&parts, body, 1 << 20)) else {
        return;
    };
    let args = Args::from_params(&params);
    let bitrix24 = dialect();
    if let Ok(lead) = bitrix24.decode_add(&args) {
        let _ = ValidationRules::default().check(&lead);
        let _ = bitrix24.encode_lead(&lead);
    }
    let _ = bitrix24.conditions(&args);
    let _ = bitrix24.sort(&args);
});
