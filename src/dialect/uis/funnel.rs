//! `get.sales_funnel`: the funnels of the mapping file (by default one built
//! from the canonical stages), through the shared get engine. `ext_id` and
//! `name` may be filtered and sorted, as the seed says; `stages` may not.

use serde_json::{json, Map, Value};

use super::engine::Spec;
use super::error::UisError;
use super::Uis;

pub fn spec() -> Spec {
    let names = |list: &[&str]| {
        list.iter()
            .map(|name| (*name).to_owned())
            .collect::<Vec<_>>()
    };
    Spec {
        fields: names(&["ext_id", "name", "stages"]),
        filterable: names(&["ext_id", "name"]),
        sortable: names(&["ext_id", "name"]),
        default_fields: names(&["ext_id", "name", "stages"]),
        extra_params: &[],
    }
}

pub fn run(uis: &Uis, params: &Map<String, Value>) -> Result<(Vec<Value>, u64), UisError> {
    let query = uis.funnel_spec.check(params)?;
    let rows = uis
        .mapping
        .funnels
        .iter()
        .map(|funnel| {
            let stages: Vec<Value> = funnel
                .stages
                .iter()
                .enumerate()
                .map(|(index, stage)| {
                    json!({
                        "stage_ext_id": stage.ext_id,
                        "stage_name": stage.name,
                        "stage_status": stage.status,
                        "stage_order": index + 1,
                    })
                })
                .collect();
            let mut row = Map::new();
            row.insert("ext_id".into(), Value::String(funnel.ext_id.clone()));
            row.insert("name".into(), Value::String(funnel.name.clone()));
            row.insert("stages".into(), Value::Array(stages));
            row
        })
        .collect();
    Ok(query.apply(rows))
}
