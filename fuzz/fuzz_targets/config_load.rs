//! Fuzz `runner::config::parse` on arbitrary UTF-8: no panic, every error has a span.
#![no_main]

#[path = "../checks.rs"]
#[allow(dead_code, reason = "each target uses one of the shared checks")]
mod checks;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        checks::config_load(text);
    }
});
