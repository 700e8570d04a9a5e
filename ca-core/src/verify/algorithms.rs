//! The dated algorithm catalogue (`policies/algorithms/catalogue.toml`, modelled on ETSI TS 119
//! 312): which hashes and signature keys stop being acceptable on which day. Parsed once (the
//! embedded default is a static), then every lookup is a scan of a handful of rules: cold
//! verification pays nothing measurable for it.
//!
//! Judged against the validation time only (EN 319 102-1 §5.2.8 cryptographic constraints):
//! a signature that verifies but uses an algorithm past its sunset is INDETERMINATE /
//! CRYPTO_CONSTRAINTS_FAILURE_NO_POE, never a signature failure.

use crate::engine::digest::DigestAlgorithm;
use crate::engine::key::{KeyAlgorithm, KeyParams};
use serde::Deserialize;
use std::sync::{Arc, LazyLock};

/// The embedded catalogue's path under `policies/`, for messages.
const FILE: &str = "algorithms/catalogue.toml";
/// Largest catalogue accepted.
const MAX_LEN: usize = 64 << 10;

/// A catalogue file that breaks a rule: the file, the key, what is wrong.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("{file}: {key}: {rule}")]
pub struct CatalogueError {
    /// The catalogue file.
    pub file: String,
    /// The key in it.
    pub key: String,
    /// What is wrong.
    pub rule: String,
}

/// Key families as the catalogue names them (EC keys by curve size).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
enum KeyFamily {
    Rsa,
    Dsa,
    Ec,
    Ed25519,
}

impl KeyFamily {
    fn of(a: KeyAlgorithm) -> Self {
        match a {
            KeyAlgorithm::Rsa => Self::Rsa,
            KeyAlgorithm::Dsa => Self::Dsa,
            KeyAlgorithm::P256 | KeyAlgorithm::P384 | KeyAlgorithm::P521 => Self::Ec,
            KeyAlgorithm::Ed25519 => Self::Ed25519,
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CatalogueFile {
    #[allow(dead_code)] // read by people and the policies README test
    title: String,
    #[serde(default)]
    hash: Vec<HashEntry>,
    #[serde(default)]
    key: Vec<KeyEntry>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct HashEntry {
    algorithm: String,
    sunset: toml::value::Datetime,
    source: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct KeyEntry {
    family: KeyFamily,
    below_bits: Option<u32>,
    sunset: toml::value::Datetime,
    source: String,
}

/// A sunset: the first instant (Unix seconds) of the day, the day as written, and why.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Sunset {
    at: u64,
    day: String,
    source: String,
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Rule {
    Hash(DigestAlgorithm),
    Key {
        family: KeyFamily,
        below_bits: Option<u32>,
    },
}

/// The parsed catalogue: each rule with its sunset.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AlgorithmCatalogue {
    rules: Vec<(Rule, Sunset)>,
}

/// An algorithm used on or after its sunset: what, since when, and the catalogue's source.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Refusal {
    /// The algorithm's name in the catalogue.
    pub algorithm: String,
    /// The sunset day (YYYY-MM-DD).
    pub sunset: String,
    /// Where the catalogue says the sunset comes from.
    pub source: String,
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} is not acceptable from {} on (algorithm catalogue: {})",
            self.algorithm, self.sunset, self.source
        )
    }
}

static EMBEDDED: LazyLock<Arc<AlgorithmCatalogue>> = LazyLock::new(|| {
    // Compile-time data, loaded by a test (`embedded_catalogue_loads`): never untrusted input.
    let parsed = AlgorithmCatalogue::from_toml(
        FILE,
        include_str!("../../../policies/algorithms/catalogue.toml"),
    );
    Arc::new(parsed.unwrap_or_else(|e| panic!("embedded {FILE}: {e}")))
});

fn invalid(file: &str, key: &str, rule: impl Into<String>) -> CatalogueError {
    CatalogueError {
        file: file.into(),
        key: key.into(),
        rule: rule.into(),
    }
}

/// A TOML local date (no time, no offset) as the Unix seconds of its 00:00:00Z.
fn day(file: &str, key: &str, d: &toml::value::Datetime) -> Result<Sunset, CatalogueError> {
    let date = match (d.date, d.time, d.offset) {
        (Some(date), None, None) => date,
        _ => return Err(invalid(file, key, "sunset must be a date (YYYY-MM-DD)")),
    };
    let dt = der::DateTime::new(date.year, date.month, date.day, 0, 0, 0)
        .map_err(|e| invalid(file, key, format!("sunset {d}: {e}")))?;
    Ok(Sunset {
        at: dt.unix_duration().as_secs(),
        day: d.to_string(),
        source: String::new(),
    })
}

impl AlgorithmCatalogue {
    /// The catalogue shipped in `policies/algorithms/catalogue.toml`, parsed once.
    pub fn embedded() -> Arc<Self> {
        Arc::clone(&EMBEDDED)
    }

    /// A catalogue with no rule: every algorithm hpki verifies is acceptable at any time.
    pub fn empty() -> Self {
        Self { rules: Vec::new() }
    }

    /// From TOML text; `file` names it in errors.
    pub fn from_toml(file: &str, text: &str) -> Result<Self, CatalogueError> {
        if text.len() > MAX_LEN {
            return Err(invalid(
                file,
                "(file)",
                format!("{} bytes; the limit is {MAX_LEN}", text.len()),
            ));
        }
        let parsed: CatalogueFile =
            toml::from_str(text).map_err(|e| invalid(file, "(toml)", e.message()))?;
        let mut rules = Vec::new();
        for (i, h) in parsed.hash.iter().enumerate() {
            let key = format!("hash[{i}]");
            let algorithm = match h.algorithm.as_str() {
                "sha1" => DigestAlgorithm::Sha1,
                "sha224" => DigestAlgorithm::Sha224,
                other => DigestAlgorithm::from_name(other).ok_or_else(|| {
                    invalid(
                        file,
                        &key,
                        format!("unknown hash {other:?} (sha1, sha224, sha256, sha384, sha512)"),
                    )
                })?,
            };
            rules.push((
                Rule::Hash(algorithm),
                sourced(file, &key, &h.sunset, &h.source)?,
            ));
        }
        for (i, k) in parsed.key.iter().enumerate() {
            let key = format!("key[{i}]");
            if k.below_bits == Some(0) {
                return Err(invalid(file, &key, "below_bits must be at least 1"));
            }
            rules.push((
                Rule::Key {
                    family: k.family,
                    below_bits: k.below_bits,
                },
                sourced(file, &key, &k.sunset, &k.source)?,
            ));
        }
        for (i, (rule, _)) in rules.iter().enumerate() {
            if rules[..i].iter().any(|(r, _)| r == rule) {
                return Err(invalid(file, "(rules)", format!("{rule:?} appears twice")));
            }
        }
        // Earliest sunset first: a refusal names the first rule that refused.
        rules.sort_by_key(|(_, s)| s.at);
        Ok(Self { rules })
    }

    /// Whether a signature with `hashes` (digest and signature hash; repeats are fine) and a key
    /// of `key` is acceptable at `at` (Unix seconds); the earliest passed sunset otherwise.
    pub fn check(
        &self,
        at: u64,
        hashes: &[DigestAlgorithm],
        key: Option<KeyParams>,
    ) -> Result<(), Refusal> {
        match self.first_sunset(hashes, key) {
            Some((sunset, refusal)) if at >= sunset => Err(refusal),
            _ => Ok(()),
        }
    }

    /// The earliest sunset (Unix seconds, and what it refuses) among the rules that apply to
    /// `hashes` and `key`, passed or not: the day a proof of existence made with them must be
    /// renewed by. `None`: no rule applies (no sunset yet).
    pub fn first_sunset(
        &self,
        hashes: &[DigestAlgorithm],
        key: Option<KeyParams>,
    ) -> Option<(u64, Refusal)> {
        for (rule, sunset) in &self.rules {
            let algorithm = match rule {
                Rule::Hash(h) if hashes.contains(h) => format!("{h}"),
                Rule::Key { family, below_bits } => match key {
                    Some(k)
                        if KeyFamily::of(k.algorithm) == *family
                            && below_bits.is_none_or(|b| k.bits < b) =>
                    {
                        let size =
                            below_bits.map_or(String::new(), |b| format!(" (below {b} bits)"));
                        format!("{k}{size}")
                    }
                    _ => continue,
                },
                Rule::Hash(_) => continue,
            };
            return Some((
                sunset.at,
                Refusal {
                    algorithm,
                    sunset: sunset.day.clone(),
                    source: sunset.source.clone(),
                },
            ));
        }
        None
    }
}

/// CertificateList (RFC 5280 §5.1) as far as the signature: the TBSCertList is left encoded.
#[derive(der::Sequence)]
struct CrlOutline<'a> {
    tbs_cert_list: der::asn1::AnyRef<'a>,
    signature_algorithm: spki::AlgorithmIdentifierRef<'a>,
    #[allow(dead_code)] // decoded so that the outline is the whole CRL, not read
    signature: der::asn1::BitStringRef<'a>,
}

/// A CRL's issuer and signature algorithm, reading the TBSCertList (RFC 5280 §5.1.2) only up to
/// its issuer (version, signature, issuer come first): the revoked list is not decoded.
pub(crate) fn crl_signer(
    der: &[u8],
) -> Option<(x509_cert::name::Name, spki::AlgorithmIdentifierOwned)> {
    use der::{Decode, Reader, Tag};
    let outline = CrlOutline::from_der(der).ok()?;
    let mut tbs = der::SliceReader::new(outline.tbs_cert_list.value()).ok()?;
    if Tag::peek(&tbs).ok()? == Tag::Integer {
        let _version: u8 = tbs.decode().ok()?;
    }
    let _signature: spki::AlgorithmIdentifierRef<'_> = tbs.decode().ok()?;
    let issuer: x509_cert::name::Name = tbs.decode().ok()?;
    Some((issuer, outline.signature_algorithm.into()))
}

fn sourced(
    file: &str,
    key: &str,
    d: &toml::value::Datetime,
    source: &str,
) -> Result<Sunset, CatalogueError> {
    if source.trim().is_empty() {
        return Err(invalid(file, key, "source must say why (non-empty)"));
    }
    Ok(Sunset {
        source: source.to_string(),
        ..day(file, key, d)?
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const JAN_2012: u64 = 1_325_376_000;
    const JAN_2026: u64 = 1_767_225_600;

    #[test]
    fn embedded_catalogue_loads() {
        let c = AlgorithmCatalogue::embedded();
        assert!(!c.rules.is_empty());
    }

    #[test]
    fn sha1_and_dsa_1024_pass_in_2012_and_are_refused_with_their_date_in_2026() {
        let c = AlgorithmCatalogue::embedded();
        let dsa = KeyParams {
            algorithm: KeyAlgorithm::Dsa,
            bits: 1024,
        };
        assert_eq!(
            c.check(JAN_2012, &[DigestAlgorithm::Sha1], Some(dsa)),
            Ok(())
        );
        let r = c
            .check(JAN_2026, &[DigestAlgorithm::Sha256], Some(dsa))
            .unwrap_err();
        assert_eq!(r.algorithm, "DSA 1024 (below 2048 bits)");
        assert_eq!(r.sunset, "2014-01-01");
        let r = c
            .check(JAN_2026, &[DigestAlgorithm::Sha1], None)
            .unwrap_err();
        assert_eq!(
            (r.algorithm.as_str(), r.sunset.as_str()),
            ("SHA-1", "2014-01-01")
        );
        let p256 = KeyParams {
            algorithm: KeyAlgorithm::P256,
            bits: 256,
        };
        assert_eq!(
            c.check(JAN_2026, &[DigestAlgorithm::Sha384], Some(p256)),
            Ok(())
        );
    }

    #[test]
    fn a_sunset_is_the_first_second_of_its_day() {
        let c = AlgorithmCatalogue::from_toml(
            "t.toml",
            "title = \"t\"\n[[hash]]\nalgorithm = \"sha1\"\nsunset = 2014-01-01\nsource = \"x\"\n",
        )
        .unwrap();
        let sunset = 1_388_534_400; // 2014-01-01T00:00:00Z
        assert!(c.check(sunset - 1, &[DigestAlgorithm::Sha1], None).is_ok());
        assert!(c.check(sunset, &[DigestAlgorithm::Sha1], None).is_err());
    }

    #[test]
    fn unknown_keys_bad_dates_and_unknown_hashes_are_refused() {
        let bad = [
            ("title = \"t\"\ncolour = 1\n", "unknown field"),
            (
                "title = \"t\"\n[[hash]]\nalgorithm = \"md5\"\nsunset = 2000-01-01\nsource = \"x\"\n",
                "unknown hash",
            ),
            (
                "title = \"t\"\n[[hash]]\nalgorithm = \"sha1\"\nsunset = 2000-01-01T00:00:00Z\nsource = \"x\"\n",
                "must be a date",
            ),
            (
                "title = \"t\"\n[[key]]\nfamily = \"rsa\"\nsunset = 2000-01-01\nsource = \"\"\n",
                "source must say why",
            ),
            (
                "title = \"t\"\n[[key]]\nfamily = \"rsa\"\nsunset = 2000-01-01\nsource = \"a\"\n[[key]]\nfamily = \"rsa\"\nsunset = 2001-01-01\nsource = \"b\"\n",
                "appears twice",
            ),
        ];
        for (text, want) in bad {
            let e = AlgorithmCatalogue::from_toml("t.toml", text).unwrap_err();
            assert!(e.to_string().contains(want), "{text}: {e}");
        }
    }
}
