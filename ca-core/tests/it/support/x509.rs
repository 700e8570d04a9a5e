//! Certificates built by hand for the path-building, conformance and hostile-input tests: P-256
//! CAs whose certificates carry exactly the extensions a test gives them.

use ca_core::key::{KeyAlgorithm, RawSignature, SigningKey};
use ca_core::verify::{KeyUsageRule, Policy};
use const_oid::AssociatedOid;
use der::asn1::OctetString;
use der::{DateTime, Encode};
use std::str::FromStr;
use std::time::Duration;
use x509_cert::builder::profile::BuilderProfile;
use x509_cert::builder::{Builder, CertificateBuilder};
use x509_cert::certificate::TbsCertificate;
use x509_cert::ext::Extension;
use x509_cert::ext::pkix::{
    AuthorityKeyIdentifier, BasicConstraints, KeyUsage, KeyUsages, SubjectKeyIdentifier,
};
use x509_cert::name::Name;
use x509_cert::serial_number::SerialNumber;
use x509_cert::spki::SubjectPublicKeyInfoRef;
use x509_cert::time::{Time, Validity};

/// 2026-01-01T00:00:00Z; [`Ca::issue`] makes certificates valid for a year from then.
pub const NOW: u64 = 1_767_225_600;

/// A builder profile that keeps the names and extensions it is given.
pub struct Fixed {
    pub issuer: Name,
    pub subject: Name,
    pub extensions: Vec<Extension>,
}

impl BuilderProfile for Fixed {
    fn get_issuer(&self, _: &Name) -> Name {
        self.issuer.clone()
    }
    fn get_subject(&self) -> Name {
        self.subject.clone()
    }
    fn build_extensions(
        &self,
        _: SubjectPublicKeyInfoRef<'_>,
        _: SubjectPublicKeyInfoRef<'_>,
        _: &TbsCertificate,
    ) -> x509_cert::builder::Result<Vec<Extension>> {
        Ok(self.extensions.clone())
    }
}

/// `value` as an extension.
pub fn ext<T: AssociatedOid + Encode>(value: &T, critical: bool) -> Extension {
    Extension {
        extn_id: T::OID,
        critical,
        extn_value: OctetString::new(value.to_der().unwrap()).unwrap(),
    }
}

/// A CA: a P-256 key, a name, its key identifier.
pub struct Ca {
    pub key: SigningKey,
    pub name: Name,
    pub ski: Vec<u8>,
}

/// What a certificate says besides names and keys.
pub struct Issue {
    pub ca: bool,
    pub serial: u32,
    pub key_usage: KeyUsage,
    /// After basicConstraints, keyUsage and the key identifiers.
    pub extra: Vec<Extension>,
}

impl Issue {
    pub fn ca(serial: u32) -> Self {
        Self {
            ca: true,
            serial,
            key_usage: KeyUsage(KeyUsages::KeyCertSign | KeyUsages::CRLSign),
            extra: vec![],
        }
    }

    pub fn leaf(serial: u32) -> Self {
        Self {
            ca: false,
            serial,
            key_usage: KeyUsage(KeyUsages::DigitalSignature.into()),
            extra: vec![],
        }
    }

    /// A signing end entity (nonRepudiation and digitalSignature) with `extra` extensions.
    pub fn signer(serial: u32, extra: Vec<Extension>) -> Self {
        Self {
            key_usage: KeyUsage(KeyUsages::NonRepudiation | KeyUsages::DigitalSignature),
            extra,
            ..Self::leaf(serial)
        }
    }
}

impl Ca {
    pub fn new(cn: &str) -> Self {
        Self::with_key(cn, SigningKey::generate(KeyAlgorithm::P256).unwrap())
    }

    /// The same name with another key (a key rollover).
    pub fn with_key(cn: &str, key: SigningKey) -> Self {
        let spki = key.public_key_info().subject_public_key.raw_bytes();
        let ski = ring::digest::digest(&ring::digest::SHA1_FOR_LEGACY_USE_ONLY, spki).as_ref()
            [..20]
            .to_vec();
        Self {
            key,
            name: Name::from_str(&format!("CN={cn},O=hpki tests,C=JP")).unwrap(),
            ski,
        }
    }

    /// A certificate for `subject` signed by `self`, valid for a year from [`NOW`].
    pub fn issue(&self, subject: &Ca, how: Issue) -> Vec<u8> {
        self.issue_until(subject, how, NOW + 365 * 86_400)
    }

    /// [`Ca::issue`] valid from [`NOW`] to `not_after` (Unix seconds).
    pub fn issue_until(&self, subject: &Ca, how: Issue, not_after: u64) -> Vec<u8> {
        let mut extensions = vec![
            ext(
                &BasicConstraints {
                    ca: how.ca,
                    path_len_constraint: None,
                },
                false,
            ),
            ext(&how.key_usage, false),
            ext(
                &SubjectKeyIdentifier(OctetString::new(subject.ski.clone()).unwrap()),
                false,
            ),
            ext(
                &AuthorityKeyIdentifier {
                    key_identifier: Some(OctetString::new(self.ski.clone()).unwrap()),
                    authority_cert_issuer: None,
                    authority_cert_serial_number: None,
                },
                false,
            ),
        ];
        extensions.extend(how.extra);
        let time =
            |t: u64| Time::from(DateTime::from_unix_duration(Duration::from_secs(t)).unwrap());
        CertificateBuilder::new(
            Fixed {
                issuer: self.name.clone(),
                subject: subject.name.clone(),
                extensions,
            },
            SerialNumber::from(how.serial),
            Validity::new(time(NOW), time(not_after)),
            subject.key.public_key_info().clone(),
        )
        .unwrap()
        .build::<_, RawSignature>(&self.key)
        .unwrap()
        .to_der()
        .unwrap()
    }

    pub fn self_signed(&self) -> Vec<u8> {
        self.issue(self, Issue::ca(1))
    }
}

/// Validation an hour after [`NOW`] from the trust anchor `root` with `pool`, key usage reported
/// only.
pub fn path_policy(root: &[u8], pool: Vec<Vec<u8>>) -> Policy {
    let mut p = Policy::new(NOW + 3_600);
    p.trust_anchors = vec![root.to_vec()];
    p.cert_pool = pool;
    p.key_usage = Some(KeyUsageRule::ReportOnly);
    p
}
