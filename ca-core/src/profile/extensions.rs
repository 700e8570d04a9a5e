//! The extensions a profile gives a certificate.

use super::{ExtensionContext, HcRoleRule, PolicyRule, Profile, ProfileError};
use crate::engine::{hcrole, oid};
use const_oid::ObjectIdentifier;
use der::asn1::{Ia5String, OctetString};
use der::{Any, Encode};
use x509_cert::ext::Extension;
use x509_cert::ext::pkix::certpolicy::{PolicyInformation, PolicyQualifierInfo};
use x509_cert::ext::pkix::crl::dp::DistributionPoint;
use x509_cert::ext::pkix::name::{DistributionPointName, GeneralName};
use x509_cert::ext::pkix::{
    AccessDescription, AuthorityInfoAccessSyntax, AuthorityKeyIdentifier, BasicConstraints,
    CertificatePolicies, CrlDistributionPoints, ExtendedKeyUsage, KeyUsage, SubjectAltName,
    SubjectKeyIdentifier,
};

impl Profile {
    /// The extensions of a certificate under this profile, in a stable order: AKI, SKI, keyUsage,
    /// EKU, basicConstraints, certificatePolicies, cRLDistributionPoints, AIA, subjectAltName,
    /// subjectDirectoryAttributes (hcRole), OCSP nocheck.
    ///
    /// SANs or roles the profile forbids are a [`ProfileError::Violation`] (defence in depth behind
    /// [`Profile::check`]).
    pub fn extensions(&self, ctx: &ExtensionContext<'_>) -> Result<Vec<Extension>, ProfileError> {
        let mut out = Vec::new();
        if let Some(aki) = ctx.authority_key_id {
            // keyIdentifier only (RFC 5280 §4.2.1.1); issuer+serial would pin the CA certificate.
            let value = AuthorityKeyIdentifier {
                key_identifier: Some(OctetString::new(aki)?),
                authority_cert_issuer: None,
                authority_cert_serial_number: None,
            };
            out.push(extension(
                oid::ID_CE_AUTHORITY_KEY_IDENTIFIER,
                false,
                &value,
            )?);
        }
        let ski = SubjectKeyIdentifier(OctetString::new(ctx.subject_key_id)?);
        out.push(extension(oid::ID_CE_SUBJECT_KEY_IDENTIFIER, false, &ski)?);
        out.push(extension(
            oid::ID_CE_KEY_USAGE,
            self.key_usage_critical,
            &KeyUsage(self.key_usage),
        )?);
        if let Some((purposes, critical)) = &self.eku {
            let value = ExtendedKeyUsage(purposes.clone());
            out.push(extension(oid::ID_CE_EXT_KEY_USAGE, *critical, &value)?);
        }
        if let Some(bc) = self.basic_constraints {
            let value = BasicConstraints {
                ca: bc.ca,
                path_len_constraint: bc.path_len,
            };
            out.push(extension(
                oid::ID_CE_BASIC_CONSTRAINTS,
                bc.critical,
                &value,
            )?);
        }
        if let Some(cp) = self.certificate_policy {
            let policies = self.policies_for(cp, ctx)?;
            if !policies.0.is_empty() {
                out.push(extension(
                    oid::ID_CE_CERTIFICATE_POLICIES,
                    cp.critical,
                    &policies,
                )?);
            }
        }
        if let (true, Some(crl)) = (self.crl_distribution_point, &ctx.urls.crl) {
            let value = CrlDistributionPoints(vec![DistributionPoint {
                distribution_point: Some(DistributionPointName::FullName(vec![uri(crl)?])),
                reasons: None,
                crl_issuer: None,
            }]);
            out.push(extension(
                oid::ID_CE_CRL_DISTRIBUTION_POINTS,
                false,
                &value,
            )?);
        }
        if self.authority_info_access {
            let mut access = Vec::new();
            if let Some(ocsp) = &ctx.urls.ocsp {
                access.push(AccessDescription {
                    access_method: oid::ID_AD_OCSP,
                    access_location: uri(ocsp)?,
                });
            }
            if let Some(ca_issuers) = &ctx.urls.ca_issuers {
                access.push(AccessDescription {
                    access_method: oid::ID_AD_CA_ISSUERS,
                    access_location: uri(ca_issuers)?,
                });
            }
            if !access.is_empty() {
                let value = AuthorityInfoAccessSyntax(access);
                out.push(extension(oid::ID_PE_AUTHORITY_INFO_ACCESS, false, &value)?);
            }
        }
        if !ctx.sans.is_empty() {
            if !self.alt_names {
                return Err(self
                    .violation(
                        "subject_alt_name",
                        "this profile allows no subject alternative names",
                    )
                    .into());
            }
            // Non-critical: the subject DN is required by every profile (RFC 5280 §4.2.1.6).
            let value = SubjectAltName(ctx.sans.to_vec());
            out.push(extension(oid::ID_CE_SUBJECT_ALT_NAME, false, &value)?);
        }
        if !ctx.hc_roles.is_empty() {
            if self.hc_role == HcRoleRule::Absent {
                return Err(self
                    .violation("hc_role", "this profile carries no hcRole")
                    .into());
            }
            let value = hcrole::encode_extension_value(ctx.hc_roles).map_err(|e| match e {
                hcrole::HcRoleError::Der(d) => ProfileError::Der(d),
                hcrole::HcRoleError::Invalid(rule) => self.violation("hc_role", rule).into(),
            })?;
            // RFC 5280 §4.2.1.8: subjectDirectoryAttributes MUST be non-critical.
            out.push(Extension {
                extn_id: oid::ID_CE_SUBJECT_DIRECTORY_ATTRIBUTES,
                critical: false,
                extn_value: OctetString::new(value)?,
            });
        }
        if self.ocsp_nocheck {
            // RFC 6960 §4.2.2.2.1: value NULL, non-critical.
            out.push(extension(
                oid::ID_PKIX_OCSP_NOCHECK,
                false,
                &der::asn1::Null,
            )?);
        }
        Ok(out)
    }

    fn policies_for(
        &self,
        cp: PolicyRule,
        ctx: &ExtensionContext<'_>,
    ) -> Result<CertificatePolicies, ProfileError> {
        let ids: Vec<ObjectIdentifier> = match cp.suffix {
            Some(suffix) => vec![ctx.policy_arc.push_arc(suffix).map_err(|_| {
                self.violation(
                    "certificate_policy.policy_suffix",
                    format!("cannot append {suffix} to policy arc {}", ctx.policy_arc),
                )
            })?],
            None => ctx.issued_policies.to_vec(),
        };
        let qualifiers = match (&ctx.urls.cps, cp.cps_qualifier) {
            (Some(cps), true) => Some(vec![PolicyQualifierInfo {
                policy_qualifier_id: oid::ID_QT_CPS,
                qualifier: Some(Any::encode_from(&Ia5String::new(cps)?)?),
            }]),
            _ => None,
        };
        Ok(CertificatePolicies(
            ids.into_iter()
                .map(|policy_identifier| PolicyInformation {
                    policy_identifier,
                    policy_qualifiers: qualifiers.clone(),
                })
                .collect(),
        ))
    }
}

fn extension(
    extn_id: ObjectIdentifier,
    critical: bool,
    value: &impl Encode,
) -> Result<Extension, ProfileError> {
    Ok(Extension {
        extn_id,
        critical,
        extn_value: OctetString::new(value.to_der()?)?,
    })
}

fn uri(url: &str) -> Result<GeneralName, ProfileError> {
    Ok(GeneralName::UniformResourceIdentifier(Ia5String::new(url)?))
}
