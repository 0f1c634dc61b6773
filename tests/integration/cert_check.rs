//! Real PKCS#12 files from the simulator's download site.

use chrono::{Duration, NaiveDate, Utc};
use oqs_sim::pki::Pki;
use oqsbot::cert::{CertError, check};
use proptest::prelude::*;

fn issue(code: &str) -> Vec<u8> {
    let today = Utc::now().date_naive();
    let pki = Pki::new(today).expect("CA");
    let c = pki
        .issue_client(
            code,
            "総合受付",
            today - Duration::days(3),
            today + Duration::days(1180),
        )
        .expect("certificate");
    pki.pkcs12(&c.key_der, &c.cert_der, "1357").expect("p12")
}

#[test]
fn a_good_certificate_passes() {
    let info = check(&issue("2713107890"), "1357", "2713107890", Utc::now()).expect("valid");
    assert_eq!(info.institution_code, "2713107890");
    assert_eq!(info.issuer, "Online Billing NW Common Root CA");
    assert!((info.not_after - info.not_before).num_days() > 1000);
}

#[test]
fn each_fault_has_its_own_error() {
    let p12 = issue("2713107890");
    assert!(matches!(
        check(&p12, "2468", "2713107890", Utc::now()),
        Err(CertError::WrongPassword)
    ));
    let err = check(&p12, "1357", "2713101234", Utc::now()).unwrap_err();
    assert!(matches!(err, CertError::WrongInstitution { .. }), "{err}");
    assert!(err.to_string().contains("2713107890") && err.to_string().contains("old institution"));
    let later = Utc::now() + Duration::days(1200);
    assert!(matches!(
        check(&p12, "1357", "2713107890", later),
        Err(CertError::Expired { .. })
    ));
    let earlier = NaiveDate::from_ymd_opt(2020, 1, 1)
        .expect("date")
        .and_hms_opt(0, 0, 0)
        .expect("time")
        .and_utc();
    assert!(matches!(
        check(&p12, "1357", "2713107890", earlier),
        Err(CertError::NotYetValid { .. })
    ));
    assert!(matches!(
        check(b"not a p12", "1357", "2713107890", Utc::now()),
        Err(CertError::NotPkcs12(_))
    ));
}

#[test]
fn another_issuer_is_refused() {
    let key = rcgen::KeyPair::generate().expect("key");
    let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).expect("params");
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "2713107890");
    let cert = params.self_signed(&key).expect("cert");
    let mut store = p12_keystore::KeyStore::new();
    let chain = p12_keystore::PrivateKeyChain::new(
        vec![1u8, 2, 3],
        p12_keystore::PrivateKey::from_der(&key.serialize_der()).expect("key"),
        [p12_keystore::Certificate::from_der(cert.der()).expect("cert")],
    );
    store.add_entry("x", p12_keystore::KeyStoreEntry::PrivateKeyChain(chain));
    let bytes = store.writer("1357").write().expect("p12");
    assert!(matches!(
        check(&bytes, "1357", "2713107890", Utc::now()),
        Err(CertError::WrongIssuer { .. })
    ));
}

/// A .p12 of a simulator-issued certificate for 2713107890, written with
/// the given encryption and the given iteration counts.
fn p12_with(algorithm: p12_keystore::EncryptionAlgorithm, encryption: u32, mac: u32) -> Vec<u8> {
    let today = Utc::now().date_naive();
    let pki = Pki::new(today).expect("CA");
    let c = pki
        .issue_client(
            "2713107890",
            "総合受付",
            today - Duration::days(3),
            today + Duration::days(1180),
        )
        .expect("certificate");
    let chain = p12_keystore::PrivateKeyChain::new(
        c.cert_der[..20].to_vec(),
        p12_keystore::PrivateKey::from_der(&c.key_der).expect("key"),
        [p12_keystore::Certificate::from_der(&c.cert_der).expect("cert")],
    );
    let mut store = p12_keystore::KeyStore::new();
    store.add_entry("client", p12_keystore::KeyStoreEntry::PrivateKeyChain(chain));
    store
        .writer("1357")
        .encryption_algorithm(algorithm)
        .encryption_iterations(encryption)
        .mac_iterations(mac)
        .write()
        .expect("p12")
}

/// One DER element: its tag, and either its children or its content.
enum Der {
    Constructed(u8, Vec<Der>),
    /// An OCTET STRING that wraps DER (PKCS#12 nests its structures so).
    Wrapped(Vec<Der>),
    Primitive(u8, Vec<u8>),
}

fn parse_der(mut bytes: &[u8]) -> Option<Vec<Der>> {
    let mut out = Vec::new();
    while !bytes.is_empty() {
        let tag = *bytes.first()?;
        let first = *bytes.get(1)?;
        let (len, head) = if first < 0x80 {
            (usize::from(first), 2)
        } else {
            let n = usize::from(first & 0x7F);
            let len = bytes
                .get(2..2 + n)?
                .iter()
                .fold(0usize, |a, b| a << 8 | usize::from(*b));
            (len, 2 + n)
        };
        let content = bytes.get(head..head + len)?;
        out.push(if tag & 0x20 != 0 {
            Der::Constructed(tag, parse_der(content)?)
        } else if tag == 0x04 && content.first() == Some(&0x30) && parse_der(content).is_some() {
            Der::Wrapped(parse_der(content)?)
        } else {
            Der::Primitive(tag, content.to_vec())
        });
        bytes = &bytes[head + len..];
    }
    Some(out)
}

fn write_der(items: &[Der]) -> Vec<u8> {
    let mut out = Vec::new();
    for item in items {
        let (tag, content) = match item {
            Der::Constructed(tag, children) => (*tag, write_der(children)),
            Der::Wrapped(children) => (0x04, write_der(children)),
            Der::Primitive(tag, content) => (*tag, content.clone()),
        };
        out.push(tag);
        let len = content.len();
        if len < 0x80 {
            out.push(len as u8);
        } else {
            let bytes: Vec<u8> = len.to_be_bytes().into_iter().skip_while(|b| *b == 0).collect();
            out.push(0x80 | bytes.len() as u8);
            out.extend(bytes);
        }
        out.extend(content);
    }
    out
}

/// Every INTEGER equal to `from` (nested OCTET STRINGs included) set to `to`,
/// with every length around it fixed: the count a writer would take hours to
/// produce, without running it.
fn patch_count(p12: &[u8], from: u32, to: u32) -> Vec<u8> {
    fn minimal(n: u32) -> Vec<u8> {
        let mut bytes: Vec<u8> = n.to_be_bytes().into_iter().skip_while(|b| *b == 0).collect();
        if bytes.first().is_none_or(|b| b & 0x80 != 0) {
            bytes.insert(0, 0);
        }
        bytes
    }
    fn walk(items: &mut [Der], from: &[u8], to: &[u8], hits: &mut usize) {
        for item in items {
            match item {
                Der::Constructed(_, children) | Der::Wrapped(children) => walk(children, from, to, hits),
                Der::Primitive(0x02, content) if content.as_slice() == from => {
                    *content = to.to_vec();
                    *hits += 1;
                }
                Der::Primitive(..) => {}
            }
        }
    }
    let mut tree = parse_der(p12).expect("the writer's DER parses");
    let mut hits = 0;
    walk(&mut tree, &minimal(from), &minimal(to), &mut hits);
    assert!(hits > 0, "no iteration count {from} in the file");
    write_der(&tree)
}

fn refused_for_iterations(result: Result<oqsbot::cert::CertificateInfo, CertError>, what: &str) -> String {
    match result {
        Err(e @ CertError::TooManyIterations { .. }) => {
            let message = e.to_string();
            assert!(
                message.contains("not a certificate as the download site issues it"),
                "{what}: {message}"
            );
            message
        }
        other => panic!("{what}: expected TooManyIterations, got {other:?}"),
    }
}

#[test]
fn real_iteration_counts_pass() {
    // OpenSSL's 2048 with PBES2, and the legacy 3DES scheme Windows still writes.
    let modern = p12_with(
        p12_keystore::EncryptionAlgorithm::PbeWithHmacSha256AndAes256,
        2048,
        2048,
    );
    let info = check(&modern, "1357", "2713107890", Utc::now()).expect("an OpenSSL-like .p12 passes");
    assert_eq!(info.institution_code, "2713107890");
    let legacy = p12_with(
        p12_keystore::EncryptionAlgorithm::PbeWithShaAnd3KeyTripleDesCbc,
        2000,
        2000,
    );
    check(&legacy, "1357", "2713107890", Utc::now()).expect("a Windows-like .p12 passes");
    // Re-encoding untouched DER changes nothing: the patching below is sound.
    let tree = parse_der(&modern).expect("parses");
    assert_eq!(write_der(&tree), modern);
}

#[test]
fn a_huge_mac_iteration_count_is_refused_before_deriving() {
    let p12 = p12_with(
        p12_keystore::EncryptionAlgorithm::PbeWithHmacSha256AndAes256,
        2047,
        2048,
    );
    let hostile = patch_count(&p12, 2048, 100_000_000);
    let message = refused_for_iterations(check(&hostile, "1357", "2713107890", Utc::now()), "MAC");
    assert!(
        message.contains("100000000") && message.contains("MAC"),
        "{message}"
    );
    // The same file with the wrong password says the same: nothing was derived.
    refused_for_iterations(
        check(&hostile, "2468", "2713107890", Utc::now()),
        "MAC, wrong password",
    );
}

#[test]
fn a_huge_pbkdf2_iteration_count_is_refused_before_deriving() {
    let p12 = p12_with(
        p12_keystore::EncryptionAlgorithm::PbeWithHmacSha256AndAes256,
        2047,
        2048,
    );
    let hostile = patch_count(&p12, 2047, 100_000_000);
    let message = refused_for_iterations(check(&hostile, "1357", "2713107890", Utc::now()), "PBKDF2");
    assert!(message.contains("100000000"), "{message}");
}

#[test]
fn a_huge_pkcs12_pbe_iteration_count_is_refused_before_deriving() {
    let p12 = p12_with(
        p12_keystore::EncryptionAlgorithm::PbeWithShaAnd3KeyTripleDesCbc,
        2047,
        2048,
    );
    let hostile = patch_count(&p12, 2047, 100_000_000);
    let message = refused_for_iterations(check(&hostile, "1357", "2713107890", Utc::now()), "3DES");
    assert!(message.contains("100000000"), "{message}");
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]
    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
        let _ = check(&bytes, "1357", "2713107890", Utc::now());
    }
}
