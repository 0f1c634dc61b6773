//! Writes the inputs scripts/windows.sh gives oqsbot.exe under Wine: a master's
//! ユーザ設定情報 PDF and a client certificate (.p12, password 8024, valid today
//! for 1342304563), made as tests/integration/cli.rs makes them.
//!
//! `cargo run --example windows_fixtures -- DIR`

use std::path::PathBuf;

use chrono::{Duration, NaiveDate, Utc};

fn main() -> anyhow::Result<()> {
    let dir = PathBuf::from(
        std::env::args()
            .nth(1)
            .ok_or_else(|| anyhow::anyhow!("usage: windows_fixtures DIR"))?,
    );
    std::fs::create_dir_all(&dir)?;
    let opts = oqs_sim::config::PdfOptions {
        font: oqs_sim::config::PdfFont::UnijisUcs2,
        ..Default::default()
    };
    let notice = oqs_sim::pdf::CredentialNotice {
        issued: NaiveDate::from_ymd_opt(2026, 11, 25).ok_or_else(|| anyhow::anyhow!("date"))?,
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
    std::fs::write(
        dir.join("master.pdf"),
        oqs_sim::pdf::render(&notice, &opts, None)?,
    )?;
    let today = Utc::now().date_naive();
    let pki = oqs_sim::pki::Pki::new(today)?;
    let cert = pki.issue_client(
        "1342304563",
        "受付",
        today - Duration::days(1),
        today + Duration::days(1100),
    )?;
    std::fs::write(
        dir.join("cert.p12"),
        pki.pkcs12(&cert.key_der, &cert.cert_der, "8024")?,
    )?;
    println!("{}", dir.display());
    Ok(())
}
