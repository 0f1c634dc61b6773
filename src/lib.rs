//! oqsbot: the web half of an オンライン資格確認 terminal's succession work,
//! driven through a real browser.

pub mod batch;
pub mod browser;
pub mod bulk_csv;
pub mod cert;
pub mod commands;
pub mod flow;
pub mod flow_command;
pub mod job;
pub mod logging;
pub mod net;
pub mod owner_only;
pub mod pdf;
pub mod portal;
pub mod recording;
pub mod secret;
pub mod sim;
