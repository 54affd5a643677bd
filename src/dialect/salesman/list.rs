//! `action=list`: 200 rows a page, `offset` is the page number. Filters as the
//! seed documents them (the real v1 handler ignores them, a defect we do not
//! copy): `dateStart` alone means created on or after that day, `dateEnd`
//! alone before that day, both an inclusive range of days; `status` one code
//! or a comma list; `user` an employee login. `order` names a list column,
//! `first=new|old` its direction. An empty page is the 404 error clients page
//! until.

use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use serde_json::{json, Value};

use super::{Salesman, SalesmanError};
use crate::http::Params;
use crate::lead::Stage;
use crate::store::{LeadQuery, Sort, SortKey, TimeRange};

pub const PAGE_SIZE: u64 = 200;

fn given<'a>(params: &'a Params, name: &str) -> Option<&'a str> {
    params
        .get(name)
        .map(str::trim)
        .filter(|value| !value.is_empty())
}

pub async fn run(salesman: &Salesman, params: &Params) -> Result<Value, SalesmanError> {
    let query = build_query(salesman, params)?;
    let page = salesman.core.query(query).await?;
    if page.leads.is_empty() {
        return Err(SalesmanError::NotFound);
    }
    let record = salesman
        .mapping
        .record("list")
        .ok_or(SalesmanError::Internal)?;
    let rows: Vec<Value> = page
        .leads
        .iter()
        .map(|lead| {
            Value::Object(record.encode(&salesman.mapping, lead, salesman.core.employees()))
        })
        .collect();
    Ok(json!({ "data": rows }))
}

fn build_query(salesman: &Salesman, params: &Params) -> Result<LeadQuery, SalesmanError> {
    let page: u64 = match given(params, "offset") {
        None => 0,
        Some(text) => text
            .parse()
            .ok()
            .filter(|page: &u64| *page <= u64::MAX / PAGE_SIZE)
            .ok_or_else(|| {
                SalesmanError::bad_parameter("offset", "ожидается номер страницы (0, 1, 2 …)")
            })?,
    };
    let order = given(params, "order").unwrap_or("datum");
    let key = salesman.sort_columns.get(order).cloned().ok_or_else(|| {
        let mut names: Vec<&str> = salesman.sort_columns.keys().map(String::as_str).collect();
        names.sort_unstable();
        SalesmanError::bad_parameter("order", &format!("одно из: {}", names.join(", ")))
    })?;
    let descending = match given(params, "first") {
        None | Some("new") => true,
        Some("old") => false,
        Some(_) => return Err(SalesmanError::bad_parameter("first", "new или old")),
    };
    let needs_tie_break = key != SortKey::CreatedAt && key != SortKey::Id;
    let mut sort = vec![Sort { key, descending }];
    if needs_tie_break {
        sort.push(Sort {
            key: SortKey::CreatedAt,
            descending,
        });
    }

    let day = |name: &str| -> Result<Option<NaiveDate>, SalesmanError> {
        given(params, name)
            .map(|text| {
                NaiveDate::parse_from_str(text, &salesman.mapping.date_format).map_err(|_| {
                    SalesmanError::bad_parameter(name, "ожидается дата в формате YYYY-MM-DD")
                })
            })
            .transpose()
    };
    let start_of = |date: NaiveDate| -> Option<DateTime<Utc>> {
        salesman
            .mapping
            .timezone
            .from_local_datetime(&date.and_time(chrono::NaiveTime::MIN))
            .single()
            .map(|time| time.with_timezone(&Utc))
    };
    let created = match (day("dateStart")?, day("dateEnd")?) {
        (None, None) => TimeRange::default(),
        (Some(start), None) => TimeRange {
            from: start_of(start),
            to: None,
        },
        (None, Some(end)) => TimeRange {
            from: None,
            to: start_of(end),
        },
        (Some(start), Some(end)) => TimeRange {
            from: start_of(start),
            to: end.succ_opt().and_then(start_of),
        },
    };

    let stages = given(params, "status")
        .map(|codes| stages_written_as(salesman, codes))
        .transpose()?;
    let assigned_to = given(params, "user").map(|login| {
        salesman
            .core
            .employees()
            .by_login(login)
            .map(|employee| vec![employee.id])
            .unwrap_or_default()
    });

    Ok(LeadQuery {
        created,
        stages,
        assigned_to,
        sort,
        offset: page * PAGE_SIZE,
        limit: Some(PAGE_SIZE),
        ..LeadQuery::default()
    })
}

/// `status=3` covers every canonical stage SalesMan writes as 3 (closed and junk).
fn stages_written_as(salesman: &Salesman, codes: &str) -> Result<Vec<Stage>, SalesmanError> {
    let bad = || SalesmanError::bad_parameter("status", "ожидается код 0, 1, 2 или 3");
    let values = salesman.mapping.value_map("status").ok_or_else(bad)?;
    let mut stages = Vec::new();
    for code in codes
        .split(',')
        .map(str::trim)
        .filter(|code| !code.is_empty())
    {
        let canonical = values.to_canonical(code).ok_or_else(bad)?;
        for name in std::iter::once(canonical).chain(values.canonicals_written_as(code)) {
            if let Some(stage) = Stage::parse(name) {
                if !stages.contains(&stage) {
                    stages.push(stage);
                }
            }
        }
    }
    if stages.is_empty() {
        return Err(bad());
    }
    Ok(stages)
}
