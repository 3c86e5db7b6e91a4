//! Rollback sessions for a deterministic game, on GGRS.
//!
//! The seam between GGRS and a game is [`Rollback`] (implemented for [`sim::Game`]). Sessions
//! ([`session`]) run over any [`transport::Transport`]: encrypted UDP ([`udp`], with invite
//! codes from [`invite`]) or WebRTC ([`rtc`], with room codes and a signaling server from
//! [`signal`]; [`signaller`] authenticates every signal). Every GGRS message from a peer is validated by [`codec`] first. [`consensus`]
//! turns every peer's checksums into verdicts naming who diverged, [`lobby`] gathers players,
//! [`local`] runs whole matches on this machine and [`synctest`] runs GGRS sync-tests.

pub mod codec;
pub mod consensus;
pub mod epoch;
mod game;
pub mod invite;
pub mod lobby;
pub mod local;
pub mod netns;
#[cfg(feature = "webrtc")]
pub mod rtc;
pub mod secure;
pub mod session;
#[cfg(feature = "webrtc")]
pub mod signal;
#[cfg(feature = "webrtc")]
pub mod signaller;
pub mod simnet;
pub mod synctest;
pub mod transfer;
pub mod transport;
pub mod udp;
pub mod wsraw;

pub use game::{GgrsConfig, Rollback};
pub use invite::{Invite, InviteError};
pub use synctest::{run_synctest, SyncTestError, SyncTestOptions, SyncTestReport};
