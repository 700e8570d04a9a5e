//! Shared by the benches (see README.md): a real CA hierarchy in a durable sled store, signer
//! certificates issued from CSRs, a signing credential, the OpenSSL peer over the same key and
//! certificate, and a small fixed-time timer for the one-process summary.
#![forbid(unsafe_code)]

mod ocsp;
pub mod softhsm;
mod tsp;
pub use ocsp::OcspFixture;
pub use tsp::TspFixture;

use ca_core::authority::{Authority, AuthorityConfig, InitRequest, SerialSource};
use ca_core::credential::{Credential, NewCredential, SignDocument, Signed};
use ca_core::hcrole::HcRole;
use ca_core::issue::Registration;
use ca_core::key::{KeyAlgorithm, Pkcs11Token, RawSignature, SigningKey};
use ca_core::profile::{CaUrls, ProfileSet};
use ca_core::purpose::SigningPolicy;
use ca_core::seal::Sealer;
use ca_core::sign::{DocumentHasher, PreparedSigner, SignatureParams};
use ca_core::store::{
    CERTIFICATES_TREE, CertificateRecord, REVOKED_TREE, Revocation, RevocationReason, SledStore,
};
use const_oid::ObjectIdentifier;
use der::Encode;
use openssl::cms::{CMSOptions, CmsContentInfo};
use openssl::pkey::{PKey, Private};
use openssl::ssl::SslFiletype;
use openssl::stack::Stack;
use openssl::x509::store::{X509Lookup, X509Store, X509StoreBuilder};
use openssl::x509::verify::{X509VerifyFlags, X509VerifyParam};
use openssl::x509::{X509, X509PurposeId};
use ring::rand::SystemRandom;
use ring::signature::{ECDSA_P256_SHA256_ASN1_SIGNING, ECDSA_P384_SHA384_ASN1_SIGNING};
use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};
use x509_cert::builder::{Builder, RequestBuilder};

/// 2026-01-01T00:00:00Z: the CA is made then; signatures and issuance happen an hour later.
pub const NOW: u64 = 1_767_225_600;
pub const AT: u64 = NOW + 3_600;
const JP: &str = "1.2.392.100495.1.6.1.1";
const SEAL_KEY: [u8; 32] = [7; 32];
pub const KB: usize = 1024;
pub const MB: usize = 1024 * 1024;

/// Deterministic filler document of `len` octets.
pub fn document(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 31 + 7) as u8).collect()
}

pub fn sha256(data: &[u8]) -> Vec<u8> {
    ring::digest::digest(&ring::digest::SHA256, data)
        .as_ref()
        .to_vec()
}

/// A fresh installation: root CA + signature CA (P-256 keys), durable sled store in `dir`.
pub fn init_authority(dir: &Path) -> Authority<SledStore> {
    let store = SledStore::open(&dir.join("store")).expect("open store");
    Authority::init(
        store,
        ProfileSet::embedded().expect("profiles"),
        Sealer::from_key(&SEAL_KEY),
        InitRequest {
            key_algorithm: KeyAlgorithm::P256,
            imported_keys: BTreeMap::new(),
            allow_software_ca_keys: false,
            organization: "hpki Bench".into(),
            country: "JP".into(),
            config: AuthorityConfig {
                policy_arc: "2.25.2026112805".into(),
                urls: CaUrls::published_at("http://hpki.invalid"),
                crl_validity_days: 7,
                tsa_policy: None,
            },
            settings: vec![],
            now: NOW,
            actor: "bench".into(),
            serials: SerialSource::Random,
        },
    )
    .expect("init")
}

/// Reopens the installation in `dir`, retrying while sled releases its lock (spacejam/sled#1234).
pub fn open_authority(dir: &Path) -> Authority<SledStore> {
    let store = retry(|| SledStore::open(&dir.join("store")).ok());
    Authority::open(
        store,
        ProfileSet::embedded().expect("profiles"),
        Sealer::from_key(&SEAL_KEY),
        NOW,
    )
    .expect("open authority")
}

fn retry<T>(mut f: impl FnMut() -> Option<T>) -> T {
    for _ in 0..200 {
        if let Some(v) = f() {
            return v;
        }
        std::thread::sleep(Duration::from_millis(25));
    }
    panic!("sled lock not released after 5 s")
}

/// An rhp-sign registration (JP "Medical Doctor"); `n` makes the subject unique.
pub fn registration(n: usize) -> Registration {
    Registration {
        profile: "rhp-sign".into(),
        subject: ca_core::name::parse_subject(&format!(
            "C=JP,O=hpki Bench Hospital,CN=Hanako Sato,serialNumber=B-{n:06}"
        ))
        .expect("subject"),
        sans: vec![],
        hc_roles: vec![HcRole {
            scheme: ObjectIdentifier::new(JP).expect("oid"),
            code: None,
            text: Some("Medical Doctor".into()),
        }],
        validity_days: Some(365),
    }
}

/// A PKCS#10 request (DER) signed by `key`.
pub fn csr(key: &SigningKey) -> Vec<u8> {
    RequestBuilder::new(ca_core::name::parse_subject("CN=ignored").expect("subject"))
        .expect("builder")
        .build::<_, RawSignature>(key)
        .expect("csr")
        .to_der()
        .expect("der")
}

/// A signer: key, certificate issued by the signature CA, chain (issuing CA first, root last).
pub struct Signer {
    pub key: SigningKey,
    pub certificate: Vec<u8>,
    pub chain: Vec<Vec<u8>>,
}

/// The `author` purpose (ASTM E1762) of the embedded signing policy.
static AUTHOR: std::sync::LazyLock<const_oid::ObjectIdentifier> = std::sync::LazyLock::new(|| {
    SigningPolicy::embedded()
        .expect("policy")
        .purpose("author")
        .expect("author")
        .oid
});

impl Signer {
    pub fn prepared(&self) -> PreparedSigner {
        PreparedSigner::new(&self.key, &self.certificate, &self.chain).expect("prepared signer")
    }

    /// The whole in-process signature of `doc`: stream-hash it, then CMS-sign (detached unless
    /// `attached`), as the service does for a raw document.
    pub fn cms_sign(&self, prepared: &PreparedSigner, doc: &[u8], attached: bool) -> Vec<u8> {
        let mut hasher = DocumentHasher::new(prepared.digest_algorithm());
        hasher.update(doc);
        let digest = hasher.finish();
        self.cms_sign_digest(prepared, &digest, attached.then_some(doc))
    }

    /// CMS-sign a digest the caller computed (digest-only mode when `attached` is `None`).
    pub fn cms_sign_digest(
        &self,
        prepared: &PreparedSigner,
        digest: &[u8],
        attached: Option<&[u8]>,
    ) -> Vec<u8> {
        prepared
            .sign(
                &self.key,
                &SignatureParams {
                    digest,
                    signing_time: AT,
                    // What an ISO 17090 verification expects of a Medical Doctor's signature.
                    commitment_type: Some(*AUTHOR),
                    claimed_role: None,
                    attached,
                },
            )
            .expect("cms sign")
    }
}

/// Issues an rhp-sign certificate for a fresh `algorithm` key from a CSR.
pub fn issue_signer(authority: &Authority<SledStore>, algorithm: KeyAlgorithm, n: usize) -> Signer {
    let key = SigningKey::generate(algorithm).expect("key");
    let issued = authority
        .issue(&registration(n), &csr(&key), AT, "bench")
        .expect("issue");
    Signer {
        key,
        certificate: issued.certificate,
        chain: issued.chain,
    }
}

/// Issues an rhp-sign certificate for a P-256 key generated in `token` (labelled after `n`).
pub fn issue_token_signer(
    authority: &Authority<SledStore>,
    token: &Pkcs11Token,
    n: usize,
) -> Signer {
    let key = token
        .generate(KeyAlgorithm::P256, &format!("bench signer {n}"))
        .expect("key in the token");
    let issued = authority
        .issue(&registration(n), &csr(&key), AT, "bench")
        .expect("issue");
    Signer {
        key,
        certificate: issued.certificate,
        chain: issued.chain,
    }
}

/// The same key through ring directly: the limit.
pub enum RawKey {
    Ecdsa(ring::signature::EcdsaKeyPair),
    Ed25519(ring::signature::Ed25519KeyPair),
}

impl RawKey {
    pub fn new(key: &SigningKey) -> Self {
        let pkcs8 = key.to_pkcs8().expect("software key");
        let rng = SystemRandom::new();
        match key.algorithm() {
            KeyAlgorithm::P256 => Self::Ecdsa(
                ring::signature::EcdsaKeyPair::from_pkcs8(
                    &ECDSA_P256_SHA256_ASN1_SIGNING,
                    &pkcs8,
                    &rng,
                )
                .expect("p256"),
            ),
            KeyAlgorithm::P384 => Self::Ecdsa(
                ring::signature::EcdsaKeyPair::from_pkcs8(
                    &ECDSA_P384_SHA384_ASN1_SIGNING,
                    &pkcs8,
                    &rng,
                )
                .expect("p384"),
            ),
            KeyAlgorithm::Ed25519 => Self::Ed25519(
                ring::signature::Ed25519KeyPair::from_pkcs8_maybe_unchecked(&pkcs8)
                    .expect("ed25519"),
            ),
            KeyAlgorithm::Rsa | KeyAlgorithm::P521 | KeyAlgorithm::Dsa => {
                unimplemented!("RSA and P-521 are not benchmarked")
            }
        }
    }

    /// One signature over `message` (which ring hashes itself).
    pub fn sign(&self, rng: &SystemRandom, message: &[u8]) -> usize {
        match self {
            Self::Ecdsa(pair) => pair.sign(rng, message).expect("sign").as_ref().len(),
            Self::Ed25519(pair) => pair.sign(message).as_ref().len(),
        }
    }
}

/// The peer: OpenSSL's CMS_sign with the same key and certificate chain.
pub struct OpensslSigner {
    certificate: X509,
    key: PKey<Private>,
    chain: Stack<X509>,
}

/// `CMS_CADES` of OpenSSL 3's cms.h (adds ESS signingCertificateV2, as `openssl cms -cades`); the
/// openssl crate has no name for it.
const CMS_CADES: u32 = 0x100000;

impl OpensslSigner {
    pub fn new(signer: &Signer) -> Self {
        let mut chain = Stack::new().expect("stack");
        for der in &signer.chain {
            chain
                .push(X509::from_der(der).expect("chain"))
                .expect("push");
        }
        Self {
            certificate: X509::from_der(&signer.certificate).expect("certificate"),
            key: PKey::private_key_from_der(&signer.key.to_pkcs8().expect("software key"))
                .expect("key"),
            chain,
        }
    }

    /// `openssl cms -sign -binary -cades -nosmimecap [-nodetach]` of `doc`, DER.
    pub fn sign(&self, doc: &[u8], attached: bool) -> Vec<u8> {
        let mut flags =
            CMSOptions::BINARY | CMSOptions::NOSMIMECAP | CMSOptions::from_bits_retain(CMS_CADES);
        if !attached {
            flags |= CMSOptions::DETACHED;
        }
        CmsContentInfo::sign(
            Some(&self.certificate),
            Some(&self.key),
            Some(&self.chain),
            Some(doc),
            flags,
        )
        .expect("openssl cms sign")
        .to_der()
        .expect("der")
    }
}

/// Documents in a verify batch (distinct contents and signatures, one signer).
pub const VERIFY_DOCUMENTS: usize = 16;

/// What the `verify` bench and the summary verify: 4 KB documents signed (detached, CAdES) by a
/// P-256 signer of the product's chain (root → signature CA → signer), a CRL of each CA, and the
/// same inputs for OpenSSL and for raw ring. Methods take a document index (modulo the count).
pub struct VerifyFixture {
    /// Documents and hpki's detached CMS of each (signer and chain certificates included).
    pub documents: Vec<(Vec<u8>, Vec<u8>)>,
    /// One verifier for the whole batch: caches the signer's validated path.
    pub verifier: ca_core::verify::Verifier,
    /// Trust anchor = root, the two CRLs, validation time one minute after signing.
    pub policy: ca_core::verify::Policy,
    /// Raw ECDSA P-256 signature (ASN.1) of `document` and the signer's public key: the limit.
    pub raw_signature: Vec<u8>,
    pub raw_public_key: Vec<u8>,
    /// OpenSSL's trust store: the root, both CRLs, `CRL_CHECK | CRL_CHECK_ALL`, the same time.
    pub openssl_store: X509Store,
    _crl_dir: tempfile::TempDir,
}

impl VerifyFixture {
    pub fn new(authority: &Authority<SledStore>, len: usize) -> Self {
        let signer = issue_signer(authority, KeyAlgorithm::P256, 500);
        let prepared = signer.prepared();
        let documents: Vec<(Vec<u8>, Vec<u8>)> = (0..VERIFY_DOCUMENTS)
            .map(|i| {
                let mut doc = document(len);
                doc[..8].copy_from_slice(&(i as u64).to_be_bytes());
                let cms = signer.cms_sign(&prepared, &doc, false);
                (doc, cms)
            })
            .collect();
        let document = &documents[0].0;
        let root = authority.ca_certificate("root").expect("root").to_vec();
        let crls: Vec<Vec<u8>> = ["root", "sign"]
            .iter()
            .map(|ca| authority.crl(ca, AT, "bench").expect("crl"))
            .collect();
        let at = AT + 60;
        let mut policy = ca_core::verify::Policy::new(at);
        policy.trust_anchors = vec![root.clone()];
        policy.crls = crls.clone();

        let rng = SystemRandom::new();
        let RawKey::Ecdsa(pair) = RawKey::new(&signer.key) else {
            unreachable!("P-256 key")
        };
        let raw_signature = pair.sign(&rng, document).expect("sign").as_ref().to_vec();
        let raw_public_key = ring::signature::KeyPair::public_key(&pair)
            .as_ref()
            .to_vec();

        // The openssl crate loads CRLs only through a lookup file.
        let crl_dir = tempfile::tempdir().expect("tmp");
        let mut store = X509StoreBuilder::new().expect("store");
        store
            .add_cert(X509::from_der(&root).expect("root"))
            .expect("anchor");
        let lookup = store.add_lookup(X509Lookup::file()).expect("lookup");
        for (i, crl) in crls.iter().enumerate() {
            let path = crl_dir.path().join(format!("{i}.crl"));
            std::fs::write(&path, crl).expect("write crl");
            lookup
                .load_crl_file(&path, SslFiletype::ASN1)
                .expect("load crl");
        }
        let mut param = X509VerifyParam::new().expect("param");
        param.set_time(at as _);
        param
            .set_flags(X509VerifyFlags::CRL_CHECK | X509VerifyFlags::CRL_CHECK_ALL)
            .expect("flags");
        store.set_param(&param).expect("param");
        // The rhp-sign profile's EKU is not S/MIME: judge the path, not the e-mail purpose.
        store.set_purpose(X509PurposeId::ANY).expect("purpose");
        Self {
            verifier: ca_core::verify::Verifier::new(policy.clone()),
            documents,
            policy,
            raw_signature,
            raw_public_key,
            openssl_store: store.build(),
            _crl_dir: crl_dir,
        }
    }

    fn document(&self, i: usize) -> (&[u8], &[u8]) {
        let (doc, cms) = &self.documents[i % self.documents.len()];
        (doc, cms)
    }

    /// hpki from scratch: parse, digest, signature, ESS, path with both CRLs.
    pub fn hpki_cold(&self, i: usize) -> bool {
        let (doc, cms) = self.document(i);
        ca_core::verify::verify_bytes(cms, Some(doc), &self.policy).is_valid()
    }

    /// hpki batch: the same through [`Self::verifier`], whose cache holds the signer's path.
    pub fn hpki_batch(&self, i: usize) -> bool {
        let (doc, cms) = self.document(i);
        self.verifier.verify_bytes(cms, Some(doc)).is_valid()
    }

    /// `CMS_verify` of the same CMS and content (`CMS_BINARY`), chain and CRLs from the store.
    pub fn openssl(&self, i: usize) -> bool {
        let (doc, cms) = self.document(i);
        let mut cms = CmsContentInfo::from_der(cms).expect("openssl cms");
        cms.verify(
            None,
            Some(&self.openssl_store),
            Some(doc),
            None,
            CMSOptions::BINARY,
        )
        .is_ok()
    }

    /// One ECDSA P-256 verification of the first document through ring (hash + verify).
    pub fn raw(&self) -> bool {
        ring::signature::UnparsedPublicKey::new(
            &ring::signature::ECDSA_P256_SHA256_ASN1,
            &self.raw_public_key,
        )
        .verify(&self.documents[0].0, &self.raw_signature)
        .is_ok()
    }
}

/// The service path without HTTP: `Authority::signer` and `Authority::sign` with a credential (checks, role
/// gate, CMS, durable audit record).
pub struct Service {
    pub policy: SigningPolicy,
    pub credential: Credential,
}

impl Service {
    pub fn new(authority: &Authority<SledStore>) -> Self {
        let credential = authority
            .create_credential(
                &NewCredential {
                    owner: None,
                    registration: registration(999_999),
                    key_algorithm: KeyAlgorithm::P256,
                },
                AT,
                "bench",
            )
            .expect("credential");
        Self {
            policy: SigningPolicy::embedded().expect("policy"),
            credential,
        }
    }

    pub fn sign(&self, authority: &Authority<SledStore>, digest: &[u8]) -> Signed {
        let signer = authority
            .signer(&self.credential.id, &self.credential.owner, "bench", AT)
            .expect("signer");
        authority
            .sign(
                &signer,
                &self.policy,
                &SignDocument {
                    digest,
                    digest_algorithm: self.credential.digest_algorithm(),
                    purpose: "author",
                    claimed_role: None,
                    attached: None,
                    level: ca_core::cades::Level::BB,
                },
                AT,
            )
            .wait()
            .expect("sign")
    }
}

/// Serial of the `i`-th certificate written by [`add_certificates`] (`revoked` selects the set).
pub fn bench_serial(i: usize, revoked: bool) -> Vec<u8> {
    let mut serial = vec![0u8; 16];
    serial[0] = if revoked { 0x40 } else { 0x41 };
    serial[8..].copy_from_slice(&(i as u64).to_be_bytes());
    serial
}

/// Adds `revoked` revoked and `spare` unrevoked certificates of CA `sign` to the closed store in
/// `dir`, written straight into sled (the layout `store.rs` documents) with one flush: issuing
/// them one by one would time the set-up, not the CRL.
pub fn add_certificates(dir: &Path, revoked: usize, spare: usize) {
    let db = retry(|| sled::open(dir.join("store")).ok());
    let certificates = db.open_tree(CERTIFICATES_TREE).expect("tree");
    let revoked_tree = db.open_tree(REVOKED_TREE).expect("tree");
    let all = (0..revoked)
        .map(|i| (i, true))
        .chain((0..spare).map(|i| (i, false)));
    for (i, is_revoked) in all {
        let serial = bench_serial(i, is_revoked);
        let revocation = is_revoked.then(|| Revocation {
            reason: RevocationReason::ALL[i % 7],
            revoked_at: AT,
            invalidity_date: (i % 3 == 0).then_some(NOW),
        });
        let record = CertificateRecord {
            serial: serial.clone(),
            issuer_ca: "sign".into(),
            profile: "rhp-sign".into(),
            subject: format!("C=JP,CN=Bench {i}"),
            not_after: AT + 365 * 86_400,
            der: Vec::new(), // never read by revoke or crl
            revocation: revocation.clone(),
        };
        if let Some(revocation) = revocation {
            let mut key = b"sign\0".to_vec();
            key.extend_from_slice(&serial);
            revoked_tree
                .insert(key, serde_json::to_vec(&revocation).expect("json"))
                .expect("insert");
        }
        certificates
            .insert(serial, serde_json::to_vec(&record).expect("json"))
            .expect("insert");
    }
    db.flush().expect("flush");
}

/// An installation in a fresh directory holding `revoked` revoked and `spare` revocable
/// certificates besides its CAs. The directory must outlive the authority.
pub fn authority_with(revoked: usize, spare: usize) -> (Authority<SledStore>, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("tmp");
    drop(init_authority(dir.path()));
    add_certificates(dir.path(), revoked, spare);
    (open_authority(dir.path()), dir)
}

/// Operations per second of `f`, timed for about `budget` after a short warm-up: the summary's
/// timer, so every figure in its table comes from one process and one run.
pub fn rate(budget: Duration, mut f: impl FnMut()) -> f64 {
    let warm = Instant::now();
    while warm.elapsed() < budget / 10 {
        f();
    }
    let start = Instant::now();
    let mut n = 0u64;
    while start.elapsed() < budget {
        f();
        n += 1;
    }
    n as f64 / start.elapsed().as_secs_f64()
}

/// Median of `runs` timings of `f` (for operations too slow for `rate`).
pub fn median(runs: usize, mut f: impl FnMut()) -> Duration {
    let mut times: Vec<Duration> = (0..runs)
        .map(|_| {
            let t = Instant::now();
            f();
            t.elapsed()
        })
        .collect();
    times.sort();
    times[times.len() / 2]
}

/// How many times faster `a` is than `b`, measured per pair of short back-to-back slices.
pub struct PairedRatio {
    /// Median and quartiles of the per-pair ratios (`b`'s time per operation over `a`'s).
    pub median: f64,
    pub q1: f64,
    pub q3: f64,
    /// Median time per operation of each side, seconds.
    pub a_secs: f64,
    pub b_secs: f64,
}

/// `a` against `b` in `pairs` pairs of `per_side` operations each, back to back, the order
/// alternating: on the shared 2-core box a neighbour's burst lasts longer than a pair, so it hits
/// both sides alike, where longer slices each meet a different mix of load. Both get a running
/// operation index (documents rotate). Keep a slice short, but well above the timer's
/// resolution (tens of µs at least).
pub fn paired(
    pairs: usize,
    per_side: usize,
    mut a: impl FnMut(usize),
    mut b: impl FnMut(usize),
) -> PairedRatio {
    let mut i = 0;
    let mut per_op = |f: &mut dyn FnMut(usize)| {
        let t = Instant::now();
        for _ in 0..per_side {
            f(i);
            i += 1;
        }
        t.elapsed().as_secs_f64() / per_side as f64
    };
    let (mut ratios, mut ta, mut tb) = (vec![], vec![], vec![]);
    for k in 0..pairs {
        let (x, y) = if k % 2 == 0 {
            let x = per_op(&mut a);
            (x, per_op(&mut b))
        } else {
            let y = per_op(&mut b);
            (per_op(&mut a), y)
        };
        ratios.push(y / x);
        ta.push(x);
        tb.push(y);
    }
    let quartiles = |mut v: Vec<f64>| {
        v.sort_by(f64::total_cmp);
        (v[v.len() / 4], v[v.len() / 2], v[3 * v.len() / 4])
    };
    let (q1, median, q3) = quartiles(ratios);
    PairedRatio {
        median,
        q1,
        q3,
        a_secs: quartiles(ta).1,
        b_secs: quartiles(tb).1,
    }
}
