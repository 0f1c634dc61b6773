//! oqsbot: the web half of an オンライン資格確認 terminal's succession work,
//! driven through a real browser.

pub mod bulk_csv;
pub mod cert;
pub mod commands;
pub mod pdf;
pub mod portal;
pub mod sim;
