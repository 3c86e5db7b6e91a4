//! The rules do what they claim: waves spawn and end matches, towers kill, the swarm scales.

use sim::map::{cell, cell_xy, Map, PATH_LEN};
use sim::rules::LANE_CELLS;
use sim::{action, Game, Input, Script, Settings, Status, TowerKind, View};

use crate::run;

/// Off-path cells, best first: not beside the path (creeps only hit adjacent towers), then
/// the most path cells within range 3.
fn cells_by_merit(map: &Map) -> Vec<(u8, u8)> {
    let beside =
        |x: u8, y: u8| (0..PATH_LEN).any(|i| map.beside_path(i).contains(&(cell(x, y) as u16)));
    let mut cells: Vec<(u8, u8)> = (0..LANE_CELLS)
        .map(cell_xy)
        .filter(|&(x, y)| !map.on_path(x, y))
        .collect();
    cells.sort_by_key(|&(x, y)| {
        (
            beside(x, y),
            std::cmp::Reverse(map.path_in_range(x, y, 3).len()),
        )
    });
    cells
}

/// Cells beside the path, from the lane's end backwards: where brutes will hit towers.
fn cells_beside_path(map: &Map) -> Vec<(u8, u8)> {
    let mut cells = Vec::new();
    for i in (0..PATH_LEN).rev() {
        for &c in map.beside_path(i) {
            let xy = cell_xy(usize::from(c));
            if !cells.contains(&xy) {
                cells.push(xy);
            }
        }
    }
    cells
}

/// A sensible player: builds a mix of towers on the best free cell it can afford, repairs
/// towers below half health, then upgrades.
fn sensible(view: &View, seat: usize, cells: &[(u8, u8)]) -> Input {
    let gold = view.players[seat].gold;
    let mine = |x, y| {
        view.towers
            .iter()
            .find(|t| usize::from(t.lane) == seat && (t.x, t.y) == (x, y))
    };
    for (n, &(x, y)) in cells.iter().enumerate() {
        match mine(x, y) {
            None => {
                let kind = [0u8, 1, 0, 2, 0, 3][n % 6];
                let affordable = gold >= TowerKind::ALL[usize::from(kind)].stats().cost;
                return if affordable {
                    Input::new(action::BUILD, kind, x, y)
                } else {
                    Input::IDLE
                };
            }
            Some(t) if t.hp < t.hp_max / 2 => return Input::new(action::REPAIR, 0, x, y),
            Some(_) => {}
        }
    }
    view.towers
        .iter()
        .find(|t| usize::from(t.lane) == seat && t.level < 3)
        .map_or(Input::IDLE, |t| Input::new(action::UPGRADE, 0, t.x, t.y))
}

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

/// Build, upgrade and sell move gold as the rules say; illegal builds are no-ops.
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

/// A pause request freezes the match for everyone until a player resumes it; requests from
/// several players in one tick toggle once, and that tick's other commands still apply.
#[test]
fn pause_freezes_until_resumed() {
    let mut game = Game::new(Settings::standard(8, 2));
    run(&mut game, Script::Idle, 8, 400);
    let pause = Input::new(action::PAUSE, 0, 0, 0);
    let build = Input::new(action::BUILD, TowerKind::Arrow as u8, 0, 0);
    game.advance(&[pause, build]);
    assert!(game.view().paused);
    assert_eq!(
        game.tower_count(),
        1,
        "the build in the pausing tick applies"
    );
    let paused = game.view();
    run(&mut game, Script::Idle, 8, 100);
    game.advance(&[build, Input::IDLE]);
    assert_eq!(
        game.view().creeps,
        paused.creeps,
        "nothing moves while paused"
    );
    assert_eq!(game.tower_count(), 1, "no build while paused");
    game.advance(&[pause, pause]);
    assert!(!game.view().paused, "two requests in one tick resume once");
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

/// A sensible defence of every lane survives all twelve waves and wins.
#[test]
fn sensible_defence_wins() {
    for players in [1u32, 3] {
        let mut game = Game::new(Settings::standard(21, players));
        let cells = cells_by_merit(game.map());
        let mut inputs = vec![Input::IDLE; players as usize];
        while game.status() == Status::Running && game.frame() < 30_000 {
            inputs.fill(Input::IDLE);
            if game.frame().is_multiple_of(10) {
                let view = game.view();
                for (seat, input) in inputs.iter_mut().enumerate() {
                    *input = sensible(&view, seat, &cells);
                }
            }
            game.advance(&inputs);
        }
        let g = game.globals();
        assert_eq!(
            game.status(),
            Status::Won,
            "players {players}: wave {} base {}",
            g.wave,
            g.base_hp
        );
        assert_eq!(g.wave, sim::rules::WAVES);
    }
}

/// Damage per creep between two views of the same match.
fn hits(before: &View, after: &View) -> Vec<(u32, i32)> {
    after
        .creeps
        .iter()
        .filter_map(|c| {
            let old = before.creeps.iter().find(|o| o.uid == c.uid)?;
            (c.hp < old.hp).then_some((c.uid, old.hp - c.hp))
        })
        .collect()
}

/// Plays one player who builds exactly `towers` at once and then idles; calls `watch` with
/// the views before and after every tick until it returns true or the match ends.
fn watch_match(
    towers: &[(TowerKind, (u8, u8))],
    mut watch: impl FnMut(&View, &View) -> bool,
) -> bool {
    let mut game = Game::new(Settings::standard(33, 1));
    for &(kind, (x, y)) in towers {
        game.advance(&[Input::new(action::BUILD, kind as u8, x, y)]);
    }
    assert_eq!(
        game.tower_count() as usize,
        towers.len(),
        "all towers must be affordable"
    );
    let mut before = game.view();
    while game.status() == Status::Running {
        game.advance(&[Input::IDLE]);
        let after = game.view();
        if watch(&before, &after) {
            return true;
        }
        before = after;
    }
    false
}

/// A lone cannon hurts several creeps with one shot; creeps further from the target take less.
#[test]
fn cannon_splashes() {
    let spot = cells_by_merit(&Map::new())[0];
    let splashed = watch_match(&[(TowerKind::Cannon, spot)], |before, after| {
        let hits = hits(before, after);
        let full = sim::rules::level_power(TowerKind::Cannon.stats().power, 1);
        hits.len() >= 2
            && hits.iter().any(|&(_, d)| d == full)
            && hits.iter().all(|&(_, d)| d <= full)
    });
    assert!(splashed, "one cannon shot must damage two or more creeps");
}

/// A lone frost tower slows what it hits, and slowed creeps walk at half speed.
#[test]
fn frost_slows() {
    let spot = cells_by_merit(&Map::new())[0];
    let slowed = watch_match(&[(TowerKind::Frost, spot)], |_, after| {
        after.creeps.iter().any(|c| c.slowed)
    });
    assert!(slowed, "a frost hit must slow its target");
}

/// Brutes hit towers beside the path; a healer restores them and the base; repair restores a
/// tower to full for a quarter gold per hit point.
#[test]
fn towers_are_hit_healed_and_repaired() {
    let map = Map::new();
    let beside = cells_beside_path(&map);
    // An arrow beside the path near the end, and a healer right next to it.
    let arrow = beside[0];
    let healer = cells_by_merit(&map)
        .into_iter()
        .find(|&(x, y)| x.abs_diff(arrow.0) <= 1 && y.abs_diff(arrow.1) <= 1)
        .expect("a free cell next to the arrow");
    let (mut tower_hit, mut tower_healed, mut base_healed) = (false, false, false);
    watch_match(
        &[(TowerKind::Arrow, arrow), (TowerKind::Healer, healer)],
        |before, after| {
            let hp = |v: &View| v.towers.iter().find(|t| (t.x, t.y) == arrow).map(|t| t.hp);
            match (hp(before), hp(after)) {
                (Some(b), Some(a)) if a < b => tower_hit = true,
                (Some(b), Some(a)) if a > b => tower_healed = true,
                _ => {}
            }
            base_healed |= after.base_hp > before.base_hp;
            tower_hit && tower_healed && base_healed
        },
    );
    assert!(
        tower_hit,
        "brutes or bosses must hit the tower beside the path"
    );
    assert!(tower_healed, "the healer must restore the damaged tower");
    assert!(base_healed, "the healer must restore the base after leaks");

    // Repair: damage a tower, then pay to restore it.
    let mut game = Game::new(Settings::standard(33, 1));
    game.advance(&[Input::new(
        action::BUILD,
        TowerKind::Arrow as u8,
        arrow.0,
        arrow.1,
    )]);
    let mut view = game.view();
    while view.towers.first().is_some_and(|t| t.hp == t.hp_max) && game.status() == Status::Running
    {
        game.advance(&[Input::IDLE]);
        view = game.view();
    }
    let tower = *view
        .towers
        .first()
        .expect("the tower survives its first hit");
    let gold = view.players[0].gold;
    game.advance(&[Input::new(action::REPAIR, 0, arrow.0, arrow.1)]);
    let after = game.view();
    assert_eq!(
        after.kills, view.kills,
        "no bounty may blur the repair's cost in this tick"
    );
    let missing = tower.hp_max - tower.hp;
    assert!(after.towers[0].hp >= tower.hp_max - sim::CreepKind::Boss.stats().tower_damage);
    assert_eq!(after.players[0].gold, gold - (missing + 3) / 4);
}
