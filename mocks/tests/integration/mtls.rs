//! Mutual TLS: the オン資 site demands a client certificate from the simulator's CA.

use crate::common;

use base64::Engine;
use common::*;
use p12_keystore::{KeyStore, Pkcs12ImportPolicy};

fn pem(label: &str, der: &[u8]) -> String {
    let b64 = base64::engine::general_purpose::STANDARD.encode(der);
    let lines: Vec<&str> = b64
        .as_bytes()
        .chunks(64)
        .map(|c| std::str::from_utf8(c).expect("ascii"))
        .collect();
    format!(
        "-----BEGIN {label}-----\n{}\n-----END {label}-----\n",
        lines.join("\n")
    )
}

fn client(ca_pem: &str, identity: Option<reqwest::Identity>) -> reqwest::Client {
    let mut builder = reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(ca_pem.as_bytes()).expect("CA"))
        .timeout(std::time::Duration::from_secs(10));
    if let Some(id) = identity {
        builder = builder.identity(id);
    }
    builder.build().expect("client")
}

#[tokio::test]
async fn the_site_needs_the_certificate_from_site_a() {
    let sim = sim_with("needs-reset", config("[tls]\nmutual = true\n")).await;
    assert!(
        sim.oqs_url().starts_with("https://127.0.0.1:"),
        "{}",
        sim.oqs_url()
    );
    let plain = Browser::new(&sim).get("/oqs/").await;
    assert_eq!(plain.status, 403);
    assert!(plain.has("クライアント証明書"));

    let ca = sim.ca_pem();
    assert!(
        client(&ca, None).get(sim.oqs_url()).send().await.is_err(),
        "no certificate, no page"
    );

    // Download the client certificate on site A, as the bot will.
    let p12 = reqwest::Client::new()
        .post(sim.cert_site_url().replace("/cert/", "/cert/download"))
        .form(&[
            ("request_id", "202611250000789"),
            ("reference_id", "Z9Y8X7W6VA"),
            ("password", "1357"),
            ("password_confirm", "1357"),
        ])
        .send()
        .await
        .expect("download")
        .bytes()
        .await
        .expect("bytes");
    let store = KeyStore::from_pkcs12(&p12, "1357", Pkcs12ImportPolicy::Relaxed).expect("p12");
    let (_, chain) = store.private_key_chain().expect("chain");
    let identity_pem = format!(
        "{}{}",
        pem("PRIVATE KEY", chain.key().as_der()),
        pem("CERTIFICATE", chain.certs()[0].as_der())
    );
    let identity = reqwest::Identity::from_pem(identity_pem.as_bytes()).expect("identity");
    let page = client(&ca, Some(identity))
        .get(sim.oqs_url())
        .send()
        .await
        .expect("with a certificate");
    assert_eq!(page.status(), 200);
    assert!(
        page.text()
            .await
            .expect("body")
            .contains("システムの利用を始める")
    );
}

#[tokio::test]
async fn a_certificate_from_another_ca_is_refused() {
    let sim = sim_with("needs-reset", config("[tls]\nmutual = true\n")).await;
    let key = rcgen::KeyPair::generate().expect("key");
    let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).expect("params");
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "2713107890");
    let cert = params.self_signed(&key).expect("self-signed");
    let identity_pem = format!("{}{}", key.serialize_pem(), cert.pem());
    let identity = reqwest::Identity::from_pem(identity_pem.as_bytes()).expect("identity");
    assert!(
        client(&sim.ca_pem(), Some(identity))
            .get(sim.oqs_url())
            .send()
            .await
            .is_err()
    );
}
