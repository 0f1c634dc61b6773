//! Site A: 証明書の取得画面.

use crate::common;

use common::*;
use p12_keystore::{KeyStore, Pkcs12ImportPolicy};
use x509_parser::prelude::*;

async fn download(b: &Browser, request: &str, reference: &str, pw: &str, pw2: &str) -> reqwest::Response {
    b.http
        .post(format!("{}/cert/download", b.base))
        .form(&[
            ("request_id", request),
            ("reference_id", reference),
            ("password", pw),
            ("password_confirm", pw2),
        ])
        .send()
        .await
        .expect("POST")
}

#[tokio::test]
async fn the_form_has_the_manual_texts() {
    let sim = sim("needs-reset").await;
    let page = Browser::new(&sim).get("/cert/").await;
    for text in [
        "証明書の取得画面",
        "リクエスト ID",
        "リファレンス ID",
        "証明書パスワード (確認用)",
        "ダウンロード",
        "任意の4桁の半角数字",
    ] {
        assert!(page.has(text), "missing {text}");
    }
}

#[tokio::test]
async fn right_ids_return_a_pkcs12_for_the_institution() {
    let sim = sim("needs-reset").await;
    let b = Browser::new(&sim);
    let resp = download(&b, "202611250000789", "Z9Y8X7W6VA", "1357", "1357").await;
    assert_eq!(resp.headers()["content-type"], "application/x-pkcs12");
    let disposition = resp.headers()["content-disposition"]
        .to_str()
        .expect("ascii")
        .to_string();
    let name = disposition
        .split("filename=\"")
        .nth(1)
        .expect("a file name")
        .trim_end_matches('"');
    let stem = name.strip_suffix(".p12").expect("a .p12 file");
    assert!(
        !stem.is_empty() && stem.bytes().all(|b| b.is_ascii_digit()),
        "{name}"
    );

    let bytes = resp.bytes().await.expect("body");
    assert!(
        KeyStore::from_pkcs12(&bytes, "2468", Pkcs12ImportPolicy::Relaxed).is_err(),
        "opens only with its password"
    );
    let store =
        KeyStore::from_pkcs12(&bytes, "1357", Pkcs12ImportPolicy::Relaxed).expect("opens with its password");
    let (_, chain) = store.private_key_chain().expect("a key and its chain");
    let (_, cert) = X509Certificate::from_der(chain.certs()[0].as_der()).expect("X.509");
    let cn = cert
        .subject()
        .iter_common_name()
        .next()
        .and_then(|c| c.as_str().ok())
        .expect("CN");
    assert_eq!(cn, "2713107890");
    let issuer = cert
        .issuer()
        .iter_common_name()
        .next()
        .and_then(|c| c.as_str().ok())
        .expect("issuer CN");
    assert_eq!(issuer, "Online Billing NW Common Root CA");
    let days = (cert.validity().not_after.timestamp() - cert.validity().not_before.timestamp()) / 86400;
    assert!(
        (1090..=1190).contains(&days),
        "valid about 3 years, not {days} days"
    );
    assert!(cert.validity().is_valid(), "valid today");
}

#[tokio::test]
async fn the_old_codes_certificate_names_the_old_code() {
    let sim = sim("needs-reset").await;
    let bytes = download(
        &Browser::new(&sim),
        "202103110000001",
        "OLDCODE001",
        "1357",
        "1357",
    )
    .await
    .bytes()
    .await
    .expect("body");
    let store = KeyStore::from_pkcs12(&bytes, "1357", Pkcs12ImportPolicy::Relaxed).expect("p12");
    let (_, chain) = store.private_key_chain().expect("chain");
    assert!(chain.certs()[0].subject().contains("2713101234"));
}

#[tokio::test]
async fn bad_input_gets_a_message_not_a_file() {
    let sim = sim("needs-reset").await;
    let b = Browser::new(&sim);
    let cases = [
        (
            "202611250000789",
            "WRONGWRONG",
            "1357",
            "1357",
            "リクエスト ID またはリファレンス ID が正しくありません。",
        ),
        ("202611250000789", "Z9Y8X7W6VA", "1357", "1358", "一致しません"),
        ("202611250000789", "Z9Y8X7W6VA", "135", "135", "4桁の半角数字"),
        ("202611250000789", "Z9Y8X7W6VA", "13a7", "13a7", "4桁の半角数字"),
        ("", "", "1357", "1357", "入力してください"),
    ];
    for (req, reference, pw, pw2, message) in cases {
        let resp = download(&b, req, reference, pw, pw2).await;
        assert!(
            resp.headers()["content-type"]
                .to_str()
                .expect("ascii")
                .starts_with("text/html")
        );
        let body = resp.text().await.expect("body");
        assert!(
            body.contains(message),
            "expected {message:?} for {req}/{reference}/{pw}/{pw2}"
        );
    }
    assert!(
        state(&sim).await["certificates"]
            .as_array()
            .expect("list")
            .is_empty()
    );
}

#[tokio::test]
async fn an_expired_download_window_is_refused() {
    let sim = sim("expired-certificate").await;
    let resp = download(
        &Browser::new(&sim),
        "202505010000321",
        "E5X6P7I8RD",
        "1357",
        "1357",
    )
    .await;
    let body = resp.text().await.expect("body");
    assert!(body.contains("有効期限を過ぎている"), "{body}");
}

#[tokio::test]
async fn the_window_closes_when_the_clock_passes_it() {
    let sim = sim("needs-reset").await;
    let b = Browser::new(&sim);
    assert!(
        download(&b, "202611250000789", "Z9Y8X7W6VA", "1357", "1357")
            .await
            .headers()["content-type"]
            == "application/x-pkcs12"
    );
    advance(&sim, 180 * 86400).await;
    let body = download(&b, "202611250000789", "Z9Y8X7W6VA", "1357", "1357")
        .await
        .text()
        .await
        .expect("body");
    assert!(body.contains("有効期限を過ぎている"));
}
