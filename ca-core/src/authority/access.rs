//! Who may do what (issue 12: every trust decision behind `Authority`): the caller an API token or
//! a client certificate authenticates, and what each kind of caller may reach. The service only
//! translates a refusal into its status.

use super::client_auth::ClientIdentity;
use crate::engine::store::TokenScope;

/// An authenticated caller.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Principal {
    /// The registration authority (an `ra` token): issues, revokes, creates credentials and tokens.
    Ra,
    /// A practitioner, by identity (the subject serialNumber of their certificates): signs with,
    /// and sees, their own credentials only.
    Practitioner(String),
    /// A client certificate of a profile that authenticates something other than a practitioner
    /// (a device, an organisation, an application): bound to no practitioner's credentials.
    Client(ClientIdentity),
}

impl From<TokenScope> for Principal {
    fn from(scope: TokenScope) -> Self {
        match scope {
            TokenScope::Ra => Self::Ra,
            TokenScope::Signer { practitioner } => Self::Practitioner(practitioner),
        }
    }
}

impl From<ClientIdentity> for Principal {
    /// Only a practitioner-authentication profile yields a practitioner (`client_auth`).
    fn from(client: ClientIdentity) -> Self {
        match client.practitioner() {
            Some(p) => Self::Practitioner(p.to_owned()),
            None => Self::Client(client),
        }
    }
}

/// Why an authenticated caller may not do what it asked.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum AccessError {
    /// A registration-authority route asked by another caller.
    #[error("this route needs a registration-authority (ra) token")]
    NeedsRa,
    /// A practitioner's route asked by the registration authority.
    #[error("this route needs a signer token or certificate bound to a practitioner")]
    NeedsPractitioner,
    /// A client certificate that authenticates something other than a practitioner.
    #[error(
        "a {profile} certificate authenticates a {kind}, not a practitioner: it may use no \
         practitioner's credential"
    )]
    NotPractitioner {
        /// The client certificate's profile.
        profile: String,
        /// What that profile authenticates (`Authenticates::name`).
        kind: String,
    },
    /// A practitioner named another owner.
    #[error("a practitioner sees only their own credentials")]
    OthersCredentials,
    /// The registration authority named no owner.
    #[error("the registration authority names whose credentials to list")]
    OwnerNotNamed,
    /// A token minted by a caller not authenticated by a token.
    #[error("only a registration-authority token creates tokens")]
    MintNeedsToken,
    /// Augmentation asked by a client certificate that is no practitioner's.
    #[error(
        "a {profile} certificate authenticates a {kind}: raising a signature needs an ra token, \
         or a practitioner's token or certificate"
    )]
    NeedsAccountableCaller {
        /// The client certificate's profile.
        profile: String,
        /// What that profile authenticates (`Authenticates::name`).
        kind: String,
    },
}

impl Principal {
    /// The registration authority, or a refusal.
    pub fn require_ra(&self) -> Result<(), AccessError> {
        match self {
            Self::Ra => Ok(()),
            Self::Practitioner(_) | Self::Client(_) => Err(AccessError::NeedsRa),
        }
    }

    /// The practitioner this caller is, who may use their own credentials; else a refusal.
    pub fn practitioner(&self) -> Result<&str, AccessError> {
        match self {
            Self::Practitioner(p) => Ok(p),
            Self::Ra => Err(AccessError::NeedsPractitioner),
            Self::Client(c) => Err(AccessError::NotPractitioner {
                profile: c.profile.clone(),
                kind: c.kind.name().to_owned(),
            }),
        }
    }

    /// Whether this caller may have signatures raised (augmented to B-LT / B-LTA, renewed): the
    /// signature holds no secret, but each raise spends time-stamp tokens and audit records of
    /// the installation, so only a caller the installation answers for may ask: the
    /// registration authority (an archive system's ra token) or a practitioner; a device or
    /// organisation certificate may not.
    pub fn may_augment(&self) -> Result<(), AccessError> {
        match self {
            Self::Ra | Self::Practitioner(_) => Ok(()),
            Self::Client(c) => Err(AccessError::NeedsAccountableCaller {
                profile: c.profile.clone(),
                kind: c.kind.name().to_owned(),
            }),
        }
    }

    /// Whose credentials this caller may list, given the owner it `asked` for: the registration
    /// authority must name one; a practitioner sees their own and may name no one else.
    pub fn credentials_owner<'a>(&'a self, asked: Option<&'a str>) -> Result<&'a str, AccessError> {
        match (self, asked) {
            (Self::Ra, Some(owner)) => Ok(owner),
            (Self::Ra, None) => Err(AccessError::OwnerNotNamed),
            (_, Some(_)) => Err(AccessError::OthersCredentials),
            (_, None) => self.practitioner(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::profile::Authenticates;

    fn device() -> Principal {
        Principal::from(ClientIdentity {
            ca: "auth".into(),
            kind: Authenticates::Device,
            id: "CN=Infusion Pump 7".into(),
            serial: vec![1],
            profile: "device-tls".into(),
        })
    }

    #[test]
    fn only_the_ra_passes_ra_routes() {
        assert_eq!(Principal::Ra.require_ra(), Ok(()));
        let dr = Principal::Practitioner("dr".into());
        assert_eq!(dr.require_ra(), Err(AccessError::NeedsRa));
        assert_eq!(device().require_ra(), Err(AccessError::NeedsRa));
    }

    #[test]
    fn only_a_practitioner_uses_credentials() {
        assert_eq!(
            Principal::Practitioner("dr".into()).practitioner(),
            Ok("dr")
        );
        assert_eq!(
            Principal::Ra.practitioner(),
            Err(AccessError::NeedsPractitioner)
        );
        let err = device().practitioner().unwrap_err();
        assert!(
            matches!(&err, AccessError::NotPractitioner { profile, .. } if profile == "device-tls")
        );
        assert!(err.to_string().contains("device"), "{err}");
    }

    #[test]
    fn the_ra_and_practitioners_augment_a_device_does_not() {
        assert_eq!(Principal::Ra.may_augment(), Ok(()));
        assert_eq!(Principal::Practitioner("dr".into()).may_augment(), Ok(()));
        let err = device().may_augment().unwrap_err();
        assert!(
            matches!(&err, AccessError::NeedsAccountableCaller { profile, .. } if profile == "device-tls"),
            "{err:?}"
        );
        assert!(err.to_string().contains("device"), "{err}");
    }

    #[test]
    fn credential_lists_are_the_callers_own_or_the_ras_named_one() {
        let dr = Principal::Practitioner("dr".into());
        assert_eq!(dr.credentials_owner(None), Ok("dr"));
        assert_eq!(
            dr.credentials_owner(Some("dr")),
            Err(AccessError::OthersCredentials)
        );
        assert_eq!(Principal::Ra.credentials_owner(Some("dr")), Ok("dr"));
        assert_eq!(
            Principal::Ra.credentials_owner(None),
            Err(AccessError::OwnerNotNamed)
        );
        assert!(matches!(
            device().credentials_owner(None),
            Err(AccessError::NotPractitioner { .. })
        ));
    }

    #[test]
    fn token_scopes_and_practitioner_certificates_are_principals() {
        assert_eq!(Principal::from(TokenScope::Ra), Principal::Ra);
        assert_eq!(
            Principal::from(TokenScope::Signer {
                practitioner: "dr".into()
            }),
            Principal::Practitioner("dr".into())
        );
        let dr = Principal::from(ClientIdentity {
            ca: "auth".into(),
            kind: Authenticates::Practitioner,
            id: "dr".into(),
            serial: vec![2],
            profile: "rhp-auth".into(),
        });
        assert_eq!(dr, Principal::Practitioner("dr".into()));
    }
}
