//! Turns a mapping file into a [`Mapping`]: every path, value and reference is
//! checked here, once, and all problems are reported together with the file
//! and key they belong to.

use std::collections::HashMap;

use chrono::FixedOffset;

use super::encode::{Column, ColumnSource, OutputType, Record};
use super::file::{ColumnSpec, FieldSpec, MappingFile, PathOrPaths, ValueMapSpec};
use super::{FieldRule, Mapping, MappingError, UnknownFields, ValueMap};
use crate::lead::path::FieldPath;

struct Problems<'a> {
    file: &'a str,
    list: Vec<MappingError>,
}

impl Problems<'_> {
    fn add(&mut self, key: impl Into<String>, problem: impl Into<String>) {
        self.list.push(MappingError {
            file: self.file.to_owned(),
            key: key.into(),
            problem: problem.into(),
        });
    }

    fn path(&mut self, key: &str, text: &str) -> Option<FieldPath> {
        let path = FieldPath::parse(text);
        if path.is_none() {
            self.add(
                key,
                format!(
                    "unknown canonical path {text:?}; known paths: {}",
                    FieldPath::known_paths().join(", ")
                ),
            );
        }
        path
    }

    /// Checks a canonical value against the vocabulary of the path it is for.
    fn canonical_value(&mut self, key: &str, path: &FieldPath, value: &str) {
        if let Some(vocabulary) = path.vocabulary() {
            if !vocabulary.contains(&value) {
                self.add(
                    key,
                    format!(
                        "{value:?} is not a canonical {path} value; expected one of {}",
                        vocabulary.join(", ")
                    ),
                );
            }
        }
    }
}

pub(super) fn compile(source: &str, text: &str) -> Result<Mapping, Vec<MappingError>> {
    let mut problems = Problems {
        file: source,
        list: Vec::new(),
    };
    let file: MappingFile = match toml::from_str(text) {
        Ok(file) => file,
        Err(error) => {
            let key = error
                .span()
                .map(|span| format!("at byte {}", span.start))
                .unwrap_or_else(|| "(file)".into());
            problems.add(key, error.message().to_owned());
            return Err(problems.list);
        }
    };

    let unknown = match file.dialect.unknown_fields.as_str() {
        "custom" => UnknownFields::Custom,
        "ignore" => UnknownFields::Ignore,
        other => {
            problems.add(
                "dialect.unknown_fields",
                format!("{other:?} is neither \"custom\" nor \"ignore\""),
            );
            UnknownFields::Ignore
        }
    };
    let timezone = parse_offset(&file.dialect.timezone).unwrap_or_else(|| {
        problems.add(
            "dialect.timezone",
            format!("{:?} is not an offset like +03:00", file.dialect.timezone),
        );
        FixedOffset::east_opt(0).expect("zero offset is valid")
    });
    for (key, format) in [
        ("dialect.datetime_format", &file.dialect.datetime_format),
        ("dialect.date_format", &file.dialect.date_format),
    ] {
        if chrono::format::StrftimeItems::new(format).parse().is_err() {
            problems.add(key, format!("{format:?} is not a valid strftime format"));
        }
    }

    // Value maps first: fields and columns refer to them by name.
    let mut value_maps = Vec::new();
    let mut value_map_names = HashMap::new();
    for (name, spec) in &file.values {
        value_map_names.insert(name.clone(), value_maps.len());
        value_maps.push(compile_value_map(spec));
    }
    let value_map_ref =
        |problems: &mut Problems, key: &str, name: &Option<String>| -> Option<usize> {
            let name = name.as_ref()?;
            let index = value_map_names.get(name).copied();
            if index.is_none() {
                problems.add(
                    key,
                    format!("refers to [values.{name}], which this file does not define"),
                );
            }
            index
        };

    let mut fields = HashMap::new();
    for (wire, spec) in &file.fields {
        let key = format!("fields.{wire}");
        let (path_text, values, raw) = match spec {
            FieldSpec::Path(path) => (path, &None, &None),
            FieldSpec::Full(table) => (&table.path, &table.values, &table.raw),
        };
        let Some(path) = problems.path(&key, path_text) else {
            continue;
        };
        if !path.is_writable() {
            problems.add(
                &key,
                format!("{path} is set by the gateway and cannot be written"),
            );
        }
        let raw = raw
            .as_ref()
            .and_then(|raw| problems.path(&format!("{key}.raw"), raw));
        let values = value_map_ref(&mut problems, &format!("{key}.values"), values);
        match values {
            Some(index) => check_value_map_targets(&mut problems, &file.values, index, &path),
            None if path.vocabulary().is_some() => problems.add(
                &key,
                format!("{path} takes canonical names only; add `values = \"...\"` to translate wire values"),
            ),
            None => {}
        }
        fields.insert(wire.clone(), FieldRule { path, values, raw });
    }

    let mut defaults = Vec::new();
    for (path_text, value) in &file.defaults {
        let key = format!("defaults.{path_text}");
        if let Some(path) = problems.path(&key, path_text) {
            problems.canonical_value(&key, &path, value);
            defaults.push((path, value.clone()));
        }
    }

    let mut records = HashMap::new();
    for (name, columns) in &file.records {
        let mut compiled = Vec::with_capacity(columns.len());
        for (position, spec) in columns.iter().enumerate() {
            let key = format!("records.{name}[{position}] ({})", spec.name);
            if let Some(column) = compile_column(&mut problems, &key, spec, &value_map_ref) {
                compiled.push(column);
            }
        }
        records.insert(name.clone(), Record { columns: compiled });
    }

    let mut funnels = Vec::with_capacity(file.funnels.len());
    for (index, spec) in file.funnels.iter().enumerate() {
        let mut stages = Vec::with_capacity(spec.stages.len());
        for (position, stage) in spec.stages.iter().enumerate() {
            let key = format!("funnels[{index}].stages[{position}]");
            if !["in_process", "success", "failed"].contains(&stage.status.as_str()) {
                problems.add(
                    format!("{key}.status"),
                    format!("{:?}: expected in_process, success or failed", stage.status),
                );
            }
            let mut canonical = Vec::with_capacity(stage.canonical.len());
            for name in &stage.canonical {
                match crate::lead::Stage::parse(name) {
                    Some(found) => canonical.push(found),
                    None => problems.add(
                        format!("{key}.canonical"),
                        format!(
                            "{name:?} is not a canonical stage; expected one of {}",
                            crate::lead::Stage::NAMES.join(", ")
                        ),
                    ),
                }
            }
            stages.push(super::FunnelStage {
                ext_id: stage.ext_id.clone(),
                name: stage.name.clone(),
                status: stage.status.clone(),
                canonical,
            });
        }
        funnels.push(super::Funnel {
            ext_id: spec.ext_id.clone(),
            name: spec.name.clone(),
            stages,
        });
    }

    if !problems.list.is_empty() {
        return Err(problems.list);
    }
    Ok(Mapping {
        funnels,
        dialect: file.dialect.name,
        source: source.to_owned(),
        timezone,
        datetime_format: file.dialect.datetime_format,
        date_format: file.dialect.date_format,
        unknown,
        fields,
        defaults,
        value_maps,
        value_map_names,
        records,
    })
}

fn compile_value_map(spec: &ValueMapSpec) -> ValueMap {
    let mut encode: HashMap<String, String> = HashMap::new();
    // Inverting decode: the first wire value listed for a canonical value wins.
    for (wire, canonical) in &spec.decode {
        encode
            .entry(canonical.clone())
            .or_insert_with(|| wire.clone());
    }
    for (canonical, wire) in &spec.encode {
        encode.insert(canonical.clone(), wire.clone());
    }
    ValueMap {
        order: spec
            .decode
            .iter()
            .map(|(wire, canonical)| (wire.clone(), canonical.clone()))
            .collect(),
        decode: spec
            .decode
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
        encode,
        labels: spec
            .labels
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
        fallback: spec.fallback.clone(),
        absent: spec.absent.clone(),
    }
}

/// Every canonical value a value map produces or accepts must exist for the path it serves.
fn check_value_map_targets(
    problems: &mut Problems,
    specs: &indexmap::IndexMap<String, ValueMapSpec>,
    index: usize,
    path: &FieldPath,
) {
    let Some((name, spec)) = specs.get_index(index) else {
        return;
    };
    for (wire, canonical) in &spec.decode {
        problems.canonical_value(&format!("values.{name}.decode.{wire}"), path, canonical);
    }
    for canonical in spec.encode.keys() {
        problems.canonical_value(
            &format!("values.{name}.encode.{canonical}"),
            path,
            canonical,
        );
    }
    if let Some(fallback) = &spec.fallback {
        problems.canonical_value(&format!("values.{name}.fallback"), path, fallback);
    }
}

/// Looks up a `values = "..."` reference, recording a problem when it is unknown.
type ValueMapResolver<'a> = dyn Fn(&mut Problems, &str, &Option<String>) -> Option<usize> + 'a;

fn compile_column(
    problems: &mut Problems,
    key: &str,
    spec: &ColumnSpec,
    value_map_ref: &ValueMapResolver<'_>,
) -> Option<Column> {
    let output = match spec.as_type.as_deref() {
        None | Some("string") => OutputType::String,
        Some("native") => OutputType::Native,
        Some("date") => OutputType::Date,
        Some("flag") => OutputType::Flag,
        Some("e164") => OutputType::E164,
        Some("domain") => OutputType::Domain,
        Some(other) => {
            problems.add(
                key,
                format!("as = {other:?}: expected string, native, date, flag, e164 or domain"),
            );
            OutputType::String
        }
    };
    let absent = spec
        .absent
        .as_ref()
        .map(toml_to_json)
        .unwrap_or(serde_json::Value::Null);
    let source = match (&spec.constant, &spec.path) {
        (Some(constant), None) => ColumnSource::Constant(toml_to_json(constant)),
        (None, Some(paths)) => {
            let texts: Vec<&String> = match paths {
                PathOrPaths::One(one) => vec![one],
                PathOrPaths::Many(many) => many.iter().collect(),
            };
            if texts.is_empty() {
                problems.add(key, "path list is empty");
            }
            let paths: Vec<FieldPath> = texts
                .iter()
                .filter_map(|text| problems.path(key, text))
                .collect();
            let values = value_map_ref(problems, &format!("{key}.values"), &spec.values);
            if spec.label && values.is_none() {
                problems.add(key, "label = true needs `values`");
            }
            ColumnSource::Paths {
                paths,
                values,
                label: spec.label,
            }
        }
        // Neither: a column the gateway has no data for, always `absent` (null).
        (None, None) => ColumnSource::Constant(absent.clone()),
        (Some(_), Some(_)) => {
            problems.add(key, "a column takes `path` or `const`, not both");
            return None;
        }
    };
    Some(Column {
        name: spec.name.clone(),
        source,
        output,
        absent,
    })
}

fn toml_to_json(value: &toml::Value) -> serde_json::Value {
    match value {
        toml::Value::String(text) => serde_json::Value::String(text.clone()),
        toml::Value::Integer(number) => serde_json::Value::from(*number),
        toml::Value::Float(number) => serde_json::Value::from(*number),
        toml::Value::Boolean(flag) => serde_json::Value::Bool(*flag),
        toml::Value::Datetime(time) => serde_json::Value::String(time.to_string()),
        toml::Value::Array(items) => {
            serde_json::Value::Array(items.iter().map(toml_to_json).collect())
        }
        toml::Value::Table(table) => serde_json::Value::Object(
            table
                .iter()
                .map(|(k, v)| (k.clone(), toml_to_json(v)))
                .collect(),
        ),
    }
}

/// `+03:00`, `-05:30`, `Z`.
pub fn parse_offset(text: &str) -> Option<FixedOffset> {
    if text == "Z" || text == "UTC" {
        return FixedOffset::east_opt(0);
    }
    let (sign, rest) = match text.as_bytes().first()? {
        b'+' => (1, &text[1..]),
        b'-' => (-1, &text[1..]),
        _ => return None,
    };
    let (hours, minutes) = rest.split_once(':')?;
    let hours: i32 = hours.parse().ok()?;
    let minutes: i32 = minutes.parse().ok()?;
    if hours > 23 || minutes > 59 {
        return None;
    }
    FixedOffset::east_opt(sign * (hours * 3600 + minutes * 60))
}
