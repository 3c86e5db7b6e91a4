//! `hltd`: Healer TD's command line. It only wires arguments to the libraries.

mod args;
mod benchcmd;
mod demo;
mod fuzzcmd;
mod live;
mod lobby_ui;
mod netcmd;
mod playback;
mod record;
mod replaycmd;
mod ui;

use anyhow::Result;
use clap::Parser;

use args::{Cli, Command, SimArgs};
use sim::{Game, Input, Settings};
use tracing_subscriber::EnvFilter;

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("warn")),
        )
        .init();
    let result = match cli.command {
        Command::Demo(args) => demo::run(&args),
        Command::Host(args) => netcmd::host(&args),
        Command::Join(args) => netcmd::join(&args, net::lobby::Role::Player),
        Command::Spectate(args) => netcmd::join(&args, net::lobby::Role::Spectator),
        Command::Signal(args) => netcmd::signal(&args),
        Command::Sim(args) => run_sim(&args).map(|()| std::process::ExitCode::SUCCESS),
        Command::Replay(command) => Ok(replaycmd::run(&command)),
        Command::Desync(command) => Ok(replaycmd::desync(&command)),
        Command::Fuzz(command) => fuzzcmd::run(&command),
        Command::Bench(args) => benchcmd::run(&args),
    };
    match result {
        Ok(code) => code,
        Err(err) => match err.downcast_ref::<args::UsageError>() {
            Some(usage) => usage.report(),
            None => {
                eprintln!("hltd: error: {err:#}");
                std::process::ExitCode::from(3)
            }
        },
    }
}

/// The error of `sim --record` whose replay could not be written whole: the path, the frames
/// it kept and the cause, once.
fn cut_short<W: std::io::Write>(
    args: &SimArgs,
    recorder: &replay::Recorder<W>,
    err: &replay::RecordError,
) -> anyhow::Error {
    let path = args.record.as_deref().unwrap_or(std::path::Path::new("?"));
    anyhow::anyhow!(
        "replay: {} ({} frames, cut short: {})",
        path.display(),
        recorder.frames_kept(),
        record::write_cause(err)
    )
}

/// Runs a headless match and prints `frame=<N> hash=<hex>`.
fn run_sim(args: &SimArgs) -> Result<()> {
    let settings = Settings::new(args.seed, args.players, args.scenario.into(), args.creeps)
        .map_err(|err| args::sim_usage_error(&err))?;
    let mut game = Game::new(settings);
    let mut inputs = vec![Input::IDLE; usize::from(settings.players())];
    let script: sim::Script = args.inputs.into();
    if let Some(path) = &args.record {
        args::check_record_path("sim", path)?;
    }
    let mut recorder = match &args.record {
        Some(path) => Some(record::create_offline(path, &settings, args.frames)?),
        None => None,
    };
    for _ in 0..args.frames {
        script.inputs(settings.seed(), game.frame(), &mut inputs);
        let hash = game.advance(&inputs);
        if let Some(recorder) = recorder.as_mut() {
            if let Err(err) = recorder.record(&inputs, Some(hash)) {
                return Err(cut_short(args, recorder, &err));
            }
        }
    }
    if let Some(mut recorder) = recorder {
        if let Err(err) = recorder.write_end() {
            return Err(cut_short(args, &recorder, &err));
        }
    }
    if args.verbose {
        let view = game.view();
        eprintln!(
            "status={:?} wave={}/{} base={}/{} kills={} leaks={} creeps={} towers={} gold={:?}",
            view.status,
            view.wave,
            view.waves_total,
            view.base_hp,
            view.base_hp_max,
            view.kills,
            view.leaks,
            view.creeps.len(),
            view.towers.len(),
            view.players.iter().map(|p| p.gold).collect::<Vec<_>>()
        );
    }
    println!("frame={} hash={}", game.frame(), game.hash());
    Ok(())
}
