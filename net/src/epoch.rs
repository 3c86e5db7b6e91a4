//! Epochs: how a match moves, at one frame every player agrees on, from one GGRS session to a
//! fresh one. GGRS 0.13 cannot drop a player for everyone at an agreed frame, re-admit one,
//! add a spectator or replace its state; a new session started from an agreed state can do
//! all four. Departures, resyncs, rejoins and late spectators are all one transition:
//!
//! 1. A transition freezes the match: every player stops advancing, and reports what it holds
//!    ([`Report`]): the hashes of its recent confirmed states, and every input it knows to be
//!    final (GGRS marks each input of each frame confirmed or predicted), for every seat.
//! 2. From the reports, [`plan`] decides, the same way wherever it runs: the newest state all
//!    of them hold with equal hashes (the *base*), the inputs of every seat from the base to
//!    the *cut* (the last frame whose inputs are known for every seat that goes on), and for
//!    each seat that leaves the first frame it is idle. No player decides alone which inputs
//!    of a leaver count: an input any player received counts for all.
//! 3. Every player loads its base state, plays the planned inputs to the cut, and checks the
//!    state's hash with the others'; a player without the base state, or whose hash differs
//!    (the minority of a desync), fetches the state of the cut from one that has it
//!    ([`crate::transfer`]), and so do rejoining players and late spectators.
//! 4. A new GGRS session starts from the state of the cut with the new roster.
//!
//! Frames: the state *of* frame `f` is the one GGRS saves as `f` (frame 0 is the initial
//! state), and the inputs *of* frame `f` lead from the state of `f` to the state of `f + 1`.
//! So a plan holds the inputs of frames `base .. cut` and leads to the state of `cut`.

use std::collections::{BTreeMap, BTreeSet};

/// The longest stretch of frames a plan replays (about 2 s at 60 Hz). A frozen match is at
/// most a prediction window ahead of its confirmed frames, so this is never reached by
/// honest players.
pub const PLAN_FRAMES_MAX: u32 = 128;

/// What one player holds when a transition freezes the match.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Report<I> {
    /// The player's seat.
    pub seat: usize,
    /// The hashes of the confirmed states it holds and could start from, by frame.
    pub states: BTreeMap<u32, [u8; 32]>,
    /// The inputs it knows to be final, by frame: one entry per seat, `None` where it does
    /// not know that seat's input of that frame. Only frames from its oldest held state on
    /// matter.
    pub inputs: BTreeMap<u32, Vec<Option<I>>>,
}

/// What every player does to reach the next epoch.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Plan<I> {
    /// The frame of the state to start from.
    pub base: u32,
    /// Its hash, equal in every report.
    pub base_hash: [u8; 32],
    /// The inputs of frames `base .. cut`, every seat's in seat order.
    pub inputs: Vec<Vec<I>>,
    /// The frame the next epoch starts at.
    pub cut: u32,
    /// Each leaving seat's first idle frame: its input is the default from there on.
    pub departures: BTreeMap<usize, u32>,
}

/// Why no plan could be made from the reports.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PlanError {
    /// No reports at all.
    #[error("no player reported")]
    NoReports,
    /// A report names a seat out of range, a seat twice, or a frame without an entry for
    /// every seat.
    #[error("seat {seat}'s report is malformed: {what}")]
    Malformed {
        /// The reporting seat.
        seat: usize,
        /// What is wrong with it.
        what: &'static str,
    },
    /// No frame's state is held by every reporter with the same hash.
    #[error("no state is held by every player with the same hash")]
    NoCommonBase,
    /// Two players report different inputs of the same seat for the same frame.
    #[error("seats {first} and {second} report different inputs of seat {seat} for frame {frame}")]
    Conflict {
        /// The frame.
        frame: u32,
        /// Whose input.
        seat: usize,
        /// Who reported it first.
        first: usize,
        /// Who reported otherwise.
        second: usize,
    },
    /// A player confirmed frames past the cut, yet its report lacks inputs it must have had.
    #[error(
        "seat {seat} confirmed frame {confirmed}, past the cut at {cut}: its report lacks inputs"
    )]
    Incomplete {
        /// The reporting seat.
        seat: usize,
        /// Its newest confirmed state.
        confirmed: u32,
        /// The cut the reports allow.
        cut: u32,
    },
    /// The stretch from the base to the cut is longer than [`PLAN_FRAMES_MAX`].
    #[error("{frames} frames from the base to the cut, more than {PLAN_FRAMES_MAX}")]
    TooLong {
        /// Its length.
        frames: u32,
    },
}

/// Decides the transition from the reports of the players that go on (see the module
/// documentation). `players` is the number of seats; `leaving` the seats that leave (they do
/// not report). The result depends only on the set of reports, not on their order.
///
/// # Errors
/// [`PlanError`] when the reports do not allow a plan.
pub fn plan<I: Copy + PartialEq + Default>(
    players: usize,
    reports: &[Report<I>],
    leaving: &BTreeSet<usize>,
) -> Result<Plan<I>, PlanError> {
    if reports.is_empty() {
        return Err(PlanError::NoReports);
    }
    let mut seen = BTreeSet::new();
    for report in reports {
        let malformed = |what| {
            Err(PlanError::Malformed {
                seat: report.seat,
                what,
            })
        };
        if report.seat >= players || leaving.contains(&report.seat) {
            return malformed("not a seat that goes on");
        }
        if !seen.insert(report.seat) {
            return malformed("the seat reported twice");
        }
        if report.inputs.values().any(|seats| seats.len() != players) {
            return malformed("a frame without one entry per seat");
        }
    }
    // Reports in seat order, so that conflicts are named the same way everywhere.
    let mut reports: Vec<&Report<I>> = reports.iter().collect();
    reports.sort_by_key(|r| r.seat);

    // The base: the newest frame every reporter holds with the same hash.
    let (base, base_hash) = reports[0]
        .states
        .iter()
        .rev()
        .find(|(frame, hash)| {
            reports[1..]
                .iter()
                .all(|r| r.states.get(frame) == Some(hash))
        })
        .map(|(frame, hash)| (*frame, *hash))
        .ok_or(PlanError::NoCommonBase)?;

    // Every input known from the base on, checked for conflicts.
    let mut known: BTreeMap<u32, Vec<Option<(I, usize)>>> = BTreeMap::new();
    for report in &reports {
        for (&frame, seats) in report.inputs.range(base..) {
            if frame - base >= PLAN_FRAMES_MAX {
                break;
            }
            let entry = known.entry(frame).or_insert_with(|| vec![None; players]);
            for (seat, input) in seats.iter().enumerate() {
                let Some(input) = input else { continue };
                match entry[seat] {
                    None => entry[seat] = Some((*input, report.seat)),
                    Some((held, first)) if held != *input => {
                        return Err(PlanError::Conflict {
                            frame,
                            seat,
                            first,
                            second: report.seat,
                        });
                    }
                    Some(_) => {}
                }
            }
        }
    }
    // The first frame from the base whose input of `seat` nobody knows.
    let known_until = |seat: usize| {
        let mut frame = base;
        while known.get(&frame).is_some_and(|seats| seats[seat].is_some()) {
            frame += 1;
        }
        frame
    };
    let cut = (0..players)
        .filter(|seat| !leaving.contains(seat))
        .map(known_until)
        .min()
        .unwrap_or(base);
    if cut - base > PLAN_FRAMES_MAX {
        return Err(PlanError::TooLong { frames: cut - base });
    }
    for report in &reports {
        if let Some((&confirmed, _)) = report.states.last_key_value() {
            if confirmed > cut {
                return Err(PlanError::Incomplete {
                    seat: report.seat,
                    confirmed,
                    cut,
                });
            }
        }
    }
    let departures: BTreeMap<usize, u32> = leaving
        .iter()
        .filter(|&&seat| seat < players)
        .map(|&seat| (seat, known_until(seat).min(cut)))
        .collect();
    let inputs = (base..cut)
        .map(|frame| {
            (0..players)
                .map(|seat| {
                    if departures.get(&seat).is_some_and(|&idle| frame >= idle) {
                        return I::default();
                    }
                    known[&frame][seat]
                        .map(|(input, _)| input)
                        .unwrap_or_default()
                })
                .collect()
        })
        .collect();
    Ok(Plan {
        base,
        base_hash,
        inputs,
        cut,
        departures,
    })
}

#[cfg(test)]
mod tests;
