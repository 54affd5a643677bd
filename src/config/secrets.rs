//! Secret settings given by reference: `env:NAME` reads the environment
//! variable, `file:/path` the file (its trailing newline dropped), so a
//! config can live in git and its secrets in the environment or in
//! mounted Kubernetes Secrets. A literal is taken as written.
//!
//! Which settings are secrets goes by key name, in every section: api
//! keys, passwords, webhook codes, tokens, signing secrets, and URLs
//! (a Bitrix24 webhook URL carries its code, a PostgreSQL URL its
//! password). The file paths of `[server.tls]` are paths, not secrets.

use serde_json::Value;

/// Keys whose string values may be references.
const SECRET_KEYS: &[&str] = &[
    "apikey",
    "password",
    "code",
    "token",
    "token_secret",
    "admin_token",
    "events_token",
    "key",
    "secret",
    "url",
];

/// Sections whose keys are never references (file paths).
const NOT_SECRETS: &[&str] = &["server.tls"];

const FROM_ENV: &str = "env:";
const FROM_FILE: &str = "file:";

/// Replaces every reference in `settings` by what it names; a reference
/// that cannot be read is left as it was and reported as (key, reason).
/// Reasons name the variable or file, never a value.
pub fn resolve(settings: &mut Value, unresolved: &mut Vec<(String, String)>) {
    walk(settings, "", unresolved);
}

fn walk(value: &mut Value, at: &str, unresolved: &mut Vec<(String, String)>) {
    match value {
        Value::Object(table) => {
            if NOT_SECRETS.contains(&at) {
                return;
            }
            for (key, value) in table.iter_mut() {
                let path = if at.is_empty() {
                    key.clone()
                } else {
                    format!("{at}.{key}")
                };
                if let Value::String(text) = value {
                    if SECRET_KEYS.contains(&key.as_str()) {
                        match read(text) {
                            Ok(Some(secret)) => *text = secret,
                            Ok(None) => {}
                            Err(reason) => unresolved.push((path, reason)),
                        }
                    }
                    continue;
                }
                walk(value, &path, unresolved);
            }
        }
        Value::Array(items) => {
            for (index, item) in items.iter_mut().enumerate() {
                walk(item, &format!("{at}[{index}]"), unresolved);
            }
        }
        _ => {}
    }
}

/// One secret given outside a file (a command-line option): the value an
/// `env:`/`file:` reference names, or the text itself.
pub fn resolve_one(text: &str) -> Result<String, String> {
    Ok(read(text)?.unwrap_or_else(|| text.to_owned()))
}

/// What a reference names; `None` for a literal.
fn read(text: &str) -> Result<Option<String>, String> {
    if let Some(name) = text.strip_prefix(FROM_ENV) {
        return match std::env::var(name) {
            Ok(secret) if !secret.is_empty() => Ok(Some(secret)),
            Ok(_) => Err(format!("environment variable {name} is empty")),
            Err(_) => Err(format!("environment variable {name} is not set")),
        };
    }
    if let Some(path) = text.strip_prefix(FROM_FILE) {
        return match std::fs::read_to_string(path) {
            Ok(secret) => {
                let secret = secret
                    .strip_suffix('\n')
                    .map(|line| line.strip_suffix('\r').unwrap_or(line))
                    .unwrap_or(&secret);
                if secret.is_empty() {
                    Err(format!("file {path} is empty"))
                } else {
                    Ok(Some(secret.to_owned()))
                }
            }
            Err(error) => Err(format!("file {path} cannot be read: {error}")),
        };
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::resolve;

    #[test]
    fn references_are_read_from_the_environment_and_files() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("code");
        std::fs::write(&file, "s3cr3t-code\n").unwrap();
        std::env::set_var("LEADGATE_TEST_SECRET_APIKEY", "from-env");
        let mut settings = json!({
            "salesman": {"credentials": [{"apikey": "env:LEADGATE_TEST_SECRET_APIKEY", "login": "env:NOT_A_SECRET"}]},
            "bitrix24": {"webhooks": [{"code": format!("file:{}", file.display())}]},
            "admin": {"token": "literal-token"},
            "server": {"tls": {"key": "file:/not/read"}},
        });
        let mut unresolved = Vec::new();
        resolve(&mut settings, &mut unresolved);
        assert!(unresolved.is_empty(), "{unresolved:?}");
        assert_eq!(settings["salesman"]["credentials"][0]["apikey"], "from-env");
        // Not a secret key: taken as written.
        assert_eq!(
            settings["salesman"]["credentials"][0]["login"],
            "env:NOT_A_SECRET"
        );
        assert_eq!(settings["bitrix24"]["webhooks"][0]["code"], "s3cr3t-code");
        assert_eq!(settings["admin"]["token"], "literal-token");
        assert_eq!(settings["server"]["tls"]["key"], "file:/not/read");
    }

    #[test]
    fn unreadable_references_are_named_by_key_and_source() {
        let mut settings = json!({
            "forwarding": {"targets": [{"url": "env:LEADGATE_TEST_SECRET_UNSET"}]},
            "uis": {"keys": [{"key": "file:/nonexistent/uis-key"}]},
        });
        let mut unresolved = Vec::new();
        resolve(&mut settings, &mut unresolved);
        unresolved.sort();
        assert_eq!(unresolved.len(), 2, "{unresolved:?}");
        assert_eq!(unresolved[0].0, "forwarding.targets[0].url");
        assert!(unresolved[0]
            .1
            .contains("LEADGATE_TEST_SECRET_UNSET is not set"));
        assert_eq!(unresolved[1].0, "uis.keys[0].key");
        assert!(unresolved[1].1.contains("/nonexistent/uis-key"));
    }
}
