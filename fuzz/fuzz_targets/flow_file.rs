#![no_main]

use libfuzzer_sys::fuzz_target;
use oqsbot::flow::Flow;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(flow) = Flow::parse(text, "fuzz") {
        for step in &flow.steps {
            let _ = step.action();
        }
    }
});
