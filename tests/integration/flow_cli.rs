//! `oqsbot flow` as a field engineer runs it: a job file, secrets in the environment.

use std::process::Command;

async fn sim(scenario: &str) -> oqs_sim::RunningSim {
    let s = oqs_sim::Scenario::load(scenario).expect("scenario");
    oqs_sim::start(s, oqs_sim::SimConfig::default(), 0)
        .await
        .expect("simulator")
}

fn job(dir: &std::path::Path, sim: &oqs_sim::RunningSim, code: &str, master: &str) -> std::path::PathBuf {
    let path = dir.join("job.toml");
    let text = format!(
        r#"[institution]
code = "{code}"
name = "テスト医院"
[sites]
cert_url = "{}"
oqs_url = "{}"
[certificate]
request_id = "202611250000789"
reference_id = "Z9Y8X7W6VA"
password_env = "TEST_CERT_PW"
[master]
user_id = "{master}"
secret_number_env = "TEST_SECRET"
[admin]
password_env = "TEST_ADMIN_PW"
[output]
dir = "runs"
"#,
        sim.cert_site_url(),
        sim.oqs_url()
    );
    std::fs::write(&path, text).expect("job");
    path
}

fn oqsbot(args: &[&str], env: &[(&str, &str)]) -> std::process::Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_oqsbot"));
    cmd.args(args);
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().expect("oqsbot runs")
}

/// Runs `oqsbot` off the async runtime, expects exit 0, and returns the JSON it printed, and the text.
async fn flow_json(
    args: Vec<String>,
    env: &'static [(&'static str, &'static str)],
) -> (serde_json::Value, String) {
    let out = tokio::task::spawn_blocking(move || {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        oqsbot(&args, env)
    })
    .await
    .expect("joined");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    (serde_json::from_str(&stdout).expect("JSON"), stdout.into_owned())
}

#[tokio::test]
async fn cert_download_from_a_job() {
    let sim = sim("needs-reset").await;
    let dir = tempfile::tempdir().expect("dir");
    let job = job(dir.path(), &sim, "2713107890", "H2713107");
    let job_path = job.to_str().expect("path").to_string();
    let (v, _) = flow_json(
        vec!["flow".into(), "cert-download".into(), "--job".into(), job_path],
        &[("TEST_CERT_PW", "1357")],
    )
    .await;
    assert_eq!(v["outputs"]["p12"]["certificate"]["valid"], true, "{v}");
    assert_eq!(
        v["outputs"]["p12"]["certificate"]["institution_code"],
        "2713107890"
    );
    let run = std::path::Path::new(v["run"].as_str().expect("run dir"));
    assert!(run.join("steps.jsonl").is_file());
    assert!(
        !std::fs::read_to_string(run.join("steps.jsonl"))
            .expect("log")
            .contains("1357\"")
    );
}

#[tokio::test]
async fn a_bad_job_is_refused_before_any_browser() {
    let sim = sim("needs-reset").await;
    let dir = tempfile::tempdir().expect("dir");
    let job = job(dir.path(), &sim, "1234567890", "H2713107");
    let out = oqsbot(
        &[
            "flow",
            "login",
            "--job",
            job.to_str().expect("path"),
            "--as",
            "admin",
        ],
        &[],
    );
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("should be 7"), "{err}");
}

#[tokio::test]
async fn login_as_the_jobs_admin_and_read_the_code() {
    let sim = sim("carried-over").await;
    let dir = tempfile::tempdir().expect("dir");
    let job = job(dir.path(), &sim, "1312304569", "H1312304");
    let flows = dir.path().join("flows");
    std::fs::create_dir_all(&flows).expect("flows dir");
    // A flow of the user's own, made of two built-in ones.
    std::fs::write(flows.join("admin-code.toml"), "name = \"admin-code\"\noutputs = [\"institution_code\", \"login_result\"]\n[[step]]\ncall = \"login\"\n[[step]]\ncall = \"read-institution-code\"\n").expect("flow");
    let (job_path, flows_path) = (
        job.to_str().expect("path").to_string(),
        flows.to_str().expect("path").to_string(),
    );
    let (v, stdout) = flow_json(
        [
            "flow",
            "admin-code",
            "--job",
            &job_path,
            "--as",
            "admin",
            "--flows",
            &flows_path,
        ]
        .map(String::from)
        .to_vec(),
        &[("TEST_ADMIN_PW", "OnsAdmin@00369")],
    )
    .await;
    assert_eq!(v["outputs"]["institution_code"], "1312304569");
    assert_eq!(v["outputs"]["login_result"], "menu");
    assert!(!stdout.contains("OnsAdmin@00369"));
}

/// The desk's workflow: a flow that fails in the field leaves a recording; the
/// fixed flow is proven on that recording, offline, before it goes back.
#[tokio::test]
async fn a_fixed_flow_is_proven_on_the_recording_of_the_failure() {
    let sim = sim("carried-over").await;
    let dir = tempfile::tempdir().expect("dir");
    let job = job(dir.path(), &sim, "1312304569", "H1312304");
    let shipped = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/flows/login.toml"))
        .expect("login.toml");
    // The field's flow file waits for a button the portal does not have.
    let broken = dir.path().join("broken");
    std::fs::create_dir_all(&broken).expect("dir");
    std::fs::write(
        broken.join("login.toml"),
        shipped.replace("システムの利用を始める", "システムを利用する"),
    )
    .expect("broken flow");
    let fixed = dir.path().join("fixed");
    std::fs::create_dir_all(&fixed).expect("dir");
    std::fs::write(fixed.join("login.toml"), &shipped).expect("fixed flow");
    let out_dir = dir.path().join("field");
    let args: Vec<String> = [
        "flow",
        "login",
        "--job",
        job.to_str().expect("path"),
        "--as",
        "admin",
        "--flows",
        broken.to_str().expect("path"),
        "--out",
        out_dir.to_str().expect("path"),
    ]
    .map(String::from)
    .to_vec();
    let failed = tokio::task::spawn_blocking(move || {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        oqsbot(&args, &[("TEST_ADMIN_PW", "OnsAdmin@00369")])
    })
    .await
    .expect("joined");
    let stderr = String::from_utf8_lossy(&failed.stderr);
    assert_eq!(failed.status.code(), Some(1), "{stderr}");
    let recording = out_dir.join(oqsbot::recording::FILE_NAME);
    assert!(
        stderr.contains(&format!(
            "{}: {}",
            oqsbot::cli::RECORDING_LINE,
            recording.display()
        )),
        "{stderr}"
    );
    drop(sim);

    // No simulator from here on: the recording alone.
    let replay = |flows: std::path::PathBuf, out: &str| {
        let (recording, out) = (recording.clone(), dir.path().join(out));
        tokio::task::spawn_blocking(move || {
            oqsbot(
                &[
                    "replay",
                    recording.to_str().expect("path"),
                    "--flows",
                    flows.to_str().expect("path"),
                    "--out",
                    out.to_str().expect("path"),
                ],
                &[],
            )
        })
    };
    let same = replay(broken.clone(), "replay-broken").await.expect("joined");
    let stdout = String::from_utf8_lossy(&same.stdout);
    assert_eq!(same.status.code(), Some(0), "{stdout}");
    assert!(
        stdout.contains("every step did what it did in the recording"),
        "{stdout}"
    );

    let proven = replay(fixed, "replay-fixed").await.expect("joined");
    let stdout = String::from_utf8_lossy(&proven.stdout);
    assert_eq!(proven.status.code(), Some(0), "{stdout}");
    assert!(
        stdout.contains("the step that failed in the recording passes now"),
        "{stdout}"
    );
}

/// A flow that has the portal issue a password runs only with a job, whose
/// credential store keeps that password the moment the screen shows it.
#[tokio::test]
async fn an_issuing_flow_needs_a_job_and_keeps_the_password_in_its_store() {
    let sim = sim("needs-reset").await;
    let dir = tempfile::tempdir().expect("dir");
    let out = dir.path().join("out");
    let refused = {
        let out = out.clone();
        let oqs = sim.oqs_url();
        tokio::task::spawn_blocking(move || {
            let out = out.display().to_string();
            oqsbot(
                &[
                    "flow",
                    "reset-master-password",
                    "--var",
                    &format!("oqs_url={oqs}"),
                    "--var",
                    "reset_user_id=H2713107R",
                    "--var",
                    "master_user_id=H2713107",
                    "--out",
                    &out,
                ],
                &[],
            )
        })
        .await
        .expect("joined")
    };
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert_eq!(refused.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("--job"), "{stderr}");
    assert!(!out.exists(), "refused before any output or browser");

    let path = job(dir.path(), &sim, "2713107890", "H2713107");
    let text = std::fs::read_to_string(&path).expect("job");
    std::fs::write(
        &path,
        text.replace(
            "dir = \"runs\"",
            &format!("dir = {:?}", out.display().to_string()),
        ),
    )
    .expect("job");
    let secret = sim.scenario().master.secret_number.clone();
    let done = tokio::task::spawn_blocking(move || {
        let path = path.display().to_string();
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_oqsbot"));
        cmd.args([
            "flow",
            "reset-master-password",
            "--job",
            &path,
            "--as",
            "reset",
            "--no-record",
        ])
        .env("TEST_SECRET", secret);
        cmd.output().expect("oqsbot runs")
    })
    .await
    .expect("joined");
    let stdout = String::from_utf8_lossy(&done.stdout);
    let stderr = String::from_utf8_lossy(&done.stderr);
    assert!(done.status.success(), "{stdout}\n{stderr}");
    let state: serde_json::Value = reqwest::get(format!("{}/__sim/state", sim.base_url))
        .await
        .expect("state")
        .json()
        .await
        .expect("json");
    let portal = state["accounts"]
        .as_array()
        .expect("accounts")
        .iter()
        .find(|a| a["user_id"] == "H2713107")
        .and_then(|a| a["password"].as_str())
        .expect("the master's password")
        .to_string();
    let store = oqsbot::job::store::CredentialStore::open(&out).expect("the job's store");
    let (stored, _) = store.password("H2713107").expect("kept in the job's store");
    assert_eq!(stored.expose(), portal);
    assert!(
        !stdout.contains(&portal) && !stderr.contains(&portal),
        "never printed"
    );
    let journal = std::fs::read_to_string(out.join("journal.jsonl")).expect("journal");
    assert!(
        journal.contains("\"action\":\"flow:reset-master-password\",\"phase\":\"done\""),
        "{journal}"
    );
    // Under the run's own name, so that a run after a killed flow would find it.
    assert!(
        journal.contains("\"action\":\"reset:H2713107\",\"phase\":\"done\""),
        "{journal}"
    );
}

/// Given a new password, a flow that may change one needs a job, whose store
/// keeps the new password once the change is made.
#[test]
fn a_flow_that_may_change_a_password_needs_a_job() {
    let dir = tempfile::tempdir().expect("dir");
    let out = dir.path().join("out");
    let refused = oqsbot(
        &[
            "flow",
            "login",
            "--var",
            "oqs_url=http://127.0.0.1:9/oqs/",
            "--var",
            "user_id=H2713107",
            "--secret-env",
            "password=T_OLD",
            "--secret-env",
            "new_password=T_NEW",
            "--out",
            &out.display().to_string(),
        ],
        &[("T_OLD", "Abc123!x"), ("T_NEW", "Xyz789!q")],
    );
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert_eq!(refused.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("--job") && stderr.contains("new_password"),
        "{stderr}"
    );
    assert!(!stderr.contains("Xyz789!q"), "{stderr}");
    assert!(!out.exists(), "refused before any output or browser");
}

/// With a job, the new password is in its store once the portal took it, and
/// the change is journaled.
#[tokio::test]
async fn a_password_changed_by_a_flow_is_kept_in_the_jobs_store() {
    let sim = sim("initial-password").await;
    let dir = tempfile::tempdir().expect("dir");
    let out = dir.path().join("out");
    let path = job(dir.path(), &sim, "1310100126", "H1310100");
    let text = std::fs::read_to_string(&path).expect("job");
    std::fs::write(
        &path,
        text.replace(
            "dir = \"runs\"",
            &format!("dir = {:?}", out.display().to_string()),
        ),
    )
    .expect("job");
    let initial = sim.scenario().master.password.clone();
    let oqs = sim.oqs_url();
    let done = tokio::task::spawn_blocking(move || {
        let path = path.display().to_string();
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_oqsbot"));
        cmd.args([
            "flow",
            "login",
            "--job",
            &path,
            "--var",
            &format!("oqs_url={oqs}"),
            "--var",
            "user_id=H1310100",
            "--secret-env",
            "password=T_OLD",
            "--secret-env",
            "new_password=T_NEW",
            "--no-record",
        ])
        .env("T_OLD", initial)
        .env("T_NEW", "Qw7!rTz2Lp9x");
        cmd.output().expect("oqsbot runs")
    })
    .await
    .expect("joined");
    let stdout = String::from_utf8_lossy(&done.stdout);
    let stderr = String::from_utf8_lossy(&done.stderr);
    assert!(done.status.success(), "{stdout}\n{stderr}");
    let store = oqsbot::job::store::CredentialStore::open(&out).expect("the job's store");
    let (stored, origin) = store.password("H1310100").expect("kept in the job's store");
    assert_eq!(stored.expose(), "Qw7!rTz2Lp9x");
    assert_eq!(origin, oqsbot::job::store::Origin::Changed);
    let journal = std::fs::read_to_string(out.join("journal.jsonl")).expect("journal");
    assert!(
        journal.contains("\"action\":\"password:H1310100\",\"phase\":\"done\""),
        "{journal}"
    );
}
