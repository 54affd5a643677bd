//! The on-disk shape of a mapping file (`mappings/<dialect>.toml`), as serde
//! reads it. Nothing here is used per request: [`super::compile`] turns it
//! into lookup tables at start-up.

use indexmap::IndexMap;
use serde::Deserialize;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MappingFile {
    pub dialect: DialectSection,
    /// Canonical path → canonical value applied when a decoded lead leaves it unset.
    #[serde(default)]
    pub defaults: IndexMap<String, String>,
    /// Wire field name → where it lands in the canonical lead.
    #[serde(default)]
    pub fields: IndexMap<String, FieldSpec>,
    /// Named value maps between wire values and canonical values.
    #[serde(default)]
    pub values: IndexMap<String, ValueMapSpec>,
    /// Named output layouts (a list row, an info record): ordered columns.
    #[serde(default)]
    pub records: IndexMap<String, Vec<ColumnSpec>>,
    /// Sales funnels over the canonical stages (UIS `get.sales_funnel`).
    #[serde(default)]
    pub funnels: Vec<FunnelSpec>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FunnelSpec {
    pub ext_id: String,
    pub name: String,
    pub stages: Vec<FunnelStageSpec>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FunnelStageSpec {
    pub ext_id: String,
    pub name: String,
    /// `in_process`, `success` or `failed`.
    pub status: String,
    /// The canonical stages this funnel stage stands for.
    #[serde(default)]
    pub canonical: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DialectSection {
    pub name: String,
    /// `custom` keeps wire fields the mapping does not name as custom fields;
    /// `ignore` drops them.
    #[serde(default = "default_unknown")]
    pub unknown_fields: String,
    /// Offset the dialect's wall-clock times are written in, e.g. `+03:00`.
    #[serde(default = "default_timezone")]
    pub timezone: String,
    #[serde(default = "default_datetime_format")]
    pub datetime_format: String,
    #[serde(default = "default_date_format")]
    pub date_format: String,
}

fn default_unknown() -> String {
    "custom".into()
}
fn default_timezone() -> String {
    "+00:00".into()
}
fn default_datetime_format() -> String {
    "%Y-%m-%dT%H:%M:%S%:z".into()
}
fn default_date_format() -> String {
    "%Y-%m-%d".into()
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum FieldSpec {
    /// `title = "name"`
    Path(String),
    /// `status = { path = "stage", values = "status" }`
    Full(FieldTable),
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FieldTable {
    pub path: String,
    /// Name of a `[values.*]` table that translates the wire value first.
    pub values: Option<String>,
    /// A second canonical path that receives the untranslated wire value
    /// (a channel name kept as the channel description).
    pub raw: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ValueMapSpec {
    /// Wire value → canonical value.
    #[serde(default)]
    pub decode: IndexMap<String, String>,
    /// Canonical value → wire value, for canonical values `decode` does not
    /// reach or reaches from several wire values.
    #[serde(default)]
    pub encode: IndexMap<String, String>,
    /// Wire value → human-readable name (SalesMan's statusName and the like).
    #[serde(default)]
    pub labels: IndexMap<String, String>,
    /// Canonical value for a wire value `decode` does not list; without it
    /// such a value is an error.
    pub fallback: Option<String>,
    /// Wire value written when the canonical field is unset.
    pub absent: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ColumnSpec {
    pub name: String,
    /// One canonical path, or several: the first that has a value is written.
    pub path: Option<PathOrPaths>,
    pub values: Option<String>,
    /// Write the value map's label instead of the wire value.
    #[serde(default)]
    pub label: bool,
    /// `string` (default: every value as a JSON string, as PHP/MySQL send them),
    /// `native` (numbers and booleans as JSON types) or `date`.
    #[serde(rename = "as")]
    pub as_type: Option<String>,
    /// A constant column (a value the gateway has no data for). A column with
    /// neither `path` nor `const` is always `absent`.
    #[serde(rename = "const")]
    pub constant: Option<toml::Value>,
    /// What to write when the path has no value; JSON null when omitted.
    pub absent: Option<toml::Value>,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum PathOrPaths {
    One(String),
    Many(Vec<String>),
}
