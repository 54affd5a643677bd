//! The Bitrix24 decoder on arbitrary requests: query string, content type
//! and body bytes become arguments, then a lead (crm.lead.add), filter
//! conditions and sort order (crm.lead.list), and the lead's wire object.
//! Must never panic; every input decodes or is a typed error.
#![no_main]

mod request;

use std::sync::{Arc, OnceLock};

use leadgate::core::{Core, Employees};
use leadgate::dialect::bitrix24::codec::Codec;
use leadgate::dialect::bitrix24::settings::Bitrix24Settings;
use leadgate::dialect::bitrix24::{Args, Bitrix24};
use leadgate::lead::path::WriteContext;
use leadgate::lead::ValidationRules;
use leadgate::mapping::Mapping;
use leadgate::store::sqlite::{SqliteOptions, SqliteStore};
use libfuzzer_sys::fuzz_target;

fn dialect() -> &'static Bitrix24 {
    static DIALECT: OnceLock<Bitrix24> = OnceLock::new();
    DIALECT.get_or_init(|| {
        let path =
            std::env::temp_dir().join(format!("leadgate-fuzz-{}/leads.db", std::process::id()));
        let store = request::block_on(async { SqliteStore::open(SqliteOptions::new(path)) })
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
    })
}

/// The store-free codec the dialect and `leadgate translate` decode with.
fn codec() -> &'static Codec {
    static CODEC: OnceLock<Codec> = OnceLock::new();
    CODEC.get_or_init(|| {
        Codec::new(
            Mapping::built_in("bitrix24")
                .expect("built-in mapping compiles")
                .into(),
            WriteContext::default(),
            Arc::new(Employees::new(Vec::new())),
        )
    })
}

fuzz_target!(|data: &[u8]| {
    let Some(params) = request::params(data, "/rest/1/code/crm.lead.add", true) else {
        return;
    };
    let args = Args::from_params(&params);
    let bitrix24 = dialect();
    if let Ok(lead) = codec().decode_add(&args) {
        let _ = ValidationRules::default().check(&lead);
        let _ = codec().encode_lead(&lead);
    }
    let _ = bitrix24.conditions(&args);
    let _ = bitrix24.sort(&args);
});
