//! The mapping compiler on arbitrary text: a user's mapping file must give
//! problems naming keys, never a panic at start-up.
#![no_main]

use leadgate::mapping::Mapping;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = Mapping::from_toml("fuzz.toml", text);
    }
});
