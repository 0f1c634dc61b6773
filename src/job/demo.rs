//! `oqsbot demo`: a sample clinic on the built-in simulator.

use std::collections::HashMap;
use std::path::Path;

use super::JobFile;
use super::run::SecretSource;
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
