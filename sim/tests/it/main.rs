//! sim's integration tests: one binary, one module per concern.

mod decode;
mod golden;
mod restore;
mod rollback_props;
mod rules;

use sim::{Game, Input, Script, Settings, StateHash};

/// Advances `game` by `frames` ticks of `script` inputs; returns the hash after each tick.
pub fn run(game: &mut Game, script: Script, seed: u64, frames: u32) -> Vec<StateHash> {
    let mut inputs = vec![Input::IDLE; usize::from(game.globals().players)];
    (0..frames)
        .map(|_| {
            script.inputs(seed, game.frame(), &mut inputs);
            game.advance(&inputs)
        })
        .collect()
}

/// A standard game already `frames` ticks into a scripted match.
pub fn game_at(seed: u64, players: u32, frames: u32) -> Game {
    let mut game = Game::new(Settings::standard(seed, players));
    run(&mut game, Script::Random, seed, frames);
    game
}
