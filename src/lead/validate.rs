//! Validation of a lead before it is stored. The limits every dialect shares
//! live in [`ValidationRules::default`]; a dialect narrows them (LiveTex's
//! 2000-character text, one of e-mail/phone required) by building its own rules.
//! Errors are typed so each dialect can speak them in its own wire format.

use thiserror::Error;

use super::Lead;

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum LeadError {
    #[error("field {field} is longer than {max} characters")]
    TooLong { field: String, max: usize },
    #[error("one of e-mail or phone is required")]
    ContactRequired,
    #[error("field {field} is required")]
    Required { field: String },
    #[error("field {field} must be {expected}")]
    InvalidValue {
        field: String,
        expected: &'static str,
    },
    #[error("a lead needs at least one of: {fields}")]
    Empty { fields: String },
    /// Another employee holds the lead's lock.
    #[error("the lead is locked by another employee")]
    LockedByOther,
    /// The lead was processed already; completing it again changes nothing.
    #[error("the lead is already completed")]
    AlreadyCompleted,
    /// The employee may not change this lead (checked inside the store's
    /// transaction, against the lead as stored).
    #[error("the lead is outside the employee's rights")]
    NotPermitted,
}

impl LeadError {
    /// The canonical field the error is about, when there is one.
    pub fn field(&self) -> Option<&str> {
        match self {
            LeadError::TooLong { field, .. }
            | LeadError::Required { field }
            | LeadError::InvalidValue { field, .. } => Some(field),
            LeadError::ContactRequired
            | LeadError::Empty { .. }
            | LeadError::LockedByOther
            | LeadError::AlreadyCompleted
            | LeadError::NotPermitted => None,
        }
    }
}

#[derive(Clone, Debug)]
pub struct ValidationRules {
    /// Longest `text` / `answer_text`, in characters.
    pub max_text_chars: usize,
    /// Longest value of any other text field or contact point, in characters.
    pub max_field_chars: usize,
    /// Reject a lead with neither e-mail nor phone.
    pub require_contact: bool,
}

impl Default for ValidationRules {
    /// Generous enough for any real form, tight enough that a 100 KB field is
    /// refused instead of stored: 65 535 characters (a MySQL TEXT, where the
    /// legacy systems keep the message) and 4 096 for everything else.
    fn default() -> Self {
        ValidationRules {
            max_text_chars: 65_535,
            max_field_chars: 4_096,
            require_contact: false,
        }
    }
}

/// LiveTex refuses a lead text over 2000 characters (seed 000/001).
pub const LIVETEX_MAX_TEXT_CHARS: usize = 2000;

impl ValidationRules {
    /// LiveTex's rules: text up to 2000 characters, and a lead must carry an
    /// e-mail or a phone to be called back.
    pub fn livetex() -> ValidationRules {
        ValidationRules {
            max_text_chars: LIVETEX_MAX_TEXT_CHARS,
            require_contact: true,
            ..ValidationRules::default()
        }
    }

    pub fn check(&self, lead: &Lead) -> Result<(), LeadError> {
        let too_long = |field: &str, value: &str, max: usize| {
            // Count characters only when the byte length could exceed the limit.
            if value.len() > max && value.chars().count() > max {
                Err(LeadError::TooLong {
                    field: field.to_owned(),
                    max,
                })
            } else {
                Ok(())
            }
        };
        for (field, value) in [("text", &lead.text), ("answer_text", &lead.answer_text)] {
            if let Some(value) = value {
                too_long(field, value, self.max_text_chars)?;
            }
        }
        let short_fields = [
            ("title", &lead.title),
            ("name", &lead.name),
            ("second_name", &lead.second_name),
            ("last_name", &lead.last_name),
            ("honorific", &lead.honorific),
            ("post", &lead.post),
            ("company", &lead.company),
            ("channel_description", &lead.channel_description),
            ("utm.source", &lead.utm.source),
            ("utm.medium", &lead.utm.medium),
            ("utm.campaign", &lead.utm.campaign),
            ("utm.term", &lead.utm.term),
            ("utm.content", &lead.utm.content),
            ("utm.referrer", &lead.utm.referrer),
            ("visit.ip", &lead.visit.ip),
            ("visit.country", &lead.visit.country),
            ("visit.city", &lead.visit.city),
            ("visit.ext_referer", &lead.visit.ext_referer),
            ("visit.int_referer", &lead.visit.int_referer),
            ("visit.entry_page", &lead.visit.entry_page),
            ("visit.search_engine", &lead.visit.search_engine),
            ("visit.search_query", &lead.visit.search_query),
            ("visit.visitor_id", &lead.visit.visitor_id),
            ("site.url", &lead.site.url),
            ("conversation_id", &lead.conversation_id),
            ("partner", &lead.partner),
            ("currency", &lead.currency),
            ("address.line1", &lead.address.line1),
            ("address.line2", &lead.address.line2),
            ("address.city", &lead.address.city),
            ("address.postal_code", &lead.address.postal_code),
            ("address.region", &lead.address.region),
            ("address.province", &lead.address.province),
            ("address.country", &lead.address.country),
            ("address.country_code", &lead.address.country_code),
        ];
        for (field, value) in short_fields {
            if let Some(value) = value {
                too_long(field, value, self.max_field_chars)?;
            }
        }
        let contact_lists = [
            ("emails", &lead.emails),
            ("phones", &lead.phones),
            ("webs", &lead.webs),
            ("messengers", &lead.messengers),
        ];
        for (field, points) in contact_lists {
            for point in points {
                too_long(field, &point.value, self.max_field_chars)?;
            }
        }
        for (name, value) in &lead.custom {
            let field = format!("custom.{name}");
            too_long(&field, name, self.max_field_chars)?;
            if let serde_json::Value::String(text) = value {
                too_long(&field, text, self.max_text_chars)?;
            } else if value.to_string().len() > self.max_text_chars {
                return Err(LeadError::TooLong {
                    field,
                    max: self.max_text_chars,
                });
            }
        }
        if self.require_contact && lead.emails.is_empty() && lead.phones.is_empty() {
            return Err(LeadError::ContactRequired);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lead::ContactPoint;

    #[test]
    fn hundred_kilobyte_field_is_refused() {
        let lead = Lead {
            company: Some("x".repeat(100 * 1024)),
            ..Lead::default()
        };
        let error = ValidationRules::default().check(&lead).unwrap_err();
        assert_eq!(error.field(), Some("company"));
    }

    #[test]
    fn limits_count_characters_not_bytes() {
        let rules = ValidationRules::livetex();
        let mut lead = Lead {
            text: Some("я".repeat(2000)), // 4000 bytes, 2000 characters
            phones: vec![crate::lead::ContactPoint::phone("+79001112233", "7")],
            ..Lead::default()
        };
        assert!(rules.check(&lead).is_ok());
        lead.text = Some("я".repeat(2001));
        assert!(matches!(
            rules.check(&lead),
            Err(LeadError::TooLong { max: 2000, .. })
        ));
    }

    #[test]
    fn contact_requirement() {
        let rules = ValidationRules {
            require_contact: true,
            ..ValidationRules::default()
        };
        let mut lead = Lead::default();
        assert_eq!(rules.check(&lead), Err(LeadError::ContactRequired));
        lead.phones.push(ContactPoint::phone("+79001234567", "7"));
        assert!(rules.check(&lead).is_ok());
    }
}
