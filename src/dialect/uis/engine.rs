//! The one filter, sort, field and paging engine every `get.*` method uses.
//! A method describes its records (which fields exist, which may be filtered
//! and sorted, which come by default, which extra parameters it takes); the
//! engine checks the call against that whitelist with UIS's mnemonics and
//! evaluates it over the method's rows.
//!
//! Filters are simple (`{"field","operator","value"}`) or trees
//! (`{"filters":[...],"condition":"and"|"or"}`) nested to any depth;
//! operators `= != < > <= >= like regexp in` plus null tests with `=`/`!=`
//! and `value: null`. `jsquery` is refused as an invalid value.

use std::cmp::Ordering;

use regex::Regex;
use serde_json::value::RawValue;
use serde_json::{Map, Value};

use super::error::UisError;

pub const DEFAULT_LIMIT: u64 = 1000;
pub const MAX_LIMIT: u64 = 10_000;
pub const MAX_OFFSET: u64 = 100_000;
/// Deepest filter tree accepted: a bound on recursion, far beyond real use.
const MAX_DEPTH: usize = 32;

/// Parameters every `get.*` method takes.
const COMMON: &[&str] = &[
    "access_token",
    "user_id",
    "limit",
    "offset",
    "filter",
    "sort",
    "fields",
];

/// What a `get.*` method returns and allows.
pub struct Spec {
    pub fields: Vec<String>,
    pub filterable: Vec<String>,
    pub sortable: Vec<String>,
    pub default_fields: Vec<String>,
    pub extra_params: &'static [&'static str],
}

#[derive(Debug)]
enum Operator {
    Equal,
    NotEqual,
    Less,
    Greater,
    LessOrEqual,
    GreaterOrEqual,
    Like(Regex),
    Regexp(Regex),
    In(Vec<Value>),
}

#[derive(Debug)]
enum Filter {
    Simple {
        field: String,
        operator: Operator,
        value: Value,
    },
    Tree {
        filters: Vec<Filter>,
        all: bool,
    },
}

/// A checked `get.*` call.
#[derive(Debug)]
pub struct Query {
    filter: Option<Filter>,
    sort: Vec<(String, bool)>,
    fields: Vec<String>,
    offset: u64,
    limit: u64,
}

fn like_pattern(pattern: &str) -> Option<Regex> {
    let mut expression = String::from("^");
    for character in pattern.chars() {
        match character {
            '%' => expression.push_str(".*"),
            '_' => expression.push('.'),
            other => expression.push_str(&regex::escape(&other.to_string())),
        }
    }
    expression.push('$');
    Regex::new(&expression).ok()
}

impl Spec {
    pub fn check(&self, params: &Map<String, Value>) -> Result<Query, UisError> {
        for (name, value) in params {
            if !COMMON.contains(&name.as_str()) && !self.extra_params.contains(&name.as_str()) {
                return Err(UisError::unexpected(name, Some(value)));
            }
        }
        let number = |name: &str, default: u64, min: u64, max: u64| -> Result<u64, UisError> {
            match params.get(name) {
                None | Some(Value::Null) => Ok(default),
                Some(value) => {
                    let number = value
                        .as_u64()
                        .ok_or_else(|| UisError::data_type(name, Some(value)))?;
                    if number < min || number > max {
                        return Err(UisError::invalid_value(name, Some(value))
                            .with_param("min", min.into())
                            .with_param("max", max.into()));
                    }
                    Ok(number)
                }
            }
        };
        let offset = number("offset", 0, 0, MAX_OFFSET)?;
        let limit = number("limit", DEFAULT_LIMIT, 1, MAX_LIMIT)?;
        let filter = match params.get("filter") {
            None | Some(Value::Null) => None,
            // The seed's own request skeleton sends `"filter": {}`.
            Some(Value::Object(object)) if object.is_empty() => None,
            Some(value) => Some(self.filter(value, 0)?),
        };
        let mut sort = Vec::new();
        match params.get("sort") {
            None | Some(Value::Null) => {}
            Some(Value::Array(items)) => {
                for item in items {
                    let Value::Object(item) = item else {
                        return Err(UisError::data_type("sort", Some(item)));
                    };
                    for (key, value) in item {
                        if key != "field" && key != "order" {
                            return Err(UisError::unexpected(&format!("sort.{key}"), Some(value)));
                        }
                    }
                    let field = item
                        .get("field")
                        .ok_or_else(|| UisError::required("sort.field"))?;
                    let name = field
                        .as_str()
                        .ok_or_else(|| UisError::data_type("sort.field", Some(field)))?;
                    if !self.sortable.iter().any(|sortable| sortable == name) {
                        return Err(UisError::sort_prohibited(field));
                    }
                    let descending = match item.get("order") {
                        None | Some(Value::Null) => false,
                        Some(Value::String(order)) if order == "asc" => false,
                        Some(Value::String(order)) if order == "desc" => true,
                        Some(other) => {
                            return Err(UisError::invalid_value("sort.order", Some(other)))
                        }
                    };
                    sort.push((name.to_owned(), descending));
                }
            }
            Some(other) => return Err(UisError::data_type("sort", Some(other))),
        }
        let fields = match params.get("fields") {
            None | Some(Value::Null) => self.default_fields.clone(),
            Some(Value::Array(items)) => {
                let mut fields = Vec::with_capacity(items.len());
                for item in items {
                    let name = item
                        .as_str()
                        .ok_or_else(|| UisError::data_type("fields", Some(item)))?;
                    if !self.fields.iter().any(|field| field == name) {
                        return Err(UisError::unexpected("fields", Some(item)));
                    }
                    fields.push(name.to_owned());
                }
                fields
            }
            Some(other) => return Err(UisError::data_type("fields", Some(other))),
        };
        Ok(Query {
            filter,
            sort,
            fields,
            offset,
            limit,
        })
    }

    fn filter(&self, value: &Value, depth: usize) -> Result<Filter, UisError> {
        let Value::Object(object) = value else {
            return Err(UisError::data_type("filter", Some(value)));
        };
        if depth > MAX_DEPTH {
            return Err(UisError::invalid_value("filter", None));
        }
        if let Some(filters) = object.get("filters") {
            for (key, value) in object {
                if key != "filters" && key != "condition" {
                    return Err(UisError::unexpected(&format!("filter.{key}"), Some(value)));
                }
            }
            let Value::Array(items) = filters else {
                return Err(UisError::data_type("filter.filters", Some(filters)));
            };
            let all = match object.get("condition") {
                None | Some(Value::Null) => true,
                Some(Value::String(condition)) if condition == "and" => true,
                Some(Value::String(condition)) if condition == "or" => false,
                Some(other) => {
                    return Err(UisError::invalid_value("filter.condition", Some(other)))
                }
            };
            let filters = items
                .iter()
                .map(|item| self.filter(item, depth + 1))
                .collect::<Result<Vec<_>, _>>()?;
            return Ok(Filter::Tree { filters, all });
        }
        for (key, value) in object {
            if !["field", "operator", "value"].contains(&key.as_str()) {
                return Err(UisError::unexpected(&format!("filter.{key}"), Some(value)));
            }
        }
        let field_value = object
            .get("field")
            .ok_or_else(|| UisError::required("filter.field"))?;
        let field = field_value
            .as_str()
            .ok_or_else(|| UisError::data_type("filter.field", Some(field_value)))?;
        if !self.filterable.iter().any(|filterable| filterable == field) {
            return Err(UisError::filter_prohibited(field_value));
        }
        let operator_value = object
            .get("operator")
            .ok_or_else(|| UisError::required("filter.operator"))?;
        let value = object.get("value").cloned().unwrap_or(Value::Null);
        let text = || {
            value
                .as_str()
                .ok_or_else(|| UisError::data_type("filter.value", Some(&value)))
        };
        let operator = match operator_value.as_str() {
            Some("=") => Operator::Equal,
            Some("!=") => Operator::NotEqual,
            Some("<") => Operator::Less,
            Some(">") => Operator::Greater,
            Some("<=") => Operator::LessOrEqual,
            Some(">=") => Operator::GreaterOrEqual,
            Some("like") => Operator::Like(
                like_pattern(text()?)
                    .ok_or_else(|| UisError::invalid_value("filter.value", Some(&value)))?,
            ),
            Some("regexp") => Operator::Regexp(
                Regex::new(text()?)
                    .map_err(|_| UisError::invalid_value("filter.value", Some(&value)))?,
            ),
            Some("in") => match &value {
                Value::Array(items) => Operator::In(items.clone()),
                other => return Err(UisError::data_type("filter.value", Some(other))),
            },
            _ => {
                return Err(UisError::invalid_value(
                    "filter.operator",
                    Some(operator_value),
                ))
            }
        };
        Ok(Filter::Simple {
            field: field.to_owned(),
            operator,
            value,
        })
    }
}

fn compare(left: &Value, right: &Value) -> Option<Ordering> {
    match (left, right) {
        (Value::Number(a), Value::Number(b)) => a.as_f64()?.partial_cmp(&b.as_f64()?),
        (Value::String(a), Value::String(b)) => Some(a.cmp(b)),
        (Value::Bool(a), Value::Bool(b)) => Some(a.cmp(b)),
        _ => None,
    }
}

/// Order for sorting: nulls first, then by value.
fn sort_order(left: &Value, right: &Value) -> Ordering {
    match (left.is_null(), right.is_null()) {
        (true, true) => Ordering::Equal,
        (true, false) => Ordering::Less,
        (false, true) => Ordering::Greater,
        _ => compare(left, right).unwrap_or(Ordering::Equal),
    }
}

impl Filter {
    fn fields(&self, into: &mut Vec<String>) {
        match self {
            Filter::Tree { filters, .. } => {
                for filter in filters {
                    filter.fields(into);
                }
            }
            Filter::Simple { field, .. } => into.push(field.clone()),
        }
    }

    fn matches(&self, row: &Map<String, Value>) -> bool {
        match self {
            Filter::Tree { filters, all } => {
                if *all {
                    filters.iter().all(|filter| filter.matches(row))
                } else {
                    filters.iter().any(|filter| filter.matches(row))
                }
            }
            Filter::Simple {
                field,
                operator,
                value,
            } => {
                let found = row.get(field).unwrap_or(&Value::Null);
                let ordered = |wanted: &[Ordering]| {
                    compare(found, value).is_some_and(|ordering| wanted.contains(&ordering))
                };
                match operator {
                    Operator::Equal => found == value,
                    Operator::NotEqual => found != value,
                    Operator::Less => ordered(&[Ordering::Less]),
                    Operator::Greater => ordered(&[Ordering::Greater]),
                    Operator::LessOrEqual => ordered(&[Ordering::Less, Ordering::Equal]),
                    Operator::GreaterOrEqual => ordered(&[Ordering::Greater, Ordering::Equal]),
                    Operator::Like(pattern) | Operator::Regexp(pattern) => {
                        found.as_str().is_some_and(|text| pattern.is_match(text))
                    }
                    Operator::In(items) => items.contains(found),
                }
            }
        }
    }
}

impl Query {
    /// The fields the filter and the sort read: all a scan of many rows
    /// needs of each.
    pub fn scanned_fields(&self) -> Vec<String> {
        let mut fields: Vec<String> = self.sort.iter().map(|(field, _)| field.clone()).collect();
        if let Some(filter) = &self.filter {
            filter.fields(&mut fields);
        }
        fields.sort();
        fields.dedup();
        fields
    }

    /// Neither a filter nor a sort: the store can page the rows itself.
    pub fn is_plain(&self) -> bool {
        self.filter.is_none() && self.sort.is_empty()
    }

    pub fn offset(&self) -> u64 {
        self.offset
    }

    pub fn limit(&self) -> u64 {
        self.limit
    }

    /// Only the requested fields of a row the caller no longer needs, moved
    /// out of it rather than copied.
    pub fn project_owned(&self, mut row: Map<String, Value>) -> Value {
        let mut projected = Map::with_capacity(self.fields.len());
        for field in &self.fields {
            projected.insert(field.clone(), row.remove(field).unwrap_or(Value::Null));
        }
        Value::Object(projected)
    }

    /// Only the requested fields, in the requested order.
    pub fn project(&self, row: &Map<String, Value>) -> Value {
        let mut projected = Map::with_capacity(self.fields.len());
        for field in &self.fields {
            projected.insert(
                field.clone(),
                row.get(field).cloned().unwrap_or(Value::Null),
            );
        }
        Value::Object(projected)
    }

    /// A page built from rows streamed in id order (see [`PageBuilder`]).
    pub fn page_builder(&self) -> PageBuilder<'_> {
        PageBuilder {
            query: self,
            total: 0,
            page: Vec::new(),
            ranked: Vec::new(),
        }
    }

    /// Sorts two rows' sort keys as `sort` asks (nulls first).
    fn order(&self, left: &[Value], right: &[Value]) -> Ordering {
        for ((_, descending), (left, right)) in self.sort.iter().zip(left.iter().zip(right)) {
            let ordering = sort_order(left, right);
            let ordering = if *descending {
                ordering.reverse()
            } else {
                ordering
            };
            if ordering != Ordering::Equal {
                return ordering;
            }
        }
        Ordering::Equal
    }

    /// Filters, sorts, pages and projects `rows`; also the number of matches.
    pub fn apply(&self, rows: Vec<Map<String, Value>>) -> (Vec<Value>, u64) {
        let mut builder = self.page_builder();
        for (index, row) in rows.iter().enumerate() {
            builder.push(index as i64, row);
        }
        // Here the "ids" are positions in `rows`.
        let (positions, total) = builder.finish();
        let page = positions
            .into_iter()
            .filter_map(|index| rows.get(usize::try_from(index).ok()?))
            .map(|row| self.project(row))
            .collect();
        (page, total)
    }
}

/// A JSON array written an element at a time into one buffer, so a page of
/// ten thousand report rows is held as its text, not as ten thousand
/// `Value` trees. (Holding each row as its own raw value spared the one
/// validating pass in `finish` but raised the peak RSS of a 10 000-row
/// page by some 60 MB: BENCHMARKS.md, reads.)
pub struct JsonArray {
    text: Vec<u8>,
    empty: bool,
}

impl Default for JsonArray {
    fn default() -> Self {
        JsonArray {
            text: b"[".to_vec(),
            empty: true,
        }
    }
}

impl JsonArray {
    pub fn push(&mut self, element: &Value) {
        if !self.empty {
            self.text.push(b',');
        }
        self.empty = false;
        // Writing a `Value` into a Vec cannot fail.
        let _ = serde_json::to_writer(&mut self.text, element);
    }

    pub fn finish(mut self) -> Box<RawValue> {
        self.text.push(b']');
        String::from_utf8(self.text)
            .ok()
            .and_then(|text| RawValue::from_string(text).ok())
            .unwrap_or_default()
    }
}

/// A page of a `get.*` answer built from rows streamed in id order. It
/// keeps the ids of the page's rows, and when the call sorts, the sort keys
/// and ids of the first `offset + limit` matches, never the rows: a report
/// over a window of a million leads stays within a few megabytes, and the
/// rows it offers may hold only the columns the filter and sort read
/// ([`Query::scanned_fields`]).
pub struct PageBuilder<'a> {
    query: &'a Query,
    total: u64,
    /// Unsorted: the ids of the page's rows.
    page: Vec<i64>,
    /// Sorted: the best matches so far, trimmed as they grow.
    ranked: Vec<Ranked>,
}

/// A sorted match: its sort keys, then its place in the stream (so equal
/// keys keep id order, as a stable sort would), and its id.
struct Ranked {
    keys: Vec<Value>,
    sequence: u64,
    id: i64,
}

impl PageBuilder<'_> {
    /// Offers the row of lead `id`.
    pub fn push(&mut self, id: i64, row: &Map<String, Value>) {
        let query = self.query;
        if !query
            .filter
            .as_ref()
            .is_none_or(|filter| filter.matches(row))
        {
            return;
        }
        let sequence = self.total;
        self.total += 1;
        if query.sort.is_empty() {
            if sequence >= query.offset && (self.page.len() as u64) < query.limit {
                self.page.push(id);
            }
        } else {
            let null = Value::Null;
            let keys = query
                .sort
                .iter()
                .map(|(field, _)| row.get(field).unwrap_or(&null).clone())
                .collect();
            self.ranked.push(Ranked { keys, sequence, id });
            let keep = (query.offset + query.limit) as usize;
            if self.ranked.len() >= keep.saturating_mul(2).max(4096) {
                self.trim();
            }
        }
    }

    /// Keeps only the first `offset + limit` matches in sort order.
    fn trim(&mut self) {
        let query = self.query;
        self.ranked.sort_by(|left, right| {
            query
                .order(&left.keys, &right.keys)
                .then(left.sequence.cmp(&right.sequence))
        });
        self.ranked.truncate((query.offset + query.limit) as usize);
    }

    /// The ids of the page's rows in page order, for the caller to encode
    /// whole, and the number of matches.
    pub fn finish(mut self) -> (Vec<i64>, u64) {
        if self.query.sort.is_empty() {
            return (self.page, self.total);
        }
        self.trim();
        let ids = self
            .ranked
            .into_iter()
            .skip(self.query.offset as usize)
            .map(|ranked| ranked.id)
            .collect();
        (ids, self.total)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// The page builder keeps only the first offset + limit sort keys, trimming
    /// as rows stream in; its page must be exactly what a full stable sort of
    /// every row gives, ties in stream order.
    #[test]
    fn a_bounded_sorted_page_equals_a_full_sort() {
        let rows: Vec<Map<String, Value>> = (0..20_000i64)
            .map(|id| {
                // Few distinct names, so ties are many; some nulls.
                let name = match (id * 7919) % 13 {
                    0 => Value::Null,
                    bucket => Value::String(format!("name {bucket:02}")),
                };
                json!({"id": id, "name": name, "n": id % 5})
                    .as_object()
                    .cloned()
                    .unwrap()
            })
            .collect();
        for (offset, limit, descending) in [(0, 10, false), (5_000, 100, true), (19_990, 50, false)]
        {
            let query = spec()
                .check(
                    json!({"sort": [{"field": "name", "order": if descending { "desc" } else { "asc" }}],
                           "filter": {"field": "n", "operator": "!=", "value": 3},
                           "offset": offset, "limit": limit, "fields": ["id"]})
                    .as_object()
                    .unwrap(),
                )
                .unwrap();
            let (page, total) = query.apply(rows.clone());
            let mut expected: Vec<&Map<String, Value>> =
                rows.iter().filter(|row| row["n"] != json!(3)).collect();
            expected.sort_by(|left, right| {
                let ordering = sort_order(&left["name"], &right["name"]);
                if descending {
                    ordering.reverse()
                } else {
                    ordering
                }
            });
            assert_eq!(total, expected.len() as u64);
            let expected: Vec<Value> = expected
                .into_iter()
                .skip(offset)
                .take(limit)
                .map(|row| json!({"id": row["id"]}))
                .collect();
            assert_eq!(page, expected, "offset {offset}, limit {limit}");
        }
    }

    fn spec() -> Spec {
        let names = |list: &[&str]| {
            list.iter()
                .map(|name| (*name).to_owned())
                .collect::<Vec<_>>()
        };
        Spec {
            fields: names(&["id", "name", "n"]),
            filterable: names(&["id", "name", "n"]),
            sortable: names(&["id", "name"]),
            default_fields: names(&["id", "name"]),
            extra_params: &[],
        }
    }

    fn rows() -> Vec<Map<String, Value>> {
        [
            json!({"id": 1, "name": "Лиды", "n": null}),
            json!({"id": 2, "name": "Продажи", "n": 5}),
            json!({"id": 3, "name": "Лиды-2", "n": 7}),
        ]
        .into_iter()
        .map(|row| row.as_object().cloned().unwrap())
        .collect()
    }

    fn run(params: Value) -> Result<(Vec<Value>, u64), UisError> {
        let query = spec().check(params.as_object().unwrap())?;
        Ok(query.apply(rows()))
    }

    fn ids(params: Value) -> Vec<i64> {
        run(params)
            .unwrap()
            .0
            .iter()
            .map(|row| row["id"].as_i64().unwrap())
            .collect()
    }

    #[test]
    fn operators_trees_sort_fields_and_paging() {
        assert_eq!(
            ids(json!({"filter": {"field": "name", "operator": "like", "value": "Лиды%"}})),
            [1, 3]
        );
        assert_eq!(
            ids(json!({"filter": {"field": "id", "operator": ">=", "value": 2}})),
            [2, 3]
        );
        assert_eq!(
            ids(json!({"filter": {"field": "id", "operator": "in", "value": [1, 3]}})),
            [1, 3]
        );
        assert_eq!(
            ids(json!({"filter": {"field": "n", "operator": "=", "value": null}})),
            [1]
        );
        assert_eq!(
            ids(json!({"filter": {"field": "n", "operator": "!=", "value": null}})),
            [2, 3]
        );
        assert_eq!(
            ids(json!({"filter": {"field": "name", "operator": "regexp", "value": "^П"}})),
            [2]
        );
        assert_eq!(
            ids(json!({"filter": {"condition": "or", "filters": [
                {"field": "id", "operator": "=", "value": 1},
                {"filters": [{"field": "n", "operator": ">", "value": 5}, {"field": "name", "operator": "!=", "value": "x"}], "condition": "and"}
            ]}})),
            [1, 3]
        );
        assert_eq!(
            ids(json!({"sort": [{"field": "name", "order": "desc"}]})),
            [2, 3, 1]
        );
        let (page, total) = run(json!({"offset": 1, "limit": 1, "fields": ["name"]})).unwrap();
        assert_eq!((page, total), (vec![json!({"name": "Продажи"})], 3));
    }

    #[test]
    fn refusals_carry_the_uis_mnemonics() {
        let mnemonic = |params: Value| run(params).unwrap_err().mnemonic;
        assert_eq!(
            mnemonic(json!({"filter": {"field": "secret", "operator": "=", "value": 1}})),
            "filter_prohibited"
        );
        assert_eq!(
            mnemonic(json!({"sort": [{"field": "n"}]})),
            "sort_prohibited"
        );
        assert_eq!(
            mnemonic(json!({"fields": ["nope"]})),
            "unexpected_parameters"
        );
        assert_eq!(mnemonic(json!({"bogus": 1})), "unexpected_parameters");
        assert_eq!(mnemonic(json!({"limit": 10001})), "invalid_parameter_value");
        assert_eq!(mnemonic(json!({"limit": "ten"})), "data_type_error");
        assert_eq!(
            mnemonic(json!({"offset": 100001})),
            "invalid_parameter_value"
        );
        assert_eq!(
            mnemonic(json!({"filter": {"field": "id", "operator": "jsquery", "value": "x"}})),
            "invalid_parameter_value"
        );
        assert_eq!(
            mnemonic(json!({"filter": {"field": "id"}})),
            "required_parameter_missed"
        );
        assert_eq!(
            mnemonic(json!({"filter": {"filters": [], "condition": "xor"}})),
            "invalid_parameter_value"
        );
        assert_eq!(
            mnemonic(json!({"filter": {"field": "name", "operator": "regexp", "value": "("}})),
            "invalid_parameter_value"
        );
        assert_eq!(
            mnemonic(json!({"sort": [{"field": "id", "order": "up"}]})),
            "invalid_parameter_value"
        );
        assert_eq!(mnemonic(json!({"filter": "id=1"})), "data_type_error");
    }
}
