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
            // matchbox's signaling server warns about every websocket closed without a
            // goodbye, which is how every match ends.
            EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| EnvFilter::new("warn,matchbox_signaling=error")),
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
        Err(err) => {
            eprintln!("hltd: error: {err:#}");
            std::process::ExitCode::from(3)
        }
    }
}

/// Runs a headless match and prints `frame=<N> hash=<hex>`.
fn run_sim(args: &SimArgs) -> Result<()> {
    let settings = match Settings::new(args.seed, args.players, args.scenario.into(), args.creeps) {
        Ok(settings) => settings,
        Err(err) => args::sim_usage_error(&err),
    };
    let mut game = Game::new(settings);
    let mut inputs = vec![Input::IDLE; usize::from(settings.players())];
    let script: sim::Script = args.inputs.into();
    let mut recorder = match &args.record {
        Some(path) => Some(record::create_offline(path, &settings, args.frames)?),
        None => None,
    };
    for _ in 0..args.frames {
        script.inputs(settings.seed(), game.frame(), &mut inputs);
        let hash = game.advance(&inputs);
        if let Some(recorder) = recorder.as_mut() {
            recorder.record(&inputs, Some(hash))?;
        }
    }
    if let Some(recorder) = recorder {
        recorder.finish()?;
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
