//! Replay files of Healer TD matches: format, recorder, verifier, seekable player.
//!
//! Not implemented yet: the replay issue fills this crate. It exists now so the workspace has
//! its final shape; it exports nothing.
