//! `oqsbot sim`: the built-in simulator of both sites, for trying the bot and
//! for tests.

use std::io::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;

use crate::job::outcome::Exit;

use oqs_sim::{RunningSim, Scenario, SimConfig};

#[derive(Debug, thiserror::Error)]
pub enum SimCommandError {
    #[error(transparent)]
    Sim(#[from] oqs_sim::SimError),
    #[error("cannot write {path}: {source}")]
    Write { path: PathBuf, source: std::io::Error },
}

pub struct SimOptions {
    pub scenario: String,
    pub port: u16,
    pub config: Option<PathBuf>,
    pub master_pdf: Option<PathBuf>,
    /// Serve the オン資 site over mutual TLS on this port (0: any free port).
    pub mutual_tls_port: Option<u16>,
}

/// `oqsbot sim --vary SEED`, for the `sim` command to flatten into its arguments.
#[derive(Debug, Clone, Copy, Default, clap::Args)]
pub struct VaryArg {
    /// Play an unfamiliar portal: every screen variant, wording and structure the
    /// config file leaves open is drawn from SEED (the same seed gives the same
    /// portal; GET /__sim/config shows what it drew).
    #[arg(long, value_name = "SEED")]
    pub vary: Option<u64>,
}

/// Starts the simulator and, if asked, writes the master's PDF where the job expects it.
pub async fn start(options: &SimOptions) -> Result<RunningSim, SimCommandError> {
    start_varied(options, VaryArg::default()).await
}

/// As `start`; a seed given here replaces the config file's `[ui] vary`.
pub async fn start_varied(options: &SimOptions, vary: VaryArg) -> Result<RunningSim, SimCommandError> {
    let scenario = Scenario::load(&options.scenario)?;
    let mut config = match &options.config {
        Some(path) => SimConfig::load(path)?,
        None => SimConfig::default(),
    };
    if vary.vary.is_some() {
        config.ui.vary = vary.vary;
    }
    if let Some(port) = options.mutual_tls_port {
        config.tls.mutual = true;
        config.tls.https_port = port;
    }
    let sim = oqs_sim::start(scenario, config, options.port).await?;
    if let Some(path) = &options.master_pdf {
        let bytes = sim.master_pdf()?;
        std::fs::write(path, bytes).map_err(|source| SimCommandError::Write {
            path: path.clone(),
            source,
        })?;
    }
    Ok(sim)
}

/// What `oqsbot sim` prints once it is listening.
pub fn describe(sim: &RunningSim, options: &SimOptions) -> String {
    let s = sim.scenario();
    let mut out = format!(
        "oqs-sim: scenario {} ({})\n  電子証明書のダウンロードサイト: {}\n  オンライン資格確認等システム:   {}\n  test endpoints:                 {}\n",
        s.name,
        s.description,
        sim.cert_site_url(),
        sim.oqs_url(),
        sim.control_url()
    );
    out.push_str(&format!(
        "  institution: {} {}\n",
        s.institution.code, s.institution.name
    ));
    out.push_str(&format!(
        "  master account: {} (reset account {})\n",
        s.master.user_id,
        s.reset_user_id()
    ));
    for c in &s.certificates {
        out.push_str(&format!(
            "  certificate for {}: リクエスト ID {}  リファレンス ID {}\n",
            c.institution_code, c.request_id, c.reference_id
        ));
    }
    if let Some(seed) = sim.config().ui.vary {
        out.push_str(&format!(
            "  portal varied by seed {seed}: what it drew is at {}config\n",
            sim.control_url()
        ));
    }
    match &options.master_pdf {
        Some(p) => out.push_str(&format!(
            "  master's ユーザ設定情報 PDF written to {}\n",
            p.display()
        )),
        None => out.push_str(&format!(
            "  master's ユーザ設定情報 PDF: {}master-pdf\n",
            sim.control_url()
        )),
    }
    out
}

pub(super) async fn serve(options: SimOptions, vary: VaryArg) -> ExitCode {
    let running = match start_varied(&options, vary).await {
        Ok(s) => s,
        Err(e) => {
            eprintln!("oqsbot: {e}");
            return Exit::Input.into();
        }
    };
    println!("{}", describe(&running, &options));
    println!("Press Ctrl-C to stop.");
    let _ = std::io::stdout().flush();
    if let Err(e) = tokio::signal::ctrl_c().await {
        eprintln!("oqsbot: cannot wait for Ctrl-C: {e}");
    }
    running.shutdown();
    Exit::Done.into()
}
