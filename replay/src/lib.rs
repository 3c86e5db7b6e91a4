//! Replay files of Healer TD matches: the format (REPLAY_FORMAT.md at the repository's root),
//! a [`Recorder`] that writes one chunk at a time while a match runs, a total [`read`]er that
//! keeps every complete chunk of a damaged or cut file and says where and why it stopped, and
//! [`verify`], which re-simulates every frame and compares every hash.
//!
//! **Invariant:** nothing here depends on the network; a replay holds confirmed inputs only.

pub mod bundle;
pub mod file;
mod format;
mod play;
mod read;
mod record;
mod verify;

pub use format::{Header, MatchKind, FORMAT_VERSION, MAGIC};
pub use play::{Player, Seek};
pub use read::{
    read, read_file, read_from, End, Keyframe, ReadError, ReadErrorKind, Replay, ReplayFileError,
};
pub use record::{RecordError, Recorder};
pub use verify::{verify, Verdict};
