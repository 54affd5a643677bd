//! The log filter the `leadgate` command installs, from `LEADGATE_LOG`,
//! and the format, from `LEADGATE_LOG_FORMAT` (`text`, the default, or
//! `json`: one object per line).
//!
//! leadgate's own log lines carry route templates, parameter names, codes,
//! ids and timings, never a value a caller sent, at every level. The
//! libraries beneath it make no such promise at debug and trace (a JSON-RPC
//! server may print a request, an HTTP client the URL of a Bitrix24 webhook
//! with its code, a database driver the parameters of a statement), so
//! they stay at `info` unless the directives name them.

use tracing_subscriber::EnvFilter;

/// How log lines are written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Text,
    Json,
}

impl Format {
    /// `json` (any case) is JSON lines; anything else, or nothing, is text.
    pub fn from_env(value: Option<&str>) -> Format {
        match value.map(str::trim) {
            Some(value) if value.eq_ignore_ascii_case("json") => Format::Json,
            _ => Format::Text,
        }
    }
}

/// Libraries held at `info` unless named in the directives.
const QUIET_LIBRARIES: &[&str] = &[
    "jsonrpsee",
    "jsonrpsee_server",
    "jsonrpsee_core",
    "hyper",
    "hyper_util",
    "h2",
    "reqwest",
    "rustls",
    "tokio_rustls",
    "async_nats",
    "axum",
    "tower",
    "rusqlite",
    "mio",
    "tokio_postgres",
    "deadpool",
    "deadpool_postgres",
];

/// Of those, libraries held at `warn`: tokio-postgres logs the server's
/// NOTICEs at `info` ("schema … already exists, skipping" on every start).
const WARN_LIBRARIES: &[&str] = &["tokio_postgres"];

/// A filter from `directives` (as `RUST_LOG` takes them; `info` when empty
/// or invalid) that keeps [`QUIET_LIBRARIES`] at `info` unless named.
pub fn filter(directives: Option<&str>) -> EnvFilter {
    let directives = directives.unwrap_or("info");
    let mut filter = EnvFilter::try_new(directives).unwrap_or_else(|_| EnvFilter::new("info"));
    for library in QUIET_LIBRARIES {
        let named = directives
            .split(',')
            .any(|directive| directive.trim().starts_with(library));
        if named {
            continue;
        }
        let level = if WARN_LIBRARIES.contains(library) {
            "warn"
        } else {
            "info"
        };
        if let Ok(directive) = format!("{library}={level}").parse() {
            filter = filter.add_directive(directive);
        }
    }
    filter
}

#[cfg(test)]
mod tests {
    use super::filter;

    #[test]
    fn libraries_stay_at_info_unless_named() {
        let text = filter(Some("debug")).to_string();
        assert!(text.contains("jsonrpsee=info"), "{text}");
        assert!(text.contains("debug"), "{text}");
        let named = filter(Some("debug,reqwest=trace")).to_string();
        assert!(named.contains("reqwest=trace"), "{named}");
        assert!(!named.contains("reqwest=info"), "{named}");
    }
}
