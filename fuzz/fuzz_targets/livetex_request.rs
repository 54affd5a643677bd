//! The LiveTex decoders on arbitrary requests: parameters from any
//! encoding, then `q` criteria, `sort`, `fields` and the Leads.add decoder
//! and the Lead encoder. Must never panic; every input decodes or is a
//! typed error.
#![no_main]

mod request;

use std::sync::{Arc, OnceLock};

use leadgate::clock::{Clock, SystemClock};
use leadgate::core::{Core, Employees, Scope};
use leadgate::dialect::livetex::settings::LivetexSettings;
use leadgate::dialect::livetex::{add, decoder, parse_fields, Livetex};
use leadgate::http::Args;
use leadgate::lead::path::WriteContext;
use leadgate::lead::{Employee, Role, ValidationRules};
use leadgate::mapping::Mapping;
use leadgate::store::sqlite::{SqliteOptions, SqliteStore};
use libfuzzer_sys::fuzz_target;

fn caller() -> &'static Employee {
    static CALLER: OnceLock<Employee> = OnceLock::new();
    CALLER.get_or_init(|| Employee {
        id: 1,
        name: "Fuzz".into(),
        login: "fuzz@example.ru".into(),
        role: Role::Operator,
        active: true,
    })
}

fn dialect() -> &'static Livetex {
    static DIALECT: OnceLock<Livetex> = OnceLock::new();
    DIALECT.get_or_init(|| {
        let path =
            std::env::temp_dir().join(format!("leadgate-fuzz-lt-{}/leads.db", std::process::id()));
        let store = request::block_on(async { SqliteStore::open(SqliteOptions::new(path)) })
            .expect("store opens");
        let core = Arc::new(Core::new(
            Arc::new(store),
            Employees::new(vec![caller().clone()]),
        ));
        Livetex::new(
            core,
            Mapping::built_in("livetex")
                .expect("built-in mapping compiles")
                .into(),
            &LivetexSettings::default(),
            WriteContext::default(),
            1 << 20,
        )
    })
}

/// The store-free decoder the dialect and `leadgate translate` decode with.
fn add_decoder() -> &'static add::Decoder {
    static DECODER: OnceLock<add::Decoder> = OnceLock::new();
    DECODER.get_or_init(|| {
        decoder(
            Mapping::built_in("livetex")
                .expect("built-in mapping compiles")
                .into(),
            &LivetexSettings::default(),
            WriteContext::default(),
        )
    })
}

fuzz_target!(|data: &[u8]| {
    let Some(params) = request::params(data, "/v2/leads/add", true) else {
        return;
    };
    let args = Args::from_params(&params);
    let livetex = dialect();
    let _ = livetex.criteria(args.text("q"), caller(), Scope::Visible);
    let _ = livetex.criteria(args.text("q"), caller(), Scope::Routed);
    let _ = livetex.sort(args.text("sort"));
    if let Some(fields) = args.text("fields") {
        let _ = parse_fields(fields);
    }
    if let Ok(lead) = add_decoder().decode_add(&args, caller(), SystemClock.now()) {
        let _ = ValidationRules::livetex().check(&lead);
        let _ = livetex.encode_lead(&lead, caller());
    }
});
