//! Request parameters as PHP sees them: the query string, then the body
//! (form-urlencoded, multipart or JSON) merged into one ordered list of
//! `name → value` pairs, body values overriding query values like `$_REQUEST`.
//! JSON objects are flattened into PHP's bracket names (`fields[PHONE][0]`),
//! so every dialect reads one shape whatever the client sent.
//!
//! Text is UTF-8 unless the Content-Type names another charset (old PHP
//! sites post windows-1251), which then applies to the query and the body
//! alike; a dialect may also name a legacy charset for bodies that name
//! none and are not UTF-8. Decoding is strict where PHP is silently lossy:
//! bytes that are not text in their charset are an error naming the field,
//! never a replacement character stored in a lead.

use std::collections::HashMap;

use bytes::Bytes;
use encoding_rs::{Encoding, UTF_8};
use http::header::{CONTENT_LENGTH, CONTENT_TYPE};
use http::request::Parts;
use http_body_util::BodyExt;
use thiserror::Error;

/// Up to this many pairs, `effective` compares names instead of hashing.
const SMALL_FORM: usize = 24;
/// PHP's `max_input_vars`: more parameters than this is not a form.
pub const MAX_PARAMS: usize = 1000;
/// Most bytes of an oversized body read (and discarded) before the connection
/// is dropped instead.
const DRAIN_LIMIT: usize = 16 * 1024 * 1024;
/// Deepest JSON nesting flattened into bracket names.
const MAX_JSON_DEPTH: usize = 16;

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ParamsError {
    #[error("request body is larger than {limit} bytes")]
    TooLarge { limit: usize },
    #[error("parameter {field:?} is not valid UTF-8")]
    InvalidUtf8 { field: String },
    #[error("parameter {field:?} is not valid {charset}")]
    InvalidText {
        field: String,
        charset: &'static str,
    },
    #[error("charset {label:?} is not one this server decodes")]
    UnknownCharset { label: String },
    #[error("malformed JSON body: {reason}")]
    MalformedJson { reason: String },
    #[error("JSON body must be an object")]
    JsonNotObject,
    #[error("malformed multipart body: {reason}")]
    MalformedMultipart { reason: String },
    #[error("more than {limit} parameters")]
    TooMany { limit: usize },
    /// The request line or headers are past what the server parses (hyper
    /// refuses them before any route; `head_refusals` answers for it).
    #[error("request line or headers are too long")]
    HeadTooLarge,
    /// The body stopped short of what its head announced: the client
    /// closed the connection, or sent nothing more for the stall time.
    #[error("request body ended before its announced length")]
    Incomplete,
}

/// How much body a request may have and how long it may pause in sending
/// it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReadOptions {
    pub max_bytes: usize,
    /// Longest wait for the next piece of a body that has not ended; past
    /// it the request is the client's fault ([`ParamsError::Incomplete`]),
    /// not a server timeout. `None` waits as long as the caller does (and
    /// needs no timer on the runtime).
    pub stall: Option<std::time::Duration>,
    /// The charset of bodies that name none and are not UTF-8.
    pub legacy_charset: Option<&'static Encoding>,
}

impl From<usize> for ReadOptions {
    fn from(max_bytes: usize) -> ReadOptions {
        ReadOptions {
            max_bytes,
            stall: None,
            legacy_charset: None,
        }
    }
}

/// Where the body's parameters came from; dialects may care (SalesMan v2
/// reads credentials from headers when the body is JSON).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum BodyKind {
    #[default]
    None,
    UrlEncoded,
    Multipart,
    Json,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Params {
    pairs: Vec<(String, String)>,
    pub body_kind: BodyKind,
    /// A JSON object body kept as parsed, for dialects that read trees
    /// ([`Params::read_keeping_json`]); its fields are then not in `pairs`.
    json: Option<serde_json::Map<String, serde_json::Value>>,
    /// How this request's bytes become text.
    charset: Charset,
}

impl Params {
    /// The effective value of `name`: the last one sent, as PHP keeps it.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.pairs
            .iter()
            .rev()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
    }

    /// Every effective pair once, in the order names first appeared.
    /// Linear in the number of pairs past `SMALL_FORM` (below it, the
    /// quadratic name comparison is cheaper than hashing): a thousand-field
    /// body costs no more than it should.
    pub fn effective(&self) -> impl Iterator<Item = (&str, &str)> {
        let pairs = &self.pairs;
        // A site form's dozen fields: comparing names costs less than
        // hashing them (SipHash was 1-2% of a durable add's runtime CPU).
        if pairs.len() <= SMALL_FORM {
            return pairs
                .iter()
                .enumerate()
                .filter(|(index, (key, _))| !pairs[..*index].iter().any(|(seen, _)| seen == key))
                .filter_map(|(index, (key, _))| {
                    let (_, value) = pairs[index..].iter().rev().find(|(last, _)| last == key)?;
                    Some((key.as_str(), value.as_str()))
                })
                .collect::<Vec<_>>()
                .into_iter();
        }
        let mut last: HashMap<&str, usize> = HashMap::with_capacity(pairs.len());
        for (index, (key, _)) in pairs.iter().enumerate() {
            last.insert(key.as_str(), index);
        }
        pairs
            .iter()
            .filter_map(|(key, _)| {
                let index = last.remove(key.as_str())?;
                Some((key.as_str(), pairs[index].1.as_str()))
            })
            .collect::<Vec<_>>()
            .into_iter()
    }

    /// Every pair as sent, repeats included (`select[]=ID&select[]=TITLE`).
    pub fn pairs(&self) -> impl Iterator<Item = (&str, &str)> {
        self.pairs
            .iter()
            .map(|(key, value)| (key.as_str(), value.as_str()))
    }

    /// Parameters of a query string alone (Bitrix24 batch commands).
    pub fn from_query(query: &str) -> Result<Params, ParamsError> {
        let mut params = Params::default();
        params.add_urlencoded(query.as_bytes())?;
        Ok(params)
    }

    /// Parameters of a JSON object body alone, kept as a tree (as
    /// [`Params::read_keeping_json`] keeps it).
    pub fn from_json(body: &[u8]) -> Result<Params, ParamsError> {
        let mut params = Params {
            body_kind: BodyKind::Json,
            ..Params::default()
        };
        params.add_json(body, true)?;
        Ok(params)
    }

    pub fn len(&self) -> usize {
        self.pairs.len()
    }

    pub fn is_empty(&self) -> bool {
        self.pairs.is_empty()
    }

    fn push(&mut self, key: String, value: String) -> Result<(), ParamsError> {
        if self.pairs.len() >= MAX_PARAMS {
            return Err(ParamsError::TooMany { limit: MAX_PARAMS });
        }
        self.pairs.push((php_name(key), value));
        Ok(())
    }

    /// Reads the query string and the body of a request, the body no larger
    /// than `limit` bytes.
    pub async fn read<B>(
        parts: &Parts,
        body: B,
        limit: impl Into<ReadOptions>,
    ) -> Result<Params, ParamsError>
    where
        B: http_body::Body<Data = Bytes>,
        B::Error: std::error::Error + Send + Sync + 'static,
    {
        Params::read_as(parts, body, limit.into(), false).await
    }

    /// Like [`Params::read`], but a JSON object body is kept as parsed
    /// ([`Params::json`]) instead of being flattened into bracket names: a
    /// dialect that works on trees (Bitrix24) saves flattening and rebuilding.
    pub async fn read_keeping_json<B>(
        parts: &Parts,
        body: B,
        limit: impl Into<ReadOptions>,
    ) -> Result<Params, ParamsError>
    where
        B: http_body::Body<Data = Bytes>,
        B::Error: std::error::Error + Send + Sync + 'static,
    {
        Params::read_as(parts, body, limit.into(), true).await
    }

    /// The JSON object body, when read with [`Params::read_keeping_json`].
    pub fn json(&self) -> Option<&serde_json::Map<String, serde_json::Value>> {
        self.json.as_ref()
    }

    async fn read_as<B>(
        parts: &Parts,
        body: B,
        limit: ReadOptions,
        keep_json: bool,
    ) -> Result<Params, ParamsError>
    where
        B: http_body::Body<Data = Bytes>,
        B::Error: std::error::Error + Send + Sync + 'static,
    {
        // The body is read first, even when the query is already bad, so the
        // client is never cut off mid-write before it can read the answer.
        let body = read_body(parts, body, limit).await?;
        let content_type = parts
            .headers
            .get(CONTENT_TYPE)
            .and_then(|value| value.to_str().ok())
            .unwrap_or("");
        let charset = Charset::of(content_type, limit.legacy_charset)?;
        let mut params = Params {
            charset,
            ..Params::default()
        };
        if let Some(query) = parts.uri.query() {
            params.add_urlencoded(query.as_bytes())?;
        }
        if body.is_empty() {
            return Ok(params);
        }
        let essence = content_type
            .split(';')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase();
        match essence.as_str() {
            "application/x-www-form-urlencoded" => {
                params.body_kind = BodyKind::UrlEncoded;
                params.add_urlencoded(&body)?;
            }
            "multipart/form-data" => {
                params.body_kind = BodyKind::Multipart;
                let boundary = multer::parse_boundary(content_type).map_err(|error| {
                    ParamsError::MalformedMultipart {
                        reason: error.to_string(),
                    }
                })?;
                params.add_multipart(body, boundary).await?;
            }
            json if json == "application/json" || json.ends_with("+json") => {
                params.body_kind = BodyKind::Json;
                params.add_json(&body, keep_json)?;
            }
            // Browsers post cross-origin as text/plain to avoid a CORS
            // preflight, and hand-written scripts forget the header: take
            // an object as JSON and anything else as a form.
            "" | "text/plain" => {
                if body.iter().find(|byte| !byte.is_ascii_whitespace()) == Some(&b'{') {
                    params.body_kind = BodyKind::Json;
                    params.add_json(&body, keep_json)?;
                } else {
                    params.body_kind = BodyKind::UrlEncoded;
                    params.add_urlencoded(&body)?;
                }
            }
            // Anything else is not parameters (PHP ignores it too).
            _ => {}
        }
        Ok(params)
    }

    fn add_urlencoded(&mut self, input: &[u8]) -> Result<(), ParamsError> {
        let charset = self.charset;
        for piece in input.split(|byte| *byte == b'&') {
            if piece.is_empty() {
                continue;
            }
            let (key, value) = match piece.iter().position(|byte| *byte == b'=') {
                Some(at) => (&piece[..at], &piece[at + 1..]),
                None => (piece, &b""[..]),
            };
            let key = charset.text(percent_decode(key), None)?;
            if key.is_empty() {
                continue;
            }
            let value = charset.text(percent_decode(value), Some(&key))?;
            self.push(key, value)?;
        }
        Ok(())
    }

    async fn add_multipart(&mut self, body: Bytes, boundary: String) -> Result<(), ParamsError> {
        let malformed = |error: multer::Error| ParamsError::MalformedMultipart {
            reason: error.to_string(),
        };
        let stream = futures_util::stream::iter([Ok::<Bytes, std::io::Error>(body)]);
        let mut multipart = multer::Multipart::new(stream, boundary);
        while let Some(field) = multipart.next_field().await.map_err(malformed)? {
            let Some(name) = field.name().map(str::to_owned) else {
                continue;
            };
            // Uploaded files are not lead fields (PHP puts them in $_FILES).
            let is_file = field.file_name().is_some();
            let bytes = field.bytes().await.map_err(malformed)?;
            if !is_file {
                let value = self.charset.text(bytes.to_vec(), Some(&name))?;
                self.push(name, value)?;
            }
        }
        Ok(())
    }

    fn add_json(&mut self, body: &[u8], keep: bool) -> Result<(), ParamsError> {
        let body = self.charset.utf8_body(body)?;
        let body = body.as_ref();
        let value: serde_json::Value =
            serde_json::from_slice(body).map_err(|error| match error.classify() {
                serde_json::error::Category::Data | serde_json::error::Category::Syntax
                    if std::str::from_utf8(body).is_err() =>
                {
                    ParamsError::InvalidUtf8 {
                        field: "(body)".into(),
                    }
                }
                _ => ParamsError::MalformedJson {
                    reason: error.to_string(),
                },
            })?;
        let serde_json::Value::Object(object) = value else {
            return Err(ParamsError::JsonNotObject);
        };
        if keep {
            self.json = Some(object);
            return Ok(());
        }
        for (key, value) in object {
            self.flatten_json(key, value, 0)?;
        }
        Ok(())
    }

    fn flatten_json(
        &mut self,
        name: String,
        value: serde_json::Value,
        depth: usize,
    ) -> Result<(), ParamsError> {
        use serde_json::Value;
        if depth > MAX_JSON_DEPTH {
            return Err(ParamsError::MalformedJson {
                reason: format!("{name}: nested deeper than {MAX_JSON_DEPTH} levels"),
            });
        }
        match value {
            Value::Object(object) => {
                for (key, value) in object {
                    self.flatten_json(format!("{name}[{key}]"), value, depth + 1)?;
                }
                Ok(())
            }
            Value::Array(items) => {
                for (index, value) in items.into_iter().enumerate() {
                    self.flatten_json(format!("{name}[{index}]"), value, depth + 1)?;
                }
                Ok(())
            }
            Value::String(text) => self.push(name, text),
            Value::Number(number) => self.push(name, number.to_string()),
            // PHP's string casts: true is "1", false and null are "".
            Value::Bool(flag) => self.push(name, if flag { "1" } else { "" }.into()),
            Value::Null => self.push(name, String::new()),
        }
    }
}

/// Reads at most `limits.max_bytes` of body. A larger body is still read to
/// its end (up to [`DRAIN_LIMIT`]) and thrown away, so the client, which is
/// usually still writing, gets to read our error instead of a broken pipe.
pub async fn read_body<B>(parts: &Parts, body: B, limits: ReadOptions) -> Result<Bytes, ParamsError>
where
    B: http_body::Body<Data = Bytes>,
    B::Error: std::error::Error + Send + Sync + 'static,
{
    let limit = limits.max_bytes;
    let too_large = ParamsError::TooLarge { limit };
    let declared = parts
        .headers
        .get(CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.parse::<u64>().ok());
    if let Some(length) = declared.filter(|length| *length > limit as u64) {
        // A client waiting for "100 Continue" has not sent the body yet, and
        // one announcing a huge body is not worth reading: answer now.
        let expects_continue = parts
            .headers
            .get(http::header::EXPECT)
            .is_some_and(|value| value.as_bytes().eq_ignore_ascii_case(b"100-continue"));
        if expects_continue || length > DRAIN_LIMIT as u64 {
            return Err(too_large);
        }
    }
    let mut body = std::pin::pin!(body);
    let mut collected = bytes::BytesMut::new();
    let mut received = 0usize;
    loop {
        let next = match limits.stall {
            Some(stall) => tokio::time::timeout(stall, body.frame())
                .await
                .map_err(|_| ParamsError::Incomplete)?,
            None => body.frame().await,
        };
        let Some(frame) = next else {
            break;
        };
        // hyper's only body error on a server is the connection ending
        // before the announced length.
        let frame = frame.map_err(|_| ParamsError::Incomplete)?;
        let Ok(data) = frame.into_data() else {
            continue;
        };
        received = received.saturating_add(data.len());
        if received > DRAIN_LIMIT {
            return Err(too_large);
        }
        if received <= limit {
            collected.extend_from_slice(&data);
        }
    }
    if received > limit {
        return Err(too_large);
    }
    Ok(collected.freeze())
}

/// The part of a parameter name before its first bracket: `uids` of `uids[crm]`.
pub fn base_name(name: &str) -> &str {
    match name.bytes().position(|byte| byte == b'[') {
        Some(end) => &name[..end],
        None => name,
    }
}

/// PHP turns spaces and dots in the base of a name into underscores
/// (`utm.source` arrives as `utm_source`); clients built on PHP rely on it.
fn php_name(name: String) -> String {
    let base_end = name
        .bytes()
        .position(|byte| byte == b'[')
        .unwrap_or(name.len());
    if !name.as_bytes()[..base_end]
        .iter()
        .any(|byte| matches!(byte, b' ' | b'.'))
    {
        return name;
    }
    let base = name[..base_end].replace([' ', '.'], "_");
    format!("{base}{}", &name[base_end..])
}

/// How a request's bytes become text: the charset its Content-Type names,
/// or UTF-8 with the dialect's legacy charset for what is not UTF-8.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Charset {
    /// Named in the Content-Type (and not UTF-8): every byte is read in it.
    declared: Option<&'static Encoding>,
    /// Used for text that names no charset and is not UTF-8.
    legacy: Option<&'static Encoding>,
}

impl Charset {
    /// The charset `content_type` names, or UTF-8 with `legacy` behind it.
    pub fn of(
        content_type: &str,
        legacy: Option<&'static Encoding>,
    ) -> Result<Charset, ParamsError> {
        let label = content_type.split(';').skip(1).find_map(|parameter| {
            let (name, value) = parameter.split_once('=')?;
            name.trim()
                .eq_ignore_ascii_case("charset")
                .then(|| value.trim().trim_matches('"'))
        });
        let declared = match label {
            None => None,
            Some(label) => match Encoding::for_label(label.as_bytes()) {
                Some(encoding) if encoding == UTF_8 => None,
                // `replacement` is what WHATWG maps dangerous labels to
                // (ISO-2022-KR, ...): nothing decodes through it.
                Some(encoding) if encoding != encoding_rs::REPLACEMENT => Some(encoding),
                _ => {
                    return Err(ParamsError::UnknownCharset {
                        label: label.chars().take(40).collect(),
                    })
                }
            },
        };
        Ok(Charset { declared, legacy })
    }

    /// The charset a request's Content-Type header names, or UTF-8 with
    /// `legacy` behind it.
    pub fn of_headers(
        headers: &http::HeaderMap,
        legacy: Option<&'static Encoding>,
    ) -> Result<Charset, ParamsError> {
        let content_type = headers
            .get(CONTENT_TYPE)
            .and_then(|value| value.to_str().ok())
            .unwrap_or("");
        Charset::of(content_type, legacy)
    }

    /// `bytes` as text: `field` names the parameter in the error.
    fn text(self, bytes: Vec<u8>, field: Option<&str>) -> Result<String, ParamsError> {
        let bytes = match self.declared {
            Some(_) => bytes,
            None => match String::from_utf8(bytes) {
                Ok(text) => return Ok(text),
                Err(error) => error.into_bytes(),
            },
        };
        let field = field.map_or_else(
            || String::from_utf8_lossy(&bytes).into_owned(),
            str::to_owned,
        );
        let Some(encoding) = self.declared.or(self.legacy) else {
            return Err(ParamsError::InvalidUtf8 { field });
        };
        decode_strictly(encoding, &bytes)
            .map(|text| text.into_owned())
            .ok_or(ParamsError::InvalidText {
                field,
                charset: encoding.name(),
            })
    }

    /// A whole body (JSON) as UTF-8 bytes: borrowed when it already is.
    pub fn utf8_body<'a>(self, body: &'a [u8]) -> Result<std::borrow::Cow<'a, [u8]>, ParamsError> {
        let encoding = match (self.declared, self.legacy) {
            (Some(encoding), _) => encoding,
            (None, Some(encoding)) if std::str::from_utf8(body).is_err() => encoding,
            _ => return Ok(std::borrow::Cow::Borrowed(body)),
        };
        match decode_strictly(encoding, body) {
            Some(text) => Ok(std::borrow::Cow::Owned(text.into_owned().into_bytes())),
            None => Err(ParamsError::InvalidText {
                field: "(body)".into(),
                charset: encoding.name(),
            }),
        }
    }
}

/// `bytes` decoded in `encoding`, or `None` if they are not text in it.
fn decode_strictly<'a>(
    encoding: &'static Encoding,
    bytes: &'a [u8],
) -> Option<std::borrow::Cow<'a, str>> {
    encoding.decode_without_bom_handling_and_without_replacement(bytes)
}

/// `+` is a space; `%XY` is a byte; a `%` not followed by two hex digits is
/// kept as it is, as PHP and browsers do.
fn percent_decode(input: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(input.len());
    let mut rest = input;
    // Plain runs are copied whole; only `+` and `%` are looked at alone.
    while let Some(at) = rest.iter().position(|byte| matches!(byte, b'+' | b'%')) {
        out.extend_from_slice(&rest[..at]);
        rest = &rest[at..];
        let (byte, length) = match rest {
            [b'%', high, low, ..] => match (hex(*high), hex(*low)) {
                (Some(high), Some(low)) => (high << 4 | low, 3),
                _ => (b'%', 1),
            },
            [b'+', ..] => (b' ', 1),
            // A `%` too near the end to have two digits.
            _ => (b'%', 1),
        };
        out.push(byte);
        rest = &rest[length..];
    }
    out.extend_from_slice(rest);
    out
}

fn hex(byte: u8) -> Option<u8> {
    (byte as char).to_digit(16).map(|digit| digit as u8)
}

#[cfg(test)]
mod tests;
