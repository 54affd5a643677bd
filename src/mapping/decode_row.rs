//! Reading a lead back from a row a dialect wrote through one of its record
//! layouts (a SalesMan `list` row, a LiveTex lead object, a UIS report
//! row): the inverse of `encode.rs`, for importing another system's leads.
//! Lenient by design: a column that does not read back (a label, a
//! composed or derived value, a value the maps do not know) is left out
//! rather than refusing the whole lead, since an import must not lose a
//! lead over one odd field.

use chrono::{DateTime, NaiveDate, NaiveDateTime, TimeZone, Utc};
use serde_json::{Map, Value};

use super::encode::{ColumnSource, OutputType};
use super::Mapping;
use crate::lead::path::{EmployeeAttr, FieldPath, WriteContext};
use crate::lead::Lead;

impl Mapping {
    /// Writes into `lead` what the columns of record `record` in `row`
    /// say. Returns how many columns were read.
    pub fn decode_row(
        &self,
        record: &str,
        row: &Map<String, Value>,
        lead: &mut Lead,
        context: &WriteContext,
    ) -> usize {
        let Some(record) = self.record(record) else {
            return 0;
        };
        let mut read = 0;
        for column in &record.columns {
            let ColumnSource::Paths {
                paths,
                values,
                label,
            } = &column.source
            else {
                continue;
            };
            let (Some(path), false) = (paths.first(), *label) else {
                continue;
            };
            let Some(text) = row.get(&column.name).and_then(scalar) else {
                continue;
            };
            if text.is_empty() || Value::String(text.clone()) == column.absent {
                continue;
            }
            let written = match (path, values) {
                (FieldPath::CreatedAt, _) => self.time(&text, column.output).map(|time| {
                    lead.created_at = time;
                }),
                (FieldPath::CompletedAt, _) => self.time(&text, column.output).map(|time| {
                    lead.completed_at = Some(time);
                }),
                (FieldPath::Employee(_, EmployeeAttr::Login | EmployeeAttr::Name), _) => None,
                (path, _) if !path.is_writable() => None,
                (FieldPath::OriginSystem | FieldPath::OriginExternalId, _) => None,
                (path, Some(index)) => self.value_maps[*index]
                    .to_canonical(&text)
                    .and_then(|canonical| path.set_text(lead, canonical, context).ok()),
                (path, None) => path.set_text(lead, &text, context).ok(),
            };
            if written.is_some() {
                read += 1;
            }
        }
        read
    }

    /// A time as the mapping writes it (its format, on its wall clock), or
    /// any form `parse_time` reads.
    fn time(&self, text: &str, output: OutputType) -> Option<DateTime<Utc>> {
        let local = |naive: NaiveDateTime| {
            self.timezone
                .from_local_datetime(&naive)
                .single()
                .map(|time| time.with_timezone(&Utc))
        };
        if output == OutputType::Date {
            if let Ok(date) = NaiveDate::parse_from_str(text, &self.date_format) {
                return local(date.and_time(chrono::NaiveTime::MIN));
            }
        }
        NaiveDateTime::parse_from_str(text, &self.datetime_format)
            .ok()
            .and_then(local)
            .or_else(|| {
                DateTime::parse_from_rfc3339(text)
                    .ok()
                    .map(|time| time.with_timezone(&Utc))
            })
            .map(crate::lead::truncate_to_micros)
    }
}

fn scalar(value: &Value) -> Option<String> {
    match value {
        Value::String(text) => Some(text.trim().to_owned()),
        Value::Number(number) => Some(number.to_string()),
        Value::Bool(flag) => Some(if *flag { "Y" } else { "N" }.to_owned()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;
    use crate::lead::{ContactPoint, Stage};

    /// Each dialect's list layout reads back what it wrote of a lead.
    #[test]
    fn rows_read_back_what_the_layouts_write() {
        let created = Utc.with_ymd_and_hms(2025, 3, 1, 9, 30, 0).unwrap();
        let mut lead = Lead::new(created);
        lead.id = Some(7);
        lead.name = Some("Анна".into());
        lead.phones
            .push(ContactPoint::phone("8 900 111-22-33", "7"));
        lead.text = Some("Перезвоните".into());
        lead.stage = Stage::Processed;
        lead.assigned_to = Some(2);
        lead.completed_at = Some(created + chrono::Duration::hours(2));
        let nobody: Vec<crate::lead::Employee> = Vec::new();
        for (dialect, record) in [
            ("salesman", "list"),
            ("livetex", "lead"),
            ("uis", "report"),
            ("bitrix24", "lead"),
        ] {
            let mapping = Mapping::built_in(dialect).unwrap();
            let row = mapping
                .record(record)
                .unwrap()
                .encode(&mapping, &lead, &nobody);
            let mut read = Lead::new(Utc::now());
            assert!(mapping.decode_row(record, &row, &mut read, &WriteContext::default()) > 3);
            assert_eq!(read.stage, Stage::Processed, "{dialect}");
            assert_eq!(read.created_at, created, "{dialect}");
            // Bitrix24's multifields are not in its layout: its codec writes them.
            if dialect != "bitrix24" {
                assert_eq!(read.phones[0].normalized, "+79001112233", "{dialect}");
            }
            assert_eq!(read.text.as_deref(), Some("Перезвоните"), "{dialect}");
            assert_eq!(read.id, None, "{dialect}: ids are the gateway's");
        }
    }

    #[test]
    fn odd_values_are_left_out_not_refused() {
        let mapping = Mapping::built_in("salesman").unwrap();
        let row: Map<String, Value> = serde_json::from_str(
            r#"{"id": "1", "datum": "yesterday", "status": "9", "person": "Анна", "user": "0"}"#,
        )
        .unwrap();
        let mut lead = Lead::new(Utc::now());
        let before = lead.created_at;
        assert_eq!(
            mapping.decode_row("list", &row, &mut lead, &WriteContext::default()),
            1
        );
        assert_eq!(lead.name.as_deref(), Some("Анна"));
        assert_eq!(lead.created_at, before);
        assert_eq!(lead.assigned_to, None);
    }
}
