//! Rollback sessions for a deterministic game, on GGRS.
//!
//! Today this crate holds the seam between GGRS and a game ([`Rollback`], implemented for
//! [`sim::Game`]), the sync-test driver ([`synctest`]) and invite codes ([`invite`]).
//! Peer-to-peer sessions, the encrypted UDP transport and consensus verdicts are being built;
//! nothing here pretends to provide them yet.

pub mod codec;
pub mod consensus;
mod game;
pub mod invite;
pub mod lobby;
pub mod local;
pub mod netns;
pub mod rtc;
pub mod secure;
pub mod session;
pub mod signal;
pub mod synctest;
pub mod transport;
pub mod udp;

pub use game::{GgrsConfig, Rollback};
pub use invite::{Invite, InviteError};
pub use synctest::{run_synctest, SyncTestError, SyncTestOptions, SyncTestReport};
