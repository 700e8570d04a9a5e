//! CSRs: `parse_csr`, the issuance checks of every end-entity profile (subject from the CSR,
//! as a registration would carry it), then proof of possession: `Authority::issue` minus the store.
#![no_main]

use ca_core::fuzzing;
use ca_core::hcrole::HcRole;
use ca_core::issue::{self, Registration};
use ca_core::profile::ProfileSet;
use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;

fn profiles() -> &'static ProfileSet {
    static SET: OnceLock<ProfileSet> = OnceLock::new();
    SET.get_or_init(|| ProfileSet::embedded().expect("shipped profiles load"))
}

fuzz_target!(|data: &[u8]| {
    let Ok(csr) = issue::parse_csr(data) else {
        return;
    };
    let set = profiles();
    let role: HcRole = "1.2.392.100495.1.6.1.1:Medical Doctor"
        .parse()
        .expect("role");
    for profile in set.profiles().filter(|p| p.ca_id().is_none()) {
        let registration = Registration {
            profile: profile.id().to_owned(),
            subject: csr.info.subject.clone(),
            sans: Vec::new(),
            hc_roles: vec![role.clone()],
            validity_days: None,
        };
        let now = hpki_fuzz::VECTORS_TIME;
        let _ = fuzzing::check_issuance(
            profile,
            set,
            &registration,
            &csr.info.public_key,
            now,
            now + 86_400,
        );
    }
    let _ = issue::check_proof_of_possession(&csr);
});
