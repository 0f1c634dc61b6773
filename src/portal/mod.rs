//! Domain facts of the portal that need no browser: institution codes and the
//! password policy.

pub mod institution;
pub mod password;
pub mod text;

pub use institution::{InstitutionCode, InstitutionCodeError, Kind};
pub use password::{PasswordPolicy, Violation};
