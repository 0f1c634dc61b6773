//! The integration tests, one binary with a module per area: one link of the
//! browser, the simulator and the library instead of one per area. Most drive
//! real headless Chromium through chromedriver against the simulator.
//! `cargo test --test integration run::` runs one area.

mod common;

mod batch;
mod cert_check;
mod cli;
mod crash;
mod flow_cli;
mod flows;
mod fuzz_regressions;
mod grid;
mod mtls_browser;
mod pdf_chromium;
mod pdf_read;
mod run;
