//! `hltd replay info`, `hltd replay verify` and `hltd desync diff`.

use std::path::Path;
use std::process::ExitCode;

use replay::{read_file, verify, Replay, Verdict};

use crate::args::{DesyncCommand, ReplayCommand};

/// Runs a replay command; exit 0 when all is well, 1 when a replay diverged, 2 when a file
/// cannot be read whole.
pub fn run(command: &ReplayCommand) -> ExitCode {
    match command {
        ReplayCommand::Info { file, json } => info(file, *json),
        ReplayCommand::Verify { file } => check(file),
        ReplayCommand::Play {
            file,
            speed,
            from,
            paused,
        } => crate::playback::run(file, speed, *from, *paused).unwrap_or_else(|err| {
            eprintln!("hltd: error: {err:#}");
            ExitCode::from(3)
        }),
    }
}

/// Reads the file (a regular file within `replay::file::REPLAY_FILE_MAX`, a chunk at a time),
/// or says why not (exit 2).
pub(crate) fn load(file: &Path) -> Result<Replay, ExitCode> {
    read_file(file).map_err(|err| {
        eprintln!("hltd: {err}");
        ExitCode::from(2)
    })
}

/// Says where an incomplete recording stops, if it does.
pub(crate) fn incompleteness(replay: &Replay) -> Option<String> {
    match (&replay.stopped, &replay.end) {
        (Some(stop), _) => Some(format!(
            "stops at {stop}; the {} intact bytes before it hold {} frames",
            replay.intact_bytes,
            replay.frames()
        )),
        (None, None) => Some(format!(
            "no end chunk: the recording stopped after {} frames",
            replay.frames()
        )),
        (None, Some(_)) => None,
    }
}

fn status_name(status: sim::Status) -> &'static str {
    match status {
        sim::Status::Running => "running",
        sim::Status::Won => "won",
        sim::Status::Lost => "lost",
    }
}

fn info(file: &Path, json: bool) -> ExitCode {
    let replay = match load(file) {
        Ok(replay) => replay,
        Err(code) => return code,
    };
    let h = &replay.header;
    let last_hash = replay
        .last_hash()
        .or_else(|| replay.keyframes.first().map(|k| k.snapshot.hash()))
        .map(|h| h.to_hex());
    let result = replay.end.map(|e| status_name(e.status));
    let problem = incompleteness(&replay);
    // A match left before its planned end (a player quit) ends cleanly but early.
    let ended_early = replay.end.is_some() && replay.frames() < h.frames_planned;
    if json {
        let value = serde_json::json!({
            "file": file.display().to_string(),
            "format_version": replay::FORMAT_VERSION,
            "rules_version": h.rules_version,
            "kind": h.kind.name(),
            "seed": h.seed,
            "players": h.players,
            "scenario": h.scenario.name(),
            "creeps": h.creeps,
            "recorder_seat": h.recorder,
            "input_delay": h.input_delay,
            "max_prediction": h.max_prediction,
            "frames_planned": h.frames_planned,
            "keyframe_interval": h.keyframe_interval,
            "frames": replay.frames(),
            "keyframes": replay.keyframes.len(),
            "result": result,
            "last_hash": last_hash,
            "complete": problem.is_none(),
            "ended_early": ended_early,
            "problem": problem,
        });
        println!("{value}");
        return ExitCode::SUCCESS;
    }
    println!("file: {}", file.display());
    println!(
        "format {}, rules version {}",
        replay::FORMAT_VERSION,
        h.rules_version
    );
    println!(
        "match: {}, seed {}, {} player(s), scenario {}{}, recorded by {}",
        h.kind.name(),
        h.seed,
        h.players,
        h.scenario.name(),
        if h.creeps > 0 {
            format!(" ({} creeps)", h.creeps)
        } else {
            String::new()
        },
        h.recorder
            .map_or("a spectator".to_string(), |s| crate::ui::seat_label(
                usize::from(s)
            ))
    );
    println!(
        "settings: input delay {}, prediction {}, planned frames {}, a keyframe every {} frames",
        h.input_delay, h.max_prediction, h.frames_planned, h.keyframe_interval
    );
    let seconds = replay.frames() / 60;
    println!(
        "length: {} frames ({}:{:02} at 60 Hz), {} keyframes",
        replay.frames(),
        seconds / 60,
        seconds % 60,
        replay.keyframes.len()
    );
    match (result, &problem) {
        (Some(result), None) if ended_early => println!(
            "result: {result}, left at frame {} of the {} planned",
            replay.frames(),
            h.frames_planned
        ),
        (Some(result), None) => println!("result: {result}"),
        (_, Some(problem)) => println!("incomplete: {problem}"),
        (None, None) => {}
    }
    if let Some(hash) = last_hash {
        println!("last hash: {hash}");
    }
    ExitCode::SUCCESS
}

fn check(file: &Path) -> ExitCode {
    let replay = match load(file) {
        Ok(replay) => replay,
        Err(code) => return code,
    };
    match (verify(&replay), incompleteness(&replay)) {
        (
            Verdict::Diverged {
                frame,
                expected,
                got,
            },
            _,
        ) => {
            println!("diverged: frame={frame} expected={expected} got={got}");
            ExitCode::from(1)
        }
        (Verdict::Ok { frames, hash }, None) => {
            println!("ok: frames={frames} hash={hash}");
            ExitCode::SUCCESS
        }
        // Cut short: say what was verified, and that the file stops there, never `ok:`.
        (Verdict::Ok { frames, hash }, Some(problem)) => {
            println!("incomplete: frames={frames} hash={hash} verified, the file is cut short");
            eprintln!(
                "hltd: {}: incomplete: {problem}; verified up to there",
                file.display()
            );
            ExitCode::from(2)
        }
    }
}

/// Runs a desync command: exit 0 when the bundles agree, 1 when they differ, 2 when one
/// cannot be read.
pub fn desync(command: &DesyncCommand) -> ExitCode {
    match command {
        DesyncCommand::Diff { a, b } => diff(a, b),
    }
}

fn diff(a: &Path, b: &Path) -> ExitCode {
    let open = |path: &Path| {
        replay::bundle::open(path).map_err(|err| {
            eprintln!("hltd: cannot read the bundle {}: {err}", path.display());
            ExitCode::from(2)
        })
    };
    let (a, b) = match (open(a), open(b)) {
        (Ok(a), Ok(b)) => (a, b),
        (Err(code), _) | (_, Err(code)) => return code,
    };
    println!(
        "A: {} (seat {}, verdict frame {}, diverged {:?})",
        a.dir.display(),
        a.meta.seat,
        a.meta.verdict_frame,
        a.meta.diverged
    );
    println!(
        "B: {} (seat {}, verdict frame {}, diverged {:?})",
        b.dir.display(),
        b.meta.seat,
        b.meta.verdict_frame,
        b.meta.diverged
    );
    let c = replay::bundle::compare(&a, &b);
    for note in &c.notes {
        println!("note: {note}");
    }
    match &c.first_hash_difference {
        Some((frame, ha, hb)) => {
            println!("first differing frame: {frame}");
            println!("  A hash {ha}");
            println!("  B hash {hb}");
        }
        None => println!("hashes: no frame both bundles hold differs"),
    }
    match c.first_input_difference {
        Some((frame, seat)) => println!("inputs: first differ at frame {frame}, seat {seat}"),
        None => println!(
            "inputs: the same for the {} frames both replays hold",
            a.replay.frames().min(b.replay.frames())
        ),
    }
    if let Some((frame, differences)) = &c.state_difference {
        if differences.is_empty() {
            println!("state at frame {frame}: identical");
        } else {
            println!(
                "state at frame {frame}: {} field(s) differ (entity component.field: A vs B)",
                differences.len()
            );
            for d in differences {
                println!("  {d}");
            }
        }
    }
    if c.agrees() {
        println!("agree: yes");
        ExitCode::SUCCESS
    } else {
        println!("agree: no");
        ExitCode::from(1)
    }
}
