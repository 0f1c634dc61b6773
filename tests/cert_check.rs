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

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]
    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
        let _ = check(&bytes, "1357", "2713107890", Utc::now());
    }
}
