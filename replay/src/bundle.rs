//! Desync bundles: what one peer knew when it found that confirmed states differ, written to a
//! directory of its own so it can be attached to a bug report, and the comparison of two
//! bundles that names the first differing frame and every differing field.
//!
//! A bundle directory holds:
//! - `bundle.json`: who wrote it, the verdict, the peer's hashes of the frames around it, and
//!   the names of the other files;
//! - `replay.hltr`: the peer's replay of the match up to the verdict's frame (its confirmed
//!   inputs);
//! - `state-<F>.bin`: the peer's own state at the verdict's frame `F`, in the canonical
//!   encoding (the bytes its hash is taken over);
//! - `agreed-<A>.bin`: its state at the last frame `A` all peers agreed on, when still kept;
//! - `state-<N>.bin` for the other frames it still kept around the verdict (listed in
//!   `bundle.json`): peers' verdicts may name different frames, and a comparison needs the
//!   two peers' states of the same frame.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sim::dump::Difference;
use sim::{Input, Snapshot};

use crate::format::Header;
use crate::read::{read, Replay};
use crate::record::Recorder;

/// The bundle description's version.
pub const BUNDLE_VERSION: u32 = 1;
/// The description's file name inside a bundle directory.
pub const META_FILE: &str = "bundle.json";
/// The replay's file name inside a bundle directory.
pub const REPLAY_FILE: &str = "replay.hltr";

/// One peer's checksum of the verdict's frame.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SeatChecksum {
    /// The seat.
    pub seat: usize,
    /// Its GGRS checksum (the first 16 bytes of its state hash), 32 hex digits.
    pub checksum: String,
}

/// One of our hashes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FrameHash {
    /// The frame.
    pub frame: i32,
    /// Our state hash of it, 64 hex digits.
    pub hash: String,
}

/// `bundle.json`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Meta {
    /// [`BUNDLE_VERSION`].
    pub bundle_version: u32,
    /// `sim::RULES_VERSION` of the writing build.
    pub rules_version: u32,
    /// The seat of the peer that wrote it.
    pub seat: usize,
    /// The match's seed.
    pub seed: u64,
    /// Players in the match.
    pub players: u8,
    /// The first frame whose confirmed checksums differ.
    pub verdict_frame: i32,
    /// The seats the verdict names as diverged.
    pub diverged: Vec<usize>,
    /// Every peer's checksum of the verdict's frame.
    pub checksums: Vec<SeatChecksum>,
    /// The last frame all peers agreed on, if any.
    pub agreed_frame: Option<i32>,
    /// Our hashes of the frames before and after the verdict, oldest first.
    pub hashes: Vec<FrameHash>,
    /// The replay's file name.
    pub replay_file: String,
    /// Frames in the replay.
    pub replay_frames: u32,
    /// The file of our state at the verdict's frame, if we still had it.
    pub state_file: Option<String>,
    /// The file of our state at the agreed frame, if we still had it.
    pub agreed_file: Option<String>,
    /// Our other states around the verdict.
    #[serde(default)]
    pub around_files: Vec<FrameFile>,
}

/// A state file and its frame.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FrameFile {
    /// The frame.
    pub frame: i32,
    /// The file's name inside the bundle.
    pub file: String,
}

/// What a peer knew, to be written as a bundle.
pub struct Evidence<'a> {
    /// The match's header; its recorder is the writing seat.
    pub header: Header,
    /// The confirmed inputs from frame 0, every seat's per frame (`players` per frame).
    pub inputs: &'a [Input],
    /// The verdict's frame.
    pub frame: i32,
    /// The seats it names.
    pub diverged: Vec<usize>,
    /// Every seat's checksum of the frame.
    pub checksums: Vec<(usize, u128)>,
    /// Our state at the frame.
    pub state: Option<&'a Snapshot>,
    /// The last agreed frame and our state at it.
    pub agreed: Option<(i32, Option<&'a Snapshot>)>,
    /// Our hashes around the frame.
    pub hashes: &'a [(i32, [u8; 32])],
    /// Our other states around the frame.
    pub around: &'a [(i32, Snapshot)],
}

/// Why a bundle could not be written or read.
#[derive(Debug, thiserror::Error)]
pub enum BundleError {
    /// A file could not be written or read.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// What failed.
        source: std::io::Error,
    },
    /// The replay could not be recorded.
    #[error("cannot record the bundle's replay: {0}")]
    Record(#[from] crate::record::RecordError),
    /// A file is not what it should be.
    #[error("{path}: {problem}")]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        problem: String,
    },
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> BundleError + '_ {
    move |source| BundleError::Io {
        path: path.to_path_buf(),
        source,
    }
}

fn corrupt(path: &Path, problem: impl Into<String>) -> BundleError {
    BundleError::Corrupt {
        path: path.to_path_buf(),
        problem: problem.into(),
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Writes `evidence` as a bundle into the new directory `dir` (its parent must exist). A
/// bundle that cannot be written whole (a full disk) is removed, directory and all, so no
/// empty or partial bundle is left behind.
///
/// # Errors
/// [`BundleError`] when a file cannot be written: [`BundleError::Io`] names the file and
/// the cause.
pub fn write(dir: &Path, evidence: &Evidence) -> Result<Meta, BundleError> {
    std::fs::create_dir(dir).map_err(io(dir))?;
    let written = write_into(dir, evidence);
    if written.is_err() {
        // The directory is this call's own (create_dir refuses an existing one). Nothing
        // more can be done if it cannot be removed: the error already says what failed.
        let _ = std::fs::remove_dir_all(dir);
    }
    written
}

/// A recording error of the bundle's replay, naming the file when writing it failed.
fn record_error(path: &Path) -> impl FnOnce(crate::record::RecordError) -> BundleError + '_ {
    move |err| match err {
        crate::record::RecordError::Io(source) => BundleError::Io {
            path: path.to_path_buf(),
            source,
        },
        other => BundleError::Record(other),
    }
}

fn write_into(dir: &Path, evidence: &Evidence) -> Result<Meta, BundleError> {
    let players = usize::from(evidence.header.players).max(1);
    let frames = usize::try_from(evidence.frame.max(0))
        .unwrap_or(0)
        .min(evidence.inputs.len() / players);
    let replay_path = dir.join(REPLAY_FILE);
    let file = std::fs::File::create(&replay_path).map_err(io(&replay_path))?;
    let mut recorder = Recorder::new(std::io::BufWriter::new(file), evidence.header)
        .map_err(record_error(&replay_path))?;
    for inputs in evidence.inputs.chunks_exact(players).take(frames) {
        recorder
            .record(inputs, None)
            .map_err(record_error(&replay_path))?;
    }
    recorder.finish().map_err(record_error(&replay_path))?;
    let save = |name: String, state: Option<&Snapshot>| -> Result<Option<String>, BundleError> {
        let Some(state) = state else {
            return Ok(None);
        };
        let path = dir.join(&name);
        let mut bytes = Vec::new();
        state.encode(&mut bytes);
        std::fs::write(&path, bytes).map_err(io(&path))?;
        Ok(Some(name))
    };
    let state_file = save(format!("state-{}.bin", evidence.frame), evidence.state)?;
    let agreed_file = match evidence.agreed {
        Some((frame, state)) => save(format!("agreed-{frame}.bin"), state)?,
        None => None,
    };
    let mut around_files = Vec::new();
    for (frame, state) in evidence.around {
        let name = format!("state-{frame}.bin");
        if *frame != evidence.frame {
            save(name.clone(), Some(state))?;
        }
        around_files.push(FrameFile {
            frame: *frame,
            file: name,
        });
    }
    let meta = Meta {
        bundle_version: BUNDLE_VERSION,
        rules_version: evidence.header.rules_version,
        seat: usize::from(evidence.header.recorder.unwrap_or(0)),
        seed: evidence.header.seed,
        players: evidence.header.players,
        verdict_frame: evidence.frame,
        diverged: evidence.diverged.clone(),
        checksums: evidence
            .checksums
            .iter()
            .map(|(seat, sum)| SeatChecksum {
                seat: *seat,
                checksum: format!("{sum:032x}"),
            })
            .collect(),
        agreed_frame: evidence.agreed.map(|(frame, _)| frame),
        hashes: evidence
            .hashes
            .iter()
            .map(|(frame, hash)| FrameHash {
                frame: *frame,
                hash: hex(hash),
            })
            .collect(),
        replay_file: REPLAY_FILE.into(),
        replay_frames: frames as u32,
        state_file,
        agreed_file,
        around_files,
    };
    let meta_path = dir.join(META_FILE);
    let text =
        serde_json::to_string_pretty(&meta).map_err(|err| corrupt(&meta_path, err.to_string()))?;
    std::fs::write(&meta_path, text + "\n").map_err(io(&meta_path))?;
    Ok(meta)
}

/// A bundle read back.
#[derive(Debug)]
pub struct Bundle {
    /// Its directory.
    pub dir: PathBuf,
    /// `bundle.json`.
    pub meta: Meta,
    /// The replay.
    pub replay: Replay,
    /// Our state at the verdict's frame.
    pub state: Option<Snapshot>,
    /// Our state at the agreed frame.
    pub agreed: Option<Snapshot>,
    /// Every state the bundle holds, by frame (the verdict's, the agreed one's, the others).
    pub states: std::collections::BTreeMap<i32, Snapshot>,
}

/// Reads the bundle in directory `path` (or whose `bundle.json` is `path`).
///
/// # Errors
/// [`BundleError`] naming the file and what is wrong with it.
pub fn open(path: &Path) -> Result<Bundle, BundleError> {
    let dir = if path.is_dir() {
        path.to_path_buf()
    } else {
        path.parent().unwrap_or(Path::new(".")).to_path_buf()
    };
    let meta_path = dir.join(META_FILE);
    let text = std::fs::read_to_string(&meta_path).map_err(io(&meta_path))?;
    let meta: Meta = serde_json::from_str(&text).map_err(|err| {
        corrupt(
            &meta_path,
            format!("line {} column {}: {err}", err.line(), err.column()),
        )
    })?;
    if meta.bundle_version != BUNDLE_VERSION {
        return Err(corrupt(
            &meta_path,
            format!(
                "bundle version {}, this build reads {BUNDLE_VERSION}",
                meta.bundle_version
            ),
        ));
    }
    let file = |name: &str| -> Result<PathBuf, BundleError> {
        // Names come from the file: keep them inside the bundle.
        if name.is_empty() || name.contains(['/', '\\']) || name.starts_with('.') {
            return Err(corrupt(&meta_path, format!("bad file name {name:?}")));
        }
        Ok(dir.join(name))
    };
    let replay_path = file(&meta.replay_file)?;
    let bytes = std::fs::read(&replay_path).map_err(io(&replay_path))?;
    let replay = read(&bytes).map_err(|err| corrupt(&replay_path, err.to_string()))?;
    if let Some(stop) = &replay.stopped {
        return Err(corrupt(&replay_path, stop.to_string()));
    }
    let state = |name: &Option<String>| -> Result<Option<Snapshot>, BundleError> {
        let Some(name) = name else {
            return Ok(None);
        };
        let path = file(name)?;
        let bytes = std::fs::read(&path).map_err(io(&path))?;
        Snapshot::decode(&bytes)
            .map(Some)
            .map_err(|err| corrupt(&path, err.to_string()))
    };
    let state_snapshot = state(&meta.state_file)?;
    let agreed = state(&meta.agreed_file)?;
    let mut states = std::collections::BTreeMap::new();
    for extra in &meta.around_files {
        if let Some(snapshot) = state(&Some(extra.file.clone()))? {
            states.insert(extra.frame, snapshot);
        }
    }
    for snapshot in state_snapshot.iter().chain(&agreed) {
        states.insert(snapshot.frame() as i32, snapshot.clone());
    }
    Ok(Bundle {
        dir,
        meta,
        replay,
        state: state_snapshot,
        agreed,
        states,
    })
}

/// How two bundles compare.
#[derive(Debug, Default)]
pub struct Comparison {
    /// The first frame both bundles have a hash of where the hashes differ: (frame, A's, B's).
    pub first_hash_difference: Option<(i32, String, String)>,
    /// The first frame whose recorded inputs differ, and the seat.
    pub first_input_difference: Option<(u32, usize)>,
    /// The frame the states were compared at, and what differs in them.
    pub state_difference: Option<(i32, Vec<Difference>)>,
    /// What could not be compared (different matches, states missing).
    pub notes: Vec<String>,
}

impl Comparison {
    /// Whether the two bundles agree on everything they both hold.
    pub fn agrees(&self) -> bool {
        self.first_hash_difference.is_none()
            && self.first_input_difference.is_none()
            && self
                .state_difference
                .as_ref()
                .is_none_or(|(_, d)| d.is_empty())
    }
}

/// Compares bundle `a` with bundle `b`: their hashes frame by frame, their inputs, and their
/// states at the verdict's frame (or, failing that, at the agreed frame) field by field.
pub fn compare(a: &Bundle, b: &Bundle) -> Comparison {
    let mut out = Comparison::default();
    if (a.meta.seed, a.meta.players, a.meta.rules_version)
        != (b.meta.seed, b.meta.players, b.meta.rules_version)
    {
        out.notes.push(format!(
            "not the same match: seed {} vs {}, {} vs {} players, rules {} vs {}",
            a.meta.seed,
            b.meta.seed,
            a.meta.players,
            b.meta.players,
            a.meta.rules_version,
            b.meta.rules_version
        ));
    }
    let theirs: std::collections::BTreeMap<i32, &str> = b
        .meta
        .hashes
        .iter()
        .map(|h| (h.frame, h.hash.as_str()))
        .collect();
    out.first_hash_difference = a.meta.hashes.iter().find_map(|h| {
        theirs
            .get(&h.frame)
            .filter(|other| **other != h.hash)
            .map(|other| (h.frame, h.hash.clone(), (*other).to_string()))
    });
    out.first_input_difference = a
        .replay
        .inputs
        .iter()
        .zip(&b.replay.inputs)
        .enumerate()
        .find_map(|(frame, (x, y))| {
            x.iter()
                .zip(y)
                .position(|(p, q)| p != q)
                .map(|seat| (frame as u32, seat))
        });
    // States of the same frame: the first whose hashes differ if both have it, else the
    // first both have after it, else the newest both have before it.
    let common: Vec<i32> = a
        .states
        .keys()
        .filter(|f| b.states.contains_key(f))
        .copied()
        .collect();
    let from = out
        .first_hash_difference
        .as_ref()
        .map_or(a.meta.verdict_frame, |(frame, _, _)| *frame);
    let frame = common
        .iter()
        .find(|&&f| f >= from)
        .or_else(|| common.last())
        .copied();
    match frame {
        Some(frame) => {
            out.state_difference = Some((frame, a.states[&frame].diff(&b.states[&frame])))
        }
        None => out
            .notes
            .push("no state of the same frame in both bundles to compare".into()),
    }
    out
}

#[cfg(test)]
mod write_tests {
    use super::*;

    /// A bundle that cannot be written whole leaves no directory behind: here its replay
    /// cannot start (a header of 0 players), after the directory was made.
    #[test]
    fn a_bundle_that_fails_part_way_is_removed() {
        let parent = std::env::temp_dir().join(format!("hltd-bundle-w-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&parent);
        std::fs::create_dir_all(&parent).expect("parent");
        let dir = parent.join("desync-seat0.bundle");
        let header = Header {
            players: 0,
            ..Header::offline(&sim::Settings::standard(1, 2), 60, 600)
        };
        let evidence = Evidence {
            header,
            inputs: &[],
            frame: 0,
            diverged: vec![1],
            checksums: Vec::new(),
            state: None,
            agreed: None,
            hashes: &[],
            around: &[],
        };
        let err = write(&dir, &evidence).expect_err("0 players cannot be recorded");
        assert!(matches!(err, BundleError::Record(_)), "{err}");
        assert!(!dir.exists(), "the partial bundle is removed");
        // The same bundle with a valid header is written.
        let good = Evidence {
            header: Header::offline(&sim::Settings::standard(1, 2), 60, 600),
            ..evidence
        };
        write(&dir, &good).expect("written");
        assert!(dir.join(META_FILE).exists());
        let _ = std::fs::remove_dir_all(&parent);
    }
}
