//! A stateful simulator of the two sites an オンライン資格確認 terminal's
//! succession work goes through: the certificate download site (site A) and
//! the オンライン資格確認等システム web system (site B).
//!
//! It is a real web application that a real browser drives. Its screens carry
//! the field manual's texts to the character, it enforces the portal's rules on
//! the server side, and a config switches between the readings of everything
//! the manual leaves open. Endpoints under `/__sim/` exist for tests only.
//! With `[ui] vary = SEED` it plays a portal drawn from the seed: every reading
//! of the Unknowns, and the wording, markup and structure around them, while
//! every rule stays the same (see `vary`).

mod app;
pub mod bulk;
pub mod clock;
pub mod config;
mod control;
mod error;
mod html;
pub mod message;
pub mod model;
pub mod pdf;
pub mod pki;
pub mod policy;
mod present;
pub mod scenario;
mod server;
mod site_a;
mod site_b;
pub mod state;
pub mod vary;
pub mod wording;

pub use config::SimConfig;
pub use error::SimError;
pub use scenario::Scenario;
pub use server::{RunningSim, start};
