//! hcRole: subjectDirectoryAttributes decode (what verify and inspect read) and the
//! `SCHEME_OID:TEXT` form of requests. What decodes and re-encodes must decode the same.
#![no_main]

use ca_core::hcrole::{self, HcRole};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(roles) = hcrole::decode_extension_value(data)
        && let Ok(der) = hcrole::encode_extension_value(&roles)
    {
        let again = hcrole::decode_extension_value(&der).expect("our own encoding decodes");
        assert_eq!(again, roles, "hcRole changed in a round trip");
    }
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = text.parse::<HcRole>();
    }
});
