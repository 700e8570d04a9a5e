//! The API's JSON request bodies, decoded as actix's `Json` extractor does (serde_json into the
//! route's own type), then the field conversions the handlers apply before any store access:
//! `registration` (subject, SANs, hcRoles) and the revocation reason and date.
#![no_main]

use ca_core::store::RevocationReason;
use libfuzzer_sys::fuzz_target;
use serde_json::Value;
use signer_api::http::certificates::{IssueRequest, RevokeRequest, registration};
use signer_api::http::credentials::{CreateCredential, CreateToken};
use signer_api::http::signatures::DigestRequest;
use std::str::FromStr;

fuzz_target!(|data: &[u8]| {
    let issue = serde_json::from_slice::<IssueRequest>(data).is_ok();
    let credential = serde_json::from_slice::<CreateCredential>(data).is_ok();
    let revoke = serde_json::from_slice::<RevokeRequest>(data).is_ok();
    let _ = serde_json::from_slice::<CreateToken>(data);
    let _ = serde_json::from_slice::<DigestRequest>(data);
    if !(issue || credential || revoke) {
        return;
    }
    // The request types keep their fields private; read the same accepted body as a value.
    let body: Value = serde_json::from_slice(data).expect("accepted body is JSON");
    let text = |k: &str| body.get(k).and_then(Value::as_str).unwrap_or_default();
    let list = |k: &str| -> Vec<String> {
        body.get(k)
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(Value::as_str)
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default()
    };
    if issue || credential {
        let days = body.get("validity_days").and_then(Value::as_u64);
        let _ = registration(
            text("profile").to_owned(),
            text("subject"),
            &list("hc_roles"),
            &list("sans"),
            days.and_then(|d| u32::try_from(d).ok()),
        );
    }
    if revoke {
        let _ = RevocationReason::from_str(text("reason"));
        let _ = der::DateTime::from_str(text("invalidity_date"));
    }
});
