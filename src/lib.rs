//! oqsbot: the web half of an オンライン資格確認 terminal's succession work,
//! driven through a real browser.
//!
//! # Architecture
//!
//! Each module below depends only on those listed after it; none imports in a circle.
//!
//! | module | what it holds |
//! |---|---|
//! | [`cli`] | every `oqsbot` command: arguments turned into options once, the only output to the terminal, the exit codes |
//! | [`job`] | one job: the job file, the credential store, the journal, the report, and the run's wiring |
//! | [`job::procedure`] | the 補足① decision tree over the [`job::procedure::portal::Portal`] trait, tested without a browser |
//! | [`replay`] | a recording's flows run again against its responses |
//! | [`flow`] | flows as data (`flows/*.toml`) and the engine that runs them on a screen |
//! | [`recording`] | the run's redacted recording, its reader, its HTML viewer, the stand-in files a replay serves |
//! | [`browser`] | a real browser over WebDriver: start, find by visible text, wait until settled, downloads |
//! | [`cert`], [`pdf`], [`bulk_csv`] | the portal's files: the .p12, ユーザ設定情報 PDFs, the Shift-JIS bulk CSV |
//! | [`portal`] | the portal's facts with no I/O: institution codes, the password policy, text folding |
//! | [`logging`], [`secret`], [`owner_only`], [`net`] | the log, secrets and their redaction, owner-only files, URL rules |
//! | [`progress`] | a run's progress as typed events, sent to the sink the command line installs (a leaf) |
//!
//! The simulator of both sites is the `oqs-sim` crate (`mocks/`).

pub mod browser;
pub mod bulk_csv;
pub mod cert;
pub mod cli;
pub mod flow;
pub mod job;
pub mod logging;
pub mod net;
pub mod owner_only;
pub mod pdf;
pub mod portal;
pub mod progress;
pub mod recording;
pub mod replay;
pub mod secret;
