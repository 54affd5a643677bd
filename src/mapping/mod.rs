//! Mapping engine: field and value maps are data (one TOML file per dialect in
//! `mappings/`), compiled once at start-up into the lookup tables below and used
//! in both directions by the dialect code.
//!
//! Our own files are built into the binary, so the gateway runs from any
//! directory; a deployment may point the config at its own files instead.

mod compile;
mod decode_row;
mod encode;
pub mod file;

use std::collections::HashMap;
use std::path::Path;

use chrono::FixedOffset;
use thiserror::Error;

use crate::lead::path::{FieldPath, WriteContext};
use crate::lead::{Lead, LeadError};

pub use encode::{number_or_text, Record};

/// A mapping file that failed to load: names the file, the key and the problem,
/// which is what `leadgate check` prints.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("{file}: {key}: {problem}")]
pub struct MappingError {
    pub file: String,
    pub key: String,
    pub problem: String,
}

/// A wire field that could not be decoded into the canonical lead.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum DecodeError {
    #[error("{wire_field}: {source}")]
    Field {
        wire_field: String,
        #[source]
        source: LeadError,
    },
    #[error("{wire_field}: unknown value")]
    UnknownValue { wire_field: String },
}

impl DecodeError {
    pub fn wire_field(&self) -> &str {
        match self {
            DecodeError::Field { wire_field, .. } | DecodeError::UnknownValue { wire_field } => {
                wire_field
            }
        }
    }
}

/// The built-in mapping files, compiled into the binary.
pub const BUILT_IN: &[(&str, &str)] = &[
    ("salesman", include_str!("../../mappings/salesman.toml")),
    ("bitrix24", include_str!("../../mappings/bitrix24.toml")),
    ("livetex", include_str!("../../mappings/livetex.toml")),
    ("uis", include_str!("../../mappings/uis.toml")),
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum UnknownFields {
    Custom,
    Ignore,
}

#[derive(Debug)]
struct FieldRule {
    path: FieldPath,
    values: Option<usize>,
    raw: Option<FieldPath>,
}

/// The record layout every dialect's forwarding client sends.
pub const FORWARD_RECORD: &str = "forward";

/// A compiled value map. Lookups in both directions are hash probes.
#[derive(Debug, Default)]
pub struct ValueMap {
    decode: HashMap<String, String>,
    encode: HashMap<String, String>,
    labels: HashMap<String, String>,
    fallback: Option<String>,
    absent: Option<String>,
    /// `decode` in file order: directories listed in the order the file gives.
    order: Vec<(String, String)>,
}

impl ValueMap {
    /// The canonical value of a wire value (or the fallback).
    pub fn to_canonical(&self, wire: &str) -> Option<&str> {
        self.decode
            .get(wire)
            .or(self.fallback.as_ref())
            .map(String::as_str)
    }

    /// The wire value of a canonical value.
    pub fn to_wire(&self, canonical: &str) -> Option<&str> {
        self.encode.get(canonical).map(String::as_str)
    }

    /// Every canonical value that is written as `wire`: what a filter on a wire
    /// value must match (SalesMan status 3 covers both closed and junk).
    pub fn canonicals_written_as<'a>(
        &'a self,
        wire: &'a str,
    ) -> impl Iterator<Item = &'a str> + 'a {
        self.encode
            .iter()
            .filter(move |(_, written)| written.as_str() == wire)
            .map(|(canonical, _)| canonical.as_str())
    }

    pub fn label<'a>(&'a self, wire: &'a str) -> &'a str {
        self.labels.get(wire).map_or(wire, String::as_str)
    }

    /// (wire, canonical) pairs of `decode`, in file order.
    pub fn entries(&self) -> impl Iterator<Item = (&str, &str)> {
        self.order
            .iter()
            .map(|(wire, canonical)| (wire.as_str(), canonical.as_str()))
    }

    pub fn absent(&self) -> Option<&str> {
        self.absent.as_deref()
    }
}

/// One dialect's compiled mapping.
#[derive(Debug)]
pub struct Mapping {
    pub dialect: String,
    /// Where it came from, for messages.
    pub source: String,
    pub timezone: FixedOffset,
    pub datetime_format: String,
    pub date_format: String,
    unknown: UnknownFields,
    fields: HashMap<String, FieldRule>,
    defaults: Vec<(FieldPath, String)>,
    value_maps: Vec<ValueMap>,
    value_map_names: HashMap<String, usize>,
    records: HashMap<String, Record>,
    /// Sales funnels, in file order.
    pub funnels: Vec<Funnel>,
}

/// A sales funnel: named stages over the canonical ones.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Funnel {
    pub ext_id: String,
    pub name: String,
    pub stages: Vec<FunnelStage>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FunnelStage {
    pub ext_id: String,
    pub name: String,
    pub status: String,
    pub canonical: Vec<crate::lead::Stage>,
}

impl Mapping {
    /// Compiles mapping text; `source` names it in errors.
    pub fn from_toml(source: &str, text: &str) -> Result<Mapping, Vec<MappingError>> {
        compile::compile(source, text)
    }

    pub fn from_file(path: &Path) -> Result<Mapping, Vec<MappingError>> {
        let source = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|error| {
            vec![MappingError {
                file: source.clone(),
                key: "(file)".into(),
                problem: format!("cannot read: {error}"),
            }]
        })?;
        compile::compile(&source, &text)
    }

    /// Our own mapping for `dialect`.
    pub fn built_in(dialect: &str) -> Result<Mapping, Vec<MappingError>> {
        let (_, text) = BUILT_IN
            .iter()
            .find(|(name, _)| *name == dialect)
            .ok_or_else(|| {
                vec![MappingError {
                    file: format!("mappings/{dialect}.toml"),
                    key: "(file)".into(),
                    problem: "no built-in mapping for this dialect".into(),
                }]
            })?;
        compile::compile(&format!("mappings/{dialect}.toml (built in)"), text)
    }

    pub fn value_map(&self, name: &str) -> Option<&ValueMap> {
        self.value_map_names
            .get(name)
            .map(|index| &self.value_maps[*index])
    }

    /// The records and value maps of the given names this mapping lacks, as
    /// (key, problem) pairs naming `dialect` and what needs each.
    pub fn missing_parts(
        &self,
        dialect: &str,
        records: &[(&str, &str)],
        value_maps: &[&str],
    ) -> Vec<(String, String)> {
        let records = records
            .iter()
            .filter(|(name, _)| self.record(name).is_none())
            .map(|(name, needed_for)| {
                (
                    format!("records.{name}"),
                    format!("the {dialect} dialect needs [[records.{name}]] for {needed_for}"),
                )
            });
        let value_maps = value_maps
            .iter()
            .filter(|name| self.value_map(name).is_none())
            .map(|name| {
                (
                    format!("values.{name}"),
                    format!("the {dialect} dialect needs [values.{name}]"),
                )
            });
        records.chain(value_maps).collect()
    }

    pub fn record(&self, name: &str) -> Option<&Record> {
        self.records.get(name)
    }

    /// The fields a forwarding client sends for `lead`, from
    /// `[[records.forward]]`, unset ones left out (none without the record).
    pub fn forward_fields(&self, lead: &Lead) -> Vec<(String, serde_json::Value)> {
        self.record(FORWARD_RECORD)
            .map(|record| record.encode_present(self, lead))
            .unwrap_or_default()
    }

    /// The fields of `[[records.forward]]` that carry a lead's changes
    /// ([`FieldPath::is_forwarded_state`]: stage, assignee, completion,
    /// texts), every one of them, an unset one as `""`, so a cleared value
    /// is cleared at the target too.
    pub fn forward_changes(&self, lead: &Lead) -> Vec<(String, serde_json::Value)> {
        let Some(record) = self.record(FORWARD_RECORD) else {
            return Vec::new();
        };
        let nobody: Vec<crate::lead::Employee> = Vec::new();
        record
            .encode(self, lead, &nobody)
            .into_iter()
            .filter(|(name, _)| {
                record
                    .column_paths(name)
                    .iter()
                    .any(FieldPath::is_forwarded_state)
            })
            .map(|(name, value)| match value {
                serde_json::Value::Null => (name, serde_json::Value::String(String::new())),
                value => (name, value),
            })
            .collect()
    }

    /// The wire name of a canonical path (`text` → `description`), for error
    /// messages that must speak the caller's field names. `custom.x` is `x`.
    pub fn wire_name<'a>(&'a self, canonical: &'a str) -> &'a str {
        if let Some(custom) = canonical.strip_prefix("custom.") {
            return custom;
        }
        self.fields
            .iter()
            .filter(|(_, rule)| rule.path.to_string() == canonical)
            .map(|(wire, _)| wire.as_str())
            .min()
            .unwrap_or(canonical)
    }

    /// The canonical path of a wire field and the value map its values go
    /// through, if the mapping names the field.
    pub fn field(&self, wire_field: &str) -> Option<(&FieldPath, Option<&ValueMap>)> {
        self.fields
            .get(wire_field)
            .map(|rule| (&rule.path, rule.values.map(|index| &self.value_maps[index])))
    }

    /// Every wire field the mapping decodes, with its canonical path.
    pub fn fields(&self) -> impl Iterator<Item = (&str, &FieldPath)> {
        self.fields
            .iter()
            .map(|(wire, rule)| (wire.as_str(), &rule.path))
    }

    /// Whether `wire_field` is one the mapping decodes (as opposed to a custom field).
    pub fn knows_field(&self, wire_field: &str) -> bool {
        self.fields.contains_key(wire_field)
    }

    /// Decodes wire fields into `lead`. `reserved` names the dialect's own
    /// control parameters (credentials, action, paging), which are neither lead
    /// fields nor custom fields. Defaults apply afterwards to what is still unset.
    pub fn decode_into<'a>(
        &self,
        lead: &mut Lead,
        pairs: impl IntoIterator<Item = (&'a str, &'a str)>,
        reserved: &[&str],
        context: &WriteContext,
    ) -> Result<(), DecodeError> {
        for (wire_field, value) in pairs {
            if reserved.contains(&wire_field) {
                continue;
            }
            let field_error = |source| DecodeError::Field {
                wire_field: wire_field.to_owned(),
                source,
            };
            match self.fields.get(wire_field) {
                Some(rule) => {
                    if let Some(raw) = &rule.raw {
                        raw.set_text(lead, value, context).map_err(field_error)?;
                    }
                    match rule.values {
                        Some(index) if !value.trim().is_empty() => {
                            let canonical = self.value_maps[index]
                                .to_canonical(value.trim())
                                .ok_or_else(|| DecodeError::UnknownValue {
                                    wire_field: wire_field.to_owned(),
                                })?;
                            rule.path
                                .set_text(lead, canonical, context)
                                .map_err(field_error)?;
                        }
                        _ => rule
                            .path
                            .set_text(lead, value, context)
                            .map_err(field_error)?,
                    }
                }
                None if self.unknown == UnknownFields::Custom && !value.is_empty() => {
                    FieldPath::Custom(wire_field.to_owned())
                        .set_text(lead, value, context)
                        .map_err(field_error)?;
                }
                None => {}
            }
        }
        for (path, value) in &self.defaults {
            if path.get(lead) == crate::lead::path::FieldValue::Absent {
                path.set_text(lead, value, context)
                    .map_err(|source| DecodeError::Field {
                        wire_field: path.to_string(),
                        source,
                    })?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;
