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

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use sim::dump::Difference;
use sim::dump::Inspected;
use sim::{Input, Snapshot};

use crate::format::Header;
use crate::read::Replay;
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
    /// A file could not be read: not a regular file, larger than its cap, unreadable.
    #[error(transparent)]
    File(#[from] crate::file::FileError),
    /// A field of `bundle.json` is out of its range or disagrees with the bundle.
    #[error("{path}: {field}: {problem}")]
    Field {
        /// The `bundle.json`.
        path: PathBuf,
        /// The field (`seat`, `hashes[3].hash`).
        field: String,
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
    /// `bundle.json`, every field checked against its range.
    pub meta: Meta,
    /// The replay.
    pub replay: Replay,
    /// Our state at the verdict's frame.
    pub state: Option<Arc<Inspected>>,
    /// Our state at the agreed frame.
    pub agreed: Option<Arc<Inspected>>,
    /// Every state the bundle holds, by frame (the verdict's, the agreed one's, the others);
    /// each file is decoded once, however often `bundle.json` names it.
    pub states: BTreeMap<i32, Arc<Inspected>>,
}

/// Distinct state files a bundle may hold: the 240 states a peer keeps for evidence
/// (`net::local::EVIDENCE_STATES`), the verdict's and the agreed one, with room to spare.
pub const STATE_FILES_MAX: usize = 256;
/// Entries of `hashes` at most: the 4,096 hashes a session keeps (`net::session::HASHES_KEPT`)
/// and more.
pub const HASHES_MAX: usize = 8192;

/// `bundle.json` as it comes, with integers wide enough for any value so a value out of its
/// range is named with its field rather than failing the parse.
#[derive(Deserialize)]
struct RawMeta {
    bundle_version: u64,
    rules_version: u64,
    seat: u64,
    seed: u64,
    players: u64,
    verdict_frame: i64,
    diverged: Vec<u64>,
    checksums: Vec<RawChecksum>,
    agreed_frame: Option<i64>,
    hashes: Vec<RawHash>,
    replay_file: String,
    replay_frames: u64,
    state_file: Option<String>,
    agreed_file: Option<String>,
    #[serde(default)]
    around_files: Vec<RawFrameFile>,
}

#[derive(Deserialize)]
struct RawChecksum {
    seat: u64,
    checksum: String,
}

#[derive(Deserialize)]
struct RawHash {
    frame: i64,
    hash: String,
}

#[derive(Deserialize)]
struct RawFrameFile {
    frame: i64,
    file: String,
}

/// Checks every field of `raw` against its range, naming the first that is not in it.
fn validate(raw: RawMeta) -> Result<Meta, (String, String)> {
    let field = |name: &str, problem: String| Err((name.to_string(), problem));
    if raw.bundle_version != u64::from(BUNDLE_VERSION) {
        return field(
            "bundle_version",
            format!("{}, this build reads {BUNDLE_VERSION}", raw.bundle_version),
        );
    }
    let Ok(rules_version) = u32::try_from(raw.rules_version) else {
        return field(
            "rules_version",
            format!("{} is out of range (a u32)", raw.rules_version),
        );
    };
    let max_players = sim::rules::MAX_PLAYERS as u64;
    if !(1..=max_players).contains(&raw.players) {
        return field(
            "players",
            format!("{} is out of range (1 to {max_players})", raw.players),
        );
    }
    let players = raw.players as u8;
    let seat_in = |name: String, seat: u64| -> Result<usize, (String, String)> {
        if seat >= raw.players {
            return Err((
                name,
                format!(
                    "{seat} is not a seat of a {} player match (0 to {})",
                    raw.players,
                    raw.players - 1
                ),
            ));
        }
        Ok(seat as usize)
    };
    let frame_in = |name: String, frame: i64| -> Result<i32, (String, String)> {
        i32::try_from(frame)
            .ok()
            .filter(|f| *f >= 0)
            .ok_or((name, format!("{frame} is out of range (0 to {})", i32::MAX)))
    };
    let hex_in = |name: String, text: &str, digits: usize| -> Result<String, (String, String)> {
        if text.len() != digits || !text.bytes().all(|b| b.is_ascii_hexdigit()) {
            let shown: String = text.chars().take(80).collect();
            return Err((name, format!("{shown:?} is not {digits} hex digits")));
        }
        Ok(text.to_ascii_lowercase())
    };
    let seat = seat_in("seat".into(), raw.seat)?;
    let verdict_frame = frame_in("verdict_frame".into(), raw.verdict_frame)?;
    if raw.diverged.len() > usize::from(players) {
        return field(
            "diverged",
            format!("{} seats in a {players} player match", raw.diverged.len()),
        );
    }
    let mut diverged = Vec::with_capacity(raw.diverged.len());
    for (i, s) in raw.diverged.iter().enumerate() {
        let s = seat_in(format!("diverged[{i}]"), *s)?;
        if diverged.contains(&s) {
            return field(
                &format!("diverged[{i}]"),
                format!("seat {s} is listed twice"),
            );
        }
        diverged.push(s);
    }
    if raw.checksums.len() > usize::from(players) {
        return field(
            "checksums",
            format!(
                "{} checksums in a {players} player match",
                raw.checksums.len()
            ),
        );
    }
    let mut checksums: Vec<SeatChecksum> = Vec::with_capacity(raw.checksums.len());
    for (i, c) in raw.checksums.iter().enumerate() {
        let seat = seat_in(format!("checksums[{i}].seat"), c.seat)?;
        if checksums.iter().any(|other| other.seat == seat) {
            return field(
                &format!("checksums[{i}].seat"),
                format!("seat {seat} is listed twice"),
            );
        }
        checksums.push(SeatChecksum {
            seat,
            checksum: hex_in(format!("checksums[{i}].checksum"), &c.checksum, 32)?,
        });
    }
    let agreed_frame = match raw.agreed_frame {
        Some(f) => Some(frame_in("agreed_frame".into(), f)?),
        None => None,
    };
    if raw.hashes.len() > HASHES_MAX {
        return field(
            "hashes",
            format!("{} entries, at most {HASHES_MAX}", raw.hashes.len()),
        );
    }
    let mut hashes: Vec<FrameHash> = Vec::with_capacity(raw.hashes.len());
    for (i, h) in raw.hashes.iter().enumerate() {
        let frame = frame_in(format!("hashes[{i}].frame"), h.frame)?;
        if hashes.last().is_some_and(|last| last.frame >= frame) {
            return field(
                &format!("hashes[{i}].frame"),
                format!("{frame} does not follow the frame before it (oldest first, once each)"),
            );
        }
        hashes.push(FrameHash {
            frame,
            hash: hex_in(format!("hashes[{i}].hash"), &h.hash, 64)?,
        });
    }
    let Ok(replay_frames) = u32::try_from(raw.replay_frames) else {
        return field(
            "replay_frames",
            format!("{} is out of range (a u32)", raw.replay_frames),
        );
    };
    if raw.agreed_file.is_some() && agreed_frame.is_none() {
        return field("agreed_file", "given without an agreed_frame".into());
    }
    let mut around_files = Vec::new();
    for (i, f) in raw.around_files.into_iter().enumerate() {
        around_files.push(FrameFile {
            frame: frame_in(format!("around_files[{i}].frame"), f.frame)?,
            file: f.file,
        });
    }
    Ok(Meta {
        bundle_version: BUNDLE_VERSION,
        rules_version,
        seat,
        seed: raw.seed,
        players,
        verdict_frame,
        diverged,
        checksums,
        agreed_frame,
        hashes,
        replay_file: raw.replay_file,
        replay_frames,
        state_file: raw.state_file,
        agreed_file: raw.agreed_file,
        around_files,
    })
}

/// Reads the bundle in directory `path` (or whose `bundle.json` is `path`). Every file is read
/// through [`crate::file`] (regular files only, each within its cap), every field of
/// `bundle.json` is checked against its range, and each state file is decoded once, however
/// often it is named.
///
/// # Errors
/// [`BundleError`] naming the file, or the field of `bundle.json`, and what is wrong with it.
pub fn open(path: &Path) -> Result<Bundle, BundleError> {
    let dir = if path.is_dir() {
        path.to_path_buf()
    } else {
        path.parent().unwrap_or(Path::new(".")).to_path_buf()
    };
    let meta_path = dir.join(META_FILE);
    let text = crate::file::read_to_string(&meta_path, crate::file::BUNDLE_META)?;
    let raw: RawMeta = serde_json::from_str(&text).map_err(|err| {
        corrupt(
            &meta_path,
            format!("line {} column {}: {err}", err.line(), err.column()),
        )
    })?;
    let field = |field: String, problem: String| BundleError::Field {
        path: meta_path.clone(),
        field,
        problem,
    };
    let meta = validate(raw).map_err(|(name, problem)| field(name, problem))?;
    let file = |name: &str, what: &str| -> Result<PathBuf, BundleError> {
        // Names come from the file: keep them inside the bundle.
        if name.is_empty() || name.contains(['/', '\\', '\0']) || name.starts_with('.') {
            return Err(field(what.to_string(), format!("bad file name {name:?}")));
        }
        Ok(dir.join(name))
    };
    let replay_path = file(&meta.replay_file, "replay_file")?;
    let replay = crate::read::read_file(&replay_path).map_err(|err| match err {
        crate::read::ReplayFileError::File(err) => BundleError::File(err),
        crate::read::ReplayFileError::Read { source, .. } => {
            corrupt(&replay_path, source.to_string())
        }
    })?;
    if let Some(stop) = &replay.stopped {
        return Err(corrupt(&replay_path, stop.to_string()));
    }
    let h = &replay.header;
    let disagrees = |name: &str, ours: String, theirs: String| {
        field(
            name.to_string(),
            format!("{ours}, but the replay's header says {theirs}"),
        )
    };
    if meta.players != h.players {
        return Err(disagrees(
            "players",
            meta.players.to_string(),
            h.players.to_string(),
        ));
    }
    if meta.seed != h.seed {
        return Err(disagrees("seed", meta.seed.to_string(), h.seed.to_string()));
    }
    if meta.rules_version != h.rules_version {
        return Err(disagrees(
            "rules_version",
            meta.rules_version.to_string(),
            h.rules_version.to_string(),
        ));
    }
    if h.recorder.is_some_and(|r| usize::from(r) != meta.seat) {
        return Err(disagrees(
            "seat",
            meta.seat.to_string(),
            format!("recorder {}", h.recorder.unwrap_or(0)),
        ));
    }
    if meta.replay_frames != replay.frames() {
        return Err(field(
            "replay_frames".into(),
            format!(
                "{}, but the replay holds {} frames",
                meta.replay_frames,
                replay.frames()
            ),
        ));
    }

    // Each file decoded once; a file holds one frame's state, so it can stand for one frame.
    let mut decoded: BTreeMap<String, Arc<Inspected>> = BTreeMap::new();
    let mut state = |name: &str, frame: i32, what: String| -> Result<Arc<Inspected>, BundleError> {
        let snapshot = match decoded.get(name) {
            Some(snapshot) => Arc::clone(snapshot),
            None => {
                if decoded.len() == STATE_FILES_MAX {
                    return Err(field(
                        what,
                        format!("more than {STATE_FILES_MAX} state files in one bundle"),
                    ));
                }
                let path = file(name, &what)?;
                let bytes = crate::file::read(&path, crate::file::STATE)?;
                // Read for inspection, not loading: a state out of the rules' ranges is what
                // a peer whose rules went wrong writes, and the diff must still show it.
                let snapshot = Inspected::decode(&bytes)
                    .map(Arc::new)
                    .map_err(|err| corrupt(&path, err.to_string()))?;
                decoded.insert(name.to_string(), Arc::clone(&snapshot));
                snapshot
            }
        };
        if i64::from(snapshot.frame()) != i64::from(frame) {
            return Err(field(
                what,
                format!(
                    "{name} holds the state of frame {}, not of frame {frame}",
                    snapshot.frame()
                ),
            ));
        }
        Ok(snapshot)
    };
    let state_snapshot = match &meta.state_file {
        Some(name) => Some(state(name, meta.verdict_frame, "state_file".into())?),
        None => None,
    };
    let agreed = match (&meta.agreed_file, meta.agreed_frame) {
        (Some(name), Some(frame)) => Some(state(name, frame, "agreed_file".into())?),
        _ => None,
    };
    let mut states = BTreeMap::new();
    if let Some(snapshot) = &state_snapshot {
        states.insert(meta.verdict_frame, Arc::clone(snapshot));
    }
    if let (Some(snapshot), Some(frame)) = (&agreed, meta.agreed_frame) {
        states.insert(frame, Arc::clone(snapshot));
    }
    let mut names: BTreeMap<i32, &str> = BTreeMap::new();
    for (i, extra) in meta.around_files.iter().enumerate() {
        let what = format!("around_files[{i}]");
        match names.get(&extra.frame) {
            Some(name) if *name == extra.file => continue,
            Some(name) => {
                return Err(field(
                    what,
                    format!(
                        "frame {} is listed twice, as {name:?} and {:?}",
                        extra.frame, extra.file
                    ),
                ))
            }
            None => {}
        }
        let snapshot = state(&extra.file, extra.frame, what)?;
        names.insert(extra.frame, &extra.file);
        states.insert(extra.frame, snapshot);
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
    let theirs: BTreeMap<i32, &str> = b
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
            let (x, y) = (&a.states[&frame], &b.states[&frame]);
            // The hash is over the whole canonical encoding: equal hashes are equal states,
            // and the field-by-field dump (which costs hundreds of bytes a creep) is skipped.
            let differences = if x.hash() == y.hash() {
                Vec::new()
            } else {
                x.diff(y)
            };
            for (side, state) in [("A", x), ("B", y)] {
                if let Some(err) = state.out_of_range() {
                    out.notes.push(format!(
                        "{side}'s state of frame {frame} is one the rules cannot produce: {err}"
                    ));
                }
            }
            out.state_difference = Some((frame, differences));
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
