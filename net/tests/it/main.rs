//! net's integration tests.

mod hostile;
mod local;
mod synctest;
mod webrtc;
