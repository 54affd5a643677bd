//! docs/fields.md, the table of every canonical field's name in each
//! dialect, is what the built-in mapping files say: this test writes the
//! table from them and compares. `LEADGATE_BLESS=1 cargo test --test
//! field_table` rewrites the file after a mapping change.

use std::collections::BTreeMap;

use leadgate::mapping::Mapping;

/// Each dialect and the record its reads are written through.
const DIALECTS: &[(&str, &str, &str)] = &[
    ("salesman", "SalesMan", "info"),
    ("livetex", "LiveTex", "lead"),
    ("uis", "UIS", "report"),
    ("bitrix24", "Bitrix24", "lead"),
];

/// One dialect's names for one canonical field.
#[derive(Clone, Default)]
struct Names {
    /// What a request may call it.
    accepted: Vec<String>,
    /// What a read writes it as.
    read: Vec<String>,
}

fn table() -> String {
    // canonical path → each dialect's names for it.
    let mut rows: BTreeMap<String, Vec<Names>> = BTreeMap::new();
    for (index, (dialect, _, record)) in DIALECTS.iter().enumerate() {
        let mapping = Mapping::built_in(dialect).expect("built-in mapping");
        let mut note = |path: String, name: &str, read: bool| {
            let row = rows
                .entry(path)
                .or_insert_with(|| vec![Names::default(); DIALECTS.len()]);
            let names = if read {
                &mut row[index].read
            } else {
                &mut row[index].accepted
            };
            if !names.iter().any(|known| known == name) {
                names.push(name.to_owned());
                // The mapping's field table is a hash map: sorted, the
                // table reads the same on every run.
                names.sort();
            }
        };
        for (wire, path) in mapping.fields() {
            note(path.to_string(), wire, false);
        }
        if let Some(record) = mapping.record(record) {
            for column in record.column_names() {
                for path in record.column_paths(column) {
                    note(path.to_string(), column, true);
                }
            }
        }
    }
    let mut text = String::from(
        "# Canonical fields and their names in each dialect\n\n\
         Written from the built-in mapping files by `tests/field_table.rs`\n\
         (`LEADGATE_BLESS=1 cargo test --test field_table` after changing one).\n\
         Each cell: the names a request may use → the name a read writes it as\n\
         (SalesMan `info`, LiveTex lead objects, the UIS report, Bitrix24\n\
         `crm.lead.get`). A name in only one of the two is shown alone, with\n\
         the arrow on its side; an empty cell has no place for the field.\n\n",
    );
    text.push_str("| canonical field |");
    for (_, title, _) in DIALECTS {
        text.push_str(&format!(" {title} |"));
    }
    text.push_str("\n|---|");
    for _ in DIALECTS {
        text.push_str("---|");
    }
    text.push('\n');
    for (path, cells) in rows {
        text.push_str(&format!("| `{path}` |"));
        for Names { accepted, read } in cells {
            let quote = |names: &[String]| {
                names
                    .iter()
                    .map(|name| format!("`{name}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            };
            let cell = match (accepted.is_empty(), read.is_empty()) {
                (true, true) => String::new(),
                (false, true) => format!("{} →", quote(&accepted)),
                (true, false) => format!("→ {}", quote(&read)),
                (false, false) if accepted == read => quote(&accepted),
                (false, false) => format!("{} → {}", quote(&accepted), quote(&read)),
            };
            text.push_str(&format!(" {cell} |"));
        }
        text.push('\n');
    }
    text
}

#[test]
fn the_field_table_is_what_the_mappings_say() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/docs/fields.md");
    let written = table();
    if std::env::var_os("LEADGATE_BLESS").is_some() {
        std::fs::write(path, &written).unwrap();
        return;
    }
    let on_disk = std::fs::read_to_string(path).unwrap_or_default();
    assert!(
        on_disk == written,
        "docs/fields.md is out of date: run LEADGATE_BLESS=1 cargo test --test field_table"
    );
}
