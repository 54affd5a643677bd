//! Bitrix24 dialect end to end, over real HTTP against the gateway on an
//! ephemeral port: every method in every encoding, batch with references and
//! halt, paging past 50, filters, errors with their HTTP statuses, the rate
//! limit, and leads crossing between Bitrix24 and SalesMan.

mod common;

use common::{TestGateway, APIKEY, BITRIX24_TOKEN, WEBHOOK_CODE};
use serde_json::{json, Value};

fn webhook(gateway: &TestGateway) -> String {
    format!("{}/rest/1/{WEBHOOK_CODE}", gateway.base)
}

async fn call(gateway: &TestGateway, method: &str, body: Value) -> (u16, Value) {
    let response = gateway
        .client
        .post(format!("{}/{method}", webhook(gateway)))
        .json(&body)
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

async fn ok(gateway: &TestGateway, method: &str, body: Value) -> Value {
    let (status, answer) = call(gateway, method, body).await;
    assert_eq!(status, 200, "{method}: {answer}");
    assert_time_block(&answer["time"]);
    answer
}

fn assert_time_block(time: &Value) {
    for key in ["start", "finish", "duration", "processing", "operating"] {
        assert!(
            time[key].is_f64() || time[key].is_u64(),
            "time.{key}: {time}"
        );
    }
    for key in ["date_start", "date_finish"] {
        let text = time[key].as_str().unwrap_or_default();
        assert!(
            chrono::DateTime::parse_from_rfc3339(text).is_ok(),
            "time.{key} = {text:?}"
        );
    }
    assert!(time["operating_reset_at"].is_i64());
}

async fn get_status(gateway: &TestGateway, url: &str) -> (u16, Value) {
    let response = gateway.client.get(url).send().await.unwrap();
    (response.status().as_u16(), response.json().await.unwrap())
}

const FULL_FIELDS: &str = r#"{
    "TITLE": "Заявка с сайта", "NAME": "Анна", "SECOND_NAME": "Петровна", "LAST_NAME": "Иванова",
    "HONORIFIC": "HNR_RU_1", "BIRTHDATE": "1990-05-17", "POST": "Директор",
    "COMMENTS": "Перезвоните после обеда", "COMPANY_TITLE": "ООО Ромашка",
    "CURRENCY_ID": "RUB", "OPPORTUNITY": "15000", "OPENED": "N",
    "SOURCE_ID": "WEB", "SOURCE_DESCRIPTION": "Форма на главной", "STATUS_ID": "NEW",
    "STATUS_DESCRIPTION": "ждёт звонка",
    "ADDRESS": "ул. Ленина, 1", "ADDRESS_2": "офис 5", "ADDRESS_CITY": "Пермь",
    "ADDRESS_POSTAL_CODE": "614000", "ADDRESS_REGION": "Пермский", "ADDRESS_PROVINCE": "Пермский край",
    "ADDRESS_COUNTRY": "Россия", "ADDRESS_COUNTRY_CODE": "RU",
    "UTM_SOURCE": "yandex", "UTM_MEDIUM": "cpc", "UTM_CAMPAIGN": "spring", "UTM_CONTENT": "banner", "UTM_TERM": "crm",
    "PHONE": [{"VALUE": "+7 900 111-22-33", "VALUE_TYPE": "WORK"}, {"VALUE": "8 (900) 444-55-66", "VALUE_TYPE": "MOBILE"}],
    "EMAIL": [{"VALUE": "Anna@Example.ru", "VALUE_TYPE": "HOME"}],
    "WEB": [{"VALUE": "https://romashka.ru", "VALUE_TYPE": "WORK"}],
    "IM": [{"VALUE": "@anna", "VALUE_TYPE": "TELEGRAM"}],
    "UF_CRM_1700000000": "любимый клиент",
    "ufCrm_1700000001": "новый стиль",
    "IS_MANUAL_OPPORTUNITY": "Y",
    "LINK": [{"VALUE": "imol|telegram|1|42", "VALUE_TYPE": "USER"}]
}"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn add_every_seed_field_and_read_it_back() {
    let mut gateway = TestGateway::start().await;
    let fields: Value = serde_json::from_str(FULL_FIELDS).unwrap();
    let added = ok(
        &gateway,
        "crm.lead.add",
        json!({"fields": fields, "params": {"REGISTER_SONET_EVENT": "Y"}}),
    )
    .await;
    assert_eq!(added["result"], json!(1), "add answers an integer id");

    let lead = ok(&gateway, "crm.lead.get", json!({"id": 1})).await["result"].clone();
    assert_eq!(lead["ID"], "1", "read ids are strings");
    for (field, expected) in [
        ("TITLE", "Заявка с сайта"),
        ("NAME", "Анна"),
        ("SECOND_NAME", "Петровна"),
        ("LAST_NAME", "Иванова"),
        ("HONORIFIC", "HNR_RU_1"),
        ("BIRTHDATE", "1990-05-17"),
        ("POST", "Директор"),
        ("COMMENTS", "Перезвоните после обеда"),
        ("COMPANY_TITLE", "ООО Ромашка"),
        ("CURRENCY_ID", "RUB"),
        ("OPPORTUNITY", "15000.00"),
        ("OPENED", "N"),
        ("SOURCE_ID", "WEB"),
        ("SOURCE_DESCRIPTION", "Форма на главной"),
        ("STATUS_ID", "NEW"),
        ("STATUS_SEMANTIC_ID", "P"),
        ("STATUS_DESCRIPTION", "ждёт звонка"),
        ("ADDRESS", "ул. Ленина, 1"),
        ("ADDRESS_CITY", "Пермь"),
        ("ADDRESS_COUNTRY_CODE", "RU"),
        ("UTM_SOURCE", "yandex"),
        ("UTM_TERM", "crm"),
        ("HAS_PHONE", "Y"),
        ("HAS_EMAIL", "Y"),
        ("IS_RETURN_CUSTOMER", "N"),
        ("ASSIGNED_BY_ID", "1"),
        ("CREATED_BY_ID", "1"),
        ("UF_CRM_1700000000", "любимый клиент"),
        ("UF_CRM_1700000001", "новый стиль"),
        ("IS_MANUAL_OPPORTUNITY", "Y"),
    ] {
        assert_eq!(lead[field], expected, "{field}");
    }
    assert_eq!(lead["DATE_CLOSED"], "");
    assert_eq!(lead["COMPANY_ID"], Value::Null);
    let created = lead["DATE_CREATE"].as_str().unwrap();
    assert!(created.ends_with("+03:00"), "{created}");
    assert_eq!(
        lead["PHONE"],
        json!([
            {"ID": "1", "VALUE_TYPE": "WORK", "VALUE": "+7 900 111-22-33", "TYPE_ID": "PHONE"},
            {"ID": "2", "VALUE_TYPE": "MOBILE", "VALUE": "8 (900) 444-55-66", "TYPE_ID": "PHONE"}
        ])
    );
    // Every multifield, LINK included, in the portal's item shape.
    for (field, value_type, value) in [
        ("EMAIL", "HOME", "Anna@Example.ru"),
        ("WEB", "WORK", "https://romashka.ru"),
        ("IM", "TELEGRAM", "@anna"),
        ("LINK", "USER", "imol|telegram|1|42"),
    ] {
        assert_eq!(
            lead[field][0],
            json!({"ID": "1", "VALUE_TYPE": value_type, "VALUE": value, "TYPE_ID": field}),
            "{field}"
        );
        let keys: Vec<&String> = lead[field][0].as_object().unwrap().keys().collect();
        assert_eq!(keys, ["ID", "VALUE_TYPE", "VALUE", "TYPE_ID"], "{field}");
    }

    // Linking a company or contact makes a returning customer.
    let returning = ok(
        &gateway,
        "crm.lead.add",
        json!({"fields": {"TITLE": "again", "CONTACT_ID": 77, "COMPANY_ID": "12"}, "options": {"REGISTER_SONET_EVENT": "N"}}),
    )
    .await["result"]
        .clone();
    let lead = ok(&gateway, "crm.lead.get", json!({"ID": returning})).await["result"].clone();
    assert_eq!(lead["IS_RETURN_CUSTOMER"], "Y");
    assert_eq!(lead["CONTACT_ID"], "77");
    assert_eq!(lead["COMPANY_ID"], "12");
    assert_eq!(lead["STATUS_ID"], "NEW", "defaults: STATUS_ID NEW");
    gateway.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_encoding_reaches_the_same_method() {
    let mut gateway = TestGateway::start().await;
    let base = webhook(&gateway);
    // Form-urlencoded with PHP brackets, .json suffix (the reference's example).
    let form = "fields%5BTITLE%5D=%D0%97%D0%B0%D1%8F%D0%B2%D0%BA%D0%B0&fields%5BPHONE%5D%5B0%5D%5BVALUE%5D=%2B79001112233&fields%5BPHONE%5D%5B0%5D%5BVALUE_TYPE%5D=MOBILE";
    let response = gateway
        .client
        .post(format!("{base}/crm.lead.add.json"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.json::<Value>().await.unwrap()["result"], 1);
    // GET with the query string, upper-case method name.
    let (status, answer) = get_status(
        &gateway,
        &format!("{base}/CRM.LEAD.ADD?fields[TITLE]=query&fields[EMAIL][0][VALUE]=q@example.ru"),
    )
    .await;
    assert_eq!((status, answer["result"].clone()), (200, json!(2)));
    // Multipart.
    let form = reqwest::multipart::Form::new()
        .text("fields[TITLE]", "multipart")
        .text("fields[PHONE][n0][VALUE]", "+79005550101")
        // The token below acts as this manager, who sees their own leads.
        .text("fields[ASSIGNED_BY_ID]", "2");
    let response = gateway
        .client
        .post(format!("{base}/crm.lead.add"))
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(response.json::<Value>().await.unwrap()["result"], 3);
    // Token auth on /rest/{method}, in the body and in the query.
    let response = gateway
        .client
        .post(format!("{}/rest/crm.lead.get", gateway.base))
        .json(&json!({"auth": BITRIX24_TOKEN, "id": 3}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let lead = response.json::<Value>().await.unwrap()["result"].clone();
    assert_eq!(lead["TITLE"], "multipart");
    assert_eq!(lead["PHONE"][0]["VALUE"], "+79005550101");
    let (status, answer) = get_status(
        &gateway,
        &format!(
            "{}/rest/crm.lead.get.json?auth={BITRIX24_TOKEN}&id=3",
            gateway.base
        ),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(answer["result"]["TITLE"], "multipart");
    // The administrator's lead is outside the manager's rights.
    let (status, answer) = get_status(
        &gateway,
        &format!(
            "{}/rest/crm.lead.get.json?auth={BITRIX24_TOKEN}&id=1",
            gateway.base
        ),
    )
    .await;
    assert_eq!(
        (status, answer),
        (
            400,
            json!({"error": "", "error_description": "Access denied."})
        )
    );
    // A token caller creates leads as its own employee.
    let (_, added) = get_status(
        &gateway,
        &format!(
            "{}/rest/crm.lead.add?auth={BITRIX24_TOKEN}&fields[TITLE]=t",
            gateway.base
        ),
    )
    .await;
    let lead = ok(&gateway, "crm.lead.get", json!({"id": added["result"]})).await;
    assert_eq!(lead["result"]["CREATED_BY_ID"], "2");
    gateway.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn list_filters_orders_selects_and_pages_by_fifty() {
    let mut gateway = TestGateway::start().await;
    let mut commands = serde_json::Map::new();
    for index in 0..120 {
        let status = if index % 3 == 0 { "IN_PROCESS" } else { "NEW" };
        commands.insert(
            format!("k{index}"),
            json!(format!(
                "crm.lead.add?fields[TITLE]=lead {index:03}&fields[STATUS_ID]={status}&fields[OPPORTUNITY]={index}&fields[PHONE][0][VALUE]=%2B7900000{index:04}&fields[UF_CRM_N]={index}"
            )),
        );
        if commands.len() == 50 || index == 119 {
            let answer = ok(&gateway, "batch", json!({"halt": 0, "cmd": commands})).await;
            assert_eq!(answer["result"]["result_error"], json!([]));
            // Independent commands run together, yet ids follow command order.
            let ids: Vec<i64> = answer["result"]["result"]
                .as_object()
                .unwrap()
                .values()
                .map(|id| id.as_i64().unwrap())
                .collect();
            assert!(ids.windows(2).all(|pair| pair[0] + 1 == pair[1]), "{ids:?}");
            commands = serde_json::Map::new();
        }
    }

    let first = ok(&gateway, "crm.lead.list", json!({"order": {"ID": "ASC"}})).await;
    assert_eq!(first["total"], 120);
    assert_eq!(first["next"], 50);
    assert_eq!(first["result"].as_array().unwrap().len(), 50);
    assert_eq!(first["result"][0]["ID"], "1");
    assert!(
        first["result"][0].get("PHONE").is_none(),
        "* leaves out multifields"
    );
    let last = ok(&gateway, "crm.lead.list", json!({"start": 100})).await;
    assert_eq!(last["result"].as_array().unwrap().len(), 20);
    assert!(last.get("next").is_none());
    assert_eq!(last["result"][19]["ID"], "120");

    // Key-set paging without counting.
    let keyset = ok(
        &gateway,
        "crm.lead.list",
        json!({"start": -1, "order": {"ID": "ASC"}, "filter": {">ID": 110}, "select": ["ID"]}),
    )
    .await;
    assert!(keyset.get("total").is_none() && keyset.get("next").is_none());
    assert_eq!(keyset["result"].as_array().unwrap().len(), 10);
    assert_eq!(keyset["result"][0], json!({"ID": "111"}));

    // Prefix operators, in query-string form.
    let base = webhook(&gateway);
    let count = |query: String| {
        let gateway = &gateway;
        async move {
            let (status, answer) = get_status(
                gateway,
                &format!("{}/crm.lead.list?{query}", webhook(gateway)),
            )
            .await;
            assert_eq!(status, 200, "{query}: {answer}");
            answer["total"].as_u64().unwrap()
        }
    };
    assert_eq!(count("filter[STATUS_ID]=IN_PROCESS".into()).await, 40);
    assert_eq!(count("filter[!STATUS_ID]=IN_PROCESS".into()).await, 80);
    assert_eq!(
        count("filter[@ID][]=1&filter[@ID][]=2&filter[@ID][]=999".into()).await,
        2
    );
    assert_eq!(count("filter[!@ID][]=1&filter[!@ID][]=2".into()).await, 118);
    assert_eq!(count("filter[%3E%3DOPPORTUNITY]=100".into()).await, 20);
    assert_eq!(
        count("filter[<OPPORTUNITY]=10&filter[>ID]=5".into()).await,
        5
    );
    assert_eq!(count("filter[%25TITLE]=lead 10".into()).await, 10);
    assert_eq!(count("filter[!%25TITLE]=lead 1".into()).await, 100);
    assert_eq!(count("filter[%3D%25TITLE]=lead 11%25".into()).await, 10);
    assert_eq!(count("filter[PHONE]=89000000007".into()).await, 1);
    assert_eq!(count("filter[HAS_EMAIL]=N".into()).await, 120);
    assert_eq!(count("filter[UF_CRM_N]=42".into()).await, 1);
    assert_eq!(
        count("filter[%3E%3DDATE_CREATE]=2020-01-01".into()).await,
        120
    );
    assert_eq!(
        count("filter[<DATE_CREATE]=2020-01-01T00:00:00%2B03:00".into()).await,
        0
    );
    assert_eq!(count("filter[STATUS_ID]=NO_SUCH".into()).await, 0);
    assert_eq!(count("filter[!STATUS_ID]=NO_SUCH".into()).await, 120);
    assert_eq!(
        count("filter[@STATUS_ID][]=NO_SUCH&filter[@STATUS_ID][]=IN_PROCESS".into()).await,
        40
    );

    // Order by any field, select with UF_* and explicit multifields.
    let ordered = ok(
        &gateway,
        "crm.lead.list",
        json!({"order": {"OPPORTUNITY": "DESC"}, "select": ["ID", "TITLE", "UF_*", "PHONE"], "filter": {"STATUS_ID": "NEW"}}),
    )
    .await;
    let top = &ordered["result"][0];
    assert_eq!(top["TITLE"], "lead 119");
    assert_eq!(top["UF_CRM_N"], "119");
    assert_eq!(top["PHONE"][0]["VALUE"], "+79000000119");
    assert_eq!(top.as_object().unwrap().len(), 4, "{top}");

    let (status, answer) = get_status(
        &gateway,
        &format!("{base}/crm.lead.list?order[ID]=SIDEWAYS"),
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(answer["error"], "INVALID_ARG_VALUE");
    let (status, _) = get_status(&gateway, &format!("{base}/crm.lead.list?filter[>ID]=abc")).await;
    assert_eq!(status, 400);
    gateway.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn update_changes_only_what_is_sent_and_delete_removes() {
    let mut gateway = TestGateway::start().await;
    let fields: Value = serde_json::from_str(FULL_FIELDS).unwrap();
    ok(&gateway, "crm.lead.add", json!({"fields": fields})).await;
    let before = ok(&gateway, "crm.lead.get", json!({"id": 1})).await["result"].clone();
    let updated = ok(
        &gateway,
        "crm.lead.update",
        json!({"id": 1, "fields": {
            "STATUS_ID": "CONVERTED", "LAST_NAME": "Сидорова", "NO_SUCH_FIELD": "ignored",
            "PHONE": [{"ID": "1", "VALUE": ""}, {"ID": "2", "VALUE": "+79007778899", "VALUE_TYPE": "HOME"}, {"VALUE": "+79990000000"}],
            "UF_CRM_1700000000": "ещё любимее", "POST": "", "UTM_TERM": null
        }, "params": {"REGISTER_SONET_EVENT": "N"}}),
    )
    .await;
    assert_eq!(updated["result"], true);
    let after = ok(&gateway, "crm.lead.get", json!({"id": 1})).await["result"].clone();
    assert_eq!(after["STATUS_ID"], "CONVERTED");
    assert_eq!(after["STATUS_SEMANTIC_ID"], "S");
    assert_eq!(after["LAST_NAME"], "Сидорова");
    assert_eq!(after["NAME"], before["NAME"], "fields not sent are kept");
    assert_eq!(
        after["EMAIL"], before["EMAIL"],
        "multifields not sent are kept"
    );
    assert_eq!(after["UF_CRM_1700000000"], "ещё любимее");
    assert_eq!(
        after["POST"],
        Value::Null,
        "an empty value empties the field"
    );
    assert_eq!(after["UTM_TERM"], Value::Null);
    assert_eq!(after["UTM_SOURCE"], before["UTM_SOURCE"]);
    assert_eq!(
        after["PHONE"],
        json!([
            {"ID": "1", "VALUE_TYPE": "HOME", "VALUE": "+79007778899", "TYPE_ID": "PHONE"},
            {"ID": "2", "VALUE_TYPE": "WORK", "VALUE": "+79990000000", "TYPE_ID": "PHONE"}
        ])
    );
    assert!(after["DATE_MODIFY"].as_str() >= before["DATE_MODIFY"].as_str());

    // A refused value changes nothing.
    let (status, answer) = call(
        &gateway,
        "crm.lead.update",
        json!({"id": 1, "fields": {"LAST_NAME": "Другая", "STATUS_ID": "NO_SUCH"}}),
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(answer["error"], "ERROR_CORE");
    let (status, answer) = call(
        &gateway,
        "crm.lead.update",
        json!({"id": 1, "fields": {"LAST_NAME": "Другая", "STATUS_ID": ""}}),
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(answer["error"], "ERROR_CORE");
    let unchanged = ok(&gateway, "crm.lead.get", json!({"id": 1})).await["result"].clone();
    assert_eq!(unchanged["LAST_NAME"], "Сидорова");

    for (method, body) in [
        (
            "crm.lead.update",
            json!({"id": 999, "fields": {"NAME": "x"}}),
        ),
        ("crm.lead.get", json!({"id": 999})),
        ("crm.lead.delete", json!({"id": 999})),
    ] {
        let (status, answer) = call(&gateway, method, body).await;
        assert_eq!(status, 400, "{method}");
        assert_eq!(
            answer,
            json!({"error": "", "error_description": "Not found"})
        );
    }
    for body in [
        json!({}),
        json!({"id": 0}),
        json!({"id": "abc"}),
        json!({"id": -4}),
    ] {
        let (status, answer) = call(&gateway, "crm.lead.get", body).await;
        assert_eq!(status, 400);
        assert_eq!(answer["error_description"], "ID is not defined or invalid.");
    }

    assert_eq!(
        ok(&gateway, "crm.lead.delete", json!({"id": 1})).await["result"],
        true
    );
    let (status, _) = call(&gateway, "crm.lead.get", json!({"id": 1})).await;
    assert_eq!(status, 400);
    assert_eq!(ok(&gateway, "crm.lead.list", json!({})).await["total"], 0);
    gateway.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn batch_references_halt_and_php_arrays() {
    let mut gateway = TestGateway::start().await;
    let answer = ok(
        &gateway,
        "batch",
        json!({"halt": 0, "cmd": {
            "add": "crm.lead.add?fields[TITLE]=first&fields[NAME]=%D0%90%D0%BD%D0%BD%D0%B0",
            "get": "crm.lead.get?id=$result[add]",
            "list": "crm.lead.list?filter[ID]=$result[add]&select[]=ID&select[]=NAME",
            "copy": "crm.lead.add?fields[TITLE]=$result[list][0][NAME]",
            "missing": "crm.lead.get?id=999",
            "nested": "batch?cmd[x]=crm.lead.get%3Fid%3D1",
            "unknown": "crm.leed.add"
        }}),
    )
    .await;
    let result = &answer["result"];
    assert_eq!(result["result"]["add"], 1);
    assert_eq!(result["result"]["get"]["NAME"], "Анна");
    assert_eq!(
        result["result"]["list"],
        json!([{"ID": "1", "NAME": "Анна"}])
    );
    assert_eq!(result["result"]["copy"], 2);
    assert_eq!(result["result_total"], json!({"list": 1}));
    assert_eq!(result["result_next"], json!([]));
    assert_eq!(
        result["result_error"],
        json!({
            "missing": {"error": "", "error_description": "Not found"},
            "nested": {"error": "ERROR_BATCH_METHOD_NOT_ALLOWED", "error_description": "Method is not allowed for batch usage"},
            "unknown": {"error": "ERROR_METHOD_NOT_FOUND", "error_description": "Method not found!"}
        })
    );
    for key in ["add", "get", "list", "copy"] {
        assert_time_block(&result["result_time"][key]);
    }
    let copied = ok(&gateway, "crm.lead.get", json!({"id": 2})).await;
    assert_eq!(copied["result"]["TITLE"], "Анна");

    // halt stops at the first failure; sequence keys give PHP lists.
    let halted = ok(
        &gateway,
        "batch",
        json!({"halt": true, "cmd": ["crm.lead.get?id=1", "crm.lead.get?id=999", "crm.lead.add?fields[TITLE]=never"]}),
    )
    .await;
    assert_eq!(halted["result"]["result"].as_array().unwrap().len(), 1);
    assert_eq!(
        halted["result"]["result_error"],
        json!({"1": {"error": "", "error_description": "Not found"}})
    );
    assert_eq!(ok(&gateway, "crm.lead.list", json!({})).await["total"], 2);

    // More than 50 commands is refused whole.
    let too_many: Vec<String> = (0..51).map(|_| "crm.lead.fields".to_owned()).collect();
    let (status, answer) = call(&gateway, "batch", json!({"cmd": too_many})).await;
    assert_eq!(status, 400);
    assert_eq!(answer["error"], "ERROR_BATCH_LENGTH_EXCEEDED");
    assert_eq!(ok(&gateway, "crm.lead.list", json!({})).await["total"], 2);
    gateway.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fields_and_status_directories() {
    let mut gateway = TestGateway::start().await;
    let fields = ok(&gateway, "crm.lead.fields", json!({})).await["result"].clone();
    assert_eq!(fields["ID"]["type"], "integer");
    assert_eq!(fields["ID"]["isReadOnly"], true);
    assert_eq!(fields["TITLE"]["isReadOnly"], false);
    assert_eq!(fields["STATUS_ID"]["type"], "crm_status");
    assert_eq!(fields["STATUS_ID"]["statusType"], "STATUS");
    assert_eq!(fields["SOURCE_ID"]["statusType"], "SOURCE");
    assert_eq!(fields["PHONE"]["type"], "crm_multifield");
    assert_eq!(fields["PHONE"]["isMultiple"], true);
    assert_eq!(fields["DATE_CREATE"]["type"], "datetime");
    assert_eq!(fields["ASSIGNED_BY_ID"]["type"], "user");
    assert_eq!(fields["TITLE"]["title"], "Название лида");
    assert!(fields["CONTACT_IDS"]["isMultiple"].as_bool().unwrap());

    let statuses = ok(
        &gateway,
        "crm.status.list",
        json!({"filter": {"ENTITY_ID": "STATUS"}, "order": {"SORT": "ASC"}}),
    )
    .await;
    let ids: Vec<&str> = statuses["result"]
        .as_array()
        .unwrap()
        .iter()
        .map(|entry| entry["STATUS_ID"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["NEW", "IN_PROCESS", "PROCESSED", "CONVERTED", "JUNK"]);
    assert_eq!(statuses["total"], 5);
    assert_eq!(statuses["result"][3]["SEMANTICS"], "S");
    assert_eq!(statuses["result"][4]["EXTRA"]["SEMANTICS"], "failure");
    let sources = ok(
        &gateway,
        "crm.status.list",
        json!({"filter": {"ENTITY_ID": "SOURCE"}}),
    )
    .await;
    assert_eq!(sources["total"], 12);
    assert_eq!(sources["result"][0]["STATUS_ID"], "CALL");
    assert_eq!(sources["result"][0]["NAME"], "Звонок");
    let both = ok(&gateway, "crm.status.list", json!({})).await;
    assert_eq!(both["total"], 17);
    gateway.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn errors_carry_the_real_codes_and_statuses() {
    let mut gateway = TestGateway::start().await;
    let base = &gateway.base;
    for (url, status, code) in [
        (
            format!("{base}/rest/1/WRONG/crm.lead.get?id=1"),
            401,
            "NO_AUTH_FOUND",
        ),
        (
            format!("{base}/rest/2/{WEBHOOK_CODE}/crm.lead.get?id=1"),
            401,
            "NO_AUTH_FOUND",
        ),
        (
            format!("{base}/rest/crm.lead.get?id=1"),
            401,
            "NO_AUTH_FOUND",
        ),
        (
            format!("{base}/rest/crm.lead.get?id=1&auth=stolen"),
            401,
            "invalid_token",
        ),
        (
            format!("{base}/rest/1/{WEBHOOK_CODE}/crm.leed.add"),
            404,
            "ERROR_METHOD_NOT_FOUND",
        ),
        (
            format!("{base}/rest/api/1/{WEBHOOK_CODE}/crm.lead.get"),
            404,
            "ERROR_METHOD_NOT_FOUND",
        ),
        (
            format!("{base}/rest/1/{WEBHOOK_CODE}/crm.lead.get?id=0"),
            400,
            "",
        ),
    ] {
        let response = gateway.client.get(&url).send().await.unwrap();
        assert_eq!(response.status().as_u16(), status, "{url}");
        assert!(
            response.headers().get("location").is_none(),
            "never a redirect"
        );
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["error"], code, "{url}: {body}");
        assert!(body["error_description"]
            .as_str()
            .is_some_and(|text| !text.is_empty()));
    }

    let webhook = webhook(&gateway);
    let bad_bodies: Vec<(&str, Vec<u8>)> = vec![
        ("application/json", b"{\"fields\": {\"TITLE\": ".to_vec()),
        ("application/json", b"[1, 2]".to_vec()),
        (
            "application/x-www-form-urlencoded",
            b"fields[TITLE]=%FF%FE".to_vec(),
        ),
        (
            "application/json",
            format!("{{\"fields\":{{\"TITLE\":\"{}\"}}}}", "x".repeat(100_000)).into_bytes(),
        ),
        (
            "application/json",
            br#"{"fields": {"OPPORTUNITY": "lots"}}"#.to_vec(),
        ),
        (
            "application/json",
            br#"{"fields": {"TITLE": {"nested": "object"}}}"#.to_vec(),
        ),
        (
            "application/json",
            br#"{"fields": ["not", "an", "object"]}"#.to_vec(),
        ),
        (
            "application/json",
            br#"{"fields": {"ASSIGNED_BY_ID": 999}}"#.to_vec(),
        ),
        (
            "application/json",
            br#"{"fields": {"SOURCE_ID": "TELEPATHY"}}"#.to_vec(),
        ),
        (
            "application/json",
            br#"{"fields": {"BIRTHDATE": "yesterday"}}"#.to_vec(),
        ),
    ];
    for (content_type, body) in bad_bodies {
        let response = gateway
            .client
            .post(format!("{webhook}/crm.lead.add"))
            .header("content-type", content_type)
            .body(body.clone())
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        let answer: Value = response.json().await.unwrap();
        assert!(
            (400..500).contains(&status),
            "{status} {answer} for {}",
            String::from_utf8_lossy(&body[..body.len().min(80)])
        );
        assert!(answer["error_description"].is_string());
    }
    // Oversized body: 413 with a Bitrix24 error, nothing stored.
    let response = gateway
        .client
        .post(format!("{webhook}/crm.lead.add"))
        .header("content-type", "application/json")
        .body(format!(
            "{{\"fields\":{{\"TITLE\":\"{}\"}}}}",
            "x".repeat(2 * 1024 * 1024)
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 413);
    assert_eq!(ok(&gateway, "crm.lead.list", json!({})).await["total"], 0);
    gateway.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_rate_limit_behaves_like_a_portal() {
    let mut gateway =
        TestGateway::start_with("[bitrix24.rate_limit]\nper_second = 1\ncapacity = 5\n").await;
    let url = format!("{}/crm.lead.fields", webhook(&gateway));
    let mut statuses = Vec::new();
    for _ in 0..8 {
        let response = gateway.client.get(&url).send().await.unwrap();
        let status = response.status().as_u16();
        if status == 503 {
            let body: Value = response.json().await.unwrap();
            assert_eq!(body["error"], "QUERY_LIMIT_EXCEEDED");
        }
        statuses.push(status);
    }
    assert_eq!(
        statuses.iter().filter(|status| **status == 200).count(),
        5,
        "{statuses:?}"
    );
    assert_eq!(statuses[7], 503);
    // Another credential has its own bucket.
    let response = gateway
        .client
        .get(format!(
            "{}/rest/crm.lead.fields?auth={BITRIX24_TOKEN}",
            gateway.base
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    // The bucket drains: after a second one more request passes. (Eight
    // requests take far less than the second that would drain one more.)
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    assert_eq!(gateway.client.get(&url).send().await.unwrap().status(), 200);
    gateway.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn leads_cross_between_salesman_and_bitrix24() {
    let mut gateway = TestGateway::start().await;
    let salesman_id = gateway
        .add(&[
            ("title", "Петров Пётр"),
            ("email", "petr@example.ru"),
            ("phone", "+7 900 123-45-67"),
            ("description", "Хочу демо"),
            ("utm_source", "google"),
            ("utm_campaign", "winter"),
            ("city", "Пермь"),
            ("country", "Россия"),
        ])
        .await;
    let lead = ok(&gateway, "crm.lead.get", json!({"id": salesman_id})).await["result"].clone();
    assert_eq!(lead["NAME"], "Петров Пётр");
    // SalesMan's one name field is also the portal's never-empty TITLE;
    // the visitor's city and country are the lead's address.
    assert_eq!(lead["TITLE"], "Петров Пётр");
    assert_eq!(lead["ADDRESS_CITY"], "Пермь");
    assert_eq!(lead["ADDRESS_COUNTRY"], "Россия");
    assert_eq!(lead["EMAIL"][0]["VALUE"], "petr@example.ru");
    assert_eq!(lead["PHONE"][0]["VALUE"], "+7 900 123-45-67");
    assert_eq!(lead["COMMENTS"], "Хочу демо");
    assert_eq!(lead["UTM_SOURCE"], "google");
    assert_eq!(lead["UTM_CAMPAIGN"], "winter");
    // SalesMan gave it to its default assignee: in work, as SalesMan's
    // status 1 says.
    assert_eq!(lead["STATUS_ID"], "IN_PROCESS");

    let bitrix_id = ok(
        &gateway,
        "crm.lead.add",
        json!({"fields": {"NAME": "Сидоров", "EMAIL": [{"VALUE": "sid@example.ru"}], "PHONE": [{"VALUE": "+79005554433"}],
                           "COMMENTS": "Из Битрикса", "UTM_SOURCE": "vk", "STATUS_ID": "IN_PROCESS"}}),
    )
    .await["result"]
        .clone();
    let info = gateway
        .get_json(&format!("action=info&id={bitrix_id}"))
        .await;
    let data = &info["result"]["data"];
    assert_eq!(data["title"], "Сидоров");
    assert_eq!(data["email"], "sid@example.ru");
    assert_eq!(data["phone"], "+79005554433");
    assert_eq!(data["description"], "Из Битрикса");
    assert_eq!(data["utm_source"], "vk");
    assert_eq!(data["status"], 1);
    let _ = APIKEY;
    gateway.stop().await;
}

/// Access levels as LiveTex enforces them: webhooks and tokens act as their
/// employee; an administrator reaches every lead, a chief reads every lead
/// but changes only their own, a manager sees and changes only their own
/// (and routed) leads. Outside them: `Access denied.`, nothing changed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhooks_and_tokens_act_with_their_employees_rights() {
    let gateway = TestGateway::start_with(
        r#"
[[employees]]
id = 4
name = "Начальник"
login = "chief@example.ru"
role = "chief"
[[bitrix24.tokens]]
token = "chief-token"
login = "chief@example.ru"
"#,
    )
    .await;
    let as_token = |token: &'static str, method: &'static str, body: Value| {
        let gateway = &gateway;
        async move {
            let mut body = body;
            body["auth"] = json!(token);
            let response = gateway
                .client
                .post(format!("{}/rest/{method}", gateway.base))
                .json(&body)
                .send()
                .await
                .unwrap();
            let status = response.status().as_u16();
            (status, response.json::<Value>().await.unwrap())
        }
    };
    let denied = json!({"error": "", "error_description": "Access denied."});
    // The administrator's lead, through the webhook.
    let admins = ok(
        &gateway,
        "crm.lead.add",
        json!({"fields": {"TITLE": "админ", "PHONE": [{"VALUE": "+79001110001"}]}}),
    )
    .await["result"]
        .as_i64()
        .unwrap();
    // The manager's own lead, through their token: given to them, not to
    // the administrator who had the same phone first (that is SalesMan's
    // rule, not Bitrix24's).
    let (status, added) = as_token(
        BITRIX24_TOKEN,
        "crm.lead.add",
        json!({"fields": {"TITLE": "менеджер", "PHONE": [{"VALUE": "+79001110001"}]}}),
    )
    .await;
    assert_eq!(status, 200, "{added}");
    let managers = added["result"].as_i64().unwrap();
    let lead = ok(&gateway, "crm.lead.get", json!({"id": managers})).await;
    assert_eq!(lead["result"]["ASSIGNED_BY_ID"], "2");

    // Manager: their own lead only.
    let (_, listed) = as_token(BITRIX24_TOKEN, "crm.lead.list", json!({})).await;
    let ids: Vec<&str> = listed["result"]
        .as_array()
        .unwrap()
        .iter()
        .map(|lead| lead["ID"].as_str().unwrap())
        .collect();
    assert_eq!(ids, vec![managers.to_string()]);
    for (method, body) in [
        ("crm.lead.get", json!({"id": admins})),
        (
            "crm.lead.update",
            json!({"id": admins, "fields": {"TITLE": "взломано"}}),
        ),
        ("crm.lead.delete", json!({"id": admins})),
    ] {
        assert_eq!(
            as_token(BITRIX24_TOKEN, method, body).await,
            (400, denied.clone()),
            "{method}"
        );
    }
    let (status, _) = as_token(
        BITRIX24_TOKEN,
        "crm.lead.update",
        json!({"id": managers, "fields": {"TITLE": "моё"}}),
    )
    .await;
    assert_eq!(status, 200);

    // Chief: reads every lead, changes none of the others'.
    let (_, listed) = as_token("chief-token", "crm.lead.list", json!({})).await;
    assert_eq!(listed["total"], 2, "{listed}");
    let (status, _) = as_token("chief-token", "crm.lead.get", json!({"id": admins})).await;
    assert_eq!(status, 200);
    assert_eq!(
        as_token(
            "chief-token",
            "crm.lead.update",
            json!({"id": managers, "fields": {"TITLE": "начальник"}})
        )
        .await,
        (400, denied.clone())
    );

    // Nothing refused changed anything; the administrator reaches all.
    let lead = ok(&gateway, "crm.lead.get", json!({"id": admins})).await;
    assert_eq!(lead["result"]["TITLE"], "админ");
    let lead = ok(&gateway, "crm.lead.get", json!({"id": managers})).await;
    assert_eq!(lead["result"]["TITLE"], "моё");
    ok(&gateway, "crm.lead.delete", json!({"id": managers})).await;
}

/// `crm.lead.add` without `fields`, or with something else there, is an
/// error in Bitrix24's shape, and no lead is created.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn add_without_fields_creates_nothing() {
    let gateway = TestGateway::start().await;
    for body in [
        json!({}),
        json!({"fields": "TITLE"}),
        json!({"fields": [1, 2]}),
    ] {
        let (status, answer) = call(&gateway, "crm.lead.add", body.clone()).await;
        assert_eq!(
            (status, answer),
            (
                400,
                json!({"error": "", "error_description": "Parameter 'fields' must be array."})
            ),
            "{body}"
        );
    }
    let listed = ok(&gateway, "crm.lead.list", json!({})).await;
    assert_eq!(listed["total"], 0);
}
