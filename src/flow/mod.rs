//! Flows are data (`flows/*.toml`), the engine is code.

pub mod diagnosis;
pub mod engine;
pub mod model;
pub mod step_log;
pub mod table;

pub use engine::{Engine, FailureKind, FlowError, StepRecord, Var};
pub use model::{Flow, FlowLibrary};
