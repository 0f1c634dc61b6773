//! Checks a downloaded .p12 before anyone installs it: it opens with its
//! password, its subject carries the new institution code, the spec's CA issued
//! it, and today falls inside its validity.
//!
//! Opening a .p12 derives keys from the password as many times over as the
//! file asks, so before anything is decrypted every iteration count the file
//! shows is read and a count no download site uses is refused
//! ([`CertError::TooManyIterations`]) instead of hanging the check.

use std::path::Path;

use chrono::{DateTime, Utc};
use p12_keystore::{KeyStore, Pkcs12ImportPolicy};
use serde::Serialize;
use x509_parser::asn1_rs::{Any, Class, FromBer, Tag};
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
    #[error(
        "this .p12 asks for {iterations} password-hashing iterations {what}, more than the {limit} oqsbot allows: \
         it is not a certificate as the download site issues it (those use a few thousand). Download it again"
    )]
    TooManyIterations {
        what: &'static str,
        iterations: u64,
        limit: u64,
    },
}

/// Iterations one key derivation may take. Real files: OpenSSL writes 2048,
/// Windows about 2000, p12-keystore 10,000, the most careful tools up to
/// 600,000 (OWASP's PBKDF2-SHA256 figure). Measured in a release build, one
/// derivation at 1,000,000 takes 0.12 s (PKCS#12 MAC, SHA-256) to 0.19 s
/// (PBES2, PBKDF2-HMAC-SHA256): every real file passes, and a hostile one
/// costs under a second in all (see the total below).
const MAX_ITERATIONS: u64 = 1_000_000;
/// Iterations over every derivation in the file. A real file has three (the
/// MAC, the certificates, the key): they fit even at the limit each, and the
/// whole check stays under a second however many pieces a file holds.
const MAX_TOTAL_ITERATIONS: u64 = 3_000_000;
/// Encrypted pieces one file may hold; a real one has two.
const MAX_DERIVATIONS: usize = 16;
/// How deep the PKCS#12 structures the check reads are nested.
const MAX_DEPTH: u8 = 8;

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
    check_key_derivations(bytes)?;
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

// OIDs of the PKCS#12 structures whose key derivations are read.
const OID_DATA: &str = "1.2.840.113549.1.7.1";
const OID_ENCRYPTED_DATA: &str = "1.2.840.113549.1.7.6";
const OID_SHROUDED_KEY_BAG: &str = "1.2.840.113549.1.12.10.1.2";
const OID_SECRET_BAG: &str = "1.2.840.113549.1.12.10.1.5";
const OID_PBES2: &str = "1.2.840.113549.1.5.13";
const OID_PBKDF2: &str = "1.2.840.113549.1.5.12";
const OID_SCRYPT: &str = "1.3.6.1.4.1.11591.4.11";
/// pbeWithSHAAnd… (PKCS#12) and pbeWithMD5AndDES… (PKCS#5 v1.5): salt and iterations.
const PBE_PREFIXES: [&str; 2] = ["1.2.840.113549.1.12.1.", "1.2.840.113549.1.5."];

/// The key derivations a .p12 asks for, added up and each checked against
/// the limits, before any of them is run.
#[derive(Default)]
struct Derivations {
    total: u64,
    count: usize,
}

impl Derivations {
    fn add(&mut self, what: &'static str, iterations: u64) -> Result<(), CertError> {
        if iterations > MAX_ITERATIONS {
            return Err(CertError::TooManyIterations {
                what,
                iterations,
                limit: MAX_ITERATIONS,
            });
        }
        self.total = self.total.saturating_add(iterations);
        if self.total > MAX_TOTAL_ITERATIONS {
            return Err(CertError::TooManyIterations {
                what: "in all",
                iterations: self.total,
                limit: MAX_TOTAL_ITERATIONS,
            });
        }
        self.count += 1;
        if self.count > MAX_DERIVATIONS {
            return Err(not_pkcs12(format!(
                "it holds more than {MAX_DERIVATIONS} encrypted pieces"
            )));
        }
        Ok(())
    }
}

fn not_pkcs12(why: impl Into<String>) -> CertError {
    CertError::NotPkcs12(why.into())
}

/// One BER element, and what follows it.
fn element(bytes: &[u8]) -> Result<(Any<'_>, &[u8]), CertError> {
    let (rest, any) = Any::from_ber(bytes).map_err(|e| not_pkcs12(format!("damaged structure ({e})")))?;
    Ok((any, rest))
}

/// The elements inside a constructed element (a SEQUENCE, a SET, a [0]).
fn children<'a>(any: &Any<'a>) -> Result<Vec<Any<'a>>, CertError> {
    if !any.header.is_constructed() {
        return Err(not_pkcs12("a structure is missing where one was expected"));
    }
    let mut out = Vec::new();
    let mut rest = any.data;
    while !rest.is_empty() {
        // The end-of-contents marker of an indefinite length.
        if rest.starts_with(&[0, 0]) {
            break;
        }
        let (child, next) = element(rest)?;
        out.push(child);
        rest = next;
    }
    Ok(out)
}

fn oid_of(any: &Any) -> Result<String, CertError> {
    any.as_oid()
        .map(|oid| oid.to_id_string())
        .map_err(|_| not_pkcs12("an algorithm or content type is not an OID"))
}

/// An iteration count; one too large for any integer type is as good as infinite.
fn count_of(any: &Any) -> Result<u64, CertError> {
    if any.tag() != Tag::Integer || any.data.is_empty() {
        return Err(not_pkcs12("an iteration count is not a number"));
    }
    if any.data[0] & 0x80 != 0 {
        return Err(not_pkcs12("an iteration count is negative"));
    }
    Ok(u64::try_from(any).unwrap_or(u64::MAX))
}

/// An OCTET STRING's bytes, also in BER's constructed form (pieces one after another).
fn octets(any: &Any, depth: u8) -> Result<Vec<u8>, CertError> {
    if any.tag() != Tag::OctetString || depth > MAX_DEPTH {
        return Err(not_pkcs12("expected data is missing"));
    }
    if !any.header.is_constructed() {
        return Ok(any.data.to_vec());
    }
    let mut out = Vec::new();
    for piece in children(any)? {
        out.extend(octets(&piece, depth + 1)?);
    }
    Ok(out)
}

/// What an explicit [0] holds.
fn explicit_0<'a>(any: &Any<'a>) -> Result<Any<'a>, CertError> {
    if any.class() != Class::ContextSpecific || any.tag() != Tag(0) {
        return Err(not_pkcs12("a tagged value is missing"));
    }
    children(any)?
        .into_iter()
        .next()
        .ok_or_else(|| not_pkcs12("a tagged value is empty"))
}

/// Reads every iteration count the file shows before decrypting anything: the
/// MAC's, each encrypted content's and each encrypted key's. What lies inside
/// encrypted content cannot be read first; p12-keystore caps each of those.
fn check_key_derivations(bytes: &[u8]) -> Result<(), CertError> {
    let mut found = Derivations::default();
    let (pfx, _) = element(bytes)?;
    let parts = children(&pfx)?;
    // PFX ::= SEQUENCE { version, authSafe ContentInfo, macData MacData OPTIONAL }
    let [_version, auth_safe, rest @ ..] = parts.as_slice() else {
        return Err(not_pkcs12("the outer structure is incomplete"));
    };
    if let Some(mac_data) = rest.first() {
        // MacData ::= SEQUENCE { mac DigestInfo, macSalt OCTET STRING, iterations INTEGER DEFAULT 1 }
        let iterations = match children(mac_data)?.get(2) {
            Some(count) => count_of(count)?,
            None => 1,
        };
        found.add("for its integrity check (MAC)", iterations)?;
    }
    // ContentInfo ::= SEQUENCE { contentType, content [0] EXPLICIT }
    let info = children(auth_safe)?;
    let [content_type, content, ..] = info.as_slice() else {
        return Err(not_pkcs12("its content is missing"));
    };
    if oid_of(content_type)? != OID_DATA {
        // Public-key integrity: p12-keystore refuses it without deriving anything.
        return Ok(());
    }
    let safe = octets(&explicit_0(content)?, 0)?;
    let (safes, _) = element(&safe)?;
    for info in children(&safes)? {
        let info = children(&info)?;
        let [content_type, content, ..] = info.as_slice() else {
            continue;
        };
        match oid_of(content_type)?.as_str() {
            OID_DATA => {
                let bags = octets(&explicit_0(content)?, 0)?;
                let (bags, _) = element(&bags)?;
                for bag in children(&bags)? {
                    check_bag(&bag, &mut found)?;
                }
            }
            OID_ENCRYPTED_DATA => {
                // EncryptedData ::= SEQUENCE { version, EncryptedContentInfo ::= SEQUENCE {
                //   contentType, contentEncryptionAlgorithm, encryptedContent [0] IMPLICIT } }
                let data = children(&explicit_0(content)?)?;
                let info = data
                    .get(1)
                    .ok_or_else(|| not_pkcs12("encrypted content is incomplete"))?;
                let algorithm = children(info)?
                    .into_iter()
                    .nth(1)
                    .ok_or_else(|| not_pkcs12("encrypted content names no algorithm"))?;
                check_algorithm(&algorithm, "for its certificates", &mut found)?;
            }
            // Anything else p12-keystore refuses without deriving a key.
            _ => {}
        }
    }
    Ok(())
}

/// SafeBag ::= SEQUENCE { bagId, bagValue [0] EXPLICIT, bagAttributes OPTIONAL }
fn check_bag(bag: &Any, found: &mut Derivations) -> Result<(), CertError> {
    let parts = children(bag)?;
    let [bag_id, value, ..] = parts.as_slice() else {
        return Err(not_pkcs12("a bag is incomplete"));
    };
    match oid_of(bag_id)?.as_str() {
        OID_SHROUDED_KEY_BAG => {
            // EncryptedPrivateKeyInfo ::= SEQUENCE { encryptionAlgorithm, encryptedData }
            let info = explicit_0(value)?;
            let algorithm = children(&info)?
                .into_iter()
                .next()
                .ok_or_else(|| not_pkcs12("the encrypted key names no algorithm"))?;
            check_algorithm(&algorithm, "for its private key", found)
        }
        OID_SECRET_BAG => {
            // SecretBag ::= SEQUENCE { secretTypeId, secretValue [0] EXPLICIT OCTET STRING }
            // holding an EncryptedPrivateKeyInfo; p12-keystore skips one it cannot read, so do we.
            let inner = explicit_0(value).and_then(|v| children(&v));
            let Some(secret) = inner.ok().and_then(|v| v.into_iter().nth(1)) else {
                return Ok(());
            };
            let Ok(der) = explicit_0(&secret).and_then(|o| octets(&o, 0)) else {
                return Ok(());
            };
            let algorithm = element(&der)
                .and_then(|(info, _)| children(&info))
                .ok()
                .and_then(|v| v.into_iter().next());
            match algorithm {
                Some(algorithm) => check_algorithm(&algorithm, "for a secret key", found),
                None => Ok(()),
            }
        }
        _ => Ok(()),
    }
}

/// AlgorithmIdentifier ::= SEQUENCE { algorithm, parameters }: the iterations
/// of a password-based scheme. A scheme p12-keystore does not know derives nothing.
fn check_algorithm(algorithm: &Any, what: &'static str, found: &mut Derivations) -> Result<(), CertError> {
    let parts = children(algorithm)?;
    let [oid, params, ..] = parts.as_slice() else {
        return Ok(());
    };
    let oid = oid_of(oid)?;
    if oid == OID_PBES2 {
        // PBES2-params ::= SEQUENCE { keyDerivationFunc, encryptionScheme }
        let kdf = children(params)?
            .into_iter()
            .next()
            .ok_or_else(|| not_pkcs12("the key derivation is missing"))?;
        let kdf = children(&kdf)?;
        let [kdf_oid, kdf_params, ..] = kdf.as_slice() else {
            return Err(not_pkcs12("the key derivation is incomplete"));
        };
        let kdf_params = children(kdf_params)?;
        match oid_of(kdf_oid)?.as_str() {
            // PBKDF2-params ::= SEQUENCE { salt, iterationCount, keyLength OPTIONAL, prf OPTIONAL }
            OID_PBKDF2 => {
                let count = kdf_params
                    .get(1)
                    .ok_or_else(|| not_pkcs12("PBKDF2 has no iteration count"))?;
                found.add(what, count_of(count)?)
            }
            // scrypt-params ::= SEQUENCE { salt, costParameter, blockSize, parallelizationParameter, … }:
            // N × r × p block mixes, a cost like so many iterations.
            OID_SCRYPT => {
                let number = |i: usize| {
                    kdf_params
                        .get(i)
                        .ok_or_else(|| not_pkcs12("scrypt's parameters are incomplete"))
                        .and_then(count_of)
                };
                let cost = number(1)?.saturating_mul(number(2)?).saturating_mul(number(3)?);
                found.add(what, cost)
            }
            _ => Ok(()),
        }
    } else if PBE_PREFIXES.iter().any(|p| oid.starts_with(p)) {
        // PBEParameter ::= SEQUENCE { salt OCTET STRING, iterations INTEGER }
        let count = children(params)?
            .into_iter()
            .nth(1)
            .ok_or_else(|| not_pkcs12("the encryption has no iteration count"))?;
        found.add(what, count_of(&count)?)
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_derivation_and_their_sum_are_bounded() {
        let mut found = Derivations::default();
        // A real file's three derivations pass even at the limit each.
        for _ in 0..3 {
            assert!(found.add("for its private key", MAX_ITERATIONS).is_ok());
        }
        let err = found.add("for its certificates", 1).err();
        assert!(
            matches!(
                err,
                Some(CertError::TooManyIterations {
                    what: "in all",
                    limit: MAX_TOTAL_ITERATIONS,
                    ..
                })
            ),
            "{err:?}"
        );
        let err = Derivations::default()
            .add("for its integrity check (MAC)", u64::MAX)
            .err();
        assert!(
            matches!(
                err,
                Some(CertError::TooManyIterations {
                    iterations: u64::MAX,
                    limit: MAX_ITERATIONS,
                    ..
                })
            ),
            "{err:?}"
        );
    }

    #[test]
    fn an_unreadable_structure_is_not_pkcs12() {
        for bytes in [&b""[..], b"not a p12", &[0x30, 0x03, 0x02, 0x01, 0x03]] {
            let err = check_key_derivations(bytes).err();
            assert!(matches!(err, Some(CertError::NotPkcs12(_))), "{bytes:?}: {err:?}");
        }
    }
}
