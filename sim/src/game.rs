//! [`Game`]: the state on a hecs world, and the one entry point that advances it by a tick.

use hecs::{ArchetypeColumnMut, Component, Entity, World};

use crate::check::status_of;
use crate::hashtree::HashTree;
use crate::input::{Command, Input};
use crate::map::{cell, Map, PATH_LEN};
use crate::num::{distance, fx_ratio, Fx};
use crate::rules::{
    level_hp, level_power, wave_hp, wave_size, CreepKind, TowerKind, BASE_HP, CANNON_SPLASH,
    FIRST_WAVE_DELAY_TICKS, GOLD_MAX, HEALER_BASE_HEAL, LANE_CELLS, MAX_CREEPS, MAX_PLAYERS,
    MAX_SPAWNS_PER_TICK, MAX_TOWERS, REPAIR_HP_PER_GOLD, SLOW_FACTOR, SPAWN_PERIOD_TICKS,
    START_GOLD, SWARM_BASE_HP, TOWER_LEVEL_MAX, WAVES, WAVE_GAP_TICKS,
};
use crate::snapshot::{hash_state, with_parts, StateHash};
use crate::state::{creep_flags, Creep, Globals, Scenario, Settings, Status, Tower};

/// A match of Healer TD: the whole deterministic state, plus derived tables and scratch space.
///
/// The state is the hecs world (one archetype of [`Creep`]s, one of [`Tower`]s) and the
/// [`Globals`]. Storage order inside each archetype is part of the state: it is a deterministic
/// function of the match's history, restored exactly by [`Game::load`], and it is the order of
/// the canonical encoding.
pub struct Game {
    pub(crate) world: World,
    pub(crate) globals: Globals,
    pub(crate) hash: StateHash,
    /// Each archetype's entity handles in storage order, mirrored so despawning a record found
    /// by its column index needs no search. Kept in step with every spawn, despawn and load
    /// (checked in debug builds at the end of every tick). Not game state.
    handles: Handles,
    /// The per-tick hash, incremental (see [`crate::hashtree`]). Not game state: its result
    /// is the full hash of the state whatever the tree held before.
    tree: HashTree,
    map: Map,
    scratch: Scratch,
    /// Test support ([`Game::break_determinism`]): ticks this object simulated, which the
    /// broken rule reads. Not game state, not saved: that is the bug.
    flaw: Option<u64>,
}

/// hecs handles of the creeps and the towers, in storage order.
#[derive(Default)]
struct Handles {
    creeps: Vec<Entity>,
    towers: Vec<Entity>,
}

/// A record to despawn at the end of the tick.
#[derive(Clone, Copy)]
struct Doomed {
    uid: u32,
    tower: bool,
    /// Its column index now (updated when it moves into another's hole).
    index: u32,
}

/// Per-tick working memory, reused so a steady-state tick does not allocate. Not game state.
#[derive(Default)]
struct Scratch {
    /// Bucket of each creep by column index, or [`NO_BUCKET`] when it is not live.
    creep_bucket: Vec<u16>,
    /// Start offset of each (lane, path index) bucket in `bucket_items`; one extra at the end.
    bucket_start: Vec<u32>,
    /// Creep column indices grouped by bucket.
    bucket_items: Vec<u32>,
    /// Tower column indices in uid order.
    tower_order: Vec<u32>,
    /// Tower column index + 1 per (lane, cell); 0 for none.
    tower_grid: Vec<u16>,
    /// The tower attackers in each bucket hit, index + 1; 0 for none.
    attack_target: Vec<u16>,
    /// Damage taken by each tower this tick, by column index + 1 (0 collects misses).
    tower_damage: Vec<i32>,
    /// Records to despawn at the end of the tick.
    doomed: Vec<Doomed>,
    /// Index into `doomed` of the record now at each creep column index, or `u32::MAX`: all
    /// `u32::MAX` between ticks.
    doomed_creep_at: Vec<u32>,
    /// The same for the tower column.
    doomed_tower_at: Vec<u32>,
}

const BUCKETS: usize = MAX_PLAYERS * PATH_LEN;
const NO_BUCKET: u16 = u16::MAX;
const _: () = assert!(BUCKETS < NO_BUCKET as usize);
const _: () = assert!(
    MAX_TOWERS < u16::MAX as u32,
    "tower_grid stores index + 1 in a u16"
);

/// A read-only view of one component column; empty when no such entity was ever spawned.
pub struct Column<'a, T: Component>(Option<hecs::ArchetypeColumn<'a, T>>);

impl<T: Component> std::ops::Deref for Column<'_, T> {
    type Target = [T];
    fn deref(&self) -> &[T] {
        self.0.as_deref().unwrap_or(&[])
    }
}

fn read_column<T: Component>(world: &World) -> Column<'_, T> {
    Column(world.archetypes().find_map(|a| a.get::<&T>()))
}

/// The column of component `T`, if any entity with it was ever spawned.
pub(crate) fn column<T: Component>(world: &World) -> Option<ArchetypeColumnMut<'_, T>> {
    world.archetypes().find_map(|a| a.get::<&mut T>())
}

impl Game {
    /// A new match at frame 0.
    pub fn new(settings: Settings) -> Game {
        let mut game = Game {
            world: World::new(),
            globals: settings.initial_globals(),
            hash: StateHash::ZERO,
            handles: Handles::default(),
            tree: HashTree::new(),
            map: Map::new(),
            scratch: Scratch::default(),
            flaw: None,
        };
        let players = usize::from(settings.players());
        for gold in &mut game.globals.gold[..players] {
            *gold = START_GOLD;
        }
        match settings.scenario() {
            Scenario::Standard => {
                game.globals.base_hp = BASE_HP;
                game.globals.wave_timer = FIRST_WAVE_DELAY_TICKS;
            }
            Scenario::Swarm => game.start_swarm(),
        }
        game.globals.base_hp_max = game.globals.base_hp;
        game.rehash();
        game
    }

    /// Advances one tick from every player's input, in seat order. Missing inputs count as
    /// idle, extra ones are ignored. While paused, only pause requests count; one or more
    /// requests in a tick toggle the pause once, after the tick's other commands. Once the
    /// match is won or lost only the frame advances. Returns the hash of the new state.
    pub fn advance(&mut self, inputs: &[Input]) -> StateHash {
        self.advance_rules_only(inputs);
        self.rehash();
        debug_assert!(
            self.handles_in_step(),
            "the handle mirror follows the world"
        );
        self.hash
    }

    /// **Benchmark support.** [`Game::advance`] without the state hash it ends with: the cost
    /// of the rules alone. [`Game::hash`] is stale until the next advance or load, so a
    /// session must never call it.
    #[doc(hidden)]
    pub fn advance_rules_only(&mut self, inputs: &[Input]) {
        let players = usize::from(self.globals.players);
        if self.globals.status() == Status::Running {
            let mut pause_requested = false;
            for (seat, input) in inputs.iter().take(players).enumerate() {
                match input.decode() {
                    Command::Pause => pause_requested = true,
                    _ if self.globals.paused != 0 => {}
                    command => self.apply(seat, command),
                }
            }
            if pause_requested {
                self.globals.paused ^= 1;
            }
        }
        if self.globals.status() == Status::Running && self.globals.paused == 0 {
            self.spawn_creeps();
            self.move_creeps();
            self.fill_buckets();
            self.towers_act();
            self.creeps_attack();
            self.bury_dead();
            self.update_status();
        }
        if let Some(ticks) = self.flaw.as_mut() {
            *ticks += 1;
            if *ticks % 53 == 0 {
                self.globals.kills = self.globals.kills.wrapping_add(1);
            }
        }
        self.globals.frame = self.globals.frame.wrapping_add(1);
    }

    /// The handle mirror holds exactly the world's entities in storage order. (Without
    /// allocating: the allocation test counts debug builds' ticks too.)
    fn handles_in_step(&self) -> bool {
        let creeps = self
            .world
            .query::<(Entity, &Creep)>()
            .iter()
            .map(|(e, _)| e)
            .eq(self.handles.creeps.iter().copied());
        let towers = self
            .world
            .query::<(Entity, &Tower)>()
            .iter()
            .map(|(e, _)| e)
            .eq(self.handles.towers.iter().copied());
        creeps && towers
    }

    /// **Test support; the game never calls it.** Breaks determinism the way rollback games
    /// usually break: from now on a rule depends on state outside the snapshot (how many
    /// ticks this `Game` object simulated, re-simulations included: every 53rd adds a kill; prime, so it cannot fall into step with any check distance).
    /// A game that rolls back, or peers that rolled back different amounts, then diverge.
    /// The fuzzers' tests use it to prove their oracles fire.
    pub fn break_determinism(&mut self) {
        self.flaw.get_or_insert(0);
    }

    /// Hash of the current state.
    pub fn hash(&self) -> StateHash {
        self.hash
    }

    /// Ticks simulated so far.
    pub fn frame(&self) -> u32 {
        self.globals.frame
    }

    /// The global record (frame, RNG, base, waves, players).
    pub fn globals(&self) -> &Globals {
        &self.globals
    }

    /// How the match stands.
    pub fn status(&self) -> Status {
        self.globals.status()
    }

    /// Creeps alive.
    pub fn creep_count(&self) -> u32 {
        self.creeps().len() as u32
    }

    /// Towers standing.
    pub fn tower_count(&self) -> u32 {
        self.towers().len() as u32
    }

    /// The map every lane shares.
    pub fn map(&self) -> &Map {
        &self.map
    }

    /// The creeps, in storage order.
    pub fn creeps(&self) -> Column<'_, Creep> {
        read_column(&self.world)
    }

    /// The towers, in storage order.
    pub fn towers(&self) -> Column<'_, Tower> {
        read_column(&self.world)
    }

    /// Flips one bit of the state (the RNG's), standing in for a non-deterministic bug so the
    /// desync pipeline can be exercised end to end. The rules never call it.
    pub fn inject_desync(&mut self) {
        self.globals.rng_state ^= 1;
        self.rehash();
    }

    /// Hashes the current state from scratch ([`Game::hash`] returns the value computed at
    /// the end of the last tick or load).
    pub fn compute_hash(&self) -> StateHash {
        hash_state(&self.globals, &self.creeps(), &self.towers())
    }

    /// Hashes the state through the incremental tree: the cost follows what changed since
    /// the last hash.
    fn rehash(&mut self) {
        let creeps = read_column::<Creep>(&self.world);
        let towers = read_column::<Tower>(&self.world);
        let tree = &mut self.tree;
        let hash = with_parts(&self.globals, &creeps, &towers, |parts| tree.update(parts));
        self.hash = StateHash(*hash.as_bytes());
        debug_assert_eq!(
            self.hash,
            hash_state(&self.globals, &creeps, &towers),
            "the incremental hash is the full hash"
        );
    }
}

// ---- structure: every spawn and despawn goes through here, so the handle mirror stays true ----
impl Game {
    fn spawn_creep(&mut self, kind: CreepKind, lane: u8, progress: Fx) {
        debug_assert!(usize::from(lane) < usize::from(self.globals.players));
        let stats = kind.stats();
        let hp = wave_hp(stats.hp, self.globals.wave.max(1));
        let creep = Creep {
            uid: self.globals.take_uid(),
            progress,
            hp,
            hp_max: hp,
            slow_ticks: 0,
            attack_cd: 0,
            kind: kind as u8,
            lane,
            flags: 0,
            pad: 0,
        };
        let entity = self.world.spawn((creep,));
        self.handles.creeps.push(entity);
    }

    fn spawn_tower(&mut self, kind: TowerKind, lane: u8, x: u8, y: u8) -> u32 {
        let stats = kind.stats();
        let tower = Tower {
            uid: self.globals.take_uid(),
            hp: stats.hp,
            hp_max: stats.hp,
            spent: stats.cost as u32,
            cooldown: 0,
            kind: kind as u8,
            level: 1,
            lane,
            x,
            y,
            pad: 0,
        };
        let entity = self.world.spawn((tower,));
        self.handles.towers.push(entity);
        tower.uid
    }

    /// Despawns `scratch.doomed` in uid order, so the resulting storage order does not depend
    /// on the order they were found in. hecs fills each hole with the archetype's last record;
    /// the handle mirror does the same, and `doomed_*_at` follows doomed records that move.
    fn despawn_doomed(&mut self) {
        let s = &mut self.scratch;
        if s.doomed.is_empty() {
            return;
        }
        // uids are unique (they never wrap: see `Globals::uids_left`).
        s.doomed.sort_by_key(|d| d.uid);
        for (list, at, tower) in [
            (&mut self.handles.creeps, &mut s.doomed_creep_at, false),
            (&mut self.handles.towers, &mut s.doomed_tower_at, true),
        ] {
            if at.len() < list.len() {
                at.resize(list.len(), u32::MAX);
            }
            for (n, d) in s
                .doomed
                .iter()
                .enumerate()
                .filter(|(_, d)| d.tower == tower)
            {
                at[d.index as usize] = n as u32;
            }
        }
        for n in 0..s.doomed.len() {
            let Doomed { tower, index, .. } = s.doomed[n];
            let (list, at) = if tower {
                (&mut self.handles.towers, &mut s.doomed_tower_at)
            } else {
                (&mut self.handles.creeps, &mut s.doomed_creep_at)
            };
            let (index, last) = (index as usize, list.len() - 1);
            self.world
                .despawn(list[index])
                .expect("a doomed entity is despawned once");
            list.swap_remove(index);
            // The last record moved into the hole; if it is doomed too, it is found there.
            let moved = at[last];
            at[index] = moved;
            at[last] = u32::MAX;
            if moved != u32::MAX && index != last {
                s.doomed[moved as usize].index = index as u32;
            }
        }
        s.doomed.clear();
    }

    /// Column index of the tower at `(lane, x, y)`.
    fn tower_at(&self, lane: u8, x: u8, y: u8) -> Option<usize> {
        self.towers()
            .iter()
            .position(|t| t.lane == lane && t.x == x && t.y == y)
    }
}

// ---- the phases of a tick, in order ----
impl Game {
    /// Applies one player's command to their own lane. Commands that do not apply are no-ops.
    fn apply(&mut self, seat: usize, command: Command) {
        let lane = seat as u8;
        match command {
            Command::Idle | Command::Pause => {}
            Command::Cursor { x, y } => self.set_cursor(seat, x, y),
            Command::Build { x, y, kind } => {
                self.set_cursor(seat, x, y);
                let cost = kind.stats().cost;
                let free = !self.map.on_path(x, y) && self.tower_at(lane, x, y).is_none();
                if free
                    && self.globals.gold[seat] >= cost
                    && self.tower_count() < MAX_TOWERS
                    && self.globals.uids_left() > 0
                {
                    self.globals.gold[seat] -= cost;
                    self.spawn_tower(kind, lane, x, y);
                }
            }
            Command::Upgrade { x, y } => {
                self.set_cursor(seat, x, y);
                let Some(i) = self.tower_at(lane, x, y) else {
                    return;
                };
                let mut towers = column::<Tower>(&self.world).expect("a tower exists");
                let tower = &mut towers[i];
                let stats = tower.kind().stats();
                let cost = stats.cost * i32::from(tower.level);
                if tower.level < TOWER_LEVEL_MAX && self.globals.gold[seat] >= cost {
                    self.globals.gold[seat] -= cost;
                    tower.level += 1;
                    tower.spent += cost as u32;
                    let hp_max = level_hp(stats.hp, tower.level);
                    tower.hp += hp_max - tower.hp_max;
                    tower.hp_max = hp_max;
                }
            }
            Command::Sell { x, y } => {
                self.set_cursor(seat, x, y);
                let Some(i) = self.tower_at(lane, x, y) else {
                    return;
                };
                let (uid, refund) = {
                    let towers = self.towers();
                    (towers[i].uid, (towers[i].spent / 2) as i32)
                };
                self.globals.gold[seat] = (self.globals.gold[seat] + refund).min(GOLD_MAX);
                self.scratch.doomed.push(Doomed {
                    uid,
                    tower: true,
                    index: i as u32,
                });
                self.despawn_doomed();
            }
            Command::Repair { x, y } => {
                self.set_cursor(seat, x, y);
                let Some(i) = self.tower_at(lane, x, y) else {
                    return;
                };
                let mut towers = column::<Tower>(&self.world).expect("a tower exists");
                let tower = &mut towers[i];
                let missing = tower.hp_max - tower.hp;
                let cost = (missing + REPAIR_HP_PER_GOLD - 1) / REPAIR_HP_PER_GOLD;
                if missing > 0 && self.globals.gold[seat] >= cost {
                    self.globals.gold[seat] -= cost;
                    tower.hp = tower.hp_max;
                }
            }
        }
    }

    fn set_cursor(&mut self, seat: usize, x: u8, y: u8) {
        self.globals.cursor_x[seat] = x;
        self.globals.cursor_y[seat] = y;
    }

    /// The swarm: a crowd of creeps spread over every lane, and towers along every path.
    fn start_swarm(&mut self) {
        self.globals.base_hp = SWARM_BASE_HP;
        self.globals.wave = 1;
        let players = self.globals.players;
        // Every other cell beside the path, the same in each lane, kinds in stripes.
        let mut sites: Vec<(u8, u8)> = Vec::new();
        for i in 0..PATH_LEN {
            for &c in self.map.beside_path(i) {
                let (x, y) = crate::map::cell_xy(usize::from(c));
                if (x + y) % 2 == 0 && !sites.contains(&(x, y)) {
                    sites.push((x, y));
                }
            }
        }
        for lane in 0..players {
            for &(x, y) in &sites {
                let kind = TowerKind::ALL[usize::from((x / 2 + y) % 4)];
                self.spawn_tower(kind, lane, x, y);
            }
        }
        let target = self.globals.creeps_target;
        let path_bits = (PATH_LEN as u32) << 16;
        let creeps: Vec<Creep> = (0..target)
            .map(|n| {
                let kind = swarm_kind(&mut self.globals);
                let stats = kind.stats();
                Creep {
                    uid: self.globals.take_uid(),
                    progress: Fx::from_bits(self.globals.roll(path_bits) as i32),
                    hp: stats.hp,
                    hp_max: stats.hp,
                    slow_ticks: 0,
                    attack_cd: 0,
                    kind: kind as u8,
                    lane: (n % u32::from(players)) as u8,
                    flags: 0,
                    pad: 0,
                }
            })
            .collect();
        let spawned = self.world.spawn_batch(creeps.into_iter().map(|c| (c,)));
        self.handles.creeps.extend(spawned);
    }

    fn spawn_creeps(&mut self) {
        match self.globals.scenario() {
            Scenario::Standard => self.spawn_wave(),
            Scenario::Swarm => {
                let alive = self.creep_count();
                let want = self.globals.creeps_target.min(MAX_CREEPS);
                let n = want
                    .saturating_sub(alive)
                    .min(MAX_SPAWNS_PER_TICK)
                    .min(self.globals.uids_left());
                for i in 0..n {
                    let kind = swarm_kind(&mut self.globals);
                    self.spawn_creep(kind, (i % u32::from(self.globals.players)) as u8, Fx::ZERO);
                }
            }
        }
    }

    /// Standard waves: after a delay, one creep per lane every SPAWN_PERIOD_TICKS; the last
    /// creep of every fourth wave and of the final wave is a boss.
    fn spawn_wave(&mut self) {
        let g = &mut self.globals;
        if g.wave_timer > 0 {
            g.wave_timer -= 1;
            return;
        }
        if g.wave == 0 || g.wave_spawned >= wave_size(g.wave) {
            if g.wave >= WAVES {
                return;
            }
            g.wave += 1;
            g.wave_spawned = 0;
        }
        let wave = g.wave;
        g.wave_spawned += 1;
        let last = g.wave_spawned == wave_size(wave);
        // The timer counts the ticks in between: a spawn every SPAWN_PERIOD_TICKS ticks.
        g.wave_timer = if last {
            WAVE_GAP_TICKS - 1
        } else {
            SPAWN_PERIOD_TICKS - 1
        };
        for lane in 0..g.players {
            let kind = if last && (wave.is_multiple_of(4) || wave == WAVES) {
                CreepKind::Boss
            } else {
                let roll = self.globals.roll(100);
                match roll {
                    r if wave >= 3 && r < 15 => CreepKind::Brute,
                    r if wave >= 2 && r < 45 => CreepKind::Runner,
                    _ => CreepKind::Grunt,
                }
            };
            if self.creep_count() < MAX_CREEPS && self.globals.uids_left() > 0 {
                self.spawn_creep(kind, lane, Fx::ZERO);
            }
        }
    }

    /// Creeps walk; slowed ones at SLOW_FACTOR. At the end of a lane a creep spills into the
    /// next lane once, then leaks into the base. Also counts the live creeps of each bucket for
    /// [`Game::fill_buckets`], while each creep is at hand.
    fn move_creeps(&mut self) {
        let s = &mut self.scratch;
        s.bucket_start.clear();
        s.bucket_start.resize(BUCKETS + 1, 0);
        s.creep_bucket.clear();
        let Some(mut creeps) = column::<Creep>(&self.world) else {
            return;
        };
        s.creep_bucket.resize(creeps.len(), NO_BUCKET);
        // Plain slices, so the loop keeps them in registers instead of reloading the vectors.
        let counts = &mut s.bucket_start[1..];
        let players = self.globals.players;
        let end = Fx::from_num(PATH_LEN as i32);
        for (creep, slot) in creeps.iter_mut().zip(s.creep_bucket.iter_mut()) {
            let mut speed = CreepKind::stats_of(creep.kind).speed;
            if creep.slow_ticks > 0 {
                creep.slow_ticks -= 1;
                speed *= SLOW_FACTOR;
            }
            creep.attack_cd = creep.attack_cd.saturating_sub(1);
            creep.progress += speed;
            if creep.progress >= end {
                if players > 1 && creep.flags & creep_flags::SPILLED == 0 {
                    creep.lane = (creep.lane + 1) % players;
                    creep.progress = Fx::ZERO;
                    creep.flags |= creep_flags::SPILLED;
                } else {
                    creep.progress = end;
                    creep.flags |= creep_flags::LEAKED;
                }
            }
            if creep.is_live() {
                let b = bucket(creep);
                counts[b] += 1;
                *slot = b as u16;
            }
        }
    }

    /// Groups live creeps by (lane, path cell) with a counting sort over the counts
    /// [`Game::move_creeps`] took: the spatial index towers query. Linear in creeps.
    fn fill_buckets(&mut self) {
        let s = &mut self.scratch;
        for b in 0..BUCKETS {
            s.bucket_start[b + 1] += s.bucket_start[b];
        }
        s.bucket_items.clear();
        s.bucket_items.resize(s.bucket_start[BUCKETS] as usize, 0);
        // `tower_order` is free until towers act: borrow it as the fill cursor.
        s.tower_order.clear();
        s.tower_order.extend_from_slice(&s.bucket_start[..BUCKETS]);
        let (cursor, items) = (&mut s.tower_order[..], &mut s.bucket_items[..]);
        for (i, &b) in s.creep_bucket.iter().enumerate() {
            if b != NO_BUCKET {
                let at = &mut cursor[usize::from(b)];
                items[*at as usize] = i as u32;
                *at += 1;
            }
        }
    }

    /// Every tower, in uid order: shooters hit the live creep furthest along within range
    /// (ties: lowest uid); healers restore nearby towers and the base.
    fn towers_act(&mut self) {
        let (Some(mut towers), mut creeps) =
            (column::<Tower>(&self.world), column::<Creep>(&self.world))
        else {
            return;
        };
        let creeps: &mut [Creep] = creeps.as_deref_mut().unwrap_or(&mut []);
        let s = &mut self.scratch;
        s.tower_order.clear();
        s.tower_order.extend(0..towers.len() as u32);
        s.tower_order.sort_by_key(|&i| towers[i as usize].uid);
        for &t in &s.tower_order {
            let tower = towers[t as usize];
            if tower.cooldown > 0 {
                towers[t as usize].cooldown -= 1;
                continue;
            }
            let stats = tower.kind().stats();
            let power = level_power(stats.power, tower.level);
            if tower.kind() == TowerKind::Healer {
                let r2 = u32::from(stats.range).pow(2);
                for other in towers.iter_mut() {
                    let near = other.lane == tower.lane
                        && crate::num::dist2(
                            other.x.into(),
                            other.y.into(),
                            tower.x.into(),
                            tower.y.into(),
                        ) <= r2;
                    if near && other.uid != tower.uid {
                        other.hp = (other.hp + power).min(other.hp_max);
                    }
                }
                let g = &mut self.globals;
                g.base_hp = (g.base_hp + HEALER_BASE_HEAL).min(g.base_hp_max);
                towers[t as usize].cooldown = stats.period - 1;
                continue;
            }
            let in_range = self.map.path_in_range(tower.x, tower.y, stats.range);
            let Some((target, at)) = furthest_live(s, creeps, tower.lane, in_range) else {
                continue;
            };
            match tower.kind() {
                TowerKind::Cannon => {
                    let (tx, ty) = self.map.path_cell(at);
                    let lo = at.saturating_sub(2);
                    let hi = (at + 2).min(PATH_LEN - 1);
                    for j in lo..=hi {
                        let (px, py) = self.map.path_cell(j);
                        let d = distance(tx.into(), ty.into(), px.into(), py.into());
                        if d > CANNON_SPLASH {
                            continue;
                        }
                        // Full damage in the target's cell, a third less per cell away.
                        let falloff = Fx::ONE - d * fx_ratio(1, 3);
                        let hit = (Fx::from_num(power) * falloff).to_num::<i32>();
                        let b = usize::from(tower.lane) * PATH_LEN + j;
                        let items = &s.bucket_items
                            [s.bucket_start[b] as usize..s.bucket_start[b + 1] as usize];
                        for &c in items {
                            creeps[c as usize].hp -= hit;
                        }
                    }
                }
                TowerKind::Frost => {
                    let creep = &mut creeps[target];
                    creep.hp -= power;
                    creep.slow_ticks = creep.slow_ticks.max(stats.slow_ticks);
                }
                TowerKind::Arrow | TowerKind::Healer => creeps[target].hp -= power,
            }
            towers[t as usize].cooldown = stats.period - 1;
        }
    }

    /// Brutes and bosses hit one tower beside their cell when their attack is ready: the first
    /// tower in the cell's beside list.
    fn creeps_attack(&mut self) {
        let (Some(mut towers), Some(mut creeps)) =
            (column::<Tower>(&self.world), column::<Creep>(&self.world))
        else {
            return;
        };
        let s = &mut self.scratch;
        debug_assert_eq!(s.creep_bucket.len(), creeps.len(), "buckets of this tick");
        s.tower_grid.clear();
        s.tower_grid.resize(MAX_PLAYERS * LANE_CELLS, 0);
        for (i, t) in towers.iter().enumerate() {
            s.tower_grid[usize::from(t.lane) * LANE_CELLS + cell(t.x, t.y)] = i as u16 + 1;
        }
        // Which tower an attacker in each bucket hits (index + 1, 0 for none), once per
        // bucket instead of once per creep; the extra last entry stands for NO_BUCKET.
        s.attack_target.clear();
        s.attack_target.resize(BUCKETS + 1, 0);
        for (b, target) in s.attack_target[..BUCKETS].iter_mut().enumerate() {
            let (lane, at) = (b / PATH_LEN, b % PATH_LEN);
            let grid = &s.tower_grid[lane * LANE_CELLS..(lane + 1) * LANE_CELLS];
            *target = self
                .map
                .beside_path(at)
                .iter()
                .map(|&c| grid[usize::from(c)])
                .find(|&t| t != 0)
                .unwrap_or(0);
        }
        // Index 0 collects the damage of creeps that do not hit: the loop has no branch for
        // the random mix of kinds and cooldowns to mispredict.
        s.tower_damage.clear();
        s.tower_damage.resize(towers.len() + 1, 0);
        let (damage, targets) = (&mut s.tower_damage[..], &s.attack_target[..]);
        for (creep, &b) in creeps.iter_mut().zip(&s.creep_bucket) {
            let stats = CreepKind::stats_of(creep.kind);
            // Creeps that are not live have NO_BUCKET, whose entry is 0.
            let target = targets[usize::from(b).min(BUCKETS)];
            let hit =
                (stats.tower_damage != 0) & (creep.attack_cd == 0) & (creep.hp > 0) & (target != 0);
            damage[usize::from(target)] += stats.tower_damage * i32::from(hit);
            creep.attack_cd = if hit {
                stats.attack_period
            } else {
                creep.attack_cd
            };
        }
        for (tower, damage) in towers.iter_mut().zip(&s.tower_damage[1..]) {
            tower.hp -= damage;
        }
    }

    /// Dead creeps pay their bounty to the lane's owner, leaked ones hurt the base; dead creeps
    /// and towers are despawned in uid order.
    fn bury_dead(&mut self) {
        let g = &mut self.globals;
        let doomed = &mut self.scratch.doomed;
        for (i, creep) in read_column::<Creep>(&self.world).iter().enumerate() {
            let leaked = creep.flags & creep_flags::LEAKED != 0;
            if !leaked && creep.hp > 0 {
                continue;
            }
            let stats = CreepKind::stats_of(creep.kind);
            if leaked {
                g.base_hp = g.base_hp.saturating_sub(stats.leak_damage);
                g.leaks = g.leaks.saturating_add(1);
            } else {
                let gold = &mut g.gold[usize::from(creep.lane)];
                *gold = (*gold + stats.bounty).min(GOLD_MAX);
                g.kills = g.kills.saturating_add(1);
            }
            doomed.push(Doomed {
                uid: creep.uid,
                tower: false,
                index: i as u32,
            });
        }
        for (i, tower) in read_column::<Tower>(&self.world).iter().enumerate() {
            if tower.hp <= 0 {
                doomed.push(Doomed {
                    uid: tower.uid,
                    tower: true,
                    index: i as u32,
                });
            }
        }
        self.despawn_doomed();
    }

    /// Makes the world hold exactly these records in this storage order: copies them over
    /// the records it has, and despawns or spawns only the difference in count at the end of
    /// each archetype. Which hecs entity holds which record is not state, so the entities kept
    /// need not be the ones that held these records. Says whether any count changed.
    pub(crate) fn restore_records(&mut self, creeps: &[Creep], towers: &[Tower]) -> bool {
        let creeps_changed = restore(&mut self.world, &mut self.handles.creeps, creeps);
        let towers_changed = restore(&mut self.world, &mut self.handles.towers, towers);
        creeps_changed | towers_changed
    }

    /// Lost when the base fell, won when the last wave is spawned and gone, else running: a
    /// function of the rest of the state (one definition, which decoding checks too).
    fn update_status(&mut self) {
        let status = status_of(&self.globals, self.creep_count() as usize);
        self.globals.status = status as u8;
    }
}

/// Makes the archetype of `T`, whose entities are `handles` in storage order, hold `records`.
fn restore<T: Component + Copy>(
    world: &mut World,
    handles: &mut Vec<Entity>,
    records: &[T],
) -> bool {
    let have = handles.len();
    // From the end: despawning an archetype's last entity moves no other.
    for entity in handles.drain(records.len().min(have)..).rev() {
        world.despawn(entity).expect("a mirrored entity exists");
    }
    let kept = have.min(records.len());
    if kept > 0 {
        let mut column = column::<T>(world).expect("kept records have a column");
        column[..kept].copy_from_slice(&records[..kept]);
    }
    if have < records.len() {
        handles.extend(world.spawn_batch(records[have..].iter().map(|&r| (r,))));
    }
    have != records.len()
}

/// Kind of a swarm creep: mostly grunts and runners, some brutes, a few bosses.
fn swarm_kind(g: &mut Globals) -> CreepKind {
    match g.roll(100) {
        r if r < 50 => CreepKind::Grunt,
        r if r < 80 => CreepKind::Runner,
        r if r < 98 => CreepKind::Brute,
        _ => CreepKind::Boss,
    }
}

/// Path cell a creep stands on. Callers only ask for creeps that have not leaked.
fn path_index(c: &Creep) -> usize {
    (c.progress.to_num::<i32>().clamp(0, PATH_LEN as i32 - 1)) as usize
}

fn bucket(c: &Creep) -> usize {
    usize::from(c.lane) * PATH_LEN + path_index(c)
}

/// The live creep furthest along in the first non-empty cell of `in_range`, scanning from the
/// cell nearest the lane's end; ties go to the lowest uid. Returns its index and path cell.
fn furthest_live(
    s: &Scratch,
    creeps: &[Creep],
    lane: u8,
    in_range: &[u8],
) -> Option<(usize, usize)> {
    for &at in in_range.iter().rev() {
        let b = usize::from(lane) * PATH_LEN + usize::from(at);
        let items = &s.bucket_items[s.bucket_start[b] as usize..s.bucket_start[b + 1] as usize];
        let best = items
            .iter()
            .map(|&i| i as usize)
            .filter(|&i| creeps[i].hp > 0)
            .max_by(|&a, &b| {
                let (ca, cb) = (&creeps[a], &creeps[b]);
                ca.progress.cmp(&cb.progress).then(cb.uid.cmp(&ca.uid))
            });
        if let Some(i) = best {
            return Some((i, usize::from(at)));
        }
    }
    None
}
