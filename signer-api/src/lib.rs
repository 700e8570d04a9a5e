//! The service's configuration, data directory and HTTP layer as a library: the binary (main.rs)
//! serves them, `fuzz/` feeds the API's JSON request types (`http::{certificates, credentials,
//! signatures}`), and tests open a stopped server's data directory in-process (`datadir`).
#![forbid(unsafe_code)]

pub mod config;
pub mod datadir;
pub mod foreign_tsa;
pub mod http;
pub mod keyhealth;
