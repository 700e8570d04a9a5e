//! CMS SignedData: parse + verify under the vectors' policy (`verifier-cli verify`'s engine).
#![no_main]

use ca_core::verify::{self, SignedDocument};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let policy = hpki_fuzz::vector_policy();
    let _ = verify::verify_bytes(data, None, policy);
    // A detached signature is also verified over supplied content (the digest and ESS paths).
    if SignedDocument::parse(data).is_ok_and(|d| d.is_detached()) {
        let _ = verify::verify_bytes(data, Some(b"hpki fuzz content"), policy);
    }
});
