//! The game state's data: components on the hecs world, the global record, the settings.
//!
//! Every type here is `repr(C)` plain old data with explicitly sized fields and no padding, so
//! its bytes *are* its canonical encoding (little-endian; see [`crate::snapshot`]). Entities
//! refer to each other by stable `uid`s that the rules assign, never by `hecs::Entity`, so
//! hecs's own ids are irrelevant to the outcome and to the hash.

use bytemuck::{Pod, Zeroable};

use crate::num::Fx;
use crate::rules::{CreepKind, TowerKind, MAX_CREEPS, MAX_PLAYERS, RULES_VERSION};

/// A creep walking a lane's path. One hecs archetype holds exactly this component.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Pod, Zeroable)]
#[repr(C)]
pub struct Creep {
    /// Stable id, unique for the whole match.
    pub uid: u32,
    /// Distance walked along the path, in cells.
    pub progress: Fx,
    /// Hit points; at or below zero the creep dies at the end of the tick.
    pub hp: i32,
    /// Hit points at spawn.
    pub hp_max: i32,
    /// Ticks of slow left.
    pub slow_ticks: u16,
    /// Ticks until it can hit a tower again.
    pub attack_cd: u16,
    /// [`CreepKind`] code.
    pub kind: u8,
    /// Lane (= owning player) it walks in.
    pub lane: u8,
    /// [`creep_flags`] bits.
    pub flags: u8,
    /// Always zero.
    pub pad: u8,
}

/// Bits of [`Creep::flags`].
pub mod creep_flags {
    /// It already leaked out of one lane into the next.
    pub const SPILLED: u8 = 1;
    /// It left its last lane this tick and is about to hit the base.
    pub const LEAKED: u8 = 2;
}

impl Creep {
    /// Its kind.
    pub fn kind(&self) -> CreepKind {
        CreepKind::from_u8(self.kind)
    }

    /// Still walking: not dead, not leaked.
    pub fn is_live(&self) -> bool {
        self.hp > 0 && self.flags & creep_flags::LEAKED == 0
    }
}

/// A tower on a lane's grid. One hecs archetype holds exactly this component.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Pod, Zeroable)]
#[repr(C)]
pub struct Tower {
    /// Stable id, unique for the whole match.
    pub uid: u32,
    /// Hit points; at or below zero the tower is destroyed at the end of the tick.
    pub hp: i32,
    /// Hit points at full health for its level.
    pub hp_max: i32,
    /// Gold spent on it (build and upgrades): selling refunds half.
    pub spent: u32,
    /// Ticks until it fires or pulses again.
    pub cooldown: u16,
    /// [`TowerKind`] code.
    pub kind: u8,
    /// 1..=TOWER_LEVEL_MAX.
    pub level: u8,
    /// Lane (= owning player).
    pub lane: u8,
    /// Column inside the lane.
    pub x: u8,
    /// Row inside the lane.
    pub y: u8,
    /// Always zero.
    pub pad: u8,
}

impl Tower {
    /// Its kind; the rules only ever store valid codes.
    pub fn kind(&self) -> TowerKind {
        TowerKind::from_u8(self.kind).unwrap_or(TowerKind::Arrow)
    }
}

/// Everything that is not an entity: the frame, the RNG, the base, the waves, the players.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Pod, Zeroable)]
#[repr(C)]
pub struct Globals {
    /// The match seed (settings).
    pub seed: u64,
    /// PCG32 state of the game's random numbers.
    pub rng_state: u64,
    /// PCG32 increment.
    pub rng_inc: u64,
    /// [`RULES_VERSION`] the state was made by.
    pub rules_version: u32,
    /// Ticks simulated so far.
    pub frame: u32,
    /// Next stable id to hand out; every uid in the state is below it.
    pub next_uid: u32,
    /// The shared base's hit points.
    pub base_hp: i32,
    /// The base's full hit points.
    pub base_hp_max: i32,
    /// Creeps the swarm scenario keeps alive (settings); 0 in the standard scenario.
    pub creeps_target: u32,
    /// Current wave, 0 before the first.
    pub wave: u32,
    /// Creeps spawned per lane so far in the current wave.
    pub wave_spawned: u32,
    /// Ticks until the spawner acts next.
    pub wave_timer: u32,
    /// Creeps killed by towers.
    pub kills: u32,
    /// Creeps that reached the base.
    pub leaks: u32,
    /// Gold of each player; unused seats hold 0.
    pub gold: [i32; MAX_PLAYERS],
    /// Players in the match (settings), 1..=MAX_PLAYERS.
    pub players: u8,
    /// [`Scenario`] code (settings).
    pub scenario: u8,
    /// [`Status`] code.
    pub status: u8,
    /// 1 while paused.
    pub paused: u8,
    /// Each player's cursor column.
    pub cursor_x: [u8; MAX_PLAYERS],
    /// Each player's cursor row.
    pub cursor_y: [u8; MAX_PLAYERS],
}

// The encoding is the layout: pin the sizes so a field change cannot slip through unnoticed.
const _: () = assert!(std::mem::size_of::<Creep>() == 24);
const _: () = assert!(std::mem::size_of::<Tower>() == 24);
const _: () = assert!(std::mem::size_of::<Globals>() == 96);

#[cfg(target_endian = "big")]
compile_error!("sim's state encoding is little-endian; big-endian targets are not supported");

impl Default for Globals {
    fn default() -> Self {
        Globals::zeroed()
    }
}

impl Globals {
    /// A uniformly random number in `0..n` from the game's RNG (`n > 0`).
    pub(crate) fn roll(&mut self, n: u32) -> u32 {
        debug_assert!(n > 0, "roll needs a non-empty range");
        let mut rng = oorandom::Rand32::from_state((self.rng_state, self.rng_inc));
        let value = rng.rand_range(0..n.max(1));
        (self.rng_state, self.rng_inc) = rng.state();
        value
    }

    /// Hands out the next stable id. Callers check [`Globals::uids_left`] first: ids never
    /// wrap, so every uid is unique and below `next_uid`.
    pub(crate) fn take_uid(&mut self) -> u32 {
        debug_assert!(self.uids_left() > 0, "every uid is handed out");
        let uid = self.next_uid;
        self.next_uid = self.next_uid.wrapping_add(1);
        uid
    }

    /// Ids still to hand out. When none are left (after 2^32 - 1 spawns and builds, more than
    /// four hours of the swarm's largest respawn every tick) nothing more spawns or is built.
    pub(crate) fn uids_left(&self) -> u32 {
        u32::MAX - self.next_uid
    }

    /// The match's scenario.
    pub fn scenario(&self) -> Scenario {
        Scenario::from_u8(self.scenario)
    }

    /// The match's status.
    pub fn status(&self) -> Status {
        Status::from_u8(self.status)
    }
}

/// Which rule set's parameters a match uses.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum Scenario {
    /// Waves, a boss, a base to defend: the game.
    #[default]
    Standard = 0,
    /// The same rules with a constant crowd of creeps and pre-built towers, for benchmarks.
    Swarm = 1,
}

impl Scenario {
    fn from_u8(code: u8) -> Scenario {
        if code == Scenario::Swarm as u8 {
            Scenario::Swarm
        } else {
            Scenario::Standard
        }
    }

    /// The scenario with this code (`Scenario as u8`), if any.
    pub fn from_code(code: u8) -> Option<Scenario> {
        [Scenario::Standard, Scenario::Swarm]
            .into_iter()
            .find(|s| *s as u8 == code)
    }

    /// Its name on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Scenario::Standard => "standard",
            Scenario::Swarm => "swarm",
        }
    }
}

/// How the match stands.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum Status {
    /// Still being played.
    #[default]
    Running = 0,
    /// The last wave is beaten.
    Won = 1,
    /// The base fell.
    Lost = 2,
}

impl Status {
    fn from_u8(code: u8) -> Status {
        match code {
            1 => Status::Won,
            2 => Status::Lost,
            _ => Status::Running,
        }
    }
}

/// What a match is started with. Build it with [`Settings::new`], which validates.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Settings {
    seed: u64,
    players: u8,
    scenario: Scenario,
    creeps: u32,
}

/// Why a [`Settings`] was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SettingsError {
    /// Players must be 1..=MAX_PLAYERS.
    Players(u32),
    /// The swarm's creep count must be 1..=MAX_CREEPS.
    Creeps(u32),
    /// A creep count was given for a scenario that has waves instead.
    CreepsWithoutSwarm,
}

impl std::fmt::Display for SettingsError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SettingsError::Players(n) => {
                write!(f, "players must be 1 to {MAX_PLAYERS}, got {n}")
            }
            SettingsError::Creeps(n) => {
                write!(
                    f,
                    "the swarm's creep count must be 1 to {MAX_CREEPS}, got {n}"
                )
            }
            SettingsError::CreepsWithoutSwarm => {
                write!(f, "a creep count only applies to the swarm scenario")
            }
        }
    }
}

impl std::error::Error for SettingsError {}

impl Settings {
    /// Default creep count of the swarm scenario.
    pub const SWARM_CREEPS_DEFAULT: u32 = 10_000;

    /// Validated settings. `creeps` is the swarm's crowd (`None`: the default) and must be
    /// `None` for the standard scenario.
    ///
    /// # Errors
    /// When a value is out of range; the error says which and what was expected.
    pub fn new(
        seed: u64,
        players: u32,
        scenario: Scenario,
        creeps: Option<u32>,
    ) -> Result<Settings, SettingsError> {
        if players == 0 || players as usize > MAX_PLAYERS {
            return Err(SettingsError::Players(players));
        }
        let creeps = match (scenario, creeps) {
            (Scenario::Standard, None) => 0,
            (Scenario::Standard, Some(_)) => return Err(SettingsError::CreepsWithoutSwarm),
            (Scenario::Swarm, None) => Self::SWARM_CREEPS_DEFAULT,
            (Scenario::Swarm, Some(n)) if (1..=MAX_CREEPS).contains(&n) => n,
            (Scenario::Swarm, Some(n)) => return Err(SettingsError::Creeps(n)),
        };
        Ok(Settings {
            seed,
            players: players as u8,
            scenario,
            creeps,
        })
    }

    /// The standard game for `players` players; panics outside 1..=MAX_PLAYERS (for tests and
    /// constants; outside input goes through [`Settings::new`]).
    pub fn standard(seed: u64, players: u32) -> Settings {
        Settings::new(seed, players, Scenario::Standard, None).expect("players must be 1..=4")
    }

    /// The swarm scenario; panics when `creeps` is outside 1..=MAX_CREEPS.
    pub fn swarm(seed: u64, players: u32, creeps: u32) -> Settings {
        Settings::new(seed, players, Scenario::Swarm, Some(creeps)).expect("valid swarm settings")
    }

    /// The seed.
    pub fn seed(&self) -> u64 {
        self.seed
    }

    /// Players, 1..=MAX_PLAYERS.
    pub fn players(&self) -> u8 {
        self.players
    }

    /// The scenario.
    pub fn scenario(&self) -> Scenario {
        self.scenario
    }

    /// The swarm's creep count (0 for the standard scenario).
    pub fn creeps(&self) -> u32 {
        self.creeps
    }

    pub(crate) fn initial_globals(&self) -> Globals {
        let (rng_state, rng_inc) = oorandom::Rand32::new(self.seed).state();
        let mut globals = Globals::zeroed();
        globals.seed = self.seed;
        globals.rng_state = rng_state;
        globals.rng_inc = rng_inc;
        globals.rules_version = RULES_VERSION;
        globals.players = self.players;
        globals.scenario = self.scenario as u8;
        globals.creeps_target = self.creeps;
        globals
    }
}
