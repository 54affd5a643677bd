//! UIS / CoMagic Data API end to end over real HTTP: the JSON-RPC envelope
//! (ids, parse errors, batch and notification refusals), authentication by
//! permanent keys and login.user sessions, get.sales_funnel with every
//! filter operator, nested trees, sort, fields and paging limits, lead upload
//! and the report, point limits, and leads crossing to the other dialects.

mod common;

use std::sync::Arc;

use chrono::{Duration, TimeZone, Utc};
use common::{TestGateway, UIS_AGENT_KEY, UIS_KEY, UIS_PASSWORD, WEBHOOK_CODE};
use leadgate::core::ManualClock;
use serde_json::{json, Value};

async fn raw(gateway: &TestGateway, body: &str) -> Value {
    let response = gateway
        .client
        .post(format!("{}/v2.0", gateway.base))
        .header("content-type", "application/json; charset=UTF-8")
        .body(body.to_owned())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200, "every JSON-RPC answer is HTTP 200");
    response.json().await.unwrap()
}

async fn rpc(gateway: &TestGateway, method: &str, params: Value) -> Value {
    let body = json!({"jsonrpc": "2.0", "id": "t", "method": method, "params": params});
    raw(gateway, &body.to_string()).await
}

fn with_key(mut params: Value) -> Value {
    params["access_token"] = json!(UIS_KEY);
    params
}

fn mnemonic(answer: &Value) -> &str {
    answer["error"]["data"]["mnemonic"]
        .as_str()
        .unwrap_or_else(|| panic!("not an error: {answer}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_envelope_is_json_rpc_2_exactly() {
    let mut gateway = TestGateway::start().await;
    let funnel = |id: Value| {
        json!({"jsonrpc": "2.0", "id": id, "method": "get.sales_funnel", "params": {"access_token": UIS_KEY}}).to_string()
    };
    for id in [json!("req_get_1.5"), json!(42), json!(-7), json!(1.5)] {
        let answer = raw(&gateway, &funnel(id.clone())).await;
        assert_eq!(answer["id"], id, "id echoed with its JSON type");
        assert_eq!(answer["jsonrpc"], "2.0");
        assert!(answer["result"]["data"].is_array());
    }
    for (body, code, expected) in [
        (
            "{\"jsonrpc\": \"2.0\", \"id\": 1, \"method\": ",
            -32700,
            "parse_error",
        ),
        ("not json at all", -32700, "parse_error"),
        (
            "[{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"login.user\",\"params\":{}}]",
            -32099,
            "batch_operations_not_supported",
        ),
        (
            "{\"jsonrpc\":\"2.0\",\"method\":\"get.sales_funnel\",\"params\":{}}",
            -32099,
            "notifications_not_supported",
        ),
        (
            "{\"jsonrpc\":\"2.0\",\"id\":{\"a\":1},\"method\":\"get.sales_funnel\"}",
            -32600,
            "invalid_request",
        ),
        ("\"just a string\"", -32600, "invalid_request"),
    ] {
        let answer = raw(&gateway, body).await;
        assert_eq!(answer["id"], Value::Null, "{body}");
        assert_eq!(answer["error"]["code"], code, "{body}");
        assert_eq!(mnemonic(&answer), expected, "{body}");
        assert!(answer["error"]["message"].is_string());
        assert!(answer["error"]["data"]["params"].is_object());
    }
    for (body, code, expected) in [
        (
            json!({"jsonrpc": "1.0", "id": 5, "method": "get.sales_funnel"}),
            -32600,
            "invalid_request",
        ),
        (
            json!({"id": 5, "method": "get.sales_funnel"}),
            -32600,
            "invalid_request",
        ),
        (
            json!({"jsonrpc": "2.0", "id": 5, "method": "get.calls_report"}),
            -32601,
            "method_not_found",
        ),
        (
            json!({"jsonrpc": "2.0", "id": 5, "method": 12}),
            -32600,
            "invalid_request",
        ),
        (
            json!({"jsonrpc": "2.0", "id": 5, "method": "get.sales_funnel", "params": [1]}),
            -32602,
            "data_type_error",
        ),
    ] {
        let answer = raw(&gateway, &body.to_string()).await;
        assert_eq!(answer["id"], 5, "{body}");
        assert_eq!(answer["error"]["code"], code, "{body}");
        assert_eq!(mnemonic(&answer), expected, "{body}");
    }
    let response = gateway
        .client
        .get(format!("{}/v2.0", gateway.base))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 405);
    assert_eq!(response.headers()["allow"], "POST");
    // Oversized bodies are refused in UIS's words too.
    let big = format!("{{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"login.user\",\"params\":{{\"login\":\"{}\"}}}}", "x".repeat(2 << 20));
    let answer = raw(&gateway, &big).await;
    assert_eq!(mnemonic(&answer), "invalid_request");
    gateway.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_sessions_and_agents() {
    let start = Utc.with_ymd_and_hms(2026, 3, 2, 9, 0, 0).unwrap();
    let clock = Arc::new(ManualClock::new(start));
    let mut gateway =
        TestGateway::start_on_clock(tempfile::tempdir().unwrap(), "", clock.clone()).await;
    let answer = rpc(
        &gateway,
        "login.user",
        json!({"login": "ivanov@example.ru", "password": UIS_PASSWORD}),
    )
    .await;
    let data = &answer["result"]["data"];
    let token = data["access_token"].as_str().unwrap().to_owned();
    assert_eq!(data["expire_at"], start.timestamp() + 3600);
    assert_eq!(data["app_id"], 1);
    let funnel = |token: &str| json!({"access_token": token});
    assert!(rpc(&gateway, "get.sales_funnel", funnel(&token)).await["result"].is_object());
    clock.advance(Duration::minutes(61));
    let expired = rpc(&gateway, "get.sales_funnel", funnel(&token)).await;
    assert_eq!(
        (expired["error"]["code"].clone(), mnemonic(&expired)),
        (json!(-32001), "access_token_expired")
    );
    assert_eq!(expired["error"]["data"]["field"], "access_token");
    assert_eq!(expired["error"]["data"]["value"], token);

    let answer = rpc(
        &gateway,
        "login.user",
        json!({"login": "ivanov@example.ru", "password": UIS_PASSWORD}),
    )
    .await;
    let token = answer["result"]["data"]["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        rpc(&gateway, "logout.user", json!({"access_token": token})).await["result"],
        json!({"data": {}})
    );
    let revoked = rpc(&gateway, "get.sales_funnel", funnel(&token)).await;
    assert_eq!(mnemonic(&revoked), "access_token_invalid");

    let wrong = rpc(
        &gateway,
        "login.user",
        json!({"login": "ivanov@example.ru", "password": "nope"}),
    )
    .await;
    assert_eq!(
        (wrong["error"]["code"].clone(), mnemonic(&wrong)),
        (json!(-32001), "auth_error")
    );
    let missing = rpc(&gateway, "get.sales_funnel", json!({})).await;
    assert_eq!(
        (
            mnemonic(&missing),
            missing["error"]["data"]["field"].clone()
        ),
        ("required_parameter_missed", json!("access_token"))
    );
    let unknown = rpc(&gateway, "get.sales_funnel", funnel("stolen")).await;
    assert_eq!(mnemonic(&unknown), "access_token_invalid");

    // user_id: only agents act for another employee.
    let forbidden = rpc(
        &gateway,
        "get.sales_funnel",
        json!({"access_token": UIS_KEY, "user_id": 2}),
    )
    .await;
    assert_eq!(
        (forbidden["error"]["code"].clone(), mnemonic(&forbidden)),
        (json!(-32003), "forbidden")
    );
    let agent = rpc(
        &gateway,
        "upload.offline_messages",
        json!({"access_token": UIS_AGENT_KEY, "user_id": 2,
        "offline_messages": [{"name": "Через агента", "phone": "+79001110000", "site_id": 1}]}),
    )
    .await;
    let id = agent["result"]["data"][0]["id"].as_i64().unwrap();
    let report = rpc(&gateway, "get.offline_messages_report", with_key(json!({"date_from": "2026-03-01 00:00:00", "date_till": "2026-03-31 00:00:00", "fields": ["id", "employee_id"]}))).await;
    assert_eq!(
        report["result"]["data"],
        json!([{"id": id, "employee_id": 2}])
    );
    let bad_user = rpc(
        &gateway,
        "get.sales_funnel",
        json!({"access_token": UIS_AGENT_KEY, "user_id": 999}),
    )
    .await;
    assert_eq!(mnemonic(&bad_user), "invalid_parameter_value");
    // The seed: user_id "is required for an agent".
    let no_user = rpc(
        &gateway,
        "get.sales_funnel",
        json!({"access_token": UIS_AGENT_KEY}),
    )
    .await;
    assert_eq!(
        (no_user["error"]["code"].clone(), mnemonic(&no_user)),
        (json!(-32602), "required_parameter_missed")
    );
    assert_eq!(no_user["error"]["data"]["field"], "user_id");
    // The seed's own request skeleton: an empty filter is no filter.
    let skeleton = rpc(
        &gateway,
        "get.sales_funnel",
        json!({"access_token": UIS_KEY, "filter": {}, "sort": [], "fields": []}),
    )
    .await;
    assert!(skeleton["result"]["data"].is_array(), "{skeleton}");
    gateway.stop().await;
}

const FUNNELS: &str = r#"
[mappings]
uis = "UIS_MAPPING"
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sales_funnels_filter_sort_fields_and_page() {
    // A user's own mapping: the built-in funnel plus two more.
    let dir = tempfile::tempdir().unwrap();
    let mapping_path = dir.path().join("uis.toml");
    let mut mapping = include_str!("../mappings/uis.toml").to_owned();
    for (ext_id, name) in [("b2b", "Продажи B2B"), ("partners", "Партнёры")] {
        mapping.push_str(&format!(
            "\n[[funnels]]\next_id = \"{ext_id}\"\nname = \"{name}\"\n[[funnels.stages]]\next_id = \"s1\"\nname = \"Первый\"\nstatus = \"in_process\"\ncanonical = [\"new\"]\n[[funnels.stages]]\next_id = \"won\"\nname = \"Сделка\"\nstatus = \"success\"\ncanonical = [\"converted\"]\n"
        ));
    }
    std::fs::write(&mapping_path, mapping).unwrap();
    let extra = FUNNELS.replace("UIS_MAPPING", &mapping_path.display().to_string());
    let mut gateway = TestGateway::start_in(dir, &extra).await;

    let all = rpc(&gateway, "get.sales_funnel", with_key(json!({}))).await;
    let result = &all["result"];
    assert_eq!(result["metadata"]["total_items"], 3);
    let limits = &result["metadata"]["limits"];
    for key in [
        "day_limit",
        "day_remaining",
        "day_reset",
        "minute_limit",
        "minute_remaining",
        "minute_reset",
    ] {
        assert!(
            limits[key].is_u64() || limits[key].is_i64(),
            "{key}: {limits}"
        );
    }
    let first = &result["data"][0];
    assert_eq!(first["ext_id"], "leadgate");
    assert_eq!(
        first["stages"][0],
        json!({"stage_ext_id": "new", "stage_name": "Новый", "stage_status": "in_process", "stage_order": 1})
    );
    assert_eq!(first["stages"][3]["stage_status"], "success");
    assert_eq!(first["stages"][4]["stage_status"], "failed");

    let names = |answer: &Value| -> Vec<String> {
        answer["result"]["data"]
            .as_array()
            .unwrap_or_else(|| panic!("{answer}"))
            .iter()
            .map(|row| row["name"].as_str().unwrap_or("").to_owned())
            .collect()
    };
    for (filter, expected) in [
        (
            json!({"field": "name", "operator": "=", "value": "Лиды"}),
            vec!["Лиды"],
        ),
        (
            json!({"field": "name", "operator": "!=", "value": "Лиды"}),
            vec!["Продажи B2B", "Партнёры"],
        ),
        (
            json!({"field": "name", "operator": "like", "value": "Па%"}),
            vec!["Партнёры"],
        ),
        (
            json!({"field": "ext_id", "operator": "regexp", "value": "^(b2b|lead)"}),
            vec!["Лиды", "Продажи B2B"],
        ),
        (
            json!({"field": "ext_id", "operator": "in", "value": ["b2b", "partners", "x"]}),
            vec!["Продажи B2B", "Партнёры"],
        ),
        (
            json!({"field": "ext_id", "operator": ">", "value": "c"}),
            vec!["Лиды", "Партнёры"],
        ),
        (
            json!({"field": "ext_id", "operator": "<", "value": "c"}),
            vec!["Продажи B2B"],
        ),
        (
            json!({"field": "ext_id", "operator": ">=", "value": "partners"}),
            vec!["Партнёры"],
        ),
        (
            json!({"field": "ext_id", "operator": "<=", "value": "b2b"}),
            vec!["Продажи B2B"],
        ),
        (
            json!({"field": "name", "operator": "=", "value": null}),
            vec![],
        ),
        (
            json!({"field": "name", "operator": "!=", "value": null}),
            vec!["Лиды", "Продажи B2B", "Партнёры"],
        ),
        (
            json!({"filters": [
            {"field": "ext_id", "operator": "=", "value": "leadgate"},
            {"filters": [{"field": "name", "operator": "like", "value": "%B2B"}, {"field": "ext_id", "operator": "!=", "value": "x"}], "condition": "and"}
        ], "condition": "or"}),
            vec!["Лиды", "Продажи B2B"],
        ),
        (
            json!({"filters": [{"field": "ext_id", "operator": "!=", "value": "leadgate"}, {"field": "name", "operator": "like", "value": "П%"}], "condition": "and"}),
            vec!["Продажи B2B", "Партнёры"],
        ),
    ] {
        let answer = rpc(
            &gateway,
            "get.sales_funnel",
            with_key(json!({"filter": filter.clone()})),
        )
        .await;
        assert_eq!(names(&answer), expected, "{filter}");
        assert_eq!(answer["result"]["metadata"]["total_items"], expected.len());
    }
    let sorted = rpc(
        &gateway,
        "get.sales_funnel",
        with_key(json!({"sort": [{"field": "name", "order": "desc"}], "fields": ["name"]})),
    )
    .await;
    assert_eq!(
        sorted["result"]["data"],
        json!([{"name": "Продажи B2B"}, {"name": "Партнёры"}, {"name": "Лиды"}])
    );
    let sorted = rpc(
        &gateway,
        "get.sales_funnel",
        with_key(
            json!({"sort": [{"field": "ext_id"}], "fields": ["ext_id"], "offset": 1, "limit": 1}),
        ),
    )
    .await;
    assert_eq!(sorted["result"]["data"], json!([{"ext_id": "leadgate"}]));
    assert_eq!(sorted["result"]["metadata"]["total_items"], 3);

    for (params, expected, field) in [
        (
            json!({"filter": {"field": "stages", "operator": "=", "value": 1}}),
            "filter_prohibited",
            "filter.field",
        ),
        (
            json!({"sort": [{"field": "stages"}]}),
            "sort_prohibited",
            "sort.field",
        ),
        (
            json!({"fields": ["ext_id", "color"]}),
            "unexpected_parameters",
            "fields",
        ),
        (json!({"colour": "red"}), "unexpected_parameters", "colour"),
        (json!({"limit": 10001}), "invalid_parameter_value", "limit"),
        (
            json!({"offset": 100001}),
            "invalid_parameter_value",
            "offset",
        ),
        (json!({"limit": "10"}), "data_type_error", "limit"),
        (
            json!({"filter": {"field": "name", "operator": "jsquery", "value": "x"}}),
            "invalid_parameter_value",
            "filter.operator",
        ),
        (
            json!({"filter": {"field": "name", "operator": "regexp", "value": "(("}}),
            "invalid_parameter_value",
            "filter.value",
        ),
        (
            json!({"filter": {"field": "name", "operator": "in", "value": "x"}}),
            "data_type_error",
            "filter.value",
        ),
        (
            json!({"filter": {"operator": "=", "value": "x"}}),
            "required_parameter_missed",
            "filter.field",
        ),
        (
            json!({"filter": {"filters": [], "condition": "xor"}}),
            "invalid_parameter_value",
            "filter.condition",
        ),
        (
            json!({"sort": [{"field": "name", "order": "sideways"}]}),
            "invalid_parameter_value",
            "sort.order",
        ),
    ] {
        let answer = rpc(&gateway, "get.sales_funnel", with_key(params.clone())).await;
        assert_eq!(answer["error"]["code"], -32602, "{params}");
        assert_eq!(mnemonic(&answer), expected, "{params}");
        assert_eq!(answer["error"]["data"]["field"], field, "{params}");
        assert!(
            answer["error"]["data"]["metadata"]["limits"].is_object(),
            "metadata rides on errors of get methods"
        );
    }
    gateway.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upload_then_report_and_cross_dialect() {
    let mut gateway = TestGateway::start().await;
    let now = Utc::now().with_timezone(&chrono::FixedOffset::east_opt(3 * 3600).unwrap());
    let today = now.format("%Y-%m-%d").to_string();
    let earlier = (now - Duration::days(2))
        .format("%Y-%m-%d 10:00:00")
        .to_string();
    let upload = rpc(&gateway, "upload.offline_messages", with_key(json!({"offline_messages": [
        {"name": "Анна", "phone": "+79001112233", "message": "Перезвоните", "site_id": 5, "ext_id": "crm-1", "form_name": "Обратный звонок",
         "user_fields": [{"ext_id": "color", "value": "red"}]},
        {"email": "b@example.ru", "campaign_id": 3, "date_time": earlier, "visitor_session_id": 77},
    ]}))).await;
    let ids: Vec<i64> = upload["result"]["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|item| item["id"].as_i64().unwrap())
        .collect();
    assert_eq!(ids.len(), 2);
    assert!(ids[0] < ids[1], "ids follow item order");
    // ext_id makes a retry idempotent.
    let again = rpc(
        &gateway,
        "upload.offline_messages",
        with_key(json!({"offline_messages": [
        {"name": "Анна", "phone": "+79001112233", "site_id": 5, "ext_id": "crm-1"}]})),
    )
    .await;
    assert_eq!(again["result"]["data"], json!([{"id": ids[0]}]));

    // Every refused item refuses the call, naming the item, storing nothing.
    let too_many: Vec<Value> = (0..51)
        .map(|n| json!({"phone": format!("+7900000{n:04}"), "site_id": 1}))
        .collect();
    for (items, expected, field) in [
        (json!(too_many), "data_limit_exceeded", "offline_messages"),
        (
            json!([{"name": "x", "site_id": 1}]),
            "required_parameter_missed",
            "offline_messages[0].phone",
        ),
        (
            json!([{"phone": "+79001112233", "site_id": 1}, {"phone": "+79001112233"}]),
            "required_parameter_missed",
            "offline_messages[1].site_id",
        ),
        (
            json!([{"phone": "+79001112233", "campaign_id": -1}]),
            "required_parameter_missed",
            "offline_messages[0].site_id",
        ),
        (
            json!([{"phone": "+79001112233", "site_id": 1, "date_time": "yesterday"}]),
            "invalid_date_time",
            "offline_messages[0].date_time",
        ),
        (
            json!([{"phone": "+79001112233", "site_id": 1, "date_time": "2099-01-01 00:00:00"}]),
            "invalid_date_time",
            "offline_messages[0].date_time",
        ),
        (
            json!([{"phone": "+79001112233", "site_id": 1, "colour": "red"}]),
            "unexpected_parameters",
            "offline_messages[0].colour",
        ),
        (
            json!([{"phone": "+79001112233", "site_id": "five"}]),
            "invalid_parameter_value",
            "offline_messages[0].site_id",
        ),
        (json!([]), "required_parameter_missed", "offline_messages"),
        (json!("not a list"), "data_type_error", "offline_messages"),
    ] {
        let answer = rpc(
            &gateway,
            "upload.offline_messages",
            with_key(json!({"offline_messages": items})),
        )
        .await;
        assert_eq!(mnemonic(&answer), expected, "{field}");
        assert_eq!(answer["error"]["data"]["field"], field);
    }

    let window = json!({"date_from": format!("{} 00:00:00", (now - Duration::days(30)).format("%Y-%m-%d")), "date_till": format!("{today} 23:59:59")});
    let report = |extra: Value| {
        let mut params = with_key(window.clone());
        for (key, value) in extra.as_object().unwrap() {
            params[key] = value.clone();
        }
        rpc(&gateway, "get.offline_messages_report", params)
    };
    let answer = report(json!({"sort": [{"field": "id", "order": "asc"}]})).await;
    assert_eq!(answer["result"]["metadata"]["total_items"], 2);
    let rows = answer["result"]["data"].as_array().unwrap();
    assert_eq!(rows[0]["visitor_name"], "Анна");
    assert_eq!(rows[0]["visitor_phone_number"], "+79001112233");
    assert_eq!(rows[0]["text"], "Перезвоните");
    assert_eq!(rows[0]["site_id"], 5);
    assert_eq!(rows[0]["form_name"], "Обратный звонок");
    assert_eq!(rows[0]["status"], "not_processed");
    assert_eq!(rows[1]["visitor_email"], "b@example.ru");
    assert_eq!(rows[1]["date_time"], earlier);
    assert_eq!(
        rows[1]["visitor_session_id"], 77,
        "a number, as UIS documents it"
    );

    // Stages from other dialects show as report statuses.
    let response = gateway
        .client
        .post(format!(
            "{}/rest/1/{WEBHOOK_CODE}/crm.lead.update",
            gateway.base
        ))
        .json(&json!({"id": ids[0], "fields": {"STATUS_ID": "IN_PROCESS"}}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let salesman = gateway
        .add(&[
            ("title", "Из SalesMan"),
            ("phone", "89005554433"),
            ("description", "форма"),
        ])
        .await;
    let answer = report(json!({"filter": {"field": "status", "operator": "=", "value": "processing"}, "fields": ["id", "status"]})).await;
    // The SalesMan lead went to its default assignee: in work too.
    assert_eq!(
        answer["result"]["data"],
        json!([{"id": ids[0], "status": "processing"}, {"id": salesman, "status": "processing"}])
    );
    let with_site = gateway
        .add(&[
            ("title", "С сайта"),
            ("phone", "+79005550000"),
            ("site", "https://shop.example.ru/form?utm=x"),
        ])
        .await;
    let answer = report(json!({"filter": {"field": "id", "operator": "=", "value": with_site}, "fields": ["id", "site_domain_name"]})).await;
    assert_eq!(
        answer["result"]["data"],
        json!([{"id": with_site, "site_domain_name": "shop.example.ru"}])
    );
    // A filter on the domain compares the domain the report shows.
    let answer = report(json!({"filter": {"field": "site_domain_name", "operator": "=", "value": "shop.example.ru"}, "fields": ["id"]})).await;
    assert_eq!(answer["result"]["data"], json!([{"id": with_site}]));
    let answer = report(json!({"filter": {"field": "visitor_name", "operator": "like", "value": "Из%"}, "fields": ["id", "visitor_phone_number", "text"]})).await;
    assert_eq!(
        answer["result"]["data"],
        // Typed "89005554433" in a SalesMan form; UIS documents E.164.
        json!([{"id": salesman, "visitor_phone_number": "+79005554433", "text": "форма"}])
    );
    let answer = report(
        json!({"sort": [{"field": "date_time", "order": "desc"}], "limit": 1, "fields": ["id"]}),
    )
    .await;
    assert_eq!(answer["result"]["data"].as_array().unwrap().len(), 1);
    // Every lead above, the one with a site included.
    assert_eq!(answer["result"]["metadata"]["total_items"], 4);

    // The uploaded lead through SalesMan and Bitrix24.
    let info = gateway
        .get_json(&format!("action=info&id={}", ids[0]))
        .await;
    assert_eq!(info["result"]["data"]["title"], "Анна");
    assert_eq!(info["result"]["data"]["phone"], "+79001112233");
    assert_eq!(info["result"]["data"]["description"], "Перезвоните");
    let response = gateway
        .client
        .get(format!(
            "{}/rest/1/{WEBHOOK_CODE}/crm.lead.get?id={}",
            gateway.base, ids[1]
        ))
        .send()
        .await
        .unwrap();
    let lead: Value = response.json().await.unwrap();
    assert_eq!(lead["result"]["EMAIL"][0]["VALUE"], "b@example.ru");

    // Report windows.
    for (from, till, expected, field) in [
        (
            "2026-01-01 00:00:00",
            "2026-06-01 00:00:00",
            "date_interval_limit_reached",
            "date_till",
        ),
        (
            "2026-01-01",
            "2026-02-01 00:00:00",
            "invalid_parameter_value",
            "date_from",
        ),
    ] {
        let answer = rpc(
            &gateway,
            "get.offline_messages_report",
            with_key(json!({"date_from": from, "date_till": till})),
        )
        .await;
        assert_eq!(
            (mnemonic(&answer), answer["error"]["data"]["field"].clone()),
            (expected, json!(field))
        );
    }
    let answer = rpc(
        &gateway,
        "get.offline_messages_report",
        with_key(json!({"date_till": "2026-02-01 00:00:00"})),
    )
    .await;
    assert_eq!(
        (mnemonic(&answer), answer["error"]["data"]["field"].clone()),
        ("required_parameter_missed", json!("date_from"))
    );
    let answer = report(json!({"sort": [{"field": "tags"}]})).await;
    assert_eq!(mnemonic(&answer), "sort_prohibited");
    gateway.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn points_run_out_per_minute() {
    // A fixed clock: the minute cannot roll over between the calls.
    let clock = Arc::new(ManualClock::new(
        Utc.with_ymd_and_hms(2026, 3, 2, 9, 0, 10).unwrap(),
    ));
    let mut gateway = TestGateway::start_on_clock(
        tempfile::tempdir().unwrap(),
        "[uis]\nminute_limit = 3\n",
        clock.clone(),
    )
    .await;
    for remaining in [2, 1, 0] {
        let answer = rpc(&gateway, "get.sales_funnel", with_key(json!({}))).await;
        assert_eq!(
            answer["result"]["metadata"]["limits"]["minute_remaining"],
            remaining
        );
    }
    let answer = rpc(&gateway, "get.sales_funnel", with_key(json!({}))).await;
    assert_eq!(answer["error"]["code"], -32029);
    assert_eq!(mnemonic(&answer), "limit_exceeded");
    assert_eq!(answer["error"]["data"]["params"]["limit_max_value"], 3);
    assert_eq!(
        answer["error"]["data"]["metadata"]["limits"]["minute_reset"],
        50
    );
    clock.advance(Duration::seconds(50));
    let answer = rpc(&gateway, "get.sales_funnel", with_key(json!({}))).await;
    assert_eq!(
        answer["result"]["metadata"]["limits"]["minute_remaining"], 2,
        "a new minute"
    );
    gateway.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn session_keys_live_in_the_store() {
    if common::on_postgres() {
        // It reads the SQLite file; the store conformance suite covers
        // sessions on PostgreSQL.
        return;
    }
    let mut first = TestGateway::start().await;
    let answer = rpc(
        &first,
        "login.user",
        json!({"login": "ivanov@example.ru", "password": UIS_PASSWORD}),
    )
    .await;
    let token = answer["result"]["data"]["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    first.stop().await;
    // Only a digest is stored, never the key.
    let database = std::fs::read(first.store_path()).unwrap();
    assert!(!String::from_utf8_lossy(&database).contains(&token));
    // A restarted gateway (or another process on the same store) knows it.
    let dir = std::mem::replace(&mut first.dir, tempfile::tempdir().unwrap());
    let mut second = TestGateway::start_in(dir, "").await;
    let answer = rpc(&second, "get.sales_funnel", json!({"access_token": token})).await;
    assert!(answer["result"]["data"].is_array(), "{answer}");
    assert_eq!(
        rpc(&second, "logout.user", json!({"access_token": token})).await["result"],
        json!({"data": {}})
    );
    let answer = rpc(&second, "logout.user", json!({"access_token": token})).await;
    assert_eq!(mnemonic(&answer), "access_token_invalid", "a key ends once");
    second.stop().await;
}
