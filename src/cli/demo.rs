//! `oqsbot demo`: a sample clinic on the built-in simulator.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use crate::job::outcome::Exit;

use super::sim::{self, SimOptions};
use super::{BrowserArgs, apply_browser};
use crate::job::JobFile;
use crate::job::run::SecretSource;
use crate::secret::Secret;

/// Writes the demo's job file and the master's PDF into `dir`, and loads the job.
pub fn write_demo_job(dir: &Path, sim: &oqs_sim::RunningSim) -> Result<JobFile, String> {
    std::fs::create_dir_all(dir).map_err(|e| e.to_string())?;
    // A fresh demo each time: an earlier demo's journal belongs to another simulator.
    let out = dir.join("run");
    if out.exists() {
        std::fs::remove_dir_all(&out).map_err(|e| e.to_string())?;
    }
    let s = sim.scenario();
    std::fs::write(
        dir.join("master.pdf"),
        sim.master_pdf().map_err(|e| e.to_string())?,
    )
    .map_err(|e| e.to_string())?;
    let cert = s
        .certificates
        .iter()
        .find(|c| c.institution_code == s.institution.code)
        .ok_or("no certificate")?;
    // Over mutual TLS the server's certificate comes from the simulator's own CA.
    let ca = if sim.oqs_url().starts_with("https://") {
        std::fs::write(dir.join("simulator-ca.pem"), sim.ca_pem()).map_err(|e| e.to_string())?;
        "oqs_ca_file = \"simulator-ca.pem\"\n"
    } else {
        ""
    };
    let job = format!(
        r#"# The demo's job: a sample clinic on the built-in simulator.
[institution]
code = "{code}"
name = "{name}"

[sites]
cert_url = "{cert_url}"
oqs_url = "{oqs_url}"
{ca}
[certificate]
request_id = "{request}"
reference_id = "{reference}"
password_env = "OQS_CERT_PASSWORD"
backup_dir = "NTT東オン資端末_電子証明書"

[master]
user_id = "{master}"
pdf = "master.pdf"
secret_number_env = "OQS_SECRET_NUMBER"

[output]
dir = "run"
status_interval_secs = 1
status_timeout_secs = 120
"#,
        code = s.institution.code,
        name = s.institution.name,
        cert_url = sim.cert_site_url(),
        oqs_url = sim.oqs_url(),
        request = cert.request_id,
        reference = cert.reference_id,
        master = s.master.user_id,
    );
    let path = dir.join("job.toml");
    std::fs::write(&path, job).map_err(|e| e.to_string())?;
    JobFile::load(&path).map_err(|e| e.to_string())
}

/// The demo's secrets: the manual's example certificate password and the scenario's 秘密の番号.
pub fn demo_secrets() -> SecretSource {
    let mut given = HashMap::new();
    given.insert("OQS_CERT_PASSWORD".to_string(), Secret::new("1357"));
    given.insert("OQS_SECRET_NUMBER".to_string(), Secret::new("1357"));
    SecretSource::with_given(given)
}

/// Where the demo serves the オン資 site over mutual TLS; fixed, so that a
/// browser policy can name it ahead of time.
const DEMO_TLS_PORT: u16 = 18443;

/// The simulator in the needs-reset scenario, a job for its sample clinic, and the run.
pub(super) async fn demo(dir: PathBuf, browser: BrowserArgs) -> ExitCode {
    let mut browser_options = crate::browser::BrowserOptions::new(dir.join("downloads"));
    if let Err(code) = apply_browser(&mut browser_options, &browser) {
        return code;
    }
    // As the real portal, when the browser can present the certificate.
    let tls_url = format!("https://127.0.0.1:{DEMO_TLS_PORT}/");
    let policy = crate::browser::policy::check(
        &crate::browser::policy::SystemPolicy,
        browser_options.kind,
        &tls_url,
        crate::cert::EXPECTED_ISSUER,
    );
    let mutual = browser_options.webdriver_url.is_none() && policy.is_ok();
    if mutual {
        println!("mutual TLS: the オン資 site asks for the client certificate, as the real portal does");
    } else {
        println!(
            "The demo's オン資 site runs over plain HTTP. To run it as the real portal does, over mutual TLS with the downloaded client certificate, run as root:\n  oqsbot browser-policy --url {} --name oqsbot-demo\n(./scripts/demo.sh does this when run as root)",
            tls_url.trim_end_matches('/')
        );
    }
    let options = SimOptions {
        scenario: "needs-reset".into(),
        port: 0,
        config: None,
        master_pdf: None,
        mutual_tls_port: mutual.then_some(DEMO_TLS_PORT),
    };
    let sim = match sim::start(&options).await {
        Ok(s) => s,
        Err(e) => {
            eprintln!("oqsbot: {e}");
            if mutual {
                eprintln!("Is port {DEMO_TLS_PORT} taken? The demo's mutual-TLS site needs it.");
            }
            return Exit::Input.into();
        }
    };
    println!("{}", sim::describe(&sim, &options));
    let job = match write_demo_job(&dir, &sim) {
        Ok(j) => j,
        Err(e) => {
            eprintln!("oqsbot: cannot prepare the demo in {}: {e}", dir.display());
            return Exit::Input.into();
        }
    };
    println!("job file: {}", dir.join("job.toml").display());
    let mut options = crate::job::run::RunOptions::new(&job);
    options.secrets = demo_secrets();
    if let Err(code) = apply_browser(&mut options.browser, &browser) {
        return code;
    }
    super::progress::install(super::progress::Target::Stdout);
    let code = super::run::run_job(&job, &options).await;
    sim.shutdown();
    code
}
