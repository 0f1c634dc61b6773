//! What can stop the simulator from starting.

#[derive(Debug, thiserror::Error)]
pub enum SimError {
    #[error("simulator config: {0}")]
    Config(String),
    #[error("{0}")]
    Scenario(String),
    #[error("simulator certificates: {0}")]
    Pki(String),
    #[error("simulator PDF: {0}")]
    Pdf(String),
    #[error("simulator I/O: {0}")]
    Io(#[from] std::io::Error),
}
