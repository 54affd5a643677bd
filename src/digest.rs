//! A secret as the gateway may keep or compare it: the hex SHA-256 of it
//! (session keys, the credentials shared limits count under, events and
//! admin tokens). A bottom module, so `core` and `http` both use the one.

use ring::digest::{digest, SHA256};

pub fn digest_of(secret: &str) -> String {
    use std::fmt::Write;
    let mut text = String::with_capacity(64);
    for byte in digest(&SHA256, secret.as_bytes()).as_ref() {
        let _ = write!(text, "{byte:02x}");
    }
    text
}
