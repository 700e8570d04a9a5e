//! Service configuration: built-in defaults, then a TOML file (`--config`), then `HPKI_*`
//! environment variables, each overriding the one before.

use ca_core::store::{Durability, StoreError};
use serde::Deserialize;
use std::path::{Path, PathBuf};
use std::str::FromStr;

/// Why the configuration could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    // The cause is in the message and not also a `source`, which `{:#}` would print again.
    #[error("reading {}: {error}", path.display())]
    Read {
        path: PathBuf,
        error: std::io::Error,
    },
    #[error("{} is larger than {MAX_CONFIG} bytes", path.display())]
    TooLarge { path: PathBuf },
    #[error("{}: {error}", path.display())]
    Toml {
        path: PathBuf,
        error: toml::de::Error,
    },
    #[error("{name}={value:?} is not a number in range")]
    Number { name: &'static str, value: String },
    #[error("HPKI_DURABILITY: {0}")]
    Durability(StoreError),
    #[error("{0}")]
    Invalid(&'static str),
}

/// Where the store lives (`store`, `HPKI_STORE`): the data directory's `store/` (default),
/// `sled:DIR`, or a PostgreSQL URL (`postgres://…`, `postgresql://…`; TLS by libpq's `sslmode`
/// and `sslrootcert=FILE` query parameters, README "PostgreSQL store"). `Debug` hides the URL,
/// which may hold a password.
#[derive(Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(try_from = "String")]
pub enum StoreLocation {
    #[default]
    DataDir,
    Sled(PathBuf),
    Postgres(String),
}

impl FromStr for StoreLocation {
    type Err = ConfigError;
    fn from_str(s: &str) -> Result<Self, ConfigError> {
        if let Some(dir) = s.strip_prefix("sled:") {
            if dir.is_empty() {
                return Err(ConfigError::Invalid("store: sled:DIR needs a directory"));
            }
            return Ok(Self::Sled(dir.into()));
        }
        if s.starts_with("postgres://") || s.starts_with("postgresql://") {
            return Ok(Self::Postgres(s.to_owned()));
        }
        Err(ConfigError::Invalid(
            "store: expected \"sled:DIR\" or \"postgres://…\"",
        ))
    }
}

impl TryFrom<String> for StoreLocation {
    type Error = ConfigError;
    fn try_from(s: String) -> Result<Self, ConfigError> {
        s.parse()
    }
}

impl std::fmt::Debug for StoreLocation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::DataDir => f.write_str("DataDir"),
            Self::Sled(dir) => write!(f, "Sled({})", dir.display()),
            Self::Postgres(_) => f.write_str("Postgres(<url hidden>)"),
        }
    }
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Address to listen on; port 0 picks a free port.
    pub listen: String,
    pub data_dir: PathBuf,
    /// Profiles directory replacing the built-in `policies/`.
    pub policies: Option<PathBuf>,
    /// Public base URL of this service, put into certificates (CRL DP, AIA, CPS) at init.
    pub base_url: String,
    pub limits: Limits,
    pub tokens: Tokens,
    pub tls: Option<Tls>,
    /// When a signature's audit record counts as written, so the signature may be returned:
    /// "fsync" (default: synced, survives power loss) or "write" (written to the audit journal,
    /// synced within ~10 ms: survives a crash of the process, not of the machine).
    pub durability: Durability,
    /// Where the store lives (see [`StoreLocation`]).
    pub store: StoreLocation,
    /// The OCSP responder (`/v1/ocsp`).
    pub ocsp: Ocsp,
    /// The time-stamping authority (`POST /v1/timestamps`).
    pub tsa: TsaSettings,
    /// Where the private keys are (`[keys]`).
    pub keys: Keys,
}

/// Which key backend holds the CA, TSA and OCSP responder keys.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum KeyBackendKind {
    /// Sealed PKCS#8 in the store, under the master secret (key file or passphrase).
    #[default]
    Software,
    /// A PKCS#11 token (an HSM): the store holds references only.
    Pkcs11,
}

impl FromStr for KeyBackendKind {
    type Err = ConfigError;
    fn from_str(s: &str) -> Result<Self, ConfigError> {
        match s {
            "software" => Ok(Self::Software),
            "pkcs11" => Ok(Self::Pkcs11),
            _ => Err(ConfigError::Invalid(
                "keys.backend: expected \"software\" or \"pkcs11\"",
            )),
        }
    }
}

/// `[keys]`: where the private keys are. The token's user PIN is never part of the configuration
/// (so never in `Debug` or a log): it is read when the token is opened, from `HPKI_PKCS11_PIN` or
/// from `pin_file`, never from the command line.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Keys {
    /// `software` (default) or `pkcs11`.
    pub backend: KeyBackendKind,
    /// The PKCS#11 module (shared library), e.g. `/usr/lib/softhsm/libsofthsm2.so`.
    pub module: Option<PathBuf>,
    /// The label of the token holding the keys.
    pub token_label: Option<String>,
    /// A file holding the user PIN (its first line), readable by the service's user only.
    /// `HPKI_PKCS11_PIN` takes precedence.
    pub pin_file: Option<PathBuf>,
    /// Practitioner credential keys are generated in the token too (else sealed in the store).
    pub credentials_in_token: bool,
}

impl Keys {
    /// Applies `HPKI_KEYS_BACKEND`, `HPKI_PKCS11_MODULE`, `HPKI_PKCS11_TOKEN`,
    /// `HPKI_PKCS11_PIN_FILE` and `HPKI_CREDENTIALS_IN_TOKEN` over these settings, and checks that
    /// a `pkcs11` backend names its module and token.
    pub fn apply_env(mut self, env: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        if let Some(v) = env("HPKI_KEYS_BACKEND") {
            self.backend = v.parse()?;
        }
        if let Some(v) = env("HPKI_PKCS11_MODULE") {
            self.module = Some(v.into());
        }
        if let Some(v) = env("HPKI_PKCS11_TOKEN") {
            self.token_label = Some(v);
        }
        if let Some(v) = env("HPKI_PKCS11_PIN_FILE") {
            self.pin_file = Some(v.into());
        }
        if let Some(v) = env("HPKI_CREDENTIALS_IN_TOKEN") {
            self.credentials_in_token = v.parse().map_err(|_| ConfigError::Number {
                name: "HPKI_CREDENTIALS_IN_TOKEN",
                value: v,
            })?;
        }
        self.check()?;
        Ok(self)
    }

    /// Refuses a `pkcs11` backend without its module or token, and credentials in a token
    /// without one.
    pub fn check(&self) -> Result<(), ConfigError> {
        if self.backend == KeyBackendKind::Pkcs11
            && (self.module.is_none() || self.token_label.is_none())
        {
            return Err(ConfigError::Invalid(
                "keys.backend = \"pkcs11\" needs keys.module and keys.token_label \
                 (HPKI_PKCS11_MODULE, HPKI_PKCS11_TOKEN)",
            ));
        }
        if self.backend == KeyBackendKind::Software && self.credentials_in_token {
            return Err(ConfigError::Invalid(
                "keys.credentials_in_token needs keys.backend = \"pkcs11\"",
            ));
        }
        Ok(())
    }
}

/// `[tsa]`: the RFC 3161 time-stamping authority: the built-in one, or with `url` a foreign one
/// whose tokens signatures carry instead. `Debug` hides the credentials.
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TsaSettings {
    /// TSTInfo.policy of the tokens (dotted OID): the OID of the installation's time-stamp
    /// policy (RFC 3628). Default: the one stored at init, else `<policy arc>.13.1` (under the
    /// TSA certificate's policy `<policy arc>.13`).
    pub policy: Option<String>,
    /// Require an API token or client certificate for `POST /v1/timestamps`. Off by default:
    /// RFC 3161 clients (openssl ts, PDF signers) send none; the per-client rate limit applies.
    pub require_auth: bool,
    /// A foreign RFC 3161 TSA (HTTP POST `application/timestamp-query`, RFC 3161 §3.4) that
    /// signatures above B-B are time-stamped by instead of the built-in TSA. Credentials go in
    /// `username`/`password` or `bearer_token`, never in the URL.
    pub url: Option<String>,
    /// PEM (or DER) certificate(s) the foreign TSA's certificate must chain to; required with
    /// `url`.
    pub trust_anchor: Option<PathBuf>,
    /// HTTP basic authentication to the foreign TSA (with `password`).
    pub username: Option<String>,
    pub password: Option<String>,
    /// `Authorization: Bearer` to the foreign TSA (instead of basic).
    pub bearer_token: Option<String>,
    /// How long one request to the foreign TSA may take, in seconds.
    pub timeout_seconds: u64,
}

impl Default for TsaSettings {
    fn default() -> Self {
        Self {
            policy: None,
            require_auth: false,
            url: None,
            trust_anchor: None,
            username: None,
            password: None,
            bearer_token: None,
            timeout_seconds: 10,
        }
    }
}

impl std::fmt::Debug for TsaSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let set = |v: &Option<String>| v.as_ref().map(|_| "<set>");
        f.debug_struct("TsaSettings")
            .field("policy", &self.policy)
            .field("require_auth", &self.require_auth)
            .field("url", &self.url)
            .field("trust_anchor", &self.trust_anchor)
            .field("username", &self.username)
            .field("password", &set(&self.password))
            .field("bearer_token", &set(&self.bearer_token))
            .field("timeout_seconds", &self.timeout_seconds)
            .finish()
    }
}

/// The OCSP responder: on by default.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Ocsp {
    /// Answer at `/v1/ocsp` and put its URL (`{base_url}/v1/ocsp`, or the one recorded at init)
    /// into the AIA of certificates issued from now on. Off: 404 there, and no OCSP URL.
    pub enabled: bool,
    /// nextUpdate − thisUpdate of each response, in seconds (at least 1): how long a relying party
    /// may cache an answer, so how late it may learn of a revocation.
    pub validity_seconds: u64,
}

impl Default for Ocsp {
    fn default() -> Self {
        Self {
            enabled: true,
            validity_seconds: ca_core::authority::DEFAULT_OCSP_VALIDITY_SECONDS,
        }
    }
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Limits {
    /// Largest document body of `POST /v1/signatures` (octet-stream).
    pub document_bytes: u64,
    /// Largest JSON body.
    pub json_bytes: usize,
    /// Largest body of `POST /v1/verifications` (a signature, or JSON with the signature and its
    /// content in base64).
    pub verification_bytes: u64,
    /// Bytes of request bodies held in memory at once, across all requests: attached documents
    /// being signed and verification requests (detached documents are streamed, not held).
    /// A request that would go beyond it gets 503 with Retry-After. At least verification_bytes
    /// and json_bytes; an attached document larger than it is refused with 413.
    pub buffer_bytes: u64,
    /// Requests per second one client (its API token, else its IP address) may make; above it
    /// the service answers 429. 0 turns the limit off.
    pub rate_per_second: u32,
    /// Requests a client may make at once on top of its rate (0: the rate).
    pub rate_burst: u32,
    /// Seconds a client has to send a request's head; slower ones get 408 (slowloris guard).
    pub header_seconds: u64,
    /// Seconds one request may take, body included; longer ones get 408.
    pub request_seconds: u64,
    /// Seconds an idle keep-alive connection stays open (0: no keep-alive).
    pub keep_alive_seconds: u64,
    /// Connections each worker serves at once; further ones wait in the listen backlog.
    pub max_connections: usize,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Tokens {
    pub ra_lifetime_days: u32,
    pub signer_lifetime_days: u32,
    /// Longest lifetime of a token created through the API (`POST /v1/tokens`).
    pub max_days: u32,
}

/// TLS, and client-certificate authentication (ISO 17090-5) when `client_auth` is set.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Tls {
    /// Server certificate chain (PEM).
    pub certificate: PathBuf,
    /// Server private key (PEM, PKCS#8).
    pub key: PathBuf,
    /// Require a client certificate issued by our authentication CA.
    #[serde(default)]
    pub client_auth: bool,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            listen: "127.0.0.1:8080".into(),
            data_dir: PathBuf::from("./hpki-data"),
            policies: None,
            base_url: "http://127.0.0.1:8080".into(),
            limits: Limits::default(),
            tokens: Tokens::default(),
            tls: None,
            durability: Durability::Fsync,
            store: StoreLocation::DataDir,
            ocsp: Ocsp::default(),
            tsa: TsaSettings::default(),
            keys: Keys::default(),
        }
    }
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            document_bytes: 64 * 1024 * 1024,
            json_bytes: 64 * 1024,
            verification_bytes: 16 * 1024 * 1024,
            // Four of the largest attached documents at once: 12 concurrent 60 MiB bodies took
            // 1 GB before there was a budget.
            buffer_bytes: 256 * 1024 * 1024,
            // Far above what one clinical system or RA needs, and above the debug server's pace
            // in the crash and load tests, yet a single runaway client cannot take the service.
            rate_per_second: 1000,
            rate_burst: 2000,
            header_seconds: 5,
            // A 64 MiB document at ~2 Mbit/s.
            request_seconds: 300,
            keep_alive_seconds: 5,
            // Two workers on a 2-core machine stay well under a 20,000 descriptor limit.
            max_connections: 4096,
        }
    }
}

impl Default for Tokens {
    fn default() -> Self {
        Self {
            ra_lifetime_days: 30,
            signer_lifetime_days: 90,
            max_days: 365,
        }
    }
}

/// Largest configuration file read.
const MAX_CONFIG: u64 = 1024 * 1024;

impl Config {
    /// Defaults ← `file` ← environment (`HPKI_LISTEN`, `HPKI_DATA_DIR`, `HPKI_POLICIES`,
    /// `HPKI_BASE_URL`, `HPKI_DOCUMENT_LIMIT`, `HPKI_JSON_LIMIT`, `HPKI_VERIFICATION_LIMIT`,
    /// `HPKI_BUFFER_LIMIT`,
    /// `HPKI_RATE_LIMIT`, `HPKI_RATE_BURST`, `HPKI_HEADER_TIMEOUT`, `HPKI_REQUEST_TIMEOUT`,
    /// `HPKI_MAX_CONNECTIONS`, `HPKI_RA_TOKEN_DAYS`, `HPKI_SIGNER_TOKEN_DAYS`, `HPKI_TLS_CERT`,
    /// `HPKI_TLS_KEY`, `HPKI_TLS_CLIENT_AUTH`, `HPKI_DURABILITY`, `HPKI_STORE`, `HPKI_OCSP_ENABLED` (`true` or
    /// `false`), `HPKI_OCSP_VALIDITY` (seconds), `HPKI_TSA_POLICY`, `HPKI_TSA_REQUIRE_AUTH`, and `[keys]`'s
    /// (`Keys::apply_env`)).
    pub fn load(
        file: Option<&Path>,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<Self, ConfigError> {
        let mut config = match file {
            Some(path) => {
                let read = |error| ConfigError::Read {
                    path: path.to_owned(),
                    error,
                };
                if std::fs::metadata(path).map_err(read)?.len() > MAX_CONFIG {
                    return Err(ConfigError::TooLarge {
                        path: path.to_owned(),
                    });
                }
                let text = std::fs::read_to_string(path).map_err(read)?;
                toml::from_str(&text).map_err(|error| ConfigError::Toml {
                    path: path.to_owned(),
                    error,
                })?
            }
            None => Config::default(),
        };
        fn number<T: FromStr>(name: &'static str, value: String) -> Result<T, ConfigError> {
            value
                .parse()
                .map_err(|_| ConfigError::Number { name, value })
        }
        if let Some(v) = env("HPKI_LISTEN") {
            config.listen = v;
        }
        if let Some(v) = env("HPKI_DATA_DIR") {
            config.data_dir = v.into();
        }
        if let Some(v) = env("HPKI_POLICIES") {
            config.policies = Some(v.into());
        }
        if let Some(v) = env("HPKI_BASE_URL") {
            config.base_url = v;
        }
        if let Some(v) = env("HPKI_DURABILITY") {
            config.durability = v.parse().map_err(ConfigError::Durability)?;
        }
        if let Some(v) = env("HPKI_STORE") {
            config.store = v.parse()?;
        }
        if let Some(v) = env("HPKI_TSA_POLICY") {
            config.tsa.policy = Some(v);
        }
        if let Some(v) = env("HPKI_TSA_REQUIRE_AUTH") {
            config.tsa.require_auth = matches!(v.as_str(), "1" | "true" | "yes");
        }
        if let Some(v) = env("HPKI_TSA_URL") {
            config.tsa.url = Some(v);
        }
        if let Some(v) = env("HPKI_TSA_TRUST_ANCHOR") {
            config.tsa.trust_anchor = Some(v.into());
        }
        if let Some(v) = env("HPKI_TSA_USERNAME") {
            config.tsa.username = Some(v);
        }
        if let Some(v) = env("HPKI_TSA_PASSWORD") {
            config.tsa.password = Some(v);
        }
        if let Some(v) = env("HPKI_TSA_BEARER_TOKEN") {
            config.tsa.bearer_token = Some(v);
        }
        if let Some(v) = env("HPKI_TSA_TIMEOUT") {
            config.tsa.timeout_seconds = number("HPKI_TSA_TIMEOUT", v)?;
        }
        let tsa = &config.tsa;
        if let Some(url) = &tsa.url {
            let rest = url
                .strip_prefix("https://")
                .or_else(|| url.strip_prefix("http://"));
            match rest {
                None => return Err(ConfigError::Invalid("tsa.url must be http:// or https://")),
                // Credentials in the URL would reach logs and error messages.
                Some(rest) if rest.split('/').next().is_some_and(|h| h.contains('@')) => {
                    return Err(ConfigError::Invalid(
                        "tsa.url must not hold credentials: use tsa.username/password or \
                         tsa.bearer_token",
                    ));
                }
                Some(_) => {}
            }
            if tsa.trust_anchor.is_none() {
                return Err(ConfigError::Invalid(
                    "tsa.url needs tsa.trust_anchor: the certificate its tokens must chain to",
                ));
            }
        }
        if tsa.bearer_token.is_some() && (tsa.username.is_some() || tsa.password.is_some()) {
            return Err(ConfigError::Invalid(
                "tsa: give username/password or bearer_token, not both",
            ));
        }
        if tsa.username.is_some() != tsa.password.is_some() {
            return Err(ConfigError::Invalid(
                "tsa: username and password go together",
            ));
        }
        if tsa.timeout_seconds == 0 {
            return Err(ConfigError::Invalid(
                "tsa.timeout_seconds must be at least 1",
            ));
        }
        if let Some(v) = env("HPKI_DOCUMENT_LIMIT") {
            config.limits.document_bytes = number("HPKI_DOCUMENT_LIMIT", v)?;
        }
        if let Some(v) = env("HPKI_JSON_LIMIT") {
            config.limits.json_bytes = number("HPKI_JSON_LIMIT", v)?;
        }
        if let Some(v) = env("HPKI_VERIFICATION_LIMIT") {
            config.limits.verification_bytes = number("HPKI_VERIFICATION_LIMIT", v)?;
        }
        if let Some(v) = env("HPKI_BUFFER_LIMIT") {
            config.limits.buffer_bytes = number("HPKI_BUFFER_LIMIT", v)?;
        }
        if let Some(v) = env("HPKI_RATE_LIMIT") {
            config.limits.rate_per_second = number("HPKI_RATE_LIMIT", v)?;
        }
        if let Some(v) = env("HPKI_RATE_BURST") {
            config.limits.rate_burst = number("HPKI_RATE_BURST", v)?;
        }
        if let Some(v) = env("HPKI_HEADER_TIMEOUT") {
            config.limits.header_seconds = number("HPKI_HEADER_TIMEOUT", v)?;
        }
        if let Some(v) = env("HPKI_REQUEST_TIMEOUT") {
            config.limits.request_seconds = number("HPKI_REQUEST_TIMEOUT", v)?;
        }
        if let Some(v) = env("HPKI_MAX_CONNECTIONS") {
            config.limits.max_connections = number("HPKI_MAX_CONNECTIONS", v)?;
        }
        if let Some(v) = env("HPKI_RA_TOKEN_DAYS") {
            config.tokens.ra_lifetime_days = number("HPKI_RA_TOKEN_DAYS", v)?;
        }
        if let Some(v) = env("HPKI_SIGNER_TOKEN_DAYS") {
            config.tokens.signer_lifetime_days = number("HPKI_SIGNER_TOKEN_DAYS", v)?;
        }
        if let Some(v) = env("HPKI_OCSP_ENABLED") {
            config.ocsp.enabled = number("HPKI_OCSP_ENABLED", v)?;
        }
        if let Some(v) = env("HPKI_OCSP_VALIDITY") {
            config.ocsp.validity_seconds = number("HPKI_OCSP_VALIDITY", v)?;
        }
        if config.ocsp.validity_seconds == 0 {
            return Err(ConfigError::Invalid(
                "ocsp.validity_seconds must be at least 1",
            ));
        }
        config.keys = std::mem::take(&mut config.keys).apply_env(&env)?;
        if let Some(v) = env("HPKI_TOKEN_MAX_DAYS") {
            config.tokens.max_days = number("HPKI_TOKEN_MAX_DAYS", v)?;
        }
        let t = &config.tokens;
        if t.max_days == 0
            || !(1..=t.max_days).contains(&t.ra_lifetime_days)
            || !(1..=t.max_days).contains(&t.signer_lifetime_days)
        {
            return Err(ConfigError::Invalid(
                "token lifetimes must be from 1 day to tokens.max_days",
            ));
        }
        match (env("HPKI_TLS_CERT"), env("HPKI_TLS_KEY")) {
            (Some(certificate), Some(key)) => {
                // The environment replaces the server certificate and key only; the file's
                // client-certificate settings stay (dropping them would silently turn mTLS off).
                let client_auth = config.tls.as_ref().is_some_and(|t| t.client_auth);
                config.tls = Some(Tls {
                    certificate: certificate.into(),
                    key: key.into(),
                    client_auth,
                });
            }
            (None, None) => {}
            _ => {
                return Err(ConfigError::Invalid(
                    "set both HPKI_TLS_CERT and HPKI_TLS_KEY, or neither",
                ));
            }
        }
        if let Some(v) = env("HPKI_TLS_CLIENT_AUTH") {
            match config.tls.as_mut() {
                Some(tls) => tls.client_auth = matches!(v.as_str(), "1" | "true" | "yes"),
                None => {
                    return Err(ConfigError::Invalid(
                        "HPKI_TLS_CLIENT_AUTH needs TLS (HPKI_TLS_CERT, HPKI_TLS_KEY)",
                    ));
                }
            }
        }
        let l = &config.limits;
        if l.json_bytes == 0
            || l.document_bytes == 0
            || l.verification_bytes == 0
            || l.header_seconds == 0
            || l.request_seconds == 0
            || l.max_connections == 0
        {
            return Err(ConfigError::Invalid(
                "body limits, header and request timeouts and max_connections must be positive",
            ));
        }
        // A body the budget could never hold would be refused with 503 forever. Attached
        // documents are the exception: one over the budget is a 413 (detached ones stream).
        if l.buffer_bytes < l.verification_bytes.max(l.json_bytes as u64) {
            return Err(ConfigError::Invalid(
                "limits.buffer_bytes must be at least verification_bytes and json_bytes",
            ));
        }
        Ok(config)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_then_environment() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("hpki.toml");
        std::fs::write(
            &file,
            "listen = \"127.0.0.1:9\"\n[limits]\njson_bytes = 1000\n",
        )
        .unwrap();
        let env = |k: &str| (k == "HPKI_JSON_LIMIT").then(|| "2000".to_owned());
        let c = Config::load(Some(&file), env).unwrap();
        assert_eq!(c.listen, "127.0.0.1:9");
        assert_eq!(c.limits.json_bytes, 2000);
        assert_eq!(c.limits.document_bytes, 64 * 1024 * 1024);

        std::fs::write(&file, "lissen = 1\n").unwrap();
        let err = Config::load(Some(&file), |_| None).unwrap_err();
        assert!(format!("{err:#}").contains("lissen"), "{err:#}");
        let err = Config::load(None, |k| (k == "HPKI_TLS_CERT").then(|| "x".into())).unwrap_err();
        assert!(err.to_string().contains("HPKI_TLS_KEY"));
    }

    #[test]
    fn buffer_budget_from_file_and_environment_holds_every_buffered_body() {
        let c = Config::load(None, |_| None).unwrap();
        assert_eq!(c.limits.buffer_bytes, 256 * 1024 * 1024);
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("hpki.toml");
        std::fs::write(&file, "[limits]\nbuffer_bytes = 33554432\n").unwrap();
        let c = Config::load(Some(&file), |_| None).unwrap();
        assert_eq!(c.limits.buffer_bytes, 32 * 1024 * 1024);
        let env = |k: &str| (k == "HPKI_BUFFER_LIMIT").then(|| "20000000".to_owned());
        assert_eq!(
            Config::load(Some(&file), env).unwrap().limits.buffer_bytes,
            20_000_000
        );
        // Below the 16 MiB verification limit, a verification could never be buffered.
        let env = |k: &str| (k == "HPKI_BUFFER_LIMIT").then(|| "1000000".to_owned());
        let err = Config::load(None, env).unwrap_err();
        assert!(err.to_string().contains("buffer_bytes"), "{err}");
    }

    #[test]
    fn tls_environment_keeps_the_files_client_auth() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("hpki.toml");
        std::fs::write(
            &file,
            "[tls]\ncertificate = \"file.pem\"\nkey = \"file.key\"\nclient_auth = true\n",
        )
        .unwrap();
        let env = |k: &str| match k {
            "HPKI_TLS_CERT" => Some("env.pem".to_owned()),
            "HPKI_TLS_KEY" => Some("env.key".to_owned()),
            _ => None,
        };
        let tls = Config::load(Some(&file), env).unwrap().tls.unwrap();
        assert_eq!(tls.certificate, PathBuf::from("env.pem"));
        assert_eq!(tls.key, PathBuf::from("env.key"));
        assert!(tls.client_auth, "the file's client_auth was dropped");
        // HPKI_TLS_CLIENT_AUTH still overrides the file.
        let env_off = |k: &str| match k {
            "HPKI_TLS_CLIENT_AUTH" => Some("false".to_owned()),
            k => env(k),
        };
        let tls = Config::load(Some(&file), env_off).unwrap().tls.unwrap();
        assert!(!tls.client_auth);
    }

    #[test]
    fn tsa_settings_from_file_and_environment() {
        let c = Config::load(None, |_| None).unwrap();
        assert_eq!(c.tsa.policy, None);
        assert!(!c.tsa.require_auth, "the TSA is open by default");
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("hpki.toml");
        std::fs::write(
            &file,
            "[tsa]\npolicy = \"1.2.392.1.2.3\"\nrequire_auth = true\n",
        )
        .unwrap();
        let c = Config::load(Some(&file), |_| None).unwrap();
        assert_eq!(c.tsa.policy.as_deref(), Some("1.2.392.1.2.3"));
        assert!(c.tsa.require_auth);
        let env = |k: &str| match k {
            "HPKI_TSA_POLICY" => Some("1.2.392.9".to_owned()),
            "HPKI_TSA_REQUIRE_AUTH" => Some("false".to_owned()),
            _ => None,
        };
        let c = Config::load(Some(&file), env).unwrap();
        assert_eq!(c.tsa.policy.as_deref(), Some("1.2.392.9"));
        assert!(!c.tsa.require_auth);
        std::fs::write(&file, "[tsa]\npolicie = \"1.2\"\n").unwrap();
        assert!(Config::load(Some(&file), |_| None).is_err());
    }

    #[test]
    fn a_foreign_tsa_from_file_and_environment_hides_its_credentials() {
        let c = Config::load(None, |_| None).unwrap();
        assert_eq!(c.tsa.url, None, "the built-in TSA by default");
        assert_eq!(c.tsa.timeout_seconds, 10);
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("hpki.toml");
        std::fs::write(
            &file,
            "[tsa]\nurl = \"https://tsa.example.org/\"\ntrust_anchor = \"tsa-root.pem\"\n\
             username = \"hospital\"\npassword = \"s3cret-pw\"\ntimeout_seconds = 5\n",
        )
        .unwrap();
        let c = Config::load(Some(&file), |_| None).unwrap();
        assert_eq!(c.tsa.url.as_deref(), Some("https://tsa.example.org/"));
        assert_eq!(c.tsa.timeout_seconds, 5);
        let debug = format!("{c:?}");
        assert!(
            !debug.contains("s3cret-pw") && debug.contains("<set>"),
            "{debug}"
        );
        let env = |k: &str| match k {
            "HPKI_TSA_URL" => Some("http://tsa.internal:3180/tsr".to_owned()),
            "HPKI_TSA_TIMEOUT" => Some("30".to_owned()),
            _ => None,
        };
        let c = Config::load(Some(&file), env).unwrap();
        assert_eq!(c.tsa.url.as_deref(), Some("http://tsa.internal:3180/tsr"));
        assert_eq!(c.tsa.timeout_seconds, 30);
        // Refused: credentials in the URL, no anchor, both kinds of credential, half of basic.
        for (text, why) in [
            (
                "url = \"https://u:p@tsa.example.org/\"\ntrust_anchor = \"a.pem\"",
                "credentials",
            ),
            ("url = \"https://tsa.example.org/\"", "trust_anchor"),
            (
                "url = \"ftp://tsa.example.org/\"\ntrust_anchor = \"a.pem\"",
                "http",
            ),
            (
                "bearer_token = \"t\"\nusername = \"u\"\npassword = \"p\"",
                "not both",
            ),
            ("username = \"u\"", "together"),
            ("timeout_seconds = 0", "at least 1"),
        ] {
            std::fs::write(&file, format!("[tsa]\n{text}\n")).unwrap();
            let e = Config::load(Some(&file), |_| None).unwrap_err().to_string();
            assert!(e.contains(why), "{text}: {e}");
        }
    }

    #[test]
    fn ocsp_from_file_and_environment() {
        let c = Config::load(None, |_| None).unwrap();
        assert!(c.ocsp.enabled, "the responder is on by default");
        assert_eq!(c.ocsp.validity_seconds, 3600);
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("hpki.toml");
        std::fs::write(
            &file,
            "[ocsp]
enabled = false
validity_seconds = 600
",
        )
        .unwrap();
        let c = Config::load(Some(&file), |_| None).unwrap();
        assert!(!c.ocsp.enabled);
        assert_eq!(c.ocsp.validity_seconds, 600);
        let env = |k: &str| match k {
            "HPKI_OCSP_ENABLED" => Some("true".to_owned()),
            "HPKI_OCSP_VALIDITY" => Some("60".to_owned()),
            _ => None,
        };
        let c = Config::load(Some(&file), env).unwrap();
        assert!(c.ocsp.enabled);
        assert_eq!(c.ocsp.validity_seconds, 60);
        let err = Config::load(None, |k| (k == "HPKI_OCSP_VALIDITY").then(|| "0".into()));
        assert!(format!("{:#}", err.unwrap_err()).contains("validity_seconds"));
        std::fs::write(
            &file,
            "[ocsp]
enable = true
",
        )
        .unwrap();
        let err = Config::load(Some(&file), |_| None).unwrap_err();
        assert!(format!("{err:#}").contains("enable"), "{err:#}");
    }

    #[test]
    fn store_from_file_and_environment_with_the_url_kept_out_of_debug() {
        assert_eq!(
            Config::load(None, |_| None).unwrap().store,
            StoreLocation::DataDir
        );
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("hpki.toml");
        std::fs::write(&file, "store = \"sled:/var/lib/hpki/store\"\n").unwrap();
        let c = Config::load(Some(&file), |_| None).unwrap();
        assert_eq!(c.store, StoreLocation::Sled("/var/lib/hpki/store".into()));
        let url = "postgres://hpki:s3cret@db.example/hpki";
        let env = |k: &str| (k == "HPKI_STORE").then(|| url.to_owned());
        let c = Config::load(Some(&file), env).unwrap();
        assert_eq!(c.store, StoreLocation::Postgres(url.into()));
        // The URL may carry the database password: never in Debug (so never in a log line).
        assert!(!format!("{c:?}").contains("s3cret"), "{c:?}");
        for bad in ["sled:", "mysql://db/hpki", "/var/lib/hpki"] {
            let env = |k: &str| (k == "HPKI_STORE").then(|| bad.to_owned());
            let err = Config::load(None, env).unwrap_err();
            assert!(format!("{err:#}").contains("store:"), "{bad}: {err:#}");
        }
        std::fs::write(&file, "store = \"redis://x\"\n").unwrap();
        assert!(Config::load(Some(&file), |_| None).is_err());
    }

    #[test]
    fn durability_from_file_and_environment() {
        assert_eq!(
            Config::load(None, |_| None).unwrap().durability,
            Durability::Fsync
        );
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("hpki.toml");
        std::fs::write(&file, "durability = \"write\"\n").unwrap();
        let c = Config::load(Some(&file), |_| None).unwrap();
        assert_eq!(c.durability, Durability::Write);
        let env = |k: &str| (k == "HPKI_DURABILITY").then(|| "fsync".to_owned());
        assert_eq!(
            Config::load(Some(&file), env).unwrap().durability,
            Durability::Fsync
        );
        let env = |k: &str| (k == "HPKI_DURABILITY").then(|| "never".to_owned());
        let err = Config::load(None, env).unwrap_err();
        assert!(format!("{err:#}").contains("never"), "{err:#}");
        std::fs::write(&file, "durability = \"later\"\n").unwrap();
        assert!(Config::load(Some(&file), |_| None).is_err());
    }

    #[test]
    fn rate_limit_and_timeouts_from_file_and_environment() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("hpki.toml");
        std::fs::write(
            &file,
            "[limits]\nrate_per_second = 7\nrate_burst = 9\nheader_seconds = 3\n",
        )
        .unwrap();
        let c = Config::load(Some(&file), |_| None).unwrap();
        assert_eq!((c.limits.rate_per_second, c.limits.rate_burst), (7, 9));
        assert_eq!(c.limits.header_seconds, 3);
        let env = |k: &str| match k {
            "HPKI_RATE_LIMIT" => Some("0".to_owned()),
            "HPKI_REQUEST_TIMEOUT" => Some("11".to_owned()),
            _ => None,
        };
        let c = Config::load(Some(&file), env).unwrap();
        assert_eq!(c.limits.rate_per_second, 0, "0 turns the limit off");
        assert_eq!(c.limits.request_seconds, 11);
        let err = Config::load(None, |k| (k == "HPKI_HEADER_TIMEOUT").then(|| "0".into()));
        assert!(
            err.is_err(),
            "a zero header timeout would refuse every request"
        );
        let err = Config::load(None, |k| (k == "HPKI_RATE_LIMIT").then(|| "lots".into()));
        assert!(format!("{:#}", err.unwrap_err()).contains("HPKI_RATE_LIMIT"));
        // Out of the field's range is refused, not truncated (2^32 days would wrap to 0).
        let err = Config::load(None, |k| {
            (k == "HPKI_RA_TOKEN_DAYS").then(|| "4294967296".into())
        });
        assert!(
            matches!(
                err,
                Err(ConfigError::Number {
                    name: "HPKI_RA_TOKEN_DAYS",
                    ..
                })
            ),
            "{err:?}"
        );
    }

    #[test]
    fn keys_from_file_then_environment() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.toml");
        std::fs::write(
            &path,
            "[keys]\nbackend = \"pkcs11\"\nmodule = \"/usr/lib/softhsm/libsofthsm2.so\"\n\
             token_label = \"hpki\"\npin_file = \"/etc/hpki/pin\"\n",
        )
        .unwrap();
        let c = Config::load(Some(&path), |_| None).unwrap();
        assert_eq!(c.keys.backend, KeyBackendKind::Pkcs11);
        assert_eq!(c.keys.token_label.as_deref(), Some("hpki"));
        assert!(!c.keys.credentials_in_token);
        let env = |k: &str| match k {
            "HPKI_PKCS11_TOKEN" => Some("ward".to_owned()),
            "HPKI_CREDENTIALS_IN_TOKEN" => Some("true".to_owned()),
            // Read when the token is opened, never into the configuration.
            "HPKI_PKCS11_PIN" => Some("secret-pin-4711".to_owned()),
            _ => None,
        };
        let c = Config::load(Some(&path), env).unwrap();
        assert_eq!(c.keys.token_label.as_deref(), Some("ward"));
        assert!(c.keys.credentials_in_token);
        assert!(!format!("{c:?}").contains("secret-pin-4711"));

        // pkcs11 names its module and token; credentials in a token need one.
        std::fs::write(&path, "[keys]\nbackend = \"pkcs11\"\n").unwrap();
        let err = Config::load(Some(&path), |_| None).unwrap_err();
        assert!(err.to_string().contains("keys.module"), "{err}");
        let err = Config::load(None, |k| {
            (k == "HPKI_CREDENTIALS_IN_TOKEN").then(|| "true".to_owned())
        })
        .unwrap_err();
        assert!(err.to_string().contains("credentials_in_token"), "{err}");
        let err = Config::load(None, |k| {
            (k == "HPKI_KEYS_BACKEND").then(|| "hsm".to_owned())
        })
        .unwrap_err();
        assert!(err.to_string().contains("keys.backend"), "{err}");
        std::fs::write(&path, "[keys]\npin = \"1234\"\n").unwrap();
        assert!(
            Config::load(Some(&path), |_| None).is_err(),
            "a PIN in the file"
        );
    }
}
