//! The page itself: HTML rendered on the server from `data.rs`, readable
//! without JavaScript (a contact is revealed with `?reveal=<lead id>`, a
//! translation is a form POST); the script only adds the buttons' calls.
//! Every value a caller or a target sent is escaped.

use std::fmt::Write;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};

use super::data::{self, LeadFilter, QueryMap};
use super::html::{document, escape, html, sign_in_form};
use super::{assets, auth, chart, Ops};
use crate::lead::LeadId;

/// What a translation shows: the form as filled and its outcome.
struct Translated {
    from: String,
    to: String,
    request: String,
    outcome: Result<String, String>,
}

/// `GET /`: the page, the sign-in form, or (`?token=`) signing in.
pub(super) async fn home(
    State(ops): State<Arc<Ops>>,
    headers: HeaderMap,
    Query(query): Query<QueryMap>,
) -> Response {
    if let Some(token) = query.get("token") {
        return auth::sign_in_with(&ops, token);
    }
    if !auth::signed_in(&ops, &headers) {
        return sign_in_form(None);
    }
    render(&ops, &query, None).await
}

/// `POST /ops/translate`: the page with the translation filled in.
pub(super) async fn translate_form(
    State(ops): State<Arc<Ops>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if !auth::signed_in(&ops, &headers) {
        return sign_in_form(None);
    }
    let field = |name: &str| {
        form_urlencoded::parse(&body)
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.into_owned())
            .unwrap_or_default()
    };
    let (from, to, request) = (field("from"), field("to"), field("request"));
    let outcome = ops
        .view
        .current()
        .previews
        .preview(&from, &to, request.as_bytes());
    let translated = Translated {
        from,
        to,
        request,
        outcome,
    };
    render(&ops, &QueryMap::new(), Some(translated)).await
}

/// `GET /ops/traffic.svg`: the chart alone.
pub(super) async fn traffic_svg(State(ops): State<Arc<Ops>>, headers: HeaderMap) -> Response {
    if !auth::signed_in(&ops, &headers) {
        return sign_in_form(None);
    }
    (
        StatusCode::OK,
        [
            (header::CONTENT_TYPE, "image/svg+xml"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        chart::svg(
            &crate::traffic::last_hour(),
            &ops.view.current().summary.dialect_names(),
        ),
    )
        .into_response()
}

async fn render(ops: &Ops, query: &QueryMap, translated: Option<Translated>) -> Response {
    let filter = LeadFilter {
        dialect: query.get("dialect").cloned(),
        q: query.get("q").cloned(),
    };
    let reveal: Option<LeadId> = query.get("reveal").and_then(|id| id.parse().ok());
    let gathered = async {
        Ok::<_, crate::store::StoreError>((
            data::deliveries(ops).await?,
            data::dead_letters(ops).await?,
            data::recent_leads(ops, &filter).await?,
            match reveal {
                Some(id) => data::contacts(ops, id).await?,
                None => None,
            },
        ))
    };
    let (targets, dead, leads, revealed) = match gathered.await {
        Ok(gathered) => gathered,
        Err(error) => {
            return html(
                StatusCode::SERVICE_UNAVAILABLE,
                document(
                    "leadgate: store unavailable",
                    &format!(
                        "<main><section><h2>The store cannot be read</h2><p class=\"error\">{}</p>\
                         <p><a href=\"/\">Try again</a></p></section></main>",
                        escape(&error.to_string())
                    ),
                ),
            )
        }
    };
    let view = ops.view.current();
    let mut body = String::with_capacity(32 * 1024);
    body.push_str(
        "<header><h1>leadgate</h1><nav><a href=\"#deliveries\">Deliveries</a>\
         <a href=\"#dead\">Dead letters</a><a href=\"#leads\">Recent leads</a>\
         <a href=\"#translate\">Translate</a><a href=\"#traffic\">Traffic</a>\
         <a href=\"#config\">Configuration</a></nav>\
         <form method=\"post\" action=\"/signout\"><button>Sign out</button></form></header><main>",
    );
    deliveries_section(&mut body, &targets);
    dead_section(&mut body, &dead);
    leads_section(&mut body, &leads, &filter, &view.summary, reveal, revealed);
    translate_section(&mut body, view.previews.as_ref(), translated.as_ref());
    let _ = write!(
        body,
        "<section id=\"traffic\"><h2>Traffic, last hour</h2>\
         <p class=\"muted\">Requests (solid) and accepted leads (dashed) per minute by dialect, \
         counted by this process.</p>{}</section>",
        chart::svg(&crate::traffic::last_hour(), &view.summary.dialect_names())
    );
    config_section(&mut body, &view.summary);
    let _ = write!(body, "</main><script>{}</script>", assets::SCRIPT);
    html(StatusCode::OK, document("leadgate: operations", &body))
}

fn deliveries_section(body: &mut String, targets: &[data::TargetDeliveries]) {
    body.push_str(
        "<section id=\"deliveries\"><h2>Deliveries</h2><table><thead><tr><th>target</th>\
         <th>pending</th><th>retrying</th><th>in flight</th><th>delivered</th><th>dead</th>\
         <th>oldest pending</th><th>delivered / min</th></tr></thead><tbody>",
    );
    for target in targets {
        let oldest = target
            .oldest_pending_secs
            .map(age)
            .unwrap_or_else(|| "—".into());
        let _ = write!(
            body,
            "<tr data-target=\"{name}\"><td>{name}</td><td class=\"n\">{}</td><td class=\"n\">{}</td>\
             <td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{oldest}</td>\
             <td class=\"n\">{:.1}</td></tr>",
            target.pending,
            target.retrying,
            target.in_flight,
            target.delivered,
            target.dead,
            target.delivered_per_minute,
            name = escape(&target.target),
        );
    }
    if targets.is_empty() {
        body.push_str("<tr><td colspan=\"8\" class=\"muted\">No forwarding targets.</td></tr>");
    }
    body.push_str("</tbody></table></section>");
}

fn age(seconds: i64) -> String {
    match seconds {
        s if s < 120 => format!("{s} s"),
        s if s < 7_200 => format!("{} min", s / 60),
        s => format!("{} h", s / 3_600),
    }
}

fn dead_section(body: &mut String, dead: &[data::DeadLetter]) {
    body.push_str(
        "<section id=\"dead\"><h2>Dead letters</h2><table><thead><tr><th>delivery</th><th>lead</th>\
         <th>target</th><th>state</th><th>attempts</th><th>last error</th><th></th></tr></thead><tbody>",
    );
    for letter in dead {
        let target = if letter.revision > 0 {
            format!("{} (change {})", letter.target, letter.revision)
        } else {
            letter.target.clone()
        };
        let replay = letter
            .replay
            .as_ref()
            .and_then(|window| serde_json::to_string(window).ok())
            .map(|window| {
                format!(
                    "<button data-action=\"replay\" data-window=\"{}\">Replay</button>",
                    escape(&window)
                )
            })
            .unwrap_or_default();
        let _ = write!(
            body,
            "<tr data-id=\"{id}\" data-lead=\"{lead}\" data-target=\"{target_name}\"><td class=\"n\">{id}</td>\
             <td class=\"n\">{lead}</td><td>{target}</td><td class=\"state state-dead\">dead</td>\
             <td class=\"n\">{}</td><td class=\"error\">{}</td>\
             <td><button data-action=\"retry\">Retry</button> {replay} <span class=\"note muted\"></span></td></tr>",
            letter.attempts,
            escape(letter.last_error.as_deref().unwrap_or("")),
            id = letter.id,
            lead = letter.lead_id,
            target_name = escape(&letter.target),
            target = escape(&target),
        );
    }
    if dead.is_empty() {
        body.push_str("<tr><td colspan=\"7\" class=\"muted\">None.</td></tr>");
    }
    body.push_str("</tbody></table></section>");
}

fn leads_section(
    body: &mut String,
    leads: &[data::RecentLead],
    filter: &LeadFilter,
    summary: &super::ConfigSummary,
    reveal: Option<LeadId>,
    revealed: Option<data::Contacts>,
) {
    body.push_str(
        "<section id=\"leads\"><h2>Recent leads</h2><form method=\"get\" action=\"/#leads\">",
    );
    body.push_str("<select name=\"dialect\"><option value=\"\">every dialect</option>");
    for dialect in &summary.dialects {
        let selected = if filter.dialect.as_deref() == Some(dialect.name.as_str()) {
            " selected"
        } else {
            ""
        };
        let _ = write!(
            body,
            "<option value=\"{name}\"{selected}>{name}</option>",
            name = escape(&dialect.name)
        );
    }
    let _ = write!(
        body,
        "</select> <input type=\"search\" name=\"q\" placeholder=\"name, phone, e-mail, text\" value=\"{}\"> \
         <input type=\"submit\" value=\"Filter\"></form>\
         <table><thead><tr><th>id</th><th>time (UTC)</th><th>dialect</th><th>name</th><th>channel</th>\
         <th>contacts</th><th>forwarded to</th></tr></thead><tbody>",
        escape(filter.q.as_deref().unwrap_or(""))
    );
    for lead in leads {
        let contacts = match (&revealed, reveal) {
            (Some(contacts), Some(id)) if id == lead.id => escape(
                &contacts
                    .phones
                    .iter()
                    .chain(&contacts.emails)
                    .cloned()
                    .collect::<Vec<_>>()
                    .join(", "),
            ),
            _ => escape(
                &lead
                    .phones
                    .iter()
                    .chain(&lead.emails)
                    .cloned()
                    .collect::<Vec<_>>()
                    .join(", "),
            ),
        };
        let reveal_control = if lead.phones.is_empty() && lead.emails.is_empty() {
            String::new()
        } else {
            // A link without JavaScript, the button with it.
            format!(
                " <button data-action=\"reveal\">reveal</button><noscript><a href=\"/?reveal={}#leads\">reveal</a></noscript>",
                lead.id
            )
        };
        let forwarded = lead
            .forwarded
            .iter()
            .map(|to| {
                let name = if to.revision > 0 {
                    format!("{} (change {})", to.target, to.revision)
                } else {
                    to.target.clone()
                };
                format!(
                    "{}: <span class=\"state-{}\">{}</span>",
                    escape(&name),
                    escape(to.state),
                    escape(to.state)
                )
            })
            .collect::<Vec<_>>()
            .join("<br>");
        let _ = write!(
            body,
            "<tr data-lead=\"{id}\"><td class=\"n\">{id}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td>\
             <td><span class=\"contacts\">{contacts}</span>{reveal_control}<span class=\"note\"></span></td><td>{forwarded}</td></tr>",
            escape(&lead.created_at),
            escape(lead.dialect.as_deref().unwrap_or("—")),
            escape(lead.name.as_deref().unwrap_or("")),
            escape(lead.channel.as_deref().unwrap_or("")),
            id = lead.id,
        );
    }
    if leads.is_empty() {
        body.push_str("<tr><td colspan=\"7\" class=\"muted\">No leads.</td></tr>");
    }
    body.push_str("</tbody></table></section>");
}

fn translate_section(
    body: &mut String,
    previews: &dyn super::Previews,
    translated: Option<&Translated>,
) {
    let options = |names: Vec<&'static str>, chosen: Option<&str>| {
        names
            .into_iter()
            .map(|name| {
                let selected = if Some(name) == chosen {
                    " selected"
                } else {
                    ""
                };
                format!("<option value=\"{name}\"{selected}>{name}</option>")
            })
            .collect::<String>()
    };
    let _ = write!(
        body,
        "<section id=\"translate\"><h2>Translate</h2>\
         <p class=\"muted\">A request in one dialect, as a target of another would receive it \
         (what <code>leadgate translate</code> prints). Nothing is stored or sent.</p>\
         <form method=\"post\" action=\"/ops/translate#translate\">\
         <label>from <select name=\"from\">{}</select></label> \
         <label>to <select name=\"to\">{}</select></label>\
         <textarea name=\"request\" placeholder=\"action=add&amp;title=Анна&amp;phone=89001112233\">{}</textarea>\
         <input type=\"submit\" value=\"Translate\"></form>",
        options(previews.sources(), translated.map(|t| t.from.as_str()).or(Some("salesman"))),
        options(previews.targets(), translated.map(|t| t.to.as_str()).or(Some("bitrix24"))),
        escape(translated.map(|t| t.request.as_str()).unwrap_or("")),
    );
    match translated.map(|t| &t.outcome) {
        Some(Ok(preview)) => {
            let _ = write!(body, "<pre id=\"preview\">{}</pre>", escape(preview));
        }
        Some(Err(error)) => {
            let _ = write!(
                body,
                "<p class=\"error\" id=\"preview\">{}</p>",
                escape(error)
            );
        }
        None => {}
    }
    body.push_str("</section>");
}

fn config_section(body: &mut String, summary: &super::ConfigSummary) {
    let _ = write!(
        body,
        "<section id=\"config\"><h2>Configuration</h2><p>Store: {}</p><p>Dialects: {}</p>",
        escape(&summary.store),
        summary
            .dialects
            .iter()
            .map(|dialect| {
                format!(
                    "{} ({})",
                    escape(&dialect.name),
                    if dialect.enabled { "served" } else { "off" }
                )
            })
            .collect::<Vec<_>>()
            .join(", ")
    );
    body.push_str(
        "<table><thead><tr><th>target</th><th>kind</th><th>host</th><th>changes</th><th>events</th></tr></thead><tbody>",
    );
    for target in &summary.targets {
        let _ = write!(
            body,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            escape(&target.name),
            escape(&target.kind),
            escape(&target.host),
            escape(target.updates.as_deref().unwrap_or("not applied")),
            if target.accepts_events {
                "accepted"
            } else {
                "—"
            }
        );
    }
    body.push_str("</tbody></table><h3>Rules</h3><ul>");
    for rule in &summary.rules {
        let _ = write!(
            body,
            "<li>{} ← {}</li>",
            escape(&rule.targets.join(", ")),
            escape(&rule.when)
        );
    }
    if summary.rules.is_empty() {
        body.push_str("<li class=\"muted\">No rules: nothing is forwarded.</li>");
    }
    body.push_str("</ul></section>");
}
