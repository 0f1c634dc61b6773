#![no_main]

use libfuzzer_sys::fuzz_target;
use oqsbot::bulk_csv::{Layout, read_result};

fuzz_target!(|data: &[u8]| {
    let _ = read_result(Layout::builtin(), data);
});
