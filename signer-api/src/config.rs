//! Service configuration: built-in defaults, then a TOML file (`--config`), then `HPKI_*`
//! environment variables, each overriding the one before.

use anyhow::{Context, Result, bail};
use serde::Deserialize;
use std::path::{Path, PathBuf};

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
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Tokens {
    pub ra_lifetime_days: u32,
    pub signer_lifetime_days: u32,
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
        }
    }
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            document_bytes: 64 * 1024 * 1024,
            json_bytes: 64 * 1024,
            verification_bytes: 16 * 1024 * 1024,
        }
    }
}

impl Default for Tokens {
    fn default() -> Self {
        Self {
            ra_lifetime_days: 30,
            signer_lifetime_days: 90,
        }
    }
}

/// Largest configuration file read.
const MAX_CONFIG: u64 = 1024 * 1024;

impl Config {
    /// Defaults ← `file` ← environment (`HPKI_LISTEN`, `HPKI_DATA_DIR`, `HPKI_POLICIES`,
    /// `HPKI_BASE_URL`, `HPKI_DOCUMENT_LIMIT`, `HPKI_JSON_LIMIT`, `HPKI_VERIFICATION_LIMIT`,
    /// `HPKI_RA_TOKEN_DAYS`, `HPKI_SIGNER_TOKEN_DAYS`, `HPKI_TLS_CERT`, `HPKI_TLS_KEY`, `HPKI_TLS_CLIENT_AUTH`).
    pub fn load(file: Option<&Path>, env: impl Fn(&str) -> Option<String>) -> Result<Self> {
        let mut config = match file {
            Some(path) => {
                let len = std::fs::metadata(path)
                    .with_context(|| format!("reading {}", path.display()))?
                    .len();
                if len > MAX_CONFIG {
                    bail!("{} is larger than {MAX_CONFIG} bytes", path.display());
                }
                let text = std::fs::read_to_string(path)
                    .with_context(|| format!("reading {}", path.display()))?;
                toml::from_str(&text).with_context(|| format!("{}", path.display()))?
            }
            None => Config::default(),
        };
        let number = |name: &str, value: String| -> Result<u64> {
            value
                .parse()
                .with_context(|| format!("{name}={value:?} is not a number"))
        };
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
        if let Some(v) = env("HPKI_DOCUMENT_LIMIT") {
            config.limits.document_bytes = number("HPKI_DOCUMENT_LIMIT", v)?;
        }
        if let Some(v) = env("HPKI_JSON_LIMIT") {
            config.limits.json_bytes = number("HPKI_JSON_LIMIT", v)? as usize;
        }
        if let Some(v) = env("HPKI_VERIFICATION_LIMIT") {
            config.limits.verification_bytes = number("HPKI_VERIFICATION_LIMIT", v)?;
        }
        if let Some(v) = env("HPKI_RA_TOKEN_DAYS") {
            config.tokens.ra_lifetime_days = number("HPKI_RA_TOKEN_DAYS", v)? as u32;
        }
        if let Some(v) = env("HPKI_SIGNER_TOKEN_DAYS") {
            config.tokens.signer_lifetime_days = number("HPKI_SIGNER_TOKEN_DAYS", v)? as u32;
        }
        match (env("HPKI_TLS_CERT"), env("HPKI_TLS_KEY")) {
            (Some(certificate), Some(key)) => {
                config.tls = Some(Tls {
                    certificate: certificate.into(),
                    key: key.into(),
                    client_auth: false,
                });
            }
            (None, None) => {}
            _ => bail!("set both HPKI_TLS_CERT and HPKI_TLS_KEY, or neither"),
        }
        if let Some(v) = env("HPKI_TLS_CLIENT_AUTH") {
            match config.tls.as_mut() {
                Some(tls) => tls.client_auth = matches!(v.as_str(), "1" | "true" | "yes"),
                None => bail!("HPKI_TLS_CLIENT_AUTH needs TLS (HPKI_TLS_CERT, HPKI_TLS_KEY)"),
            }
        }
        if config.limits.json_bytes == 0
            || config.limits.document_bytes == 0
            || config.limits.verification_bytes == 0
        {
            bail!("limits must be positive");
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
}
