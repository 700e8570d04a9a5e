//! CRLs: `decode_crls`, then revocation checking of a vector certificate with the input as the
//! only CRLs (certval reads every CRL whose issuer is in the path).
#![no_main]

use ca_core::verify;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(crls) = verify::decode_crls(data) {
        let mut policy = hpki_fuzz::vector_policy().clone();
        policy.crls = crls;
        let _ = verify::verify_certificate(hpki_fuzz::rhp_sign(), &policy);
    }
});
