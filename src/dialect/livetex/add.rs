//! `Leads.add` (and `POST /v2/leads`): `name`, `site_id` and
//! `conversation_id` required (the last one unless the deployment relaxes
//! it), one of `email`/`phone`, `text` and `answer_text` at most 2000
//! characters, other strings at most 255. The lead gets `type=chat` and is
//! created by, and assigned to, the calling employee, as in LiveTex.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde_json::Value;

use super::error::LivetexError;
use super::{Livetex, Output};
use crate::core::NewLead;
use crate::http::{scalar_text, Args};
use crate::lead::path::WriteContext;
use crate::lead::{Employee, Lead, LeadKind};
use crate::mapping::Mapping;

/// Decodes `Leads.add` through the mapping. It holds no store, so `leadgate
/// translate` decodes with it alone.
pub struct Decoder {
    pub(super) mapping: Arc<Mapping>,
    pub(super) write_context: WriteContext,
    /// LiveTex refuses a lead without `conversation_id`; a deployment may not.
    pub(super) require_conversation: bool,
}

impl Decoder {
    /// The lead a `Leads.add` call describes for `caller`, created `now`,
    /// not yet stored.
    pub fn decode_add(
        &self,
        args: &Args,
        caller: &Employee,
        now: DateTime<Utc>,
    ) -> Result<Lead, LivetexError> {
        let mut required = vec!["name", "site_id"];
        if self.require_conversation {
            required.push("conversation_id");
        }
        let missing: Vec<(String, &'static str)> = required
            .iter()
            .filter(|name| {
                args.get(name)
                    .and_then(scalar_text)
                    .is_none_or(|value| value.trim().is_empty())
            })
            .map(|name| ((*name).to_owned(), "required"))
            .collect();
        if !missing.is_empty() {
            return Err(LivetexError::Invalid(missing));
        }
        // LiveTex's own types: `email` an address, `phone` digits, letters
        // and `+ - ( ) .` (the API's `phone` type).
        let text = |name: &str| {
            args.get(name)
                .and_then(scalar_text)
                .filter(|text| !text.trim().is_empty())
        };
        if let Some(email) = text("email") {
            let email = email.trim();
            let shaped = email.split_once('@').is_some_and(|(user, domain)| {
                !user.is_empty() && domain.contains('.') && !domain.starts_with('.')
            });
            if !shaped || email.contains(char::is_whitespace) {
                return Err(LivetexError::invalid("email"));
            }
        }
        if let Some(phone) = text("phone") {
            let allowed =
                |character: char| character.is_alphanumeric() || " +-().".contains(character);
            if !phone.chars().all(allowed)
                || !phone.chars().any(|character| character.is_ascii_digit())
            {
                return Err(LivetexError::invalid("phone"));
            }
        }
        let mut pairs: Vec<(String, String)> = Vec::new();
        for (name, _) in self.mapping.fields() {
            if let Some(value) = args.get(name).and_then(scalar_text) {
                pairs.push((name.to_owned(), value));
            }
        }
        let mut lead = Lead::new(now);
        self.mapping
            .decode_into(
                &mut lead,
                pairs
                    .iter()
                    .map(|(name, value)| (name.as_str(), value.as_str())),
                &["type"],
                &self.write_context,
            )
            .map_err(|error| LivetexError::invalid(error.wire_field()))?;
        lead.kind = Some(LeadKind::Chat);
        lead.assigned_to = Some(caller.id);
        // Added as already processed: completed by the caller, now.
        if !lead.stage.is_open() {
            lead.completed_at = Some(lead.created_at);
            lead.completed_by = Some(caller.id);
        }
        Ok(lead)
    }
}

pub async fn run(
    livetex: &Livetex,
    args: &Args,
    caller: &Employee,
) -> Result<Output, LivetexError> {
    let lead = livetex
        .decoder
        .decode_add(args, caller, livetex.core.now())?;
    let new = NewLead {
        lead,
        requested_assignee: None,
        created_by: Some(caller),
        default_assignee: None,
        keep_stage: true,
        received_via: "livetex",
    };
    let (inserted, _) = livetex
        .core
        .create_lead(new, &livetex.rules)
        .await
        .map_err(|error| match error {
            crate::core::CoreError::Invalid(error) => {
                LivetexError::from_lead(&error, |field| livetex.mapping.wire_name(field).to_owned())
            }
            other => other.into(),
        })?;
    Ok(Output::of(Value::Object(
        livetex.encode_lead(&inserted.lead, caller),
    )))
}
