//! The import's row decoder on arbitrary JSON: each built-in mapping's
//! list layout reads a lead back from whatever an old system answers.
//! Must never panic; an odd field is left out, never a failure.
#![no_main]

use std::sync::OnceLock;

use leadgate::lead::path::WriteContext;
use leadgate::lead::Lead;
use leadgate::mapping::Mapping;
use libfuzzer_sys::fuzz_target;

/// (mapping, the record its list API's rows follow), per dialect.
fn layouts() -> &'static Vec<(Mapping, &'static str)> {
    static LAYOUTS: OnceLock<Vec<(Mapping, &'static str)>> = OnceLock::new();
    LAYOUTS.get_or_init(|| {
        [("salesman", "list"), ("livetex", "lead"), ("uis", "report"), ("bitrix24", "lead")]
            .into_iter()
            .map(|(dialect, record)| {
                (
                    Mapping::built_in(dialect).expect("built-in mapping compiles"),
                    record,
                )
            })
            .collect()
    })
}

fuzz_target!(|data: &[u8]| {
    let Ok(serde_json::Value::Object(row)) = serde_json::from_slice(data) else {
        return;
    };
    for (mapping, record) in layouts() {
        let mut lead = Lead::new(chrono::Utc::now());
        mapping.decode_row(record, &row, &mut lead, &WriteContext::default());
    }
});
