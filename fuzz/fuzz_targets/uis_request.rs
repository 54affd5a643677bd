//! The UIS decoders on arbitrary bodies: the envelope screen in front of
//! jsonrpsee, then the shared get.* engine (filter trees, sort, fields,
//! paging) over sample rows. Must never panic; every input is answered or
//! refused with a UIS error.
#![no_main]

use leadgate::dialect::uis::{funnel, refusal};
use libfuzzer_sys::fuzz_target;
use serde_json::{json, Map, Value};

fuzz_target!(|data: &[u8]| {
    let _ = refusal(data);
    let Ok(Value::Object(params)) = serde_json::from_slice::<Value>(data) else {
        return;
    };
    let rows: Vec<Map<String, Value>> = [
        json!({"ext_id": "a", "name": "Лиды", "stages": []}),
        json!({"ext_id": "b", "name": null, "stages": [1]}),
        json!({"ext_id": 3, "name": "x"}),
    ]
    .into_iter()
    .filter_map(|row| row.as_object().cloned())
    .collect();
    if let Ok(query) = funnel::spec().check(&params) {
        let _ = query.apply(rows);
    }
});
