//! Input scripts: deterministic stand-ins for players, for the CLI, tests and benchmarks.
//!
//! A script is a pure function of (seed, frame, seat), so any frame's inputs can be produced
//! again without replaying the ones before it, which is what rollback tests need.

use crate::input::{action, Input};
use crate::rules::{LANE_H, LANE_W};

/// Which stand-in plays.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Script {
    /// Never does anything.
    Idle,
    /// Builds, upgrades, repairs and now and then sells, at random cells, about twice a
    /// second; never pauses.
    #[default]
    Random,
}

impl Script {
    /// The input of seat `seat` at frame `frame` of a match scripted from `seed`.
    pub fn input(self, seed: u64, frame: u32, seat: u8) -> Input {
        match self {
            Script::Idle => Input::IDLE,
            Script::Random => random_input(seed, frame, seat),
        }
    }

    /// Inputs of every seat at `frame`, written into `out` (one per seat).
    pub fn inputs(self, seed: u64, frame: u32, out: &mut [Input]) {
        for (seat, input) in out.iter_mut().enumerate() {
            *input = self.input(seed, frame, seat as u8);
        }
    }
}

fn random_input(seed: u64, frame: u32, seat: u8) -> Input {
    let stream = (u64::from(frame) << 8) | u64::from(seat);
    let mut rng = oorandom::Rand32::new_inc(seed, stream.wrapping_mul(2).wrapping_add(1));
    let x = rng.rand_range(0..u32::from(LANE_W)) as u8;
    let y = rng.rand_range(0..u32::from(LANE_H)) as u8;
    let (act, arg) = match rng.rand_range(0..60) {
        0..=2 => (action::BUILD, rng.rand_range(0..4) as u8),
        3 => (action::UPGRADE, 0),
        4 => (action::REPAIR, 0),
        5 if rng.rand_range(0..4) == 0 => (action::SELL, 0),
        _ => (action::NONE, 0),
    };
    Input::new(act, arg, x, y)
}

/// Arbitrary bytes as inputs, garbage included: for robustness tests.
pub fn garbage_input(seed: u64, frame: u32, seat: u8) -> Input {
    let stream = (u64::from(frame) << 8) | u64::from(seat);
    let mut rng = oorandom::Rand32::new_inc(seed ^ 0x9E37_79B9_7F4A_7C15, stream * 2 + 1);
    Input::from_bytes(rng.rand_u32().to_le_bytes())
}
