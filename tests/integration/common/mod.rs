//! The simulator the end-to-end tests run against, the jobs they give the bot,
//! and what they read back.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

use oqs_sim::{RunningSim, Scenario, SimConfig};
use serde_json::Value;

/// `GET /__sim/state`.
pub async fn state(sim: &RunningSim) -> Value {
    reqwest::get(format!("{}/__sim/state", sim.base_url))
        .await
        .expect("state")
        .json()
        .await
        .expect("json")
}

pub fn find_account<'a>(s: &'a Value, id: &str) -> Option<&'a Value> {
    s["accounts"]
        .as_array()
        .expect("accounts")
        .iter()
        .find(|a| a["user_id"] == id)
}

pub fn account<'a>(s: &'a Value, id: &str) -> &'a Value {
    find_account(s, id).unwrap_or_else(|| panic!("no account {id}"))
}

/// How many events of this kind the simulator logged.
pub fn events(s: &Value, kind: &str) -> usize {
    s["events"]
        .as_array()
        .expect("events")
        .iter()
        .filter(|e| e["kind"] == kind)
        .count()
}

/// Every failed login the portal saw. The bot tries a password only when
/// something says it may be current, so a run with the right inputs has none.
pub fn failed_logins(s: &Value) -> Vec<String> {
    s["events"]
        .as_array()
        .expect("events")
        .iter()
        .filter(|e| e["kind"] == "login_failed")
        .map(|e| e["user_id"].as_str().unwrap_or_default().to_string())
        .collect()
}

pub async fn sim(scenario: &str) -> RunningSim {
    sim_with(scenario, "").await
}

/// `OQS_TLS=mutual` runs every test's オン資 site over mutual TLS, as the real portal is.
pub fn mutual_tls_everywhere() -> bool {
    std::env::var("OQS_TLS").is_ok_and(|v| v == "mutual")
}

/// The managed policy the tests' browsers read: one file for every test, as
/// Chromium takes the policy from the last file, by name, that sets it.
pub const TEST_POLICY: &str = "/etc/chromium/policies/managed/zz-oqsbot-tests.json";

/// Lets the tests' browsers present the simulator's client certificate to any
/// port on 127.0.0.1 (not to localhost, which a test uses to see a refusal).
pub fn ensure_test_policy() {
    // The mutual-TLS tests share one process: one of them writes it.
    static WRITTEN: std::sync::Once = std::sync::Once::new();
    WRITTEN.call_once(write_test_policy);
}

fn write_test_policy() {
    let want =
        oqsbot::browser::client_cert::policy_json("https://127.0.0.1:*", oqsbot::cert::EXPECTED_ISSUER);
    if std::fs::read_to_string(TEST_POLICY).is_ok_and(|t| t == want) {
        return;
    }
    let path = Path::new(TEST_POLICY);
    let dir = path.parent().expect("policy folder");
    std::fs::create_dir_all(dir).unwrap_or_else(|e| {
        panic!(
            "{}: {e} (the mutual-TLS tests write the browser policy, as root)",
            dir.display()
        )
    });
    // Written whole, then renamed: a browser starting meanwhile reads the old file or the new one.
    let temp = dir.join(format!(".oqsbot-tests-{}.tmp", std::process::id()));
    std::fs::write(&temp, &want).expect("write the policy");
    std::fs::rename(&temp, path).expect("put the policy in place");
}

/// A simulator whose uploads finish within two seconds, with `extra` added to its configuration.
pub async fn sim_with(scenario: &str, extra: &str) -> RunningSim {
    let tls = if mutual_tls_everywhere() && !extra.contains("[tls]") {
        "[tls]\nmutual = true\n"
    } else {
        ""
    };
    sim_config(scenario, &format!("{extra}\n{tls}")).await
}

/// As `sim_with`, always over mutual TLS.
pub async fn sim_mutual(scenario: &str, extra: &str) -> RunningSim {
    sim_config(scenario, &format!("{extra}\n[tls]\nmutual = true\n")).await
}

/// As `sim_with`, over plain HTTP whatever `OQS_TLS` says.
pub async fn sim_config_plain(scenario: &str, extra: &str) -> RunningSim {
    sim_config(scenario, extra).await
}

async fn sim_config(scenario: &str, extra: &str) -> RunningSim {
    if extra.contains("mutual = true") {
        ensure_test_policy();
    }
    let config = SimConfig::from_toml(&format!(
        "[delays]\nqueued_secs = 1\nprocessing_secs = 1\n{extra}"
    ))
    .expect("config");
    oqs_sim::start(Scenario::load(scenario).expect("scenario"), config, 0)
        .await
        .expect("simulator")
}

/// A job for the scenario's institution; with `admin_password_env`, the admin and
/// account passwords come from the environment.
pub fn job(dir: &Path, sim: &RunningSim, admin_password_env: bool) -> PathBuf {
    let s = sim.scenario();
    std::fs::write(dir.join("master.pdf"), sim.master_pdf().expect("pdf")).expect("write pdf");
    let cert = s
        .certificates
        .iter()
        .find(|c| c.institution_code == s.institution.code)
        .expect("certificate");
    let admin = if admin_password_env {
        "[admin]\npassword_env = \"T_ADMIN\"\n[accounts]\npassword_env = \"T_ACCOUNTS\"\n"
    } else {
        ""
    };
    // Over TLS, the simulator's server certificate comes from its own CA.
    let ca = if sim.oqs_url().starts_with("https://") {
        std::fs::write(dir.join("ca.pem"), sim.ca_pem()).expect("write the CA");
        "oqs_ca_file = \"ca.pem\"\n"
    } else {
        ""
    };
    let text = format!(
        "[institution]\ncode = \"{}\"\nname = \"{}\"\n[sites]\ncert_url = \"{}\"\noqs_url = \"{}\"\n{ca}\
         [certificate]\nrequest_id = \"{}\"\nreference_id = \"{}\"\npassword_env = \"T_CERT\"\n\
         [master]\nuser_id = \"{}\"\npdf = \"master.pdf\"\nsecret_number_env = \"T_SECRET\"\n{admin}\
         [output]\ndir = \"out\"\nstatus_interval_secs = 0.5\nstatus_timeout_secs = 60\n",
        s.institution.code,
        s.institution.name,
        sim.cert_site_url(),
        sim.oqs_url(),
        cert.request_id,
        cert.reference_id,
        s.master.user_id,
    );
    let path = dir.join("job.toml");
    std::fs::write(&path, text).expect("job");
    path
}

/// The `report.json` a run wrote into its output folder.
pub fn report_in(out: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(out.join("report.json")).expect("report.json"))
        .expect("json")
}

/// Whether a step of the report ended with a result containing `text`.
pub fn report_says(report: &Value, text: &str) -> bool {
    report["steps"]
        .as_array()
        .expect("steps")
        .iter()
        .any(|s| s["result"].as_str().is_some_and(|r| r.contains(text)))
}

/// The recording replayed offline in a browser of its own, under `dir`.
pub async fn replay_in(
    recording: &oqsbot::recording::Recording,
    dir: &Path,
) -> oqsbot::replay::ReplayOutcome {
    let options = oqsbot::replay::ReplayOptions {
        flows_dir: None,
        browser: oqsbot::browser::BrowserOptions::new(dir.join("downloads")),
        work_dir: dir.join("replay"),
        changes: Vec::new(),
    };
    oqsbot::replay::replay(recording, options)
        .await
        .expect("the replay runs")
}

/// What differed at each step that did not do the same.
pub fn differences(outcome: &oqsbot::replay::ReplayOutcome) -> Vec<String> {
    outcome
        .comparisons
        .iter()
        .filter(|c| !c.differences.is_empty())
        .map(|c| c.differences.join("; "))
        .collect()
}

/// Every file and folder under `dir` that someone other than its owner may
/// read, write or enter, with its mode. Symbolic links carry no mode of their own.
#[cfg(unix)]
pub fn not_owner_only(dir: &Path) -> Vec<String> {
    use std::os::unix::fs::PermissionsExt;
    let mut found = Vec::new();
    if let Ok(meta) = std::fs::metadata(dir)
        && meta.permissions().mode() & 0o077 != 0
    {
        found.push(format!(
            "{} {:o}",
            dir.display(),
            meta.permissions().mode() & 0o777
        ));
    }
    let mut folders = vec![dir.to_path_buf()];
    while let Some(folder) = folders.pop() {
        let Ok(entries) = std::fs::read_dir(&folder) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            let Ok(meta) = std::fs::symlink_metadata(&path) else {
                continue;
            };
            if meta.file_type().is_symlink() {
                continue;
            }
            let mode = meta.permissions().mode() & 0o777;
            if mode & 0o077 != 0 {
                found.push(format!("{} {mode:o}", path.display()));
            }
            if meta.is_dir() {
                folders.push(path);
            }
        }
    }
    found
}
