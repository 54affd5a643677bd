//! Unit tests of the dialect's pure parts; the methods are tested end to end
//! over HTTP in tests/bitrix24.rs.

use super::Method;

#[test]
fn method_names_are_case_insensitive_with_optional_json() {
    assert_eq!(Method::parse("crm.lead.add"), Some(Method::LeadAdd));
    assert_eq!(Method::parse("CRM.Lead.Add.json"), Some(Method::LeadAdd));
    assert_eq!(Method::parse("batch"), Some(Method::Batch));
    assert_eq!(Method::parse("crm.leed.add"), None);
    assert_eq!(Method::parse("crm.lead.add.xml"), None);
}

mod encodings_agree {
    use std::sync::Arc;

    use proptest::prelude::*;
    use serde_json::{json, Map, Value};

    use super::super::codec::Mode;
    use super::super::{Args, Bitrix24};
    use crate::core::{Core, Employees};
    use crate::dialect::bitrix24::settings::Bitrix24Settings;
    use crate::http::Params;
    use crate::lead::path::WriteContext;
    use crate::lead::{Lead, ValidationRules};
    use crate::mapping::Mapping;
    use crate::store::sqlite::{SqliteOptions, SqliteStore};

    fn dialect(dir: &tempfile::TempDir) -> Bitrix24 {
        let store = SqliteStore::open(SqliteOptions::new(dir.path().join("leads.db")))
            .expect("store opens");
        let core = Arc::new(Core::new(Arc::new(store), Employees::new(Vec::new())));
        Bitrix24::new(
            core,
            Mapping::built_in("bitrix24")
                .expect("built-in mapping compiles")
                .into(),
            &Bitrix24Settings::default(),
            ValidationRules::default(),
            WriteContext::default(),
            1 << 20,
        )
    }

    /// Text a form can carry: anything but NUL, which no client sends.
    fn text() -> impl Strategy<Value = String> {
        "[^\u{0}]{0,24}"
    }

    #[derive(Debug, Clone)]
    struct Fields {
        scalars: Vec<(&'static str, String)>,
        phones: Vec<(String, &'static str)>,
        emails: Vec<String>,
        user_fields: Vec<(String, String)>,
    }

    fn fields() -> impl Strategy<Value = Fields> {
        let scalar_names = prop::sample::subsequence(
            vec![
                "TITLE",
                "NAME",
                "LAST_NAME",
                "COMMENTS",
                "UTM_SOURCE",
                "ADDRESS_CITY",
                "POST",
            ],
            0..7,
        );
        (
            scalar_names.prop_flat_map(|names| {
                let count = names.len();
                (Just(names), prop::collection::vec(text(), count))
            }),
            prop::option::of(prop::sample::select(vec![
                "NEW",
                "IN_PROCESS",
                "JUNK",
                "CONVERTED",
            ])),
            prop::option::of(0u32..1_000_000),
            prop::collection::vec(
                (
                    "[+0-9 ()-]{1,16}",
                    prop::sample::select(vec!["WORK", "MOBILE", "TELEGRAM", ""]),
                ),
                0..3,
            ),
            prop::collection::vec("[a-zA-Z0-9.]{1,10}@[a-z]{1,8}\\.ru", 0..3),
            prop::collection::vec(("UF_CRM_[A-Z0-9]{1,6}", text()), 0..3),
        )
            .prop_map(
                |((names, values), status, amount, phones, emails, user_fields)| {
                    let mut scalars: Vec<(&'static str, String)> =
                        names.into_iter().zip(values).collect();
                    if let Some(status) = status {
                        scalars.push(("STATUS_ID", status.to_owned()));
                    }
                    if let Some(amount) = amount {
                        scalars.push(("OPPORTUNITY", amount.to_string()));
                    }
                    let mut seen = std::collections::HashSet::new();
                    let user_fields = user_fields
                        .into_iter()
                        .filter(|(name, _)| seen.insert(name.clone()))
                        .collect();
                    Fields {
                        scalars,
                        phones,
                        emails,
                        user_fields,
                    }
                },
            )
    }

    fn as_json(fields: &Fields) -> Vec<u8> {
        let mut object = Map::new();
        for (name, value) in &fields.scalars {
            object.insert((*name).to_owned(), Value::String(value.clone()));
        }
        object.insert(
            "PHONE".into(),
            Value::Array(
                fields
                    .phones
                    .iter()
                    .map(|(value, kind)| json!({"VALUE": value, "VALUE_TYPE": kind}))
                    .collect(),
            ),
        );
        object.insert(
            "EMAIL".into(),
            Value::Array(
                fields
                    .emails
                    .iter()
                    .map(|value| json!({"VALUE": value}))
                    .collect(),
            ),
        );
        for (name, value) in &fields.user_fields {
            object.insert(name.clone(), Value::String(value.clone()));
        }
        json!({"fields": object}).to_string().into_bytes()
    }

    fn as_form(fields: &Fields) -> String {
        let mut form = form_urlencoded::Serializer::new(String::new());
        for (name, value) in &fields.scalars {
            form.append_pair(&format!("fields[{name}]"), value);
        }
        for (index, (value, kind)) in fields.phones.iter().enumerate() {
            form.append_pair(&format!("fields[PHONE][{index}][VALUE]"), value);
            form.append_pair(&format!("fields[PHONE][{index}][VALUE_TYPE]"), kind);
        }
        for (index, value) in fields.emails.iter().enumerate() {
            form.append_pair(&format!("fields[EMAIL][{index}][VALUE]"), value);
        }
        for (name, value) in &fields.user_fields {
            form.append_pair(&format!("fields[{name}]"), value);
        }
        form.finish()
    }

    fn decode(bitrix24: &Bitrix24, params: &Params) -> Result<Lead, String> {
        let args = Args::from_params(params);
        let mut lead = Lead::new(chrono::DateTime::UNIX_EPOCH);
        let empty = Map::new();
        let fields = args
            .get("fields")
            .and_then(Value::as_object)
            .unwrap_or(&empty);
        bitrix24
            .codec
            .decode_fields(fields, &mut lead, Mode::Add)
            .map_err(|error| error.to_string())?;
        Ok(lead)
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(200))]

        #[test]
        fn brackets_and_json_decode_to_the_same_lead(fields in fields()) {
            let dir = tempfile::tempdir().unwrap();
            let bitrix24 = dialect(&dir);
            let from_json = decode(&bitrix24, &Params::from_json(&as_json(&fields)).unwrap());
            let from_form = decode(&bitrix24, &Params::from_query(&as_form(&fields)).unwrap());
            prop_assert_eq!(&from_json, &from_form);
            if let Ok(lead) = from_json {
                let sent_phones = fields.phones.iter().filter(|(value, _)| !value.trim().is_empty()).count();
                prop_assert_eq!(lead.phones.len(), sent_phones);
                prop_assert_eq!(lead.emails.len(), fields.emails.len());
            }
        }

        #[test]
        fn arbitrary_arguments_never_panic(query in "[a-zA-Z\\[\\]%=&0-9_]{0,80}") {
            let dir = tempfile::tempdir().unwrap();
            let bitrix24 = dialect(&dir);
            if let Ok(params) = Params::from_query(&query) {
                let _ = decode(&bitrix24, &params);
                let args = Args::from_params(&params);
                let _ = bitrix24.conditions(&args);
                let _ = bitrix24.sort(&args);
            }
        }
    }
}
