//! `hltd fuzz synctest` (and `hltd fuzz net`): run many seeds with a progress bar, print a
//! rerun command and write a replay for every failing seed, end with
//! `fuzz: seeds=<N> failures=<N>`, exit 0 or 1.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use anyhow::{Context, Result};
use fuzz::synctest::{Case, Options};
use indicatif::{ProgressBar, ProgressStyle};
use net::SyncTestError;

use crate::args::{FuzzCommand, SynctestArgs};

/// Runs a fuzz command.
///
/// # Errors
/// When the output directory cannot be made.
pub fn run(command: &FuzzCommand) -> Result<ExitCode> {
    match command {
        FuzzCommand::Synctest(args) => synctest(args),
    }
}

/// A bar on stderr (hidden when stderr is not a terminal): seeds done, failures, seeds/s.
fn progress(seeds: u64) -> ProgressBar {
    let bar = ProgressBar::new(seeds);
    bar.set_style(
        ProgressStyle::with_template("{bar:30} {pos}/{len} seeds  {msg}  {per_sec}  eta {eta}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    bar
}

/// Where failing seeds' replays go.
fn out_dir(out: &Option<PathBuf>) -> Result<PathBuf> {
    let dir = out
        .clone()
        .unwrap_or_else(|| crate::record::replay_dir().join("fuzz"));
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    Ok(dir)
}

fn synctest(args: &SynctestArgs) -> Result<ExitCode> {
    if args.creeps.is_some() && !matches!(args.scenario, Some(crate::args::ScenarioArg::Swarm)) {
        crate::args::usage_error(
            "fuzz",
            "--creeps needs --scenario swarm (a standard match has waves, not a crowd)",
        );
    }
    let options = Options {
        players: args.players,
        check_distance: args.check_distance.map(|d| d as usize),
        frames: args.frames,
        scenario: args.scenario.map(Into::into),
        creeps: args.creeps,
        broken: args.break_determinism,
    };
    let seeds: Vec<u64> = match args.seed {
        Some(seed) => vec![seed],
        None => (0..args.seeds).map(|i| args.first_seed + i).collect(),
    };
    let bar = progress(seeds.len() as u64);
    let started = Instant::now();
    let (mut failures, mut simulated) = (0u64, 0u64);
    for &seed in &seeds {
        let case = Case::new(seed, &options);
        match case.run(options.broken) {
            Ok(report) => simulated += report.simulated,
            Err(err) => {
                failures += 1;
                bar.suspend(|| report_failure(&case, &err, &options, &args.out));
            }
        }
        bar.set_message(format!("failures {failures}"));
        bar.inc(1);
    }
    bar.finish_and_clear();
    let ms = started.elapsed().as_millis().max(1);
    let frames = seeds.len() as u128 * u128::from(args.frames);
    let per_s = |n: u128| n * 1000 / ms;
    println!(
        "{}.{} seeds/s, {} frames/s ({}x real time), {} frames/s simulated with re-simulations",
        per_s(seeds.len() as u128 * 10) / 10,
        per_s(seeds.len() as u128 * 10) % 10,
        per_s(frames),
        per_s(frames) / 60,
        per_s(u128::from(simulated))
    );
    println!("fuzz: seeds={} failures={failures}", seeds.len());
    Ok(if failures == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

fn report_failure(case: &Case, err: &SyncTestError, options: &Options, out: &Option<PathBuf>) {
    println!("FAIL seed={}: {err}", case.seed);
    let shrunk = match err {
        SyncTestError::Mismatch { .. } => case.shrink(options.broken),
        _ => None,
    };
    let case = shrunk.as_ref().unwrap_or(case);
    if let Some(short) = &shrunk {
        println!("  shrunk to {} frames", short.frames);
    }
    let broken = if options.broken {
        " --break-determinism"
    } else {
        ""
    };
    println!("  rerun: {}{broken}", case.command());
    let written = out_dir(out).and_then(|dir| {
        let path = dir.join(format!("synctest-seed{}.hltr", case.seed));
        let seed = case.seed;
        fuzz::record_inputs(&path, case.settings, case.frames, |frame, seat| {
            fuzz::input(seed, frame, seat)
        })
        .with_context(|| format!("cannot write {}", path.display()))?;
        Ok(path)
    });
    match written {
        Ok(path) => println!("  replay: {}", path.display()),
        Err(err) => println!("  no replay: {err:#}"),
    }
}
