//! Certificates: `verifier-cli inspect` (which also renders CRLs, CSRs and CMS) and
//! `verify_certificate` under the vectors' policy. Run with `-close_fd_mask=1`: inspect prints.
#![no_main]

use ca_core::verify;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    verifier_cli::inspect::inspect(data);
    if let Ok(certs) = verify::decode_certificates(data) {
        for der in certs.iter().take(4) {
            let _ = verify::verify_certificate(der, hpki_fuzz::vector_policy());
        }
    }
});
