//! The simulator's certificate authority. Site A issues client certificates
//! from it, and in mutual-TLS mode the オン資 site accepts only certificates
//! that chain to it, as the real portal does with its own CA.

use std::sync::Arc;

use chrono::{Datelike, NaiveDate};
use p12_keystore::{Certificate, KeyStore, KeyStoreEntry, PrivateKey, PrivateKeyChain};
use rand::Rng;
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose, SerialNumber,
};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

use crate::error::SimError;

pub const CA_COMMON_NAME: &str = "Online Billing NW Common Root CA";
const ORGANIZATION: &str = "Online Billing NW";

pub struct Pki {
    issuer: Issuer<'static, KeyPair>,
    ca_der: Vec<u8>,
    ca_pem: String,
}

/// A freshly issued client certificate and its private key.
pub struct ClientCertificate {
    pub serial: String,
    pub key_der: Vec<u8>,
    pub cert_der: Vec<u8>,
}

fn pki_err(what: &str) -> impl Fn(rcgen::Error) -> SimError + '_ {
    move |e| SimError::Pki(format!("{what}: {e}"))
}

fn date(d: NaiveDate) -> time::OffsetDateTime {
    rcgen::date_time_ymd(d.year(), d.month() as u8, d.day() as u8)
}

impl Pki {
    pub fn new(today: NaiveDate) -> Result<Self, SimError> {
        let mut params = CertificateParams::new(Vec::<String>::new()).map_err(pki_err("CA parameters"))?;
        params.distinguished_name.push(DnType::CountryName, "JP");
        params
            .distinguished_name
            .push(DnType::OrganizationName, ORGANIZATION);
        params.distinguished_name.push(DnType::CommonName, CA_COMMON_NAME);
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        params.not_before = date(today - chrono::Duration::days(3650));
        params.not_after = date(today + chrono::Duration::days(3650 * 2));
        let key = KeyPair::generate().map_err(pki_err("CA key"))?;
        let cert = params.self_signed(&key).map_err(pki_err("CA certificate"))?;
        Ok(Self {
            ca_der: cert.der().to_vec(),
            ca_pem: cert.pem(),
            issuer: Issuer::new(params, key),
        })
    }

    pub fn ca_pem(&self) -> &str {
        &self.ca_pem
    }

    pub fn ca_der(&self) -> &[u8] {
        &self.ca_der
    }

    /// A client certificate whose subject carries the institution code (CN) and
    /// the terminal name (OU), valid from `not_before` to `not_after`.
    pub fn issue_client(
        &self,
        institution_code: &str,
        terminal_name: &str,
        not_before: NaiveDate,
        not_after: NaiveDate,
    ) -> Result<ClientCertificate, SimError> {
        let serial: u64 = rand::rng().random_range(1_000_000_000_000_000..9_000_000_000_000_000);
        let mut params =
            CertificateParams::new(Vec::<String>::new()).map_err(pki_err("client parameters"))?;
        params.distinguished_name.push(DnType::CountryName, "JP");
        params
            .distinguished_name
            .push(DnType::OrganizationName, ORGANIZATION);
        params
            .distinguished_name
            .push(DnType::OrganizationalUnitName, terminal_name);
        params
            .distinguished_name
            .push(DnType::CommonName, institution_code);
        params.serial_number = Some(SerialNumber::from_slice(&serial.to_be_bytes()));
        params.key_usages = vec![
            KeyUsagePurpose::DigitalSignature,
            KeyUsagePurpose::KeyEncipherment,
        ];
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        params.use_authority_key_identifier_extension = true;
        params.not_before = date(not_before);
        params.not_after = date(not_after);
        let key = KeyPair::generate().map_err(pki_err("client key"))?;
        let cert = params
            .signed_by(&key, &self.issuer)
            .map_err(pki_err("client certificate"))?;
        Ok(ClientCertificate {
            serial: serial.to_string(),
            key_der: key.serialize_der(),
            cert_der: cert.der().to_vec(),
        })
    }

    /// The key and its chain as a PKCS#12 file protected by `password`.
    pub fn pkcs12(&self, key_der: &[u8], cert_der: &[u8], password: &str) -> Result<Vec<u8>, SimError> {
        let p12 = |e: p12_keystore::error::Error| SimError::Pki(format!("PKCS#12: {e}"));
        let key = PrivateKey::from_der(key_der).map_err(p12)?;
        let chain = vec![
            Certificate::from_der(cert_der).map_err(p12)?,
            Certificate::from_der(&self.ca_der).map_err(p12)?,
        ];
        let mut store = KeyStore::new();
        store.add_entry(
            "client",
            KeyStoreEntry::PrivateKeyChain(PrivateKeyChain::new(cert_der[..20].to_vec(), key, chain)),
        );
        store.writer(password).write().map_err(p12)
    }

    /// TLS for the オン資 site: a server certificate for 127.0.0.1 and
    /// localhost, and a client certificate from this CA required.
    pub fn mutual_tls_config(&self, today: NaiveDate) -> Result<rustls::ServerConfig, SimError> {
        let tls = |e: rustls::Error| SimError::Pki(format!("TLS: {e}"));
        let mut params = CertificateParams::new(vec!["127.0.0.1".to_string(), "localhost".to_string()])
            .map_err(pki_err("server parameters"))?;
        params
            .distinguished_name
            .push(DnType::CommonName, "hweb.oqs.onshikaku.org (simulator)");
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        params.not_before = date(today - chrono::Duration::days(1));
        params.not_after = date(today + chrono::Duration::days(365));
        let key = KeyPair::generate().map_err(pki_err("server key"))?;
        let cert = params
            .signed_by(&key, &self.issuer)
            .map_err(pki_err("server certificate"))?;

        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut roots = rustls::RootCertStore::empty();
        roots
            .add(CertificateDer::from(self.ca_der.clone()))
            .map_err(tls)?;
        let verifier =
            rustls::server::WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider.clone())
                .build()
                .map_err(|e| SimError::Pki(format!("client verifier: {e}")))?;
        let mut config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(tls)?
            .with_client_cert_verifier(verifier)
            .with_single_cert(
                vec![cert.der().clone(), CertificateDer::from(self.ca_der.clone())],
                PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der())),
            )
            .map_err(tls)?;
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(config)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_certificate_round_trips_through_pkcs12() {
        let today = NaiveDate::from_ymd_opt(2026, 11, 25).expect("valid date");
        let pki = Pki::new(today).expect("CA");
        let issued = pki
            .issue_client(
                "1312304569",
                "総合受付",
                today,
                today + chrono::Duration::days(1187),
            )
            .expect("client certificate");
        let bytes = pki
            .pkcs12(&issued.key_der, &issued.cert_der, "1357")
            .expect("p12");
        let store = KeyStore::from_pkcs12(&bytes, "1357", p12_keystore::Pkcs12ImportPolicy::Relaxed)
            .expect("opens with its password");
        let (_, chain) = store.private_key_chain().expect("a key chain");
        assert!(
            chain.certs()[0].subject().contains("1312304569"),
            "{}",
            chain.certs()[0].subject()
        );
        assert!(chain.certs()[0].issuer().contains(CA_COMMON_NAME));
        assert!(KeyStore::from_pkcs12(&bytes, "2468", p12_keystore::Pkcs12ImportPolicy::Relaxed).is_err());
    }
}
