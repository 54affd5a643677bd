//! Finds a key repeated within one JSON object of a request, anywhere in
//! it. serde_json keeps the last of repeated keys, and jsonrpsee refuses a
//! repeated `id` or `method` with an answer that is not UIS's (a bare
//! `null`, or an error without `data.mnemonic`). A repeated key is an
//! ambiguous request, so the envelope screen refuses it first, in UIS's
//! own envelope.

use std::collections::HashSet;
use std::fmt;

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};

/// The first key found twice in one object of `body`, if the body is JSON
/// and has one; `None` also for a body that is not JSON (the screen's
/// parse answers that).
pub fn repeated_key(body: &[u8]) -> Option<String> {
    match serde_json::from_slice::<Checked>(body) {
        Ok(Checked) => None,
        Err(error) => {
            let text = error.to_string();
            let key = text.strip_prefix(REPEATED)?;
            // serde_json appends " at line L column C".
            let key = key.rsplit_once(" at line ").map_or(key, |(key, _)| key);
            Some(key.to_owned())
        }
    }
}

/// The error message that carries a repeated key.
const REPEATED: &str = "repeated key: ";

/// Any JSON value, checked for repeated keys as it is read.
struct Checked;

impl<'de> Deserialize<'de> for Checked {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Checked, D::Error> {
        deserializer.deserialize_any(CheckedVisitor)
    }
}

struct CheckedVisitor;

impl<'de> Visitor<'de> for CheckedVisitor {
    type Value = Checked;

    fn expecting(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
        formatter.write_str("any JSON value")
    }

    fn visit_bool<E>(self, _: bool) -> Result<Checked, E> {
        Ok(Checked)
    }
    fn visit_i64<E>(self, _: i64) -> Result<Checked, E> {
        Ok(Checked)
    }
    fn visit_u64<E>(self, _: u64) -> Result<Checked, E> {
        Ok(Checked)
    }
    fn visit_f64<E>(self, _: f64) -> Result<Checked, E> {
        Ok(Checked)
    }
    fn visit_str<E>(self, _: &str) -> Result<Checked, E> {
        Ok(Checked)
    }
    fn visit_unit<E>(self) -> Result<Checked, E> {
        Ok(Checked)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut items: A) -> Result<Checked, A::Error> {
        while items.next_element::<Checked>()?.is_some() {}
        Ok(Checked)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut entries: A) -> Result<Checked, A::Error> {
        let mut seen = HashSet::new();
        while let Some(key) = entries.next_key::<String>()? {
            if seen.contains(&key) {
                return Err(de::Error::custom(format_args!("{REPEATED}{key}")));
            }
            entries.next_value::<Checked>()?;
            seen.insert(key);
        }
        Ok(Checked)
    }
}

#[cfg(test)]
mod tests {
    use super::repeated_key;

    #[test]
    fn repeated_keys_are_found_at_any_depth() {
        assert_eq!(repeated_key(br#"{"id":1,"id":2}"#).as_deref(), Some("id"));
        assert_eq!(
            repeated_key(br#"{"params":{"filter":[{"a":1,"a":2}]}}"#).as_deref(),
            Some("a")
        );
        assert_eq!(
            repeated_key(br#"{"id":1,"x":{"id":2},"y":[{"id":3}]}"#),
            None
        );
        // Escapes are compared as decoded: "\u0069d" is "id".
        assert_eq!(
            repeated_key(br#"{"id":1,"\u0069d":2}"#).as_deref(),
            Some("id")
        );
        assert_eq!(repeated_key(b"not json"), None);
    }
}
