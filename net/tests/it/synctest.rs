//! GGRS sync-test over the real game finds no mismatch, and does find one in a game whose
//! checksum is deliberately non-deterministic.

use net::{run_synctest, Rollback, SyncTestError, SyncTestOptions};
use sim::{script::garbage_input, Game, Input, Script, Settings};

const PLAYERS: usize = 4;
const CHECK_DISTANCE: usize = 7;

fn options(frames: u32) -> SyncTestOptions {
    SyncTestOptions {
        players: PLAYERS,
        check_distance: CHECK_DISTANCE,
        frames,
    }
}

/// 4 players, check distance 7, scripted random inputs: 5 seeds x 4000 frames = 20,000 frames,
/// every one re-simulated 7 times, with zero mismatches.
#[test]
fn real_game_passes_synctest_20k_frames() {
    let mut total = 0;
    for seed in [1u64, 2, 3, 0xFEED_FACE, 0xDEAD_BEEF] {
        let mut game = Game::new(Settings::standard(seed, PLAYERS as u32));
        let report = run_synctest(&mut game, options(4000), |frame, player| {
            Script::Random.input(seed, frame, player as u8)
        })
        .unwrap_or_else(|err| panic!("seed {seed}: {err}"));
        assert_eq!(report.frames, 4000, "seed {seed}");
        assert!(
            report.simulated >= u64::from(report.frames) * CHECK_DISTANCE as u64,
            "seed {seed}: every frame must be re-simulated {CHECK_DISTANCE} times, simulated {}",
            report.simulated
        );
        assert!(
            report.rollbacks >= 3900,
            "seed {seed}: GGRS must roll back every frame, did {}",
            report.rollbacks
        );
        assert!(
            game.tower_count() > 0 || game.globals().kills > 0,
            "seed {seed}: the match must be played"
        );
        total += report.frames;
    }
    assert!(total >= 20_000);
}

/// Garbage inputs and the swarm scenario pass too.
#[test]
fn garbage_inputs_and_swarm_pass_synctest() {
    let seed = 77;
    let mut game = Game::new(Settings::standard(seed, PLAYERS as u32));
    run_synctest(&mut game, options(1500), |frame, player| {
        garbage_input(seed, frame, player as u8)
    })
    .unwrap_or_else(|err| panic!("seed {seed}: {err}"));

    let mut swarm = Game::new(Settings::swarm(seed, PLAYERS as u32, 3000));
    run_synctest(&mut swarm, options(200), |frame, player| {
        Script::Random.input(seed, frame, player as u8)
    })
    .unwrap_or_else(|err| panic!("seed {seed} (swarm): {err}"));
}

/// The real game, but its checksum mixes in how often it was asked: exactly the kind of state
/// that escapes the snapshot. The same harness must report a mismatch.
struct LeakyChecksum {
    game: Game,
    asked: std::cell::Cell<u64>,
}

impl Rollback for LeakyChecksum {
    type Input = Input;
    type Snapshot = sim::Snapshot;

    fn advance(&mut self, inputs: &[Input]) {
        self.game.advance(inputs);
    }
    fn save(&self) -> sim::Snapshot {
        self.game.save()
    }
    fn load(&mut self, snapshot: &sim::Snapshot) {
        self.game.load(snapshot);
    }
    fn state_hash(&self) -> [u8; 32] {
        self.game.hash().0
    }
    fn checksum(&self) -> u128 {
        self.asked.set(self.asked.get() + 1);
        self.game.hash().checksum() ^ u128::from(self.asked.get())
    }
}

#[test]
fn non_deterministic_checksum_is_caught() {
    let seed = 3;
    let mut leaky = LeakyChecksum {
        game: Game::new(Settings::standard(seed, PLAYERS as u32)),
        asked: std::cell::Cell::new(0),
    };
    let result = run_synctest(&mut leaky, options(200), |frame, player| {
        Script::Random.input(seed, frame, player as u8)
    });
    match result {
        Err(SyncTestError::Mismatch {
            mismatched_frames, ..
        }) => {
            assert!(!mismatched_frames.is_empty())
        }
        other => panic!("seed {seed}: expected a mismatch, got {other:?}"),
    }
}
