//! `hltd replay info` and `hltd replay verify`.

use std::path::Path;
use std::process::ExitCode;

use replay::{read, verify, Replay, Verdict};

use crate::args::ReplayCommand;

/// Keyframes every 10 seconds of play: a seek simulates at most that much.
pub const KEYFRAME_INTERVAL: u32 = 600;

/// Starts an offline recording (`hltd sim --record`) at `path`.
///
/// # Errors
/// When the file cannot be created or written.
pub fn create(
    path: &Path,
    settings: &sim::Settings,
    frames: u32,
) -> anyhow::Result<replay::Recorder<std::io::BufWriter<std::fs::File>>> {
    use anyhow::Context;
    let file = std::fs::File::create(path)
        .with_context(|| format!("cannot create the replay {}", path.display()))?;
    let header = replay::Header {
        rules_version: sim::RULES_VERSION,
        seed: settings.seed(),
        players: settings.players(),
        scenario: settings.scenario(),
        creeps: settings.creeps(),
        recorder: Some(0),
        input_delay: 0,
        max_prediction: 0,
        frames_planned: frames,
        keyframe_interval: KEYFRAME_INTERVAL,
        kind: replay::MatchKind::Offline,
    };
    replay::Recorder::new(std::io::BufWriter::new(file), header)
        .with_context(|| format!("cannot write the replay {}", path.display()))
}

/// Runs a replay command; exit 0 when all is well, 1 when a replay diverged, 2 when a file
/// cannot be read whole.
pub fn run(command: &ReplayCommand) -> ExitCode {
    match command {
        ReplayCommand::Info { file, json } => info(file, *json),
        ReplayCommand::Verify { file } => check(file),
    }
}

/// Reads the file, or says why not (exit 2).
fn load(file: &Path) -> Result<Replay, ExitCode> {
    let bytes = std::fs::read(file).map_err(|err| {
        eprintln!("hltd: cannot read {}: {err}", file.display());
        ExitCode::from(2)
    })?;
    read(&bytes).map_err(|err| {
        eprintln!("hltd: {}: {err}", file.display());
        ExitCode::from(2)
    })
}

/// Says where an incomplete recording stops, if it does.
fn incompleteness(replay: &Replay) -> Option<String> {
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
            .map_or("a spectator".to_string(), |s| format!("P{}", s + 1))
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
    let code = match verify(&replay) {
        Verdict::Ok { frames, hash } => {
            println!("ok: frames={frames} hash={hash}");
            ExitCode::SUCCESS
        }
        Verdict::Diverged {
            frame,
            expected,
            got,
        } => {
            println!("diverged: frame={frame} expected={expected} got={got}");
            return ExitCode::from(1);
        }
    };
    match incompleteness(&replay) {
        Some(problem) => {
            eprintln!(
                "hltd: {}: incomplete: {problem}; verified up to there",
                file.display()
            );
            ExitCode::from(2)
        }
        None => code,
    }
}
