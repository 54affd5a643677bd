//! Contact points (phones, e-mails, web addresses, messengers), kept both as the
//! client sent them and normalised, so that matching (assignment by earlier
//! contact, duplicate search) compares like with like.

use serde::{Deserialize, Serialize};

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ContactKind {
    Work,
    Mobile,
    Home,
    Fax,
    Pager,
    Mailing,
    #[default]
    Other,
}

impl ContactKind {
    pub const NAMES: &'static [&'static str] =
        &["work", "mobile", "home", "fax", "pager", "mailing", "other"];

    pub fn parse(text: &str) -> Option<Self> {
        Some(match text {
            "work" => ContactKind::Work,
            "mobile" => ContactKind::Mobile,
            "home" => ContactKind::Home,
            "fax" => ContactKind::Fax,
            "pager" => ContactKind::Pager,
            "mailing" => ContactKind::Mailing,
            "other" => ContactKind::Other,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            ContactKind::Work => "work",
            ContactKind::Mobile => "mobile",
            ContactKind::Home => "home",
            ContactKind::Fax => "fax",
            ContactKind::Pager => "pager",
            ContactKind::Mailing => "mailing",
            ContactKind::Other => "other",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContactPoint {
    /// Exactly what the client sent (trimmed): what every dialect echoes back.
    pub value: String,
    /// The comparable form: E.164 for phones where possible, lower case for e-mail.
    pub normalized: String,
    #[serde(default)]
    pub kind: ContactKind,
    /// A sub-type that has no canonical kind (a messenger network such as "telegram").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
}

impl ContactPoint {
    pub fn phone(raw: &str, default_country_code: &str) -> Self {
        let value = raw.trim().to_owned();
        let normalized = normalize_phone(&value, default_country_code);
        ContactPoint {
            value,
            normalized,
            kind: ContactKind::Work,
            label: None,
        }
    }

    pub fn email(raw: &str) -> Self {
        let value = raw.trim().to_owned();
        let normalized = value.to_lowercase();
        ContactPoint {
            value,
            normalized,
            kind: ContactKind::Work,
            label: None,
        }
    }

    /// Web addresses and messenger handles: no normalisation beyond trimming.
    pub fn plain(raw: &str) -> Self {
        let value = raw.trim().to_owned();
        ContactPoint {
            normalized: value.clone(),
            value,
            kind: ContactKind::Work,
            label: None,
        }
    }
}

/// E.164 where the number allows it, otherwise the digits (with a leading `+`
/// if one was sent) so that formatting differences never defeat matching.
///
/// Russian numbers are the common case of all four dialects: a national
/// `8XXXXXXXXXX` and a bare ten-digit `9XXXXXXXXX` both become `+7XXXXXXXXXX`.
/// `default_country_code` (digits, "7" by default) is applied to bare
/// ten-digit national numbers.
pub fn normalize_phone(raw: &str, default_country_code: &str) -> String {
    let trimmed = raw.trim();
    // An extension ("доб. 123", "ext 5", ",123") is not part of the number.
    let number_part = trimmed
        .split(|c: char| c == ',' || c == ';' || c.is_alphabetic())
        .next()
        .unwrap_or("");
    let has_plus = number_part.trim_start().starts_with('+');
    let digits: String = number_part.chars().filter(char::is_ascii_digit).collect();
    if digits.is_empty() {
        return trimmed.to_lowercase();
    }
    if has_plus {
        return format!("+{digits}");
    }
    if let Some(international) = digits.strip_prefix("00") {
        if international.len() >= 8 {
            return format!("+{international}");
        }
    }
    if default_country_code == "7" && digits.len() == 11 && digits.starts_with('8') {
        return format!("+7{}", &digits[1..]);
    }
    if digits.len() == 11 && digits.starts_with(default_country_code) {
        return format!("+{digits}");
    }
    if digits.len() == 10 && !default_country_code.is_empty() {
        return format!("+{default_country_code}{digits}");
    }
    if (11..=15).contains(&digits.len()) {
        return format!("+{digits}");
    }
    digits
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn russian_numbers_become_e164() {
        for raw in [
            "+7 (900) 123-45-67",
            "8 900 123 45 67",
            "79001234567",
            "9001234567",
            "+79001234567",
            "007 900 123 45 67",
        ] {
            assert_eq!(normalize_phone(raw, "7"), "+79001234567", "{raw}");
        }
    }

    #[test]
    fn foreign_and_odd_numbers() {
        assert_eq!(normalize_phone("+44 20 7946 0958", "7"), "+442079460958");
        assert_eq!(
            normalize_phone("+7 900 123-45-67 доб. 12", "7"),
            "+79001234567"
        );
        assert_eq!(normalize_phone("123-45", "7"), "12345");
        assert_eq!(normalize_phone("нет", "7"), "нет");
    }

    #[test]
    fn emails_compare_case_insensitively() {
        let point = ContactPoint::email("  Anna@Mail.RU ");
        assert_eq!(point.value, "Anna@Mail.RU");
        assert_eq!(point.normalized, "anna@mail.ru");
    }
}
