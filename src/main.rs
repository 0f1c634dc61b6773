use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use oqsbot::sim::{self, SimOptions};

#[derive(Parser)]
#[command(
    name = "oqsbot",
    version,
    about = "Re-provisions an オンライン資格確認 terminal's web accounts through the portal"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the simulator of both sites on 127.0.0.1 until Ctrl-C.
    Sim {
        /// A built-in scenario (carried-over, initial-password, needs-reset, admin-exists, pharmacy,
        /// expired-certificate) or a scenario file ending in .toml.
        #[arg(long, default_value = "needs-reset")]
        scenario: String,
        /// 0 picks a free port.
        #[arg(long, default_value_t = 8400)]
        port: u16,
        /// A simulator config file (TOML): timings, screen variants, PDF fonts, TLS, faults.
        #[arg(long)]
        config: Option<PathBuf>,
        /// Also write the master's ユーザ設定情報 PDF to this file.
        #[arg(long)]
        write_master_pdf: Option<PathBuf>,
    },
    /// Start the simulator in the scenario where the master needs a reset, and show where it is.
    Demo {
        #[arg(long, default_value_t = 0)]
        port: u16,
    },
}

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    let options = match cli.command {
        Command::Sim {
            scenario,
            port,
            config,
            write_master_pdf,
        } => SimOptions {
            scenario,
            port,
            config,
            master_pdf: write_master_pdf,
        },
        Command::Demo { port } => SimOptions {
            scenario: "needs-reset".into(),
            port,
            config: None,
            master_pdf: Some(PathBuf::from("demo-master.pdf")),
        },
    };
    let running = match sim::start(&options).await {
        Ok(s) => s,
        Err(e) => {
            eprintln!("oqsbot: {e}");
            return ExitCode::from(2);
        }
    };
    println!("{}", sim::describe(&running, &options));
    println!("Press Ctrl-C to stop.");
    if let Err(e) = tokio::signal::ctrl_c().await {
        eprintln!("oqsbot: cannot wait for Ctrl-C: {e}");
    }
    running.shutdown();
    ExitCode::SUCCESS
}
