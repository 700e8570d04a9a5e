//! The unauthenticated responders (`POST /v1/ocsp`, `POST /v1/timestamps`): any bytes to
//! `Authority::ocsp_response` and `Authority::timestamp`, whose answer must always be a response
//! that reads again (an OCSPResponse, a TimeStampResp), never a panic.
#![no_main]

use ca_core::tsp::TimeStampResp;
use der::Decode;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let authority = hpki_fuzz::vector_authority();
    let now = hpki_fuzz::VECTORS_TIME;
    if let Ok(answer) = authority.ocsp_response(data, now) {
        assert!(ca_core::ocsp::OcspResponse::from_der(&answer.der).is_ok());
    }
    if let Ok(reply) = authority.timestamp(data, now, "fuzz").wait() {
        assert!(TimeStampResp::from_der(&reply.response).is_ok());
    }
});
