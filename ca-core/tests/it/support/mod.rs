//! Set-up shared by the test modules.

pub mod bt;
pub mod credential;
pub mod fresh_ca;
pub mod killed_child;
pub mod openssl;
pub mod pki_authority;
pub mod postgres;
pub mod sign_fixture;
pub mod softhsm;
pub mod store;
pub mod tsa;
pub mod x509;

/// Engine reports name policy settings, never CLI flags (issue 12): the CLI adds its own hints
/// when it renders a report.
pub fn assert_names_no_flag(report: &ca_core::verify::Report) {
    let json = serde_json::to_string(report).unwrap();
    let flag = json
        .as_bytes()
        .windows(3)
        .any(|w| w[..2] == *b"--" && w[2].is_ascii_lowercase());
    assert!(!flag, "a CLI flag in the engine's report: {json}");
}
