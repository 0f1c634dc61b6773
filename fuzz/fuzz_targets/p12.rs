#![no_main]

mod common;

use chrono::{TimeZone, Utc};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    common::abort_only_on_own_panics();
    // The seeds' password and code, and a fixed clock so runs repeat.
    let now = Utc.with_ymd_and_hms(2026, 11, 25, 0, 0, 0).unwrap();
    let _ = oqsbot::cert::check(data, "1357", "2713107890", now);
});
