//! The traffic chart, drawn on the server as SVG: requests (solid) and
//! accepted leads (dashed) per minute by dialect over the last hour. No
//! chart library, nothing fetched: an `<svg>` with one polyline a series.

use std::fmt::Write;

use super::html::escape;
use crate::traffic::{Kind, Series, MINUTES};

const WIDTH: f64 = 720.0;
const HEIGHT: f64 = 200.0;
const LEFT: f64 = 40.0;
const BOTTOM: f64 = 20.0;
const TOP: f64 = 10.0;
/// One colour per dialect, in the order they appear; distinguishable in
/// greyscale print too (the dashes tell leads from requests).
const COLOURS: &[&str] = &[
    "#1f6feb", "#d1242f", "#1a7f37", "#9a6700", "#8250df", "#57606a",
];

/// The series of `dialects` (requests to no route are left out).
pub(super) fn svg(series: &[Series], dialects: &[&str]) -> String {
    let shown: Vec<&Series> = series
        .iter()
        .filter(|series| matches!(series.kind, Kind::Requests | Kind::LeadsAccepted))
        .filter(|series| dialects.contains(&series.name.as_str()))
        .collect();
    let highest = shown
        .iter()
        .flat_map(|series| series.per_minute.iter().copied())
        .max()
        .unwrap_or(0)
        .max(1);
    let mut names: Vec<&str> = shown.iter().map(|series| series.name.as_str()).collect();
    names.dedup();
    let plot_width = WIDTH - LEFT - 10.0;
    let plot_height = HEIGHT - TOP - BOTTOM;
    let x = |minute: usize| LEFT + plot_width * minute as f64 / (MINUTES - 1) as f64;
    let y = |count: u64| TOP + plot_height * (1.0 - count as f64 / highest as f64);
    let mut out = String::new();
    let _ = write!(
        out,
        r##"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" width="{WIDTH}" height="{HEIGHT}" role="img" aria-label="Requests and accepted leads per minute by dialect, last hour" font-family="sans-serif" font-size="11">"##
    );
    let _ = write!(
        out,
        r##"<line x1="{LEFT}" y1="{TOP}" x2="{LEFT}" y2="{bottom}" stroke="#8c959f"/><line x1="{LEFT}" y1="{bottom}" x2="{right}" y2="{bottom}" stroke="#8c959f"/>"##,
        bottom = HEIGHT - BOTTOM,
        right = WIDTH - 10.0
    );
    let _ = write!(
        out,
        r##"<text x="{}" y="{}" text-anchor="end">{highest}</text><text x="{}" y="{}" text-anchor="end">0</text>"##,
        LEFT - 4.0,
        TOP + 8.0,
        LEFT - 4.0,
        HEIGHT - BOTTOM
    );
    let _ = write!(
        out,
        r##"<text x="{LEFT}" y="{}">−60 min</text><text x="{}" y="{}" text-anchor="end">now</text>"##,
        HEIGHT - 4.0,
        WIDTH - 10.0,
        HEIGHT - 4.0
    );
    for series in &shown {
        let index = names
            .iter()
            .position(|name| *name == series.name)
            .unwrap_or(0);
        let colour = COLOURS[index % COLOURS.len()];
        let points: Vec<String> = series
            .per_minute
            .iter()
            .enumerate()
            .map(|(minute, count)| format!("{:.1},{:.1}", x(minute), y(*count)))
            .collect();
        let dash = if series.kind == Kind::LeadsAccepted {
            r#" stroke-dasharray="4 3""#
        } else {
            ""
        };
        let _ = write!(
            out,
            r##"<polyline fill="none" stroke="{colour}" stroke-width="1.5"{dash} points="{}"><title>{} {}</title></polyline>"##,
            points.join(" "),
            escape(&series.name),
            if series.kind == Kind::Requests {
                "requests"
            } else {
                "leads accepted"
            }
        );
    }
    for (index, name) in names.iter().enumerate() {
        let _ = write!(
            out,
            r##"<rect x="{}" y="{}" width="10" height="10" fill="{}"/><text x="{}" y="{}">{}</text>"##,
            LEFT + 10.0 + index as f64 * 110.0,
            TOP,
            COLOURS[index % COLOURS.len()],
            LEFT + 24.0 + index as f64 * 110.0,
            TOP + 9.0,
            escape(name)
        );
    }
    out.push_str("</svg>");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_line_a_series_and_a_legend_entry_a_dialect() {
        let mut per_minute = vec![0; MINUTES];
        per_minute[MINUTES - 1] = 12;
        let series = vec![
            Series {
                kind: Kind::Requests,
                name: "salesman".into(),
                per_minute: per_minute.clone(),
            },
            Series {
                kind: Kind::LeadsAccepted,
                name: "salesman".into(),
                per_minute,
            },
            Series {
                kind: Kind::Delivered,
                name: "portal".into(),
                per_minute: vec![5; MINUTES],
            },
        ];
        let drawn = svg(&series, &["salesman", "portal"]);
        assert!(drawn.starts_with("<svg") && drawn.ends_with("</svg>"));
        assert_eq!(drawn.matches("<polyline").count(), 2);
        assert_eq!(drawn.matches("stroke-dasharray").count(), 1);
        assert!(
            drawn.contains(">12<"),
            "the scale's top is the busiest minute"
        );
        assert!(!drawn.contains("portal"), "deliveries are not traffic in");
        assert!(
            !svg(&series, &["uis"]).contains("<polyline"),
            "only the dialects named"
        );
    }
}
