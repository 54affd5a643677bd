//! A hostile client against every dialect, the admin API and health: bytes
//! that are not UTF-8, bodies too large or too deep, bracket abuse,
//! duplicate keys, structures past every cap, header abuse, pipelining and
//! bodies cut short. Every answer must be a client-fault answer (never a
//! 5xx) in the shape of the dialect its route names; the gateway must stay
//! up; and every lead acknowledged before the corpus must be unchanged
//! after it.
//!
//! Requests go over a raw socket: most of these cannot be sent through an
//! HTTP client library at all.

mod common;

use std::time::Duration;

use base64::Engine;
use common::{TestGateway, APIKEY, LIVETEX_PASSWORD, LOGIN, UIS_KEY, WEBHOOK_CODE};
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const ADMIN_TOKEN: &str = "hostile-admin-token-0123456789";

/// What an answer must look like.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Shape {
    Salesman,
    Livetex,
    Bitrix24,
    Uis,
    /// `{"error": ...}`: admin, health, unrouted paths.
    Plain,
}

struct Case {
    name: String,
    shape: Shape,
    bytes: Vec<u8>,
    /// Half-close after sending (a body cut short).
    close_write: bool,
}

struct Answer {
    status: u16,
    body: Vec<u8>,
}

fn case(name: impl Into<String>, shape: Shape, bytes: Vec<u8>) -> Case {
    Case {
        name: name.into(),
        shape,
        bytes,
        close_write: false,
    }
}

/// One request's bytes: `head_extra` is more header lines, each ending in
/// CRLF.
fn request(method: &str, target: &[u8], head_extra: &str, body: &[u8]) -> Vec<u8> {
    let mut bytes = Vec::new();
    bytes.extend_from_slice(method.as_bytes());
    bytes.push(b' ');
    bytes.extend_from_slice(target);
    bytes.extend_from_slice(b" HTTP/1.1\r\nHost: gateway\r\nConnection: close\r\n");
    bytes.extend_from_slice(head_extra.as_bytes());
    if !body.is_empty() || method == "POST" {
        bytes.extend_from_slice(format!("Content-Length: {}\r\n", body.len()).as_bytes());
    }
    bytes.extend_from_slice(b"\r\n");
    bytes.extend_from_slice(body);
    bytes
}

fn form(content_type: &str) -> String {
    format!("Content-Type: {content_type}\r\n")
}

const FORM: &str = "application/x-www-form-urlencoded";
const JSON: &str = "application/json";

/// A dialect as the corpus drives it: where its calls go and how a caller
/// authenticates.
struct Dialect {
    name: &'static str,
    shape: Shape,
    /// Paths of methods that read, add and show.
    paths: Vec<String>,
    /// Header lines that authenticate.
    auth_head: String,
    /// Query or form parameters that authenticate.
    auth_params: String,
}

fn dialects() -> Vec<Dialect> {
    let basic =
        base64::engine::general_purpose::STANDARD.encode(format!("{LOGIN}:{LIVETEX_PASSWORD}"));
    vec![
        Dialect {
            name: "salesman",
            shape: Shape::Salesman,
            paths: vec![
                "/developer/v1/leads?action=list".into(),
                "/developer/v1/leads?action=add".into(),
                "/developer/v1/leads?action=info&id=1".into(),
                "/developer/v1/leads.php?action=stat".into(),
            ],
            auth_head: String::new(),
            auth_params: format!("login={LOGIN}&apikey={APIKEY}"),
        },
        Dialect {
            name: "livetex",
            shape: Shape::Livetex,
            paths: vec![
                "/v2/leads/list".into(),
                "/v2/leads/add".into(),
                "/v2/leads/show?id=1".into(),
                "/v2/utils/batch".into(),
            ],
            auth_head: format!("Authorization: Basic {basic}\r\n"),
            auth_params: String::new(),
        },
        Dialect {
            name: "bitrix24",
            shape: Shape::Bitrix24,
            paths: vec![
                format!("/rest/1/{WEBHOOK_CODE}/crm.lead.list"),
                format!("/rest/1/{WEBHOOK_CODE}/crm.lead.add.json"),
                format!("/rest/1/{WEBHOOK_CODE}/crm.lead.get?id=1"),
                format!("/rest/1/{WEBHOOK_CODE}/batch"),
            ],
            auth_head: String::new(),
            auth_params: String::new(),
        },
    ]
}

/// `path` with `params` added to its query.
fn with_query(path: &str, params: &str) -> Vec<u8> {
    let joiner = if path.contains('?') { '&' } else { '?' };
    if params.is_empty() {
        path.as_bytes().to_vec()
    } else {
        format!("{path}{joiner}{params}").into_bytes()
    }
}

fn nested(depth: usize, open: &str, close: &str, inner: &str) -> String {
    format!("{}{inner}{}", open.repeat(depth), close.repeat(depth))
}

/// The corpus for the form/JSON dialects (SalesMan, LiveTex, Bitrix24).
fn form_dialect_cases(dialect: &Dialect) -> Vec<Case> {
    let mut cases = Vec::new();
    let name = dialect.name;
    let shape = dialect.shape;
    let auth = &dialect.auth_params;
    let head = &dialect.auth_head;
    for path in &dialect.paths {
        let target = with_query(path, auth);
        let mut add = |label: &str, method: &str, target: Vec<u8>, extra: &str, body: Vec<u8>| {
            cases.push(case(
                format!("{name} {path} {label}"),
                shape,
                request(method, &target, &format!("{head}{extra}"), &body),
            ));
        };
        // Bytes that are not UTF-8, in names, values and bodies.
        add(
            "invalid UTF-8 value in the query",
            "GET",
            [target.clone(), b"&title=%FF%FE%C0".to_vec()].concat(),
            "",
            vec![],
        );
        add(
            "raw invalid UTF-8 in the query",
            "GET",
            [target.clone(), b"&title=\xff\xfe".to_vec()].concat(),
            "",
            vec![],
        );
        add(
            "invalid UTF-8 name",
            "GET",
            [target.clone(), b"&%FF%FE=1".to_vec()].concat(),
            "",
            vec![],
        );
        add(
            "invalid UTF-8 form body",
            "POST",
            target.clone(),
            &form(FORM),
            b"title=%C3%28&name=\xc3\x28".to_vec(),
        );
        add(
            "invalid UTF-8 JSON body",
            "POST",
            target.clone(),
            &form(JSON),
            b"{\"title\":\"\xff\xfe\"}".to_vec(),
        );
        add(
            "JSON body with a lone surrogate",
            "POST",
            target.clone(),
            &form(JSON),
            br#"{"title":"\ud800"}"#.to_vec(),
        );
        // Sizes and depths.
        add(
            "body over the limit",
            "POST",
            target.clone(),
            &form(FORM),
            [b"title=".to_vec(), vec![b'a'; 1_200_000]].concat(),
        );
        add(
            "deep JSON arrays",
            "POST",
            target.clone(),
            &form(JSON),
            nested(5000, "[", "]", "1").into_bytes(),
        );
        add(
            "deep JSON objects",
            "POST",
            target.clone(),
            &form(JSON),
            format!("{{\"fields\":{}}}", nested(3000, "{\"a\":", "}", "1")).into_bytes(),
        );
        add(
            "JSON nested 20 deep under fields",
            "POST",
            target.clone(),
            &form(JSON),
            format!("{{\"fields\":{}}}", nested(20, "{\"a\":", "}", "1")).into_bytes(),
        );
        add(
            "JSON that is not an object",
            "POST",
            target.clone(),
            &form(JSON),
            b"[1,2,3]".to_vec(),
        );
        add(
            "JSON cut in the middle",
            "POST",
            target.clone(),
            &form(JSON),
            b"{\"fields\":{\"TITLE\":\"a".to_vec(),
        );
        add(
            "JSON with duplicate keys",
            "POST",
            target.clone(),
            &form(JSON),
            br#"{"fields":{"TITLE":"a","TITLE":"b"},"fields":1}"#.to_vec(),
        );
        add(
            "5000 parameters",
            "POST",
            target.clone(),
            &form(FORM),
            (0..5000)
                .map(|index| format!("p{index}=1"))
                .collect::<Vec<_>>()
                .join("&")
                .into_bytes(),
        );
        add(
            "a 100 KB parameter in the URL (past hyper's 64 KiB)",
            "GET",
            [
                target.clone(),
                format!("&title={}", "a".repeat(100_000)).into_bytes(),
            ]
            .concat(),
            "",
            vec![],
        );
        add(
            "a 60 KB parameter in the URL",
            "GET",
            [
                target.clone(),
                format!("&title={}", "a".repeat(60_000)).into_bytes(),
            ]
            .concat(),
            "",
            vec![],
        );
        // PHP bracket abuse.
        for (label, params) in [
            ("unclosed bracket", "fields[TITLE=1"),
            ("closing brackets only", "]]]]=1"),
            (
                "empty brackets deep",
                "fields[][][][][][][][][][][][][][][][][][][][][]=1",
            ),
            (
                "brackets a thousand deep",
                &format!("fields{}=1", "[a]".repeat(1000)),
            ),
            ("bracket name only", "[]=1"),
            ("name and value both brackets", "fields[[]]=[[]]"),
            (
                "conflicting scalar and array",
                "fields=1&fields[TITLE]=2&fields[]=3",
            ),
            ("filter as a string", "filter=PHONE&order=DESC&select=*"),
            ("filter as nested arrays", "filter[][][]=1&order[][]=ASC"),
            (
                "a thousand filter keys",
                &(0..1000)
                    .map(|index| format!("filter[%TITLE{index}]=x"))
                    .collect::<Vec<_>>()
                    .join("&"),
            ),
            (
                "two thousand order keys",
                &(0..2000)
                    .map(|index| format!("order[F{index}]=ASC"))
                    .collect::<Vec<_>>()
                    .join("&"),
            ),
            (
                "a thousand select names",
                &(0..1000)
                    .map(|index| format!("select[]=F{index}"))
                    .collect::<Vec<_>>()
                    .join("&"),
            ),
            (
                "a thousand q criteria",
                &format!(
                    "q={}",
                    (0..1000)
                        .map(|index| format!("ids={index}"))
                        .collect::<Vec<_>>()
                        .join(";")
                ),
            ),
            (
                "a thousand text criteria",
                &format!(
                    "q={}",
                    (0..1000)
                        .map(|index| format!("text=a{index}"))
                        .collect::<Vec<_>>()
                        .join(";")
                ),
            ),
            (
                "five thousand ids",
                &format!(
                    "q=ids={}",
                    (0..5000)
                        .map(|index| index.to_string())
                        .collect::<Vec<_>>()
                        .join(",")
                ),
            ),
            (
                "a thousand batch commands",
                &(0..1000)
                    .map(|index| format!("cmd[c{index}]=crm.lead.list"))
                    .collect::<Vec<_>>()
                    .join("&"),
            ),
            (
                "ids out of range",
                "id=99999999999999999999999&start=-5&limit=1e308",
            ),
            ("negative and zero ids", "id=-1&start=-100&limit=0&page=-3"),
            ("fullwidth digits", "id=%EF%BC%91%EF%BC%92&start=%EF%BC%91"),
            (
                "NUL and controls in values",
                "title=a%00b%0D%0Ac&name=%1B%5B31m",
            ),
            (
                "percent signs that decode to nothing",
                "title=%&name=%%%&phone=%G1",
            ),
        ] {
            add(
                &format!("query: {label}"),
                "GET",
                with_query(&String::from_utf8_lossy(&target), params),
                "",
                vec![],
            );
            add(
                &format!("form: {label}"),
                "POST",
                target.clone(),
                &form(FORM),
                params.as_bytes().to_vec(),
            );
        }
        // Structures past every cap, as JSON (keys that differ only in
        // spaces name the same field, so each is a real condition).
        let spaced = |count: usize, name: &str, value: Value| -> Value {
            let mut object = serde_json::Map::new();
            for index in 0..count {
                object.insert(format!("{}{name}", " ".repeat(index)), value.clone());
            }
            Value::Object(object)
        };
        for (label, body) in [
            (
                "a thousand filter conditions",
                json!({"filter": spaced(1000, "%TITLE", json!("a"))}),
            ),
            (
                "a thousand phone conditions",
                json!({"filter": spaced(1000, "PHONE", json!("+79001112233"))}),
            ),
            (
                "two thousand order keys",
                json!({"order": spaced(2000, "ID", json!("ASC"))}),
            ),
            (
                "ten thousand filter values",
                json!({"filter": {"ID": (0..10_000).collect::<Vec<_>>()}}),
            ),
            (
                "a thousand batch commands",
                json!({"cmd": (0..1000).map(|index| (format!("c{index}"), json!("crm.lead.list"))).collect::<serde_json::Map<_, _>>()}),
            ),
            (
                "a thousand batch requests",
                json!({"requests": (0..1000).map(|_| json!({"method": "Leads.list"})).collect::<Vec<_>>()}),
            ),
            (
                "a thousand fields",
                json!({"fields": spaced(1000, "TITLE", json!("a"))}),
            ),
            (
                "a thousand q criteria in JSON",
                json!({"q": (0..1000).map(|index| format!("ids={index}")).collect::<Vec<_>>().join(";")}),
            ),
        ] {
            add(
                &format!("JSON: {label}"),
                "POST",
                target.clone(),
                &form(JSON),
                body.to_string().into_bytes(),
            );
        }
        // Verbs and content types.
        for verb in ["PUT", "DELETE", "PATCH", "OPTIONS", "HEAD", "TRACE"] {
            add(&format!("verb {verb}"), verb, target.clone(), "", vec![]);
        }
        for content_type in [
            "multipart/form-data",
            "multipart/form-data; boundary=",
            "multipart/form-data; boundary=zzz",
            "text/plain",
            "application/json; charset=koi8-r",
            "application/x-www-form-urlencoded; charset=ucs-4",
            "application/octet-stream",
            ";;;=",
        ] {
            add(
                &format!("content type {content_type:?}"),
                "POST",
                target.clone(),
                &form(content_type),
                b"--zzz\r\nContent-Disposition: form-data; name=\"title\r\n\r\nx\r\n".to_vec(),
            );
        }
        // Header abuse.
        add(
            "a 10 KB request id",
            "GET",
            target.clone(),
            &format!("X-Request-Id: {}\r\n", "i".repeat(10_000)),
            vec![],
        );
        add(
            "a request id with a control byte",
            "GET",
            target.clone(),
            "X-Request-Id: a\x01b\r\n",
            vec![],
        );
        add(
            "a request id with a newline escape",
            "GET",
            target.clone(),
            "X-Request-Id: a%0Afake log line\r\n",
            vec![],
        );
        add(
            "two hundred headers",
            "GET",
            target.clone(),
            &(0..200)
                .map(|index| format!("X-H{index}: v\r\n"))
                .collect::<String>(),
            vec![],
        );
        add(
            "chunked body with a bad chunk size",
            "POST",
            target.clone(),
            &format!("{}Transfer-Encoding: chunked\r\n", form(FORM)),
            vec![],
        );
    }
    // Bodies cut short: Content-Length says more than is sent, then the
    // client stops writing.
    for path in &dialect.paths {
        let target = with_query(path, auth);
        let mut bytes = Vec::new();
        bytes.extend_from_slice(b"POST ");
        bytes.extend_from_slice(&target);
        bytes.extend_from_slice(
            format!("HTTP/1.1\r\nHost: g\r\n{head}Content-Type: {FORM}\r\nContent-Length: 500\r\n\r\ntitle=cut")
                .replace("HTTP/1.1", " HTTP/1.1")
                .as_bytes(),
        );
        cases.push(Case {
            name: format!("{name} {path} body cut short"),
            shape,
            bytes,
            close_write: true,
        });
    }
    cases
}

fn uis_cases() -> Vec<Case> {
    let mut cases = Vec::new();
    let call = |method: &str, params: Value| {
        let mut params = params;
        params["access_token"] = json!(UIS_KEY);
        json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": params}).to_string()
    };
    let mut add = |label: &str, body: Vec<u8>, extra: &str| {
        cases.push(case(
            format!("uis {label}"),
            Shape::Uis,
            request("POST", b"/v2.0", &format!("{}{extra}", form(JSON)), &body),
        ));
    };
    let report = |params: Value| call("get.offline_messages_report", params);
    let window = json!({"date_from": "2026-01-01 00:00:00", "date_till": "2026-01-02 00:00:00"});
    let with = |extra: Value| {
        let mut params = window.clone();
        for (key, value) in extra.as_object().unwrap() {
            params[key] = value.clone();
        }
        params
    };
    for (label, body) in [
        ("not JSON", b"hello".to_vec()),
        ("invalid UTF-8", b"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"\xff\"}".to_vec()),
        ("empty body", Vec::new()),
        ("an array", b"[]".to_vec()),
        ("a batch", br#"[{"jsonrpc":"2.0","id":1,"method":"get.sales_funnel"}]"#.to_vec()),
        ("a string", br#""get.sales_funnel""#.to_vec()),
        ("null", b"null".to_vec()),
        ("duplicate id", br#"{"jsonrpc":"2.0","id":1,"id":2,"method":"get.sales_funnel","params":{}}"#.to_vec()),
        ("duplicate method", br#"{"jsonrpc":"2.0","id":1,"method":"get.sales_funnel","method":"login.user","params":{}}"#.to_vec()),
        ("duplicate jsonrpc", br#"{"jsonrpc":"2.0","jsonrpc":"2.0","id":1,"method":"get.sales_funnel","params":{}}"#.to_vec()),
        ("duplicate params", br#"{"jsonrpc":"2.0","id":1,"method":"get.sales_funnel","params":{},"params":{}}"#.to_vec()),
        ("duplicate keys inside params", format!(r#"{{"jsonrpc":"2.0","id":1,"method":"get.sales_funnel","params":{{"access_token":"{UIS_KEY}","access_token":"x"}}}}"#).into_bytes()),
        ("deep arrays", nested(5000, "[", "]", "1").into_bytes()),
        ("deep params", format!(r#"{{"jsonrpc":"2.0","id":1,"method":"get.sales_funnel","params":{}}}"#, nested(3000, "{\"a\":", "}", "1")).into_bytes()),
        ("id an object", br#"{"jsonrpc":"2.0","id":{},"method":"get.sales_funnel"}"#.to_vec()),
        ("id huge", br#"{"jsonrpc":"2.0","id":1e400,"method":"get.sales_funnel"}"#.to_vec()),
        ("no id", br#"{"jsonrpc":"2.0","method":"get.sales_funnel"}"#.to_vec()),
        ("jsonrpc 1.0", br#"{"jsonrpc":"1.0","id":1,"method":"get.sales_funnel"}"#.to_vec()),
        ("method a number", br#"{"jsonrpc":"2.0","id":1,"method":5}"#.to_vec()),
        ("unknown method", br#"{"jsonrpc":"2.0","id":1,"method":"get.everything"}"#.to_vec()),
        ("params an array", br#"{"jsonrpc":"2.0","id":1,"method":"get.sales_funnel","params":[1]}"#.to_vec()),
        ("body over the limit", [br#"{"jsonrpc":"2.0","id":1,"method":"get.sales_funnel","params":{"x":""#.to_vec(), vec![b'a'; 1_200_000], br#""}}"#.to_vec()].concat()),
        ("report without a window", report(json!({})).into_bytes()),
        ("report with a year window", report(json!({"date_from": "2025-01-01 00:00:00", "date_till": "2026-01-01 00:00:00"})).into_bytes()),
        ("report with dates that are not dates", report(json!({"date_from": "yesterday", "date_till": 5})).into_bytes()),
        ("report with a limit of a million", report(with(json!({"limit": 1_000_000}))).into_bytes()),
        ("report with a negative offset", report(with(json!({"offset": -1}))).into_bytes()),
        ("report with a thousand fields", report(with(json!({"fields": (0..1000).map(|index| format!("f{index}")).collect::<Vec<_>>()}))).into_bytes()),
        ("report with a thousand sorts", report(with(json!({"sort": (0..1000).map(|_| json!({"field": "id", "order": "asc"})).collect::<Vec<_>>()}))).into_bytes()),
        ("report with a thousand filters", report(with(json!({"filter": {"filters": (0..1000).map(|index| json!({"field": "id", "operator": "=", "value": index})).collect::<Vec<_>>(), "condition": "and"}}))).into_bytes()),
        ("report with filters nested deep", report(with(json!({"filter": serde_json::from_str::<Value>(&nested(60, "{\"filters\":[", "],\"condition\":\"or\"}", "{\"field\":\"id\",\"operator\":\"=\",\"value\":1}")).unwrap()}))).into_bytes()),
        ("report with a filter on an unknown field", report(with(json!({"filter": {"field": "nope", "operator": "=", "value": 1}}))).into_bytes()),
        ("report with an unknown operator", report(with(json!({"filter": {"field": "id", "operator": "~~", "value": 1}}))).into_bytes()),
        ("report with a filter value a deep array", report(with(json!({"filter": {"field": "id", "operator": "in", "value": serde_json::from_str::<Value>(&nested(100, "[", "]", "1")).unwrap()}}))).into_bytes()),
        ("report with ten thousand in-values", report(with(json!({"filter": {"field": "id", "operator": "in", "value": (0..10_000).collect::<Vec<_>>()}}))).into_bytes()),
        ("upload with a thousand messages", call("upload.offline_messages", json!({"offline_messages": (0..1000).map(|_| json!({"phone": "+79001112233"})).collect::<Vec<_>>()})).into_bytes()),
        ("upload with messages not objects", call("upload.offline_messages", json!({"offline_messages": [1, "x", null]})).into_bytes()),
        ("funnel with a window of strings", call("get.sales_funnel", json!({"date_from": [], "date_till": {}})).into_bytes()),
        ("login with a huge password", call("login.user", json!({"login": "x", "password": "p".repeat(100_000)})).into_bytes()),
        ("access token a number", br#"{"jsonrpc":"2.0","id":1,"method":"get.sales_funnel","params":{"access_token":5}}"#.to_vec()),
    ] {
        add(label, body, "");
    }
    add(
        "a request id with a control byte",
        call("get.sales_funnel", json!({})).into_bytes(),
        "X-Request-Id: a\x01b\r\n",
    );
    add(
        "a 10 KB request id",
        call("get.sales_funnel", json!({})).into_bytes(),
        &format!("X-Request-Id: {}\r\n", "i".repeat(10_000)),
    );
    for verb in ["GET", "PUT", "DELETE", "OPTIONS", "HEAD"] {
        cases.push(case(
            format!("uis verb {verb}"),
            Shape::Uis,
            request(verb, b"/v2.0", "", b""),
        ));
    }
    cases.push(Case {
        name: "uis body cut short".into(),
        shape: Shape::Uis,
        bytes: format!("POST /v2.0 HTTP/1.1\r\nHost: g\r\nContent-Type: {JSON}\r\nContent-Length: 500\r\n\r\n{{\"jsonrpc\"")
            .into_bytes(),
        close_write: true,
    });
    cases
}

fn plain_cases() -> Vec<Case> {
    let bearer = format!("Authorization: Bearer {ADMIN_TOKEN}\r\n");
    let mut cases = Vec::new();
    for (label, method, target, extra, body) in [
        (
            "admin list, wrong verb",
            "DELETE",
            "/admin/deliveries",
            bearer.clone(),
            Vec::new(),
        ),
        (
            "admin retry, wrong verb",
            "GET",
            "/admin/deliveries/retry",
            bearer.clone(),
            Vec::new(),
        ),
        (
            "admin list, no token",
            "GET",
            "/admin/deliveries",
            String::new(),
            Vec::new(),
        ),
        (
            "admin list, wrong token",
            "GET",
            "/admin/deliveries",
            "Authorization: Bearer nope\r\n".into(),
            Vec::new(),
        ),
        (
            "admin list, bad limit",
            "GET",
            "/admin/deliveries?limit=abc&state=%FF",
            bearer.clone(),
            Vec::new(),
        ),
        (
            "admin list, huge limit",
            "GET",
            "/admin/deliveries?limit=99999999999999999999",
            bearer.clone(),
            Vec::new(),
        ),
        (
            "admin list, unknown state",
            "GET",
            "/admin/deliveries?state=zombie",
            bearer.clone(),
            Vec::new(),
        ),
        (
            "admin retry, not JSON",
            "POST",
            "/admin/deliveries/retry",
            format!("{bearer}{}", form(JSON)),
            b"ids=1".to_vec(),
        ),
        (
            "admin retry, ids not numbers",
            "POST",
            "/admin/deliveries/retry",
            format!("{bearer}{}", form(JSON)),
            br#"{"ids":["x",{}]}"#.to_vec(),
        ),
        (
            "admin retry, body over the limit",
            "POST",
            "/admin/deliveries/retry",
            format!("{bearer}{}", form(JSON)),
            [
                br#"{"ids":["#.to_vec(),
                b"1,".repeat(1_500_000),
                b"1]}".to_vec(),
            ]
            .concat(),
        ),
        (
            "admin retry, deep JSON",
            "POST",
            "/admin/deliveries/retry",
            format!("{bearer}{}", form(JSON)),
            nested(5000, "[", "]", "1").into_bytes(),
        ),
        (
            "admin replay, bad dates",
            "POST",
            "/admin/deliveries/replay",
            format!("{bearer}{}", form(JSON)),
            br#"{"target":"none","since":"yesterday"}"#.to_vec(),
        ),
        (
            "admin replay, unknown target",
            "POST",
            "/admin/deliveries/replay",
            format!("{bearer}{}", form(JSON)),
            br#"{"target":"\u0000"}"#.to_vec(),
        ),
        (
            "admin counts, wrong verb",
            "PUT",
            "/admin/deliveries/counts",
            bearer.clone(),
            Vec::new(),
        ),
        (
            "healthz, wrong verb",
            "POST",
            "/healthz",
            String::new(),
            Vec::new(),
        ),
        (
            "readyz, wrong verb",
            "DELETE",
            "/readyz",
            String::new(),
            Vec::new(),
        ),
        (
            "healthz with a query",
            "GET",
            "/healthz?%FF=%00",
            String::new(),
            Vec::new(),
        ),
        (
            "unrouted path",
            "GET",
            "/wp-login.php",
            String::new(),
            Vec::new(),
        ),
        (
            "unrouted path with a phone",
            "GET",
            "/+79001112233/anna@example.ru",
            String::new(),
            Vec::new(),
        ),
        (
            "path traversal",
            "GET",
            "/../../etc/passwd",
            String::new(),
            Vec::new(),
        ),
        (
            "encoded traversal",
            "GET",
            "/%2e%2e/%2e%2e/etc/passwd",
            String::new(),
            Vec::new(),
        ),
        (
            "double slashes",
            "GET",
            "//developer//v1//leads",
            String::new(),
            Vec::new(),
        ),
    ] {
        cases.push(case(
            label,
            Shape::Plain,
            request(method, target.as_bytes(), &extra, &body),
        ));
    }
    cases
}

/// Paths that name a dialect but no method of it.
fn dialect_edge_cases() -> Vec<Case> {
    let mut cases = Vec::new();
    for (label, shape, target) in [
        ("livetex bare /v2/", Shape::Livetex, "/v2/".to_owned()),
        ("livetex bare /v2", Shape::Livetex, "/v2".to_owned()),
        (
            "livetex unknown method",
            Shape::Livetex,
            "/v2/leads/explode".to_owned(),
        ),
        (
            "livetex id not a number",
            Shape::Livetex,
            "/v2/leads/%FF".to_owned(),
        ),
        ("bitrix24 bare /rest/", Shape::Bitrix24, "/rest/".to_owned()),
        ("bitrix24 bare /rest", Shape::Bitrix24, "/rest".to_owned()),
        (
            "bitrix24 webhook with an extra slash",
            Shape::Bitrix24,
            format!("/rest//1/{WEBHOOK_CODE}/crm.lead.list"),
        ),
        (
            "bitrix24 empty code",
            Shape::Bitrix24,
            "/rest/1//crm.lead.list".to_owned(),
        ),
        (
            "bitrix24 encoded user",
            Shape::Bitrix24,
            format!("/rest/%31/{WEBHOOK_CODE}/crm.lead.list"),
        ),
        (
            "bitrix24 without a method",
            Shape::Bitrix24,
            format!("/rest/1/{WEBHOOK_CODE}"),
        ),
        (
            "bitrix24 unknown method",
            Shape::Bitrix24,
            format!("/rest/1/{WEBHOOK_CODE}/crm.deal.drop"),
        ),
        (
            "bitrix24 wrong code",
            Shape::Bitrix24,
            "/rest/1/wrong/crm.lead.list".to_owned(),
        ),
        (
            "bitrix24 user a huge number",
            Shape::Bitrix24,
            format!("/rest/99999999999999999999999/{WEBHOOK_CODE}/crm.lead.list"),
        ),
        (
            "bitrix24 method with invalid UTF-8",
            Shape::Bitrix24,
            format!("/rest/1/{WEBHOOK_CODE}/crm.lead.%FF"),
        ),
        (
            "bitrix24 token call without auth",
            Shape::Bitrix24,
            "/rest/crm.lead.list".to_owned(),
        ),
        (
            "bitrix24 token call with a wrong token",
            Shape::Bitrix24,
            "/rest/crm.lead.list?auth=%00%01".to_owned(),
        ),
        (
            "salesman unknown action",
            Shape::Salesman,
            format!("/developer/v1/leads?login={LOGIN}&apikey={APIKEY}&action=drop"),
        ),
        (
            "salesman no credentials",
            Shape::Salesman,
            "/developer/v1/leads?action=list".to_owned(),
        ),
        (
            "salesman wrong key",
            Shape::Salesman,
            format!("/developer/v1/leads?login={LOGIN}&apikey=%FF&action=list"),
        ),
        (
            "salesman action an array",
            Shape::Salesman,
            format!("/developer/v1/leads?login={LOGIN}&apikey={APIKEY}&action[]=add"),
        ),
        (
            "salesman login an array",
            Shape::Salesman,
            format!("/developer/v1/leads?login[x]={LOGIN}&apikey={APIKEY}&action=list"),
        ),
    ] {
        cases.push(case(
            label,
            shape,
            request("GET", target.as_bytes(), "", b""),
        ));
    }
    cases
}

async fn exchange(base: &str, case: &Case) -> Result<Vec<Answer>, String> {
    let address = base.trim_start_matches("http://");
    let mut stream = TcpStream::connect(address)
        .await
        .map_err(|error| error.to_string())?;
    // A server that answers early and closes may reset a long send; what
    // it answered is still read below.
    let _ = stream.write_all(&case.bytes).await;
    if case.close_write {
        let _ = stream.shutdown().await;
    }
    let mut received = Vec::new();
    let read =
        tokio::time::timeout(Duration::from_secs(40), stream.read_to_end(&mut received)).await;
    if read.is_err() {
        return Err(format!("no end of answer within 40 s; got {received:?}"));
    }
    Ok(parse_answers(&received))
}

/// Every HTTP/1.1 answer in `bytes` (several when pipelined).
fn parse_answers(mut bytes: &[u8]) -> Vec<Answer> {
    let mut answers = Vec::new();
    while let Some(head_end) = bytes.windows(4).position(|window| window == b"\r\n\r\n") {
        let head = String::from_utf8_lossy(&bytes[..head_end]).to_string();
        let status = head
            .split(' ')
            .nth(1)
            .and_then(|status| status.parse().ok())
            .unwrap_or(0);
        let length = head
            .lines()
            .find_map(|line| {
                let (name, value) = line.split_once(':')?;
                name.eq_ignore_ascii_case("content-length")
                    .then(|| value.trim().parse::<usize>().ok())
                    .flatten()
            })
            .unwrap_or(bytes.len() - head_end - 4);
        let body_start = head_end + 4;
        let body_end = (body_start + length).min(bytes.len());
        answers.push(Answer {
            status,
            body: bytes[body_start..body_end].to_vec(),
        });
        bytes = &bytes[body_end..];
    }
    answers
}

/// Why `answer` is not in `shape`, if it is not.
fn shape_problem(shape: Shape, method_is_head: bool, answer: &Answer) -> Option<String> {
    if answer.status >= 500 || answer.status < 200 {
        return Some(format!("status {}", answer.status));
    }
    if method_is_head || (shape == Shape::Plain && answer.status < 400) {
        return None;
    }
    let Ok(body) = serde_json::from_slice::<Value>(&answer.body) else {
        return Some(format!(
            "status {} body not JSON: {:?}",
            answer.status,
            String::from_utf8_lossy(&answer.body)
        ));
    };
    let fits = match shape {
        Shape::Salesman => ["result", "error", "data"]
            .iter()
            .any(|key| body.get(key).is_some()),
        Shape::Livetex => {
            answer.status == 200
                || (body["code"].as_u64() == Some(u64::from(answer.status))
                    && body["message"].is_string())
        }
        Shape::Bitrix24 => {
            (answer.status == 200 && body.get("result").is_some())
                || (body["error"].is_string() && body["error_description"].is_string())
        }
        Shape::Uis => {
            body["jsonrpc"] == "2.0"
                && (body.get("result").is_some()
                    || (body["error"]["code"].is_i64()
                        && body["error"]["data"]["mnemonic"].is_string()))
        }
        Shape::Plain => answer.status < 400 || body["error"].is_string(),
    };
    (!fits).then(|| format!("status {} body {body}", answer.status))
}

/// The leads stored now, as text, by id.
async fn snapshot(gateway: &TestGateway) -> Vec<(String, String)> {
    let page = gateway
        .store()
        .query(leadgate::store::LeadQuery::default())
        .await
        .unwrap();
    page.leads
        .iter()
        .map(|lead| (format!("{:?}", lead.id), format!("{lead:?}")))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_requests_get_client_errors_in_the_dialect_and_lose_nothing() {
    let gateway = TestGateway::start_with(&format!(
        r#"
[server]
header_read_timeout_secs = 2
[admin]
listen = "127.0.0.1:0"
token = "{ADMIN_TOKEN}"
"#
    ))
    .await;
    // Leads acknowledged before the corpus, one per dialect.
    gateway
        .add(&[("title", "Анна"), ("phone", "+79001112233")])
        .await;
    let added = gateway
        .client
        .post(format!(
            "{}/rest/1/{WEBHOOK_CODE}/crm.lead.add.json",
            gateway.base
        ))
        .json(&json!({"fields": {"TITLE": "Пётр", "PHONE": [{"VALUE": "+79002223344"}]}}))
        .send()
        .await
        .unwrap();
    assert_eq!(added.status(), 200);
    let before = snapshot(&gateway).await;
    assert_eq!(before.len(), 2, "{before:?}");

    let mut cases = Vec::new();
    for dialect in dialects() {
        cases.extend(form_dialect_cases(&dialect));
    }
    cases.extend(uis_cases());
    cases.extend(plain_cases());
    cases.extend(dialect_edge_cases());
    // Pipelined: three requests in one write, three answers in order.
    let pipelined = [
        request(
            "GET",
            format!("/developer/v1/leads?login={LOGIN}&apikey={APIKEY}&action=stat").as_bytes(),
            "",
            b"",
        )
        .replace_connection_close(),
        request("GET", b"/developer/v1/leads?action=%FF", "", b"").replace_connection_close(),
        request("GET", b"/healthz", "", b""),
    ]
    .concat();
    assert!(cases.len() >= 300, "{} cases", cases.len());

    let mut failures = Vec::new();
    for case in &cases {
        // HEAD has no body; OPTIONS is answered as a CORS preflight.
        let is_head = case.bytes.starts_with(b"HEAD ") || case.bytes.starts_with(b"OPTIONS ");
        // The delivery calls are served on the admin listener only.
        let admin_call = case
            .bytes
            .split(|byte| *byte == b' ')
            .nth(1)
            .is_some_and(|target| target.starts_with(b"/admin/"));
        let to = match (&gateway.admin_base, admin_call) {
            (Some(admin), true) => admin,
            _ => &gateway.base,
        };
        match exchange(to, case).await {
            Err(error) => failures.push(format!("{}: {error}", case.name)),
            Ok(answers) if answers.is_empty() => failures.push(format!("{}: no answer", case.name)),
            Ok(answers) => {
                if let Some(problem) = shape_problem(case.shape, is_head, &answers[0]) {
                    failures.push(format!("{}: {problem}", case.name));
                }
            }
        }
    }
    let answers = exchange(
        &gateway.base,
        &case("pipelined", Shape::Salesman, pipelined),
    )
    .await
    .unwrap();
    assert_eq!(answers.len(), 3, "pipelined answers");
    assert!(answers.iter().all(|answer| answer.status == 200));

    let health = gateway
        .client
        .get(format!("{}/healthz", gateway.base))
        .send()
        .await
        .unwrap();
    assert_eq!(health.status(), 200, "the gateway is still up");
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
    // Hostile but valid adds may have added leads; none before changed.
    let after = snapshot(&gateway).await;
    for lead in &before {
        assert!(after.contains(lead), "lead {} changed or lost", lead.0);
    }
}

trait KeepAlive {
    fn replace_connection_close(self) -> Vec<u8>;
}

impl KeepAlive for Vec<u8> {
    /// The same request without `Connection: close`, for pipelining.
    fn replace_connection_close(self) -> Vec<u8> {
        let text = self;
        let needle = b"Connection: close\r\n";
        match text
            .windows(needle.len())
            .position(|window| window == needle)
        {
            Some(at) => [&text[..at], &text[at + needle.len()..]].concat(),
            None => text,
        }
    }
}
