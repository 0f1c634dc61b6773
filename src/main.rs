use std::process::ExitCode;

#[tokio::main]
async fn main() -> ExitCode {
    oqsbot::logging::init();
    oqsbot::cli::main().await
}
