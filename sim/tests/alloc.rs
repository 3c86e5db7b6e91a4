//! No allocation per tick in steady state, counted by a counting global allocator. A binary of
//! its own, so the allocator counts nothing but this test.

use std::alloc::System;

use sim::{Game, Input, Script, Settings, Snapshot};
use stats_alloc::{Region, StatsAlloc, INSTRUMENTED_SYSTEM};

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

/// Ticks `frames` times with scripted random inputs.
fn tick(game: &mut Game, inputs: &mut [Input], frames: u32) {
    for _ in 0..frames {
        Script::Random.inputs(7, game.frame(), inputs);
        game.advance(inputs);
    }
}

/// A swarm, whose creeps die and respawn every tick, and a 4-player standard match with
/// building and selling, once their buffers have grown: ticking, and rolling back 8 frames
/// (load, then 8 x tick + save into kept snapshots), allocate nothing.
#[test]
fn steady_state_ticks_and_rollbacks_do_not_allocate() {
    for (name, settings, warmup) in [
        ("swarm", Settings::swarm(7, 4, 20_000), 600),
        ("standard", Settings::standard(7, 4), 3_000),
    ] {
        let mut game = Game::new(settings);
        let mut inputs = vec![Input::IDLE; 4];
        tick(&mut game, &mut inputs, warmup);
        let start = game.save();
        let mut saves: Vec<Snapshot> = (0..8).map(|_| game.save()).collect();
        // Rollbacks reach the same frames again; a few rounds grow what they need.
        for _ in 0..3 {
            game.load(&start);
            for save in &mut saves {
                tick(&mut game, &mut inputs, 1);
                game.save_into(save);
            }
        }

        let region = Region::new(GLOBAL);
        for _ in 0..20 {
            game.load(&start);
            for save in &mut saves {
                tick(&mut game, &mut inputs, 1);
                game.save_into(save);
            }
        }
        let rollbacks = region.change();
        let region = Region::new(GLOBAL);
        tick(&mut game, &mut inputs, 300);
        let ticks = region.change();
        assert!(game.creep_count() > 0, "{name}: creeps alive while counted");
        assert_eq!(
            (rollbacks.allocations, rollbacks.reallocations),
            (0, 0),
            "{name}: 20 rollbacks of 8 frames allocated: {rollbacks:?}"
        );
        assert_eq!(
            (ticks.allocations, ticks.reallocations),
            (0, 0),
            "{name}: 300 ticks allocated: {ticks:?}"
        );
    }
}
