//! Checks a downloaded .p12 before anyone installs it: it opens with its
//! password, its subject carries the new institution code, the spec's CA issued
//! it, and today falls inside its validity.

use std::path::Path;

use chrono::{DateTime, Utc};
use p12_keystore::{KeyStore, Pkcs12ImportPolicy};
use serde::Serialize;
use x509_parser::prelude::{FromDer, X509Certificate};

/// The issuer the paper notice names (発行者).
pub const EXPECTED_ISSUER: &str = "Online Billing NW Common Root CA";

#[derive(Debug, thiserror::Error)]
pub enum CertError {
    #[error("cannot read {path}: {source}")]
    Io { path: String, source: std::io::Error },
    #[error(
        "the certificate password does not open this .p12: check the 4 digits chosen on the download site"
    )]
    WrongPassword,
    #[error("this is not a PKCS#12 (.p12) certificate file: {0}")]
    NotPkcs12(String),
    #[error("the .p12 holds no private key with a certificate")]
    NoKey,
    #[error(
        "the certificate is for {found}, not {expected}: it is the old institution's (or another's). Take the .p12 downloaded with the IDs from the new 電子証明書取得に関する情報"
    )]
    WrongInstitution { expected: String, found: String },
    #[error("the certificate was issued by {found:?}, not {EXPECTED_ISSUER:?}")]
    WrongIssuer { found: String },
    #[error("the certificate expired on {not_after}: apply for a new one (電子証明書発行申請)")]
    Expired { not_after: String },
    #[error("the certificate is not valid before {not_before}")]
    NotYetValid { not_before: String },
    #[error("the certificate cannot be read: {0}")]
    Malformed(String),
}

/// What a good certificate says.
#[derive(Debug, Clone, Serialize)]
pub struct CertificateInfo {
    pub subject: String,
    pub issuer: String,
    /// The 10-digit code the subject carries.
    pub institution_code: String,
    pub serial: String,
    pub not_before: DateTime<Utc>,
    pub not_after: DateTime<Utc>,
}

pub fn check_file(
    path: &Path,
    password: &str,
    expected_code: &str,
    now: DateTime<Utc>,
) -> Result<CertificateInfo, CertError> {
    let bytes = std::fs::read(path).map_err(|source| CertError::Io {
        path: path.display().to_string(),
        source,
    })?;
    check(&bytes, password, expected_code, now)
}

fn ten_digit_runs(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut run = String::new();
    for c in text.chars().chain(std::iter::once(' ')) {
        if c.is_ascii_digit() {
            run.push(c);
        } else {
            if run.len() == 10 {
                out.push(run.clone());
            }
            run.clear();
        }
    }
    out
}

pub fn check(
    bytes: &[u8],
    password: &str,
    expected_code: &str,
    now: DateTime<Utc>,
) -> Result<CertificateInfo, CertError> {
    let store = match std::panic::catch_unwind(|| {
        KeyStore::from_pkcs12(bytes, password, Pkcs12ImportPolicy::Relaxed)
    }) {
        Ok(Ok(s)) => s,
        Ok(Err(p12_keystore::error::Error::MacError(_))) => return Err(CertError::WrongPassword),
        Ok(Err(e)) => return Err(CertError::NotPkcs12(e.to_string())),
        Err(_) => return Err(CertError::NotPkcs12("the file is damaged".into())),
    };
    let (_, chain) = store.private_key_chain().ok_or(CertError::NoKey)?;
    let leaf = chain.certs().first().ok_or(CertError::NoKey)?;
    let (_, cert) =
        X509Certificate::from_der(leaf.as_der()).map_err(|e| CertError::Malformed(e.to_string()))?;
    let subject = cert.subject().to_string();
    let issuer = cert.issuer().to_string();
    let issuer_cn = cert
        .issuer()
        .iter_common_name()
        .next()
        .and_then(|c| c.as_str().ok())
        .unwrap_or_default()
        .to_string();
    if issuer_cn != EXPECTED_ISSUER {
        return Err(CertError::WrongIssuer {
            found: if issuer_cn.is_empty() { issuer } else { issuer_cn },
        });
    }
    let codes = ten_digit_runs(&subject);
    let Some(found) = codes.first().cloned() else {
        return Err(CertError::Malformed(format!(
            "its subject {subject:?} carries no 10-digit institution code"
        )));
    };
    if !codes.iter().any(|c| c == expected_code) {
        return Err(CertError::WrongInstitution {
            expected: expected_code.to_string(),
            found,
        });
    }
    let to_utc = |t: x509_parser::time::ASN1Time| {
        DateTime::<Utc>::from_timestamp(t.timestamp(), 0).unwrap_or_default()
    };
    let not_before = to_utc(cert.validity().not_before);
    let not_after = to_utc(cert.validity().not_after);
    if now > not_after {
        return Err(CertError::Expired {
            not_after: not_after.format("%Y/%m/%d").to_string(),
        });
    }
    if now < not_before {
        return Err(CertError::NotYetValid {
            not_before: not_before.format("%Y/%m/%d").to_string(),
        });
    }
    Ok(CertificateInfo {
        subject,
        issuer: issuer_cn,
        institution_code: expected_code.to_string(),
        serial: cert.raw_serial_as_string(),
        not_before,
        not_after,
    })
}
