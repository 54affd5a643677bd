//! LiveTex dialect end to end, over real HTTP: authentication (Basic and
//! Bearer), every Leads method in its RPC, dotted and RESTful forms, every
//! `q` criterion, `fields`, `sort` and paging, the access level of every
//! role, locks under concurrency and with an injected clock, Utils.batch,
//! every error, and leads crossing from SalesMan and Bitrix24.

mod common;

use std::sync::Arc;

use chrono::{Duration, TimeZone, Utc};
use common::{TestGateway, WEBHOOK_CODE};
use leadgate::core::ManualClock;
use serde_json::{json, Value};

const STAFF: &str = r#"
[[employees]]
id = 20
name = "Админ"
login = "admin@lt.ru"
role = "admin"
[[employees]]
id = 21
name = "Управляющий"
login = "chief@lt.ru"
role = "chief"
[[employees]]
id = 22
name = "Партнёр"
login = "partner@lt.ru"
role = "chief_partner"
[[employees]]
id = 23
name = "Оператор Один"
login = "op1@lt.ru"
role = "operator"
[[employees]]
id = 24
name = "Оператор Два"
login = "op2@lt.ru"
role = "operator"
[[employees]]
id = 25
name = "Руководитель"
login = "man@lt.ru"
role = "manager"
[[employees]]
id = 26
name = "Админ-партнёр"
login = "apartner@lt.ru"
role = "admin_partner"

[livetex]
token_secret = "test-secret"

[[livetex.credentials]]
login = "admin@lt.ru"
password = "pw-admin"
[[livetex.credentials]]
login = "chief@lt.ru"
password = "pw-chief"
[[livetex.credentials]]
login = "partner@lt.ru"
password = "pw-partner"
[[livetex.credentials]]
login = "op1@lt.ru"
password = "pw-op1"
[[livetex.credentials]]
login = "op2@lt.ru"
password = "pw-op2"
[[livetex.credentials]]
login = "man@lt.ru"
password = "pw-man"
[[livetex.credentials]]
login = "apartner@lt.ru"
password = "pw-apartner"

[[routing]]
site_ids = [12]
employees = ["op1@lt.ru"]
[[routing]]
department_ids = [7]
employees = ["man@lt.ru"]
"#;

fn basic(login: &str) -> String {
    use base64::Engine;
    let password = format!("pw-{}", login.split('@').next().unwrap());
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{login}:{password}"))
    )
}

async fn call(
    gateway: &TestGateway,
    who: &str,
    method: &str,
    path: &str,
    form: &[(&str, &str)],
) -> (u16, Value) {
    let url = format!("{}{path}", gateway.base);
    let request = if method == "GET" {
        gateway.client.get(url).query(form)
    } else {
        gateway.client.post(url).form(form)
    };
    let response = request
        .header("authorization", basic(who))
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    assert_eq!(
        response.headers()["content-type"],
        "application/json; charset=utf-8"
    );
    (status, response.json().await.unwrap())
}

async fn ok(gateway: &TestGateway, who: &str, path: &str, form: &[(&str, &str)]) -> Value {
    let (status, body) = call(gateway, who, "POST", path, form).await;
    assert_eq!(status, 200, "{path} {form:?}: {body}");
    body
}

async fn add(gateway: &TestGateway, who: &str, form: &[(&str, &str)]) -> i64 {
    let body = ok(gateway, who, "/v2/leads/add", form).await;
    body["results"]["id"].as_i64().unwrap()
}

async fn ids(gateway: &TestGateway, who: &str, path: &str, query: &[(&str, &str)]) -> Vec<i64> {
    let (status, body) = call(gateway, who, "GET", path, query).await;
    assert_eq!(status, 200, "{path} {query:?}: {body}");
    let mut ids: Vec<i64> = body["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|lead| lead["id"].as_i64().unwrap())
        .collect();
    assert!(body["total"].as_u64().unwrap() as usize >= ids.len());
    ids.sort_unstable();
    ids
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokens_basic_auth_and_every_path_form() {
    let mut gateway = TestGateway::start_with(STAFF).await;
    // Password grant.
    let response = gateway
        .client
        .post(format!("{}/v2/oauth2/token", gateway.base))
        .form(&[
            ("grant_type", "password"),
            ("username", "op1@lt.ru"),
            ("password", "pw-op1"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let token: Value = response.json().await.unwrap();
    assert_eq!(token["token_type"], "bearer");
    assert_eq!(token["expires_in"], 86400);
    let bearer = format!("Bearer {}", token["access_token"].as_str().unwrap());

    let response = gateway
        .client
        .post(format!("{}/v2/leads/add", gateway.base))
        .header("authorization", &bearer)
        .form(&[
            ("name", "Ирина"),
            ("site_id", "12"),
            ("conversation_id", "88001"),
            ("phone", "+79161234567"),
            ("text", "Hello"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let added: Value = response.json().await.unwrap();
    let lead = &added["results"];
    assert_eq!(lead["id"], 1);
    assert_eq!(lead["name"], "Ирина");
    assert_eq!(lead["phone"], "+79161234567");
    assert_eq!(lead["email"], Value::Null);
    assert_eq!(lead["type"], "chat");
    assert_eq!(lead["result"], "missed");
    assert_eq!(lead["is_managed"], true);
    assert_eq!(lead["is_locked"], false);
    assert_eq!(lead["site"], json!({"id": 12, "url": null}));
    // Sent as a number, a LiveTex conversation id comes back as one.
    assert_eq!(lead["conversation"]["id"], 88001);
    assert_eq!(lead["created_by"]["id"], 23);
    assert_eq!(lead["assigned_to"]["id"], 23);
    let created = lead["created_at"].as_str().unwrap();
    assert_eq!(
        created.len(),
        19,
        "seconds, Moscow time, no offset: {created}"
    );

    // The same lead through every path form, both verbs, any case.
    for (verb, path) in [
        ("GET", "/v2/leads/show?id=1"),
        ("POST", "/v2/leads/show?id=1"),
        ("GET", "/v2/Leads.show?id=1"),
        ("GET", "/v2/leads.SHOW?id=1"),
        ("GET", "/v2/leads/1"),
    ] {
        let request = if verb == "GET" {
            gateway.client.get(format!("{}{path}", gateway.base))
        } else {
            gateway.client.post(format!("{}{path}", gateway.base))
        };
        let response = request
            .header("authorization", &bearer)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "{verb} {path}");
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["results"]["id"], 1, "{verb} {path}");
    }
    // RESTful list and add; JSON body; access_token parameter.
    let response = gateway
        .client
        .post(format!("{}/v2/leads", gateway.base))
        .header("authorization", basic("op1@lt.ru"))
        .json(&json!({"name": "Олег", "site_id": 12, "conversation_id": 5, "email": "oleg@example.ru"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let token_text = token["access_token"].as_str().unwrap();
    let response = gateway
        .client
        .get(format!(
            "{}/v2/leads?access_token={token_text}&sort=created_at:a",
            gateway.base
        ))
        .send()
        .await
        .unwrap();
    let listed: Value = response.json().await.unwrap();
    assert_eq!(listed["total"], 2);
    assert_eq!(listed["results"][1]["name"], "Олег");

    // Refusals.
    for (authorization, status) in [
        (None, 401),
        (Some("Basic Zm9vOmJhcg==".to_owned()), 401),
        (
            Some(format!(
                "Basic {}",
                base64::Engine::encode(
                    &base64::engine::general_purpose::STANDARD,
                    "op1@lt.ru:wrong"
                )
            )),
            401,
        ),
        (Some("Bearer not.a-token".to_owned()), 401),
        (Some(format!("{bearer}x")), 401),
    ] {
        let mut request = gateway
            .client
            .get(format!("{}/v2/leads/list", gateway.base));
        if let Some(authorization) = &authorization {
            request = request.header("authorization", authorization);
        }
        let response = request.send().await.unwrap();
        assert_eq!(response.status().as_u16(), status, "{authorization:?}");
        let body: Value = response.json().await.unwrap();
        assert_eq!(body, json!({"code": 401, "message": "Unauthorized"}));
    }
    let response = gateway
        .client
        .post(format!("{}/v2/oauth2/token", gateway.base))
        .form(&[
            ("grant_type", "password"),
            ("username", "op1@lt.ru"),
            ("password", "wrong"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
    let (status, body) = call(&gateway, "op1@lt.ru", "GET", "/v2/leads/nosuch", &[]).await;
    assert_eq!((status, body["message"].clone()), (404, json!("Not Found")));
    let (status, _) = call(
        &gateway,
        "op1@lt.ru",
        "GET",
        "/v2/leads/show",
        &[("id", "999")],
    )
    .await;
    assert_eq!(status, 404);
    gateway.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn add_validates_exactly_as_the_seed_says() {
    let mut gateway = TestGateway::start_with(STAFF).await;
    let who = "op1@lt.ru";
    let errors = |body: &Value| body["errors"].clone();
    let (status, body) = call(
        &gateway,
        who,
        "POST",
        "/v2/leads/add",
        &[("email", "a@b.ru")],
    )
    .await;
    assert_eq!(status, 422);
    assert_eq!(body["message"], "Unprocessable Entity");
    assert_eq!(
        errors(&body),
        json!({"name": ["required"], "site_id": ["required"], "conversation_id": ["required"]})
    );
    let base = [("name", "N"), ("site_id", "1"), ("conversation_id", "2")];
    let (status, body) = call(&gateway, who, "POST", "/v2/leads/add", &base).await;
    assert_eq!(status, 422);
    assert_eq!(
        errors(&body),
        json!({"email": ["required"], "phone": ["required"]})
    );
    let long = "я".repeat(2001);
    let (status, body) = call(
        &gateway,
        who,
        "POST",
        "/v2/leads/add",
        &[
            base[0],
            base[1],
            base[2],
            ("email", "a@b.ru"),
            ("text", &long),
        ],
    )
    .await;
    assert_eq!((status, errors(&body)), (422, json!({"text": ["invalid"]})));
    let (status, body) = call(
        &gateway,
        who,
        "POST",
        "/v2/leads/add",
        &[
            base[0],
            base[1],
            base[2],
            ("email", "a@b.ru"),
            ("answer_text", &long),
        ],
    )
    .await;
    assert_eq!(
        (status, errors(&body)),
        (422, json!({"answer_text": ["invalid"]}))
    );
    let name = "x".repeat(256);
    let (status, body) = call(
        &gateway,
        who,
        "POST",
        "/v2/leads/add",
        &[("name", &name), base[1], base[2], ("email", "a@b.ru")],
    )
    .await;
    assert_eq!((status, errors(&body)), (422, json!({"name": ["invalid"]})));
    let (status, body) = call(
        &gateway,
        who,
        "POST",
        "/v2/leads/add",
        &[base[0], ("site_id", "twelve"), base[2], ("email", "a@b.ru")],
    )
    .await;
    assert_eq!(
        (status, errors(&body)),
        (422, json!({"site_id": ["invalid"]}))
    );
    let (status, body) = call(
        &gateway,
        who,
        "POST",
        "/v2/leads/add",
        &[
            base[0],
            base[1],
            base[2],
            ("email", "a@b.ru"),
            ("result", "maybe"),
        ],
    )
    .await;
    assert_eq!(
        (status, errors(&body)),
        (422, json!({"result": ["invalid"]}))
    );
    // Exactly 2000 characters and result=completed are fine.
    let text = "я".repeat(2000);
    let lead = ok(
        &gateway,
        who,
        "/v2/leads/add",
        &[
            base[0],
            base[1],
            base[2],
            ("phone", "89001112233"),
            ("text", &text),
            ("result", "completed"),
            ("type", "form"),
        ],
    )
    .await;
    assert_eq!(lead["results"]["result"], "completed");
    assert_eq!(lead["results"]["completed_by"]["id"], 23);
    assert_eq!(lead["results"]["duration"], 0);
    assert_eq!(
        lead["results"]["type"], "chat",
        "Leads.add always makes a chat lead"
    );
    let (status, body) = call(&gateway, who, "GET", "/v2/leads/list", &[]).await;
    assert_eq!(
        (status, body["total"].clone()),
        (200, json!(1)),
        "nothing refused was stored"
    );
    gateway.stop().await;
}

/// Leads for the listing tests: (creator, form).
async fn seed_leads(gateway: &TestGateway) {
    let rows: Vec<(&str, Vec<(&str, &str)>)> = vec![
        (
            "op1@lt.ru",
            vec![
                ("name", "A"),
                ("site_id", "12"),
                ("conversation_id", "1"),
                ("email", "a@x.ru"),
                ("text", "нужен счёт"),
                ("search_engine", "yandex"),
                ("ext_referer", "https://ya.ru"),
                ("visitor_id", "v1"),
                ("department_id", "7"),
            ],
        ),
        (
            "op2@lt.ru",
            vec![
                ("name", "B"),
                ("site_id", "13"),
                ("conversation_id", "2"),
                ("phone", "+79000000002"),
                ("text", "перезвоните"),
                ("int_referer", "https://site/page"),
                ("entry_page", "https://site/"),
                ("visitor_id", "v2"),
            ],
        ),
        (
            "op2@lt.ru",
            vec![
                ("name", "C"),
                ("site_id", "12"),
                ("conversation_id", "3"),
                ("phone", "+79000000003"),
                ("email", "c@x.ru"),
                ("text", "тариф"),
                ("search_query", "crm тариф"),
            ],
        ),
        (
            "admin@lt.ru",
            vec![
                ("name", "D"),
                ("site_id", "14"),
                ("conversation_id", "4"),
                ("email", "d@x.ru"),
                ("text", "секрет"),
                ("department_id", "7"),
            ],
        ),
        (
            "partner@lt.ru",
            vec![
                ("name", "E"),
                ("site_id", "14"),
                ("conversation_id", "5"),
                ("phone", "+79000000005"),
                ("text", "партнёрский"),
            ],
        ),
    ];
    for (who, form) in rows {
        add(gateway, who, &form).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_q_criterion_fields_sort_and_paging() {
    let mut gateway = TestGateway::start_with(STAFF).await;
    seed_leads(&gateway).await;
    ok(
        &gateway,
        "admin@lt.ru",
        "/v2/leads/setcompleted",
        &[("id", "2"), ("answer_text", "done")],
    )
    .await;
    let admin = "admin@lt.ru";
    let list = "/v2/leads/list";
    for (q, expected) in [
        ("ids=1,3,99", vec![1, 3]),
        ("site_ids=12", vec![1, 3]),
        ("department_ids=7", vec![1, 4]),
        ("created_by_ids=24", vec![2, 3]),
        ("assigned_to_ids=20,22", vec![4, 5]),
        ("completed_by_ids=20", vec![2]),
        ("visitor_ids=v1,v2", vec![1, 2]),
        ("type=chat", vec![1, 2, 3, 4, 5]),
        ("type=form", vec![]),
        ("result=completed", vec![2]),
        ("result=missed", vec![1, 3, 4, 5]),
        ("duration>=0", vec![2]),
        ("email_exists=yes", vec![1, 3, 4]),
        ("phone_exists=0", vec![1, 4]),
        ("is_managed=true", vec![4]),
        ("is_managed=false", vec![1, 2, 3, 5]),
        ("search_engine=yandex", vec![1]),
        ("ext_referer=https://ya.ru", vec![1]),
        ("int_referer=https://site/page", vec![2]),
        ("entry_page=https://site/", vec![2]),
        ("enter_page=https://site/", vec![2]),
        ("keyword=crm тариф", vec![3]),
        ("text=тариф", vec![3]),
        ("created_at=today", vec![1, 2, 3, 4, 5]),
        ("created_at>=lastweek", vec![1, 2, 3, 4, 5]),
        ("created_at<2020-01-01", vec![]),
        ("created_at>=17.09.2007", vec![1, 2, 3, 4, 5]),
        ("created_at<=20070917153548", vec![]),
        ("site_ids=12;email_exists=true", vec![1, 3]),
        ("site_ids=12;phone_exists=true;email_exists=true", vec![3]),
        ("site_ids=12&phone_exists=true", vec![3]),
    ] {
        assert_eq!(
            ids(&gateway, admin, list, &[("q", q)]).await,
            expected,
            "q={q}"
        );
    }
    for bad in [
        "nosuch=1",
        "ids=a,b",
        "created_at=someday",
        "email_exists=perhaps",
        "result=lost",
        "ids",
    ] {
        let (status, body) = call(&gateway, admin, "GET", list, &[("q", bad)]).await;
        assert_eq!(
            (status, body["errors"].clone()),
            (422, json!({"q": ["invalid"]})),
            "q={bad}"
        );
    }

    // fields, with nesting.
    let (_, body) = call(
        &gateway,
        admin,
        "GET",
        list,
        &[
            ("q", "ids=1"),
            ("fields", "id,name,site(id),created_by(name)"),
        ],
    )
    .await;
    assert_eq!(
        body["results"][0],
        json!({"id": 1, "name": "A", "site": {"id": 12}, "created_by": {"name": "Оператор Один"}})
    );
    let (status, _) = call(&gateway, admin, "GET", list, &[("fields", "id,site(")]).await;
    assert_eq!(status, 422);

    // sort, offset, limit.
    let (_, body) = call(
        &gateway,
        admin,
        "GET",
        list,
        &[("sort", "created_at:d"), ("limit", "2"), ("offset", "1")],
    )
    .await;
    assert_eq!(body["total"], 5);
    let page: Vec<i64> = body["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|lead| lead["id"].as_i64().unwrap())
        .collect();
    assert_eq!(page, [4, 3]);
    let (_, body) = call(
        &gateway,
        admin,
        "GET",
        list,
        &[("sort", "result:d"), ("fields", "id")],
    )
    .await;
    assert_eq!(body["results"][0]["id"], 2, "completed sorts after missed");
    let (_, body) = call(
        &gateway,
        admin,
        "GET",
        list,
        &[("sort", "duration:d"), ("fields", "id,duration")],
    )
    .await;
    assert!(body["results"]
        .as_array()
        .unwrap()
        .iter()
        .any(|lead| lead["duration"].is_i64()));
    let (_, body) = call(&gateway, admin, "GET", list, &[]).await;
    assert_eq!(
        body["results"].as_array().unwrap().len(),
        5,
        "default limit 50"
    );
    for (name, value) in [
        ("limit", "101"),
        ("limit", "0"),
        ("limit", "x"),
        ("offset", "-1"),
        ("sort", "name:a"),
        ("sort", "created_at:z"),
    ] {
        let (status, body) = call(&gateway, admin, "GET", list, &[(name, value)]).await;
        assert_eq!(status, 422, "{name}={value}");
        assert_eq!(body["errors"], json!({name: ["invalid"]}));
    }
    gateway.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_role_sees_what_seed_000_says() {
    let mut gateway = TestGateway::start_with(STAFF).await;
    seed_leads(&gateway).await;
    let list = "/v2/leads/list";
    assert_eq!(
        ids(&gateway, "admin@lt.ru", list, &[]).await,
        [1, 2, 3, 4, 5]
    );
    assert_eq!(
        ids(&gateway, "apartner@lt.ru", list, &[]).await,
        [1, 2, 3, 4, 5]
    );
    assert_eq!(
        ids(&gateway, "chief@lt.ru", list, &[]).await,
        [1, 2, 3, 4, 5]
    );
    assert_eq!(
        ids(&gateway, "partner@lt.ru", list, &[]).await,
        [1, 2, 3, 4, 5]
    );
    // Operators and managers: own (created or assigned) and routed.
    assert_eq!(
        ids(&gateway, "op1@lt.ru", list, &[]).await,
        [1, 3],
        "own 1, routed site 12: 1 and 3"
    );
    assert_eq!(ids(&gateway, "op2@lt.ru", list, &[]).await, [2, 3]);
    assert_eq!(
        ids(&gateway, "man@lt.ru", list, &[]).await,
        [1, 4],
        "routed department 7"
    );
    // Routed only.
    assert_eq!(
        ids(&gateway, "op1@lt.ru", "/v2/leads/listrouted", &[]).await,
        [1, 3]
    );
    assert_eq!(
        ids(&gateway, "op2@lt.ru", "/v2/leads/listRouted", &[]).await,
        Vec::<i64>::new()
    );
    assert_eq!(
        ids(&gateway, "admin@lt.ru", "/v2/leads/listRouted", &[]).await,
        Vec::<i64>::new()
    );
    assert_eq!(
        ids(
            &gateway,
            "op1@lt.ru",
            "/v2/leads/listRouted",
            &[("q", "creator_type=employee")]
        )
        .await,
        [1, 3]
    );
    let (status, _) = call(
        &gateway,
        "op1@lt.ru",
        "GET",
        "/v2/leads/listRouted",
        &[("q", "is_managed=1")],
    )
    .await;
    assert_eq!(status, 422, "listRouted has no is_managed criterion");

    // Texts: chief never; chief_partner only on own leads; others always.
    let text_of = |body: &Value, id: i64| {
        body["results"]
            .as_array()
            .unwrap()
            .iter()
            .find(|lead| lead["id"] == id)
            .map(|lead| (lead["text"].clone(), lead["answer_text"].clone()))
    };
    let (_, chief) = call(&gateway, "chief@lt.ru", "GET", list, &[]).await;
    assert!(chief["results"]
        .as_array()
        .unwrap()
        .iter()
        // Hidden, yet present: the seed lists text on every lead.
        .all(|lead| lead["text"] == ""));
    let (_, partner) = call(&gateway, "partner@lt.ru", "GET", list, &[]).await;
    assert_eq!(text_of(&partner, 5).unwrap().0, "партнёрский");
    assert_eq!(text_of(&partner, 4).unwrap().0, "");
    let (_, operator) = call(&gateway, "op1@lt.ru", "GET", list, &[]).await;
    assert_eq!(text_of(&operator, 3).unwrap().0, "тариф");

    // show / showRouted and the other methods keep to the same scope.
    let (status, body) = call(
        &gateway,
        "op1@lt.ru",
        "GET",
        "/v2/leads/show",
        &[("id", "4")],
    )
    .await;
    assert_eq!(
        (status, body),
        (403, json!({"code": 403, "message": "Forbidden"}))
    );
    let (status, _) = call(
        &gateway,
        "op2@lt.ru",
        "GET",
        "/v2/leads/showRouted",
        &[("id", "3")],
    )
    .await;
    assert_eq!(status, 403, "own but not routed");
    let (status, body) = call(
        &gateway,
        "op1@lt.ru",
        "GET",
        "/v2/leads/showrouted",
        &[("id", "3")],
    )
    .await;
    assert_eq!(
        (status, body["results"]["is_managed"].clone()),
        (200, json!(false))
    );
    let (status, body) = call(
        &gateway,
        "chief@lt.ru",
        "GET",
        "/v2/leads/show",
        &[("id", "4")],
    )
    .await;
    assert_eq!((status, body["results"]["text"].clone()), (200, json!("")));
    for method in ["lock", "unlock", "setcompleted"] {
        let (status, _) = call(
            &gateway,
            "op2@lt.ru",
            "POST",
            &format!("/v2/leads/{method}"),
            &[("id", "1")],
        )
        .await;
        assert_eq!(status, 403, "{method}");
    }
    gateway.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_concurrent_lock_attempts_leave_one_owner() {
    let gateway = TestGateway::start_with(STAFF).await;
    seed_leads(&gateway).await;
    let gateway = Arc::new(gateway);
    let mut attempts = Vec::new();
    for attempt in 0..50 {
        let gateway = Arc::clone(&gateway);
        let who = if attempt % 2 == 0 {
            "admin@lt.ru"
        } else {
            "apartner@lt.ru"
        };
        attempts.push(tokio::spawn(async move {
            let body = ok(&gateway, who, "/v2/leads/lock", &[("id", "1")]).await;
            (who, body["results"].as_bool().unwrap())
        }));
    }
    let mut winners = std::collections::HashSet::new();
    let mut granted = 0;
    for attempt in attempts {
        let (who, locked) = attempt.await.unwrap();
        if locked {
            winners.insert(who);
            granted += 1;
        }
    }
    assert_eq!(winners.len(), 1, "exactly one employee holds the lock");
    assert!(granted >= 1);
    let owner = *winners.iter().next().unwrap();
    let body = ok(&gateway, "admin@lt.ru", "/v2/leads/show", &[("id", "1")]).await;
    assert_eq!(body["results"]["is_locked"], true);
    let owner_id = if owner == "admin@lt.ru" { 20 } else { 26 };
    assert_eq!(body["results"]["locked_by"]["id"], owner_id);
    let mut gateway = Arc::try_unwrap(gateway).ok().expect("no other handles");
    gateway.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn locks_expire_and_prolong_on_the_injected_clock() {
    let start = Utc.with_ymd_and_hms(2026, 3, 2, 9, 0, 0).unwrap();
    let clock = Arc::new(ManualClock::new(start));
    let dir = tempfile::tempdir().unwrap();
    let mut gateway = TestGateway::start_on_clock(dir, STAFF, clock.clone()).await;
    seed_leads(&gateway).await;
    let lock = |who: &'static str| {
        let gateway = &gateway;
        async move { ok(gateway, who, "/v2/leads/lock", &[("id", "1")]).await["results"].clone() }
    };
    let unlock = |who: &'static str| {
        let gateway = &gateway;
        async move { ok(gateway, who, "/v2/leads/unlock", &[("id", "1")]).await["results"].clone() }
    };
    assert_eq!(
        unlock("admin@lt.ru").await,
        true,
        "an unlocked lead unlocks fine"
    );
    assert_eq!(lock("admin@lt.ru").await, true);
    assert_eq!(lock("apartner@lt.ru").await, false);
    assert_eq!(
        unlock("apartner@lt.ru").await,
        false,
        "only the holder unlocks"
    );
    clock.advance(Duration::minutes(10));
    assert_eq!(
        lock("admin@lt.ru").await,
        true,
        "the holder prolongs: until 9:60"
    );
    clock.advance(Duration::minutes(35)); // 9:45
    assert_eq!(
        lock("apartner@lt.ru").await,
        false,
        "still held after the first 30 minutes"
    );
    clock.advance(Duration::minutes(16)); // 10:01
    let body = ok(&gateway, "admin@lt.ru", "/v2/leads/show", &[("id", "1")]).await;
    assert_eq!(body["results"]["is_locked"], false, "expired by itself");
    assert_eq!(lock("apartner@lt.ru").await, true);
    assert_eq!(unlock("admin@lt.ru").await, false);
    assert_eq!(unlock("apartner@lt.ru").await, true);
    assert_eq!(lock("admin@lt.ru").await, true);

    // setCompleted on the same clock: duration, idempotent.
    clock.advance(Duration::minutes(5));
    let done = ok(
        &gateway,
        "admin@lt.ru",
        "/v2/leads/setCompleted",
        &[("id", "1"), ("answer_text", "Выставили счёт")],
    )
    .await;
    assert_eq!(done, json!({"results": null}));
    let first =
        ok(&gateway, "admin@lt.ru", "/v2/leads/show", &[("id", "1")]).await["results"].clone();
    assert_eq!(first["result"], "completed");
    assert_eq!(first["completed_by"]["id"], 20);
    assert_eq!(first["answer_text"], "Выставили счёт");
    assert_eq!(first["duration"], 66 * 60);
    assert_eq!(first["completed_at"], "2026-03-02T13:06:00");
    clock.advance(Duration::minutes(5));
    ok(
        &gateway,
        "apartner@lt.ru",
        "/v2/leads/setcompleted",
        &[("id", "1"), ("answer_text", "другое")],
    )
    .await;
    let second =
        ok(&gateway, "admin@lt.ru", "/v2/leads/show", &[("id", "1")]).await["results"].clone();
    assert_eq!(second, first, "completing again changes nothing");
    let (status, _) = call(
        &gateway,
        "admin@lt.ru",
        "POST",
        "/v2/leads/setcompleted",
        &[("id", "99")],
    )
    .await;
    assert_eq!(status, 404);
    let (status, body) = call(&gateway, "admin@lt.ru", "POST", "/v2/leads/lock", &[]).await;
    assert_eq!(
        (status, body["errors"].clone()),
        (422, json!({"id": ["required"]}))
    );
    gateway.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn utils_batch_runs_up_to_ten_with_references() {
    let mut gateway = TestGateway::start_with(STAFF).await;
    seed_leads(&gateway).await;
    let mut form: Vec<(String, String)> = vec![
        ("methods[0][id]".into(), "first".into()),
        ("methods[0][method]".into(), "Leads.list".into()),
        ("methods[0][parameters][q]".into(), "ids=2,3".into()),
        ("methods[0][parameters][sort]".into(), "created_at:a".into()),
        ("methods[1][id]".into(), "lock".into()),
        ("methods[1][method]".into(), "leads.lock".into()),
        (
            "methods[1][parameters][id]".into(),
            "${first:$.results[1].id}".into(),
        ),
        ("methods[2][id]".into(), "missing".into()),
        ("methods[2][method]".into(), "Leads.show".into()),
        ("methods[2][parameters][id]".into(), "999".into()),
        ("methods[3][id]".into(), "other".into()),
        ("methods[3][method]".into(), "Sites.list".into()),
    ];
    for index in 4..12 {
        form.push((format!("methods[{index}][id]"), format!("m{index}")));
        form.push((format!("methods[{index}][method]"), "Leads.show".into()));
        form.push((format!("methods[{index}][parameters][id]"), "1".into()));
    }
    let form: Vec<(&str, &str)> = form
        .iter()
        .map(|(name, value)| (name.as_str(), value.as_str()))
        .collect();
    let body = ok(&gateway, "admin@lt.ru", "/v2/utils/batch", &form).await;
    let results = body["results"].as_array().unwrap();
    assert_eq!(results.len(), 10, "the 11th and later are ignored");
    assert_eq!(results[0]["code"], 200);
    assert_eq!(results[0]["total"], 2);
    assert_eq!(
        results[1],
        json!({"id": "lock", "code": 200, "message": "", "results": true})
    );
    assert_eq!(results[2]["code"], 404);
    assert_eq!(results[2]["message"], "Not Found");
    assert_eq!(results[3]["code"], 404);
    let shown = ok(&gateway, "admin@lt.ru", "/v2/leads/show", &[("id", "3")]).await;
    assert_eq!(
        shown["results"]["locked_by"]["id"], 20,
        "the referenced lead was locked"
    );
    gateway.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn leads_from_salesman_and_bitrix24_show_the_same_data() {
    let mut gateway = TestGateway::start_with(STAFF).await;
    let salesman = gateway
        .add(&[
            ("title", "Пётр"),
            ("email", "petr@example.ru"),
            ("phone", "+7 900 123-45-67"),
            ("description", "Хочу демо"),
            ("city", "Пермь"),
        ])
        .await;
    let shown = ok(
        &gateway,
        "admin@lt.ru",
        "/v2/leads/show",
        &[("id", &salesman.to_string())],
    )
    .await["results"]
        .clone();
    assert_eq!(shown["name"], "Пётр");
    assert_eq!(shown["email"], "petr@example.ru");
    assert_eq!(shown["phone"], "+7 900 123-45-67");
    assert_eq!(shown["text"], "Хочу демо");
    assert_eq!(shown["city"], "Пермь");
    assert_eq!(shown["type"], "form");
    assert_eq!(shown["result"], "missed");

    let response = gateway
        .client
        .post(format!("{}/rest/1/{WEBHOOK_CODE}/crm.lead.add", gateway.base))
        .json(&json!({"fields": {"NAME": "Сидор", "EMAIL": [{"VALUE": "sid@example.ru"}], "COMMENTS": "Из Битрикса", "STATUS_ID": "CONVERTED"}}))
        .send()
        .await
        .unwrap();
    let bitrix: Value = response.json().await.unwrap();
    let id = bitrix["result"].as_i64().unwrap().to_string();
    let shown =
        ok(&gateway, "admin@lt.ru", "/v2/leads/show", &[("id", &id)]).await["results"].clone();
    assert_eq!(shown["name"], "Сидор");
    assert_eq!(shown["email"], "sid@example.ru");
    assert_eq!(shown["text"], "Из Битрикса");
    assert_eq!(shown["result"], "completed");
    gateway.stop().await;
}
