//! `Utils.batch` (`/v2/utils/batch`): `methods[i][method]`,
//! `methods[i][parameters][...]` and `methods[i][id]`; at most 10 run (the
//! rest are ignored, as LiveTex documents); not transactional; a parameter
//! may refer to an earlier answer as `${id:JSONPath}` (`$.results[0].id`).
//! Each item answers `{"id","code","message","results"[,"total"]}`.

use serde_json::{json, Map, Value};

use super::error::LivetexError;
use super::{Livetex, Method, Output};
use crate::http::{scalar_text, Args};
use crate::lead::Employee;

pub const MAX_METHODS: usize = 10;

pub async fn run(
    livetex: &Livetex,
    args: &Args,
    caller: &Employee,
) -> Result<Output, LivetexError> {
    let items: Vec<&Value> = match args.get("methods") {
        Some(Value::Array(items)) => items.iter().collect(),
        Some(Value::Object(items)) => items.values().collect(),
        _ => return Err(LivetexError::required("methods")),
    };
    let mut answers: Vec<Value> = Vec::new();
    for item in items.into_iter().take(MAX_METHODS) {
        let id = item.get("id").cloned().unwrap_or(Value::Null);
        let name = item.get("method").and_then(scalar_text).unwrap_or_default();
        let mut parameters = match item.get("parameters") {
            Some(Value::Object(parameters)) => parameters.clone(),
            _ => Map::new(),
        };
        for value in parameters.values_mut() {
            if let Some(text) = value.as_str() {
                *value = Value::String(resolve(text, &answers));
            }
        }
        let outcome = match Method::parse_dotted(&name) {
            Some(Method::Batch) => Err(LivetexError::Forbidden),
            Some(method) => {
                let command_args = Args::from_object(parameters);
                livetex.call_method(method, &command_args, caller).await
            }
            None => Err(LivetexError::NotFound),
        };
        answers.push(match outcome {
            Ok(output) => {
                let mut answer =
                    json!({"id": id, "code": 200, "message": "", "results": output.results});
                if let Some(total) = output.total {
                    answer["total"] = total.into();
                }
                answer
            }
            Err(error) => {
                let mut answer = error.body();
                answer["id"] = id;
                answer
            }
        });
    }
    Ok(Output::of(Value::Array(answers)))
}

/// Replaces `${id:JSONPath}` with what the path finds in the earlier answer
/// with that id (nothing when it finds nothing).
fn resolve(text: &str, answers: &[Value]) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("${") {
        let Some(end) = rest[start..].find('}') else {
            break;
        };
        out.push_str(&rest[..start]);
        let reference = &rest[start + 2..start + end];
        if let Some((id, path)) = reference.split_once(':') {
            let found = answers
                .iter()
                .find(|answer| answer.get("id").and_then(scalar_text).as_deref() == Some(id.trim()))
                .and_then(|answer| follow(answer, path.trim()));
            if let Some(value) = found.and_then(scalar_text) {
                out.push_str(&value);
            }
        }
        rest = &rest[start + end + 1..];
    }
    out.push_str(rest);
    out
}

/// A JSONPath of names and indexes: `$.results[0].id`.
fn follow<'a>(value: &'a Value, path: &str) -> Option<&'a Value> {
    let mut current = value;
    let path = path.strip_prefix('$').unwrap_or(path);
    for step in path.split('.').filter(|step| !step.is_empty()) {
        let (name, indexes) = match step.find('[') {
            Some(at) => (&step[..at], &step[at..]),
            None => (step, ""),
        };
        if !name.is_empty() {
            current = current.get(name)?;
        }
        for index in indexes.split('[').filter(|part| !part.is_empty()) {
            let index: usize = index.trim_end_matches(']').parse().ok()?;
            current = current.get(index)?;
        }
    }
    Some(current)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_follow_json_paths() {
        let answers = vec![json!({"id": "a", "results": [{"id": 7}, {"id": 9}]})];
        assert_eq!(resolve("${a:$.results[1].id}", &answers), "9");
        assert_eq!(resolve("ids=${a:$.results[0].id},3", &answers), "ids=7,3");
        assert_eq!(resolve("${b:$.results}", &answers), "");
        assert_eq!(resolve("${a:$.results[5].id}x", &answers), "x");
        assert_eq!(resolve("no ${ end", &answers), "no ${ end");
    }
}
