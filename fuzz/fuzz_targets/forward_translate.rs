//! The forwarding side on arbitrary input: `leadgate translate` decodes a
//! request in any dialect and encodes it for every target, and the SalesMan
//! client reads any reply body. None of it may panic, whatever it is fed.
#![no_main]

use std::sync::OnceLock;

use leadgate::app::translate::Translator;
use leadgate::config::Settings;
use leadgate::dialect::salesman::client::read_reply;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = read_reply(data);
    let Some((&selector, input)) = data.split_first() else {
        return;
    };
    // Mappings compiled once, as the server does.
    static TRANSLATOR: OnceLock<Option<Translator>> = OnceLock::new();
    let translator = TRANSLATOR.get_or_init(|| {
        let settings: Settings = toml::from_str("").ok()?;
        Translator::new(&settings).ok()
    });
    let Some(translator) = translator else {
        return;
    };
    let (sources, targets) = (translator.sources(), translator.targets());
    let from = sources[selector as usize % sources.len()];
    let to = targets[(selector as usize / sources.len()) % targets.len()];
    let _ = translator.translate(from, to, input, 1);
});
