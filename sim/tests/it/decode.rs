//! Decoding checks every field's range, so that any decoded state loads and plays safely.
//!
//! The ranges are written down here a second time, independently of `sim::check`, as the
//! specification: random states are drawn from all over them (and from real states of played
//! games, mutated), every one must decode, load and play 10 ticks with random inputs, and the
//! state it ends in must decode again; a field pushed just outside its range must be refused
//! with an error naming the record and the field. Seeded: `DECODE_SEED` overrides the seed;
//! a failure prints the seed and the case.

use bytemuck::Zeroable;
use sim::map::{cell_xy, Map, PATH_LEN};
use sim::rules::{
    level_hp, wave_hp, wave_size, BASE_HP, FIRST_WAVE_DELAY_TICKS, GOLD_MAX, LANE_CELLS, LANE_H,
    LANE_W, MAX_CREEPS, MAX_PLAYERS, MAX_TOWERS, RULES_VERSION, SPAWN_PERIOD_TICKS, SWARM_BASE_HP,
    TOWER_LEVEL_MAX, WAVES, WAVE_GAP_TICKS,
};
use sim::{
    creep_flags, Creep, CreepKind, Game, Globals, Input, Scenario, Script, Settings, Snapshot,
    Status, Tower, TowerKind,
};

/// A state as its three parts, free to edit.
#[derive(Clone, Debug)]
struct Parts {
    g: Globals,
    creeps: Vec<Creep>,
    towers: Vec<Tower>,
}

impl Parts {
    fn of(snapshot: &Snapshot) -> Parts {
        Parts {
            g: *snapshot.globals(),
            creeps: snapshot.creep_records().to_vec(),
            towers: snapshot.tower_records().to_vec(),
        }
    }

    /// The canonical encoding, as the module documentation of `sim::snapshot` lays it out.
    fn encode(&self) -> Vec<u8> {
        let mut out = b"HLTDSTAT".to_vec();
        out.extend_from_slice(bytemuck::bytes_of(&self.g));
        out.extend_from_slice(&(self.creeps.len() as u32).to_le_bytes());
        out.extend_from_slice(bytemuck::cast_slice(&self.creeps));
        out.extend_from_slice(&(self.towers.len() as u32).to_le_bytes());
        out.extend_from_slice(bytemuck::cast_slice(&self.towers));
        out
    }

    fn standard(&self) -> bool {
        self.g.scenario == Scenario::Standard as u8
    }
}

// ---- the specification ----

/// The RNG increment of every game: `Rand32::new` picks it, drawing never changes it.
fn rng_inc() -> u64 {
    oorandom::Rand32::new(0).state().1
}

/// The lowest base hit points: from 1, one tick of MAX_CREEPS bosses leaking.
fn base_hp_min() -> i32 {
    let most = CreepKind::ALL
        .iter()
        .map(|k| k.stats().leak_damage)
        .max()
        .unwrap();
    1 - MAX_CREEPS as i32 * most
}

fn slow_max() -> u16 {
    TowerKind::ALL
        .iter()
        .map(|k| k.stats().slow_ticks)
        .max()
        .unwrap()
}

/// Gold spent on a tower: the build, then cost x level for each upgrade.
fn spent(kind: TowerKind, level: u8) -> u32 {
    let cost = kind.stats().cost as u32;
    cost + (1..u32::from(level)).map(|l| cost * l).sum::<u32>()
}

/// The longest the spawner waits from this point of the waves.
fn wave_timer_max(g: &Globals) -> u32 {
    if g.scenario == Scenario::Swarm as u8 {
        0
    } else if g.wave == 0 {
        FIRST_WAVE_DELAY_TICKS
    } else if g.wave_spawned == wave_size(g.wave) {
        WAVE_GAP_TICKS - 1
    } else {
        SPAWN_PERIOD_TICKS - 1
    }
}

fn status_of(p: &Parts) -> Status {
    let g = &p.g;
    if g.base_hp <= 0 {
        Status::Lost
    } else if p.standard()
        && g.wave == WAVES
        && g.wave_spawned == wave_size(WAVES)
        && p.creeps.is_empty()
    {
        Status::Won
    } else {
        Status::Running
    }
}

/// Sets the status the rest of the state gives; a match that is over is not paused.
fn settle(p: &mut Parts) {
    let status = status_of(p);
    p.g.status = status as u8;
    if status != Status::Running {
        p.g.paused = 0;
    }
}

fn creep_limit(p: &Parts) -> usize {
    if p.standard() {
        MAX_CREEPS as usize
    } else {
        p.g.creeps_target as usize
    }
}

// ---- random values across the ranges ----

struct Rng(oorandom::Rand32);

impl Rng {
    fn below(&mut self, n: u32) -> u32 {
        self.0.rand_range(0..n.max(1))
    }

    fn chance(&mut self, percent: u32) -> bool {
        self.below(100) < percent
    }

    fn u64(&mut self) -> u64 {
        u64::from(self.0.rand_u32()) << 32 | u64::from(self.0.rand_u32())
    }

    /// A value in `lo..=hi`: one of the ends a third of the time, else uniform.
    fn edgy(&mut self, lo: i64, hi: i64) -> i64 {
        assert!(lo <= hi, "{lo}..={hi}");
        match self.below(6) {
            0 => lo,
            1 => hi,
            _ => {
                let span = (hi - lo) as u64 + 1;
                lo + (self.u64() % span) as i64
            }
        }
    }

    fn edgy_u32(&mut self, lo: u32, hi: u32) -> u32 {
        self.edgy(lo.into(), hi.into()) as u32
    }

    /// A small count most of the time, up to `max`.
    fn count(&mut self, max: usize) -> usize {
        let n = match self.below(10) {
            0..=1 => 0,
            2..=4 => 1 + self.below(8),
            5..=7 => 9 + self.below(56),
            8 => 65 + self.below(300),
            _ => self.below(max as u32 + 1),
        } as usize;
        n.min(max)
    }
}

fn random_creep(r: &mut Rng, g: &Globals, uid: u32) -> Creep {
    let kind = CreepKind::ALL[r.below(4) as usize];
    let stats = kind.stats();
    let wave = r.edgy(1, i64::from(g.wave.max(1))) as u32;
    let hp_max = wave_hp(stats.hp, wave);
    let spilled = g.players > 1 && r.chance(30);
    Creep {
        uid,
        progress: sim::num::Fx::from_bits(r.edgy(0, ((PATH_LEN as i64) << 16) - 1) as i32),
        hp: r.edgy(1, hp_max.into()) as i32,
        hp_max,
        slow_ticks: r.edgy(0, slow_max().into()) as u16,
        attack_cd: r.edgy(0, stats.attack_period.into()) as u16,
        kind: kind as u8,
        lane: r.below(g.players.into()) as u8,
        flags: if spilled { creep_flags::SPILLED } else { 0 },
        pad: 0,
    }
}

fn random_tower(r: &mut Rng, uid: u32, lane: u8, x: u8, y: u8) -> Tower {
    let kind = TowerKind::ALL[r.below(4) as usize];
    let stats = kind.stats();
    let level = r.edgy(1, TOWER_LEVEL_MAX.into()) as u8;
    let hp_max = level_hp(stats.hp, level);
    Tower {
        uid,
        hp: r.edgy(1, hp_max.into()) as i32,
        hp_max,
        spent: spent(kind, level),
        cooldown: r.edgy(0, i64::from(stats.period) - 1) as u16,
        kind: kind as u8,
        level,
        lane,
        x,
        y,
        pad: 0,
    }
}

/// Off-path cells of the lanes in play, (lane, x, y), in random order.
fn free_cells(r: &mut Rng, map: &Map, players: u8, towers: &[Tower]) -> Vec<(u8, u8, u8)> {
    let mut cells: Vec<(u8, u8, u8)> = (0..players)
        .flat_map(|lane| (0..LANE_CELLS).map(move |c| (lane, cell_xy(c))))
        .filter(|&(_, (x, y))| !map.on_path(x, y))
        .map(|(lane, (x, y))| (lane, x, y))
        .filter(|&(l, x, y)| !towers.iter().any(|t| (t.lane, t.x, t.y) == (l, x, y)))
        .collect();
    for i in (1..cells.len()).rev() {
        cells.swap(i, r.below(i as u32 + 1) as usize);
    }
    cells
}

/// `n` distinct uids below `next_uid` (which is at least `n`), in random order.
fn distinct_uids(r: &mut Rng, n: usize, next_uid: u32) -> Vec<u32> {
    let room = u64::from(next_uid);
    assert!(room >= n as u64);
    if room <= 4 * n as u64 + 4096 {
        let mut all: Vec<u32> = (0..next_uid).collect();
        for i in 0..n {
            let j = i + r.below((all.len() - i) as u32) as usize;
            all.swap(i, j);
        }
        all.truncate(n);
        all
    } else {
        let mut seen = std::collections::BTreeSet::new();
        let mut out = Vec::with_capacity(n);
        while out.len() < n {
            let uid = if r.chance(2) {
                next_uid - 1
            } else {
                (r.u64() % room) as u32
            };
            if seen.insert(uid) {
                out.push(uid);
            }
        }
        out
    }
}

/// A state drawn from anywhere in the ranges. `big` asks for the largest counts.
fn random_state(r: &mut Rng, map: &Map, big: bool) -> Parts {
    let mut g = Globals::zeroed();
    let players = if big {
        MAX_PLAYERS as u8
    } else {
        1 + r.below(MAX_PLAYERS as u32) as u8
    };
    let swarm = r.chance(25);
    g.seed = r.u64();
    g.rng_state = r.u64();
    g.rng_inc = rng_inc();
    g.rules_version = RULES_VERSION;
    g.frame = r.edgy_u32(0, u32::MAX);
    g.kills = r.edgy_u32(0, u32::MAX);
    g.leaks = r.edgy_u32(0, u32::MAX);
    g.players = players;
    if swarm {
        g.scenario = Scenario::Swarm as u8;
        g.wave = 1;
        // A large crowd makes the swarm respawn up to 4096 creeps a tick: rarely.
        g.creeps_target = if big || r.chance(1) {
            MAX_CREEPS
        } else {
            r.edgy_u32(1, 600)
        };
        g.base_hp_max = SWARM_BASE_HP;
    } else {
        let won = r.chance(8);
        g.wave = if won { WAVES } else { r.edgy_u32(0, WAVES) };
        g.wave_spawned = match g.wave {
            0 => 0,
            w if won => wave_size(w),
            w => r.edgy_u32(1, wave_size(w)),
        };
        g.base_hp_max = BASE_HP;
    }
    g.wave_timer = r.edgy_u32(0, wave_timer_max(&g));
    g.base_hp = if r.chance(15) {
        r.edgy(base_hp_min().into(), 0) as i32
    } else {
        r.edgy(1, g.base_hp_max.into()) as i32
    };
    for seat in 0..usize::from(players) {
        g.gold[seat] = r.edgy(0, GOLD_MAX.into()) as i32;
        g.cursor_x[seat] = r.below(LANE_W.into()) as u8;
        g.cursor_y[seat] = r.below(LANE_H.into()) as u8;
    }
    g.paused = u8::from(r.chance(20));
    let creep_max = if swarm {
        g.creeps_target as usize
    } else {
        MAX_CREEPS as usize
    };
    let won_shape = !swarm && g.wave == WAVES && g.wave_spawned == wave_size(WAVES);
    let creeps = if big {
        creep_max
    } else if won_shape && r.chance(70) {
        0
    } else {
        r.count(creep_max.min(2000))
    };
    let mut cells = free_cells(r, map, players, &[]);
    let towers = if big || r.chance(3) {
        cells.len()
    } else {
        r.count(cells.len())
    };
    let total = (creeps + towers) as u32;
    g.next_uid = match r.below(10) {
        0 => u32::MAX,
        1 => total,
        2 => r.edgy_u32(total, u32::MAX),
        _ => total + r.below(3000),
    };
    let uids = distinct_uids(r, creeps + towers, g.next_uid);
    let mut p = Parts {
        g,
        creeps: Vec::with_capacity(creeps),
        towers: Vec::with_capacity(towers),
    };
    for &uid in &uids[..creeps] {
        p.creeps.push(random_creep(r, &p.g, uid));
    }
    for (&uid, (lane, x, y)) in uids[creeps..].iter().zip(cells.drain(..towers)) {
        p.towers.push(random_tower(r, uid, lane, x, y));
    }
    settle(&mut p);
    p
}

/// Edits that keep a state inside the ranges: applied to real states of played games.
fn mutate(r: &mut Rng, map: &Map, p: &mut Parts) {
    for _ in 0..1 + r.below(6) {
        let players = usize::from(p.g.players);
        match r.below(12) {
            0 if !p.creeps.is_empty() => {
                let i = r.below(p.creeps.len() as u32) as usize;
                p.creeps[i] = random_creep(r, &p.g, p.creeps[i].uid);
            }
            1 if !p.towers.is_empty() => {
                let i = r.below(p.towers.len() as u32) as usize;
                let t = p.towers[i];
                p.towers[i] = random_tower(r, t.uid, t.lane, t.x, t.y);
            }
            2 if !p.creeps.is_empty() => {
                let i = r.below(p.creeps.len() as u32) as usize;
                p.creeps.swap_remove(i);
            }
            3 if !p.towers.is_empty() => {
                let i = r.below(p.towers.len() as u32) as usize;
                p.towers.swap_remove(i);
            }
            4 if p.g.next_uid < u32::MAX && p.creeps.len() < creep_limit(p) => {
                let uid = p.g.next_uid;
                p.g.next_uid += 1;
                let creep = random_creep(r, &p.g, uid);
                p.creeps.push(creep);
            }
            5 if p.g.next_uid < u32::MAX => {
                if let Some(&(lane, x, y)) = free_cells(r, map, p.g.players, &p.towers).first() {
                    let uid = p.g.next_uid;
                    p.g.next_uid += 1;
                    p.towers.push(random_tower(r, uid, lane, x, y));
                }
            }
            6 if p.creeps.len() >= 2 => {
                let (i, j) = (
                    r.below(p.creeps.len() as u32) as usize,
                    r.below(p.creeps.len() as u32) as usize,
                );
                p.creeps.swap(i, j);
            }
            7 => {
                let seat = r.below(players as u32) as usize;
                p.g.gold[seat] = r.edgy(0, GOLD_MAX.into()) as i32;
                p.g.cursor_x[seat] = r.below(LANE_W.into()) as u8;
                p.g.cursor_y[seat] = r.below(LANE_H.into()) as u8;
            }
            8 => {
                p.g.frame = r.edgy_u32(0, u32::MAX);
                p.g.kills = r.edgy_u32(0, u32::MAX);
                p.g.leaks = r.edgy_u32(0, u32::MAX);
                p.g.rng_state = r.u64();
                p.g.seed = r.u64();
            }
            9 => {
                p.g.base_hp = r.edgy(base_hp_min().into(), p.g.base_hp_max.into()) as i32;
            }
            10 => {
                p.g.wave_timer = r.edgy_u32(0, wave_timer_max(&p.g));
                p.g.paused ^= 1;
            }
            11 => p.g.next_uid = r.edgy_u32(p.g.next_uid, u32::MAX),
            _ => {}
        }
    }
    settle(p);
}

/// Real states: standard matches of 1 to 4 players and a swarm, every so many frames.
fn played_states() -> Vec<Snapshot> {
    let mut out = Vec::new();
    for players in 1..=4u32 {
        let seed = 40 + u64::from(players);
        let mut game = Game::new(Settings::standard(seed, players));
        let mut inputs = vec![Input::IDLE; players as usize];
        for _ in 0..2600 {
            Script::Random.inputs(seed, game.frame(), &mut inputs);
            game.advance(&inputs);
            if game.frame().is_multiple_of(101) {
                out.push(game.save());
            }
        }
    }
    let mut swarm = Game::new(Settings::swarm(9, 3, 400));
    let mut inputs = vec![Input::IDLE; 3];
    for _ in 0..300 {
        Script::Random.inputs(9, swarm.frame(), &mut inputs);
        swarm.advance(&inputs);
        if swarm.frame().is_multiple_of(37) {
            out.push(swarm.save());
        }
    }
    out
}

// ---- just outside the ranges ----

/// Pushes one field of `p` just outside its range; returns how the error must begin, or
/// `None` when the edit does not apply to this state.
fn break_one(r: &mut Rng, map: &Map, p: &mut Parts) -> Option<String> {
    let players = p.g.players;
    let g = &mut p.g;
    let seat = r.below(players.into()) as usize;
    let unused = usize::from(players)..MAX_PLAYERS;
    match r.below(40) {
        0 => {
            g.rules_version += 1;
            Some("globals: rules_version ".into())
        }
        1 => {
            g.players = if r.chance(50) {
                0
            } else {
                MAX_PLAYERS as u8 + 1
            };
            Some(format!("globals: players {} not in 1..=4", g.players))
        }
        2 => {
            g.scenario = 2 + r.below(254) as u8;
            Some(format!("globals: scenario {} ", g.scenario))
        }
        3 => {
            g.rng_inc ^= 2;
            Some("globals: rng_inc ".into())
        }
        4 => {
            g.creeps_target = match Scenario::from_code(g.scenario) {
                Some(Scenario::Standard) => 1,
                _ if r.chance(50) => 0,
                _ => MAX_CREEPS + 1,
            };
            Some(format!("globals: creeps_target {} ", g.creeps_target))
        }
        5 => {
            g.base_hp_max += 1;
            Some("globals: base_hp_max ".into())
        }
        6 => {
            g.base_hp = if r.chance(50) {
                g.base_hp_max + 1
            } else {
                base_hp_min() - 1
            };
            Some(format!("globals: base_hp {} ", g.base_hp))
        }
        7 => {
            g.wave = if g.scenario == Scenario::Swarm as u8 {
                2
            } else {
                WAVES + 1
            };
            Some("globals: wave ".into())
        }
        8 => {
            g.wave_spawned = if g.scenario == Scenario::Swarm as u8 || g.wave == 0 {
                1
            } else {
                wave_size(g.wave) + 1
            };
            Some("globals: wave_spawned ".into())
        }
        9 => {
            g.wave_timer = wave_timer_max(g) + 1;
            Some("globals: wave_timer ".into())
        }
        10 => {
            g.gold[seat] = if r.chance(50) { -1 } else { GOLD_MAX + 1 };
            Some(format!("globals: gold[{seat}] "))
        }
        11 => {
            g.cursor_x[seat] = LANE_W + r.below(3) as u8;
            Some(format!("globals: cursor_x[{seat}] "))
        }
        12 => {
            g.cursor_y[seat] = LANE_H + r.below(3) as u8;
            Some(format!("globals: cursor_y[{seat}] "))
        }
        13 if !unused.is_empty() => {
            let seat = unused.start;
            let field = match r.below(3) {
                0 => {
                    g.gold[seat] = 1;
                    "gold"
                }
                1 => {
                    g.cursor_x[seat] = 1;
                    "cursor_x"
                }
                _ => {
                    g.cursor_y[seat] = 1;
                    "cursor_y"
                }
            };
            Some(format!(
                "globals: {field}[{seat}] 1 != 0 for a seat not in play"
            ))
        }
        14 => {
            g.status = (g.status + 1 + r.below(2) as u8) % 3;
            Some("globals: status ".into())
        }
        15 => {
            if g.status == Status::Running as u8 {
                g.paused = 2;
            } else {
                g.paused = 1;
            }
            Some(format!("globals: paused {} ", g.paused))
        }
        16 if g.scenario == Scenario::Swarm as u8 && p.creeps.len() >= 2 => {
            g.creeps_target = p.creeps.len() as u32 - 1;
            Some(format!(
                "creep count {} > creeps_target {}",
                p.creeps.len(),
                g.creeps_target
            ))
        }
        17..=28 if !p.creeps.is_empty() => {
            let i = r.below(p.creeps.len() as u32) as usize;
            let n = p.creeps.len();
            let next_uid = g.next_uid;
            let c = &mut p.creeps[i];
            let stats = CreepKind::stats_of(c.kind);
            let (field, value): (&str, String) = match r.below(13) {
                0 => {
                    c.uid = next_uid;
                    ("uid", format!("{next_uid} >= next_uid {next_uid}"))
                }
                1 => {
                    c.kind = 4 + r.below(252) as u8;
                    ("kind", format!("{} not in 0..=3", c.kind))
                }
                2 => {
                    c.lane = players + r.below(3) as u8;
                    ("lane", format!("{} >= players {players}", c.lane))
                }
                3 => {
                    c.progress = sim::num::Fx::from_bits(-1 - r.below(1 << 20) as i32);
                    ("progress", String::new())
                }
                4 => {
                    c.progress =
                        sim::num::Fx::from_bits(((PATH_LEN as i32) << 16) + r.below(9) as i32);
                    ("progress", String::new())
                }
                5 => {
                    c.hp_max += 1;
                    ("hp_max", String::new())
                }
                6 => {
                    c.hp = if r.chance(50) {
                        -(r.below(5) as i32)
                    } else {
                        c.hp_max + 1
                    };
                    ("hp", format!("{} not in 1..={}", c.hp, c.hp_max))
                }
                7 => {
                    c.slow_ticks = slow_max() + 1;
                    ("slow_ticks", String::new())
                }
                8 => {
                    c.attack_cd = stats.attack_period + 1;
                    ("attack_cd", String::new())
                }
                9 => {
                    c.flags |= creep_flags::LEAKED << r.below(7);
                    ("flags", String::new())
                }
                10 if players == 1 => {
                    c.flags = creep_flags::SPILLED;
                    ("flags", String::new())
                }
                11 => {
                    c.pad = 1 + r.below(255) as u8;
                    ("pad", String::new())
                }
                _ => {
                    // Another record's uid.
                    let (other, uid) = if !p.towers.is_empty() && r.chance(50) {
                        let j = r.below(p.towers.len() as u32) as usize;
                        (format!("tower {j}"), p.towers[j].uid)
                    } else if n >= 2 {
                        let j = (i + 1 + r.below(n as u32 - 1) as usize) % n;
                        (format!("creep {j}"), p.creeps[j].uid)
                    } else {
                        return None;
                    };
                    p.creeps[i].uid = uid;
                    return Some(format!("uid {uid} also held by|creep {i}|{other}"));
                }
            };
            Some(format!("creep {i}: {field} {value}"))
        }
        29..=39 if !p.towers.is_empty() => {
            let i = r.below(p.towers.len() as u32) as usize;
            let n = p.towers.len();
            let next_uid = g.next_uid;
            let t = &mut p.towers[i];
            let (field, value): (&str, String) = match r.below(14) {
                0 if next_uid < u32::MAX => {
                    t.uid = next_uid + r.below(u32::MAX - next_uid);
                    ("uid", format!("{} >= next_uid {next_uid}", t.uid))
                }
                1 => {
                    t.kind = 4 + r.below(252) as u8;
                    ("kind", format!("{} not in 0..=3", t.kind))
                }
                2 => {
                    t.level = if r.chance(50) { 0 } else { TOWER_LEVEL_MAX + 1 };
                    ("level", format!("{} not in 1..=3", t.level))
                }
                3 => {
                    t.lane = players + r.below(3) as u8;
                    ("lane", format!("{} >= players {players}", t.lane))
                }
                4 => {
                    t.x = LANE_W + r.below(246) as u8;
                    ("x", format!("{} >= LANE_W 10", t.x))
                }
                5 => {
                    t.y = LANE_H + r.below(240) as u8;
                    ("y", format!("{} >= LANE_H 16", t.y))
                }
                6 => {
                    let (x, y) = map.path_cell(r.below(PATH_LEN as u32) as usize);
                    (t.x, t.y) = (x, y);
                    return Some(format!("tower {i}: cell ({x}, {y}) is on the path"));
                }
                7 => {
                    t.hp_max += 1;
                    ("hp_max", String::new())
                }
                8 => {
                    t.hp = if r.chance(50) { 0 } else { t.hp_max + 1 };
                    ("hp", format!("{} not in 1..={}", t.hp, t.hp_max))
                }
                9 => {
                    t.spent += 1;
                    ("spent", String::new())
                }
                10 => {
                    t.cooldown = TowerKind::from_u8(t.kind).unwrap().stats().period;
                    ("cooldown", String::new())
                }
                11 => {
                    t.pad = 1;
                    ("pad", String::new())
                }
                12 if n >= 2 => {
                    let j = (i + 1 + r.below(n as u32 - 1) as usize) % n;
                    let o = p.towers[j];
                    let t = &mut p.towers[i];
                    (t.lane, t.x, t.y) = (o.lane, o.x, o.y);
                    let (later, earlier) = (i.max(j), i.min(j));
                    return Some(format!(
                        "tower {later}: cell ({}, {}) of lane {} also holds tower {earlier}",
                        o.x, o.y, o.lane
                    ));
                }
                13 if n >= 2 => {
                    let j = (i + 1 + r.below(n as u32 - 1) as usize) % n;
                    let uid = p.towers[j].uid;
                    p.towers[i].uid = uid;
                    let (later, earlier) = (i.max(j), i.min(j));
                    return Some(format!(
                        "tower {later}: uid {uid} also held by tower {earlier}"
                    ));
                }
                _ => return None,
            };
            Some(format!("tower {i}: {field} {value}"))
        }
        _ => None,
    }
}

/// Whether `message` is the error `expected` describes: a prefix, or `|`-separated parts that
/// must all appear.
fn matches(message: &str, expected: &str) -> bool {
    if expected.contains('|') {
        expected.split('|').all(|part| message.contains(part))
    } else {
        message.starts_with(expected)
    }
}

/// Prints the seed and the case when a case panics.
struct Case {
    seed: u64,
    case: usize,
    what: &'static str,
}

impl Drop for Case {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!(
                "decode test failed: DECODE_SEED={} case {} ({})",
                self.seed, self.case, self.what
            );
        }
    }
}

fn random_inputs(r: &mut Rng, inputs: &mut [Input]) {
    for input in inputs {
        *input = if r.chance(10) {
            Input::from_bytes(r.0.rand_u32().to_le_bytes())
        } else {
            // Mostly real commands at cells in and just outside the lane.
            let action = if r.chance(2) { 5 } else { r.below(5) as u8 };
            Input::new(
                action,
                r.below(5) as u8,
                r.below(u32::from(LANE_W) + 1) as u8,
                r.below(u32::from(LANE_H) + 1) as u8,
            )
        };
    }
}

/// Decodes, loads into `game`, plays 10 ticks with random inputs; the state reached decodes
/// again, and views, field lists and diffs of both work.
fn load_and_play(r: &mut Rng, game: &mut Game, p: &Parts) {
    let bytes = p.encode();
    let snapshot = match Snapshot::decode(&bytes) {
        Ok(s) => s,
        Err(err) => panic!("a state inside the ranges is refused: {err}"),
    };
    let mut again = Vec::new();
    snapshot.encode(&mut again);
    assert!(again == bytes, "decode then encode gives the bytes back");
    game.load(&snapshot);
    assert_eq!(game.hash(), snapshot.hash());
    let _ = game.view();
    let mut inputs = vec![Input::IDLE; usize::from(p.g.players)];
    for _ in 0..10 {
        random_inputs(r, &mut inputs);
        game.advance(&inputs);
    }
    let _ = game.view();
    let after = game.save();
    let mut bytes = Vec::new();
    after.encode(&mut bytes);
    let decoded = match Snapshot::decode(&bytes) {
        Ok(s) => s,
        Err(err) => panic!("10 ticks from a state in range left the range: {err}"),
    };
    assert_eq!(decoded.hash(), game.hash());
    // sim::dump lists and compares every field of the two: a string per field, so only for
    // the states of up to 16 creeps (half of them; a crowd's values read no differently).
    if p.creeps.len() <= 16 {
        let fields = snapshot.fields().len();
        assert!(fields >= 30 + 10 * p.creeps.len(), "{fields} fields");
        let _ = snapshot.diff(&decoded);
    }
}

#[test]
fn ten_thousand_decoded_states_load_and_play() {
    let seed: u64 = std::env::var("DECODE_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(20_261_202);
    let map = Map::new();
    let real: Vec<Parts> = played_states().iter().map(Parts::of).collect();
    assert!(real.len() > 100);
    assert!(real.iter().any(|p| p.towers.iter().any(|t| t.level > 1)));
    let mut games: Vec<Game> = (1..=4)
        .map(|players| Game::new(Settings::standard(seed, players)))
        .collect();
    let mut refused = 0;
    let mut statuses = [0usize; 3];
    let (mut most_creeps, mut most_towers) = (0, 0);
    for case in 0..10_000 {
        let mut r = Rng(oorandom::Rand32::new(
            seed ^ (case as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15),
        ));
        // Three cases at the largest counts; a third mutate real states; the rest anywhere.
        let (what, p) = match case {
            0..=2 => ("largest", random_state(&mut r, &map, true)),
            _ if case % 3 == 0 => {
                let mut p = real[r.below(real.len() as u32) as usize].clone();
                mutate(&mut r, &map, &mut p);
                ("mutated real state", p)
            }
            _ => ("random state", random_state(&mut r, &map, false)),
        };
        let _guard = Case { seed, case, what };
        statuses[usize::from(p.g.status)] += 1;
        most_creeps = most_creeps.max(p.creeps.len());
        most_towers = most_towers.max(p.towers.len());
        load_and_play(&mut r, &mut games[case % 4], &p);

        // The same state with one field just outside its range is refused, by name.
        let mut broken = p.clone();
        if let Some(expected) = break_one(&mut r, &map, &mut broken) {
            match Snapshot::decode(&broken.encode()) {
                Ok(_) => panic!("out of range and decoded: expected {expected:?}"),
                Err(err) => {
                    let message = err.to_string();
                    assert!(
                        matches(&message, &expected),
                        "got {message:?}, expected {expected:?}"
                    );
                }
            }
            refused += 1;
        }
    }
    assert!(refused > 5000, "{refused} out-of-range states tried");
    assert!(statuses.iter().all(|&n| n > 100), "statuses {statuses:?}");
    assert_eq!(most_creeps, MAX_CREEPS as usize);
    assert!(most_towers >= 4 * (LANE_CELLS - PATH_LEN), "{most_towers}");
}

/// A creep in lane 5 of a 2-player match: refused by name. (Before decoding checked ranges,
/// this state decoded, and the first tick indexed the buckets past their end.)
#[test]
fn a_creep_in_lane_five_is_refused() {
    let mut game = Game::new(Settings::standard(3, 2));
    let inputs = [Input::IDLE; 2];
    while game.creep_count() == 0 {
        game.advance(&inputs);
    }
    let mut p = Parts::of(&game.save());
    p.creeps[0].lane = 5;
    match Snapshot::decode(&p.encode()) {
        Err(err) => assert_eq!(err.to_string(), "creep 0: lane 5 >= players 2"),
        Ok(snapshot) => {
            game.load(&snapshot);
            game.advance(&inputs);
            panic!("decoded a creep in lane 5, and played a tick with it");
        }
    }
}

/// Counts above their limits are refused before their records are read, and a state's
/// errors are typed: record, field, value and rule.
#[test]
fn counts_above_limits_and_typed_errors() {
    let game = Game::new(Settings::standard(1, 1));
    let p = Parts::of(&game.save());
    let mut bytes = p.encode();
    let count_at = 8 + std::mem::size_of::<Globals>();
    bytes.truncate(count_at);
    bytes.extend_from_slice(&u32::MAX.to_le_bytes());
    assert_eq!(
        Snapshot::decode(&bytes).unwrap_err().to_string(),
        format!("creep count {} > MAX_CREEPS {MAX_CREEPS}", u32::MAX)
    );
    // Exactly one over, with all the records present.
    let mut over = Parts::of(&game.save());
    over.g.next_uid = MAX_CREEPS + 1;
    let creep = Creep {
        uid: 0,
        progress: sim::num::Fx::ZERO,
        hp: 40,
        hp_max: 40,
        slow_ticks: 0,
        attack_cd: 0,
        kind: 0,
        lane: 0,
        flags: 0,
        pad: 0,
    };
    over.creeps = (0..=MAX_CREEPS).map(|uid| Creep { uid, ..creep }).collect();
    assert_eq!(
        Snapshot::decode(&over.encode()).unwrap_err(),
        sim::SnapshotError::Count {
            what: "creep",
            count: u64::from(MAX_CREEPS) + 1,
            name: "MAX_CREEPS",
            limit: MAX_CREEPS,
        }
    );
    over.creeps.pop();
    over.g.wave = 1;
    over.g.wave_spawned = 1;
    over.g.wave_timer = 0;
    Snapshot::decode(&over.encode()).expect("MAX_CREEPS creeps decode");
    let mut towers = Parts::of(&game.save());
    let tower = Tower::zeroed();
    towers.towers = vec![tower; MAX_TOWERS as usize + 1];
    assert!(matches!(
        Snapshot::decode(&towers.encode()),
        Err(sim::SnapshotError::Count { what: "tower", .. })
    ));

    let mut lane = Parts::of(&game.save());
    lane.g.cursor_y[0] = 200;
    assert_eq!(
        Snapshot::decode(&lane.encode()).unwrap_err(),
        sim::SnapshotError::Field {
            record: sim::Record::Globals,
            field: "cursor_y[0]",
            value: 200,
            rule: sim::Rule::Below {
                name: "LANE_H",
                limit: 16
            },
        }
    );
}
