//! `crm.status.list`: the STATUS and SOURCE directories, taken from the
//! mapping's value maps in file order, in the portal's entry shape.

use serde_json::{json, Value};

use super::filter::entity_filter;
use super::reply::Output;
use super::{Args, Bitrix24, Bitrix24Error};

/// (ENTITY_ID, value map) pairs the gateway serves.
const DIRECTORIES: [(&str, &str); 2] = [("STATUS", "status"), ("SOURCE", "source")];

pub fn run(bitrix24: &Bitrix24, args: &Args) -> Result<Output, Bitrix24Error> {
    let wanted = entity_filter(args)?;
    let descending = match args.get("order") {
        Some(Value::Object(order)) => order.iter().any(|(key, value)| {
            key.eq_ignore_ascii_case("SORT")
                && value
                    .as_str()
                    .is_some_and(|text| text.eq_ignore_ascii_case("DESC"))
        }),
        _ => false,
    };
    let semantics = bitrix24.codec.mapping.value_map("semantics");
    let mut entries = Vec::new();
    let mut next_id = 1;
    for (entity, map_name) in DIRECTORIES {
        let Some(map) = bitrix24.codec.mapping.value_map(map_name) else {
            continue;
        };
        let included = wanted
            .as_ref()
            .is_none_or(|names| names.iter().any(|name| name.eq_ignore_ascii_case(entity)));
        for (position, (wire, canonical)) in map.entries().enumerate() {
            // Ids count over both directories, filtered or not, so an
            // entry keeps its ID whatever the filter.
            let id = next_id;
            next_id += 1;
            if !included {
                continue;
            }
            let semantic = (entity == "STATUS")
                .then(|| semantics.and_then(|map| map.to_wire(canonical)))
                .flatten();
            let (extra_semantics, color) = match semantic {
                Some("S") => ("success", "#00FF00"),
                Some("F") => ("failure", "#FF0000"),
                _ => ("process", "#39A8EF"),
            };
            let mut entry = json!({
                "ID": id.to_string(),
                "ENTITY_ID": entity,
                "STATUS_ID": wire,
                "NAME": map.label(wire),
                "NAME_INIT": map.label(wire),
                "SORT": ((position + 1) * 10).to_string(),
                "SYSTEM": "Y",
                "CATEGORY_ID": null,
                "COLOR": null,
                "SEMANTICS": null,
            });
            if entity == "STATUS" {
                entry["COLOR"] = json!(color);
                entry["SEMANTICS"] = semantic
                    .filter(|semantic| *semantic != "P")
                    .map_or(Value::Null, |semantic| json!(semantic));
                entry["EXTRA"] = json!({"SEMANTICS": extra_semantics, "COLOR": color});
            }
            entries.push(entry);
        }
    }
    if descending {
        entries.reverse();
    }
    let total = entries.len() as u64;
    Ok(Output {
        result: Value::Array(entries),
        total: Some(total),
        next: None,
    })
}
