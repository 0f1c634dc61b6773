#![no_main]

mod common;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    common::abort_only_on_own_panics();
    let _ = oqsbot::pdf::read_credentials(data);
});
