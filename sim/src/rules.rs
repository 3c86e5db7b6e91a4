//! The rules of Healer TD as data: limits, creep and tower statistics, wave shapes.
//!
//! Every number that decides an outcome lives here, so a balance change is one diff, and every
//! change here bumps [`RULES_VERSION`] and the golden hash together.

use crate::num::{fx_ratio, Fx};

/// Version of the rules and of the state encoding. Peers, replays and golden hashes from another
/// version are not comparable; bump it with the golden hash in `tests/it/golden.rs`.
pub const RULES_VERSION: u32 = 2;

/// Ticks per second of game time.
pub const TICKS_PER_SECOND: u32 = 60;

// ---- limits: every collection in the state has a named bound ----

/// Players, and therefore lanes, in one match.
pub const MAX_PLAYERS: usize = 4;
/// Width of one lane in cells.
pub const LANE_W: u8 = 10;
/// Height of one lane in cells.
pub const LANE_H: u8 = 16;
/// Cells in one lane.
pub const LANE_CELLS: usize = LANE_W as usize * LANE_H as usize;
/// Creeps alive at once, in any scenario. The spawner never exceeds it.
pub const MAX_CREEPS: u32 = 100_000;
/// Towers alive at once: at most one per cell of every lane.
pub const MAX_TOWERS: u32 = (MAX_PLAYERS * LANE_CELLS) as u32;
/// Creeps spawned in one tick, whatever the scenario asks for: bounds the work of a tick.
pub const MAX_SPAWNS_PER_TICK: u32 = 4096;
/// Highest tower level.
pub const TOWER_LEVEL_MAX: u8 = 3;

const _: () = assert!(MAX_PLAYERS <= u8::MAX as usize);
const _: () = assert!(MAX_TOWERS as usize == MAX_PLAYERS * LANE_CELLS);
const _: () = assert!(MAX_SPAWNS_PER_TICK <= MAX_CREEPS);
const _: () = assert!(SPAWN_PERIOD_TICKS > 0 && WAVE_GAP_TICKS > 0);

// ---- the standard scenario ----

/// Waves in the standard scenario; surviving the last one wins.
pub const WAVES: u32 = 12;
/// Ticks before the first wave.
pub const FIRST_WAVE_DELAY_TICKS: u32 = 3 * TICKS_PER_SECOND;
/// Ticks from the last spawn of a wave to the first spawn of the next.
pub const WAVE_GAP_TICKS: u32 = 5 * TICKS_PER_SECOND;
/// Ticks from one spawn to the next in the same lane during a wave.
pub const SPAWN_PERIOD_TICKS: u32 = 40;
/// Gold each player starts with.
pub const START_GOLD: i32 = 60;
/// Gold is capped so that no sum of bounties can overflow.
pub const GOLD_MAX: i32 = 1_000_000;
/// The shared base's hit points in the standard scenario.
pub const BASE_HP: i32 = 100;
/// The base's hit points in the swarm scenario: large, so benchmarks are not cut short.
pub const SWARM_BASE_HP: i32 = 1_000_000_000;

/// Creeps per lane in wave `wave` (1-based).
pub const fn wave_size(wave: u32) -> u32 {
    6 + 2 * wave
}

/// Hit points of a creep with base hit points `hp` in wave `wave` (1-based): +20% per wave.
pub const fn wave_hp(hp: i32, wave: u32) -> i32 {
    let wave = if wave > 1000 { 1000 } else { wave };
    let scaled = hp as i64 * (100 + 20 * (wave.saturating_sub(1) as i64)) / 100;
    if scaled > i32::MAX as i64 {
        i32::MAX
    } else {
        scaled as i32
    }
}

/// Slowed creeps move at this fraction of their speed.
pub const SLOW_FACTOR: Fx = fx_ratio(1, 2);

// ---- creeps ----

/// The kinds of creep. Stored as a `u8` in [`crate::Creep::kind`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[repr(u8)]
pub enum CreepKind {
    /// The common walker.
    Grunt = 0,
    /// Fast and fragile.
    Runner = 1,
    /// Slow and tough; hits towers beside the path.
    Brute = 2,
    /// The end of a wave: huge, hits towers hard, hurts the base badly.
    Boss = 3,
}

/// Statistics of one creep kind.
#[derive(Clone, Copy, Debug)]
pub struct CreepStats {
    /// Hit points at wave 1.
    pub hp: i32,
    /// Path cells per tick.
    pub speed: Fx,
    /// Gold for the lane's owner when killed.
    pub bounty: i32,
    /// Base hit points lost when it leaks.
    pub leak_damage: i32,
    /// Damage dealt to one adjacent tower per attack (0: never attacks).
    pub tower_damage: i32,
    /// Ticks between attacks.
    pub attack_period: u16,
}

impl CreepKind {
    /// Every kind, in code order.
    pub const ALL: [CreepKind; 4] = [Self::Grunt, Self::Runner, Self::Brute, Self::Boss];

    /// Decodes a stored kind; unknown codes (never written by the rules) read as `Grunt`.
    pub const fn from_u8(code: u8) -> CreepKind {
        match code {
            1 => Self::Runner,
            2 => Self::Brute,
            3 => Self::Boss,
            _ => Self::Grunt,
        }
    }

    /// This kind's statistics.
    pub const fn stats(self) -> CreepStats {
        CREEP_STATS[self as usize]
    }

    /// The statistics of the kind stored as `code` ([`crate::Creep::kind`]); unknown codes read
    /// as `Grunt`'s, as in [`CreepKind::from_u8`]. A table lookup without branches: the rules
    /// call it for every creep every tick, and kinds are mixed at random.
    #[inline]
    pub fn stats_of(code: u8) -> &'static CreepStats {
        let index = if usize::from(code) < CREEP_STATS.len() {
            usize::from(code)
        } else {
            0
        };
        &CREEP_STATS[index]
    }
}

/// Statistics of each creep kind, in code order.
const CREEP_STATS: [CreepStats; 4] = [
    // Grunt
    CreepStats {
        hp: 40,
        speed: fx_ratio(1, 30),
        bounty: 3,
        leak_damage: 2,
        tower_damage: 0,
        attack_period: 0,
    },
    // Runner
    CreepStats {
        hp: 22,
        speed: fx_ratio(1, 16),
        bounty: 3,
        leak_damage: 1,
        tower_damage: 0,
        attack_period: 0,
    },
    // Brute
    CreepStats {
        hp: 120,
        speed: fx_ratio(1, 45),
        bounty: 8,
        leak_damage: 4,
        tower_damage: 6,
        attack_period: 30,
    },
    // Boss
    CreepStats {
        hp: 900,
        speed: fx_ratio(1, 60),
        bounty: 60,
        leak_damage: 25,
        tower_damage: 20,
        attack_period: 30,
    },
];

/// The lowest the base's hit points fall. The rules run only while they are above zero, and one
/// tick's leaks cost at most every creep's leak damage: [`MAX_CREEPS`] creeps of the kind
/// that hurts the base most.
pub const BASE_HP_MIN: i32 = {
    let mut most = 0;
    let mut i = 0;
    while i < CREEP_STATS.len() {
        if CREEP_STATS[i].leak_damage > most {
            most = CREEP_STATS[i].leak_damage;
        }
        i += 1;
    }
    1 - MAX_CREEPS as i32 * most
};

// ---- towers ----

/// The kinds of tower. Stored as a `u8` in [`crate::Tower::kind`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[repr(u8)]
pub enum TowerKind {
    /// Single target, quick.
    Arrow = 0,
    /// Slow; damages every creep near the target, less with distance.
    Cannon = 1,
    /// Light damage that slows the target.
    Frost = 2,
    /// Restores the towers around it and the shared base.
    Healer = 3,
}

/// Statistics of one tower kind at level 1.
#[derive(Clone, Copy, Debug)]
pub struct TowerStats {
    /// Gold to build; upgrading from level L costs `cost * L`.
    pub cost: i32,
    /// Reach in cells (Euclidean, cell centre to cell centre).
    pub range: u8,
    /// Damage per shot, or hit points restored per pulse for the healer.
    pub power: i32,
    /// Ticks from one shot or pulse to the next (at least 1).
    pub period: u16,
    /// Hit points.
    pub hp: i32,
    /// Ticks of slow applied per hit (frost only).
    pub slow_ticks: u16,
}

impl TowerKind {
    /// Every kind, in code order.
    pub const ALL: [TowerKind; 4] = [Self::Arrow, Self::Cannon, Self::Frost, Self::Healer];

    /// Decodes a code from an input or the state; `None` for anything else.
    pub const fn from_u8(code: u8) -> Option<TowerKind> {
        match code {
            0 => Some(Self::Arrow),
            1 => Some(Self::Cannon),
            2 => Some(Self::Frost),
            3 => Some(Self::Healer),
            _ => None,
        }
    }

    /// This kind's statistics at level 1.
    pub const fn stats(self) -> TowerStats {
        match self {
            Self::Arrow => TowerStats {
                cost: 20,
                range: 3,
                power: 8,
                period: 20,
                hp: 60,
                slow_ticks: 0,
            },
            Self::Cannon => TowerStats {
                cost: 35,
                range: 3,
                power: 14,
                period: 45,
                hp: 80,
                slow_ticks: 0,
            },
            Self::Frost => TowerStats {
                cost: 30,
                range: 2,
                power: 3,
                period: 30,
                hp: 60,
                slow_ticks: 90,
            },
            Self::Healer => TowerStats {
                cost: 40,
                range: 2,
                power: 6,
                period: 60,
                hp: 50,
                slow_ticks: 0,
            },
        }
    }
}

// Towers set their cooldown to `period - 1` after acting.
const _: () = {
    let mut i = 0;
    while i < TowerKind::ALL.len() {
        assert!(
            TowerKind::ALL[i].stats().period > 0,
            "a tower period must be at least 1"
        );
        i += 1;
    }
};

/// Damage or healing of a tower at `level` (1-based): x1, x1.5, x2.
pub const fn level_power(power: i32, level: u8) -> i32 {
    power * (level as i32 + 1) / 2
}

/// Maximum hit points of a tower at `level`: +25% per level above 1.
pub const fn level_hp(hp: i32, level: u8) -> i32 {
    hp * (level as i32 + 3) / 4
}

/// Splash reach of a cannon, in cells from the target's cell.
pub const CANNON_SPLASH: Fx = fx_ratio(3, 2);
/// Hit points of the base a healer restores per pulse.
pub const HEALER_BASE_HEAL: i32 = 1;
/// Hit points of repair one gold buys (the cost is rounded up).
pub const REPAIR_HP_PER_GOLD: i32 = 4;
