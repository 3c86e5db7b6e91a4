//! The command-line arguments, in clap's derive form.

use clap::{CommandFactory, Parser, Subcommand, ValueEnum};

/// Healer TD: co-op terminal tower defence on a deterministic rollback core.
#[derive(Debug, Parser)]
#[command(name = "hltd", version, about)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run a match headless and print its final frame and state hash.
    Sim(SimArgs),
}

#[derive(Debug, clap::Args)]
pub struct SimArgs {
    /// Seed of the match (game randomness and scripted inputs).
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Players, 1 to 4: one lane each.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=4))]
    pub players: u32,
    /// Ticks to simulate (60 per second of game time).
    #[arg(long, default_value_t = 3600)]
    pub frames: u32,
    /// Rule set parameters.
    #[arg(long, value_enum, default_value_t = ScenarioArg::Standard)]
    pub scenario: ScenarioArg,
    /// Creeps the swarm keeps alive, 1 to 100000 (swarm only; default 10000).
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..=i64::from(sim::rules::MAX_CREEPS)))]
    pub creeps: Option<u32>,
    /// Who plays: scripted random actions, or nobody.
    #[arg(long, value_enum, default_value_t = InputsArg::Random)]
    pub inputs: InputsArg,
    /// Also print a summary of the final state on stderr.
    #[arg(long, short)]
    pub verbose: bool,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum ScenarioArg {
    /// Twelve waves, bosses, a base to defend.
    Standard,
    /// A constant crowd of creeps (see --creeps), for benchmarks.
    Swarm,
}

impl From<ScenarioArg> for sim::Scenario {
    fn from(arg: ScenarioArg) -> Self {
        match arg {
            ScenarioArg::Standard => sim::Scenario::Standard,
            ScenarioArg::Swarm => sim::Scenario::Swarm,
        }
    }
}

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum InputsArg {
    /// Scripted players that build, upgrade, repair and sell at random.
    Random,
    /// Players that never act.
    Idle,
}

impl From<InputsArg> for sim::Script {
    fn from(arg: InputsArg) -> Self {
        match arg {
            InputsArg::Random => sim::Script::Random,
            InputsArg::Idle => sim::Script::Idle,
        }
    }
}

/// Exits with clap's usage-error status (2) and the `sim` subcommand's usage, for errors found
/// after parsing.
pub fn sim_usage_error(err: &sim::SettingsError) -> ! {
    let message = match err {
        sim::SettingsError::CreepsWithoutSwarm => {
            "--creeps only applies to --scenario swarm".to_string()
        }
        other => other.to_string(),
    };
    let mut cli = Cli::command();
    cli.build();
    let sub = cli
        .find_subcommand_mut("sim")
        .expect("the sim subcommand is defined above");
    sub.error(clap::error::ErrorKind::ArgumentConflict, message)
        .exit()
}
