//! Profile TOML loading. Input: a file name on the first line (`rhp-sign.toml`,
//! `roles/jp-mhlw.toml`, `purposes/signing.toml`, ...), then its text, which replaces (or joins)
//! the shipped files it can refer to: the CA profiles and the role vocabularies, loaded once and
//! extended per run by `ProfileSet::with_source` (loading all of `policies/` per run would make
//! the target far slower). A set that loads must also produce every profile's extensions.
#![no_main]

use ca_core::profile::{CaUrls, ExtensionContext, ProfileSet};
use ca_core::purpose::SigningPolicy;
use const_oid::ObjectIdentifier;
use libfuzzer_sys::fuzz_target;
use std::sync::LazyLock;

/// The shipped CA profiles and role vocabularies, parsed once (they never change between runs).
static BASE: LazyLock<ProfileSet> = LazyLock::new(|| {
    let files: Vec<(String, String)> = ProfileSet::embedded_sources()
        .iter()
        .filter(|(n, _)| n.ends_with("-ca.toml") || n.starts_with("roles/"))
        .map(|(n, t)| ((*n).to_owned(), (*t).to_owned()))
        .collect();
    ProfileSet::from_sources(&files).expect("the shipped CA profiles load")
});

fuzz_target!(|data: &[u8]| {
    let Ok(input) = std::str::from_utf8(data) else {
        return;
    };
    let Some((name, text)) = input.split_once('\n') else {
        return;
    };
    if name == "purposes/signing.toml" {
        let _ = SigningPolicy::from_toml(name, text);
        return;
    }
    let Ok(set) = BASE.with_source(name, text) else {
        return;
    };
    // The JP signature arc, as ca-core/tests/it/profile_extensions.rs uses it.
    let arc = ObjectIdentifier::new_unwrap("1.2.392.100495.1.5.1.1.0");
    for profile in set.profiles() {
        let issued = profile
            .ca_id()
            .map(|ca| set.policies_issued_by(ca, &arc))
            .unwrap_or_default();
        let _ = profile.extensions(&ExtensionContext {
            subject_key_id: &[1; 20],
            authority_key_id: Some(&[2; 20]),
            policy_arc: &arc,
            issued_policies: &issued,
            urls: &CaUrls::default(),
            sans: &[],
            hc_roles: &[],
        });
    }
});
