//! The simulator's tests, one binary with a module per area.

mod common;

mod accounts;
mod auth;
mod browser;
mod bulk;
mod cert_site;
mod faults;
mod mtls;
mod pdf;
mod presentation;
mod seeded;
mod variants;
