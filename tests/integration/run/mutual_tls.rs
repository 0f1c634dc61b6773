//! The run as on the real portal: the オン資 site over HTTPS, signed by a
//! private CA, and only for a browser presenting the institution's client
//! certificate, the one the run downloads at ④.

use super::*;
use common::sim_mutual;
use oqsbot::browser::client_cert::import_into_nss;

/// The run's own browser HOME is gone after the run: it held the private key.
fn assert_home_cleared(job: &JobFile) {
    assert!(
        !job.output.dir.join("browser-home").exists(),
        "the run's certificate database is removed at the end"
    );
}

#[tokio::test]
async fn needs_reset_over_mutual_tls_from_download_to_verification() {
    let sim = sim_mutual("needs-reset", "").await;
    assert!(sim.oqs_url().starts_with("https://"), "{}", sim.oqs_url());
    let dir = tempfile::tempdir().expect("dir");
    let path = job(dir.path(), &sim, false);
    let (result, job) = run_job(&path, &sim, None).await;
    result.unwrap_or_else(|e| panic!("{e}"));
    let s = state(&sim).await;
    assert_eq!(events(&s, "certificate_downloaded"), 1);
    assert_eq!(events(&s, "password_reset"), 1);
    assert_eq!(events(&s, "upload_received"), 1);
    assert_eq!(failed_logins(&s), Vec::<String>::new());
    let r = report(&job);
    assert_eq!(r["exit_code"], 0);
    assert_eq!(r["institution_code_read"], sim.scenario().institution.code);
    assert!(
        report_says(&r, "この実行専用のブラウザに読み込みました"),
        "the report says the certificate went into the run's browser: {r}"
    );
    assert_home_cleared(&job);
}

#[tokio::test]
async fn carried_over_over_mutual_tls_only_verifies() {
    let sim = sim_mutual("carried-over", "").await;
    let dir = tempfile::tempdir().expect("dir");
    let path = job(dir.path(), &sim, true);
    let (result, job) = run_job(&path, &sim, Some("OnsAdmin@00369")).await;
    result.unwrap_or_else(|e| panic!("{e}"));
    let s = state(&sim).await;
    assert_eq!(
        events(&s, "password_reset") + events(&s, "account_registered") + events(&s, "upload_received"),
        0
    );
    assert_eq!(events(&s, "login_failed"), 0);
    assert_eq!(report(&job)["institution_code_read"], "1312304569");
    assert_home_cleared(&job);
}

#[tokio::test]
async fn a_site_no_policy_covers_is_refused_before_any_browser() {
    let sim = sim_mutual("needs-reset", "").await;
    let dir = tempfile::tempdir().expect("dir");
    let path = job(dir.path(), &sim, false);
    // The tests' policy covers 127.0.0.1 only: the same site as localhost is not covered.
    let text = std::fs::read_to_string(&path).expect("job");
    let uncovered = sim.oqs_url().replace("127.0.0.1", "localhost");
    std::fs::write(&path, text.replace(&sim.oqs_url(), &uncovered)).expect("job");
    let (result, job) = run_job(&path, &sim, None).await;
    let err = result.expect_err("refused");
    assert_eq!(err.exit_code(), 2, "{err}");
    let text = err.to_string();
    let origin = oqsbot::browser::client_cert::origin(&uncovered);
    assert!(
        text.contains(&format!("oqsbot browser-policy --url {origin}")),
        "the error gives the command that fixes it: {text}"
    );
    let s = state(&sim).await;
    assert_eq!(events(&s, "certificate_downloaded"), 0, "nothing was downloaded");
    assert!(
        !job.output.dir.join("browser-profile").exists(),
        "no browser started"
    );
}

#[tokio::test]
async fn a_person_installs_the_certificate_then_the_same_job_continues() {
    let sim = sim_mutual("needs-reset", "").await;
    let dir = tempfile::tempdir().expect("dir");
    let path = job(dir.path(), &sim, false);
    // The terminal's own store, which a person fills: here an NSS database of the test's.
    let text = std::fs::read_to_string(&path)
        .expect("job")
        .replace("oqs_ca_file = \"ca.pem\"\n", "")
        .replace(
            "password_env = \"T_CERT\"\n",
            "password_env = \"T_CERT\"\ninstall = \"person\"\n",
        );
    std::fs::write(&path, text).expect("job");
    let system_home = dir.path().join("terminal-home");
    std::fs::create_dir_all(&system_home).expect("home");
    let job = JobFile::load(&path).expect("job loads");
    let mut opts = options(&job, &sim, None);
    opts.browser.home = Some(system_home.clone());

    let (first, _) = run(&job, &opts).await;
    let err = first.expect_err("stops for the person");
    assert_eq!(err.exit_code(), 5, "{err}");
    let backup = job.output.dir.join("NTT東オン資端末_電子証明書");
    let p12 = std::fs::read_dir(&backup)
        .expect("backup folder")
        .flatten()
        .map(|e| e.path())
        .find(|p| p.extension().is_some_and(|x| x == "p12"))
        .expect("the .p12 is backed up");
    let text = err.to_string();
    assert!(
        text.contains(&p12.display().to_string()),
        "the stop names the file to install: {text}"
    );
    assert!(
        text.contains("cert_password"),
        "and where its password is: {text}"
    );
    assert!(!text.contains("1357"), "but not the password: {text}");
    let s = state(&sim).await;
    assert_eq!(events(&s, "certificate_downloaded"), 1);
    assert_eq!(
        s["events"].as_array().map(|e| e
            .iter()
            .filter(|e| e["kind"].as_str().is_some_and(|k| k.starts_with("login")))
            .count()),
        Some(0),
        "no login before the certificate is installed"
    );

    // 工事手順⑤⑥, by a person: the certificate, and the CA of the server, in the terminal's store.
    let ca = dir.path().join("ca.pem");
    import_into_nss(&system_home, &p12, &Secret::new("1357"), Some(&ca)).expect("NSS import");
    let (second, _) = run(&job, &opts).await;
    second.unwrap_or_else(|e| panic!("{e}"));
    let s = state(&sim).await;
    assert_eq!(events(&s, "certificate_downloaded"), 1, "no second download");
    assert_eq!(events(&s, "password_reset"), 1);
    assert_eq!(events(&s, "upload_received"), 1);
    let r = report(&job);
    assert!(report_says(&r, "作業者がインストール済み"), "{r}");
    // The report of the run that finished still names the certificate, downloaded by the first.
    assert_eq!(
        r["certificate"]["backup"].as_str(),
        Some(p12.display().to_string().as_str()),
        "{r}"
    );
    assert!(!job.output.dir.join("browser-home").exists());
}

/// The .p12 a person downloaded on an earlier day, fetched as the form posts it.
async fn p12_downloaded_earlier(sim: &RunningSim, to: &Path) -> std::path::PathBuf {
    let s = sim.scenario();
    let cert = s
        .certificates
        .iter()
        .find(|c| c.institution_code == s.institution.code)
        .expect("certificate");
    let bytes = reqwest::Client::new()
        .post(format!("{}download", sim.cert_site_url()))
        .form(&[
            ("request_id", cert.request_id.as_str()),
            ("reference_id", cert.reference_id.as_str()),
            ("password", "1357"),
            ("password_confirm", "1357"),
        ])
        .send()
        .await
        .expect("download")
        .bytes()
        .await
        .expect("body");
    let path = to.join("earlier.p12");
    std::fs::write(&path, &bytes).expect("write");
    path
}

#[tokio::test]
async fn a_job_without_a_download_uses_the_certificate_it_names() {
    let sim = sim_mutual("carried-over", "").await;
    let dir = tempfile::tempdir().expect("dir");
    let p12 = p12_downloaded_earlier(&sim, dir.path()).await;
    let path = job(dir.path(), &sim, true);
    let text = std::fs::read_to_string(&path).expect("job");
    let start = text.find("[certificate]").expect("section");
    let end = text.find("[master]").expect("section");
    let given = format!(
        "[client_certificate]\nfile = \"{}\"\npassword_env = \"T_CERT\"\n",
        p12.display()
    );
    std::fs::write(&path, format!("{}{given}{}", &text[..start], &text[end..])).expect("job");
    let (result, job) = run_job(&path, &sim, Some("OnsAdmin@00369")).await;
    result.unwrap_or_else(|e| panic!("{e}"));
    let s = state(&sim).await;
    assert_eq!(
        events(&s, "certificate_downloaded"),
        1,
        "only the earlier download"
    );
    assert_eq!(events(&s, "login_failed"), 0);
    assert_eq!(report(&job)["institution_code_read"], "1312304569");
    assert!(report_says(
        &report(&job),
        "earlier.p12 をこの実行専用のブラウザに読み込みました"
    ));
    assert_home_cleared(&job);

    // A file that is no certificate is refused before any browser starts.
    let other = dir.path().join("other.p12");
    std::fs::write(&other, b"not a certificate").expect("write");
    let text = std::fs::read_to_string(&path).expect("job");
    std::fs::write(
        &path,
        text.replace(&p12.display().to_string(), &other.display().to_string()),
    )
    .expect("job");
    let (result, _) = run_job(&path, &sim, Some("OnsAdmin@00369")).await;
    let err = result.expect_err("refused");
    assert_eq!(err.exit_code(), 2, "{err}");
    assert!(err.to_string().contains("[client_certificate]"), "{err}");
}
