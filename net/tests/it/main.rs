//! net's integration tests.

mod hostile;
mod local;
mod synctest;
#[cfg(feature = "webrtc")]
mod webrtc;
