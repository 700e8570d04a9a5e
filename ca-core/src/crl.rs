//! CRLs (RFC 5280 §5), one per issuing CA.
//!
//! The `TbsCertList` is built here rather than with x509-cert's `CrlBuilder`, which writes the
//! issuer's own authority key identifier (wrong for a sub-CA) and cannot add CRL extensions
//! (DESIGN.md §3, known traps).

use crate::engine::issue::x509_time;
use crate::engine::key::SigningKey;
use crate::engine::store::Revocation;
use x509_cert::Version;
use x509_cert::crl::{CertificateList, RevokedCert, TbsCertList};
use x509_cert::der::asn1::{BitString, GeneralizedTime, OctetString, Uint};
use x509_cert::der::{DateTime, Encode};
use x509_cert::ext::pkix::crl::CrlNumber;
use x509_cert::ext::pkix::{AuthorityKeyIdentifier, CrlReason};
use x509_cert::ext::{Extension, ToExtension};
use x509_cert::name::Name;
use x509_cert::serial_number::SerialNumber;

/// Why a CRL could not be built.
#[derive(Debug, thiserror::Error)]
pub enum CrlError {
    /// DER encoding failed.
    #[error("encoding the CRL: {0}")]
    Der(#[from] x509_cert::der::Error),
    /// The CA key could not sign.
    #[error("signing the CRL: {0}")]
    Sign(#[from] crate::engine::key::KeyError),
    /// A time outside what X.509 Time encodes.
    #[error("time out of range: {0}")]
    Time(String),
}

/// What a CRL says, before it is signed.
pub(crate) struct CrlContent<'a> {
    pub issuer: &'a Name,
    /// The issuer's subjectKeyIdentifier: the CRL's AKI (RFC 5280 §5.2.1).
    pub issuer_key_id: &'a [u8],
    pub number: u64,
    /// Unix seconds.
    pub this_update: u64,
    pub next_update: u64,
    /// (serial octets, revocation), any order.
    pub revoked: &'a [(Vec<u8>, Revocation)],
}

/// Builds and signs a v2 CRL; returns its DER.
pub(crate) fn build(content: &CrlContent<'_>, key: &SigningKey) -> Result<Vec<u8>, CrlError> {
    let issuer = content.issuer;
    let mut revoked: Vec<RevokedCert> = Vec::with_capacity(content.revoked.len());
    for (serial, r) in content.revoked {
        revoked.push(RevokedCert {
            serial_number: SerialNumber::new(serial)?,
            revocation_date: time(r.revoked_at)?,
            crl_entry_extensions: entry_extensions(r, issuer)?,
        });
    }
    let aki = AuthorityKeyIdentifier {
        key_identifier: Some(OctetString::new(content.issuer_key_id)?),
        authority_cert_issuer: None,
        authority_cert_serial_number: None,
    };
    let number = CrlNumber(Uint::new(&content.number.to_be_bytes())?);
    let tbs = TbsCertList {
        version: Version::V2,
        signature: key.signature_algorithm(),
        issuer: issuer.clone(),
        this_update: time(content.this_update)?,
        next_update: Some(time(content.next_update)?),
        // RFC 5280 §5.1.2.6: absent, not empty, when nothing is revoked.
        revoked_certificates: (!revoked.is_empty()).then_some(revoked),
        crl_extensions: Some(vec![
            (false, &aki).to_extension(issuer, &[])?,
            (false, &number).to_extension(issuer, &[])?,
        ]),
    };
    let signature = key.sign(&tbs.to_der()?)?;
    let crl = CertificateList {
        tbs_cert_list: tbs,
        signature_algorithm: key.signature_algorithm(),
        signature: BitString::from_bytes(&signature)?,
    };
    Ok(crl.to_der()?)
}

/// reasonCode (omitted for unspecified, RFC 5280 §5.3.1) and invalidityDate (§5.3.2, always
/// GeneralizedTime).
fn entry_extensions(r: &Revocation, issuer: &Name) -> Result<Option<Vec<Extension>>, CrlError> {
    let mut exts = Vec::new();
    let reason = crl_reason(r.reason.code());
    if reason != CrlReason::Unspecified {
        exts.push((false, &reason).to_extension(issuer, &[])?);
    }
    if let Some(at) = r.invalidity_date {
        let dt = DateTime::from_unix_duration(std::time::Duration::from_secs(at))
            .map_err(|e| CrlError::Time(e.to_string()))?;
        let value = GeneralizedTime::from_date_time(dt).to_der()?;
        exts.push(Extension {
            extn_id: crate::engine::oid::ID_CE_INVALIDITY_DATE,
            critical: false,
            extn_value: OctetString::new(value)?,
        });
    }
    Ok((!exts.is_empty()).then_some(exts))
}

/// The CRLReason of an RFC 5280 code (unspecified for unknown codes); OCSP states it too.
pub(crate) fn crl_reason(code: u8) -> CrlReason {
    match code {
        1 => CrlReason::KeyCompromise,
        2 => CrlReason::CaCompromise,
        3 => CrlReason::AffiliationChanged,
        4 => CrlReason::Superseded,
        5 => CrlReason::CessationOfOperation,
        6 => CrlReason::CertificateHold,
        8 => CrlReason::RemoveFromCRL,
        9 => CrlReason::PrivilegeWithdrawn,
        10 => CrlReason::AaCompromise,
        _ => CrlReason::Unspecified,
    }
}

fn time(unix: u64) -> Result<x509_cert::time::Time, CrlError> {
    x509_time(unix).map_err(|e| CrlError::Time(e.to_string()))
}
