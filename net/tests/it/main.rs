//! net's integration tests.

mod local;
mod synctest;
