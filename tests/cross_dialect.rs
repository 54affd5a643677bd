//! The same lead in every dialect: a lead added through each dialect is read
//! through each other one, and every field the writer could express and the
//! reader has a place for must come back.
//!
//! Which wire name writes a canonical field and which column reads it is
//! taken from the built-in mapping files, so a mapping that gains a field
//! that crosses dialects makes this test ask for a value for it (in
//! `FACTS`) or a stated reason it is compared elsewhere (in `NOT_HERE`).

mod common;

use std::collections::{BTreeMap, BTreeSet};

use common::{TestGateway, LIVETEX_PASSWORD, LOGIN, UIS_KEY, WEBHOOK_CODE};
use leadgate::mapping::Mapping;
use serde_json::{json, Map, Value};

/// A value for one canonical field, as every writer that has it sends it.
struct Fact {
    path: &'static str,
    value: &'static str,
    /// UIS takes this one as a JSON number.
    number: bool,
}

const fn text(path: &'static str, value: &'static str) -> Fact {
    Fact {
        path,
        value,
        number: false,
    }
}

const fn number(path: &'static str, value: &'static str) -> Fact {
    Fact {
        path,
        value,
        number: true,
    }
}

/// Distinct values where two paths fall back to each other (a visit's city
/// and an address's city), so a read shows which of the two it took.
const FACTS: &[Fact] = &[
    text("name", "Анна"),
    text("title", "Заявка с сайта"),
    text("phones", "8(900)111-22-33"),
    text("emails", "anna@example.ru"),
    text("text", "Перезвоните после обеда"),
    text("company", "ООО Ромашка"),
    text("visit.city", "Пермь"),
    text("visit.country", "Россия"),
    text("address.city", "Казань"),
    text("address.country", "Казахстан"),
    text("address.region", "Пермский край"),
    text("site.url", "https://shop.example.ru/form?utm=1"),
    text("webs", "https://web.example.ru/about"),
    number("site.id", "12"),
    number("conversation_id", "88001"),
    text("answer_text", "Ответ оператора"),
    text("channel_description", "Обратный звонок"),
    text("utm.source", "yandex"),
    text("utm.medium", "cpc"),
    text("utm.campaign", "spring"),
    text("utm.term", "окна"),
    text("utm.content", "banner"),
    text("utm.referrer", "https://ya.ru/"),
    text("visit.entry_page", "https://shop.example.ru/"),
    text("visit.ext_referer", "https://google.com/"),
    text("visit.int_referer", "https://shop.example.ru/catalog"),
    text("visit.search_engine", "yandex"),
    text("visit.search_query", "пластиковые окна"),
    number("visit.visitor_id", "77"),
    // Employee 2 of the test config, not the webhook's own employee 1.
    number("assigned_to", "2"),
];

/// Fields that cross dialects but are compared by other tests, and why.
const NOT_HERE: &[(&str, &str)] = &[
    (
        "stage",
        "each dialect's own vocabulary through value maps: golden salesman/legacy_calls.json, tests/uis.rs",
    ),
    (
        "channel",
        "value maps (SalesMan clientpath, Bitrix24 SOURCE_ID): tests/salesman.rs, tests/bitrix24.rs",
    ),
];

/// Paths that are one field to a reader: a dialect with a single city shows
/// a visitor's city or an address's city, whichever the lead has. A column
/// reading one path of a group must show a writer's value for another.
const SAME_PLACE: &[&[&str]] = &[
    &["visit.city", "address.city"],
    &["visit.country", "address.country"],
    &["site.url", "webs"],
];

/// A dialect as a writer and as a reader.
struct Dialect {
    name: &'static str,
    /// The record its reads are written through.
    read_record: &'static str,
    /// Columns the dialect writes itself, outside the record, and the
    /// canonical paths behind them.
    own_columns: &'static [(&'static str, &'static [&'static str])],
}

const DIALECTS: &[Dialect] = &[
    Dialect {
        name: "salesman",
        read_record: "info",
        own_columns: &[],
    },
    Dialect {
        name: "livetex",
        read_record: "lead",
        own_columns: &[],
    },
    Dialect {
        name: "uis",
        read_record: "report",
        own_columns: &[],
    },
    Dialect {
        name: "bitrix24",
        read_record: "lead",
        // Multifields: a site's URL shows as WEB when the lead has none.
        own_columns: &[
            ("PHONE", &["phones"]),
            ("EMAIL", &["emails"]),
            ("WEB", &["webs", "site.url"]),
        ],
    },
];

/// What a read writes for a fact where the dialect documents a form of its
/// own rather than the value as sent.
fn as_read(reader: &str, column: &str, sent: &str) -> String {
    match (reader, column) {
        ("uis", "visitor_phone_number") => {
            let digits: String = sent.chars().filter(char::is_ascii_digit).collect();
            format!("+7{}", &digits[1..])
        }
        ("uis", "site_domain_name") => {
            let after_scheme = sent.split_once("://").map_or(sent, |(_, rest)| rest);
            after_scheme.split(['/', '?']).next().unwrap().to_owned()
        }
        _ => sent.to_owned(),
    }
}

/// A read value as text: the first item of a list (a Bitrix24 multifield's
/// `VALUE`), numbers in decimal.
fn shown(value: &Value) -> Option<String> {
    match value {
        Value::Array(items) => items.first().and_then(shown),
        Value::Object(item) => item.get("VALUE").and_then(shown),
        Value::String(text) if text.is_empty() => None,
        Value::String(text) => Some(text.clone()),
        Value::Number(number) => Some(number.to_string()),
        _ => None,
    }
}

fn fact(path: &str) -> Option<&'static Fact> {
    FACTS.iter().find(|fact| fact.path == path)
}

/// canonical path → the wire name a dialect's requests write it as (the
/// first in name order where several do).
fn written(mapping: &Mapping) -> BTreeMap<String, String> {
    let mut names: BTreeMap<String, String> = BTreeMap::new();
    for (wire, path) in mapping.fields() {
        let entry = names.entry(path.to_string()).or_insert_with(|| wire.into());
        if wire < entry.as_str() {
            *entry = wire.to_owned();
        }
    }
    names
}

/// column → the canonical paths it reads, in fallback order.
fn read_columns(dialect: &Dialect, mapping: &Mapping) -> Vec<(String, Vec<String>)> {
    let record = mapping.record(dialect.read_record).expect("read record");
    let mut columns: Vec<(String, Vec<String>)> = record
        .column_names()
        .map(|column| {
            let paths = record.column_paths(column);
            (
                column.to_owned(),
                paths.iter().map(|p| p.to_string()).collect(),
            )
        })
        .collect();
    for (column, paths) in dialect.own_columns {
        columns.push((
            (*column).to_owned(),
            paths.iter().map(|path| (*path).to_owned()).collect(),
        ));
    }
    // After a column's own fallbacks, the paths that share its place.
    for (_, paths) in &mut columns {
        let mates: Vec<String> = SAME_PLACE
            .iter()
            .filter(|group| paths.iter().any(|path| group.contains(&path.as_str())))
            .flat_map(|group| group.iter())
            .filter(|mate| !paths.iter().any(|path| path == *mate))
            .map(|mate| (*mate).to_owned())
            .collect();
        paths.extend(mates);
    }
    columns
}

#[test]
fn every_field_that_crosses_dialects_has_a_value_here() {
    let mut missing = BTreeSet::new();
    for writer in DIALECTS {
        let writes = written(&Mapping::built_in(writer.name).unwrap());
        for reader in DIALECTS.iter().filter(|reader| reader.name != writer.name) {
            let mapping = Mapping::built_in(reader.name).unwrap();
            for (column, paths) in read_columns(reader, &mapping) {
                for path in paths.iter().filter(|path| writes.contains_key(*path)) {
                    let excused = NOT_HERE.iter().any(|(excused, _)| excused == path);
                    if fact(path).is_none() && !excused {
                        missing.insert(format!(
                            "{path} ({} writes it, {} reads it as {column})",
                            writer.name, reader.name
                        ));
                    }
                }
            }
        }
    }
    assert!(
        missing.is_empty(),
        "fields crossing dialects with no value in FACTS: {missing:#?}"
    );
}

async fn add_through(gateway: &TestGateway, writer: &str, fields: &[(String, &Fact)]) -> i64 {
    let form: Vec<(&str, &str)> = fields
        .iter()
        .map(|(wire, fact)| (wire.as_str(), fact.value))
        .collect();
    match writer {
        "salesman" => gateway.add(&form).await,
        "livetex" => {
            let response = gateway
                .client
                .post(format!("{}/v2/leads/add", gateway.base))
                .basic_auth(LOGIN, Some(LIVETEX_PASSWORD))
                .form(&form)
                .send()
                .await
                .unwrap();
            let body: Value = response.json().await.unwrap();
            body["results"]["id"]
                .as_i64()
                .unwrap_or_else(|| panic!("LiveTex add: {body}"))
        }
        "uis" => {
            let mut item = Map::new();
            for (wire, fact) in fields {
                let value = match fact.number {
                    true => json!(fact.value.parse::<i64>().unwrap()),
                    false => json!(fact.value),
                };
                item.insert(wire.clone(), value);
            }
            let body = rpc(
                gateway,
                "upload.offline_messages",
                json!({"access_token": UIS_KEY, "offline_messages": [item]}),
            )
            .await;
            body["result"]["data"][0]["id"]
                .as_i64()
                .unwrap_or_else(|| panic!("UIS upload: {body}"))
        }
        _ => {
            let fields: Map<String, Value> = form
                .iter()
                .map(|(wire, value)| ((*wire).to_owned(), json!(value)))
                .collect();
            let body = bitrix24(gateway, "crm.lead.add", json!({"fields": fields})).await;
            body["result"]
                .as_i64()
                .unwrap_or_else(|| panic!("Bitrix24 add: {body}"))
        }
    }
}

async fn read_through(gateway: &TestGateway, reader: &str, id: i64) -> Map<String, Value> {
    let body = match reader {
        "salesman" => {
            gateway.get_json(&format!("action=info&id={id}")).await["result"]["data"].clone()
        }
        "livetex" => {
            let response = gateway
                .client
                .get(format!("{}/v2/leads/show?id={id}", gateway.base))
                .basic_auth(LOGIN, Some(LIVETEX_PASSWORD))
                .send()
                .await
                .unwrap();
            let body: Value = response.json().await.unwrap();
            body["results"].clone()
        }
        "uis" => {
            let today = chrono::Utc::now().format("%Y-%m-%d");
            let tomorrow = (chrono::Utc::now() + chrono::Duration::days(1)).format("%Y-%m-%d");
            let body = rpc(
                gateway,
                "get.offline_messages_report",
                json!({"access_token": UIS_KEY,
                       "date_from": format!("{today} 00:00:00"),
                       "date_till": format!("{tomorrow} 23:59:59"),
                       "filter": {"field": "id", "operator": "=", "value": id}}),
            )
            .await;
            body["result"]["data"][0].clone()
        }
        _ => bitrix24(gateway, "crm.lead.get", json!({"id": id})).await["result"].clone(),
    };
    match body {
        Value::Object(object) => object,
        other => panic!("{reader} read of lead {id}: {other}"),
    }
}

async fn rpc(gateway: &TestGateway, method: &str, params: Value) -> Value {
    let body = json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": params});
    let response = gateway
        .client
        .post(format!("{}/v2.0", gateway.base))
        .json(&body)
        .send()
        .await
        .unwrap();
    response.json().await.unwrap()
}

async fn bitrix24(gateway: &TestGateway, method: &str, params: Value) -> Value {
    let response = gateway
        .client
        .post(format!("{}/rest/1/{WEBHOOK_CODE}/{method}", gateway.base))
        .json(&params)
        .send()
        .await
        .unwrap();
    response.json().await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lead_added_in_each_dialect_reads_the_same_in_every_other() {
    let mut gateway = TestGateway::start().await;
    let mut mismatches = Vec::new();
    let mut compared = 0;
    for writer in DIALECTS {
        let writes = written(&Mapping::built_in(writer.name).unwrap());
        let sent: Vec<(String, &Fact)> = writes
            .iter()
            .filter_map(|(path, wire)| Some((wire.clone(), fact(path)?)))
            .collect();
        let id = add_through(&gateway, writer.name, &sent).await;
        for reader in DIALECTS.iter().filter(|reader| reader.name != writer.name) {
            let mapping = Mapping::built_in(reader.name).unwrap();
            let lead = read_through(&gateway, reader.name, id).await;
            for (column, paths) in read_columns(reader, &mapping) {
                // The first path of the column's fallbacks that the writer
                // sent is the one the read must show.
                let Some(fact) = paths
                    .iter()
                    .filter(|path| writes.contains_key(*path))
                    .find_map(|path| fact(path))
                else {
                    continue;
                };
                compared += 1;
                let expected = as_read(reader.name, &column, fact.value);
                let got = lead.get(&column).and_then(shown);
                if got.as_deref() != Some(expected.as_str()) {
                    mismatches.push(format!(
                        "{} → {}: {column} ({}) is {got:?}, expected {expected:?}",
                        writer.name, reader.name, fact.path
                    ));
                }
            }
        }
    }
    assert!(
        mismatches.is_empty(),
        "fields lost or changed across dialects: {mismatches:#?}"
    );
    eprintln!("{compared} fields compared");
    // Name, phone, e-mail and text cross every pair at least.
    assert!(compared >= 4 * 12, "only {compared} comparisons");
    gateway.stop().await;
}
