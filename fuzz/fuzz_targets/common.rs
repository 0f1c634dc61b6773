//! Shared by the targets whose parser wraps a third-party parser in `catch_unwind`.

use std::sync::Once;

/// libfuzzer-sys aborts on every panic, even one the code under test catches on
/// purpose (lopdf, p12-keystore). Those stay quiet and unwind to the production
/// `catch_unwind`; a panic anywhere else (oqsbot's own code) still aborts, and an
/// uncaught one aborts in libfuzzer-sys anyway.
pub fn abort_only_on_own_panics() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let default_hook = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let third_party = info
                .location()
                .is_some_and(|l| l.file().contains("/.cargo/registry/"));
            if !third_party {
                default_hook(info);
                std::process::abort();
            }
        }));
    });
}
