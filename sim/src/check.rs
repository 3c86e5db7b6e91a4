//! The range of every field of a state: what the rules can produce, checked by
//! [`crate::Snapshot::decode`] so that [`crate::Game::load`] of any decoded bytes is safe.
//!
//! The contract, field by field (`players`, `wave` and the others are the state's own):
//!
//! | record  | field            | range                                                          |
//! |---------|------------------|----------------------------------------------------------------|
//! | globals | `rules_version`  | [`RULES_VERSION`]                                              |
//! |         | `players`        | 1..=[`MAX_PLAYERS`]                                            |
//! |         | `scenario`       | a [`Scenario`] code                                            |
//! |         | `rng_inc`        | the PCG increment every game starts with (the rules never change it) |
//! |         | `creeps_target`  | 0 (standard), 1..=[`MAX_CREEPS`] (swarm)                       |
//! |         | `base_hp_max`    | [`BASE_HP`] (standard), [`SWARM_BASE_HP`] (swarm)              |
//! |         | `base_hp`        | [`BASE_HP_MIN`]..=`base_hp_max`                                |
//! |         | `wave`           | 0..=[`WAVES`] (standard), 1 (swarm)                            |
//! |         | `wave_spawned`   | 0 before wave 1, else 1..=`wave_size(wave)`; 0 in the swarm    |
//! |         | `wave_timer`     | up to the delay the spawner last set (first wave, gap, period); 0 in the swarm |
//! |         | `gold[p]`        | 0..=[`GOLD_MAX`] for a seat in play, 0 for the others          |
//! |         | `cursor_x/y[p]`  | inside the lane for a seat in play, 0 for the others           |
//! |         | `status`         | what `base_hp`, the waves and the creeps make it (the tick's last step) |
//! |         | `paused`         | 0 or 1; 1 only while running                                   |
//! |         | `seed`, `rng_state`, `frame`, `next_uid`, `kills`, `leaks` | any value         |
//! | counts  | creeps           | <= [`MAX_CREEPS`], and <= `creeps_target` in the swarm         |
//! |         | towers           | <= [`MAX_TOWERS`]                                              |
//! | both    | `uid`            | < `next_uid`, unique over creeps and towers                    |
//! |         | `kind`           | a [`CreepKind`] / [`TowerKind`] code                           |
//! |         | `lane`           | < `players`                                                    |
//! |         | `pad`            | 0                                                              |
//! | creep   | `progress`       | on the path: 0 <= progress < [`PATH_LEN`] cells                |
//! |         | `hp_max`         | its kind's hit points in some wave 1..=max(`wave`, 1)          |
//! |         | `hp`             | 1..=`hp_max` (the dead are buried in the tick that kills them) |
//! |         | `slow_ticks`     | <= the longest slow a tower applies                            |
//! |         | `attack_cd`      | <= its kind's attack period                                    |
//! |         | `flags`          | only `SPILLED`, and only with 2 or more players (`LEAKED` creeps are buried in the same tick) |
//! | tower   | `level`          | 1..=[`TOWER_LEVEL_MAX`]                                        |
//! |         | `x`, `y`         | inside the lane, off the path, one tower per cell of a lane    |
//! |         | `hp_max`         | its kind's hit points at its level                             |
//! |         | `hp`             | 1..=`hp_max`                                                   |
//! |         | `spent`          | its kind's cost plus the upgrades to its level                 |
//! |         | `cooldown`       | < its kind's period                                            |
//!
//! Every state a game reaches lies inside (the random-state tests advance states from all over
//! the range and check that the result decodes again), so saving and decoding never refuse a
//! real state.

use std::fmt;

use crate::map::{cell, on_path, PATH_LEN};
use crate::rules::{
    level_hp, wave_hp, wave_size, CreepKind, TowerKind, BASE_HP, BASE_HP_MIN,
    FIRST_WAVE_DELAY_TICKS, GOLD_MAX, LANE_CELLS, LANE_H, LANE_W, MAX_CREEPS, MAX_PLAYERS,
    MAX_TOWERS, RULES_VERSION, SPAWN_PERIOD_TICKS, SWARM_BASE_HP, TOWER_LEVEL_MAX, WAVES,
    WAVE_GAP_TICKS,
};
use crate::snapshot::SnapshotError;
use crate::state::{creep_flags, Creep, Globals, Scenario, Status, Tower};

/// The record of a state a field belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Record {
    /// The global record.
    Globals,
    /// The creep at this storage index.
    Creep(u32),
    /// The tower at this storage index.
    Tower(u32),
}

impl fmt::Display for Record {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Record::Globals => f.write_str("globals"),
            Record::Creep(i) => write!(f, "creep {i}"),
            Record::Tower(i) => write!(f, "tower {i}"),
        }
    }
}

/// The range a field's value is outside of, as [`SnapshotError::Field`] says it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Rule {
    /// The value must lie in `lo..=hi`.
    Range {
        /// Lowest allowed.
        lo: i64,
        /// Highest allowed.
        hi: i64,
    },
    /// The value must be below the named `limit` (another field or a constant).
    Below {
        /// What the limit is.
        name: &'static str,
        /// Its value.
        limit: i64,
    },
    /// The value must equal the named `expected` one.
    Equal {
        /// What the expected value is.
        name: &'static str,
        /// Its value.
        expected: i64,
    },
    /// A creep's `hp_max` must be its kind's hit points in one of the waves `1..=waves`.
    WaveHp {
        /// The creep's kind.
        kind: CreepKind,
        /// The last wave it could have spawned in.
        waves: u32,
    },
    /// A creep's progress (shown in 1/65536 cells) must be on the path.
    OffPath,
    /// The status must be what the rest of the state makes it.
    Status(Status),
    /// A rule between fields, in words.
    Says(&'static str),
}

impl fmt::Display for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Rule::Range { lo, hi } => write!(f, "not in {lo}..={hi}"),
            Rule::Below { name, limit } => write!(f, ">= {name} {limit}"),
            Rule::Equal { name, expected } => write!(f, "!= {name} {expected}"),
            Rule::WaveHp { kind, waves } => {
                write!(f, "is not a {kind:?}'s hit points in any wave 1..={waves}")
            }
            Rule::OffPath => write!(
                f,
                "(in 1/65536 cells) is off the path: 0 <= progress < {PATH_LEN} cells"
            ),
            Rule::Status(status) => {
                write!(
                    f,
                    "but base_hp, the waves and the creeps make it {status:?}"
                )
            }
            Rule::Says(text) => f.write_str(text),
        }
    }
}

/// The increment of the game's PCG32: every game starts with it (`oorandom::Rand32::new`) and
/// drawing numbers never changes it.
const RNG_INC: u64 = oorandom::Rand32::DEFAULT_INC.wrapping_shl(1) | 1;

/// The longest slow a tower applies.
const SLOW_TICKS_MAX: u16 = {
    let mut max = 0;
    let mut i = 0;
    while i < TowerKind::ALL.len() {
        let slow = TowerKind::ALL[i].stats().slow_ticks;
        if slow > max {
            max = slow;
        }
        i += 1;
    }
    max
};

/// Gold spent on a tower of build cost `cost` at `level`: the build, then `cost * l` for each
/// upgrade from level `l`.
const fn spent_at(cost: i32, level: u8) -> i64 {
    let l = level as i64;
    cost as i64 * (1 + l * (l - 1) / 2)
}

const GOLD_FIELDS: [&str; MAX_PLAYERS] = ["gold[0]", "gold[1]", "gold[2]", "gold[3]"];
const CURSOR_X_FIELDS: [&str; MAX_PLAYERS] =
    ["cursor_x[0]", "cursor_x[1]", "cursor_x[2]", "cursor_x[3]"];
const CURSOR_Y_FIELDS: [&str; MAX_PLAYERS] =
    ["cursor_y[0]", "cursor_y[1]", "cursor_y[2]", "cursor_y[3]"];
const _: () = assert!(MAX_PLAYERS == 4, "one field name per seat above");

fn field(record: Record, field: &'static str, value: impl Into<i64>, rule: Rule) -> SnapshotError {
    SnapshotError::Field {
        record,
        field,
        value: value.into(),
        rule,
    }
}

/// `Ok` when `value` is in `lo..=hi`.
fn in_range(
    record: Record,
    name: &'static str,
    value: impl Into<i64>,
    lo: impl Into<i64>,
    hi: impl Into<i64>,
) -> Result<(), SnapshotError> {
    let (value, lo, hi) = (value.into(), lo.into(), hi.into());
    if (lo..=hi).contains(&value) {
        Ok(())
    } else {
        Err(field(record, name, value, Rule::Range { lo, hi }))
    }
}

/// `Ok` when `value == expected`.
fn equal(
    record: Record,
    name: &'static str,
    value: impl Into<i64>,
    what: &'static str,
    expected: impl Into<i64>,
) -> Result<(), SnapshotError> {
    let (value, expected) = (value.into(), expected.into());
    if value == expected {
        Ok(())
    } else {
        Err(field(
            record,
            name,
            value,
            Rule::Equal {
                name: what,
                expected,
            },
        ))
    }
}

/// The status the tick's last step gives the rest of the state (as `Game::update_status`).
pub(crate) fn status_of(g: &Globals, creeps: usize) -> Status {
    if g.base_hp <= 0 {
        Status::Lost
    } else if g.scenario == Scenario::Standard as u8
        && g.wave >= WAVES
        && g.wave_spawned >= wave_size(WAVES)
        && creeps == 0
    {
        Status::Won
    } else {
        Status::Running
    }
}

/// The global record and the record counts: constant time.
pub(crate) fn check_globals(
    g: &Globals,
    creeps: usize,
    towers: usize,
) -> Result<(), SnapshotError> {
    let at = Record::Globals;
    equal(
        at,
        "rules_version",
        g.rules_version,
        "RULES_VERSION",
        RULES_VERSION,
    )?;
    in_range(at, "players", g.players, 1, MAX_PLAYERS as i64)?;
    let players = usize::from(g.players);
    let Some(scenario) = Scenario::from_code(g.scenario) else {
        return Err(field(
            at,
            "scenario",
            g.scenario,
            Rule::Range { lo: 0, hi: 1 },
        ));
    };
    if g.rng_inc != RNG_INC {
        // Shown as the bits they are; an i64 holds every u64 pattern.
        return Err(field(
            at,
            "rng_inc",
            g.rng_inc as i64,
            Rule::Equal {
                name: "the increment every game uses",
                expected: RNG_INC as i64,
            },
        ));
    }
    match scenario {
        Scenario::Standard => {
            equal(
                at,
                "creeps_target",
                g.creeps_target,
                "0 in the standard scenario",
                0,
            )?;
            equal(at, "base_hp_max", g.base_hp_max, "BASE_HP", BASE_HP)?;
            in_range(at, "wave", g.wave, 0, WAVES)?;
            let timer_max = if g.wave == 0 {
                equal(at, "wave_spawned", g.wave_spawned, "0 before wave 1", 0)?;
                FIRST_WAVE_DELAY_TICKS
            } else {
                in_range(at, "wave_spawned", g.wave_spawned, 1, wave_size(g.wave))?;
                if g.wave_spawned == wave_size(g.wave) {
                    WAVE_GAP_TICKS - 1
                } else {
                    SPAWN_PERIOD_TICKS - 1
                }
            };
            in_range(at, "wave_timer", g.wave_timer, 0, timer_max)?;
        }
        Scenario::Swarm => {
            in_range(at, "creeps_target", g.creeps_target, 1, MAX_CREEPS)?;
            equal(
                at,
                "base_hp_max",
                g.base_hp_max,
                "SWARM_BASE_HP",
                SWARM_BASE_HP,
            )?;
            equal(at, "wave", g.wave, "1 in the swarm", 1)?;
            equal(at, "wave_spawned", g.wave_spawned, "0 in the swarm", 0)?;
            equal(at, "wave_timer", g.wave_timer, "0 in the swarm", 0)?;
        }
    }
    in_range(at, "base_hp", g.base_hp, BASE_HP_MIN, g.base_hp_max)?;
    for seat in 0..MAX_PLAYERS {
        let (gold, x, y) = (g.gold[seat], g.cursor_x[seat], g.cursor_y[seat]);
        if seat < players {
            in_range(at, GOLD_FIELDS[seat], gold, 0, GOLD_MAX)?;
            if x >= LANE_W {
                let rule = Rule::Below {
                    name: "LANE_W",
                    limit: LANE_W.into(),
                };
                return Err(field(at, CURSOR_X_FIELDS[seat], x, rule));
            }
            if y >= LANE_H {
                let rule = Rule::Below {
                    name: "LANE_H",
                    limit: LANE_H.into(),
                };
                return Err(field(at, CURSOR_Y_FIELDS[seat], y, rule));
            }
        } else {
            const UNUSED: &str = "0 for a seat not in play";
            equal(at, GOLD_FIELDS[seat], gold, UNUSED, 0)?;
            equal(at, CURSOR_X_FIELDS[seat], x, UNUSED, 0)?;
            equal(at, CURSOR_Y_FIELDS[seat], y, UNUSED, 0)?;
        }
    }
    if creeps > MAX_CREEPS as usize {
        return Err(SnapshotError::Count {
            what: "creep",
            count: creeps as u64,
            name: "MAX_CREEPS",
            limit: MAX_CREEPS,
        });
    }
    if scenario == Scenario::Swarm && creeps > g.creeps_target as usize {
        return Err(SnapshotError::Count {
            what: "creep",
            count: creeps as u64,
            name: "creeps_target",
            limit: g.creeps_target,
        });
    }
    if towers > MAX_TOWERS as usize {
        return Err(SnapshotError::Count {
            what: "tower",
            count: towers as u64,
            name: "MAX_TOWERS",
            limit: MAX_TOWERS,
        });
    }
    let status = status_of(g, creeps);
    if g.status != status as u8 {
        return Err(field(at, "status", g.status, Rule::Status(status)));
    }
    in_range(at, "paused", g.paused, 0, 1)?;
    if g.paused != 0 && status != Status::Running {
        return Err(field(
            at,
            "paused",
            g.paused,
            Rule::Says("needs a running match"),
        ));
    }
    Ok(())
}

fn check_uid(record: Record, uid: u32, g: &Globals) -> Result<(), SnapshotError> {
    if uid < g.next_uid {
        Ok(())
    } else {
        let rule = Rule::Below {
            name: "next_uid",
            limit: g.next_uid.into(),
        };
        Err(field(record, "uid", uid, rule))
    }
}

fn check_lane(record: Record, lane: u8, g: &Globals) -> Result<(), SnapshotError> {
    if lane < g.players {
        Ok(())
    } else {
        let rule = Rule::Below {
            name: "players",
            limit: g.players.into(),
        };
        Err(field(record, "lane", lane, rule))
    }
}

fn check_creep(at: Record, c: &Creep, g: &Globals) -> Result<(), SnapshotError> {
    check_uid(at, c.uid, g)?;
    in_range(at, "kind", c.kind, 0, CreepKind::ALL.len() as i64 - 1)?;
    check_lane(at, c.lane, g)?;
    let bits = c.progress.to_bits();
    if !(0..(PATH_LEN as i32) << 16).contains(&bits) {
        return Err(field(at, "progress", bits, Rule::OffPath));
    }
    let kind = CreepKind::from_u8(c.kind);
    let stats = kind.stats();
    let waves = g.wave.max(1);
    if !(1..=waves).any(|w| wave_hp(stats.hp, w) == c.hp_max) {
        return Err(field(at, "hp_max", c.hp_max, Rule::WaveHp { kind, waves }));
    }
    in_range(at, "hp", c.hp, 1, c.hp_max)?;
    in_range(at, "slow_ticks", c.slow_ticks, 0, SLOW_TICKS_MAX)?;
    in_range(at, "attack_cd", c.attack_cd, 0, stats.attack_period)?;
    if c.flags & !creep_flags::SPILLED != 0 {
        let rule = Rule::Says("has bits other than SPILLED (a LEAKED creep is buried at once)");
        return Err(field(at, "flags", c.flags, rule));
    }
    if c.flags & creep_flags::SPILLED != 0 && g.players < 2 {
        let rule = Rule::Says("marks a spill, which needs another player's lane");
        return Err(field(at, "flags", c.flags, rule));
    }
    equal(at, "pad", c.pad, "0", 0)
}

/// The tower index + 1 standing on each (lane, cell), 0 for none. On the stack, so checks
/// allocate nothing.
type Cells = [u16; MAX_PLAYERS * LANE_CELLS];
const _: () = assert!(MAX_TOWERS < u16::MAX as u32);

fn check_tower(index: u32, t: &Tower, g: &Globals, cells: &mut Cells) -> Result<(), SnapshotError> {
    let at = Record::Tower(index);
    check_uid(at, t.uid, g)?;
    let Some(kind) = TowerKind::from_u8(t.kind) else {
        let hi = TowerKind::ALL.len() as i64 - 1;
        return Err(field(at, "kind", t.kind, Rule::Range { lo: 0, hi }));
    };
    in_range(at, "level", t.level, 1, TOWER_LEVEL_MAX)?;
    check_lane(at, t.lane, g)?;
    if t.x >= LANE_W {
        let rule = Rule::Below {
            name: "LANE_W",
            limit: LANE_W.into(),
        };
        return Err(field(at, "x", t.x, rule));
    }
    if t.y >= LANE_H {
        let rule = Rule::Below {
            name: "LANE_H",
            limit: LANE_H.into(),
        };
        return Err(field(at, "y", t.y, rule));
    }
    if on_path(t.x, t.y) {
        return Err(SnapshotError::OnPath {
            record: at,
            x: t.x,
            y: t.y,
        });
    }
    let standing = &mut cells[usize::from(t.lane) * LANE_CELLS + cell(t.x, t.y)];
    if *standing != 0 {
        return Err(SnapshotError::SharedCell {
            record: at,
            other: Record::Tower(u32::from(*standing) - 1),
            lane: t.lane,
            x: t.x,
            y: t.y,
        });
    }
    *standing = index as u16 + 1;
    let stats = kind.stats();
    equal(
        at,
        "hp_max",
        t.hp_max,
        "its kind's hit points at its level",
        level_hp(stats.hp, t.level),
    )?;
    in_range(at, "hp", t.hp, 1, t.hp_max)?;
    equal(
        at,
        "spent",
        t.spent,
        "its kind's cost and upgrades to its level",
        spent_at(stats.cost, t.level),
    )?;
    in_range(at, "cooldown", t.cooldown, 0, stats.period - 1)?;
    equal(at, "pad", t.pad, "0", 0)
}

/// Every record's fields, given that the globals passed [`check_globals`]: linear time, no
/// allocation. Everything but the uniqueness of uids.
pub(crate) fn check_records(
    g: &Globals,
    creeps: &[Creep],
    towers: &[Tower],
) -> Result<(), SnapshotError> {
    for (i, c) in creeps.iter().enumerate() {
        check_creep(Record::Creep(i as u32), c, g)?;
    }
    let mut cells: Cells = [0; MAX_PLAYERS * LANE_CELLS];
    for (i, t) in towers.iter().enumerate() {
        check_tower(i as u32, t, g, &mut cells)?;
    }
    Ok(())
}

/// No uid is held twice among the creeps and towers. Sorts a copy: `n log n`, allocates.
pub(crate) fn check_uids(creeps: &[Creep], towers: &[Tower]) -> Result<(), SnapshotError> {
    // uid, then the record in Record order (creeps before towers, by index), in one u64.
    const TOWER: u64 = 1 << 31;
    let mut keys: Vec<u64> = creeps
        .iter()
        .enumerate()
        .map(|(i, c)| u64::from(c.uid) << 32 | i as u64)
        .chain(
            towers
                .iter()
                .enumerate()
                .map(|(i, t)| u64::from(t.uid) << 32 | TOWER | i as u64),
        )
        .collect();
    keys.sort_unstable();
    let record = |key: u64| {
        let index = (key & (TOWER - 1)) as u32;
        if key & TOWER != 0 {
            Record::Tower(index)
        } else {
            Record::Creep(index)
        }
    };
    match keys.windows(2).find(|w| w[0] >> 32 == w[1] >> 32) {
        Some(w) => Err(SnapshotError::SharedUid {
            record: record(w[1]),
            other: record(w[0]),
            uid: (w[0] >> 32) as u32,
        }),
        None => Ok(()),
    }
}

/// The whole contract.
pub(crate) fn check_state(
    g: &Globals,
    creeps: &[Creep],
    towers: &[Tower],
) -> Result<(), SnapshotError> {
    check_globals(g, creeps.len(), towers.len())?;
    check_records(g, creeps, towers)?;
    check_uids(creeps, towers)
}
