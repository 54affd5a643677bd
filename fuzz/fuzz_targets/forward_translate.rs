//! The forwarding side on arbitrary input: `leadgate translate` decodes a
//! request in any dialect and encodes it for every target, and the SalesMan
//! client reads any reply body. None of it may panic, whatever it is fed.
#![no_main]

use leadgate::config::Settings;
use leadgate::deliver::translate::{translate, SOURCES, TARGETS};
use leadgate::dialect::salesman::client::read_reply;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = read_reply(data);
    let Some((&selector, input)) = data.split_first() else {
        return;
    };
    let settings: Settings = match toml::from_str("") {
        Ok(settings) => settings,
        Err(_) => return,
    };
    let from = SOURCES[selector as usize % SOURCES.len()];
    let to = TARGETS[(selector as usize / SOURCES.len()) % TARGETS.len()];
    let _ = translate(&settings, from, to, input, 1);
});
