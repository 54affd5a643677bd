//! Writing canonical leads out through a compiled record layout: the columns,
//! their order and their wire types come from the mapping file, so a list row
//! or an info record is data, not code.

use chrono::{DateTime, NaiveDate, Utc};
use serde_json::{Map, Value};

use super::Mapping;
use crate::lead::path::{EmployeeAttr, FieldPath, FieldValue};
use crate::lead::{EmployeeDirectory, Lead};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum OutputType {
    /// Every value as a JSON string, as PHP hands MySQL rows to json_encode.
    String,
    /// Numbers and booleans as JSON numbers and booleans.
    Native,
    /// A date (no time of day), in the dialect's date format.
    Date,
    /// Booleans as `Y`/`N` (Bitrix24); anything else as `String`.
    Flag,
    /// A phone list's first number in its normalised E.164 form (UIS
    /// documents E.164), instead of as the caller typed it.
    E164,
    /// A URL's host alone (UIS `site_domain_name`).
    Domain,
}

#[derive(Debug)]
pub(super) enum ColumnSource {
    Constant(Value),
    Paths {
        paths: Vec<FieldPath>,
        values: Option<usize>,
        label: bool,
    },
}

#[derive(Debug)]
pub(super) struct Column {
    pub name: String,
    pub source: ColumnSource,
    pub output: OutputType,
    pub absent: Value,
}

/// A compiled output layout.
#[derive(Debug)]
pub struct Record {
    pub(super) columns: Vec<Column>,
}

impl Record {
    /// Column names in output order.
    pub fn column_names(&self) -> impl Iterator<Item = &str> {
        self.columns.iter().map(|column| column.name.as_str())
    }

    /// The canonical path behind a column: lets a dialect accept its own column
    /// names where it takes a sort field, without naming them twice.
    pub fn column_path(&self, name: &str) -> Option<&FieldPath> {
        self.column_paths(name).first()
    }

    /// Every canonical path a column reads, in the order it falls back
    /// through them (`[visit.city, address.city]`); none for a constant.
    pub fn column_paths(&self, name: &str) -> &[FieldPath] {
        self.columns
            .iter()
            .find(|column| column.name == name)
            .map_or(&[], |column| match &column.source {
                ColumnSource::Paths { paths, .. } => paths.as_slice(),
                ColumnSource::Constant(_) => &[],
            })
    }

    /// The columns that have a value (not null, not an empty string), for
    /// requests a forwarding client sends: a field the lead lacks is left
    /// out, not sent empty. Forward records name no employees.
    pub fn encode_present(&self, mapping: &Mapping, lead: &Lead) -> Vec<(String, Value)> {
        let nobody: Vec<crate::lead::Employee> = Vec::new();
        self.encode(mapping, lead, &nobody)
            .into_iter()
            .filter(|(_, value)| !value.is_null() && *value != "")
            .collect()
    }

    pub fn encode(
        &self,
        mapping: &Mapping,
        lead: &Lead,
        directory: &dyn EmployeeDirectory,
    ) -> Map<String, Value> {
        let mut out = Map::with_capacity(self.columns.len());
        for column in &self.columns {
            out.insert(column.name.clone(), column.value(mapping, lead, directory));
        }
        out
    }

    /// Only the columns named in `wanted`, for work that reads a few
    /// columns of many leads (a report filtering or sorting its window).
    pub fn encode_only(
        &self,
        mapping: &Mapping,
        lead: &Lead,
        directory: &dyn EmployeeDirectory,
        wanted: &[String],
    ) -> Map<String, Value> {
        let mut out = Map::with_capacity(wanted.len());
        for column in self
            .columns
            .iter()
            .filter(|column| wanted.contains(&column.name))
        {
            out.insert(column.name.clone(), column.value(mapping, lead, directory));
        }
        out
    }
}

impl Column {
    /// This column's value for `lead`.
    fn value(&self, mapping: &Mapping, lead: &Lead, directory: &dyn EmployeeDirectory) -> Value {
        match &self.source {
            ColumnSource::Constant(value) => value.clone(),
            ColumnSource::Paths {
                paths,
                values,
                label,
            } => {
                if self.output == OutputType::E164 {
                    let normalized = paths.iter().find_map(|path| match path {
                        FieldPath::Phones => lead.phones.first().map(|point| &point.normalized),
                        _ => None,
                    });
                    if let Some(normalized) = normalized {
                        return Value::String(normalized.clone());
                    }
                }
                let found = paths
                    .iter()
                    .map(|path| path.get(lead))
                    .find(|value| *value != FieldValue::Absent);
                let value_map = values.map(|index| &mapping.value_maps[index]);
                match found {
                    Some(value) => {
                        write_value(mapping, self.output, value, value_map, *label, directory)
                            .unwrap_or_else(|| self.absent.clone())
                    }
                    None => match value_map.and_then(|map| map.absent()) {
                        Some(wire) if *label => {
                            Value::String(value_map.map_or(wire, |map| map.label(wire)).to_owned())
                        }
                        Some(wire) => wire_text(self.output, wire),
                        None => self.absent.clone(),
                    },
                }
            }
        }
    }
}

fn write_value(
    mapping: &Mapping,
    output: OutputType,
    value: FieldValue<'_>,
    value_map: Option<&super::ValueMap>,
    label: bool,
    directory: &dyn EmployeeDirectory,
) -> Option<Value> {
    let string = |text: String| Some(Value::String(text));
    match value {
        FieldValue::Absent => None,
        FieldValue::Enum(canonical) => {
            let Some(map) = value_map else {
                return string(canonical.to_owned());
            };
            let wire = map.to_wire(canonical)?;
            if label {
                return string(map.label(wire).to_owned());
            }
            Some(wire_text(output, wire))
        }
        FieldValue::Text(text) => match value_map {
            Some(map) if label => string(map.label(text).to_owned()),
            _ if output == OutputType::Domain => string(domain(text).to_owned()),
            _ => Some(wire_text(output, text)),
        },
        FieldValue::Int(number) => match output {
            OutputType::Native => Some(Value::from(number)),
            _ => string(number.to_string()),
        },
        FieldValue::Float(number) => match output {
            OutputType::Native => Some(Value::from(number)),
            _ => string(format!("{number:.2}")),
        },
        FieldValue::Bool(flag) => match output {
            OutputType::Native => Some(Value::Bool(flag)),
            OutputType::Flag => string(if flag { "Y" } else { "N" }.to_owned()),
            _ => string(if flag { "1" } else { "0" }.to_owned()),
        },
        FieldValue::Time(time) => string(format_time(mapping, time, output)),
        FieldValue::Date(date) => string(format_date(mapping, date)),
        FieldValue::Employee(id, attr) => match attr {
            EmployeeAttr::Id => match output {
                OutputType::Native => Some(Value::from(id)),
                _ => string(id.to_string()),
            },
            EmployeeAttr::Login => directory
                .by_id(id)
                .map(|employee| Value::String(employee.login.clone())),
            EmployeeAttr::Name => directory
                .by_id(id)
                .map(|employee| Value::String(employee.name.clone())),
        },
        FieldValue::Json(json) => Some(json.clone()),
        FieldValue::Composed(text) => write_value(
            mapping,
            output,
            FieldValue::Text(&text),
            value_map,
            label,
            directory,
        ),
    }
}

/// The host of `url` (`https://shop.example.ru:8443/form?x` →
/// `shop.example.ru`); text that is a bare domain stays as it is.
fn domain(url: &str) -> &str {
    let url = url.trim();
    let after_scheme = url.split_once("://").map_or(url, |(_, rest)| rest);
    let host_and_port = after_scheme
        .split(['/', '?', '#'])
        .next()
        .unwrap_or(after_scheme);
    let host = host_and_port
        .rsplit_once('@')
        .map_or(host_and_port, |(_, host)| host);
    host.split(':').next().unwrap_or(host)
}

/// A wire text as the column writes it: a `native` column writes an
/// integer as a JSON number (SalesMan's `info` has `status`, `rezult` and
/// `partner` as numbers), anything else stays a string.
fn wire_text(output: OutputType, text: &str) -> Value {
    match output {
        OutputType::Native => number_or_text(text),
        _ => Value::String(text.to_owned()),
    }
}

/// `text` as a JSON number when it is exactly an integer's own spelling,
/// otherwise as text ("007" and "+5" stay text: a number would not give
/// them back).
pub fn number_or_text(text: &str) -> Value {
    match text.parse::<i64>() {
        Ok(number) if number.to_string() == text => Value::from(number),
        _ => Value::String(text.to_owned()),
    }
}

fn format_time(mapping: &Mapping, time: DateTime<Utc>, output: OutputType) -> String {
    let local = time.with_timezone(&mapping.timezone);
    match output {
        OutputType::Date => local.format(&mapping.date_format).to_string(),
        _ => local.format(&mapping.datetime_format).to_string(),
    }
}

fn format_date(mapping: &Mapping, date: NaiveDate) -> String {
    date.format(&mapping.date_format).to_string()
}

#[cfg(test)]
mod tests {
    use super::domain;

    #[test]
    fn a_url_is_written_as_its_domain() {
        assert_eq!(
            domain("https://shop.example.ru/form?x=1"),
            "shop.example.ru"
        );
        assert_eq!(domain("http://user:pw@site.ru:8080/a"), "site.ru");
        assert_eq!(domain("site.ru/landing"), "site.ru");
        assert_eq!(domain("site.ru"), "site.ru");
        assert_eq!(domain(" https://сайт.рф "), "сайт.рф");
    }
}
