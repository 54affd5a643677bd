//! The trigram index behind substring filters (Bitrix24 `%TITLE`, `=%`
//! patterns, LiveTex `text`): an FTS5 table with SQLite's trigram tokenizer
//! over the free-text fields people search by part of a word. Without it a
//! substring filter parsed the JSON document of every lead (about a second
//! on a million leads); with it the index names the few candidates.
//!
//! The index only narrows: a filter still tests each candidate's document
//! with its own LIKE, so what matches is exactly what matched without the
//! index (the trigram tokenizer folds case further than LIKE does, which
//! can only add candidates). The table is contentless (the documents
//! already hold the text) with deletes allowed, and is kept in the lead's
//! own transaction: an insert writes the row, an update rewrites it, a
//! deletion removes it.

use rusqlite::types::Value;
use rusqlite::Transaction;

use crate::lead::path::{FieldPath, FieldValue};
use crate::lead::{Lead, LeadId};
use crate::store::StoreError;

/// The searched fields, in the table's column order: canonical path and
/// column name. Adding one is a migration that rebuilds the table.
pub(super) const COLUMNS: &[(&str, &str)] = &[
    ("title", "title"),
    ("name", "name"),
    ("second_name", "second_name"),
    ("last_name", "last_name"),
    ("company", "company"),
    ("text", "text"),
    ("answer_text", "answer_text"),
    ("visit.search_query", "search_query"),
];

/// The trigram tokenizer finds nothing for fewer characters than this; a
/// shorter needle is answered by reading the documents.
const SHORTEST_NEEDLE: usize = 3;

/// The index column holding `field`, when it is one of the searched fields.
pub(super) fn column_of(field: &FieldPath) -> Option<&'static str> {
    let path = field.to_string();
    COLUMNS
        .iter()
        .find(|(searched, _)| *searched == path)
        .map(|(_, column)| *column)
}

/// An FTS5 query naming every row whose `column` contains `needle` (as
/// the trigram tokenizer folds case), or `None` when the needle is too
/// short for trigrams to find it.
pub(super) fn contains_query(column: &str, needle: &str) -> Option<String> {
    (needle.chars().count() >= SHORTEST_NEEDLE)
        .then(|| format!("{column} : \"{}\"", needle.replace('"', "\"\"")))
}

/// The FTS5 query for a LIKE `pattern` (`%` any run, `_` one character):
/// its longest literal run, which every match contains.
pub(super) fn like_query(column: &str, pattern: &str) -> Option<String> {
    let longest = pattern
        .split(['%', '_'])
        .max_by_key(|run| run.chars().count())?;
    contains_query(column, longest)
}

fn texts(lead: &Lead) -> Vec<Value> {
    COLUMNS
        .iter()
        .map(
            |(path, _)| match FieldPath::parse(path).map(|field| field.get(lead)) {
                Some(FieldValue::Text(text)) if !text.is_empty() => Value::Text(text.to_owned()),
                _ => Value::Null,
            },
        )
        .collect()
}

/// Indexes a newly written lead. A lead with none of the fields gets no row.
pub(super) fn insert(tx: &Transaction<'_>, id: LeadId, lead: &Lead) -> Result<(), StoreError> {
    let values = texts(lead);
    if values.iter().all(|value| *value == Value::Null) {
        return Ok(());
    }
    let mut bound = Vec::with_capacity(values.len() + 1);
    bound.push(Value::Integer(id));
    bound.extend(values);
    tx.prepare_cached(&insert_statement())?
        .execute(rusqlite::params_from_iter(bound.iter()))?;
    Ok(())
}

fn insert_statement() -> String {
    let names: Vec<&str> = COLUMNS.iter().map(|(_, column)| *column).collect();
    let placeholders = vec!["?"; COLUMNS.len() + 1].join(", ");
    format!(
        "INSERT INTO lead_text (rowid, {}) VALUES ({placeholders})",
        names.join(", ")
    )
}

/// Forgets a lead's row (before rewriting it, or when the lead goes).
pub(super) fn remove(tx: &Transaction<'_>, id: LeadId) -> Result<(), StoreError> {
    tx.prepare_cached("DELETE FROM lead_text WHERE rowid = ?1")?
        .execute([id])?;
    Ok(())
}

/// Re-indexes a lead whose fields may have changed.
pub(super) fn replace(tx: &Transaction<'_>, id: LeadId, lead: &Lead) -> Result<(), StoreError> {
    remove(tx, id)?;
    insert(tx, id, lead)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_searched_field_is_a_text_field() {
        for (path, _) in COLUMNS {
            assert!(
                matches!(FieldPath::parse(path), Some(FieldPath::Text(_))),
                "{path}"
            );
        }
    }

    #[test]
    fn needles_become_quoted_phrases() {
        assert_eq!(
            contains_query("title", "ab\"c").as_deref(),
            Some("title : \"ab\"\"c\"")
        );
        assert_eq!(contains_query("title", "ab"), None);
        assert_eq!(
            contains_query("title", "абв").as_deref(),
            Some("title : \"абв\"")
        );
    }

    #[test]
    fn a_pattern_is_found_by_its_longest_literal_run() {
        assert_eq!(
            like_query("name", "%an_na%kare%").as_deref(),
            Some("name : \"kare\"")
        );
        assert_eq!(like_query("name", "a%b_c"), None);
    }
}
