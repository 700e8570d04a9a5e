//! hpki engine: everything PKI, shared by the signing service and the offline verifier.
//!
//! No HTTP, no clock reads, no environment reads, no network (DESIGN.md §5): time and inputs
//! arrive as arguments.
//!
//! The crate's API is the front door below: one namespace per concept, each re-exporting what the
//! other crates use from the private `engine`. Anything not listed there is `pub(crate)`
//! (`unreachable_pub`), every type the API hands out can be named (`unnameable_types`), and all
//! of it is documented (`missing_docs`).
#![forbid(unsafe_code)]
#![warn(missing_docs, unreachable_pub, unnameable_types)]

// The implementation: one module per concept (ARCHITECTURE.md's table), private. The files stay
// at `src/audit.rs`, `src/store/`...: `engine` only keeps them out of the public namespace.
#[path = "."]
mod engine {
    pub(crate) mod audit;
    pub(crate) mod authority;
    pub(crate) mod ber;
    pub(crate) mod cades;
    pub(crate) mod crl;
    pub(crate) mod digest;
    pub(crate) mod hcrole;
    pub(crate) mod issue;
    pub(crate) mod key;
    pub(crate) mod name;
    pub(crate) mod ocsp;
    pub(crate) mod oid;
    pub(crate) mod profile;
    pub(crate) mod purpose;
    pub(crate) mod seal;
    pub(crate) mod sign;
    pub(crate) mod store;
    pub(crate) mod time;
    pub(crate) mod tsp;
    pub(crate) mod verify;
}

// The front door: the whole public API.

/// The hash-chained, MACed audit log: records, their verification, signed checkpoints.
pub mod audit {
    pub use crate::engine::audit::{
        AuditAction, AuditError, AuditEvent, AuditMac, AuditRecord, AuditReport, AuditVerifyError,
        Checkpoint, CheckpointError, GENESIS_HASH, verify_chain,
    };
}

/// CAdES baseline levels B-T, B-LT and B-LTA (ETSI EN 319 122-1) built onto a CMS SignedData:
/// signature and archive time-stamps, validation data, level detection. Pure: the time-stamp
/// tokens and the validation data are arguments.
pub mod cades {
    pub use crate::engine::cades::{
        CadesError, Level, UnknownLevel, add_archive_timestamp_v3,
        add_archive_timestamp_v3_over_digest, add_signature_timestamp, add_validation_data,
        archive_timestamp_v3_imprint, archive_timestamp_v3_imprint_over_digest,
        archive_timestamp_v3_imprint_with_index, detect_level, signature_timestamp_imprint,
    };
}

/// The façade the edges call: initialise, open, issue, revoke, publish CRLs.
pub mod authority {
    pub use crate::engine::authority::augment::{
        AugmentError, Augmented, ForeignTsa, RaisedSigner, SignerSelection, TimestampSource,
        TsaTransport, ValidationData,
    };
    pub use crate::engine::authority::keys::{KeyBackend, KeyEntry, KeyLocation};
    pub use crate::engine::authority::ocsp::{
        DEFAULT_OCSP_VALIDITY_SECONDS, OcspSettings, SETTING_RESPONDER_PREFIX,
    };
    pub use crate::engine::authority::timestamp::{
        PendingTimestamp, SETTING_TSA_KEY, TSA_PROFILE, TimeStamped, TimestampError,
        TimestampStatus, TsaAccess, TsaCertificate, TsaRequester,
    };
    pub use crate::engine::authority::{
        Authority, AuthorityConfig, AuthorityError, InitRequest, Issued, SETTING_AUDIT_KEY,
        SerialSource, stored_audit_mac,
    };
    pub use crate::engine::crl::CrlError;

    /// Who may do what: the `Principal` a caller is, and the rules of each route.
    pub mod access {
        pub use crate::engine::authority::access::{AccessError, Principal};
    }
}

/// Who an mTLS client certificate is (`Authority::authenticate_client`).
pub mod client_auth {
    pub use crate::engine::authority::client_auth::{
        ClientAuthError, ClientIdentity, practitioner_id,
    };
}

/// Server-held signing credentials: create, open (`Authority::signer`), sign (`Authority::sign`).
pub mod credential {
    pub use crate::engine::authority::credential::{
        ClientTextError, Credential, CredentialError, DEFAULT_PROFILE, MAX_CLAIMED_ROLE_LEN,
        MAX_OWNER_LEN, NewCredential, OwnerError, PendingSignature, SignDocument, SignRefusal,
        Signed, Signer, check_client_text, signs_documents,
    };
}

/// API tokens: `hpki_<id>_<secret>`, stored hashed, checked in constant time.
pub mod token {
    pub use crate::engine::authority::token::{
        ApiToken, MAX_TOKEN_LEN, TOKEN_PREFIX, TokenError, Unrecognised, issue_token, verify,
    };
}

/// ISO 17090-2 healthcare roles (`hcRole`) in subjectDirectoryAttributes.
pub mod hcrole {
    pub use crate::engine::hcrole::{
        CodedData, HCActor, HCActorData, HcRole, HcRoleError, MAX_ROLES, decode_extension_value,
        encode_extension_value, roles_of,
    };
}

/// What a certificate request carries, and the CSR checks of issuance.
pub mod issue {
    pub use crate::engine::issue::{
        IssueError, Registration, check_proof_of_possession, parse_csr,
    };
}

/// Keys: software or in a PKCS#11 token, generation, algorithms and their parameters, signature
/// verification.
pub mod key {
    pub use crate::engine::key::{
        KeyAlgorithm, KeyError, KeyParams, Pkcs11KeyRef, Pkcs11Pin, Pkcs11PoolStats,
        Pkcs11SessionLimits, Pkcs11Token, PublicKey, RSA_GENERATED_BITS, RawSignature, SigningKey,
        describe_public_key, key_params, verify,
    };
}

/// Distinguished names and subjectAltNames as operators type them.
pub mod name {
    pub use crate::engine::name::{NameError, display, parse_san, parse_subject};
}

/// Every OID hpki names, once: the catalogue is public as a whole.
pub mod oid {
    pub use crate::engine::oid::*;
}

/// OCSP (RFC 6960, RFC 5019 profile): request and response types, the responder's limits and
/// `Authority::ocsp_response`'s answer.
pub mod ocsp {
    pub use crate::engine::ocsp::{
        ArchiveCutoff, BasicOcspResponse, CertHash, CertId, CertStatus, MAX_CERT_IDS,
        MAX_NONCE_LEN, MAX_REQUEST_LEN, Nonce, OcspAnswer, OcspError, OcspGeneralizedTime,
        OcspRequest, OcspResponse, OcspResponseStatus, OcspStatus, Request, ResponderId,
        ResponseBytes, ResponseData, RevokedInfo, SingleResponse, TbsRequest, Version,
        responder_key_hash,
    };
}

/// Certificate profiles (`policies/*.toml`) as data, and their checks.
pub mod profile {
    pub use crate::engine::profile::{
        Authenticates, CaUrls, CertRequest, ExtensionContext, HcRoleRule, IssuerRef,
        OcspResponseRule, Profile, ProfileError, ProfileSet, ProfileViolation, RoleVocabulary,
        SubjectType,
    };
}

/// Signature purposes and the role × purpose gate (`policies/purposes/signing.toml`).
pub mod purpose {
    pub use crate::engine::purpose::{POLICY_FILE, Purpose, PurposeError, SigningPolicy, label};
}

/// Keys at rest: Argon2id or a key file, then AES-256-GCM.
pub mod seal {
    pub use crate::engine::seal::{KEK_LEN, SALT_LEN, SealError, Sealer};
}

/// CMS SignedData with CAdES signed attributes.
pub mod sign {
    pub use crate::engine::digest::{DigestAlgorithm, DocumentHasher};
    pub use crate::engine::sign::{
        CommitmentTypeIndication, EssCertIdV2, IssuerSerial, PreparedSigner, SignError,
        SignatureParams, SignatureRequest, SignerAttributeV2, SigningCertificateV2, sign,
    };
}

/// Durable state: the records, the `Store` trait, the sled backend and its layout, the
/// PostgreSQL backend.
pub mod store {
    pub use crate::engine::store::{
        AUDIT_HEAD_KEY, AUDIT_TREE, AuditDone, AuditHead, AuditLogError, AuthorityRecord,
        CERTIFICATES_TREE, CREDENTIAL_OWNERS_TREE, CREDENTIALS_TREE, CertificateRecord, CopyError,
        CopyReport, CredentialRecord, Durability, ExportItems, JOURNAL_FILE, META_TREE,
        NumberedCrl, PgStore, REVOKED_TREE, Revocation, RevocationReason, SETTINGS_TREE, SledStore,
        Store, StoreError, StoreItem, StoreSummary, TOKENS_TREE, TokenRecord, TokenScope,
        audit_verify, copy, copy_to_new_sled,
    };
}

/// RFC 3339 times in and out.
pub mod time {
    pub use crate::engine::time::{TimeError, parse_rfc3339, rfc3339};
}

/// RFC 3161 time-stamping: the authority (with RFC 5816's ESS signingCertificateV2) and the
/// requester's side (`TimeStampReq::new`, `TimeStampReq::accept`).
pub mod tsp {
    pub use crate::engine::tsp::{
        Accuracy, ClientError, FailureInfo, MAX_REQUEST_LEN, MessageImprint, NONCE_LEN,
        PkiStatusInfo, STATUS_GRANTED, STATUS_GRANTED_WITH_MODS, STATUS_REJECTION, TimeStampReq,
        TimeStampResp, Tsa, TsaOutcome, TsaResponse, TspError, TstInfo, tst_info,
    };
}

/// Offline verification of CMS signatures and certificates, and its `Report`.
pub mod verify {
    pub use crate::engine::time::rfc3339;
    pub use crate::engine::verify::{
        AlgorithmCatalogue, AlgorithmReport, CatalogueError, CertSummary, Check, Content, EkuRule,
        GenTimeError, Indication, KeyUsageRule, MAX_CERTIFICATE_FILE_LEN, MAX_CERTIFICATES,
        MAX_CRL_LEN, MAX_OCSP_RESPONSE_LEN, MAX_SIGNATURE_LEN, Outcome, Policy, Refusal, Report,
        RevocationSource, RoleReport, SignatureReport, SignedDocument, SubIndication,
        TimestampReport, ValidationPolicy, Verifier, VerifyError, decode_certificates, decode_crls,
        decode_ocsp_response, digest_chunks, parse_gen_time, sid_text, verify_bytes,
        verify_certificate, verify_document,
    };
}

/// Hooks for `fuzz/` only: not API, may change without notice.
#[doc(hidden)]
pub mod fuzzing {
    pub use crate::engine::issue::check as check_issuance;
}
