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
