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

use crate::args::{FuzzCommand, NetFuzzArgs, SynctestArgs, UsageError};

/// Runs a fuzz command.
///
/// # Errors
/// When the output directory cannot be made.
pub fn run(command: &FuzzCommand) -> Result<ExitCode> {
    match command {
        FuzzCommand::Synctest(args) => synctest(args),
        FuzzCommand::Net(args) => net(args),
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
        return Err(UsageError::new(
            "fuzz synctest",
            "--creeps needs --scenario swarm (a standard match has waves, not a crowd)",
        )
        .into());
    }
    let seeds = args.seeds.list("fuzz synctest")?;
    let options = Options {
        players: args.players,
        check_distance: args.check_distance.map(|d| d as usize),
        frames: args.frames,
        scenario: args.scenario.map(Into::into),
        creeps: args.creeps,
        broken: args.break_determinism,
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

/// Seeds per second (one decimal) and frames per second, as integers.
fn rates(seeds: u128, frames: u128, ms: u128) -> (String, u128) {
    let tenths = seeds * 10_000 / ms;
    (
        format!("{}.{}", tenths / 10, tenths % 10),
        frames * 1000 / ms,
    )
}

fn net(args: &NetFuzzArgs) -> Result<ExitCode> {
    use fuzz::netfuzz::{NetCase, NetOptions};
    args.check()?;
    let seeds = args.seeds.list("fuzz net")?;
    let options = NetOptions {
        peers: args.peers.map(|p| p as usize),
        frames: args.frames,
        faults: net::simnet::SimFaults {
            loss_ppm: args.loss,
            dup_ppm: args.dup,
            reorder_ppm: args.reorder,
            latency_us: args.latency * 1000,
            jitter_us: args.jitter * 1000,
            partition_us: args.partition * 1000,
        },
        broken: args.break_determinism,
        leave_ppm: args.leave,
    };
    let bar = progress(seeds.len() as u64);
    let started = Instant::now();
    let mut failures = 0u64;
    let (mut rollbacks, mut resimulated) = (0u64, 0u64);
    // Cases run on `jobs` threads, each building its own peers; results come back here, in
    // the order they finish, to be reported one at a time.
    let next = std::sync::atomic::AtomicUsize::new(0);
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::scope(|scope| {
        for _ in 0..args.jobs.min(seeds.len() as u32) {
            let tx = tx.clone();
            let (next, seeds, options) = (&next, &seeds, &options);
            scope.spawn(move || loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let Some(&seed) = seeds.get(i) else {
                    break;
                };
                let case = NetCase::new(seed, options);
                let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                    case.run(options.broken)
                }));
                let result = caught.map_err(|panic| {
                    panic
                        .downcast_ref::<String>()
                        .cloned()
                        .or_else(|| panic.downcast_ref::<&str>().map(|s| (*s).to_string()))
                        .unwrap_or_else(|| "a panic".to_string())
                });
                if tx.send((case, result)).is_err() {
                    break;
                }
            });
        }
        drop(tx);
        for (case, result) in rx {
            match result {
                Ok((Ok(()), run)) => {
                    rollbacks += run.work.iter().map(|w| w.rollbacks).sum::<u64>();
                    resimulated += run.work.iter().map(|w| w.resimulated).sum::<u64>();
                }
                Ok((Err(failure), run)) => {
                    failures += 1;
                    let what = failure.to_string();
                    bar.suspend(|| report_net_failure(&case, &what, Some(&run), args));
                }
                Err(what) => {
                    failures += 1;
                    let what = format!("panicked: {what}");
                    bar.suspend(|| report_net_failure(&case, &what, None, args));
                }
            }
            bar.set_message(format!("failures {failures}"));
            bar.inc(1);
        }
    });
    bar.finish_and_clear();
    let ms = started.elapsed().as_millis().max(1);
    let frames = seeds.len() as u128 * u128::from(args.frames);
    let (seeds_per_s, frames_per_s) = rates(seeds.len() as u128, frames, ms);
    println!(
        "{seeds_per_s} seeds/s, {frames_per_s} frames/s of play ({}x real time), \
         rollbacks={rollbacks} resimulated={resimulated}",
        frames_per_s / 60
    );
    println!("fuzz: seeds={} failures={failures}", seeds.len());
    Ok(if failures == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

fn report_net_failure(
    case: &fuzz::netfuzz::NetCase,
    what: &str,
    run: Option<&fuzz::netfuzz::NetRun>,
    args: &NetFuzzArgs,
) {
    println!("FAIL seed={}: {what}", case.seed);
    let broken = if args.break_determinism {
        " --break-determinism"
    } else {
        ""
    };
    println!("  rerun: {}{broken}", case.command());
    let Some(run) = run else {
        return;
    };
    let written = out_dir(&args.out).and_then(|dir| {
        let dir = dir.join(format!("net-seed{}", case.seed));
        if dir.exists() {
            std::fs::remove_dir_all(&dir)
                .with_context(|| format!("cannot replace {}", dir.display()))?;
        }
        std::fs::create_dir_all(&dir)
            .with_context(|| format!("cannot create {}", dir.display()))?;
        let replay = dir.join("replay.hltr");
        let frames = &run.confirmed[0];
        fuzz::record_inputs(
            &replay,
            case.settings(),
            frames.len() as u32,
            |frame, seat| frames[frame as usize].inputs[seat],
        )
        .with_context(|| format!("cannot write {}", replay.display()))?;
        let mut lines = vec![format!("  replay: {}", replay.display())];
        for (seat, evidence) in &run.evidence {
            let bundle = dir.join(format!("desync-seat{seat}.bundle"));
            let inputs: Vec<sim::Input> = run.confirmed[*seat]
                .iter()
                .flat_map(|c| c.inputs.iter().copied())
                .collect();
            let header = replay::Header::offline(
                &case.settings(),
                case.frames,
                crate::record::KEYFRAME_INTERVAL,
            );
            crate::record::write_bundle(&bundle, header, *seat, &inputs, evidence)
                .with_context(|| format!("cannot write {}", bundle.display()))?;
            lines.push(format!("  desync bundle: {}", bundle.display()));
        }
        Ok(lines)
    });
    match written {
        Ok(lines) => lines.iter().for_each(|l| println!("{l}")),
        Err(err) => println!("  not written: {err:#}"),
    }
}
