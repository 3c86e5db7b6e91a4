//! Rollback sessions for a deterministic game, on GGRS.
//!
//! Today this crate holds the seam between GGRS and a game ([`Rollback`], implemented for
//! [`sim::Game`]) and the sync-test driver ([`synctest`]), which replays every frame after a
//! rollback and compares checksums. Peer-to-peer sessions, the encrypted UDP transport, invite
//! codes and consensus verdicts arrive with the networking issue; nothing here pretends to
//! provide them yet.

mod game;
pub mod synctest;

pub use game::{GgrsConfig, Rollback};
pub use synctest::{run_synctest, SyncTestError, SyncTestOptions, SyncTestReport};
