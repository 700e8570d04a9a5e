//! hpki engine: everything PKI, shared by the signing service and the offline verifier.
//!
//! No HTTP, no clock reads, no environment reads, no network (DESIGN.md §5): time and inputs
//! arrive as arguments.
#![forbid(unsafe_code)]

pub mod audit;
pub mod authority;
// The façade's flows, one module each, at the paths they have always had.
pub use authority::{client_auth, credential, token};
pub mod crl;
pub mod digest;
pub mod hcrole;
pub mod issue;
pub mod key;
pub mod name;
pub mod oid;
pub mod profile;
pub mod purpose;
pub mod seal;
pub mod sign;
pub mod store;
pub mod time;
pub mod verify;
