//! Signing keys: ring backend (PKCS#11 may follow), plus adapters to the RustCrypto builder traits.

use crate::oid;
use der::asn1::{Any, BitString, OctetStringRef, UintRef};
use der::{Decode, Reader, SliceReader};
use ring::rand::SystemRandom;
use ring::signature::{self as rsig, KeyPair as _};
use spki::{
    AlgorithmIdentifierOwned, AlgorithmIdentifierRef, ObjectIdentifier, SubjectPublicKeyInfoOwned,
};
use std::fmt;
use zeroize::Zeroizing;

/// Key algorithms hpki generates or imports, and P-521, which it only verifies.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum KeyAlgorithm {
    P256,
    P384,
    Ed25519,
    /// Imported only: ring cannot generate RSA keys.
    Rsa,
    /// Verification only (RustCrypto `p521`: ring has no P-521); never generated or imported, so
    /// no request may name it.
    #[serde(skip_deserializing)]
    P521,
}

/// Algorithm and size of a public key, as profiles constrain them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KeyParams {
    pub algorithm: KeyAlgorithm,
    /// Modulus bits for RSA, curve bits for EC, 256 for Ed25519.
    pub bits: u32,
}

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("unsupported key algorithm: {0}")]
    Unsupported(String),
    #[error("malformed key")]
    Malformed,
    #[error("signature does not verify")]
    BadSignature,
    #[error("key generation failed")]
    Generation,
    #[error("signing failed")]
    Signing,
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

enum Backend {
    Ecdsa(rsig::EcdsaKeyPair),
    Ed25519(rsig::Ed25519KeyPair),
    Rsa(rsig::RsaKeyPair),
}

/// Size of generated RSA keys: 3072 bits, acceptable beyond 2030 (NIST SP 800-57 Pt 1).
pub const RSA_GENERATED_BITS: usize = 3072;

/// A private signing key. Its `Debug` output never shows key material.
pub struct SigningKey {
    backend: Backend,
    params: KeyParams,
    pkcs8: Zeroizing<Vec<u8>>,
    spki: SubjectPublicKeyInfoOwned,
    signature_algorithm: AlgorithmIdentifierOwned,
    rng: SystemRandom,
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SigningKey").finish_non_exhaustive()
    }
}

impl SigningKey {
    /// Generates a key; RSA keys get [`RSA_GENERATED_BITS`] bits.
    /// RSA keys come from the `rsa` crate (ring cannot generate them), then are used through ring.
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
            KeyAlgorithm::P521 => {
                return Err(KeyError::Unsupported("P-521 keys are verified only".into()));
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
        let params = key_params(&spki)?;
        let signature_algorithm = match params.algorithm {
            // RFC 5758 §3.2: ECDSA signature AlgorithmIdentifiers omit parameters.
            KeyAlgorithm::P256 => alg_id(oid::ECDSA_WITH_SHA_256, None),
            KeyAlgorithm::P384 => alg_id(oid::ECDSA_WITH_SHA_384, None),
            // RFC 8410 §3: parameters absent.
            KeyAlgorithm::Ed25519 => alg_id(oid::ID_ED_25519, None),
            // RFC 4055 §5: parameters NULL.
            KeyAlgorithm::Rsa => alg_id(oid::SHA_256_WITH_RSA_ENCRYPTION, Some(Any::null())),
            // from_pkcs8 refused the curve above.
            KeyAlgorithm::P521 => return Err(KeyError::Unsupported("elliptic curve P-521".into())),
        };
        Ok(Self {
            backend,
            params,
            pkcs8,
            spki,
            signature_algorithm,
            rng,
        })
    }

    /// The PKCS#8 DER, for sealing at rest only.
    pub fn to_pkcs8(&self) -> zeroize::Zeroizing<Vec<u8>> {
        self.pkcs8.clone()
    }
    pub fn algorithm(&self) -> KeyAlgorithm {
        self.params.algorithm
    }
    pub fn params(&self) -> KeyParams {
        self.params
    }
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
                pair.sign(&rsig::RSA_PKCS1_SHA256, &self.rng, message, &mut sig)
                    .map_err(|_| KeyError::Signing)?;
                Ok(sig)
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

/// RSASSA-PSS-params, RFC 4055 §3.1 (explicitly tagged). The DEFAULTs are SHA-1, which hpki
/// refuses, so an absent field ends in `Unsupported`.
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

/// Hash AlgorithmIdentifiers appear with NULL or absent parameters; RFC 4055 §2.1 says accept both.
fn hash_oid(alg: &AlgorithmIdentifierRef<'_>) -> Result<ObjectIdentifier, KeyError> {
    match alg.parameters {
        None => Ok(alg.oid),
        Some(p) if p.is_null() => Ok(alg.oid),
        Some(_) => Err(KeyError::Malformed),
    }
}

/// The ring PSS algorithm for `params`: SHA-256/384/512, MGF1 with the same hash, salt length
/// equal to the hash length, trailer 1 (the only combinations ring verifies).
fn pss_algorithm(params: Option<&Any>) -> Result<&'static rsig::RsaParameters, KeyError> {
    let params: RsaPssParams<'_> = params.ok_or(KeyError::Malformed)?.decode_as()?;
    let unsupported = || KeyError::Unsupported("RSASSA-PSS parameters".into());
    let hash = hash_oid(&params.hash_algorithm.ok_or_else(unsupported)?)?;
    let mgf = params.mask_gen_algorithm.ok_or_else(unsupported)?;
    if mgf.oid != oid::ID_MGF_1 {
        return Err(unsupported());
    }
    let mgf_hash: AlgorithmIdentifierRef<'_> =
        mgf.parameters.ok_or(KeyError::Malformed)?.decode_as()?;
    if hash_oid(&mgf_hash)? != hash || params.trailer_field.is_some_and(|t| t != 1) {
        return Err(unsupported());
    }
    let (alg, hash_len) = if hash == oid::ID_SHA_256 {
        (&rsig::RSA_PSS_2048_8192_SHA256, 32)
    } else if hash == oid::ID_SHA_384 {
        (&rsig::RSA_PSS_2048_8192_SHA384, 48)
    } else if hash == oid::ID_SHA_512 {
        (&rsig::RSA_PSS_2048_8192_SHA512, 64)
    } else {
        return Err(unsupported());
    };
    if params.salt_length != Some(hash_len) {
        return Err(unsupported());
    }
    Ok(alg)
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

/// Verifies `signature` over `message` by the key in `spki` under `algorithm`
/// (RSA PKCS#1 v1.5 and PSS with SHA-256/384/512, ECDSA P-256/P-384 with SHA-256/384, ECDSA P-521
/// with SHA-512, Ed25519).
pub fn verify(
    spki: &SubjectPublicKeyInfoOwned,
    algorithm: &AlgorithmIdentifierOwned,
    message: &[u8],
    signature: &[u8],
) -> Result<(), KeyError> {
    let key = key_params(spki)?;
    let sig_oid = algorithm.oid;
    let mismatch = || {
        KeyError::Unsupported(format!(
            "signature algorithm {sig_oid} with a {:?} key",
            key.algorithm
        ))
    };
    let ring_alg: &'static dyn rsig::VerificationAlgorithm = match key.algorithm {
        KeyAlgorithm::Rsa => {
            check_rsa_bits(key.bits)?;
            if sig_oid == oid::ID_RSASSA_PSS {
                pss_algorithm(algorithm.parameters.as_ref())?
            } else {
                let alg = if sig_oid == oid::SHA_256_WITH_RSA_ENCRYPTION {
                    &rsig::RSA_PKCS1_2048_8192_SHA256
                } else if sig_oid == oid::SHA_384_WITH_RSA_ENCRYPTION {
                    &rsig::RSA_PKCS1_2048_8192_SHA384
                } else if sig_oid == oid::SHA_512_WITH_RSA_ENCRYPTION {
                    &rsig::RSA_PKCS1_2048_8192_SHA512
                } else {
                    return Err(mismatch());
                };
                check_params(algorithm, true)?;
                alg
            }
        }
        KeyAlgorithm::P256 | KeyAlgorithm::P384 => {
            let p256 = key.algorithm == KeyAlgorithm::P256;
            let alg = if sig_oid == oid::ECDSA_WITH_SHA_256 {
                if p256 {
                    &rsig::ECDSA_P256_SHA256_ASN1
                } else {
                    &rsig::ECDSA_P384_SHA256_ASN1
                }
            } else if sig_oid == oid::ECDSA_WITH_SHA_384 {
                if p256 {
                    &rsig::ECDSA_P256_SHA384_ASN1
                } else {
                    &rsig::ECDSA_P384_SHA384_ASN1
                }
            } else {
                return Err(mismatch());
            };
            check_params(algorithm, false)?;
            alg
        }
        KeyAlgorithm::Ed25519 => {
            if sig_oid != oid::ID_ED_25519 {
                return Err(mismatch());
            }
            check_params(algorithm, false)?;
            &rsig::ED25519
        }
        KeyAlgorithm::P521 => {
            if sig_oid != oid::ECDSA_WITH_SHA_512 {
                return Err(mismatch());
            }
            check_params(algorithm, false)?;
            return verify_p521(spki, message, signature);
        }
    };
    let public_key = spki
        .subject_public_key
        .as_bytes()
        .ok_or(KeyError::Malformed)?;
    rsig::UnparsedPublicKey::new(ring_alg, public_key)
        .verify(message, signature)
        .map_err(|_| KeyError::BadSignature)
}

/// ECDSA P-521 with SHA-512 (RFC 5758 §3.2), DER signature (RFC 5480 §2.2 public key point).
fn verify_p521(
    spki: &SubjectPublicKeyInfoOwned,
    message: &[u8],
    signature: &[u8],
) -> Result<(), KeyError> {
    use p521::ecdsa::signature::Verifier as _;
    let point = spki
        .subject_public_key
        .as_bytes()
        .ok_or(KeyError::Malformed)?;
    let key = p521::ecdsa::VerifyingKey::from_sec1_bytes(point).map_err(|_| KeyError::Malformed)?;
    let signature =
        p521::ecdsa::Signature::from_der(signature).map_err(|_| KeyError::BadSignature)?;
    key.verify(message, &signature)
        .map_err(|_| KeyError::BadSignature)
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
