//! Desync fuzzing of Healer TD: sync-test and simulated-network fuzzers, and cargo-fuzz
//! targets in `fuzz/targets`.
//!
//! Not implemented yet: the fuzzing issue fills this crate. It exists now so the workspace has
//! its final shape; it exports nothing. The sync-test driver it will build on is
//! `net::run_synctest`.
