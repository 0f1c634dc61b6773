//! The offline subcommands, run as a field engineer runs them.

use std::io::Write;
use std::process::{Command, Output, Stdio};

use chrono::{Duration, NaiveDate, Utc};

fn oqsbot(args: &[&str], env: &[(&str, &str)], stdin: Option<&str>) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_oqsbot"));
    cmd.args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().expect("oqsbot runs");
    if let Some(text) = stdin {
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(text.as_bytes())
            .expect("write stdin");
    }
    drop(child.stdin.take());
    child.wait_with_output().expect("oqsbot finishes")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

#[test]
fn code_check_exit_codes() {
    let ok = oqsbot(&["code", "check", "2714206386"], &[], None);
    assert_eq!(ok.status.code(), Some(0));
    assert!(stdout(&ok).contains("大阪府") && stdout(&ok).contains("医科"));
    let bad = oqsbot(&["code", "check", "1234567890"], &[], None);
    assert_eq!(bad.status.code(), Some(1));
    assert!(stdout(&bad).contains("should be 7"));
}

#[test]
fn password_check_and_generate() {
    let ok = oqsbot(&["password", "check"], &[], Some("OnsAdmin@00369\n"));
    assert_eq!(ok.status.code(), Some(0), "{}", stdout(&ok));
    assert!(stdout(&ok).contains("never expires"));
    let bad = oqsbot(&["password", "check"], &[], Some("staff123\n"));
    assert_eq!(bad.status.code(), Some(1));
    assert!(stdout(&bad).contains("upper-case") && !stdout(&bad).contains("staff123"));
    let generated = oqsbot(&["password", "generate", "--length", "16"], &[], None);
    let password = stdout(&generated).trim().to_string();
    assert_eq!(password.chars().count(), 16);
    let check = oqsbot(&["password", "check"], &[], Some(&format!("{password}\n")));
    assert_eq!(check.status.code(), Some(0));
    assert_eq!(
        oqsbot(&["password", "generate", "--length", "30"], &[], None)
            .status
            .code(),
        Some(2)
    );
}

#[test]
fn csv_build_then_check() {
    let dir = tempfile::tempdir().expect("dir");
    let file = dir.path().join("accounts.csv");
    let f = file.to_str().expect("path");
    let built = oqsbot(
        &[
            "csv",
            "build",
            "--kind",
            "医科歯科",
            "--start",
            "2026/11/25",
            "--password-env",
            "PW",
            "-o",
            f,
        ],
        &[("PW", "OnsAdmin@00369")],
        None,
    );
    assert_eq!(
        built.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&built.stderr)
    );
    assert!(stdout(&built).contains("FOFACE01, R0RENK01"));
    let checked = oqsbot(&["csv", "check", f, "--json"], &[], None);
    assert_eq!(checked.status.code(), Some(0));
    let report: serde_json::Value = serde_json::from_slice(&checked.stdout).expect("json");
    assert_eq!(report["valid"], true);
    assert_eq!(report["rows"], 2);

    let weak = oqsbot(
        &[
            "csv",
            "build",
            "--kind",
            "薬局",
            "--start",
            "2026/11/25",
            "--password-env",
            "PW",
            "-o",
            f,
        ],
        &[("PW", "weak")],
        None,
    );
    assert_eq!(weak.status.code(), Some(1));
    assert!(stdout(&weak).contains("no file was written"));
    let missing = oqsbot(
        &[
            "csv",
            "build",
            "--kind",
            "薬局",
            "--start",
            "2026/11/25",
            "--password-env",
            "NOPE",
            "-o",
            f,
        ],
        &[],
        None,
    );
    assert_eq!(missing.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&missing.stderr).contains("NOPE is not set"));

    std::fs::write(&file, "権限区分,ユーザID\r\n".as_bytes()).expect("write");
    let utf8 = oqsbot(&["csv", "check", f], &[], None);
    assert_eq!(utf8.status.code(), Some(1));
    assert!(stdout(&utf8).contains("UTF-8"));
}

#[test]
fn pdf_json_has_exactly_the_documented_keys() {
    let dir = tempfile::tempdir().expect("dir");
    let file = dir.path().join("master.pdf");
    let opts = oqs_sim::config::PdfOptions {
        font: oqs_sim::config::PdfFont::UnijisUcs2,
        ..Default::default()
    };
    let notice = oqs_sim::pdf::CredentialNotice {
        issued: NaiveDate::from_ymd_opt(2026, 11, 25).expect("date"),
        postal_code: "〒100-0001".into(),
        address: "東京都千代田区千代田1-1".into(),
        institution_name: "青葉ファミリークリニック".into(),
        institution_code: "1310100126".into(),
        user_id: "H1310100".into(),
        user_name: "マスター病院".into(),
        password: None,
        password_expires: None,
        reset_user_id: Some("H1310100R".into()),
        subtitle: None,
    };
    std::fs::write(&file, oqs_sim::pdf::render(&notice, &opts, None).expect("pdf")).expect("write");
    let out = oqsbot(&["pdf", file.to_str().expect("path"), "--json"], &[], None);
    assert_eq!(out.status.code(), Some(0));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("one JSON object");
    let mut keys: Vec<&str> = v
        .as_object()
        .expect("object")
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort();
    assert_eq!(
        keys,
        [
            "environment",
            "institution_code",
            "institution_name",
            "issued",
            "password",
            "password_expires",
            "reset_user_id",
            "user_id",
            "user_name"
        ]
    );
    assert_eq!(v["password"], serde_json::Value::Null);
    assert_eq!(v["issued"], "2026-11-25");
    assert_eq!(v["institution_code"], "1310100126");

    std::fs::write(&file, b"%PDF-1.4 nonsense").expect("write");
    let bad = oqsbot(&["pdf", file.to_str().expect("path"), "--json"], &[], None);
    assert_eq!(bad.status.code(), Some(1));
    assert_eq!(stdout(&bad).lines().count(), 1, "a one-line reason");
}

#[test]
fn cert_check_with_password_from_env() {
    let dir = tempfile::tempdir().expect("dir");
    let file = dir.path().join("123.p12");
    let today = Utc::now().date_naive();
    let pki = oqs_sim::pki::Pki::new(today).expect("CA");
    let c = pki
        .issue_client(
            "1342304563",
            "受付",
            today - Duration::days(1),
            today + Duration::days(1100),
        )
        .expect("cert");
    std::fs::write(&file, pki.pkcs12(&c.key_der, &c.cert_der, "8024").expect("p12")).expect("write");
    let f = file.to_str().expect("path");
    let ok = oqsbot(
        &["cert", "check", f, "--code", "1342304563", "--password-env", "CP"],
        &[("CP", "8024")],
        None,
    );
    assert_eq!(ok.status.code(), Some(0), "{}", stdout(&ok));
    let wrong = oqsbot(
        &["cert", "check", f, "--code", "1342304563", "--password-env", "CP"],
        &[("CP", "1111")],
        None,
    );
    assert_eq!(wrong.status.code(), Some(1));
    assert!(stdout(&wrong).contains("does not open"));
    let old = oqsbot(
        &["cert", "check", f, "--code", "1312304569", "--password-env", "CP"],
        &[("CP", "8024")],
        None,
    );
    assert_eq!(old.status.code(), Some(1));
    assert!(stdout(&old).contains("not 1312304569"));
    let bad_code = oqsbot(
        &["cert", "check", f, "--code", "1234567890", "--password-env", "CP"],
        &[("CP", "8024")],
        None,
    );
    assert_eq!(bad_code.status.code(), Some(2));
}

#[cfg(unix)]
#[test]
fn run_refuses_a_secret_file_others_can_read_before_any_browser() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().expect("dir");
    let secret = dir.path().join("cert-password");
    std::fs::write(&secret, "1357\n").expect("write");
    std::fs::set_permissions(&secret, std::fs::Permissions::from_mode(0o644)).expect("chmod");
    let job = dir.path().join("job.toml");
    // The sites are never reached: the run stops while it checks its input.
    std::fs::write(
        &job,
        "[institution]\ncode = \"2713107890\"\nname = \"なにわ整形外科医院\"\n\
         [sites]\ncert_url = \"http://127.0.0.1:9/cert/\"\noqs_url = \"http://127.0.0.1:9/oqs/\"\n\
         [certificate]\nrequest_id = \"1\"\nreference_id = \"2\"\npassword_file = \"cert-password\"\n\
         [master]\nuser_id = \"H2713107\"\nsecret_number_env = \"OQSBOT_TEST_UNSET_SECRET\"\n\
         [output]\ndir = \"out\"\n",
    )
    .expect("job");
    let out = oqsbot(&["run", job.to_str().expect("utf-8 path")], &[], None);
    assert_eq!(
        out.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("chmod 600"), "{err}");
    assert!(
        err.contains("OQSBOT_TEST_UNSET_SECRET"),
        "every problem at once: {err}"
    );
    assert!(!err.contains("1357"), "the secret is never shown: {err}");
    assert!(
        !dir.path().join("out/browser-profile").exists(),
        "no browser was started"
    );
}

/// A job that stops in its input checks (an unset secret), whatever the browser options.
fn job_stopping_at_input(dir: &std::path::Path) -> std::path::PathBuf {
    let job = dir.join("job.toml");
    std::fs::write(
        &job,
        "[institution]\ncode = \"2713107890\"\nname = \"なにわ整形外科医院\"\n\
         [sites]\ncert_url = \"http://127.0.0.1:9/cert/\"\noqs_url = \"http://127.0.0.1:9/oqs/\"\n\
         [certificate]\nrequest_id = \"1\"\nreference_id = \"2\"\npassword_env = \"OQSBOT_TEST_UNSET_CERT\"\n\
         [master]\nuser_id = \"H2713107\"\nsecret_number_env = \"OQSBOT_TEST_UNSET_SECRET\"\n\
         [output]\ndir = \"out\"\n",
    )
    .expect("job");
    job
}

#[test]
fn run_refuses_a_plain_webdriver_elsewhere_before_any_browser() {
    let dir = tempfile::tempdir().expect("dir");
    let job = job_stopping_at_input(dir.path());
    let job = job.to_str().expect("utf-8 path");
    // TEST-NET-1: never reached, the run stops while it checks its input.
    let grid = "http://192.0.2.1:4444";
    let out = oqsbot(&["run", job, "--webdriver-url", grid], &[], None);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("--webdriver-url \"http://192.0.2.1:4444\" is plain http://")
            && err.contains("in clear")
            && err.contains("--allow-plain-webdriver"),
        "{err}"
    );
    assert!(
        !dir.path().join("out/browser-profile").exists(),
        "no browser was started"
    );

    // Allowed: a warning, and the run stops only on the job's own problem.
    let allowed = oqsbot(
        &["run", job, "--webdriver-url", grid, "--allow-plain-webdriver"],
        &[],
        None,
    );
    let err = String::from_utf8_lossy(&allowed.stderr);
    assert_eq!(allowed.status.code(), Some(2), "{err}");
    assert!(err.contains("warning: --allow-plain-webdriver"), "{err}");
    assert!(!err.contains("is plain http://"), "{err}");
    assert!(err.contains("OQSBOT_TEST_UNSET_SECRET"), "{err}");

    // On this machine plain http needs no flag.
    let local = oqsbot(&["run", job, "--webdriver-url", "http://127.0.0.1:9"], &[], None);
    let err = String::from_utf8_lossy(&local.stderr);
    assert_eq!(local.status.code(), Some(2), "{err}");
    assert!(
        !err.contains("--webdriver-url") && !err.contains("warning: --allow-plain-webdriver"),
        "{err}"
    );
    assert!(err.contains("OQSBOT_TEST_UNSET_SECRET"), "{err}");
}

/// A Grid node's browser presents only the certificate its own machine holds.
#[test]
fn run_through_a_grid_to_a_mutual_tls_site_needs_the_job_to_say_the_node_is_prepared() {
    let dir = tempfile::tempdir().expect("dir");
    let job = job_stopping_at_input(dir.path());
    let text = std::fs::read_to_string(&job)
        .expect("job")
        .replace("http://127.0.0.1:9/oqs/", "https://127.0.0.1:9/oqs/");
    std::fs::write(&job, &text).expect("job");
    let path = job.to_str().expect("utf-8 path");
    let grid = ["--webdriver-url", "http://127.0.0.1:9"];
    let out = oqsbot(&[&["run", path][..], &grid[..]].concat(), &[], None);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("remote_browser_has_certificate = true"), "{err}");
    assert!(
        !err.contains("AutoSelectCertificateForUrls rule"),
        "this machine's policy is not the node's: {err}"
    );

    // The node is prepared, and a person installs a new certificate there.
    let prepared = text
        .replace("[certificate]\n", "[certificate]\ninstall = \"person\"\n")
        .replace(
            "oqs_url = \"https://127.0.0.1:9/oqs/\"\n",
            "oqs_url = \"https://127.0.0.1:9/oqs/\"\nremote_browser_has_certificate = true\n",
        );
    std::fs::write(&job, prepared).expect("job");
    let out = oqsbot(&[&["run", path][..], &grid[..]].concat(), &[], None);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(!err.contains("remote_browser_has_certificate"), "{err}");
    assert!(!err.contains("install = \"run\""), "{err}");
    assert!(
        err.contains("OQSBOT_TEST_UNSET_SECRET"),
        "only the job's own problem: {err}"
    );
}

#[test]
fn run_refuses_bad_numbers_and_urls_in_the_job() {
    let dir = tempfile::tempdir().expect("dir");
    let job = dir.path().join("job.toml");
    std::fs::write(
        &job,
        "[institution]\ncode = \"2713107890\"\nname = \"なにわ整形外科医院\"\n\
         [sites]\ncert_url = \"http://cert.example/\"\noqs_url = \"https://hweb.oqs-st.onshikaku.org/\"\n\
         [master]\nuser_id = \"H2713107\"\n\
         [output]\ndir = \"out\"\nstatus_interval_secs = nan\nstatus_timeout_secs = -1\n",
    )
    .expect("job");
    let out = oqsbot(&["run", job.to_str().expect("utf-8 path")], &[], None);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    for what in [
        "cert_url \"http://cert.example/\" must start with https://",
        "接続検証環境",
        "status_interval_secs = NaN",
        "status_timeout_secs = -1.0",
    ] {
        assert!(err.contains(what), "{what}: {err}");
    }
}

#[test]
fn flow_refuses_a_plain_webdriver_elsewhere_before_its_output_folder() {
    let dir = tempfile::tempdir().expect("dir");
    let out_dir = dir.path().join("flow-out");
    let out = oqsbot(
        &[
            "flow",
            "logout",
            "--out",
            out_dir.to_str().expect("utf-8 path"),
            "--webdriver-url",
            "http://192.0.2.1:4444",
        ],
        &[],
        None,
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("in clear"), "{err}");
    assert!(!out_dir.exists(), "nothing was started");
}

/// A job whose run kept passwords: the admin's, FOFACE01's and the certificate's.
#[cfg(unix)]
fn job_with_store(dir: &std::path::Path) -> std::path::PathBuf {
    use oqsbot::job::store::{CredentialStore, Origin};
    use oqsbot::secret::Secret;
    let job = job_stopping_at_input(dir);
    let mut store = CredentialStore::open(&dir.join("out")).expect("store");
    store
        .record_password("OnsKANRI", &Secret::new("Kx7#mQ2vLp9w"), Origin::Generated)
        .expect("admin");
    store
        .record_password("FOFACE01", &Secret::new("Fa3$tR8nWq1z"), Origin::Job)
        .expect("face");
    store
        .record_password("H2713107R", &Secret::new("5093"), Origin::Job)
        .expect("reset account");
    store
        .record_secret("cert_password", &Secret::new("4826"))
        .expect("cert");
    job
}

#[cfg(unix)]
#[test]
fn the_hand_over_sheet_holds_every_password_and_is_owner_only() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().expect("dir");
    let job = job_with_store(dir.path());
    let out = oqsbot(&["credentials", "sheet", job.to_str().expect("path")], &[], None);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("機密") && stdout.contains("削除"), "{stdout}");
    for secret in ["Kx7#mQ2vLp9w", "Fa3$tR8nWq1z", "4826"] {
        assert!(!stdout.contains(secret), "the screen shows no password: {stdout}");
    }
    let sheet = dir.path().join("out/hand-over.html");
    let page = std::fs::read_to_string(&sheet).expect("sheet");
    for shown in [
        "OnsKANRI",
        "Kx7#mQ2vLp9w",
        "FOFACE01",
        "Fa3$tR8nWq1z",
        "4826",
        "2713107890",
        "顔認証アカウント",
        "リセット用アカウント",
    ] {
        assert!(page.contains(shown), "{shown} on the sheet");
    }
    let mode = std::fs::metadata(&sheet).expect("meta").permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);

    // No run yet: nothing to hand over, and no empty store is made.
    let fresh = tempfile::tempdir().expect("dir");
    let job = job_stopping_at_input(fresh.path());
    let out = oqsbot(&["credentials", "sheet", job.to_str().expect("path")], &[], None);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("run the job first"), "{err}");
    assert!(!fresh.path().join("out/credentials.json").exists());
}

#[cfg(target_os = "linux")]
#[test]
fn one_password_is_shown_at_a_terminal_only() {
    let dir = tempfile::tempdir().expect("dir");
    let job = job_with_store(dir.path());
    let job = job.to_str().expect("path");
    let piped = oqsbot(&["credentials", "show", job, "FOFACE01"], &[], None);
    assert_eq!(piped.status.code(), Some(2));
    let all = format!(
        "{}{}",
        String::from_utf8_lossy(&piped.stdout),
        String::from_utf8_lossy(&piped.stderr)
    );
    assert!(!all.contains("Fa3$tR8nWq1z"), "{all}");
    assert!(all.contains("only to a terminal"), "{all}");

    // At a terminal (script(1) gives the command one).
    let command = format!("{} credentials show {job} FOFACE01", env!("CARGO_BIN_EXE_oqsbot"));
    let shown = Command::new("script")
        .args(["-qec", &command, "/dev/null"])
        .stdin(Stdio::null())
        .output()
        .expect("script runs");
    let text = String::from_utf8_lossy(&shown.stdout);
    assert!(shown.status.success(), "{text}");
    assert!(text.contains("FOFACE01: Fa3$tR8nWq1z"), "{text}");
    let unknown = Command::new("script")
        .args([
            "-qec",
            &format!("{} credentials show {job} R9RENK01", env!("CARGO_BIN_EXE_oqsbot")),
            "/dev/null",
        ])
        .stdin(Stdio::null())
        .output()
        .expect("script runs");
    let text = String::from_utf8_lossy(&unknown.stdout);
    assert!(
        text.contains("no password for R9RENK01") && text.contains("FOFACE01, H2713107R, OnsKANRI"),
        "{text}"
    );
}
