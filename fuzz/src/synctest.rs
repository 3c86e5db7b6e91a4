//! The sync-test fuzzer: each seed picks the game's settings (players, scenario, swarm size,
//! game seed) and GGRS's check distance, unless fixed, and random inputs for every frame; a
//! GGRS sync-test session then rolls the game back every frame and re-simulates up to the
//! check distance. The oracle: every re-simulation reproduces its hashes.

use net::{run_synctest, SyncTestError, SyncTestOptions, SyncTestReport};
use sim::{Game, Scenario, Settings};

use crate::{input, mix};

/// What to fuzz; `None` fields are picked per seed.
#[derive(Clone, Debug, Default)]
pub struct Options {
    /// Players, 1..=4.
    pub players: Option<u32>,
    /// GGRS check distance, 1..=7.
    pub check_distance: Option<usize>,
    /// Frames per case.
    pub frames: u32,
    /// Scenario.
    pub scenario: Option<Scenario>,
    /// Creeps of a swarm.
    pub creeps: Option<u32>,
    /// Test support: break the game's determinism ([`Game::break_determinism`]), to prove the
    /// oracle fires.
    pub broken: bool,
}

/// One case: everything a seed decided.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Case {
    /// The seed.
    pub seed: u64,
    /// The game's settings.
    pub settings: Settings,
    /// GGRS check distance.
    pub check_distance: usize,
    /// Frames.
    pub frames: u32,
}

impl Case {
    /// The case of `seed` under `options`.
    pub fn new(seed: u64, options: &Options) -> Case {
        let mut rng = oorandom::Rand32::new(mix(seed, 0x5EED, 0));
        let players = options.players.unwrap_or_else(|| rng.rand_range(1..5));
        let check_distance = options
            .check_distance
            .unwrap_or_else(|| rng.rand_range(1..8) as usize);
        let scenario = options.scenario.unwrap_or(if rng.rand_range(0..4) == 0 {
            Scenario::Swarm
        } else {
            Scenario::Standard
        });
        let creeps = match scenario {
            Scenario::Swarm => Some(options.creeps.unwrap_or_else(|| rng.rand_range(1..3000))),
            Scenario::Standard => None,
        };
        let settings = Settings::new(seed, players, scenario, creeps)
            .unwrap_or_else(|_| Settings::standard(seed, players.clamp(1, 4)));
        Case {
            seed,
            settings,
            check_distance,
            frames: options.frames,
        }
    }

    /// The `hltd` command that runs exactly this case.
    pub fn command(&self) -> String {
        let mut command = format!(
            "hltd fuzz synctest --seed {} --players {} --check-distance {} --frames {} --scenario {}",
            self.seed,
            self.settings.players(),
            self.check_distance,
            self.frames,
            self.settings.scenario().name()
        );
        if self.settings.scenario() == Scenario::Swarm {
            command.push_str(&format!(" --creeps {}", self.settings.creeps()));
        }
        command
    }

    /// Runs the case.
    ///
    /// # Errors
    /// [`SyncTestError::Mismatch`] when a re-simulation differs: the failure the fuzzer looks
    /// for; other errors when GGRS refuses the session.
    pub fn run(&self, broken: bool) -> Result<SyncTestReport, SyncTestError> {
        let mut game = Game::new(self.settings);
        if broken {
            game.break_determinism();
        }
        let options = SyncTestOptions {
            players: usize::from(self.settings.players()),
            check_distance: self.check_distance,
            frames: self.frames,
        };
        let seed = self.seed;
        run_synctest(&mut game, options, |frame, seat| input(seed, frame, seat))
    }

    /// The fewest frames that still fail, when the case fails: the run stops at the frame
    /// whose re-simulation differed, so a case cut just after it fails the same way (checked
    /// by running it).
    pub fn shrink(&self, broken: bool) -> Option<Case> {
        let Err(SyncTestError::Mismatch { current_frame, .. }) = self.run(broken) else {
            return None;
        };
        let shorter = Case {
            frames: u32::try_from(current_frame + 1)
                .unwrap_or(self.frames)
                .min(self.frames),
            ..*self
        };
        matches!(shorter.run(broken), Err(SyncTestError::Mismatch { .. })).then_some(shorter)
    }
}
