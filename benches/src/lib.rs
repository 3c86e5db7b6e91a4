//! Benchmarks of sim live in `benches/sim.rs`; run them with `cargo bench -p benches`.
//!
//! This library only holds the setup the benchmarks share.

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
