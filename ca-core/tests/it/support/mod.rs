//! Set-up shared by the test modules.

pub mod credential;
pub mod fresh_ca;
pub mod killed_child;
pub mod openssl;
pub mod pki_authority;
pub mod sign_fixture;
pub mod store;
pub mod x509;
