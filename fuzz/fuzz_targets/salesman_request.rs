//! The SalesMan decoder on arbitrary requests: query string, content type
//! and body bytes. Must never panic; every input decodes or is a typed error.
#![no_main]

mod request;

use std::sync::OnceLock;

use leadgate::dialect::salesman::add;
use leadgate::lead::path::WriteContext;
use leadgate::lead::ValidationRules;
use leadgate::mapping::Mapping;
use libfuzzer_sys::fuzz_target;

fn mapping() -> &'static Mapping {
    static MAPPING: OnceLock<Mapping> = OnceLock::new();
    MAPPING.get_or_init(|| Mapping::built_in("salesman").expect("built-in mapping compiles"))
}

fuzz_target!(|data: &[u8]| {
    let Some(params) = request::params(data, "/developer/v1/leads", false) else {
        return;
    };
    if let Ok(lead) = add::decode(mapping(), &params, &WriteContext::default()) {
        let _ = ValidationRules::default().check(&lead);
        if let Some(record) = mapping().record("info") {
            let _ = record.encode(mapping(), &lead, &Vec::new());
        }
    }
});
