//! The data directory: the store (sled in `store/` unless `store` names another place: another
//! sled directory or PostgreSQL), how CA keys are sealed, CA certificates for users to pick up.
//!
//! Keys are sealed under a passphrase from `HPKI_PASSPHRASE` (Argon2id, salt in the store), or, for
//! the demo, under a random key file `master.key` (mode 0600) beside the store.

use crate::config::{KeyBackendKind, Keys, StoreLocation};
use ca_core::authority::KeyBackend;
use ca_core::authority::{Authority, AuthorityError};
use ca_core::key::{KeyError, Pkcs11Pin, Pkcs11Token};
use ca_core::profile::{ProfileError, ProfileSet};
use ca_core::purpose::{PurposeError, SigningPolicy};
use ca_core::seal::{KEK_LEN, SALT_LEN, SealError, Sealer};
use ca_core::store::{Durability, PgStore, SledStore, Store, StoreError};
use serde::{Deserialize, Serialize};
use std::io::Write;
use std::path::{Path, PathBuf};

/// Store setting recording how CA keys are sealed.
const SETTING_SEAL: &str = "seal";
const PASSPHRASE_ENV: &str = "HPKI_PASSPHRASE";
/// The PKCS#11 token's user PIN (else `[keys] pin_file`).
const PIN_ENV: &str = "HPKI_PKCS11_PIN";
/// Blocking threads per actix worker (`serve`): signing, issuance and, with PostgreSQL or a
/// PKCS#11 token, every store and key call run there.
pub const BLOCKING_THREADS: usize = 16;

/// Sessions the token may have open (issue 16 item 4, "sized to the workers"): one per thread
/// that may sign at once, that is each actix worker's blocking threads (actix starts a worker
/// per core), and one for `/health`'s probe. A caller past them waits, then gets 503.
fn token_sessions() -> usize {
    let workers = std::thread::available_parallelism().map_or(1, usize::from);
    workers * BLOCKING_THREADS + 1
}

/// Why the data directory could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum DataDirError {
    #[error("{} holds no CA: run `signer-api init` first", .0.display())]
    NotInitialised(PathBuf),
    // The cause is in the message and not also a `source`, which `{:#}` would print again.
    #[error("{what} {}: {error}", path.display())]
    Io {
        what: &'static str,
        path: PathBuf,
        error: std::io::Error,
    },
    #[error(
        "{} is writable by group or others (mode {mode:o}): run `chmod go-w` on it, or choose another directory",
        path.display()
    )]
    Writable { path: PathBuf, mode: u32 },
    #[error("opening the store in {}: {error}", path.display())]
    OpenStore { path: PathBuf, error: StoreError },
    // Never the URL: it may hold a password.
    #[error("opening the PostgreSQL store: {0}")]
    OpenDatabase(StoreError),
    /// sled's lock: a running `serve` (or another admin command) has the store open.
    #[error(
        "the data directory {} is in use by a running signer-api: stop the service first, or make \
         this change through its HTTP API",
        .0.display()
    )]
    InUse(PathBuf),
    #[error("CA keys are sealed under a passphrase: set {PASSPHRASE_ENV}")]
    NoPassphrase,
    #[error("seal setting: {0}")]
    SealSetting(String),
    #[error("{} is not a {KEK_LEN}-byte key file", .0.display())]
    KeyFile(PathBuf),
    /// The store's keys are sealed under a key file this data directory lacks: typically a
    /// second instance joining a PostgreSQL store.
    #[error(
        "{} is missing: this store's keys are sealed under the key file made by `init` (or the \
         first `serve`) in its data directory; copy that file here (mode 0600)",
        .0.display()
    )]
    MissingKeyFile(PathBuf),
    #[error("the PKCS#11 token's PIN: set {PIN_ENV} or [keys] pin_file")]
    NoPin,
    /// The token could not be opened (module, token label, PIN); never the PIN itself.
    #[error("PKCS#11 token {token:?} of {}: {error}", module.display())]
    Token {
        module: PathBuf,
        token: String,
        error: KeyError,
    },
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Profile(#[from] ProfileError),
    #[error(transparent)]
    Purpose(#[from] PurposeError),
    #[error(transparent)]
    Seal(#[from] SealError),
    #[error(transparent)]
    Authority(#[from] AuthorityError),
}

type Result<T> = std::result::Result<T, DataDirError>;

/// Maps an I/O error on `path` to `DataDirError::Io`.
fn io(what: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> DataDirError {
    let path = path.to_owned();
    move |error| DataDirError::Io { what, path, error }
}

#[derive(Serialize, Deserialize)]
#[serde(tag = "method", rename_all = "snake_case")]
enum SealMethod {
    Passphrase { salt: String },
    KeyFile,
}

pub struct DataDir {
    root: PathBuf,
    policies: Option<PathBuf>,
    durability: Durability,
    store: StoreLocation,
    keys: Keys,
}

/// The store of a data directory, whichever backend the configuration chose.
pub type ServiceStore = Box<dyn Store>;

impl DataDir {
    /// `policies`: a directory of profiles replacing the built-in ones.
    pub fn new(root: &Path, policies: Option<&Path>) -> Self {
        Self {
            root: root.to_owned(),
            policies: policies.map(Path::to_owned),
            durability: Durability::Fsync,
            store: StoreLocation::DataDir,
            keys: Keys::default(),
        }
    }

    /// Keys are made and found where `keys` says (`[keys]`).
    pub fn with_keys(mut self, keys: Keys) -> Self {
        self.keys = keys;
        self
    }

    /// The key configuration.
    pub fn keys(&self) -> &Keys {
        &self.keys
    }

    /// The key backend of the configuration (see [`open_key_backend`]).
    pub fn key_backend(&self) -> Result<KeyBackend> {
        open_key_backend(&self.keys)
    }

    /// The store lives where `store` says instead of the data directory's `store/`.
    pub fn with_store(mut self, store: StoreLocation) -> Self {
        self.store = store;
        self
    }

    /// Whether the store is PostgreSQL, whose sync client must never be called on an async
    /// worker (it blocks on the network, and panics inside a tokio runtime).
    pub fn store_is_remote(&self) -> bool {
        matches!(self.store, StoreLocation::Postgres(_))
    }

    /// The store opened by this data directory acknowledges audit appends as `durability` says.
    pub fn with_durability(mut self, durability: Durability) -> Self {
        self.durability = durability;
        self
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The certificate profiles, validated.
    pub fn profiles(&self) -> Result<ProfileSet> {
        Ok(match &self.policies {
            Some(dir) => ProfileSet::load_dir(dir)?,
            None => ProfileSet::embedded()?,
        })
    }

    /// The signing policy (purposes and the role × purpose gate): `purposes/signing.toml` of the
    /// policies directory when it has one, so an operator's table applies; else the built-in one.
    pub fn signing_policy(&self) -> Result<SigningPolicy> {
        Ok(match &self.policies {
            Some(dir) if dir.join(ca_core::purpose::POLICY_FILE).exists() => {
                SigningPolicy::load_dir(dir)?
            }
            _ => SigningPolicy::embedded()?,
        })
    }

    /// The sled store's directory (unused with PostgreSQL).
    pub fn store_path(&self) -> PathBuf {
        match &self.store {
            StoreLocation::Sled(dir) => dir.clone(),
            StoreLocation::DataDir | StoreLocation::Postgres(_) => self.root.join("store"),
        }
    }

    /// Removes what a failed `init` made (the sled store; the key file when `key_file`: this
    /// `init` made it), so `init` can be run again. Never another process's key file: instances
    /// sharing a data directory may start at once on an empty PostgreSQL store.
    pub fn discard_failed_init(&self, key_file: bool) {
        if !self.store_is_remote() {
            let _ = std::fs::remove_dir_all(self.store_path());
        }
        if key_file {
            let _ = std::fs::remove_file(self.key_file());
        }
    }

    fn key_file(&self) -> PathBuf {
        self.root.join("master.key")
    }

    /// Where CA `id`'s certificate is published as PEM.
    pub fn ca_pem(&self, id: &str) -> PathBuf {
        self.root.join("ca").join(format!("{id}.pem"))
    }

    /// Whether the store holds a CA. A database that cannot be asked is an error, never "no":
    /// taken for an empty store, it would start `init` over an installation (and a failed init
    /// removes the key file).
    pub fn is_initialised(&self) -> Result<bool> {
        match &self.store {
            // The seal setting is written by init's one transaction.
            StoreLocation::Postgres(url) => Ok(PgStore::open(url)
                .and_then(|store| store.setting(SETTING_SEAL))
                .map_err(DataDirError::OpenDatabase)?
                .is_some()),
            StoreLocation::DataDir | StoreLocation::Sled(_) => Ok(self.store_path().exists()),
        }
    }

    pub fn open_store(&self) -> Result<ServiceStore> {
        if let StoreLocation::Postgres(url) = &self.store {
            // The data directory still holds the key file and the published CA certificates.
            self.secure()?;
            return Ok(Box::new(
                PgStore::open(url).map_err(DataDirError::OpenDatabase)?,
            ));
        }
        self.secure()?;
        let store =
            SledStore::open_with(&self.store_path(), self.durability).map_err(
                |error| match error {
                    StoreError::InUse => DataDirError::InUse(self.root.clone()),
                    error => DataDirError::OpenStore {
                        path: self.store_path(),
                        error,
                    },
                },
            )?;
        // It holds sealed keys, the key file and the audit log: the owner's only. sled creates its
        // files with the process umask; those it makes later are still behind the 0700 directory.
        restrict_tree(&self.root)?;
        Ok(Box::new(store))
    }

    /// A fresh sealer for init, the setting that lets `open` rebuild it, and whether it made
    /// the key file (no passphrase given).
    pub fn new_sealer(&self) -> Result<(Sealer, (String, Vec<u8>), bool)> {
        let (sealer, method) = match std::env::var_os(PASSPHRASE_ENV) {
            Some(pass) if !pass.is_empty() => {
                let salt: [u8; SALT_LEN] = Sealer::random_bytes()?;
                let sealer = Sealer::from_passphrase(pass.as_encoded_bytes(), &salt)?;
                (
                    sealer,
                    SealMethod::Passphrase {
                        salt: hex::encode(salt),
                    },
                )
            }
            _ => {
                let key: [u8; KEK_LEN] = Sealer::random_bytes()?;
                write_private(&self.key_file(), &key)?;
                (Sealer::from_key(&key), SealMethod::KeyFile)
            }
        };
        let made_key_file = matches!(method, SealMethod::KeyFile);
        Ok((
            sealer,
            (
                SETTING_SEAL.to_owned(),
                serde_json::to_vec(&method)
                    .map_err(|e| DataDirError::SealSetting(e.to_string()))?,
            ),
            made_key_file,
        ))
    }

    /// The master secret that opens what `store` holds sealed: the key file `master.key` or
    /// `HPKI_PASSPHRASE`, as the store's seal setting says.
    pub fn sealer(&self, store: &dyn Store) -> Result<Sealer> {
        let Some(setting) = store.setting(SETTING_SEAL)? else {
            return Err(DataDirError::NotInitialised(self.root.clone()));
        };
        let method = serde_json::from_slice(&setting)
            .map_err(|e| DataDirError::SealSetting(e.to_string()))?;
        match method {
            SealMethod::Passphrase { salt } => {
                let pass = std::env::var_os(PASSPHRASE_ENV).ok_or(DataDirError::NoPassphrase)?;
                let salt: [u8; SALT_LEN] =
                    hex::decode(salt)
                        .ok()
                        .and_then(|s| s.try_into().ok())
                        .ok_or_else(|| DataDirError::SealSetting("bad salt".into()))?;
                Ok(Sealer::from_passphrase(pass.as_encoded_bytes(), &salt)?)
            }
            SealMethod::KeyFile => {
                let path = self.key_file();
                let bytes = std::fs::read(&path).map_err(|error| match error.kind() {
                    std::io::ErrorKind::NotFound => DataDirError::MissingKeyFile(path.clone()),
                    _ => io("reading", &path)(error),
                })?;
                let key: [u8; KEK_LEN] =
                    bytes.try_into().map_err(|_| DataDirError::KeyFile(path))?;
                Ok(Sealer::from_key(&key))
            }
        }
    }

    /// Opens the authority of an initialised data directory.
    pub fn open_authority(&self) -> Result<Authority<ServiceStore>> {
        if !self.is_initialised()? {
            return Err(DataDirError::NotInitialised(self.root.clone()));
        }
        let store = self.open_store()?;
        let sealer = self.sealer(store.as_ref())?;
        // The clock is read at this edge (ca-core reads none): it dates the audit key's creation
        // in a store made before audit keys.
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let keys = self.key_backend()?;
        Ok(Authority::open_with_keys(
            store,
            self.profiles()?,
            sealer,
            keys,
            now,
        )?)
    }
}

/// The key backend `keys` names: for `pkcs11`, the token opened and logged in with the PIN from
/// `HPKI_PKCS11_PIN` or `pin_file` (read here, kept only in `Pkcs11Pin`, never logged).
pub fn open_key_backend(keys: &Keys) -> Result<KeyBackend> {
    let (KeyBackendKind::Pkcs11, Some(module), Some(label)) =
        (keys.backend, &keys.module, &keys.token_label)
    else {
        return Ok(KeyBackend::Software);
    };
    let pin = match std::env::var(PIN_ENV).ok().filter(|p| !p.is_empty()) {
        Some(pin) => pin,
        None => {
            let path = keys.pin_file.as_ref().ok_or(DataDirError::NoPin)?;
            let text = std::fs::read_to_string(path).map_err(io("reading", path))?;
            text.lines().next().unwrap_or_default().to_owned()
        }
    };
    let token = Pkcs11Token::open(module, label, Pkcs11Pin::new(pin), token_sessions()).map_err(
        |error| DataDirError::Token {
            module: module.clone(),
            token: label.clone(),
            error,
        },
    )?;
    Ok(KeyBackend::Pkcs11 {
        token,
        credentials: keys.credentials_in_token,
    })
}

impl DataDir {
    /// Creates the data directory (0700) if missing and refuses one that others may write: they
    /// could replace the store or the key file.
    fn secure(&self) -> Result<()> {
        use std::os::unix::fs::PermissionsExt;
        create_private_dir(&self.root)?;
        let meta = std::fs::metadata(&self.root).map_err(io("reading", &self.root))?;
        let mode = meta.permissions().mode() & 0o777;
        if mode & 0o022 != 0 {
            return Err(DataDirError::Writable {
                path: self.root.clone(),
                mode,
            });
        }
        Ok(())
    }
}

/// Creates `dir` and its missing parents with mode 0700.
fn create_private_dir(dir: &Path) -> Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(io("creating", dir))
}

/// Sets directories under and including `dir` to 0700 and files to 0600 (symbolic links are left
/// alone: their mode means nothing). The store holds a few dozen files at most. sled's flusher may
/// remove a snapshot file meanwhile: one gone is skipped.
fn restrict_tree(dir: &Path) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let gone = |r: std::io::Result<()>| match r {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        r => r,
    };
    gone(std::fs::set_permissions(
        dir,
        std::fs::Permissions::from_mode(0o700),
    ))
    .map_err(io("restricting", dir))?;
    let entries = match std::fs::read_dir(dir) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        r => r.map_err(io("reading", dir))?,
    };
    for entry in entries {
        let entry = entry.map_err(io("reading", dir))?;
        let path = entry.path();
        let Ok(kind) = entry.file_type() else {
            continue;
        };
        if kind.is_dir() {
            restrict_tree(&path)?;
        } else if kind.is_file() {
            gone(std::fs::set_permissions(
                &path,
                std::fs::Permissions::from_mode(0o600),
            ))
            .map_err(io("restricting", &path))?;
        }
    }
    Ok(())
}

/// Writes a secret file readable by its owner only, created with mode 0600 (never wider).
fn write_private(path: &Path, bytes: &[u8]) -> Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    if let Some(dir) = path.parent() {
        create_private_dir(dir)?;
    }
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(io("creating", path))?;
    file.write_all(bytes)
        .and_then(|()| file.sync_all())
        .map_err(|error| {
            // Ours (create_new): no half-written secret left behind.
            let _ = std::fs::remove_file(path);
            io("writing", path)(error)
        })
}

/// Writes `bytes` to `path` via a temporary file and rename, so readers never see half a file.
/// The file is the owner's only (0600), like everything in the data directory.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    let dir = path.parent().unwrap_or(Path::new("."));
    create_private_dir(dir)?;
    let tmp = dir.join(format!(
        ".{}.tmp",
        path.file_name().and_then(|n| n.to_str()).unwrap_or("out")
    ));
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&tmp)
        .map_err(io("creating", &tmp))?;
    f.write_all(bytes)
        .and_then(|()| f.sync_all())
        .map_err(io("writing", &tmp))?;
    std::fs::rename(&tmp, path).map_err(io("writing", path))
}
