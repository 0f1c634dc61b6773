#![no_main]

use libfuzzer_sys::fuzz_target;
use oqsbot::job::JobFile;

// What `JobFile::load` does after reading the file, minus the path joining.
fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(job) = toml::from_str::<JobFile>(text) else {
        return;
    };
    let _ = job.problems();
    let _ = job.kind();
    let _ = job.reset_user_id();
    if let Some(c) = &job.certificate {
        let _ = c.install();
    }
});
