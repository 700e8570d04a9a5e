//! CAdES levels over untrusted signatures (what `signer-api augment` raises): `cades::detect_level`,
//! the signature and archive time-stamp imprints, `tsp::tst_info` of the input as a token, and
//! `add_validation_data`, whose output must read again whenever its input did.
#![no_main]

use ca_core::cades;
use ca_core::sign::DigestAlgorithm;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let sha256 = DigestAlgorithm::Sha256;
    let level = cades::detect_level(data, 0);
    let _ = cades::signature_timestamp_imprint(data, 0, sha256);
    // Encapsulated content, and detached.
    let _ = cades::archive_timestamp_v3_imprint(data, 0, None, sha256);
    let _ = cades::archive_timestamp_v3_imprint(data, 0, Some(b"hpki fuzz content"), sha256);
    let _ = ca_core::tsp::tst_info(data);
    if let Ok(raised) = cades::add_validation_data(data, &[], &[], &[]) {
        assert!(level.is_err() || cades::detect_level(&raised, 0).is_ok());
    }
});
