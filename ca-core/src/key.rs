//! Signing keys behind one type, [`SigningKey`], with two backends: software keys (ring, PKCS#8
//! sealed at rest by the callers) and keys in a PKCS#11 token (`pkcs11`); plus adapters to the
//! RustCrypto builder traits.

mod pkcs11;

pub use pkcs11::{Pkcs11KeyRef, Pkcs11Pin, Pkcs11PoolStats, Pkcs11SessionLimits, Pkcs11Token};

use crate::engine::digest::DigestAlgorithm;
use crate::engine::oid;
use der::asn1::{Any, BitString, OctetStringRef, UintRef};
use der::{Decode, Reader, SliceReader};
use ring::rand::SystemRandom;
use ring::signature::{self as rsig, KeyPair as _};
use spki::{
    AlgorithmIdentifierOwned, AlgorithmIdentifierRef, ObjectIdentifier, SubjectPublicKeyInfoOwned,
};
use std::fmt;
use zeroize::Zeroizing;

/// Key algorithms hpki generates or imports, and P-521 and DSA, which it only verifies.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum KeyAlgorithm {
    /// ECDSA on P-256 (secp256r1).
    P256,
    /// ECDSA on P-384 (secp384r1).
    P384,
    /// Ed25519 (RFC 8410).
    Ed25519,
    /// Imported only: ring cannot generate RSA keys.
    Rsa,
    /// Verification only (RustCrypto `p521`: ring has no P-521); never generated or imported, so
    /// no request may name it.
    #[serde(skip_deserializing)]
    P521,
    /// Verification only (RustCrypto `dsa`, legacy documents: DESIGN.md §3); never generated,
    /// imported or named by a request.
    #[serde(skip_deserializing)]
    Dsa,
}

impl KeyAlgorithm {
    /// Its name in requests, records and the audit log (the serde name): `p256`, `ed25519`, ….
    pub fn name(self) -> &'static str {
        match self {
            Self::P256 => "p256",
            Self::P384 => "p384",
            Self::Ed25519 => "ed25519",
            Self::Rsa => "rsa",
            Self::P521 => "p521",
            Self::Dsa => "dsa",
        }
    }
}

/// Algorithm and size of a public key, as profiles constrain them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KeyParams {
    /// The key's algorithm.
    pub algorithm: KeyAlgorithm,
    /// Modulus bits for RSA, curve bits for EC, 256 for Ed25519.
    pub bits: u32,
}

/// A key that cannot be used, or a signature that does not verify.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// An algorithm, curve or size hpki does not handle.
    #[error("unsupported key algorithm: {0}")]
    Unsupported(String),
    /// The key or signature does not decode.
    #[error("malformed key")]
    Malformed,
    /// The signature does not verify under the key.
    #[error("signature does not verify")]
    BadSignature,
    /// The system could not generate a key.
    #[error("key generation failed")]
    Generation,
    /// The key could not sign.
    #[error("signing failed")]
    Signing,
    /// The token holding the key cannot be reached now (removed, its sessions gone, the module
    /// not initialized): worth retrying later; the next call reconnects.
    #[error("key store unavailable: {0}")]
    Unavailable(String),
    /// Every session of the token's pool stayed in use for the whole wait: the token is
    /// reachable but busy; worth retrying soon (not a lost token: no reconnect).
    #[error("key store busy: {0}")]
    Busy(String),
    /// The token refused the PIN (wrong, locked, expired).
    #[error("the token refused the PIN: {0}")]
    PinRefused(String),
    /// The token lacks a mechanism the key needs (e.g. CKM_EDDSA for Ed25519).
    #[error("mechanism not supported by the token: {0}")]
    MechanismUnsupported(String),
    /// Any other PKCS#11 failure: module not loadable, key not found or not guarded, a label in
    /// use.
    #[error("PKCS#11: {0}")]
    Token(String),
    /// The private key is held in a token and cannot be exported.
    #[error("the private key is held in a token and cannot be exported")]
    NotExportable,
}

impl From<der::Error> for KeyError {
    fn from(_: der::Error) -> Self {
        KeyError::Malformed
    }
}

/// ring refuses RSA keys below this size for both signing and verification.
const RSA_MIN_BITS: u32 = 2048;
/// ring's upper bound for RSA moduli.
const RSA_MAX_BITS: u32 = 8192;

/// The backend seam: where the private key is and what signs with it.
enum Backend {
    Ecdsa(rsig::EcdsaKeyPair),
    Ed25519(rsig::Ed25519KeyPair),
    Rsa(rsig::RsaKeyPair),
    Token(pkcs11::TokenKey),
}

/// Size of generated RSA keys: 3072 bits, acceptable beyond 2030 (NIST SP 800-57 Pt 1).
pub const RSA_GENERATED_BITS: usize = 3072;

/// A private signing key. Its `Debug` output never shows key material.
pub struct SigningKey {
    backend: Backend,
    params: KeyParams,
    /// The software key's PKCS#8; none for a token's key.
    pkcs8: Option<Zeroizing<Vec<u8>>>,
    spki: SubjectPublicKeyInfoOwned,
    signature_algorithm: AlgorithmIdentifierOwned,
    /// RSA only: RSASSA-PSS instead of PKCS#1 v1.5 ([`SigningKey::with_rsa_pss`]).
    pss: bool,
    rng: SystemRandom,
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SigningKey").finish_non_exhaustive()
    }
}

impl SigningKey {
    /// Generates an RSA key of `bits` (2048 to 8192). RSA keys come from the `rsa` crate (ring
    /// cannot generate them), then are used through ring.
    pub fn generate_rsa(bits: usize) -> Result<Self, KeyError> {
        use rsa::pkcs8::EncodePrivateKey;
        if !(2048..=8192).contains(&bits) {
            return Err(KeyError::Unsupported(format!("RSA keys of {bits} bits")));
        }
        let key =
            rsa::PrivateKey::new(&mut getrandom::SysRng, bits).map_err(|_| KeyError::Generation)?;
        let der = key.to_pkcs8_der().map_err(|_| KeyError::Generation)?;
        Self::from_pkcs8(der.as_bytes()).map_err(|_| KeyError::Generation)
    }

    /// Generates a key; RSA keys get [`RSA_GENERATED_BITS`] bits.
    pub fn generate(algorithm: KeyAlgorithm) -> Result<Self, KeyError> {
        let rng = SystemRandom::new();
        // ring's pkcs8::Document is not zeroized on drop; we copy it out at once.
        let document = match algorithm {
            KeyAlgorithm::P256 => {
                rsig::EcdsaKeyPair::generate_pkcs8(&rsig::ECDSA_P256_SHA256_ASN1_SIGNING, &rng)
            }
            KeyAlgorithm::P384 => {
                rsig::EcdsaKeyPair::generate_pkcs8(&rsig::ECDSA_P384_SHA384_ASN1_SIGNING, &rng)
            }
            KeyAlgorithm::Ed25519 => rsig::Ed25519KeyPair::generate_pkcs8(&rng),
            KeyAlgorithm::Rsa => return Self::generate_rsa(RSA_GENERATED_BITS),
            KeyAlgorithm::P521 | KeyAlgorithm::Dsa => {
                return Err(KeyError::Unsupported(format!(
                    "{} keys are verified only",
                    algorithm_name(algorithm)
                )));
            }
        }
        .map_err(|_| KeyError::Generation)?;
        let pkcs8 = Zeroizing::new(document.as_ref().to_vec());
        Self::from_pkcs8_owned(pkcs8, rng).map_err(|_| KeyError::Generation)
    }

    /// Imports a PKCS#8 private key (RSA ≥ 2048, P-256, P-384, Ed25519 v1 or v2).
    pub fn from_pkcs8(der: &[u8]) -> Result<Self, KeyError> {
        Self::from_pkcs8_owned(Zeroizing::new(der.to_vec()), SystemRandom::new())
    }

    fn from_pkcs8_owned(pkcs8: Zeroizing<Vec<u8>>, rng: SystemRandom) -> Result<Self, KeyError> {
        let info = PrivateKeyInfo::parse(&pkcs8)?;
        let (backend, spki_alg, public_key) = if info.algorithm.oid == oid::ID_EC_PUBLIC_KEY {
            let curve: ObjectIdentifier = info
                .algorithm
                .parameters
                .ok_or(KeyError::Malformed)?
                .decode_as()?;
            let alg = if curve == oid::SECP_256_R_1 {
                &rsig::ECDSA_P256_SHA256_ASN1_SIGNING
            } else if curve == oid::SECP_384_R_1 {
                &rsig::ECDSA_P384_SHA384_ASN1_SIGNING
            } else {
                return Err(KeyError::Unsupported(format!("elliptic curve {curve}")));
            };
            let pair = rsig::EcdsaKeyPair::from_pkcs8(alg, &pkcs8, &rng)
                .map_err(|_| KeyError::Malformed)?;
            let public = pair.public_key().as_ref().to_vec();
            let spki_alg = AlgorithmIdentifierOwned {
                oid: oid::ID_EC_PUBLIC_KEY,
                parameters: Some(Any::encode_from(&curve)?),
            };
            (Backend::Ecdsa(pair), spki_alg, public)
        } else if info.algorithm.oid == oid::ID_ED_25519 {
            // v2 (RFC 5958) carries the public key, which ring checks against the seed; v1
            // (what OpenSSL writes) has only the seed.
            let pair = if info.version == 1 {
                rsig::Ed25519KeyPair::from_pkcs8(&pkcs8)
            } else {
                rsig::Ed25519KeyPair::from_pkcs8_maybe_unchecked(&pkcs8)
            }
            .map_err(|_| KeyError::Malformed)?;
            let public = pair.public_key().as_ref().to_vec();
            let spki_alg = AlgorithmIdentifierOwned {
                oid: oid::ID_ED_25519,
                parameters: None,
            };
            (Backend::Ed25519(pair), spki_alg, public)
        } else if info.algorithm.oid == oid::RSA_ENCRYPTION {
            // Check the size ourselves so a short key reads as Unsupported, not Malformed.
            check_rsa_bits(rsa_private_modulus_bits(info.private_key)?)?;
            let pair = rsig::RsaKeyPair::from_pkcs8(&pkcs8).map_err(|_| KeyError::Malformed)?;
            // ring's public key is the PKCS#1 RSAPublicKey, exactly the SPKI's subjectPublicKey.
            let public = pair.public().as_ref().to_vec();
            let spki_alg = AlgorithmIdentifierOwned {
                oid: oid::RSA_ENCRYPTION,
                parameters: Some(Any::null()),
            };
            (Backend::Rsa(pair), spki_alg, public)
        } else {
            return Err(KeyError::Unsupported(format!(
                "private key algorithm {}",
                info.algorithm.oid
            )));
        };

        let spki = SubjectPublicKeyInfoOwned {
            algorithm: spki_alg,
            subject_public_key: BitString::from_bytes(&public_key)?,
        };
        Self::assemble(backend, Some(pkcs8), spki, rng)
    }

    /// A token's key with the public key the token reports.
    fn from_token(
        key: pkcs11::TokenKey,
        spki: SubjectPublicKeyInfoOwned,
    ) -> Result<Self, KeyError> {
        Self::assemble(Backend::Token(key), None, spki, SystemRandom::new())
    }

    fn assemble(
        backend: Backend,
        pkcs8: Option<Zeroizing<Vec<u8>>>,
        spki: SubjectPublicKeyInfoOwned,
        rng: SystemRandom,
    ) -> Result<Self, KeyError> {
        let params = key_params(&spki)?;
        let signature_algorithm = match params.algorithm {
            // RFC 5758 §3.2: ECDSA signature AlgorithmIdentifiers omit parameters.
            KeyAlgorithm::P256 => alg_id(oid::ECDSA_WITH_SHA_256, None),
            KeyAlgorithm::P384 => alg_id(oid::ECDSA_WITH_SHA_384, None),
            // RFC 8410 §3: parameters absent.
            KeyAlgorithm::Ed25519 => alg_id(oid::ID_ED_25519, None),
            // RFC 4055 §5: parameters NULL.
            KeyAlgorithm::Rsa => alg_id(oid::SHA_256_WITH_RSA_ENCRYPTION, Some(Any::null())),
            // from_pkcs8 refused the curve and DSA above.
            KeyAlgorithm::P521 | KeyAlgorithm::Dsa => {
                return Err(KeyError::Unsupported(
                    algorithm_name(params.algorithm).into(),
                ));
            }
        };
        Ok(Self {
            backend,
            params,
            pkcs8,
            spki,
            signature_algorithm,
            pss: false,
            rng,
        })
    }

    /// The PKCS#8 DER, for sealing at rest only; [`KeyError::NotExportable`] for a token's key.
    pub fn to_pkcs8(&self) -> Result<Zeroizing<Vec<u8>>, KeyError> {
        self.pkcs8.clone().ok_or(KeyError::NotExportable)
    }

    /// Where a token's key is (what to store in place of a sealed blob); `None` for a software key.
    pub fn pkcs11_ref(&self) -> Option<&Pkcs11KeyRef> {
        match &self.backend {
            Backend::Token(key) => Some(key.reference()),
            Backend::Ecdsa(_) | Backend::Ed25519(_) | Backend::Rsa(_) => None,
        }
    }

    /// An RSA key that signs RSASSA-PSS with SHA-256, MGF1-SHA-256 and a 32-octet salt
    /// (RFC 4055 §3.1, RFC 8017 §8.1) instead of PKCS#1 v1.5; other keys are `Unsupported`.
    pub fn with_rsa_pss(mut self) -> Result<Self, KeyError> {
        if self.params.algorithm != KeyAlgorithm::Rsa {
            return Err(KeyError::Unsupported(format!(
                "RSASSA-PSS with a {} key",
                algorithm_name(self.params.algorithm)
            )));
        }
        // RFC 5754 §2: SHA-2 AlgorithmIdentifiers without parameters.
        let sha256 = AlgorithmIdentifierRef {
            oid: oid::ID_SHA_256,
            parameters: None,
        };
        let sha256_der = der::Encode::to_der(&sha256)?;
        let params = RsaPssParams {
            hash_algorithm: Some(sha256),
            mask_gen_algorithm: Some(AlgorithmIdentifierRef {
                oid: oid::ID_MGF_1,
                parameters: Some(der::asn1::AnyRef::from_der(&sha256_der)?),
            }),
            salt_length: Some(DigestAlgorithm::Sha256.len() as u32),
            trailer_field: None,
        };
        self.signature_algorithm = alg_id(oid::ID_RSASSA_PSS, Some(Any::encode_from(&params)?));
        self.pss = true;
        Ok(self)
    }
    /// The key's algorithm.
    pub fn algorithm(&self) -> KeyAlgorithm {
        self.params.algorithm
    }
    /// Its algorithm and size.
    pub fn params(&self) -> KeyParams {
        self.params
    }
    /// Its SubjectPublicKeyInfo.
    pub fn public_key_info(&self) -> &SubjectPublicKeyInfoOwned {
        &self.spki
    }
    /// The signature algorithm this key signs with: ecdsa-with-SHA256 (P-256), ecdsa-with-SHA384
    /// (P-384), Ed25519, sha256WithRSAEncryption (RSA).
    pub fn signature_algorithm(&self) -> AlgorithmIdentifierOwned {
        self.signature_algorithm.clone()
    }
    /// Signs `message` (ECDSA signatures are DER-encoded as X.509 and CMS expect).
    pub fn sign(&self, message: &[u8]) -> Result<Vec<u8>, KeyError> {
        match &self.backend {
            Backend::Ecdsa(pair) => pair
                .sign(&self.rng, message)
                .map(|sig| sig.as_ref().to_vec())
                .map_err(|_| KeyError::Signing),
            Backend::Ed25519(pair) => Ok(pair.sign(message).as_ref().to_vec()),
            Backend::Rsa(pair) => {
                let mut sig = vec![0; pair.public().modulus_len()];
                let padding: &dyn rsig::RsaEncoding = if self.pss {
                    &rsig::RSA_PSS_SHA256
                } else {
                    &rsig::RSA_PKCS1_SHA256
                };
                pair.sign(padding, &self.rng, message, &mut sig)
                    .map_err(|_| KeyError::Signing)?;
                Ok(sig)
            }
            Backend::Token(key) => {
                use pkcs11::TokenScheme as T;
                let scheme = match self.params.algorithm {
                    KeyAlgorithm::P256 => T::Ecdsa(DigestAlgorithm::Sha256),
                    KeyAlgorithm::P384 => T::Ecdsa(DigestAlgorithm::Sha384),
                    KeyAlgorithm::Ed25519 => T::Ed25519,
                    KeyAlgorithm::Rsa if self.pss => T::RsaPssSha256,
                    KeyAlgorithm::Rsa => T::RsaPkcs1Sha256,
                    KeyAlgorithm::P521 | KeyAlgorithm::Dsa => return Err(KeyError::Signing),
                };
                key.sign(&scheme, message)
            }
        }
    }
}

fn alg_id(oid: ObjectIdentifier, parameters: Option<Any>) -> AlgorithmIdentifierOwned {
    AlgorithmIdentifierOwned { oid, parameters }
}

/// The fields of a PKCS#8 PrivateKeyInfo / OneAsymmetricKey (RFC 5958 §2) hpki reads; the
/// optional attributes and publicKey that may follow are left to ring.
struct PrivateKeyInfo<'a> {
    version: u8,
    algorithm: AlgorithmIdentifierRef<'a>,
    private_key: &'a [u8],
}

impl<'a> PrivateKeyInfo<'a> {
    fn parse(der: &'a [u8]) -> Result<Self, KeyError> {
        let mut reader = SliceReader::new(der)?;
        let info = reader.sequence(|r| {
            let version: u8 = r.decode()?;
            let algorithm: AlgorithmIdentifierRef<'a> = r.decode()?;
            let private_key: &'a OctetStringRef = r.decode()?;
            let rest = r.remaining_len();
            r.read_slice(rest)?;
            Ok::<_, der::Error>(PrivateKeyInfo {
                version,
                algorithm,
                private_key: private_key.as_bytes(),
            })
        })?;
        reader.finish()?;
        if info.version > 1 {
            return Err(KeyError::Malformed);
        }
        Ok(info)
    }
}

/// Modulus size of a PKCS#1 RSAPrivateKey (RFC 8017 A.1.2) without touching the private fields.
fn rsa_private_modulus_bits(der: &[u8]) -> Result<u32, KeyError> {
    let mut reader = SliceReader::new(der)?;
    let bits = reader.sequence(|r| {
        let _version: u8 = r.decode()?;
        let modulus: UintRef<'_> = r.decode()?;
        let rest = r.remaining_len();
        r.read_slice(rest)?;
        Ok::<_, der::Error>(uint_bits(modulus))
    })?;
    reader.finish()?;
    Ok(bits)
}

/// PKCS#1 RSAPublicKey, RFC 8017 A.1.1.
#[derive(der::Sequence)]
struct RsaPublicKey<'a> {
    modulus: UintRef<'a>,
    public_exponent: UintRef<'a>,
}

/// Bit length of a DER unsigned integer; `UintRef` has already stripped the sign byte.
fn uint_bits(n: UintRef<'_>) -> u32 {
    let bytes = n.as_bytes();
    match bytes.first() {
        None => 0,
        Some(&top) => (bytes.len() as u32 - 1) * 8 + (8 - top.leading_zeros()),
    }
}

fn check_rsa_bits(bits: u32) -> Result<(), KeyError> {
    if bits < RSA_MIN_BITS {
        Err(KeyError::Unsupported("RSA keys below 2048 bits".into()))
    } else if bits > RSA_MAX_BITS {
        Err(KeyError::Unsupported("RSA keys above 8192 bits".into()))
    } else {
        Ok(())
    }
}

/// Algorithm and size of `spki`; `Unsupported` for anything hpki cannot verify.
pub fn key_params(spki: &SubjectPublicKeyInfoOwned) -> Result<KeyParams, KeyError> {
    let alg = &spki.algorithm;
    let key = spki
        .subject_public_key
        .as_bytes()
        .ok_or(KeyError::Malformed)?;
    let (algorithm, bits) = if alg.oid == oid::RSA_ENCRYPTION {
        let rsa = RsaPublicKey::from_der(key)?;
        (KeyAlgorithm::Rsa, uint_bits(rsa.modulus))
    } else if alg.oid == oid::ID_EC_PUBLIC_KEY {
        // RFC 5480 §2.1.1: only namedCurve is allowed in PKIX.
        let curve: ObjectIdentifier = alg
            .parameters
            .as_ref()
            .ok_or(KeyError::Malformed)?
            .decode_as()?;
        if curve == oid::SECP_256_R_1 {
            (KeyAlgorithm::P256, 256)
        } else if curve == oid::SECP_384_R_1 {
            (KeyAlgorithm::P384, 384)
        } else if curve == oid::SECP_521_R_1 {
            (KeyAlgorithm::P521, 521)
        } else {
            return Err(KeyError::Unsupported(format!("elliptic curve {curve}")));
        }
    } else if alg.oid == oid::ID_ED_25519 {
        // RFC 8410 §3: parameters absent; the key is the 32-byte encoded point.
        if alg.parameters.is_some() || key.len() != 32 {
            return Err(KeyError::Malformed);
        }
        (KeyAlgorithm::Ed25519, 256)
    } else if alg.oid == oid::ID_DSA {
        // RFC 3279 §2.3.2: the bits of p; 0 while the parameters are inherited (RFC 5280
        // §6.1.4(f)) and not yet completed from the issuer.
        let bits = match &alg.parameters {
            None => 0,
            Some(p) if p.is_null() => 0,
            Some(p) => uint_bits(p.decode_as::<DssParms<'_>>()?.p),
        };
        (KeyAlgorithm::Dsa, bits)
    } else {
        return Err(KeyError::Unsupported(format!(
            "public key algorithm {}",
            oid::describe(&alg.oid)
        )));
    };
    Ok(KeyParams { algorithm, bits })
}

/// As people name keys: `EC P-256`, `RSA 2048`, `Ed25519`.
impl fmt::Display for KeyParams {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.algorithm {
            KeyAlgorithm::P256 => f.write_str("EC P-256"),
            KeyAlgorithm::P384 => f.write_str("EC P-384"),
            KeyAlgorithm::P521 => f.write_str("EC P-521"),
            KeyAlgorithm::Ed25519 => f.write_str("Ed25519"),
            KeyAlgorithm::Rsa => write!(f, "RSA {}", self.bits),
            // 0: the parameters, and so the size, are inherited (RFC 5280 §6.1.4(f)).
            KeyAlgorithm::Dsa if self.bits == 0 => f.write_str("DSA (parameters inherited)"),
            KeyAlgorithm::Dsa => write!(f, "DSA {}", self.bits),
        }
    }
}

/// The key in `spki` for a reader: [`KeyParams`]' name, or the algorithm (and curve) by name when
/// hpki does not support it; never fails.
pub fn describe_public_key(spki: &SubjectPublicKeyInfoOwned) -> String {
    let alg = &spki.algorithm;
    match key_params(spki) {
        Ok(params) => params.to_string(),
        Err(KeyError::Unsupported(_)) if alg.oid == oid::ID_EC_PUBLIC_KEY => {
            match alg
                .parameters
                .as_ref()
                .map(Any::decode_as::<ObjectIdentifier>)
            {
                Some(Ok(curve)) => format!("EC {}", oid::describe(&curve)),
                _ => format!("EC, curve not named ({})", oid::describe(&alg.oid)),
            }
        }
        Err(KeyError::Unsupported(_)) => oid::describe(&alg.oid),
        Err(e) => format!("{}: {e}", oid::describe(&alg.oid)),
    }
}

/// RSASSA-PSS-params, RFC 4055 §3.1 (explicitly tagged). Absent fields take the DEFAULTs:
/// SHA-1, MGF1 with SHA-1, salt length 20, trailer field 1.
#[derive(der::Sequence)]
struct RsaPssParams<'a> {
    #[asn1(context_specific = "0", optional = "true")]
    hash_algorithm: Option<AlgorithmIdentifierRef<'a>>,
    #[asn1(context_specific = "1", optional = "true")]
    mask_gen_algorithm: Option<AlgorithmIdentifierRef<'a>>,
    #[asn1(context_specific = "2", optional = "true")]
    salt_length: Option<u32>,
    #[asn1(context_specific = "3", optional = "true")]
    trailer_field: Option<u8>,
}

/// Dss-Parms, RFC 3279 §2.3.2: the DSA domain parameters of a public key.
#[derive(der::Sequence)]
struct DssParms<'a> {
    p: UintRef<'a>,
    q: UintRef<'a>,
    g: UintRef<'a>,
}

/// Hash AlgorithmIdentifiers appear with NULL or absent parameters; RFC 4055 §2.1 says accept both.
fn hash_of(alg: &AlgorithmIdentifierRef<'_>) -> Result<DigestAlgorithm, KeyError> {
    match alg.parameters {
        None => {}
        Some(p) if p.is_null() => {}
        Some(_) => return Err(KeyError::Malformed),
    }
    DigestAlgorithm::from_oid(&alg.oid)
        .ok_or_else(|| KeyError::Unsupported(format!("hash algorithm {}", oid::describe(&alg.oid))))
}

/// A signature algorithm as its AlgorithmIdentifier encodes it (RFC 3279 §2.2, RFC 4055 §3-§5,
/// RFC 5758 §3, RFC 8410 §3): the scheme and the hash it signs with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum SignatureScheme {
    /// RSASSA-PKCS1-v1_5 (RFC 8017 §8.2).
    RsaPkcs1(DigestAlgorithm),
    /// RSASSA-PSS (RFC 8017 §8.1) with the parameters as encoded.
    RsaPss {
        hash: DigestAlgorithm,
        mgf_hash: DigestAlgorithm,
        salt_len: u32,
    },
    Ecdsa(DigestAlgorithm),
    /// Verification only (RFC 3279 §2.2.2, RFC 5758 §3.1).
    Dsa(DigestAlgorithm),
    /// PureEdDSA: no separate hash.
    Ed25519,
}

impl SignatureScheme {
    /// Decodes a signature AlgorithmIdentifier; `Unsupported` for an algorithm hpki does not verify.
    pub(crate) fn from_identifier(alg: &AlgorithmIdentifierOwned) -> Result<Self, KeyError> {
        use DigestAlgorithm as D;
        use const_oid::db::rfc5912 as db;
        let o = alg.oid;
        let pkcs1 = [
            (db::SHA_1_WITH_RSA_ENCRYPTION, D::Sha1),
            (db::SHA_224_WITH_RSA_ENCRYPTION, D::Sha224),
            (db::SHA_256_WITH_RSA_ENCRYPTION, D::Sha256),
            (db::SHA_384_WITH_RSA_ENCRYPTION, D::Sha384),
            (db::SHA_512_WITH_RSA_ENCRYPTION, D::Sha512),
        ];
        let ecdsa = [
            (oid::ECDSA_WITH_SHA_1, D::Sha1),
            (db::ECDSA_WITH_SHA_224, D::Sha224),
            (db::ECDSA_WITH_SHA_256, D::Sha256),
            (db::ECDSA_WITH_SHA_384, D::Sha384),
            (db::ECDSA_WITH_SHA_512, D::Sha512),
        ];
        let dsa = [
            (db::DSA_WITH_SHA_1, D::Sha1),
            (db::DSA_WITH_SHA_224, D::Sha224),
            (db::DSA_WITH_SHA_256, D::Sha256),
        ];
        let find = |table: &[(ObjectIdentifier, D)]| {
            table.iter().find(|(id, _)| *id == o).map(|(_, d)| *d)
        };
        if let Some(d) = find(&pkcs1) {
            // RFC 4055 §5: NULL; absent tolerated (RFC 5754 §3.2 readers accept both).
            check_params(alg, true)?;
            Ok(Self::RsaPkcs1(d))
        } else if let Some(d) = find(&ecdsa) {
            // RFC 5758 §3.2 and RFC 3279 §2.2.3: parameters absent.
            check_params(alg, false)?;
            Ok(Self::Ecdsa(d))
        } else if let Some(d) = find(&dsa) {
            // RFC 3279 §2.2.2, RFC 5758 §3.1: parameters absent.
            check_params(alg, false)?;
            Ok(Self::Dsa(d))
        } else if o == oid::ID_ED_25519 {
            // RFC 8410 §3: parameters absent.
            check_params(alg, false)?;
            Ok(Self::Ed25519)
        } else if o == oid::ID_RSASSA_PSS {
            pss_scheme(alg.parameters.as_ref())
        } else {
            Err(KeyError::Unsupported(format!(
                "signature algorithm {}",
                oid::describe(&o)
            )))
        }
    }

    /// The hash the signature is computed over (`None` for Ed25519, which hashes internally).
    pub(crate) fn hash(&self) -> Option<DigestAlgorithm> {
        match *self {
            Self::RsaPkcs1(d) | Self::Ecdsa(d) | Self::Dsa(d) => Some(d),
            Self::RsaPss { hash, .. } => Some(hash),
            Self::Ed25519 => None,
        }
    }
}

impl fmt::Display for SignatureScheme {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::RsaPkcs1(d) => write!(f, "RSA PKCS#1 v1.5 with {d}"),
            Self::RsaPss {
                hash,
                mgf_hash,
                salt_len,
            } => write!(
                f,
                "RSASSA-PSS with {hash}, MGF1 {mgf_hash}, salt {salt_len} octets"
            ),
            Self::Ecdsa(d) => write!(f, "ECDSA with {d}"),
            Self::Dsa(d) => write!(f, "DSA with {d}"),
            Self::Ed25519 => f.write_str("Ed25519"),
        }
    }
}

/// RSASSA-PSS parameters (RFC 4055 §3.1): an absent field takes its DEFAULT, as RFC 4055
/// requires of a verifier; the parameters themselves must be present (§3.1: "MUST" for
/// signatures), and the only mask generation function is MGF1 (§2.2).
fn pss_scheme(params: Option<&Any>) -> Result<SignatureScheme, KeyError> {
    let params: RsaPssParams<'_> = params.ok_or(KeyError::Malformed)?.decode_as()?;
    let hash = match &params.hash_algorithm {
        Some(h) => hash_of(h)?,
        None => DigestAlgorithm::Sha1,
    };
    let mgf_hash = match &params.mask_gen_algorithm {
        None => DigestAlgorithm::Sha1,
        Some(mgf) if mgf.oid == oid::ID_MGF_1 => {
            let h: AlgorithmIdentifierRef<'_> =
                mgf.parameters.ok_or(KeyError::Malformed)?.decode_as()?;
            hash_of(&h)?
        }
        Some(mgf) => {
            return Err(KeyError::Unsupported(format!(
                "RSASSA-PSS mask generation function {}",
                oid::describe(&mgf.oid)
            )));
        }
    };
    // RFC 4055 §3.1: trailerField 1 (0xBC) is the only one defined.
    if params.trailer_field.is_some_and(|t| t != 1) {
        return Err(KeyError::Unsupported(
            "RSASSA-PSS trailer field other than 1".into(),
        ));
    }
    Ok(SignatureScheme::RsaPss {
        hash,
        mgf_hash,
        salt_len: params.salt_length.unwrap_or(20),
    })
}

/// Checks a signature AlgorithmIdentifier's parameters: absent for ECDSA (RFC 5758 §3.2) and
/// Ed25519 (RFC 8410 §3); NULL for PKCS#1 v1.5 (RFC 4055 §5), absent tolerated as RFC 4055 allows.
fn check_params(algorithm: &AlgorithmIdentifierOwned, null_allowed: bool) -> Result<(), KeyError> {
    match &algorithm.parameters {
        None => Ok(()),
        Some(p) if null_allowed && p.is_null() => Ok(()),
        Some(_) => Err(KeyError::Malformed),
    }
}

/// Verifies `signature` over `message` by the key in `spki` under `algorithm`: every legal
/// combination of RSA (PKCS#1 v1.5, PSS with the parameters as encoded; 1024 to 8192 bits),
/// ECDSA P-256/P-384/P-521 and DSA with SHA-1 or SHA-2, and Ed25519. Whether the algorithm is
/// still acceptable is not asked here: the verifier's algorithm catalogue judges that.
pub fn verify(
    spki: &SubjectPublicKeyInfoOwned,
    algorithm: &AlgorithmIdentifierOwned,
    message: &[u8],
    signature: &[u8],
) -> Result<(), KeyError> {
    let key = key_params(spki)?;
    let scheme = SignatureScheme::from_identifier(algorithm)?;
    verify_scheme(spki, key, scheme, message, signature)
}

fn verify_scheme(
    spki: &SubjectPublicKeyInfoOwned,
    key: KeyParams,
    scheme: SignatureScheme,
    message: &[u8],
    signature: &[u8],
) -> Result<(), KeyError> {
    use DigestAlgorithm as D;
    use KeyAlgorithm as K;
    use SignatureScheme as S;
    let public_key = spki
        .subject_public_key
        .as_bytes()
        .ok_or(KeyError::Malformed)?;
    // ring where it can (the algorithms hpki itself signs with: fastest), RustCrypto otherwise.
    let ring_alg: &'static dyn rsig::VerificationAlgorithm = match (key.algorithm, scheme) {
        (K::Rsa, _) if !(RSA_MIN_VERIFY_BITS..=RSA_MAX_BITS).contains(&key.bits) => {
            return Err(KeyError::Unsupported(format!(
                "RSA keys of {} bits (1024 to 8192 are verified)",
                key.bits
            )));
        }
        (K::Rsa, S::RsaPkcs1(d)) if key.bits >= RSA_MIN_BITS => match d {
            D::Sha256 => &rsig::RSA_PKCS1_2048_8192_SHA256,
            D::Sha384 => &rsig::RSA_PKCS1_2048_8192_SHA384,
            D::Sha512 => &rsig::RSA_PKCS1_2048_8192_SHA512,
            D::Sha1 | D::Sha224 => return verify_rsa(public_key, scheme, message, signature),
        },
        (
            K::Rsa,
            S::RsaPss {
                hash,
                mgf_hash,
                salt_len,
            },
        ) if key.bits >= RSA_MIN_BITS
            && hash == mgf_hash
            && usize::try_from(salt_len).is_ok_and(|s| s == hash.len()) =>
        {
            match hash {
                D::Sha256 => &rsig::RSA_PSS_2048_8192_SHA256,
                D::Sha384 => &rsig::RSA_PSS_2048_8192_SHA384,
                D::Sha512 => &rsig::RSA_PSS_2048_8192_SHA512,
                D::Sha1 | D::Sha224 => return verify_rsa(public_key, scheme, message, signature),
            }
        }
        (K::Rsa, S::RsaPkcs1(_) | S::RsaPss { .. }) => {
            return verify_rsa(public_key, scheme, message, signature);
        }
        (K::P256, S::Ecdsa(D::Sha256)) => &rsig::ECDSA_P256_SHA256_ASN1,
        (K::P256, S::Ecdsa(D::Sha384)) => &rsig::ECDSA_P256_SHA384_ASN1,
        (K::P384, S::Ecdsa(D::Sha256)) => &rsig::ECDSA_P384_SHA256_ASN1,
        (K::P384, S::Ecdsa(D::Sha384)) => &rsig::ECDSA_P384_SHA384_ASN1,
        (K::P256 | K::P384 | K::P521, S::Ecdsa(d)) => {
            return verify_ecdsa(key.algorithm, public_key, &d.digest(message), signature);
        }
        (K::Ed25519, S::Ed25519) => &rsig::ED25519,
        (K::Dsa, S::Dsa(d)) => return verify_dsa(spki, &d.digest(message), signature),
        (k, s) => {
            return Err(KeyError::Unsupported(format!(
                "signature algorithm {s} with a {} key",
                algorithm_name(k)
            )));
        }
    };
    rsig::UnparsedPublicKey::new(ring_alg, public_key)
        .verify(message, signature)
        .map_err(|_| KeyError::BadSignature)
}

/// Smallest RSA modulus verified (RustCrypto `rsa`'s floor); the catalogue judges its age.
const RSA_MIN_VERIFY_BITS: u32 = 1024;

/// RSA through RustCrypto `rsa` for what ring does not verify: moduli below 2048 bits, SHA-1 and
/// SHA-224, PSS with another salt length (OpenSSL's default is the maximum). `rsa` masks with
/// MGF1 over the message hash, so a PSS signature with a different MGF1 hash is unsupported.
fn verify_rsa(
    public_key: &[u8],
    scheme: SignatureScheme,
    message: &[u8],
    signature: &[u8],
) -> Result<(), KeyError> {
    use DigestAlgorithm as D;
    use rsa::pkcs1::DecodeRsaPublicKey as _;
    use rsa::{Pkcs1v15Sign, pss::Pss};
    let key = rsa::PublicKey::from_pkcs1_der(public_key).map_err(|_| KeyError::Malformed)?;
    let bad = |_| KeyError::BadSignature;
    match scheme {
        SignatureScheme::RsaPkcs1(d) => {
            let padding = match d {
                D::Sha1 => Pkcs1v15Sign::new::<sha1::Sha1>(),
                D::Sha224 => Pkcs1v15Sign::new::<sha2::Sha224>(),
                D::Sha256 => Pkcs1v15Sign::new::<sha2::Sha256>(),
                D::Sha384 => Pkcs1v15Sign::new::<sha2::Sha384>(),
                D::Sha512 => Pkcs1v15Sign::new::<sha2::Sha512>(),
            };
            key.verify(padding, &d.digest(message), signature)
                .map_err(bad)
        }
        SignatureScheme::RsaPss {
            hash,
            mgf_hash,
            salt_len,
        } => {
            if hash != mgf_hash {
                return Err(KeyError::Unsupported(format!(
                    "RSASSA-PSS with {hash} and MGF1 {mgf_hash}"
                )));
            }
            let salt = usize::try_from(salt_len).map_err(|_| KeyError::Malformed)?;
            let hashed = hash.digest(message);
            match hash {
                D::Sha1 => key.verify(Pss::<sha1::Sha1>::new_with_salt(salt), &hashed, signature),
                D::Sha224 => {
                    key.verify(Pss::<sha2::Sha224>::new_with_salt(salt), &hashed, signature)
                }
                D::Sha256 => {
                    key.verify(Pss::<sha2::Sha256>::new_with_salt(salt), &hashed, signature)
                }
                D::Sha384 => {
                    key.verify(Pss::<sha2::Sha384>::new_with_salt(salt), &hashed, signature)
                }
                D::Sha512 => {
                    key.verify(Pss::<sha2::Sha512>::new_with_salt(salt), &hashed, signature)
                }
            }
            .map_err(bad)
        }
        _ => Err(KeyError::Unsupported(format!("{scheme} with an RSA key"))),
    }
}

/// ECDSA over a precomputed hash (RustCrypto; RFC 5758 §3.2 allows any SHA-2 with any curve, and
/// ECDSA truncates or pads the hash to the curve order), DER signature (RFC 5480 §2.2 point).
fn verify_ecdsa(
    curve: KeyAlgorithm,
    point: &[u8],
    prehash: &[u8],
    signature: &[u8],
) -> Result<(), KeyError> {
    use signature::hazmat::PrehashVerifier as _;
    macro_rules! check {
        ($curve:ident) => {{
            let key = $curve::ecdsa::VerifyingKey::from_sec1_bytes(point)
                .map_err(|_| KeyError::Malformed)?;
            let signature = $curve::ecdsa::Signature::from_der(signature)
                .map_err(|_| KeyError::BadSignature)?;
            key.verify_prehash(prehash, &signature)
                .map_err(|_| KeyError::BadSignature)
        }};
    }
    match curve {
        KeyAlgorithm::P256 => check!(p256),
        KeyAlgorithm::P384 => check!(p384),
        KeyAlgorithm::P521 => check!(p521),
        other => Err(KeyError::Unsupported(format!(
            "ECDSA with a {} key",
            algorithm_name(other)
        ))),
    }
}

/// DSA over a precomputed hash (RustCrypto `dsa`, verification only: DESIGN.md §3). The domain
/// parameters must be in the key: a certificate that inherits them (RFC 5280 §6.1.4(f)) is
/// completed by the verifier first.
fn verify_dsa(
    spki: &SubjectPublicKeyInfoOwned,
    prehash: &[u8],
    signature: &[u8],
) -> Result<(), KeyError> {
    use signature::hazmat::PrehashVerifier as _;
    let params: DssParms<'_> = spki
        .algorithm
        .parameters
        .as_ref()
        .ok_or_else(|| {
            KeyError::Unsupported("DSA key without its (inherited) domain parameters".into())
        })?
        .decode_as()?;
    let uint = |n: UintRef<'_>| dsa::BoxedUint::from_be_slice_vartime(n.as_bytes());
    let components =
        dsa::Components::from_components(uint(params.p), uint(params.q), uint(params.g)).map_err(
            |_| {
                KeyError::Unsupported(format!(
                    "DSA domain parameters of {}/{} bits",
                    uint_bits(params.p),
                    uint_bits(params.q)
                ))
            },
        )?;
    let y = UintRef::from_der(
        spki.subject_public_key
            .as_bytes()
            .ok_or(KeyError::Malformed)?,
    )?;
    let key =
        dsa::VerifyingKey::from_components(components, uint(y)).map_err(|_| KeyError::Malformed)?;
    let signature = dsa::Signature::from_der(signature).map_err(|_| KeyError::BadSignature)?;
    key.verify_prehash(prehash, &signature)
        .map_err(|_| KeyError::BadSignature)
}

/// "RSA", "P-256", … for messages.
pub(crate) fn algorithm_name(a: KeyAlgorithm) -> &'static str {
    match a {
        KeyAlgorithm::P256 => "P-256",
        KeyAlgorithm::P384 => "P-384",
        KeyAlgorithm::P521 => "P-521",
        KeyAlgorithm::Ed25519 => "Ed25519",
        KeyAlgorithm::Rsa => "RSA",
        KeyAlgorithm::Dsa => "DSA",
    }
}

// ---- Adapters so x509-cert's CertificateBuilder / RequestBuilder sign with ring keys ----

/// A public key as the RustCrypto builder traits want it (`signature::Keypair::VerifyingKey`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PublicKey(pub SubjectPublicKeyInfoOwned);

impl spki::EncodePublicKey for PublicKey {
    fn to_public_key_der(&self) -> spki::Result<der::Document> {
        Ok(der::Document::encode_msg(&self.0)?)
    }
}

/// A finished signature in its X.509 encoding (DER for ECDSA), for `build::<_, RawSignature>`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RawSignature(pub Vec<u8>);

impl spki::SignatureBitStringEncoding for RawSignature {
    fn to_bitstring(&self) -> der::Result<BitString> {
        BitString::from_bytes(&self.0)
    }
}

impl signature::Keypair for SigningKey {
    type VerifyingKey = PublicKey;
    fn verifying_key(&self) -> PublicKey {
        PublicKey(self.spki.clone())
    }
}

impl spki::DynSignatureAlgorithmIdentifier for SigningKey {
    fn signature_algorithm_identifier(&self) -> spki::Result<AlgorithmIdentifierOwned> {
        Ok(self.signature_algorithm.clone())
    }
}

impl signature::Signer<RawSignature> for SigningKey {
    fn try_sign(&self, msg: &[u8]) -> Result<RawSignature, signature::Error> {
        SigningKey::sign(self, msg)
            .map(RawSignature)
            .map_err(|_| signature::Error::new())
    }
}

impl DigestAlgorithm {
    /// The digest a key signs with: SHA-256 for P-256 and RSA, SHA-384 for P-384, SHA-512 for
    /// Ed25519 (RFC 8419 §3) and P-521.
    pub fn for_key(key: &SigningKey) -> Self {
        Self::for_algorithm(key.algorithm())
    }
    /// The same, by key algorithm: a request can be checked before any key is unsealed.
    pub fn for_algorithm(algorithm: KeyAlgorithm) -> Self {
        match algorithm {
            // DSA never signs (verification only); SHA-256 is its RFC 5758 pairing.
            KeyAlgorithm::P256 | KeyAlgorithm::Rsa | KeyAlgorithm::Dsa => Self::Sha256,
            KeyAlgorithm::P384 => Self::Sha384,
            KeyAlgorithm::Ed25519 | KeyAlgorithm::P521 => Self::Sha512,
        }
    }
}
