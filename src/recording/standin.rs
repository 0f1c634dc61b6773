//! Downloads in a recording: what a file said without its secrets
//! ([`summarize`]), and a stand-in file rebuilt from that summary for offline
//! replay ([`build`]), with placeholder secrets in place of the real ones.

use std::path::Path;

use chrono::{Duration, NaiveDate, Utc};
use encoding_rs::SHIFT_JIS;
use oqs_sim::config::{PdfFont, PdfOptions};
use oqs_sim::pdf::CredentialNotice;
use p12_keystore::{KeyStore, Pkcs12ImportPolicy};
use x509_parser::prelude::{FromDer, X509Certificate};

use super::format::DownloadSummary;

/// What [`build`] writes for a file it knows nothing about.
pub const OTHER_STANDIN: &[u8] = b"oqsbot replay stand-in\n";

/// The password every stand-in .p12 opens with.
pub const PKCS12_PLACEHOLDER_PASSWORD: &str = "0000";

/// Cycled to the recorded length: letters and digits only.
const PASSWORD_PLACEHOLDER: &str = "Placeholder1";

/// Written into every field of a stand-in CSV's rows.
const CSV_PLACEHOLDER_FIELD: &str = "-";

// Placeholders for what a summary may lack but a notice always prints.
const PLACEHOLDER_INSTITUTION_CODE: &str = "0000000000";
const PLACEHOLDER_INSTITUTION_NAME: &str = "再生用医療機関";
const PLACEHOLDER_USER_ID: &str = "H0000000";
const PLACEHOLDER_USER_NAME: &str = "再生用ユーザ";
const PLACEHOLDER_POSTAL_CODE: &str = "〒100-0001";
const PLACEHOLDER_ADDRESS: &str = "東京都千代田区千代田1-1";
const PLACEHOLDER_TERMINAL: &str = "replay";
/// The simulator's certificate lifetime (3 years and 92 days).
const CERT_VALID_DAYS: i64 = 365 * 3 + 92;

/// What `bytes`, downloaded as `path`, says; never any secret it holds.
pub fn summarize(path: &Path, bytes: &[u8], cert_password: Option<&str>) -> DownloadSummary {
    if bytes.starts_with(b"%PDF") {
        return summarize_pdf(bytes);
    }
    let extension = path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase)
        .unwrap_or_default();
    match extension.as_str() {
        "p12" | "pfx" => summarize_pkcs12(bytes, cert_password),
        "csv" => summarize_csv(bytes),
        _ => DownloadSummary::Other { content_type: None },
    }
}

fn ymd(date: NaiveDate) -> String {
    date.format("%Y-%m-%d").to_string()
}

fn summarize_pdf(bytes: &[u8]) -> DownloadSummary {
    let Ok(c) = crate::pdf::read_credentials(bytes) else {
        return DownloadSummary::Other {
            content_type: Some("application/pdf".into()),
        };
    };
    DownloadSummary::CredentialPdf {
        environment: c.environment,
        institution_code: c.institution_code,
        institution_name: c.institution_name,
        user_id: c.user_id,
        user_name: c.user_name,
        password_chars: c.password.as_ref().map(|p| p.chars().count()),
        password_expires: c.password_expires.map(ymd),
        reset_user_id: c.reset_user_id,
        issued: c.issued.map(ymd),
    }
}

/// The first run of exactly ten digits, as `crate::cert` finds the institution code.
fn first_ten_digit_run(text: &str) -> Option<String> {
    let mut run = String::new();
    for c in text.chars().chain(std::iter::once(' ')) {
        if c.is_ascii_digit() {
            run.push(c);
        } else if run.len() == 10 {
            return Some(run);
        } else {
            run.clear();
        }
    }
    None
}

fn summarize_pkcs12(bytes: &[u8], cert_password: Option<&str>) -> DownloadSummary {
    let unknown = DownloadSummary::Pkcs12 {
        subject: None,
        institution_code: None,
        not_after: None,
    };
    let Some(password) = cert_password else {
        return unknown;
    };
    // The parser is fed a file from outside: a panic in it means "unreadable".
    let store = match std::panic::catch_unwind(|| {
        KeyStore::from_pkcs12(bytes, password, Pkcs12ImportPolicy::Relaxed)
    }) {
        Ok(Ok(store)) => store,
        _ => return unknown,
    };
    let Some(leaf) = store
        .private_key_chain()
        .and_then(|(_, chain)| chain.certs().first())
    else {
        return unknown;
    };
    let Ok((_, cert)) = X509Certificate::from_der(leaf.as_der()) else {
        return unknown;
    };
    let subject = cert.subject().to_string();
    let not_after = chrono::DateTime::<Utc>::from_timestamp(cert.validity().not_after.timestamp(), 0)
        .map(|t| ymd(t.date_naive()));
    DownloadSummary::Pkcs12 {
        institution_code: first_ten_digit_run(&subject),
        subject: Some(subject),
        not_after,
    }
}

/// UTF-8 when it is valid UTF-8 (a BOM dropped), Shift-JIS otherwise.
fn decode_csv(bytes: &[u8]) -> String {
    let bytes = bytes.strip_prefix(&[0xEF, 0xBB, 0xBF]).unwrap_or(bytes);
    match std::str::from_utf8(bytes) {
        Ok(text) => text.to_string(),
        Err(_) => SHIFT_JIS.decode_without_bom_handling(bytes).0.into_owned(),
    }
}

fn summarize_csv(bytes: &[u8]) -> DownloadSummary {
    let text = decode_csv(bytes);
    let mut lines = text.lines();
    let header = lines.next().map(csv_fields).unwrap_or_default();
    let rows = lines.filter(|l| !l.trim().is_empty()).count();
    DownloadSummary::Csv { rows, header }
}

/// One CSV line's fields, quotes honoured.
fn csv_fields(line: &str) -> Vec<String> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(line.as_bytes());
    match reader.records().next() {
        Some(Ok(record)) => record.iter().map(str::to_string).collect(),
        // Not CSV a reader accepts: still keep the names, split plainly.
        Some(Err(_)) => line.split(',').map(str::to_string).collect(),
        None => Vec::new(),
    }
}

/// A stand-in for a downloaded file, made from its summary, for offline replay.
/// Secrets are placeholders: a CredentialPdf's password is `Placeholder1`
/// cut or cycled to the recorded length, a .p12 opens with
/// [`PKCS12_PLACEHOLDER_PASSWORD`], a CSV's rows are `-` in every field.
pub fn build(summary: &DownloadSummary, file_name: &str) -> Result<Vec<u8>, String> {
    match summary {
        DownloadSummary::CredentialPdf {
            environment,
            institution_code,
            institution_name,
            user_id,
            user_name,
            password_chars,
            password_expires,
            reset_user_id,
            issued,
        } => {
            let issued = issued
                .as_deref()
                .and_then(parse_ymd)
                .unwrap_or_else(|| Utc::now().date_naive());
            // Rows the original did not print stay out, so replay reads what the run read.
            let notice = CredentialNotice {
                issued,
                postal_code: PLACEHOLDER_POSTAL_CODE.into(),
                address: PLACEHOLDER_ADDRESS.into(),
                institution_name: or_placeholder(institution_name, PLACEHOLDER_INSTITUTION_NAME),
                institution_code: or_placeholder(institution_code, PLACEHOLDER_INSTITUTION_CODE),
                user_id: or_placeholder(user_id, PLACEHOLDER_USER_ID),
                user_name: or_placeholder(user_name, PLACEHOLDER_USER_NAME),
                password: password_chars.filter(|n| *n > 0).map(placeholder_password),
                password_expires: password_expires.as_deref().and_then(parse_ymd),
                reset_user_id: reset_user_id.clone(),
                subtitle: None,
            };
            let mut opts = PdfOptions::default();
            if let Some(env) = environment {
                opts.environment = env.clone();
            }
            render_pdf(&notice, opts).map_err(|e| format!("stand-in for {file_name}: {e}"))
        }
        DownloadSummary::Pkcs12 {
            subject,
            institution_code,
            not_after,
        } => build_pkcs12(
            subject.as_deref(),
            institution_code.as_deref(),
            not_after.as_deref(),
        )
        .map_err(|e| format!("stand-in for {file_name}: {e}")),
        DownloadSummary::Csv { rows, header } => {
            build_csv(header, *rows).map_err(|e| format!("stand-in for {file_name}: {e}"))
        }
        DownloadSummary::Other { .. } => Ok(OTHER_STANDIN.to_vec()),
    }
}

fn or_placeholder(value: &Option<String>, placeholder: &str) -> String {
    value.clone().unwrap_or_else(|| placeholder.to_string())
}

/// `YYYY-MM-DD`, or the date part of an RFC 3339 time.
fn parse_ymd(text: &str) -> Option<NaiveDate> {
    NaiveDate::parse_from_str(text.get(..10)?, "%Y-%m-%d").ok()
}

fn placeholder_password(chars: usize) -> String {
    PASSWORD_PLACEHOLDER.chars().cycle().take(chars).collect()
}

/// Embedded font when a Japanese font is installed; otherwise a predefined
/// CMap, which needs no font and which `crate::pdf` reads as well.
fn render_pdf(notice: &CredentialNotice, mut opts: PdfOptions) -> Result<Vec<u8>, String> {
    let font = match oqs_sim::pdf::find_font(None) {
        Ok(path) => {
            Some(std::fs::read(&path).map_err(|e| format!("cannot read font {}: {e}", path.display()))?)
        }
        Err(_) => None,
    };
    opts.font = if font.is_some() {
        PdfFont::Embedded
    } else {
        PdfFont::UnijisUcs2
    };
    oqs_sim::pdf::render(notice, &opts, font.as_deref()).map_err(|e| e.to_string())
}

/// The OU of an x509-parser subject string such as `C=JP, O=.., OU=受付, CN=..`.
fn organizational_unit(subject: &str) -> Option<&str> {
    subject
        .split(", ")
        .find_map(|part| part.strip_prefix("OU="))
        .filter(|ou| !ou.is_empty())
}

fn build_pkcs12(
    subject: Option<&str>,
    institution_code: Option<&str>,
    not_after: Option<&str>,
) -> Result<Vec<u8>, String> {
    let today = Utc::now().date_naive();
    let not_after = not_after
        .and_then(parse_ymd)
        .unwrap_or_else(|| today + Duration::days(CERT_VALID_DAYS));
    let not_before = not_after - Duration::days(CERT_VALID_DAYS);
    let terminal = subject
        .and_then(organizational_unit)
        .unwrap_or(PLACEHOLDER_TERMINAL);
    let code = institution_code.unwrap_or(PLACEHOLDER_INSTITUTION_CODE);
    // A CA of its own: it carries the real issuer's name, which is all the checks compare.
    let pki = oqs_sim::pki::Pki::new(today).map_err(|e| e.to_string())?;
    let cert = pki
        .issue_client(code, terminal, not_before, not_after)
        .map_err(|e| e.to_string())?;
    pki.pkcs12(&cert.key_der, &cert.cert_der, PKCS12_PLACEHOLDER_PASSWORD)
        .map_err(|e| e.to_string())
}

fn quote_csv(field: &str) -> String {
    if field.contains([',', '"', '\r', '\n']) {
        format!("\"{}\"", field.replace('"', "\"\""))
    } else {
        field.to_string()
    }
}

fn build_csv(header: &[String], rows: usize) -> Result<Vec<u8>, String> {
    if header.is_empty() && rows == 0 {
        return Ok(Vec::new());
    }
    let mut text = header.iter().map(|f| quote_csv(f)).collect::<Vec<_>>().join(",");
    text.push_str("\r\n");
    let row = vec![CSV_PLACEHOLDER_FIELD; header.len().max(1)].join(",");
    for _ in 0..rows {
        text.push_str(&row);
        text.push_str("\r\n");
    }
    let (bytes, _, unmappable) = SHIFT_JIS.encode(&text);
    if unmappable {
        return Err("the CSV header has a character with no Shift-JIS form".into());
    }
    Ok(bytes.into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn date(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).expect("valid date")
    }

    fn notice(password: Option<&str>) -> CredentialNotice {
        CredentialNotice {
            issued: date(2026, 11, 25),
            postal_code: "〒105-0004".into(),
            address: "東京都港区新橋二丁目1番1号".into(),
            institution_name: "医療法人社団さくら会 さくら内科クリニック".into(),
            institution_code: "1312304569".into(),
            user_id: "H1310100".into(),
            user_name: "山田 花子".into(),
            password: password.map(str::to_string),
            password_expires: password.map(|_| date(2027, 2, 23)),
            reset_user_id: Some("H1310100R".into()),
            subtitle: Some("【マスタアカウント情報】".into()),
        }
    }

    fn real_pdf(password: Option<&str>) -> Vec<u8> {
        render_pdf(&notice(password), PdfOptions::default()).expect("simulator PDF")
    }

    #[test]
    fn a_credential_pdf_is_summarized_without_its_password() {
        let secret = "Xq7pLm2Zr9";
        let summary = summarize(Path::new("user.pdf"), &real_pdf(Some(secret)), None);
        assert_eq!(
            summary,
            DownloadSummary::CredentialPdf {
                environment: Some("本番環境".into()),
                institution_code: Some("1312304569".into()),
                institution_name: Some("医療法人社団さくら会 さくら内科クリニック".into()),
                user_id: Some("H1310100".into()),
                user_name: Some("山田 花子".into()),
                password_chars: Some(10),
                password_expires: Some("2027-02-23".into()),
                reset_user_id: Some("H1310100R".into()),
                issued: Some("2026-11-25".into()),
            }
        );
        let json = serde_json::to_string(&summary).expect("serializes");
        assert!(!json.contains(secret), "{json}");
    }

    #[test]
    fn a_pdf_that_is_no_notice_is_other_pdf() {
        let summary = summarize(Path::new("x.pdf"), b"%PDF-1.7\nnot really\n%%EOF\n", None);
        assert_eq!(
            summary,
            DownloadSummary::Other {
                content_type: Some("application/pdf".into())
            }
        );
    }

    #[test]
    fn credential_pdf_standin_reads_back() {
        let summary = summarize(Path::new("user.pdf"), &real_pdf(Some("Xq7pLm2Zr9")), None);
        let bytes = build(&summary, "user.pdf").expect("stand-in");
        let back = crate::pdf::read_credentials(&bytes).expect("reads as credentials");
        assert_eq!(back.institution_code.as_deref(), Some("1312304569"));
        assert_eq!(back.user_id.as_deref(), Some("H1310100"));
        assert_eq!(back.environment.as_deref(), Some("本番環境"));
        assert_eq!(back.password.as_deref(), Some("Placeholde"));
        assert_eq!(back.password_expires, Some(date(2027, 2, 23)));
        assert_eq!(back.issued, Some(date(2026, 11, 25)));
        // Summarizing the stand-in gives the summary it was made from.
        assert_eq!(summarize(Path::new("user.pdf"), &bytes, None), summary);
    }

    #[test]
    fn credential_pdf_standin_fills_what_the_summary_lacks() {
        let summary = DownloadSummary::CredentialPdf {
            environment: Some("接続検証環境".into()),
            institution_code: Some("0112345678".into()),
            institution_name: None,
            user_id: Some("Y1342304".into()),
            user_name: None,
            password_chars: None,
            password_expires: None,
            reset_user_id: None,
            issued: None,
        };
        let bytes = build(&summary, "user.pdf").expect("stand-in");
        let back = crate::pdf::read_credentials(&bytes).expect("reads as credentials");
        assert_eq!(back.institution_code.as_deref(), Some("0112345678"));
        assert_eq!(back.user_id.as_deref(), Some("Y1342304"));
        assert_eq!(back.environment.as_deref(), Some("接続検証環境"));
        assert_eq!(
            back.institution_name.as_deref(),
            Some(PLACEHOLDER_INSTITUTION_NAME)
        );
        assert_eq!(back.user_name.as_deref(), Some(PLACEHOLDER_USER_NAME));
        assert_eq!(back.password, None);
        assert_eq!(back.reset_user_id, None);
        assert!(back.issued.is_some());
    }

    #[test]
    fn placeholder_passwords_have_the_recorded_length() {
        assert_eq!(placeholder_password(4), "Plac");
        assert_eq!(placeholder_password(12), "Placeholder1");
        assert_eq!(placeholder_password(15), "Placeholder1Pla");
        for n in 1..40 {
            let p = placeholder_password(n);
            assert_eq!(p.chars().count(), n);
            assert!(p.chars().all(|c| c.is_ascii_alphanumeric()));
        }
    }

    fn sim_p12(code: &str, password: &str) -> Vec<u8> {
        let today = date(2026, 11, 25);
        let pki = oqs_sim::pki::Pki::new(today).expect("CA");
        let cert = pki
            .issue_client(code, "総合受付", today, date(2030, 2, 24))
            .expect("client certificate");
        pki.pkcs12(&cert.key_der, &cert.cert_der, password).expect("p12")
    }

    #[test]
    fn a_pkcs12_is_summarized_with_its_password_only() {
        let bytes = sim_p12("1312304569", "1357");
        let summary = summarize(Path::new("CERT.P12"), &bytes, Some("1357"));
        let DownloadSummary::Pkcs12 {
            subject,
            institution_code,
            not_after,
        } = &summary
        else {
            panic!("not a Pkcs12 summary: {summary:?}");
        };
        let subject = subject.as_deref().expect("subject");
        assert!(subject.contains("CN=1312304569"), "{subject}");
        assert!(subject.contains("OU=総合受付"), "{subject}");
        assert_eq!(institution_code.as_deref(), Some("1312304569"));
        assert_eq!(not_after.as_deref(), Some("2030-02-24"));
        assert!(!serde_json::to_string(&summary).expect("json").contains("1357"));

        let unknown = DownloadSummary::Pkcs12 {
            subject: None,
            institution_code: None,
            not_after: None,
        };
        assert_eq!(summarize(Path::new("cert.pfx"), &bytes, None), unknown);
        assert_eq!(summarize(Path::new("cert.p12"), &bytes, Some("2468")), unknown);
        assert_eq!(
            summarize(Path::new("cert.p12"), b"garbage", Some("1357")),
            unknown
        );
    }

    #[test]
    fn pkcs12_standin_opens_with_the_placeholder_password() {
        let summary = summarize(
            Path::new("cert.p12"),
            &sim_p12("1312304569", "1357"),
            Some("1357"),
        );
        let bytes = build(&summary, "cert.p12").expect("stand-in");
        let store = KeyStore::from_pkcs12(&bytes, "0000", Pkcs12ImportPolicy::Relaxed).expect("opens");
        assert!(store.private_key_chain().is_some());
        assert_eq!(summarize(Path::new("cert.p12"), &bytes, Some("0000")), summary);
        // It passes the bot's own certificate check, as the real one did.
        let on = chrono::DateTime::<Utc>::from_timestamp(1_800_000_000, 0).expect("time");
        crate::cert::check(&bytes, "0000", "1312304569", on).expect("checks");
    }

    #[test]
    fn pkcs12_standin_without_details_still_opens() {
        let summary = DownloadSummary::Pkcs12 {
            subject: None,
            institution_code: None,
            not_after: None,
        };
        let bytes = build(&summary, "cert.p12").expect("stand-in");
        assert!(KeyStore::from_pkcs12(&bytes, "0000", Pkcs12ImportPolicy::Relaxed).is_ok());
    }

    #[test]
    fn a_csv_keeps_its_header_and_row_count_only() {
        let text = "ユーザID,氏名,\"パスワード, 初期\"\r\nH0000001,山田 太郎,Secret1\r\n\r\nH0000002,鈴木 次郎,Secret2\r\n";
        let header = vec!["ユーザID".to_string(), "氏名".into(), "パスワード, 初期".into()];
        let expected = DownloadSummary::Csv { rows: 2, header };
        let sjis = SHIFT_JIS.encode(text).0.into_owned();
        assert_eq!(summarize(Path::new("result.CSV"), &sjis, None), expected);
        assert_eq!(
            summarize(Path::new("result.csv"), text.as_bytes(), None),
            expected
        );
        let mut with_bom = vec![0xEF, 0xBB, 0xBF];
        with_bom.extend_from_slice(text.as_bytes());
        assert_eq!(summarize(Path::new("result.csv"), &with_bom, None), expected);
        let json = serde_json::to_string(&expected).expect("json");
        assert!(!json.contains("Secret") && !json.contains("H0000001"));
        assert_eq!(
            summarize(Path::new("empty.csv"), b"", None),
            DownloadSummary::Csv {
                rows: 0,
                header: vec![]
            }
        );
    }

    #[test]
    fn csv_standin_is_shift_jis_with_crlf() {
        let summary = DownloadSummary::Csv {
            rows: 3,
            header: vec!["ユーザID".into(), "氏名".into(), "登録結果".into(), "a,b".into()],
        };
        let bytes = build(&summary, "result.csv").expect("stand-in");
        let (text, _, bad) = SHIFT_JIS.decode(&bytes);
        assert!(!bad);
        assert!(std::str::from_utf8(&bytes).is_err(), "not UTF-8");
        assert_eq!(
            text,
            "ユーザID,氏名,登録結果,\"a,b\"\r\n-,-,-,-\r\n-,-,-,-\r\n-,-,-,-\r\n"
        );
        assert_eq!(summarize(Path::new("result.csv"), &bytes, None), summary);

        let no_sjis = DownloadSummary::Csv {
            rows: 1,
            header: vec!["😀".into()],
        };
        assert!(build(&no_sjis, "x.csv").is_err());
    }

    #[test]
    fn anything_else_is_other() {
        let summary = summarize(Path::new("notes.txt"), b"hello", None);
        assert_eq!(summary, DownloadSummary::Other { content_type: None });
        assert_eq!(
            build(&summary, "notes.txt").expect("stand-in"),
            b"oqsbot replay stand-in\n"
        );
        let pdf_other = DownloadSummary::Other {
            content_type: Some("application/pdf".into()),
        };
        assert_eq!(build(&pdf_other, "x.pdf").expect("stand-in"), OTHER_STANDIN);
    }
}
