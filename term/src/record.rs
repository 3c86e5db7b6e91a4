//! Recording matches: where replays go, the observer that writes a match's confirmed inputs
//! as they arrive, and the desync bundles written when a peer finds a disagreement.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::BufWriter;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use net::local::Observer;
use net::session::{Confirmed, Evidence};
use replay::{Header, MatchKind, Recorder};
use sim::Input;

/// Keyframes every 10 seconds of play: a seek simulates at most that much.
pub const KEYFRAME_INTERVAL: u32 = 600;

/// Where replays go by default: `$XDG_DATA_HOME/healer-td/replays`, else
/// `$HOME/.local/share/healer-td/replays`, else `healer-td-replays` in the current directory.
pub fn replay_dir() -> PathBuf {
    let nonempty = |name: &str| std::env::var_os(name).filter(|v| !v.is_empty());
    if let Some(data) = nonempty("XDG_DATA_HOME") {
        return PathBuf::from(data).join("healer-td").join("replays");
    }
    if let Some(home) = nonempty("HOME") {
        return PathBuf::from(home).join(".local/share/healer-td/replays");
    }
    PathBuf::from("healer-td-replays")
}

/// The current time as `YYYYMMDD-HHMMSS` (UTC), for file names.
fn stamp() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let (days, rest) = (secs / 86_400, secs % 86_400);
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}{month:02}{day:02}-{:02}{:02}{:02}",
        rest / 3600,
        rest / 60 % 60,
        rest % 60
    )
}

/// What to record, from `--record PATH` / `--no-record`.
#[derive(Clone, Debug)]
pub enum Target {
    /// A new file in [`replay_dir`].
    Default,
    /// This file.
    Path(PathBuf),
    /// Nothing (desync bundles still go to [`replay_dir`]).
    Off,
}

/// The match being recorded.
pub struct MatchInfo {
    /// What kind of match.
    pub kind: MatchKind,
    /// Game seed.
    pub seed: u64,
    /// Players.
    pub players: usize,
    /// Frames the match lasts: the replay ends there.
    pub frames: u32,
    /// GGRS input delay and prediction window.
    pub input_delay: usize,
    /// GGRS prediction window.
    pub max_prediction: usize,
    /// The seat whose confirmed inputs are recorded (None: the spectator).
    pub recorded: Option<usize>,
    /// Seats whose desync evidence becomes bundles.
    pub bundle_seats: Vec<usize>,
}

/// Records a match as its sessions confirm frames: the replay file, and desync bundles.
pub struct Recording {
    header: Header,
    recorded: Option<usize>,
    recorder: Option<Recorder<BufWriter<File>>>,
    path: Option<PathBuf>,
    /// Per bundle seat: its confirmed inputs so far, `players` per frame.
    logs: BTreeMap<usize, Vec<Input>>,
    bundle_dir: PathBuf,
    stamp: String,
    bundles: Vec<PathBuf>,
    /// When writing the replay failed mid-match: frames it kept, and why it stopped.
    cut: Option<(u32, String)>,
    /// Bundles that could not be written: their seats, by cause (said once per cause).
    bundle_failures: BTreeMap<String, Vec<usize>>,
}

/// What a failed write of a replay says: the system's reason ("No space left on device (os
/// error 28)"), without repeating that it was a write.
pub fn write_cause(err: &replay::RecordError) -> String {
    match err {
        replay::RecordError::Io(io) => io.to_string(),
        other => other.to_string(),
    }
}

/// Removes the replay at `path` that a failed write left holding no frame, if it is a file
/// of ours (a regular file: never a device such as /dev/full). Whether it was removed.
fn remove_unkept(path: &Path) -> bool {
    std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_file())
        && std::fs::remove_file(path).is_ok()
}

impl Recording {
    /// Starts recording `info` as `target` says.
    ///
    /// # Errors
    /// When `--record PATH` cannot be created. A default directory that cannot be made only
    /// turns recording off, with a warning.
    pub fn start(target: &Target, info: &MatchInfo) -> Result<Recording> {
        let header = Header {
            rules_version: sim::RULES_VERSION,
            seed: info.seed,
            players: u8::try_from(info.players).unwrap_or(u8::MAX),
            scenario: sim::Scenario::Standard,
            creeps: 0,
            recorder: info.recorded.and_then(|s| u8::try_from(s).ok()),
            input_delay: u8::try_from(info.input_delay).unwrap_or(u8::MAX),
            max_prediction: u8::try_from(info.max_prediction).unwrap_or(u8::MAX),
            frames_planned: info.frames,
            keyframe_interval: KEYFRAME_INTERVAL,
            kind: info.kind,
        };
        let stamp = stamp();
        let who = info
            .recorded
            .map_or("spectator".to_string(), |s| format!("seat{s}"));
        let path = match target {
            Target::Off => None,
            Target::Path(path) => Some(path.clone()),
            Target::Default => {
                let dir = replay_dir();
                match std::fs::create_dir_all(&dir) {
                    Ok(()) => Some(free_name(
                        &dir,
                        &format!("{stamp}-{}-seed{}-{who}", info.kind.name(), info.seed),
                        "hltr",
                    )),
                    Err(err) => {
                        eprintln!(
                            "hltd: not recording: cannot create {}: {err}",
                            dir.display()
                        );
                        None
                    }
                }
            }
        };
        let recorder = match (&path, target) {
            (Some(path), Target::Default) => match create(path, header) {
                Ok(recorder) => Some(recorder),
                Err(err) => {
                    eprintln!("hltd: not recording: {err:#}");
                    None
                }
            },
            (Some(path), _) => Some(create(path, header)?),
            (None, _) => None,
        };
        let path = path.filter(|_| recorder.is_some());
        let bundle_dir = match &path {
            Some(path) => path
                .parent()
                .filter(|p| !p.as_os_str().is_empty())
                .map_or_else(|| PathBuf::from("."), Path::to_path_buf),
            None => replay_dir(),
        };
        Ok(Recording {
            header,
            recorded: info.recorded,
            recorder,
            path,
            logs: info.bundle_seats.iter().map(|&s| (s, Vec::new())).collect(),
            bundle_dir,
            stamp,
            bundles: Vec::new(),
            cut: None,
            bundle_failures: BTreeMap::new(),
        })
    }

    /// Records nothing and writes no bundles.
    pub fn off() -> Recording {
        Recording {
            header: Header::offline(&sim::Settings::standard(0, 1), 0, KEYFRAME_INTERVAL),
            recorded: None,
            recorder: None,
            path: None,
            logs: BTreeMap::new(),
            bundle_dir: PathBuf::new(),
            stamp: String::new(),
            bundles: Vec::new(),
            cut: None,
            bundle_failures: BTreeMap::new(),
        }
    }

    /// Where the replay is being written, if it is.
    pub fn path(&self) -> Option<&Path> {
        self.recorder.as_ref().and(self.path.as_deref())
    }

    /// Finishes the recording of a match that ended with `outcome`: its result and the lines
    /// [`Recording::finish`] gives; on a failure those lines are printed before the error is
    /// handed on, so a failed match still names its replay.
    ///
    /// # Errors
    /// The match's own error.
    pub fn finish_after<T, E>(self, outcome: Result<T, E>) -> Result<(T, Vec<String>), E> {
        let written = self.finish();
        match outcome {
            Ok(value) => Ok((value, written)),
            Err(err) => {
                print_lines(&written);
                Err(err)
            }
        }
    }

    /// Writes the end of the replay and says what was written, one line each (replay,
    /// bundles, problems): `replay: PATH (N frames)`, or when writing failed `replay: PATH
    /// (N frames, cut short: CAUSE)` with the frames the file keeps, or, when it kept none,
    /// that the file was removed; each cause that kept bundles from being written, once.
    pub fn finish(mut self) -> Vec<String> {
        let mut lines = Vec::new();
        if let Some(path) = self.path.as_ref() {
            let mut mismatch = None;
            let cut = match (self.recorder.take(), self.cut.take()) {
                (Some(mut recorder), _) => {
                    mismatch = recorder.mismatch();
                    match recorder.write_end() {
                        Ok(()) => {
                            lines.push(format!(
                                "replay: {} ({} frames)",
                                path.display(),
                                recorder.frames()
                            ));
                            None
                        }
                        Err(err) => Some((recorder.frames_kept(), write_cause(&err))),
                    }
                }
                (None, cut) => cut,
            };
            if let Some((kept, cause)) = cut {
                if kept == 0 && remove_unkept(path) {
                    lines.push(format!(
                        "replay: none kept: writing {} failed before its first frames ({cause}); \
                         the file is removed",
                        path.display()
                    ));
                } else {
                    lines.push(format!(
                        "replay: {} ({kept} frames, cut short: {cause})",
                        path.display()
                    ));
                }
            }
            if let Some((frame, ours, seen)) = mismatch {
                lines.push(format!(
                    "replay: at frame {frame} this peer's hash {seen} differs from the \
                     re-simulation of the confirmed inputs ({ours})"
                ));
            }
        }
        for bundle in &self.bundles {
            lines.push(format!("desync bundle: {}", bundle.display()));
        }
        for (cause, seats) in &self.bundle_failures {
            let seats: Vec<String> = seats.iter().map(|s| format!("seat {s}")).collect();
            lines.push(format!(
                "desync bundle: not written for {} in {}: {cause}",
                seats.join(", "),
                self.bundle_dir.display()
            ));
        }
        lines
    }
}

/// Prints what a recording wrote (the replay, bundles), one line each.
pub fn print_lines(lines: &[String]) {
    for line in lines {
        println!("{line}");
    }
}

/// `dir/base.ext`, or `dir/base-2.ext` and so on when taken.
fn free_name(dir: &Path, base: &str, ext: &str) -> PathBuf {
    let mut path = dir.join(format!("{base}.{ext}"));
    let mut n = 2;
    while path.exists() {
        path = dir.join(format!("{base}-{n}.{ext}"));
        n += 1;
    }
    path
}

/// Creates the replay at `path` and writes its start; when that fails, removes what it
/// created (a regular file only) and says why once, with the path.
fn create(path: &Path, header: Header) -> Result<Recorder<BufWriter<File>>> {
    let file = File::create(path)
        .with_context(|| format!("cannot create the replay {}", path.display()))?;
    Recorder::new(BufWriter::new(file), header).map_err(|err| {
        let removed = if remove_unkept(path) {
            " (the file is removed)"
        } else {
            ""
        };
        anyhow::anyhow!(
            "cannot write the replay {}: {}{removed}",
            path.display(),
            write_cause(&err)
        )
    })
}

/// Starts an offline recording (`hltd sim --record`) at `path`.
///
/// # Errors
/// When the file cannot be created or written.
pub fn create_offline(
    path: &Path,
    settings: &sim::Settings,
    frames: u32,
) -> Result<Recorder<BufWriter<File>>> {
    create(path, Header::offline(settings, frames, KEYFRAME_INTERVAL))
}

/// Writes what seat `seat` knew at its verdict as a desync bundle in the new directory `dir`:
/// `header` describes the match (its recorder becomes `seat`), `inputs` are that seat's
/// confirmed inputs from frame 0, `players` per frame.
///
/// # Errors
/// When a file of the bundle cannot be written.
pub fn write_bundle(
    dir: &Path,
    header: Header,
    seat: usize,
    inputs: &[Input],
    evidence: &Evidence<sim::Snapshot>,
) -> Result<(), replay::bundle::BundleError> {
    let header = Header {
        recorder: u8::try_from(seat).ok(),
        ..header
    };
    replay::bundle::write(
        dir,
        &replay::bundle::Evidence {
            header,
            inputs,
            frame: evidence.verdict.frame,
            diverged: evidence.verdict.diverged.clone(),
            checksums: evidence.verdict.checksums.clone(),
            state: evidence.state(),
            agreed: evidence
                .agreed
                .as_ref()
                .map(|(frame, state)| (*frame, state.as_ref())),
            hashes: &evidence.hashes,
            around: &evidence.around,
        },
    )?;
    Ok(())
}

impl Observer for Recording {
    fn wants_confirmed(&self, seat: Option<usize>) -> bool {
        (self.recorder.is_some() && seat == self.recorded)
            || seat.is_some_and(|s| self.logs.contains_key(&s))
    }

    fn wants_evidence(&self) -> bool {
        !self.logs.is_empty()
    }

    fn confirmed(&mut self, seat: Option<usize>, frames: Vec<Confirmed<Input>>) {
        let end = i32::try_from(self.header.frames_planned).unwrap_or(i32::MAX);
        if let Some(log) = seat.and_then(|s| self.logs.get_mut(&s)) {
            for frame in &frames {
                log.extend_from_slice(&frame.inputs);
            }
        }
        if seat != self.recorded {
            return;
        }
        let Some(recorder) = self.recorder.as_mut() else {
            return;
        };
        let mut failed = None;
        for frame in frames.iter().filter(|f| f.frame < end) {
            if let Err(err) = recorder.record(&frame.inputs, frame.hash.map(sim::StateHash)) {
                failed = Some(err);
                break;
            }
        }
        if let Some(err) = failed {
            // Said once, in `finish`'s replay line (a line now would land on the match
            // screen); the recorder and its file are closed here.
            self.cut = Some((recorder.frames_kept(), write_cause(&err)));
            self.recorder = None;
        }
    }

    fn evidence(&mut self, seat: usize, evidence: Evidence<sim::Snapshot>) {
        let Some(log) = self.logs.get(&seat) else {
            return;
        };
        let dir = free_name(
            &self.bundle_dir,
            &format!("desync-{}-seed{}-seat{seat}", self.stamp, self.header.seed),
            "bundle",
        );
        let written = std::fs::create_dir_all(&self.bundle_dir)
            .map_err(|err| err.to_string())
            .and_then(|()| {
                write_bundle(&dir, self.header, seat, log, &evidence).map_err(|err| match err {
                    replay::bundle::BundleError::Io { source, .. } => source.to_string(),
                    other => other.to_string(),
                })
            });
        match written {
            Ok(()) => self.bundles.push(dir),
            Err(cause) => self.bundle_failures.entry(cause).or_default().push(seat),
        }
    }
}
