#![no_main]

use libfuzzer_sys::fuzz_target;
use oqsbot::bulk_csv::{Layout, check};

fuzz_target!(|data: &[u8]| {
    let _ = check(Layout::builtin(), data);
});
