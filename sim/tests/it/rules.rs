//! The rules do what they claim: waves spawn and end matches, towers kill, the swarm scales.

use sim::{Game, Input, Script, Settings, Status, TowerKind};

use crate::run;

/// The swarm at 10,000 creeps runs 100 ticks, keeps its crowd, and its towers kill.
#[test]
fn swarm_10k_runs_100_ticks() {
    let mut game = Game::new(Settings::swarm(1, 4, 10_000));
    assert_eq!(game.creep_count(), 10_000);
    run(&mut game, Script::Random, 1, 100);
    assert_eq!(game.frame(), 100);
    assert_eq!(
        game.creep_count(),
        10_000,
        "the swarm refills what died or leaked"
    );
    assert!(game.globals().kills > 0, "towers must kill in the swarm");
    assert_eq!(game.status(), Status::Running);
}

/// With nobody playing, creeps leak and the base falls: the match is lost, then frozen.
#[test]
fn idle_players_lose() {
    let mut game = Game::new(Settings::standard(2, 2));
    run(&mut game, Script::Idle, 2, 20_000);
    assert_eq!(game.status(), Status::Lost);
    assert!(game.globals().base_hp <= 0);
    assert!(game.globals().leaks > 0);
    let frozen = game.view();
    game.advance(&[Input::new(sim::action::BUILD, 0, 0, 0); 2]);
    assert_eq!(
        game.view().towers,
        frozen.towers,
        "nothing happens after the end"
    );
}

/// Build, upgrade, repair and sell move gold as the rules say; illegal builds are no-ops.
#[test]
fn economy_of_build_upgrade_sell() {
    let mut game = Game::new(Settings::standard(4, 1));
    let gold = |g: &Game| g.globals().gold[0];
    let start = gold(&game);
    game.advance(&[Input::new(sim::action::BUILD, TowerKind::Arrow as u8, 1, 0)]);
    assert_eq!(game.tower_count(), 0, "(1,0) is on the path");
    game.advance(&[Input::new(sim::action::BUILD, TowerKind::Arrow as u8, 0, 0)]);
    assert_eq!(game.tower_count(), 1);
    assert_eq!(gold(&game), start - 20);
    game.advance(&[Input::new(sim::action::BUILD, TowerKind::Frost as u8, 0, 0)]);
    assert_eq!(game.tower_count(), 1, "the cell is taken");
    game.advance(&[Input::new(sim::action::UPGRADE, 0, 0, 0)]);
    assert_eq!(game.view().towers[0].level, 2);
    assert_eq!(gold(&game), start - 40);
    game.advance(&[Input::new(sim::action::SELL, 0, 0, 0)]);
    assert_eq!(game.tower_count(), 0);
    assert_eq!(
        gold(&game),
        start - 20,
        "selling refunds half of the 40 spent"
    );
}

/// A pause request freezes the match for everyone until a player resumes it.
#[test]
fn pause_freezes_until_resumed() {
    let mut game = Game::new(Settings::standard(8, 2));
    run(&mut game, Script::Idle, 8, 400);
    let pause = Input::new(sim::action::PAUSE, 0, 0, 0);
    game.advance(&[pause, Input::IDLE]);
    let paused = game.view();
    run(&mut game, Script::Idle, 8, 100);
    assert_eq!(game.view().creeps, paused.creeps);
    game.advance(&[Input::IDLE, pause]);
    run(&mut game, Script::Idle, 8, 10);
    assert_ne!(game.view().creeps, paused.creeps);
}

/// Leaked creeps spill into the neighbouring lane before they reach the base.
#[test]
fn leaks_spill_into_the_next_lane() {
    let mut game = Game::new(Settings::standard(6, 2));
    let mut spilled = false;
    for _ in 0..3000 {
        run(&mut game, Script::Idle, 6, 1);
        spilled |= game.view().creeps.iter().any(|c| c.spilled);
    }
    assert!(spilled, "some creep must have walked into the next lane");
}

/// Bosses come at the end of every fourth wave.
#[test]
fn bosses_appear() {
    let mut game = Game::new(Settings::standard(12, 1));
    let mut boss = false;
    // Build a wall of arrows so the match lasts into wave 4.
    let mut frame_inputs = Vec::new();
    for y in 0..16u8 {
        for x in [0u8, 2, 3, 9] {
            frame_inputs.push(Input::new(sim::action::BUILD, 0, x, y));
        }
    }
    for _ in 0..9000 {
        let input = frame_inputs
            .get(game.frame() as usize % 600)
            .copied()
            .unwrap_or(Input::IDLE);
        game.advance(&[input]);
        boss |= game
            .view()
            .creeps
            .iter()
            .any(|c| c.kind == sim::CreepKind::Boss);
        if boss {
            break;
        }
    }
    assert!(
        boss,
        "a boss must spawn by wave 4 (reached wave {})",
        game.globals().wave
    );
}
