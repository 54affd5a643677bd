//! A call's arguments as one JSON tree, whatever the encoding: PHP bracket
//! names (`fields[PHONE][0][VALUE]=…`, `select[]=ID`, `methods[0][parameters][q]`)
//! are rebuilt into nested objects and arrays the way PHP builds `$_REQUEST`,
//! so JSON, query strings, forms, multipart and batch commands all reach the
//! dialects that take nested parameters (Bitrix24, LiveTex) in one shape.
//! Leaves from forms are strings, as in PHP; JSON keeps its types.

use serde_json::{Map, Value};

use super::Params;

/// Deepest bracket nesting rebuilt; PHP's own default is 64.
const MAX_DEPTH: usize = 16;

#[derive(Debug, Default, Clone, PartialEq)]
pub struct Args {
    root: Map<String, Value>,
}

impl Args {
    pub fn from_params(params: &Params) -> Args {
        let mut root = Value::Object(Map::new());
        for (name, value) in params.pairs() {
            insert(&mut root, name, value);
        }
        let mut root = match listify(root) {
            Value::Object(map) => map,
            _ => Map::new(),
        };
        // A JSON body read as a tree: its top-level names win over the query
        // string's, as a body's do in PHP's $_REQUEST.
        if let Some(body) = params.json() {
            for (name, value) in body {
                root.insert(name.clone(), value.clone());
            }
        }
        Args { root }
    }

    /// Arguments already in tree form (a batch item's `parameters`).
    pub fn from_object(root: Map<String, Value>) -> Args {
        Args { root }
    }

    /// Sets a top-level argument (a path segment that is a parameter).
    pub fn insert(&mut self, name: &str, value: Value) {
        self.root.insert(name.to_owned(), value);
    }

    /// A top-level argument; names are case-insensitive (`id`/`ID`,
    /// `fields`/`FIELDS`), the exact spelling wins when both are sent.
    pub fn get(&self, name: &str) -> Option<&Value> {
        self.root.get(name).or_else(|| {
            self.root
                .iter()
                .find(|(key, _)| key.eq_ignore_ascii_case(name))
                .map(|(_, value)| value)
        })
    }

    /// Rewrites every string leaf (batch `$result[...]` references).
    pub fn substitute(&mut self, rewrite: &mut dyn FnMut(&str) -> String) {
        fn walk(value: &mut Value, rewrite: &mut dyn FnMut(&str) -> String) {
            match value {
                Value::String(text) => *text = rewrite(text),
                Value::Array(items) => items.iter_mut().for_each(|item| walk(item, rewrite)),
                Value::Object(map) => map.values_mut().for_each(|item| walk(item, rewrite)),
                _ => {}
            }
        }
        for value in self.root.values_mut() {
            walk(value, rewrite);
        }
    }

    /// A scalar argument as text (numbers as written).
    pub fn text(&self, name: &str) -> Option<&str> {
        self.get(name).and_then(Value::as_str)
    }
}

/// `name[a][b]` → ("name", ["a", "b"]); a name without a closing bracket
/// keeps the rest in its base, as PHP does.
fn split_name(name: &str) -> (&str, Vec<&str>) {
    let Some(open) = name.find('[') else {
        return (name, Vec::new());
    };
    let base = &name[..open];
    let mut keys = Vec::new();
    let mut rest = &name[open..];
    while let Some(stripped) = rest.strip_prefix('[') {
        let Some(close) = stripped.find(']') else {
            break;
        };
        keys.push(&stripped[..close]);
        rest = &stripped[close + 1..];
        if keys.len() >= MAX_DEPTH {
            break;
        }
    }
    if keys.is_empty() {
        return (name, keys);
    }
    (base, keys)
}

fn insert(root: &mut Value, name: &str, value: &str) {
    let (base, keys) = split_name(name);
    if base.is_empty() {
        return;
    }
    let mut node = root;
    let mut key = base.to_owned();
    for next in keys {
        let Value::Object(map) = node else {
            return;
        };
        let child = map.entry(key).or_insert_with(|| Value::Object(Map::new()));
        if !child.is_object() {
            // PHP: a[b]=1 after a=x makes `a` an array.
            *child = Value::Object(Map::new());
        }
        key = if next.is_empty() {
            // `a[]`: the next integer key.
            let Value::Object(inner) = &*child else {
                return;
            };
            let next_index = inner
                .keys()
                .filter_map(|existing| existing.parse::<usize>().ok())
                .map(|index| index + 1)
                .max()
                .unwrap_or(0);
            next_index.to_string()
        } else {
            next.to_owned()
        };
        node = child;
    }
    if let Value::Object(map) = node {
        map.insert(key, Value::String(value.to_owned()));
    }
}

/// Objects whose keys are exactly 0..n-1, in order, become arrays.
fn listify(value: Value) -> Value {
    match value {
        Value::Object(map) => {
            let is_list = !map.is_empty()
                && map
                    .keys()
                    .enumerate()
                    .all(|(index, key)| key.parse::<usize>().ok() == Some(index));
            if is_list {
                Value::Array(map.into_iter().map(|(_, value)| listify(value)).collect())
            } else {
                Value::Object(
                    map.into_iter()
                        .map(|(key, value)| (key, listify(value)))
                        .collect(),
                )
            }
        }
        other => other,
    }
}

/// A JSON value as text the way PHP would cast a scalar.
pub fn scalar_text(value: &Value) -> Option<String> {
    match value {
        Value::String(text) => Some(text.clone()),
        Value::Number(number) => Some(number.to_string()),
        Value::Bool(flag) => Some(if *flag { "1" } else { "" }.to_owned()),
        Value::Null => Some(String::new()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn args(query: &str) -> Args {
        Args::from_params(&Params::from_query(query).unwrap())
    }

    #[test]
    fn brackets_build_nested_objects_and_lists() {
        let built = args(
            "fields%5BTITLE%5D=Lead&fields[PHONE][0][VALUE]=%2B7900&fields[PHONE][0][VALUE_TYPE]=WORK\
             &select[]=ID&select[]=TITLE&filter[%3E%3DID]=5&order[ID]=ASC&id=7",
        );
        assert_eq!(
            Value::Object(built.root.clone()),
            json!({
                "fields": {"TITLE": "Lead", "PHONE": [{"VALUE": "+7900", "VALUE_TYPE": "WORK"}]},
                "select": ["ID", "TITLE"],
                "filter": {">=ID": "5"},
                "order": {"ID": "ASC"},
                "id": "7"
            })
        );
        assert_eq!(built.text("ID"), Some("7"));
    }

    #[test]
    fn odd_names_never_panic() {
        for query in [
            "a[",
            "a]=1",
            "[]=1",
            "a[][]=1&a[]=2",
            "a=1&a[b]=2",
            "a[b]=1&a=2",
            "a[0]=x&a[2]=y",
        ] {
            let _ = args(query);
        }
        assert_eq!(
            args("a[0]=x&a[2]=y").get("a"),
            Some(&json!({"0": "x", "2": "y"}))
        );
    }
}
