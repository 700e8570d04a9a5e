//! The verifier's `inspect` rendering as a library, so `fuzz/` drives the same code as the binary.
#![forbid(unsafe_code)]

pub mod inspect;
