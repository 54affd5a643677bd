//! Closed vocabularies of the canonical model. Each has one canonical spelling
//! (snake_case) used in mapping files, config and the stored document.

use serde::{Deserialize, Serialize};

/// Declares a string-backed enum with its canonical names, `as_str`, `parse`
/// and the list of all names (for error messages in `leadgate check`).
macro_rules! canonical_enum {
    ($(#[$meta:meta])* $name:ident { $($variant:ident => $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
        #[serde(rename_all = "snake_case")]
        pub enum $name { $($variant),+ }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];
            pub const NAMES: &'static [&'static str] = &[$($text),+];

            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }

            pub fn parse(text: &str) -> Option<Self> {
                match text { $($text => Some($name::$variant),)+ _ => None }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

canonical_enum! {
    /// Where a lead is in its life. Every dialect's status vocabulary maps onto this.
    Stage {
        New => "new",
        InProgress => "in_progress",
        Processed => "processed",
        Converted => "converted",
        Junk => "junk",
        Closed => "closed",
    }
}

// Written by hand because the variants come from a macro.
#[allow(clippy::derivable_impls)]
impl Default for Stage {
    fn default() -> Self {
        Stage::New
    }
}

impl Stage {
    /// Still waiting for someone to deal with it.
    pub fn is_open(self) -> bool {
        matches!(self, Stage::New | Stage::InProgress)
    }
}

canonical_enum! {
    /// Why a lead was closed without a sale.
    Outcome {
        Spam => "spam",
        Duplicate => "duplicate",
        NotTarget => "not_target",
        Other => "other",
    }
}

canonical_enum! {
    /// How the visitor reached out.
    LeadKind {
        Form => "form",
        Callback => "callback",
        Chat => "chat",
    }
}

canonical_enum! {
    /// The marketing channel a lead arrived through (Bitrix24 SOURCE_ID's vocabulary,
    /// which is the richest of the four).
    Channel {
        Call => "call",
        Email => "email",
        Web => "web",
        Advertising => "advertising",
        Partner => "partner",
        Recommendation => "recommendation",
        TradeShow => "trade_show",
        Webform => "webform",
        Callback => "callback",
        Generator => "generator",
        Store => "store",
        Other => "other",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for stage in Stage::ALL {
            assert_eq!(Stage::parse(stage.as_str()), Some(*stage));
        }
        for channel in Channel::ALL {
            assert_eq!(Channel::parse(channel.as_str()), Some(*channel));
        }
        assert_eq!(Stage::parse("NEW"), None);
    }

    #[test]
    fn serde_uses_canonical_names() {
        assert_eq!(
            serde_json::to_string(&Stage::InProgress).unwrap(),
            "\"in_progress\""
        );
        assert_eq!(
            serde_json::to_string(&Channel::TradeShow).unwrap(),
            "\"trade_show\""
        );
    }
}
