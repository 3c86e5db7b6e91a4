//! [`View`]: a plain-data picture of a state for renderers. No ECS types, public fields.

use crate::game::Game;
use crate::map::PATH_LEN;
use crate::rules::{wave_size, CreepKind, TowerKind, LANE_H, LANE_W, RULES_VERSION, WAVES};
use crate::snapshot::StateHash;
use crate::state::{creep_flags, Scenario, Status};

/// Everything a renderer needs to draw one frame. Owned plain data: it can be sent to another
/// thread and kept while the simulation moves on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct View {
    /// Ticks simulated.
    pub frame: u32,
    /// The state hash at this frame.
    pub hash: StateHash,
    /// The rules the state was made by.
    pub rules_version: u32,
    /// The scenario.
    pub scenario: Scenario,
    /// How the match stands.
    pub status: Status,
    /// Whether the match is paused.
    pub paused: bool,
    /// Current wave (0 before the first) and the last one.
    pub wave: u32,
    /// Waves in the match (0 in the swarm, which has no end).
    pub waves_total: u32,
    /// Creeps still to spawn per lane in the current wave.
    pub wave_remaining: u32,
    /// Ticks until the spawner acts next.
    pub spawn_in_ticks: u32,
    /// The shared base.
    pub base_hp: i32,
    /// The base's full hit points.
    pub base_hp_max: i32,
    /// Creeps killed by towers so far.
    pub kills: u32,
    /// Creeps that reached the base so far.
    pub leaks: u32,
    /// Lane size in cells.
    pub lane_w: u8,
    /// Lane size in cells.
    pub lane_h: u8,
    /// The path every lane shares, in walking order.
    pub path: Vec<(u8, u8)>,
    /// One entry per player (= lane), in seat order.
    pub players: Vec<PlayerView>,
    /// Towers in uid order.
    pub towers: Vec<TowerView>,
    /// Creeps in uid order.
    pub creeps: Vec<CreepView>,
}

/// One player.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PlayerView {
    /// Gold to spend.
    pub gold: i32,
    /// Cursor cell inside the player's lane.
    pub cursor: (u8, u8),
}

/// One tower.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TowerView {
    /// Stable id.
    pub uid: u32,
    /// Lane (= owner).
    pub lane: u8,
    /// Cell inside the lane.
    pub x: u8,
    /// Cell inside the lane.
    pub y: u8,
    /// Kind.
    pub kind: TowerKind,
    /// Level, 1..=3.
    pub level: u8,
    /// Hit points.
    pub hp: i32,
    /// Full hit points.
    pub hp_max: i32,
}

/// One creep.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CreepView {
    /// Stable id.
    pub uid: u32,
    /// Lane it walks.
    pub lane: u8,
    /// Cell inside the lane.
    pub x: u8,
    /// Cell inside the lane.
    pub y: u8,
    /// Kind.
    pub kind: CreepKind,
    /// Hit points.
    pub hp: i32,
    /// Full hit points.
    pub hp_max: i32,
    /// Whether frost slows it.
    pub slowed: bool,
    /// Whether it already spilled over from another lane.
    pub spilled: bool,
}

impl Game {
    /// A plain-data picture of the current state.
    pub fn view(&self) -> View {
        let g = self.globals();
        let map = self.map();
        let mut towers: Vec<TowerView> = self
            .towers()
            .iter()
            .map(|t| TowerView {
                uid: t.uid,
                lane: t.lane,
                x: t.x,
                y: t.y,
                kind: t.kind(),
                level: t.level,
                hp: t.hp,
                hp_max: t.hp_max,
            })
            .collect();
        towers.sort_unstable_by_key(|t| t.uid);
        let mut creeps: Vec<CreepView> = self
            .creeps()
            .iter()
            .map(|c| {
                let at = c.progress.to_num::<i32>().clamp(0, PATH_LEN as i32 - 1);
                let (x, y) = map.path_cell(at as usize);
                CreepView {
                    uid: c.uid,
                    lane: c.lane,
                    x,
                    y,
                    kind: c.kind(),
                    hp: c.hp,
                    hp_max: c.hp_max,
                    slowed: c.slow_ticks > 0,
                    spilled: c.flags & creep_flags::SPILLED != 0,
                }
            })
            .collect();
        creeps.sort_unstable_by_key(|c| c.uid);
        let players = (0..usize::from(g.players))
            .map(|p| PlayerView {
                gold: g.gold[p],
                cursor: (g.cursor_x[p], g.cursor_y[p]),
            })
            .collect();
        let standard = g.scenario() == Scenario::Standard;
        View {
            frame: g.frame,
            hash: self.hash(),
            rules_version: RULES_VERSION,
            scenario: g.scenario(),
            status: g.status(),
            paused: g.paused != 0,
            wave: g.wave,
            waves_total: if standard { WAVES } else { 0 },
            wave_remaining: if standard && g.wave > 0 {
                wave_size(g.wave).saturating_sub(g.wave_spawned)
            } else {
                0
            },
            spawn_in_ticks: g.wave_timer,
            base_hp: g.base_hp,
            base_hp_max: g.base_hp_max,
            kills: g.kills,
            leaks: g.leaks,
            lane_w: LANE_W,
            lane_h: LANE_H,
            path: map.path().to_vec(),
            players,
            towers,
            creeps,
        }
    }
}
