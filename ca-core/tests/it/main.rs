//! ca-core's integration tests, one test binary (issue 12, faster CI: one link instead of one per
//! file). Each former `tests/*.rs` file is a module, so its tests are named `module::test` and a
//! name filter still finds them: `cargo test -p ca-core --test it verify_crl::`.
//!
//! The tests share one process: none may set environment variables, change the working directory
//! or rely on global state. Child processes (`support::killed_child`, OpenSSL) get their own.

mod support;

mod audit_chain;
mod audit_tamper;
mod augment;
mod ca_revocation;
mod cades;
mod cades_pyhanko;
mod certificate_hold;
mod cms_vectors;
mod credential_create;
mod credential_refusals;
mod credential_sign;
mod credential_store;
mod hcrole_der;
mod hostile_der;
mod hsm;
mod key_openssl;
mod key_sign;
mod module_graph;
mod ocsp;
mod path_building;
mod profile_check;
mod profile_extensions;
mod profile_load;
mod purpose_policy;
mod seal_roundtrip;
mod sign_cms;
mod sign_openssl;
mod store_concurrency;
mod store_conformance;
mod store_copy;
mod store_crash;
mod store_instances;
mod store_journal;
mod store_postgres_outage;
mod store_postgres_pool;
mod store_postgres_tamper;
mod store_postgres_tls;
mod token_api;
mod tsa_authority;
mod tsp;
mod vectors;
mod verify_algorithms;
mod verify_ber;
mod verify_cache;
mod verify_conformance;
mod verify_crl;
mod verify_interop;
mod verify_jp;
mod verify_ltv;
mod verify_ltv_ocsp;
mod verify_ltv_tsa;
mod verify_p521;
mod verify_pkits_dsa;
mod verify_rfc4134;
