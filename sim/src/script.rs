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
    /// second; never pauses. Its cursor jumps to a random cell every frame: the worst case
    /// for input compression.
    #[default]
    Random,
    /// Plays like a person at a keyboard: the cursor walks one cell at a time (20 a second)
    /// to a chosen cell, where it may build, upgrade, repair or sell, then picks the next
    /// cell; a new plan every one and a half seconds.
    Human,
}

impl Script {
    /// The input of seat `seat` at frame `frame` of a match scripted from `seed`.
    pub fn input(self, seed: u64, frame: u32, seat: u8) -> Input {
        match self {
            Script::Idle => Input::IDLE,
            Script::Random => random_input(seed, frame, seat),
            Script::Human => human_input(seed, frame, seat),
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

/// Frames per plan of [`Script::Human`].
const PLAN_FRAMES: u32 = 90;
/// Frames per cursor step of [`Script::Human`]: fast enough to cross a lane in one plan.
const STEP_FRAMES: u32 = 3;
/// The frame of a plan on which it acts, after the cursor has arrived.
const ACT_AT: u32 = PLAN_FRAMES - 6;

const _: () = assert!(
    (LANE_W as u32 - 1 + LANE_H as u32 - 1) * STEP_FRAMES < ACT_AT,
    "the cursor must reach any cell before the plan acts"
);

/// The cell plan `plan` of a human-like seat heads for, and what it does there.
fn plan(seed: u64, plan: u32, seat: u8) -> ((u8, u8), u8, u8) {
    let stream = (u64::from(plan) << 8) | u64::from(seat);
    let mut rng = oorandom::Rand32::new_inc(seed ^ 0x4855_4D41_4E00_0000, stream * 2 + 1);
    let cell = (
        rng.rand_range(0..u32::from(LANE_W)) as u8,
        rng.rand_range(0..u32::from(LANE_H)) as u8,
    );
    let (act, arg) = match rng.rand_range(0..100) {
        0..=39 => (action::BUILD, rng.rand_range(0..4) as u8),
        40..=54 => (action::UPGRADE, 0),
        55..=64 => (action::REPAIR, 0),
        65..=67 => (action::SELL, 0),
        _ => (action::NONE, 0),
    };
    (cell, act, arg)
}

fn human_input(seed: u64, frame: u32, seat: u8) -> Input {
    let k = frame / PLAN_FRAMES;
    let from = if k == 0 {
        (0, 0)
    } else {
        plan(seed, k - 1, seat).0
    };
    let (to, act, arg) = plan(seed, k, seat);
    let steps = (frame % PLAN_FRAMES) / STEP_FRAMES;
    // Walk along x first, then y, one cell per step.
    let dx = i32::from(to.0) - i32::from(from.0);
    let dy = i32::from(to.1) - i32::from(from.1);
    let along_x = dx.unsigned_abs().min(steps) as i32;
    let along_y = dy
        .unsigned_abs()
        .min(steps.saturating_sub(dx.unsigned_abs())) as i32;
    let x = (i32::from(from.0) + dx.signum() * along_x) as u8;
    let y = (i32::from(from.1) + dy.signum() * along_y) as u8;
    let arrived = (x, y) == to;
    // Act once a plan, after arriving.
    let acts = arrived && frame % PLAN_FRAMES == ACT_AT;
    if acts {
        Input::new(act, arg, x, y)
    } else {
        Input::new(action::NONE, 0, x, y)
    }
}

/// Arbitrary bytes as inputs, garbage included: for robustness tests.
pub fn garbage_input(seed: u64, frame: u32, seat: u8) -> Input {
    let stream = (u64::from(frame) << 8) | u64::from(seat);
    let mut rng = oorandom::Rand32::new_inc(seed ^ 0x9E37_79B9_7F4A_7C15, stream * 2 + 1);
    Input::from_bytes(rng.rand_u32().to_le_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The human-like cursor moves at most one cell per frame and acts at most once a plan.
    #[test]
    fn human_moves_step_by_step() {
        let mut last = Script::Human.input(3, 0, 1);
        let mut actions = 0;
        for frame in 1..9000 {
            let input = Script::Human.input(3, frame, 1);
            let moved = input.x.abs_diff(last.x) + input.y.abs_diff(last.y);
            assert!(moved <= 1, "frame {frame}: {last:?} -> {input:?}");
            actions += u32::from(input.action != action::NONE);
            last = input;
        }
        assert!(
            actions > 20 && actions <= 9000 / PLAN_FRAMES,
            "{actions} actions"
        );
    }
}
