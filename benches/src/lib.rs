//! Benchmarks of sim live in `benches/*.rs`; run them with `cargo bench -p benches`.
//!
//! This library holds the setup they share, the naive baseline they are compared with
//! ([`naive`]), and the measurements `hltd bench` runs ([`measure`]).

pub mod measure;
pub mod naive;

use sim::{Game, Input, Script, Settings};

/// A swarm of `creeps` creeps on 4 lanes, advanced `warmup` ticks so spawning, killing and
/// leaking are all in steady state.
pub fn swarm(creeps: u32, warmup: u32) -> Game {
    let mut game = Game::new(Settings::swarm(1, 4, creeps));
    let mut inputs = [Input::IDLE; 4];
    for _ in 0..warmup {
        Script::Random.inputs(1, game.frame(), &mut inputs);
        game.advance(&inputs);
    }
    game
}

/// A standard match of `players` players, every seat played by `script` for `frames` frames
/// and recorded with a keyframe every 600 frames (as `hltd` records): the replay's bytes.
pub fn recorded(players: u8, frames: u32, script: Script) -> Vec<u8> {
    let header = replay::Header {
        rules_version: sim::RULES_VERSION,
        seed: 1,
        players,
        scenario: sim::Scenario::Standard,
        creeps: 0,
        recorder: Some(0),
        input_delay: 2,
        max_prediction: 8,
        frames_planned: frames,
        keyframe_interval: 600,
        kind: replay::MatchKind::Offline,
    };
    let mut recorder = replay::Recorder::new(Vec::new(), header).expect("a valid header");
    let mut inputs = vec![Input::IDLE; usize::from(players)];
    for frame in 0..frames {
        script.inputs(1, frame, &mut inputs);
        recorder.record(&inputs, None).expect("recording to memory");
    }
    recorder.finish().expect("recording to memory")
}

/// The canonical encoding of `game`'s state, and two variants of it that the incremental hash
/// is timed on: the state one idle tick later (every creep moved; the game is put back), and
/// the state with 1% of its creep records changed (a bit of their hit points), in one run from
/// the middle.
pub fn hash_variants(game: &mut Game) -> (Vec<u8>, Vec<u8>, Vec<u8>) {
    let saved = game.save();
    let mut encoded = Vec::new();
    saved.encode(&mut encoded);
    game.advance(&[Input::IDLE; 4]);
    let mut later = Vec::new();
    game.save().encode(&mut later);
    game.load(&saved);
    let creeps = saved.creep_records().len();
    let touched = changed_creeps(&encoded, creeps / 2..creeps / 2 + creeps / 100);
    (encoded, later, touched)
}

/// `encoded` with a bit of the hit points of the creeps at these storage indices flipped.
pub fn changed_creeps(encoded: &[u8], creeps: impl Iterator<Item = usize>) -> Vec<u8> {
    let mut changed = encoded.to_vec();
    for i in creeps {
        // Magic, globals and creep count come first; hp is at byte 8 of a record.
        changed[8 + 96 + 4 + i * std::mem::size_of::<sim::Creep>() + 8] ^= 1;
    }
    changed
}
