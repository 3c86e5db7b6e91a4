//! net's integration tests.

mod synctest;
