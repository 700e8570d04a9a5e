//! The service's configuration and HTTP layer as a library: the binary (main.rs) serves them, and
//! `fuzz/` feeds the API's JSON request types (`http::{certificates, credentials, signatures}`).
#![forbid(unsafe_code)]

pub mod config;
pub mod http;
