//! SalesMan dialect end to end, over real HTTP against the gateway on an
//! ephemeral port: the seed's own request, round trips of every action,
//! assignment, filters and paging, and every kind of bad input.

mod common;

use common::{TestGateway, APIKEY, SEED_ACCOUNT};
use serde_json::{json, Value};

/// The example URL from the seed document, byte for byte after the host.
const SEED_ADD: &str = "/developer/v1/leads?login=vladislav%40isaler.ru&apikey=aMgiCQyj8bCToNc47BZZYrRICoWSIl&action=add&title=%D0%90%D0%BD%D0%B4%D1%80%D0%B5%D0%B5%D0%B2+%D0%B2%D0%BB%D0%B0%D0%B4%D0%B8%D1%81%D0%BB%D0%B0%D0%B2&email=vladislav%40god.ry&phone=%2B79001234567&company=SalesMan&description=The+best+crm+practice&ip=127.0.0.1&country=Ruusia&city=Perm&path=Test+Path&partner=";

fn error_code(answer: &Value) -> &str {
    answer["error"]["code"].as_str().unwrap_or("")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_seed_example_url_adds_a_lead() {
    let mut gateway = TestGateway::start_with(SEED_ACCOUNT).await;
    let response = gateway
        .client
        .get(format!("{}{SEED_ADD}", gateway.base))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.headers()["content-type"],
        "text/html; charset=utf-8"
    );
    assert_eq!(response.headers()["access-control-allow-origin"], "*");
    let text = response.text().await.unwrap();
    assert_eq!(
        text,
        r#"{"result":{"text":"Success","id":1,"mailresult":[]}}"#
    );

    let info = gateway.get_json("action=info&id=1").await;
    let lead = &info["result"]["data"];
    assert_eq!(info["result"]["id"], "1");
    assert_eq!(lead["title"], "Андреев владислав");
    assert_eq!(lead["email"], "vladislav@god.ry");
    assert_eq!(lead["phone"], "+79001234567");
    assert_eq!(lead["company"], "SalesMan");
    assert_eq!(lead["description"], "The best crm practice");
    assert_eq!(lead["ip"], "127.0.0.1");
    assert_eq!(lead["country"], "Ruusia");
    assert_eq!(lead["city"], "Perm");
    assert_eq!(lead["clientpathName"], "Test Path");
    assert_eq!(lead["partner"], Value::Null);
    // Given to the seed account's employee: in work, never status 0.
    assert_eq!(lead["status"], 1);
    assert_eq!(lead["statusName"], "В работе");
    gateway.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn add_info_list_stat_round_trip() {
    let mut gateway = TestGateway::start().await;
    let id = gateway
        .add(&[
            ("title", "Анна Петрова"),
            ("email", "Anna@Mail.ru"),
            ("phone", "8 (900) 111-22-33"),
            ("company", "ООО Ромашка"),
            ("description", "Хочу демо / срочно"),
            ("path", "Website"),
            ("site", "https://example.ru/form"),
            ("utm_source", "yandex"),
            ("utm_medium", "cpc"),
            ("user", "ivanov@example.ru"),
        ])
        .await;

    // info: the lead as sent, assigned to the requested employee, in work.
    let text = gateway.get(&format!("action=info&id={id}")).await;
    assert!(
        text.contains(r#""site":"https:\/\/example.ru\/form""#),
        "{text}"
    );
    let info: Value = serde_json::from_str(&text).unwrap();
    let lead = &info["result"]["data"];
    assert_eq!(lead["id"], id);
    assert_eq!(lead["email"], "Anna@Mail.ru");
    assert_eq!(lead["phone"], "8 (900) 111-22-33");
    assert_eq!(lead["description"], "Хочу демо / срочно");
    assert_eq!(lead["utm_source"], "yandex");
    assert_eq!(lead["utm_medium"], "cpc");
    assert_eq!(lead["iduser"], 2);
    assert_eq!(lead["userName"], "Иванов Иван");
    assert_eq!(lead["status"], 1);
    assert_eq!(lead["statusName"], "В работе");
    assert_eq!(lead["clientpath"], 1);
    assert_eq!(lead["clientpathName"], "Website");
    assert_eq!(lead["rezult"], 0);

    // list: the same lead as a row, in the seed's column order.
    let list = gateway.get_json("action=list").await;
    let row = &list["data"][0];
    let columns: Vec<&str> = row
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        columns,
        [
            "id",
            "datum",
            "datum_do",
            "email",
            "phone",
            "site",
            "company",
            "city",
            "country",
            "content",
            "clid",
            "client",
            "pid",
            "person",
            "did",
            "deal",
            "user",
            "userName",
            "status",
            "statusName",
            "rezult",
            "rezultName",
            "clientpath",
            "clientpathName"
        ]
    );
    assert_eq!(row["content"], "Хочу демо / срочно");
    assert_eq!(row["person"], "Анна Петрова");
    assert_eq!(row["user"], "2");
    assert_eq!(row["clid"], "0");

    // stat: one row per active employee, counts as strings.
    let stat = gateway.get_json("action=stat").await;
    assert_eq!(
        stat,
        json!({"data": [
            {"title": "demo@example.ru", "open": "0", "processed": "0"},
            {"title": "ivanov@example.ru", "open": "1", "processed": "0"},
        ]})
    );
    gateway.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn assignment_follows_user_then_earlier_contact_then_default() {
    let mut gateway = TestGateway::start().await;
    let first = gateway
        .add(&[("phone", "+7 900 555-44-33"), ("user", "ivanov@example.ru")])
        .await;
    // Same person, other notation, no user: stays with Ivanov.
    let second = gateway.add(&[("phone", "89005554433")]).await;
    // Same e-mail in another case: found by e-mail.
    gateway
        .add(&[
            ("email", "Client@Example.RU"),
            ("user", "ivanov@example.ru"),
        ])
        .await;
    let third = gateway.add(&[("email", "client@example.ru")]).await;
    // A stranger, and a lead naming an inactive employee: the coordinator.
    let fourth = gateway.add(&[("title", "Новый")]).await;
    let fifth = gateway
        .add(&[("title", "Другой"), ("user", "gone@example.ru")])
        .await;

    let assignee = |id: i64| {
        let gateway = &gateway;
        async move {
            let info = gateway.get_json(&format!("action=info&id={id}")).await;
            info["result"]["data"]["iduser"].to_string()
        }
    };
    assert_eq!(assignee(first).await, "2");
    assert_eq!(assignee(second).await, "2");
    assert_eq!(assignee(third).await, "2");
    assert_eq!(assignee(fourth).await, "1");
    assert_eq!(assignee(fifth).await, "1");
    gateway.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn list_filters_order_and_pages() {
    let mut gateway = TestGateway::start().await;
    let mut ids = Vec::new();
    for n in 0..205 {
        let user = if n % 5 == 0 { "ivanov@example.ru" } else { "" };
        ids.push(
            gateway
                .add(&[("title", &format!("Лид {n}")), ("user", user)])
                .await,
        );
    }
    let row_ids = |answer: &Value| -> Vec<i64> {
        answer["data"]
            .as_array()
            .map(|rows| {
                rows.iter()
                    .map(|row| row["id"].as_str().unwrap().parse().unwrap())
                    .collect()
            })
            .unwrap_or_default()
    };

    // Newest first by default, 200 a page, offset is the page number.
    let page0 = gateway.get_json("action=list").await;
    let page1 = gateway.get_json("action=list&offset=1").await;
    let mut newest_first = ids.clone();
    newest_first.reverse();
    assert_eq!(row_ids(&page0), newest_first[..200]);
    assert_eq!(row_ids(&page1), newest_first[200..]);
    let page2 = gateway.get_json("action=list&offset=2").await;
    assert_eq!(
        page2,
        json!({"result": "Error", "error": {"code": "404", "text": "Не найдено"}})
    );

    // The seed's own example leaves `first` empty: the default applies.
    let old = gateway
        .get_json("action=list&offset=0&order=datum&first=old")
        .await;
    assert_eq!(row_ids(&old), ids[..200]);
    let by_id = gateway.get_json("action=list&order=id&first=").await;
    assert_eq!(row_ids(&by_id), newest_first[..200]);

    // Dates are days on the dialect's clock (Moscow).
    let today = chrono::Utc::now()
        .with_timezone(&chrono::FixedOffset::east_opt(3 * 3600).unwrap())
        .date_naive();
    let tomorrow = today.succ_opt().unwrap();
    let both = gateway
        .get_json(&format!(
            "action=list&offset=1&dateStart={today}&dateEnd={today}"
        ))
        .await;
    assert_eq!(row_ids(&both).len(), 5);
    let since = gateway
        .get_json(&format!("action=list&offset=1&dateStart={today}"))
        .await;
    assert_eq!(row_ids(&since).len(), 5);
    let before_today = gateway
        .get_json(&format!("action=list&dateEnd={today}"))
        .await;
    assert_eq!(error_code(&before_today), "404");
    let before_tomorrow = gateway
        .get_json(&format!("action=list&offset=1&dateEnd={tomorrow}"))
        .await;
    assert_eq!(row_ids(&before_tomorrow).len(), 5);

    // status and user filters. Every lead got an employee (the requested
    // one or the default), so every lead is in work (status 1), none new.
    let in_work = gateway.get_json("action=list&status=1&offset=1").await;
    assert_eq!(row_ids(&in_work).len(), 5);
    let new = gateway.get_json("action=list&status=0").await;
    assert_eq!(error_code(&new), "404");
    let expected: Vec<i64> = newest_first
        .iter()
        .copied()
        .filter(|id| (id - ids[0]) % 5 == 0)
        .collect();
    let by_user = gateway
        .get_json("action=list&user=ivanov%40example.ru")
        .await;
    assert_eq!(row_ids(&by_user), expected);
    let open_or_work = gateway.get_json("action=list&status=0,1&offset=1").await;
    assert_eq!(row_ids(&open_or_work).len(), 5);
    let closed = gateway.get_json("action=list&status=3").await;
    assert_eq!(error_code(&closed), "404");
    let nobody = gateway.get_json("action=list&user=nobody").await;
    assert_eq!(error_code(&nobody), "404");
    gateway.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hundreds_of_concurrent_adds_all_come_back_from_list() {
    let mut gateway = TestGateway::start().await;
    const COUNT: usize = 300;
    let mut tasks = Vec::new();
    for n in 0..COUNT {
        let client = gateway.client.clone();
        let url = gateway.leads_url();
        tasks.push(tokio::spawn(async move {
            let answer: Value = client
                .post(url)
                .form(&[
                    ("login", "demo@example.ru"),
                    ("apikey", APIKEY),
                    ("action", "add"),
                    ("title", &format!("Параллельный {n}")),
                    ("phone", &format!("+7900{n:07}")),
                ])
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            (n, answer["result"]["id"].as_i64().unwrap())
        }));
    }
    let mut acknowledged = std::collections::HashMap::new();
    for task in tasks {
        let (n, id) = task.await.unwrap();
        assert!(acknowledged.insert(id, n).is_none(), "id {id} given twice");
    }
    let mut listed = std::collections::HashMap::new();
    for page in 0.. {
        let answer = gateway
            .get_json(&format!("action=list&offset={page}"))
            .await;
        let Some(rows) = answer["data"].as_array() else {
            assert_eq!(error_code(&answer), "404");
            break;
        };
        for row in rows {
            let id: i64 = row["id"].as_str().unwrap().parse().unwrap();
            listed.insert(id, row["person"].as_str().unwrap().to_owned());
        }
    }
    assert_eq!(listed.len(), COUNT);
    for (id, n) in acknowledged {
        assert_eq!(listed[&id], format!("Параллельный {n}"));
    }
    gateway.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn multipart_and_json_bodies_work_like_forms() {
    let mut gateway = TestGateway::start().await;
    let form = reqwest::multipart::Form::new()
        .text("login", "demo@example.ru")
        .text("apikey", APIKEY)
        .text("action", "add")
        .text("title", "Из Flexbe")
        .text("phone", "+79001112233")
        .text("utm_campaign", "весна");
    let answer: Value = gateway
        .client
        .post(gateway.leads_url())
        .multipart(form)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let multipart_id = answer["result"]["id"].as_i64().unwrap();

    // JSON with the API 2.0 header credentials.
    let answer: Value = gateway
        .client
        .post(gateway.leads_url())
        .header("apikey", APIKEY)
        .header("login", "demo@example.ru")
        .json(&json!({"action": "add", "title": "Из JSON", "email": "json@example.ru"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let json_id = answer["result"]["id"].as_i64().unwrap();

    let first = gateway
        .get_json(&format!("action=info&id={multipart_id}"))
        .await;
    assert_eq!(first["result"]["data"]["title"], "Из Flexbe");
    assert_eq!(first["result"]["data"]["utm_campaign"], "весна");
    let second = gateway.get_json(&format!("action=info&id={json_id}")).await;
    assert_eq!(second["result"]["data"]["email"], "json@example.ru");
    gateway.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retried_add_with_the_same_external_id_is_stored_once() {
    let mut gateway = TestGateway::start().await;
    let first = gateway
        .add(&[("title", "Повтор"), ("uids[site]", "order-77")])
        .await;
    let again = gateway
        .add(&[("title", "Повтор"), ("uids[site]", "order-77")])
        .await;
    assert_eq!(first, again);
    let other = gateway
        .add(&[("title", "Повтор"), ("uids[site]", "order-78")])
        .await;
    assert_ne!(first, other);
    gateway.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn credentials_are_checked_in_the_real_order() {
    let mut gateway = TestGateway::start().await;
    let url = gateway.leads_url();
    let ask = |query: &'static str| {
        let client = gateway.client.clone();
        let url = url.clone();
        async move {
            let response = client.get(format!("{url}?{query}")).send().await.unwrap();
            assert_eq!(response.status(), 200);
            assert_eq!(response.headers()["access-control-allow-origin"], "*");
            response.text().await.unwrap()
        }
    };
    let bad_key = r#"{"result":"Error","error":{"code":"400","text":"Не верный API key"}}"#;
    let bad_user = r#"{"result":"Error","error":{"code":"401","text":"Неизвестный пользователь"}}"#;
    let bad_action = r#"{"result":"Error","error":{"code":"402","text":"Не известный метод"}}"#;
    assert_eq!(ask("action=add").await, bad_key);
    assert_eq!(ask("login=nobody&apikey=wrong&action=nope").await, bad_key);
    assert_eq!(
        ask("login=nobody&apikey=test-apikey&action=nope").await,
        bad_user
    );
    assert_eq!(ask("apikey=test-apikey&action=list").await, bad_user);
    // A key of another account does not cover this account's users.
    assert_eq!(
        ask("login=demo%40example.ru&apikey=other-account-key&action=list").await,
        bad_user
    );
    // An inactive employee's key no longer works.
    assert_eq!(
        ask("login=gone%40example.ru&apikey=other-account-key&action=list").await,
        bad_user
    );
    assert_eq!(
        ask("login=DEMO%40example.ru&apikey=test-apikey&action=delete").await,
        bad_action
    );
    assert_eq!(
        ask("login=demo%40example.ru&apikey=test-apikey").await,
        bad_action
    );
    gateway.stop().await;
}

/// Every bad input answers HTTP 200 with a SalesMan envelope, and the lead
/// stored before is byte-for-byte the same afterwards.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_gets_an_envelope_and_changes_nothing() {
    let mut gateway = TestGateway::start_with("[server]\nbody_limit_bytes = 400000\n").await;
    let id = gateway
        .add(&[("title", "Сохранённый"), ("phone", "+79001234567")])
        .await;
    let before = gateway.get(&format!("action=info&id={id}")).await;
    let url = gateway.leads_url();
    let credentials = format!("login=demo%40example.ru&apikey={APIKEY}");

    let mut cases: Vec<(&str, reqwest::RequestBuilder, &str)> = Vec::new();
    let client = &gateway.client;
    cases.push((
        "invalid UTF-8 in the query",
        client.get(format!("{url}?{credentials}&action=add&title=%FF%FE")),
        "415",
    ));
    cases.push((
        "invalid UTF-8 in a form body",
        client
            .post(&url)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(
                [
                    format!("{credentials}&action=add&title=").into_bytes(),
                    vec![0xC3, 0x28],
                ]
                .concat(),
            ),
        "415",
    ));
    cases.push((
        "malformed JSON",
        client
            .post(format!("{url}?{credentials}"))
            .header("content-type", "application/json")
            .body("{\"action\":\"add\",\"title\":"),
        "415",
    ));
    cases.push((
        "JSON that is not an object",
        client
            .post(format!("{url}?{credentials}"))
            .header("content-type", "application/json")
            .body("[\"add\"]"),
        "415",
    ));
    cases.push((
        "malformed multipart",
        client
            .post(format!("{url}?{credentials}"))
            .header("content-type", "multipart/form-data; boundary=zzz")
            .body("--zzz\r\nContent-Disposition: form-data; name=\"title\"\r\n\r\nobrez"),
        "415",
    ));
    cases.push((
        "multipart without a boundary",
        client
            .post(format!("{url}?{credentials}"))
            .header("content-type", "multipart/form-data")
            .body("title=x"),
        "415",
    ));
    cases.push((
        "oversized body with a length",
        client
            .post(format!("{url}?{credentials}&action=add"))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(format!("title={}", "a".repeat(500_000))),
        "413",
    ));
    let chunks: Vec<Result<Vec<u8>, std::io::Error>> =
        (0..500).map(|_| Ok(vec![b'a'; 1000])).collect();
    cases.push((
        "oversized chunked body",
        client
            .post(format!("{url}?{credentials}&action=add"))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(reqwest::Body::wrap_stream(futures_util::stream::iter(
                chunks,
            ))),
        "413",
    ));
    cases.push((
        "a 100 KB field",
        client.post(&url).form(&[
            ("login", "demo@example.ru"),
            ("apikey", APIKEY),
            ("action", "add"),
            ("title", "Большой"),
            ("company", &"x".repeat(100 * 1024)),
        ]),
        "1",
    ));
    cases.push((
        "an array where a string belongs",
        client
            .post(format!("{url}?{credentials}"))
            .json(&json!({"action": "add", "email": ["a@b.ru", "c@d.ru"]})),
        "405",
    ));
    cases.push((
        "an object where a string belongs",
        client
            .post(format!("{url}?{credentials}"))
            .json(&json!({"action": "add", "title": {"first": "Анна"}})),
        "405",
    ));
    for (query, code) in [
        ("action=info&id=abc", "405"),
        ("action=info&id=999999", "404"),
        ("action=list&offset=-1", "405"),
        ("action=list&offset=abc", "405"),
        ("action=list&offset=99999999999999999999", "405"),
        ("action=list&first=sideways", "405"),
        ("action=list&order=password", "405"),
        ("action=list&dateStart=2024-13-45", "405"),
        ("action=list&dateEnd=yesterday", "405"),
        ("action=list&status=9", "405"),
        ("action=list&status=,", "405"),
    ] {
        cases.push((
            query,
            client.get(format!("{url}?{credentials}&{query}")),
            code,
        ));
    }
    let too_many: String = (0..1100).map(|n| format!("&k{n}=v")).collect();
    cases.push((
        "more than 1000 parameters",
        client.get(format!("{url}?{credentials}&action=add{too_many}")),
        "413",
    ));

    for (name, request, code) in cases {
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), 200, "{name}");
        assert_eq!(
            response.headers()["access-control-allow-origin"],
            "*",
            "{name}"
        );
        let text = response.text().await.unwrap();
        let answer: Value =
            serde_json::from_str(&text).unwrap_or_else(|_| panic!("{name}: not JSON: {text}"));
        assert_eq!(error_code(&answer), code, "{name}: {text}");
        assert!(
            answer["error"]["text"]
                .as_str()
                .is_some_and(|t| !t.is_empty()),
            "{name}"
        );
        if code == "1" {
            assert!(answer.get("result").is_none(), "{name}");
            assert_eq!(answer["Error"], answer["error"]["text"], "{name}");
        } else {
            assert_eq!(answer["result"], "Error", "{name}");
        }
    }

    // Nothing was stored by any of them, and the earlier lead is untouched.
    let list = gateway.get_json("action=list").await;
    assert_eq!(list["data"].as_array().unwrap().len(), 1);
    assert_eq!(gateway.get(&format!("action=info&id={id}")).await, before);
    gateway.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_100kb_error_names_the_field_in_the_callers_terms() {
    let mut gateway = TestGateway::start().await;
    let answer = gateway
        .post_form(&[
            ("action", "add"),
            ("title", "Большой"),
            ("description", &"a".repeat(100 * 1024)),
        ])
        .await;
    assert_eq!(
        answer["Error"],
        "Ошибка добавления лида. Поле description длиннее 65535 символов"
    );
    gateway.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn browsers_get_a_cors_preflight() {
    let mut gateway = TestGateway::start().await;
    let response = gateway
        .client
        .request(reqwest::Method::OPTIONS, gateway.leads_url())
        .header("origin", "https://shop.example.ru")
        .header("access-control-request-method", "POST")
        .header("access-control-request-headers", "content-type")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["access-control-allow-origin"], "*");
    assert_eq!(
        response.headers()["access-control-allow-headers"],
        "content-type"
    );
    gateway.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_php_path_and_any_verb_work() {
    let mut gateway = TestGateway::start().await;
    for method in ["GET", "POST", "PUT", "DELETE", "PATCH"] {
        let url = format!(
            "{}/developer/v1/leads.php?login=demo%40example.ru&apikey={APIKEY}&action=stat",
            gateway.base
        );
        let response = gateway
            .client
            .request(method.parse().unwrap(), url)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "{method}");
        let answer: Value = response.json().await.unwrap();
        assert!(answer["data"].is_array(), "{method}: {answer}");
    }
    gateway.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_and_readiness() {
    let mut gateway = TestGateway::start().await;
    for path in ["/healthz", "/readyz"] {
        let response = gateway
            .client
            .get(format!("{}{path}", gateway.base))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "{path}");
        assert!(response.headers().contains_key("x-request-id"));
    }
    gateway.stop().await;
}

/// A lead closed through another dialect is closed in SalesMan too: its
/// `datum_do` is set and `stat` counts it as processed, not open.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn leads_closed_elsewhere_count_as_processed() {
    let gateway = TestGateway::start_with("[livetex]\nrequire_conversation = false\n").await;
    let counters = |stat: &Value| {
        let row = stat["data"]
            .as_array()
            .unwrap()
            .iter()
            .find(|row| row["title"] == "demo@example.ru")
            .unwrap()
            .clone();
        (row["open"].clone(), row["processed"].clone())
    };
    let first = gateway
        .add(&[("title", "Первый"), ("phone", "+79001110001")])
        .await;
    let second = gateway
        .add(&[("title", "Второй"), ("phone", "+79001110002")])
        .await;
    let stat = gateway.get_json("action=stat").await;
    assert_eq!(counters(&stat), (json!("2"), json!("0")));

    // Bitrix24: a status of the failure semantic closes the lead.
    let closed: Value = gateway
        .client
        .post(format!(
            "{}/rest/1/{}/crm.lead.update.json",
            gateway.base,
            common::WEBHOOK_CODE
        ))
        .json(&json!({"id": first, "fields": {"STATUS_ID": "JUNK"}}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(closed["result"], true, "{closed}");
    // LiveTex: setCompleted.
    let credentials = base64::Engine::encode(
        &base64::engine::general_purpose::STANDARD,
        format!("{}:{}", common::LOGIN, common::LIVETEX_PASSWORD),
    );
    let completed = gateway
        .client
        .post(format!("{}/v2/leads/setCompleted", gateway.base))
        .header("authorization", format!("Basic {credentials}"))
        .json(&json!({"id": second}))
        .send()
        .await
        .unwrap();
    assert_eq!(
        completed.status(),
        200,
        "{}",
        completed.text().await.unwrap()
    );

    for id in [first, second] {
        let info = gateway.get_json(&format!("action=info&id={id}")).await;
        assert!(
            info["result"]["data"]["datum_do"].is_string(),
            "lead {id}: {info}"
        );
    }
    let stat = gateway.get_json("action=stat").await;
    assert_eq!(counters(&stat), (json!("0"), json!("2")), "{stat}");
}
