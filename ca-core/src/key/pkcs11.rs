//! Keys in a PKCS#11 token (an HSM) through `cryptoki`: one context per module per process, a
//! bounded pool of logged-in sessions per token, keys generated in the token and never leaving it.
//!
//! The service hashes; the token signs the digest (`CKM_ECDSA`, `CKM_RSA_PKCS` over the
//! DigestInfo, `CKM_RSA_PKCS_PSS`), because SoftHSM and many HSMs lack the combined ECDSA-SHA2
//! mechanisms (DESIGN.md §3). Ed25519 signs the whole message (`CKM_EDDSA`, RFC 8032 PureEdDSA).

use super::{KeyAlgorithm, KeyError, RsaPublicKey, SigningKey};
use crate::engine::digest::DigestAlgorithm;
use crate::engine::oid;
use cryptoki::context::{CInitializeArgs, CInitializeFlags, Pkcs11};
use cryptoki::error::{Error as CkError, RvError};
use cryptoki::mechanism::eddsa::{EddsaParams, EddsaSignatureScheme};
use cryptoki::mechanism::rsa::{PkcsMgfType, PkcsPssParams};
use cryptoki::mechanism::{Mechanism, MechanismType};
use cryptoki::object::{Attribute, AttributeType, KeyType, ObjectClass, ObjectHandle};
use cryptoki::session::{Session, UserType};
use cryptoki::slot::Slot;
use cryptoki::types::AuthPin;
use der::asn1::{Any, BitString, OctetStringRef, UintRef};
use der::{Decode, Encode};
use ring::rand::SecureRandom as _;
use spki::{AlgorithmIdentifierOwned, ObjectIdentifier, SubjectPublicKeyInfoOwned};
use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, OnceLock, PoisonError, RwLock};
use std::time::Duration;

/// Where a private key lives in a token: stored in place of the sealed PKCS#8 blob. It names the
/// key; nothing in it can recreate the key, which never leaves the token.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Pkcs11KeyRef {
    /// The PKCS#11 module (shared library) path.
    pub module: PathBuf,
    /// The token's label (CKA_LABEL of the token, as `C_GetTokenInfo` reports it).
    pub token: String,
    /// The key's CKA_LABEL (private and public object alike).
    pub label: String,
    /// The key's CKA_ID in lowercase hex: what the key is found by.
    pub id: String,
    /// The key's algorithm.
    pub algorithm: KeyAlgorithm,
}

/// A token user's PIN. It never reaches `Debug`, errors or logs, and is wiped when dropped.
pub struct Pkcs11Pin(AuthPin);

impl Pkcs11Pin {
    /// Wraps a PIN read by the caller (ca-core reads no environment or files).
    pub fn new(pin: impl Into<String>) -> Self {
        Self(AuthPin::from(pin.into()))
    }
}

impl fmt::Debug for Pkcs11Pin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Pkcs11Pin(..)")
    }
}

/// A loaded module. `C_Initialize` may run once per process, so each module path gets one
/// context for the life of the process (never finalized: other tokens may share it).
struct Module {
    path: PathBuf,
    ctx: Pkcs11,
    /// Every call holds it shared; [`Pkcs11Token::reinitialize_module`] holds it exclusively, as
    /// C_Finalize may not run while other threads are in the library (PKCS#11 3.0 §5.4).
    calls: RwLock<()>,
}

static MODULES: OnceLock<Mutex<HashMap<PathBuf, Arc<Module>>>> = OnceLock::new();

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // The guarded state stays consistent across a panic (a Vec of sessions, a handle cache).
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

fn module(path: &Path) -> Result<Arc<Module>, KeyError> {
    let mut modules = lock(MODULES.get_or_init(Default::default));
    if let Some(m) = modules.get(path) {
        return Ok(m.clone());
    }
    let ctx = Pkcs11::new(path).map_err(|e| {
        KeyError::Token(format!(
            "cannot load PKCS#11 module {}: {e}",
            path.display()
        ))
    })?;
    let m = Arc::new(Module {
        path: path.to_path_buf(),
        ctx,
        calls: RwLock::new(()),
    });
    m.initialize().map_err(|e| m.error(e))?;
    modules.insert(path.to_path_buf(), m.clone());
    Ok(m)
}

impl Module {
    /// `C_Initialize`, again after someone finalized the library; already initialized is fine.
    fn initialize(&self) -> Result<(), CkError> {
        match self
            .ctx
            .initialize(CInitializeArgs::new(CInitializeFlags::OS_LOCKING_OK))
        {
            Ok(()) | Err(CkError::Pkcs11(RvError::CryptokiAlreadyInitialized, _)) => Ok(()),
            Err(e) => Err(e),
        }
    }

    fn error(&self, e: CkError) -> KeyError {
        classify(e, &self.path)
    }
}

/// What a failed PKCS#11 call means to the caller. The return value's name (`DeviceRemoved`), not
/// anything the module might echo, goes into the message.
fn classify(e: CkError, module: &Path) -> KeyError {
    match e {
        CkError::Pkcs11(rv, function) => {
            let what = format!("{function}: {rv:?}");
            match rv {
                RvError::DeviceRemoved
                | RvError::DeviceError
                | RvError::DeviceMemory
                | RvError::SessionHandleInvalid
                | RvError::SessionClosed
                | RvError::SessionCount
                | RvError::TokenNotPresent
                | RvError::TokenNotRecognized
                | RvError::CryptokiNotInitialized
                | RvError::SlotIdInvalid
                | RvError::GeneralError
                | RvError::UserNotLoggedIn => KeyError::Unavailable(what),
                RvError::PinIncorrect
                | RvError::PinInvalid
                | RvError::PinLenRange
                | RvError::PinExpired
                | RvError::PinLocked => KeyError::PinRefused(what),
                RvError::MechanismInvalid | RvError::MechanismParamInvalid => {
                    KeyError::MechanismUnsupported(what)
                }
                _ => KeyError::Token(what),
            }
        }
        e => KeyError::Token(format!("PKCS#11 module {}: {e}", module.display())),
    }
}

/// A failure inside a pooled operation: the token's, or ours about what it returned.
enum OpError {
    Ck(CkError),
    Key(KeyError),
}

impl From<CkError> for OpError {
    fn from(e: CkError) -> Self {
        Self::Ck(e)
    }
}

impl From<KeyError> for OpError {
    fn from(e: KeyError) -> Self {
        Self::Key(e)
    }
}

impl From<der::Error> for OpError {
    fn from(_: der::Error) -> Self {
        Self::Key(KeyError::Malformed)
    }
}

/// How many sessions a [`Pkcs11Token`] keeps open at most, and how long a caller waits for one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Pkcs11SessionLimits {
    /// Sessions open at once, at least 1: size it to the threads that sign at once (the
    /// service's workers). Tokens cap sessions too (CKR_SESSION_COUNT), and each costs memory.
    pub max_sessions: usize,
    /// How long a caller waits for a free session before [`KeyError::Busy`].
    pub max_wait: Duration,
}

impl Pkcs11SessionLimits {
    /// What [`Pkcs11Token::open`] waits for a session: far longer than a signature takes, short
    /// enough that a request does not hang on a stuck token.
    pub const DEFAULT_WAIT: Duration = Duration::from_secs(5);
}

/// A token's session pool at one moment: for metrics, and for tests to check the bound.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Pkcs11PoolStats {
    /// Sessions open now (idle or lent); one being opened or closed counts, so this never
    /// understates what the token sees.
    pub open: usize,
    /// Sessions lent to a call now.
    pub in_use: usize,
    /// The most sessions ever open at once.
    pub peak_open: usize,
    /// Sessions opened (`C_OpenSession` and a login) since the token was opened.
    pub opened: u64,
    /// Callers that gave up waiting ([`KeyError::Busy`]).
    pub timed_out: u64,
}

/// A connection to one token: its module's context, the user PIN and a bounded pool of logged-in
/// sessions. Cheap to clone; keys opened from it share the pool. A token that goes away gives
/// [`KeyError::Unavailable`]; the next call initializes the module again if it must, finds the
/// token, opens sessions and logs in.
#[derive(Clone)]
pub struct Pkcs11Token {
    inner: Arc<TokenInner>,
}

impl fmt::Debug for Pkcs11Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Pkcs11Token")
            .field("module", &self.inner.module.path)
            .field("token", &self.inner.label)
            .finish_non_exhaustive()
    }
}

struct TokenInner {
    module: Arc<Module>,
    label: String,
    pin: Pkcs11Pin,
    limits: Pkcs11SessionLimits,
    pool: Mutex<Pool>,
    /// Signalled when a session goes back to the pool or is closed.
    freed: Condvar,
}

/// The sessions: idle ones, all logged in, and a count of those lent. Sessions stay open once
/// opened (up to the cap), so the login, which is per token per process and lasts while one
/// session of the process is open, survives any number of signatures.
struct Pool {
    idle: Vec<Session>,
    /// Idle, lent, being opened or being closed: never above `limits.max_sessions`.
    open: usize,
    in_use: usize,
    peak_open: usize,
    opened: u64,
    timed_out: u64,
    slot: Option<Slot>,
    /// Bumped when the sessions are lost: object handles found under an older epoch are stale.
    epoch: u64,
}

impl Pkcs11Token {
    /// Loads `module` (once per process), finds the token labelled `token` and logs in with
    /// `pin`. At most `max_sessions` (at least 1) sessions are open at once: size it to the
    /// threads that sign at once; a further caller waits for one up to
    /// [`Pkcs11SessionLimits::DEFAULT_WAIT`], then gets [`KeyError::Busy`].
    pub fn open(
        module_path: &Path,
        token: &str,
        pin: Pkcs11Pin,
        max_sessions: usize,
    ) -> Result<Self, KeyError> {
        let limits = Pkcs11SessionLimits {
            max_sessions,
            max_wait: Pkcs11SessionLimits::DEFAULT_WAIT,
        };
        Self::open_with_limits(module_path, token, pin, limits)
    }

    /// [`Self::open`] with the session cap and the wait for a session chosen by the caller.
    pub fn open_with_limits(
        module_path: &Path,
        token: &str,
        pin: Pkcs11Pin,
        limits: Pkcs11SessionLimits,
    ) -> Result<Self, KeyError> {
        let this = Self {
            inner: Arc::new(TokenInner {
                module: module(module_path)?,
                label: token.to_owned(),
                pin,
                limits: Pkcs11SessionLimits {
                    max_sessions: limits.max_sessions.max(1),
                    ..limits
                },
                pool: Mutex::new(Pool {
                    idle: Vec::new(),
                    open: 0,
                    in_use: 0,
                    peak_open: 0,
                    opened: 0,
                    timed_out: 0,
                    slot: None,
                    epoch: 0,
                }),
                freed: Condvar::new(),
            }),
        };
        // Open and log in now, so a wrong PIN or a missing token shows at start-up.
        this.run(|_, _| Ok(()))?;
        Ok(this)
    }

    /// The token's label.
    pub fn label(&self) -> &str {
        &self.inner.label
    }

    /// The session cap and wait this token was opened with.
    pub fn session_limits(&self) -> Pkcs11SessionLimits {
        self.inner.limits
    }

    /// The session pool now.
    pub fn pool_stats(&self) -> Pkcs11PoolStats {
        let pool = lock(&self.inner.pool);
        Pkcs11PoolStats {
            open: pool.open,
            in_use: pool.in_use,
            peak_open: pool.peak_open,
            opened: pool.opened,
            timed_out: pool.timed_out,
        }
    }

    /// Generates a key pair in the token (RSA keys get [`super::RSA_GENERATED_BITS`]): the
    /// private key with CKA_TOKEN, CKA_PRIVATE, CKA_SENSITIVE, not CKA_EXTRACTABLE, CKA_SIGN and
    /// no other use; labelled `label` (refused when a private key has that label) with a fresh random
    /// CKA_ID. Ed25519 needs CKM_EC_EDWARDS_KEY_PAIR_GEN and CKM_EDDSA
    /// ([`KeyError::MechanismUnsupported`] where the token lacks them).
    pub fn generate(&self, algorithm: KeyAlgorithm, label: &str) -> Result<SigningKey, KeyError> {
        let bits = match algorithm {
            KeyAlgorithm::Rsa => super::RSA_GENERATED_BITS as u32,
            _ => 0,
        };
        self.generate_key(algorithm, bits, label)
    }

    /// Generates an RSA key of `bits` (2048 to 8192) in the token, as [`Self::generate`].
    pub fn generate_rsa(&self, bits: u32, label: &str) -> Result<SigningKey, KeyError> {
        super::check_rsa_bits(bits)?;
        self.generate_key(KeyAlgorithm::Rsa, bits, label)
    }

    fn generate_key(
        &self,
        algorithm: KeyAlgorithm,
        bits: u32,
        label: &str,
    ) -> Result<SigningKey, KeyError> {
        let (mechanism, mut public, mut private) = match algorithm {
            KeyAlgorithm::P256 | KeyAlgorithm::P384 | KeyAlgorithm::Ed25519 => {
                let (curve, mechanism) = match algorithm {
                    KeyAlgorithm::P256 => (oid::SECP_256_R_1, Mechanism::EccKeyPairGen),
                    KeyAlgorithm::P384 => (oid::SECP_384_R_1, Mechanism::EccKeyPairGen),
                    _ => (oid::ID_ED_25519, Mechanism::EccEdwardsKeyPairGen),
                };
                (
                    mechanism,
                    vec![Attribute::EcParams(curve.to_der()?)],
                    vec![],
                )
            }
            KeyAlgorithm::Rsa => (
                Mechanism::RsaPkcsKeyPairGen,
                vec![
                    Attribute::ModulusBits(u64::from(bits).into()),
                    Attribute::PublicExponent(vec![1, 0, 1]),
                ],
                vec![],
            ),
            KeyAlgorithm::P521 | KeyAlgorithm::Dsa => {
                return Err(KeyError::Unsupported(format!(
                    "{} keys are verified only",
                    super::algorithm_name(algorithm)
                )));
            }
        };
        let mut id = [0u8; 16];
        ring::rand::SystemRandom::new()
            .fill(&mut id)
            .map_err(|_| KeyError::Generation)?;
        let common = |class| {
            vec![
                Attribute::Class(class),
                Attribute::Token(true),
                Attribute::Id(id.to_vec()),
                Attribute::Label(label.as_bytes().to_vec()),
            ]
        };
        public.extend(common(ObjectClass::PUBLIC_KEY));
        // Signing only: a signing key that also decrypts or unwraps gives an attacker an oracle.
        public.extend([
            Attribute::Private(false),
            Attribute::Verify(true),
            Attribute::Encrypt(false),
            Attribute::Wrap(false),
        ]);
        private.extend(common(ObjectClass::PRIVATE_KEY));
        private.extend([
            Attribute::Private(true),
            Attribute::Sensitive(true),
            Attribute::Extractable(false),
            Attribute::Sign(true),
            Attribute::Decrypt(false),
            Attribute::Unwrap(false),
            Attribute::Derive(false),
        ]);
        let reference = Pkcs11KeyRef {
            module: self.inner.module.path.clone(),
            token: self.inner.label.clone(),
            label: label.to_owned(),
            id: hex::encode(id),
            algorithm,
        };
        let (handle, spki) = self.run(|session, _| {
            if algorithm == KeyAlgorithm::Ed25519 {
                let slot = session.get_session_info()?.slot_id();
                let mechanisms = self.inner.module.ctx.get_mechanism_list(slot)?;
                for needed in [
                    MechanismType::ECC_EDWARDS_KEY_PAIR_GEN,
                    MechanismType::EDDSA,
                ] {
                    if !mechanisms.contains(&needed) {
                        return Err(KeyError::MechanismUnsupported(format!(
                            "token {} has no {needed} (Ed25519)",
                            self.inner.label
                        ))
                        .into());
                    }
                }
            }
            let taken = session.find_objects(&[
                Attribute::Class(ObjectClass::PRIVATE_KEY),
                Attribute::Label(label.as_bytes().to_vec()),
            ])?;
            if !taken.is_empty() {
                return Err(KeyError::Token(format!(
                    "token {} already holds a private key labelled {label:?}",
                    self.inner.label
                ))
                .into());
            }
            let (public, private) = session.generate_key_pair(&mechanism, &public, &private)?;
            Ok((private, public_key_info(session, public, algorithm)?))
        })?;
        let epoch = lock(&self.inner.pool).epoch;
        SigningKey::from_token(
            TokenKey {
                token: self.clone(),
                reference,
                handle: Mutex::new(Some((epoch, handle))),
            },
            spki,
        )
    }

    /// Opens the key `reference` names, which must be in this token: its public key read from the
    /// token's public object, its algorithm checked against the reference, and the private key
    /// refused unless it is sensitive and not extractable.
    pub fn key(&self, reference: &Pkcs11KeyRef) -> Result<SigningKey, KeyError> {
        if reference.module != self.inner.module.path || reference.token != self.inner.label {
            return Err(KeyError::Token(format!(
                "key {:?} is in token {} of {}, not this one",
                reference.label,
                reference.token,
                reference.module.display()
            )));
        }
        let id = hex::decode(&reference.id).map_err(|_| KeyError::Malformed)?;
        let (handle, epoch, spki) = self.run(|session, epoch| {
            let private = find(session, ObjectClass::PRIVATE_KEY, &id, reference)?;
            let flags = session.get_attributes(
                private,
                &[AttributeType::Sensitive, AttributeType::Extractable],
            )?;
            let guarded = flags.contains(&Attribute::Sensitive(true))
                && flags.contains(&Attribute::Extractable(false));
            if !guarded {
                return Err(KeyError::Token(format!(
                    "key {:?} in token {} is not sensitive and non-extractable",
                    reference.label, reference.token
                ))
                .into());
            }
            let public = find(session, ObjectClass::PUBLIC_KEY, &id, reference)?;
            let spki = public_key_info(session, public, reference.algorithm)?;
            Ok((private, epoch, spki))
        })?;
        SigningKey::from_token(
            TokenKey {
                token: self.clone(),
                reference: reference.clone(),
                handle: Mutex::new(Some((epoch, handle))),
            },
            spki,
        )
    }

    /// Runs `op` on a logged-in session of the pool. A session the token forgot or a lost login
    /// is repaired and `op` tried once more; an unreachable token drops every pooled session (the
    /// next call starts afresh) and answers [`KeyError::Unavailable`]; no session free within the
    /// wait is [`KeyError::Busy`].
    fn run<T>(&self, op: impl Fn(&Session, u64) -> Result<T, OpError>) -> Result<T, KeyError> {
        // Held while waiting for a session too: `reinitialize_module` waits at most the bound.
        let _calls = self
            .inner
            .module
            .calls
            .read()
            .unwrap_or_else(PoisonError::into_inner);
        let mut retried = false;
        loop {
            // Dropped at the end of each round, before the next `acquire`: a retry under a cap
            // of one does not wait for itself.
            let mut lease = match self.acquire() {
                Ok(lease) => lease,
                Err(e) => return Err(self.fail(e)),
            };
            match op(lease.session(), lease.epoch) {
                Ok(v) => {
                    lease.keep = true;
                    return Ok(v);
                }
                // Every session of the process was logged out (another C_Logout, a token reset).
                Err(OpError::Ck(CkError::Pkcs11(RvError::UserNotLoggedIn, _))) if !retried => {
                    retried = true;
                    if let Err(e) = self.login(lease.session()) {
                        drop(lease);
                        return Err(self.fail(e.into()));
                    }
                    lease.keep = true;
                }
                // The token closed our sessions (restart, idle timeout): start a fresh pool.
                Err(OpError::Ck(CkError::Pkcs11(
                    RvError::SessionHandleInvalid | RvError::SessionClosed,
                    _,
                ))) if !retried => {
                    retried = true;
                    let epoch = lease.epoch;
                    drop(lease);
                    self.reset(epoch);
                }
                // A cached object handle from before (keys are found again under a new epoch).
                Err(OpError::Ck(CkError::Pkcs11(
                    RvError::KeyHandleInvalid | RvError::ObjectHandleInvalid,
                    _,
                ))) if !retried => {
                    retried = true;
                    let epoch = lease.epoch;
                    drop(lease);
                    self.reset(epoch);
                }
                Err(e) => {
                    drop(lease);
                    return Err(self.fail(e));
                }
            }
        }
    }

    /// Finalizes the module and initializes it again, once no call is in it: what a module that
    /// lost a token needs to see it again (SoftHSM whose token directory went away and came back
    /// answers CKR_GENERAL_ERROR until then). Every token of the module loses its sessions; their
    /// next call opens new ones. For the service's health check to call when `Unavailable`
    /// persists (ca-core reads no clock to pace it).
    pub fn reinitialize_module(&self) -> Result<(), KeyError> {
        let module = &self.inner.module;
        {
            let _exclusive = module.calls.write().unwrap_or_else(PoisonError::into_inner);
            match module.ctx.clone().finalize() {
                Ok(()) | Err(CkError::Pkcs11(RvError::CryptokiNotInitialized, _)) => {}
                Err(e) => return Err(module.error(e)),
            }
            module.initialize().map_err(|e| module.error(e))?;
        }
        let epoch = lock(&self.inner.pool).epoch;
        self.reset(epoch);
        Ok(())
    }

    fn fail(&self, e: OpError) -> KeyError {
        let e = match e {
            OpError::Ck(e) => self.inner.module.error(e),
            OpError::Key(e) => e,
        };
        if let KeyError::Unavailable(_) = e {
            let epoch = lock(&self.inner.pool).epoch;
            self.reset(epoch);
        }
        e
    }

    /// Forgets the pooled sessions and the slot of `epoch` (if still current).
    fn reset(&self, epoch: u64) {
        let stale = {
            let mut pool = lock(&self.inner.pool);
            if pool.epoch != epoch {
                return;
            }
            pool.epoch += 1;
            pool.slot = None;
            std::mem::take(&mut pool.idle)
        };
        let closed = stale.len();
        // Closing sessions the token no longer knows fails; cryptoki logs it and carries on.
        drop(stale);
        if closed > 0 {
            lock(&self.inner.pool).open -= closed;
            self.inner.freed.notify_all();
        }
    }

    /// A logged-in session: an idle one, a new one while fewer than the cap are open, or the
    /// first to come free within the wait.
    fn acquire(&self) -> Result<Lease<'_>, OpError> {
        let inner = &*self.inner;
        let max = inner.limits.max_sessions;
        let (mut pool, waited) = inner
            .freed
            .wait_timeout_while(lock(&inner.pool), inner.limits.max_wait, |p| {
                p.idle.is_empty() && p.open >= max
            })
            .unwrap_or_else(PoisonError::into_inner);
        if waited.timed_out() {
            pool.timed_out += 1;
            return Err(KeyError::Busy(format!(
                "all {max} sessions of token {:?} stayed in use for {:?}",
                inner.label, inner.limits.max_wait
            ))
            .into());
        }
        let epoch = pool.epoch;
        if let Some(session) = pool.idle.pop() {
            pool.in_use += 1;
            return Ok(Lease {
                inner,
                session: Some(session),
                epoch,
                keep: false,
            });
        }
        let slot = match pool.slot {
            Some(slot) => slot,
            None => {
                inner.module.initialize()?;
                let slot = self.find_slot()?;
                pool.slot = Some(slot);
                slot
            }
        };
        // The place is taken before the session is opened; the lease gives it back if opening
        // or the login fails.
        pool.open += 1;
        pool.in_use += 1;
        pool.peak_open = pool.peak_open.max(pool.open);
        drop(pool);
        let mut lease = Lease {
            inner,
            session: None,
            epoch,
            keep: false,
        };
        let session = inner.module.ctx.open_rw_session(slot)?;
        lock(&inner.pool).opened += 1;
        self.login(lease.session.insert(session))?;
        Ok(lease)
    }

    fn login(&self, session: &Session) -> Result<(), CkError> {
        match session.login(UserType::User, Some(&self.inner.pin.0)) {
            Ok(()) | Err(CkError::Pkcs11(RvError::UserAlreadyLoggedIn, _)) => Ok(()),
            Err(e) => Err(e),
        }
    }

    fn find_slot(&self) -> Result<Slot, OpError> {
        let ctx = &self.inner.module.ctx;
        for slot in ctx.get_slots_with_token()? {
            if ctx.get_token_info(slot)?.label() == self.inner.label {
                return Ok(slot);
            }
        }
        Err(KeyError::Unavailable(format!(
            "no token labelled {:?} in {}",
            self.inner.label,
            self.inner.module.path.display()
        ))
        .into())
    }
}

/// A session lent to one call. Dropped, it goes back to the pool if `keep` and its epoch is still
/// current, else it is closed; either way a waiting caller is woken.
struct Lease<'a> {
    inner: &'a TokenInner,
    /// `None` only while being opened.
    session: Option<Session>,
    epoch: u64,
    keep: bool,
}

impl Lease<'_> {
    fn session(&self) -> &Session {
        self.session
            .as_ref()
            .expect("a lease holds its session once acquired")
    }
}

impl Drop for Lease<'_> {
    fn drop(&mut self) {
        let inner = self.inner;
        let closing = {
            let mut pool = lock(&inner.pool);
            pool.in_use -= 1;
            match self.session.take() {
                Some(session) if self.keep && pool.epoch == self.epoch => {
                    pool.idle.push(session);
                    inner.freed.notify_one();
                    return;
                }
                other => other,
            }
        };
        // C_CloseSession outside the pool's lock; the place counts as open until it returned.
        drop(closing);
        lock(&inner.pool).open -= 1;
        inner.freed.notify_one();
    }
}

fn find(
    session: &Session,
    class: ObjectClass,
    id: &[u8],
    reference: &Pkcs11KeyRef,
) -> Result<ObjectHandle, OpError> {
    let found = session.find_objects(&[Attribute::Class(class), Attribute::Id(id.to_vec())])?;
    match found.as_slice() {
        [one] => Ok(*one),
        [] => Err(KeyError::Token(format!(
            "no {class} with id {} (label {:?}) in token {}",
            reference.id, reference.label, reference.token
        ))
        .into()),
        _ => Err(KeyError::Token(format!(
            "several {class} objects with id {} in token {}",
            reference.id, reference.token
        ))
        .into()),
    }
}

/// The SubjectPublicKeyInfo of a public key object, whose type and curve must be `algorithm`'s.
fn public_key_info(
    session: &Session,
    public: ObjectHandle,
    algorithm: KeyAlgorithm,
) -> Result<SubjectPublicKeyInfoOwned, OpError> {
    let key_type = match session.get_attributes(public, &[AttributeType::KeyType])?[..] {
        [Attribute::KeyType(t)] => t,
        _ => return Err(KeyError::Malformed.into()),
    };
    let mismatch = |what: &str| {
        OpError::Key(KeyError::Token(format!(
            "the token's key is {what}, not {}",
            super::algorithm_name(algorithm)
        )))
    };
    let (spki_alg, public_key) = if key_type == KeyType::RSA {
        if algorithm != KeyAlgorithm::Rsa {
            return Err(mismatch("RSA"));
        }
        let attrs = session.get_attributes(
            public,
            &[AttributeType::Modulus, AttributeType::PublicExponent],
        )?;
        let (Some(Attribute::Modulus(n)), Some(Attribute::PublicExponent(e))) =
            (attrs.first(), attrs.get(1))
        else {
            return Err(KeyError::Malformed.into());
        };
        let key = RsaPublicKey {
            modulus: UintRef::new(n)?,
            public_exponent: UintRef::new(e)?,
        }
        .to_der()?;
        let alg = AlgorithmIdentifierOwned {
            oid: oid::RSA_ENCRYPTION,
            parameters: Some(Any::null()),
        };
        (alg, key)
    } else if key_type == KeyType::EC || key_type == KeyType::EC_EDWARDS {
        let attrs =
            session.get_attributes(public, &[AttributeType::EcParams, AttributeType::EcPoint])?;
        let (Some(Attribute::EcParams(params)), Some(Attribute::EcPoint(point))) =
            (attrs.first(), attrs.get(1))
        else {
            return Err(KeyError::Malformed.into());
        };
        let curve = ObjectIdentifier::from_der(params).map_err(|_| mismatch("on another curve"))?;
        let (expected, len) = match algorithm {
            KeyAlgorithm::P256 => (oid::SECP_256_R_1, 65),
            KeyAlgorithm::P384 => (oid::SECP_384_R_1, 97),
            KeyAlgorithm::Ed25519 => (oid::ID_ED_25519, 32),
            _ => return Err(mismatch("an elliptic-curve key")),
        };
        if curve != expected {
            return Err(mismatch(&format!("on curve {curve}")));
        }
        // CKA_EC_POINT is a DER OCTET STRING (PKCS#11 3.0 §2.3.3); some tokens give it bare.
        let point = if point.len() == len {
            point.clone()
        } else {
            <&OctetStringRef>::from_der(point)?.as_bytes().to_vec()
        };
        if point.len() != len {
            return Err(KeyError::Malformed.into());
        }
        let alg = if algorithm == KeyAlgorithm::Ed25519 {
            // RFC 8410 §3: parameters absent.
            AlgorithmIdentifierOwned {
                oid: oid::ID_ED_25519,
                parameters: None,
            }
        } else {
            AlgorithmIdentifierOwned {
                oid: oid::ID_EC_PUBLIC_KEY,
                parameters: Some(Any::encode_from(&curve)?),
            }
        };
        (alg, point)
    } else {
        return Err(mismatch("of another type"));
    };
    Ok(SubjectPublicKeyInfoOwned {
        algorithm: spki_alg,
        subject_public_key: BitString::from_bytes(&public_key)?,
    })
}

/// A private key in a token, as a [`SigningKey`] backend.
pub(crate) struct TokenKey {
    token: Pkcs11Token,
    reference: Pkcs11KeyRef,
    /// The private key's handle and the pool epoch it was found under.
    handle: Mutex<Option<(u64, ObjectHandle)>>,
}

/// DigestInfo prefix for SHA-256 (RFC 8017 §9.2 note 1): what CKM_RSA_PKCS signs before the hash.
const SHA256_DIGEST_INFO: [u8; 19] = [
    0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01, 0x05,
    0x00, 0x04, 0x20,
];

/// ECDSA-Sig-Value (RFC 5480 §2.2 point, RFC 3279 §2.2.3): the DER X.509 and CMS carry.
#[derive(der::Sequence)]
struct EcdsaSigValue<'a> {
    r: UintRef<'a>,
    s: UintRef<'a>,
}

/// What the token is asked to sign.
pub(crate) enum TokenScheme {
    Ecdsa(DigestAlgorithm),
    Ed25519,
    RsaPkcs1Sha256,
    RsaPssSha256,
}

impl TokenKey {
    pub(crate) fn reference(&self) -> &Pkcs11KeyRef {
        &self.reference
    }

    pub(crate) fn sign(&self, scheme: &TokenScheme, message: &[u8]) -> Result<Vec<u8>, KeyError> {
        let pss;
        let (mechanism, data) = match scheme {
            TokenScheme::Ecdsa(d) => (Mechanism::Ecdsa, d.digest(message)),
            TokenScheme::Ed25519 => (
                Mechanism::Eddsa(EddsaParams::new(EddsaSignatureScheme::Pure)),
                message.to_vec(),
            ),
            TokenScheme::RsaPkcs1Sha256 => {
                let mut info = SHA256_DIGEST_INFO.to_vec();
                info.extend(DigestAlgorithm::Sha256.digest(message));
                (Mechanism::RsaPkcs, info)
            }
            TokenScheme::RsaPssSha256 => {
                pss = PkcsPssParams {
                    hash_alg: MechanismType::SHA256,
                    mgf: PkcsMgfType::MGF1_SHA256,
                    s_len: (DigestAlgorithm::Sha256.len() as u64).into(),
                };
                (
                    Mechanism::RsaPkcsPss(pss),
                    DigestAlgorithm::Sha256.digest(message),
                )
            }
        };
        let raw = self.token.run(|session, epoch| {
            let handle = self.handle(session, epoch)?;
            Ok(session.sign(&mechanism, handle, &data)?)
        })?;
        match scheme {
            // CKM_ECDSA gives r ‖ s, each as long as the curve order (PKCS#11 3.0 §2.3.1).
            TokenScheme::Ecdsa(_) => {
                let half = match self.reference.algorithm {
                    KeyAlgorithm::P384 => 48,
                    _ => 32,
                };
                if raw.len() != 2 * half {
                    return Err(KeyError::Signing);
                }
                let (r, s) = raw.split_at(half);
                Ok(EcdsaSigValue {
                    r: UintRef::new(r)?,
                    s: UintRef::new(s)?,
                }
                .to_der()?)
            }
            _ => Ok(raw),
        }
    }

    fn handle(&self, session: &Session, epoch: u64) -> Result<ObjectHandle, OpError> {
        let mut cached = lock(&self.handle);
        if let Some((at, handle)) = *cached
            && at == epoch
        {
            return Ok(handle);
        }
        let id = hex::decode(&self.reference.id).map_err(|_| KeyError::Malformed)?;
        let handle = find(session, ObjectClass::PRIVATE_KEY, &id, &self.reference)?;
        *cached = Some((epoch, handle));
        Ok(handle)
    }
}
