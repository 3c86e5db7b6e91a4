//! Healer TD's deterministic core: the game's rules on a `hecs` world, advanced one tick at a
//! time from every player's input, with snapshots and a blake3 hash of the whole state.
//!
//! In order of importance:
//! 1. **Determinism.** The same settings and inputs give the same hash on every run, machine
//!    and target (x86_64, i686, wasm32). Fixed-point numbers and integers only; no floats,
//!    clocks, OS randomness, threads, pointer-width integers in the state, or iteration over
//!    hashed collections; nothing depends on ECS iteration order.
//! 2. **Cheap rollback.** [`Game::save_into`] and [`Game::load`] copy packed columns.
//! 3. **Bounded ticks.** A tick cannot fail; every collection has a named limit in [`rules`].
//!
//! ```
//! use sim::{Game, Input, Settings};
//!
//! let mut game = Game::new(Settings::standard(7, 2));
//! let snapshot = game.save();
//! let first = game.advance(&[Input::IDLE, Input::IDLE]);
//! game.load(&snapshot);
//! assert_eq!(game.advance(&[Input::IDLE, Input::IDLE]), first);
//! ```
//!
//! The simulation is passive: one entry point, [`Game::advance`], moves it forward. Renderers
//! read a [`View`], plain data; they never see the world.

#![deny(clippy::float_arithmetic)]

pub mod check;
pub mod dump;
mod game;
pub mod hashtree;
mod input;
pub mod map;
pub mod num;
pub mod rules;
pub mod script;
mod snapshot;
mod state;
mod view;

pub use check::{Record, Rule};
pub use game::{Column, Game};
pub use input::{action, Command, Input};
pub use rules::{CreepKind, TowerKind, RULES_VERSION};
pub use script::Script;
pub use snapshot::{LoadPath, Snapshot, SnapshotError, StateHash};
pub use state::{creep_flags, Creep, Globals, Scenario, Settings, SettingsError, Status, Tower};
pub use view::{CreepView, PlayerView, TowerView, View};
