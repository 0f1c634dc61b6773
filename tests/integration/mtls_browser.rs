//! Mutual TLS end to end: the browser downloads the .p12 on site A, presents
//! it to the オン資 site, and logs in.

use std::path::Path;
use std::time::Duration;

use crate::common;
use oqsbot::browser::client_cert::import_into_nss;
use oqsbot::browser::{Browser, BrowserError, BrowserOptions};
use oqsbot::flow::{Engine, FlowLibrary, Var};
use oqsbot::secret::{Redactor, Secret};

fn options(dir: &Path, home: Option<&Path>) -> BrowserOptions {
    let mut o = BrowserOptions::new(dir.join("downloads"));
    o.home = home.map(Path::to_path_buf);
    // Long enough for a loaded machine; the no-policy check waits this long once.
    o.page_load_timeout = Duration::from_secs(10);
    o
}

#[tokio::test]
async fn login_over_mutual_tls_with_the_downloaded_certificate() {
    let scenario = oqs_sim::Scenario::load("carried-over").expect("scenario");
    let config = oqs_sim::SimConfig::from_toml("[tls]\nmutual = true\n").expect("config");
    let sim = oqs_sim::start(scenario, config, 0).await.expect("simulator");
    let dir = tempfile::tempdir().expect("dir");

    // Site A, over plain HTTP, in a browser of its own.
    let b = Browser::start(options(&dir.path().join("a"), None))
        .await
        .expect("browser");
    let mut e = Engine::new(
        &b,
        FlowLibrary::default(),
        Redactor::new(),
        &dir.path().join("artifacts"),
    );
    e.set("cert_url", &sim.cert_site_url());
    e.set("request_id", "202611250000123");
    e.set("reference_id", "K7Q2M9X4TA");
    e.set_secret("cert_password", Secret::new("4821"));
    e.run("cert-download").await.unwrap_or_else(|err| panic!("{err}"));
    let p12 = match e.vars.get("p12") {
        Some(Var::File(p)) => p.clone(),
        other => panic!("{other:?}"),
    };
    drop(e);
    b.quit().await;

    // The run's own HOME holds the certificate, and the CA that signed the server.
    let home = dir.path().join("home");
    let ca = dir.path().join("ca.pem");
    std::fs::write(&ca, sim.ca_pem()).expect("ca");
    import_into_nss(&home, &p12, &Secret::new("4821"), Some(&ca)).expect("NSS import (libnss3-tools)");

    // Without a policy for the site, the browser cannot pick the certificate by
    // itself. The tests' policy covers 127.0.0.1; the same server as localhost is not covered.
    common::ensure_test_policy();
    let b = Browser::start(options(&dir.path().join("b"), Some(&home)))
        .await
        .expect("browser");
    match b.goto(&sim.oqs_url().replace("127.0.0.1", "localhost")).await {
        Err(err @ BrowserError::PageLoadTimeout { .. }) => {
            eprintln!("without the policy: {err}");
            assert!(err.to_string().contains("AutoSelectCertificateForUrls"), "{err}")
        }
        Err(other) => panic!("unexpected: {other}"),
        Ok(()) => assert!(
            !b.has_text("システムの利用を始める").await.unwrap_or(false),
            "no page without a certificate"
        ),
    }
    b.quit().await;

    // With it, the login goes through.
    let b = Browser::start(options(&dir.path().join("c"), Some(&home)))
        .await
        .expect("browser");
    let mut e = Engine::new(
        &b,
        FlowLibrary::default(),
        Redactor::new(),
        &dir.path().join("artifacts"),
    );
    e.set("oqs_url", &sim.oqs_url());
    e.set("user_id", "OnsKANRI");
    e.set_secret("password", Secret::new("OnsAdmin@00369"));
    e.run("login").await.unwrap_or_else(|err| panic!("{err}"));
    assert_eq!(e.text("login_result"), Some("menu"));
    e.run("read-institution-code")
        .await
        .unwrap_or_else(|err| panic!("{err}"));
    assert_eq!(e.text("institution_code"), Some("1312304569"));
    drop(e);
    b.quit().await;
}
