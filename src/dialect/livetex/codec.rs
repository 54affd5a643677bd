//! Lead objects as LiveTex writes them: the flat fields through the mapping's
//! `lead` record, plus what a flat record cannot say (nested site,
//! department, conversation and employee objects; `is_managed` and
//! `is_locked`, which depend on the caller and the clock), and the `fields`
//! projection (`id,name,site(id,url)`).

use serde_json::{json, Map, Value};

use super::error::LivetexError;
use super::Livetex;
use crate::core::access;
use crate::lead::{Employee, EmployeeDirectory, EmployeeId, Lead};

impl Livetex {
    fn employee_object(&self, id: Option<EmployeeId>) -> Value {
        match id {
            None => Value::Null,
            Some(id) => match self.core.employees().by_id(id) {
                Some(employee) => {
                    json!({"id": employee.id, "name": employee.name, "email": employee.login})
                }
                None => json!({"id": id}),
            },
        }
    }

    pub fn encode_lead(&self, lead: &Lead, viewer: &Employee) -> Map<String, Value> {
        let Some(record) = self.mapping.record("lead") else {
            return Map::new();
        };
        let mut object = record.encode(&self.mapping, lead, self.core.employees());
        let now = self.core.now();
        let lock = lead.lock.as_ref().filter(|lock| lock.until > now);
        object.insert(
            "site".into(),
            if lead.site.is_empty() {
                Value::Null
            } else {
                json!({"id": lead.site.id, "url": lead.site.url})
            },
        );
        object.insert(
            "department".into(),
            lead.department_id
                .map_or(Value::Null, |id| json!({"id": id})),
        );
        let visitor = json!({
            "id": lead.visit.visitor_id,
            "name": lead.name,
            "email": lead.emails.first().map(|point| &point.value),
            "phone": lead.phones.first().map(|point| &point.value),
        });
        object.insert(
            "conversation".into(),
            if lead.conversation_id.is_some() || lead.visit.visitor_id.is_some() {
                json!({"id": conversation_id(lead.conversation_id.as_deref()), "visitor": visitor})
            } else {
                Value::Null
            },
        );
        object.insert(
            "is_managed".into(),
            Value::Bool(access::is_own(viewer, lead)),
        );
        object.insert("created_by".into(), self.employee_object(lead.created_by));
        object.insert(
            "completed_by".into(),
            self.employee_object(lead.completed_by),
        );
        object.insert("assigned_to".into(), self.employee_object(lead.assigned_to));
        object.insert(
            "locked_by".into(),
            self.employee_object(lock.map(|lock| lock.by)),
        );
        object.insert("is_locked".into(), Value::Bool(lock.is_some()));
        object
    }
}

/// One name of a `fields` list, with its own selection for nested objects.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Selection {
    name: String,
    nested: Option<Vec<Selection>>,
}

/// A conversation's id as LiveTex writes it, a number, when the stored
/// id is one (LiveTex's own ids are); an id some other system gave stays
/// text.
fn conversation_id(stored: Option<&str>) -> Value {
    stored.map_or(Value::Null, crate::mapping::number_or_text)
}

/// Parses `id,name,site(id,url),conversation(visitor(name))`.
pub fn parse_fields(text: &str) -> Result<Vec<Selection>, LivetexError> {
    fn list(
        chars: &mut std::iter::Peekable<std::str::Chars<'_>>,
        depth: usize,
    ) -> Result<Vec<Selection>, ()> {
        if depth > 8 {
            return Err(());
        }
        let mut items = Vec::new();
        loop {
            let mut name = String::new();
            while let Some(&next) = chars.peek() {
                if next == ',' || next == '(' || next == ')' {
                    break;
                }
                name.push(next);
                chars.next();
            }
            let name = name.trim().to_owned();
            let nested = if chars.peek() == Some(&'(') {
                chars.next();
                let inner = list(chars, depth + 1)?;
                if chars.next() != Some(')') {
                    return Err(());
                }
                Some(inner)
            } else {
                None
            };
            if name.is_empty() {
                return Err(());
            }
            items.push(Selection { name, nested });
            match chars.peek() {
                Some(',') => {
                    chars.next();
                }
                _ => return Ok(items),
            }
        }
    }
    let mut chars = text.chars().peekable();
    let parsed = list(&mut chars, 0).map_err(|_| LivetexError::invalid("fields"))?;
    if chars.next().is_some() {
        return Err(LivetexError::invalid("fields"));
    }
    Ok(parsed)
}

/// The `fields` parameter of a call, parsed, when it names any.
pub fn selection(args: &crate::http::Args) -> Result<Option<Vec<Selection>>, LivetexError> {
    args.text("fields")
        .filter(|fields| !fields.trim().is_empty())
        .map(parse_fields)
        .transpose()
}

/// `object` with only what `selection` names, or whole without one.
pub fn project_some(object: Map<String, Value>, selection: &Option<Vec<Selection>>) -> Value {
    Value::Object(match selection {
        Some(selection) => project(object, selection),
        None => object,
    })
}

/// Keeps only the selected fields, in the order the object has them.
pub fn project(object: Map<String, Value>, selection: &[Selection]) -> Map<String, Value> {
    object
        .into_iter()
        .filter_map(|(name, value)| {
            let wanted = selection.iter().find(|item| item.name == name)?;
            let value = match (&wanted.nested, value) {
                (Some(nested), Value::Object(inner)) => Value::Object(project(inner, nested)),
                (_, value) => value,
            };
            Some((name, value))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_lists_nest_and_bad_ones_are_refused() {
        let parsed = parse_fields("id,name,site(id,url),conversation(visitor(name))").unwrap();
        let object = json!({"id": 1, "name": "a", "text": "t", "site": {"id": 2, "url": "u", "x": 0},
                            "conversation": {"id": 5, "visitor": {"name": "v", "id": "9"}}});
        let Value::Object(object) = object else {
            unreachable!()
        };
        assert_eq!(
            Value::Object(project(object, &parsed)),
            json!({"id": 1, "name": "a", "site": {"id": 2, "url": "u"}, "conversation": {"visitor": {"name": "v"}}})
        );
        for bad in ["", "id,", "site(id", "site)id", "a(b))", ","] {
            assert!(parse_fields(bad).is_err(), "{bad:?}");
        }
    }
}
