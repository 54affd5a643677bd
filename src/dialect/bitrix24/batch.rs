//! `batch`: up to 50 commands (`"method?query"`) run in order for the same
//! caller. A command may use an earlier one's output through
//! `$result[key][field]...`; `halt` stops at the first failure. The answer
//! is HTTP 200 even when commands failed, with PHP's array encoding: empty
//! sections are `[]`, sections keyed exactly 0..n-1 are lists.

use std::sync::Arc;

use indexmap::IndexMap;
use serde_json::{Map, Value};

use super::reply::{Output, Timing};
use super::{Args, Bitrix24, Bitrix24Error};
use crate::http::scalar_text;
use crate::http::{Params, ParamsError};
use crate::lead::Employee;

pub const MAX_COMMANDS: usize = 50;

/// What starts a reference to an earlier command's output.
const REFERENCE: &str = "$result";

pub async fn run(
    bitrix24: &Arc<Bitrix24>,
    args: &Args,
    caller: &Employee,
) -> Result<Output, Bitrix24Error> {
    let commands: Vec<(String, String)> = match args.get("cmd") {
        Some(Value::Object(map)) => map
            .iter()
            .map(|(key, value)| (key.clone(), scalar_text(value).unwrap_or_default()))
            .collect(),
        Some(Value::Array(items)) => items
            .iter()
            .enumerate()
            .map(|(index, value)| (index.to_string(), scalar_text(value).unwrap_or_default()))
            .collect(),
        _ => Vec::new(),
    };
    if commands.len() > MAX_COMMANDS {
        return Err(Bitrix24Error::BatchTooLong);
    }
    let halt = args.get("halt").and_then(scalar_text).is_some_and(|text| {
        matches!(
            text.trim().to_ascii_lowercase().as_str(),
            "1" | "true" | "y"
        )
    });

    let mut results: IndexMap<String, Value> = IndexMap::new();
    let mut errors: IndexMap<String, Value> = IndexMap::new();
    let mut totals: IndexMap<String, Value> = IndexMap::new();
    let mut nexts: IndexMap<String, Value> = IndexMap::new();
    let mut times: IndexMap<String, Value> = IndexMap::new();
    let timezone = bitrix24.codec.mapping.timezone;
    let mut record =
        |key: String, outcome: Result<Output, Bitrix24Error>, timing: Timing| match outcome {
            Ok(output) => {
                results.insert(key.clone(), output.result);
                if let Some(total) = output.total {
                    totals.insert(key.clone(), total.into());
                }
                if let Some(next) = output.next {
                    nexts.insert(key.clone(), next.into());
                }
                times.insert(key, timing.block(timezone));
                true
            }
            Err(error) => {
                errors.insert(key, error.body());
                false
            }
        };
    let independent = !halt
        && !commands
            .iter()
            .any(|(_, command)| command.contains(REFERENCE));
    if independent {
        // Nothing refers to another command and nothing stops early, so
        // running them together answers exactly as running them in turn
        // would, and fifty adds share one commit instead of waiting for
        // fifty. They are queued in command order, so ids follow it too.
        let parsed: Vec<(String, Result<Args, ParamsError>, &str)> = commands
            .iter()
            .map(|(key, command)| {
                let (method, query) = split_command(command);
                (
                    key.clone(),
                    Params::from_query(query).map(|params| Args::from_params(&params)),
                    method,
                )
            })
            .collect();
        let runs = parsed.iter().map(|(_, args, method)| async move {
            let timing = Timing::start();
            let outcome = match args {
                Ok(args) => bitrix24.call(method, args, caller, true).await,
                Err(error) => Err(Bitrix24Error::from(error.clone())),
            };
            (outcome, timing)
        });
        let outcomes = futures_util::future::join_all(runs).await;
        for ((key, _, _), (outcome, timing)) in parsed.into_iter().zip(outcomes) {
            record(key, outcome, timing);
        }
    } else {
        let mut earlier: IndexMap<String, Value> = IndexMap::new();
        for (key, command) in commands {
            let timing = Timing::start();
            let (method, query) = split_command(&command);
            let outcome = match Params::from_query(query) {
                Ok(params) => {
                    let mut command_args = Args::from_params(&params);
                    command_args.substitute(&mut |text| resolve_references(text, &earlier));
                    bitrix24.call(method, &command_args, caller, true).await
                }
                Err(error) => Err(Bitrix24Error::from(error)),
            };
            if let Ok(output) = &outcome {
                earlier.insert(key.clone(), output.result.clone());
            }
            if !record(key, outcome, timing) && halt {
                break;
            }
        }
    }
    let mut body = Map::with_capacity(5);
    body.insert("result".into(), php_array(results));
    body.insert("result_error".into(), php_array(errors));
    body.insert("result_total".into(), php_array(totals));
    body.insert("result_next".into(), php_array(nexts));
    body.insert("result_time".into(), php_array(times));
    Ok(Output::of(Value::Object(body)))
}

/// `"method?query"` → (method, query).
fn split_command(command: &str) -> (&str, &str) {
    let command = command.trim();
    let (method, query) = command.split_once('?').unwrap_or((command, ""));
    (method.trim_start_matches('/'), query)
}

/// How PHP's json_encode writes an array: `[]` when empty, a list when the
/// keys are 0..n-1 in order, an object otherwise.
fn php_array(map: IndexMap<String, Value>) -> Value {
    let is_list = map
        .keys()
        .enumerate()
        .all(|(index, key)| key.parse::<usize>().ok() == Some(index));
    if is_list {
        Value::Array(map.into_values().collect())
    } else {
        Value::Object(map.into_iter().collect())
    }
}

/// Replaces every `$result[key][field]...` in `text` with the value found
/// in earlier results (lists by index), or nothing when there is none.
pub fn resolve_references(text: &str, results: &IndexMap<String, Value>) -> String {
    const MARK: &str = REFERENCE;
    if !text.contains(MARK) {
        return text.to_owned();
    }
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find(MARK) {
        out.push_str(&rest[..at]);
        let mut cursor = &rest[at + MARK.len()..];
        let mut path: Vec<&str> = Vec::new();
        while let Some(inner) = cursor.strip_prefix('[') {
            let Some(close) = inner.find(']') else {
                break;
            };
            path.push(&inner[..close]);
            cursor = &inner[close + 1..];
        }
        if path.is_empty() {
            out.push_str(MARK);
        } else {
            let mut found = results.get(path[0]);
            for step in &path[1..] {
                found = found.and_then(|value| match value {
                    Value::Object(map) => map.get(*step),
                    Value::Array(items) => step.parse::<usize>().ok().and_then(|i| items.get(i)),
                    _ => None,
                });
            }
            if let Some(text) = found.and_then(scalar_text) {
                out.push_str(&text);
            }
        }
        rest = cursor;
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn references_reach_into_objects_and_lists() {
        let mut results = IndexMap::new();
        results.insert("a".to_owned(), json!(812));
        results.insert("b".to_owned(), json!([{"ID": "5"}, {"ID": "9"}]));
        assert_eq!(resolve_references("$result[a]", &results), "812");
        assert_eq!(resolve_references("x$result[b][1][ID]y", &results), "x9y");
        assert_eq!(resolve_references("$result[missing][0]", &results), "");
        assert_eq!(resolve_references("$result", &results), "$result");
        assert_eq!(resolve_references("$result[b", &results), "$result[b");
    }

    #[test]
    fn sections_encode_like_php_arrays() {
        assert_eq!(php_array(IndexMap::new()), json!([]));
        let mut listed = IndexMap::new();
        listed.insert("0".to_owned(), json!(1));
        listed.insert("1".to_owned(), json!(2));
        assert_eq!(php_array(listed), json!([1, 2]));
        let mut keyed = IndexMap::new();
        keyed.insert("a".to_owned(), json!(1));
        assert_eq!(php_array(keyed), json!({"a": 1}));
    }
}
