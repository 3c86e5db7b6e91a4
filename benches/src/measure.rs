//! The measurements behind `hltd bench`: the performance goals, timed side by side in one run
//! on the swarm scenario, so the ratios hold however busy the machine is. Times are medians of
//! many samples, in nanoseconds; nothing here uses floating point.

use std::hint::black_box;
use std::time::Instant;

use sim::hashtree::HashTree;
use sim::{Game, Input, Script, Snapshot};

/// One rollback must fit in one 60 Hz frame: 16.6 ms.
pub const ROLLBACK_BUDGET_NS: u64 = 16_600_000;

/// What to measure.
#[derive(Clone, Copy, Debug)]
pub struct Plan {
    /// Creeps in the swarm (4 players).
    pub creeps: u32,
    /// Ticks timed (half with the hash, half the rules alone, alternating).
    pub frames: u32,
}

/// Everything measured, in nanoseconds (medians unless named otherwise).
#[derive(Clone, Debug, Default)]
pub struct Report {
    /// Creeps alive when the state operations were timed.
    pub creeps: u32,
    /// Bytes of the canonical encoding of that state.
    pub state_bytes: u64,
    /// Ticks timed.
    pub frames: u32,
    /// One tick, state hash included (mean over the ticks).
    pub tick_ns: u64,
    /// One tick of the rules alone, without the hash (mean).
    pub rules_ns: u64,
    /// `Game::save_into`.
    pub save_ns: u64,
    /// `Game::load` of a state with the same counts (copies in place).
    pub load_ns: u64,
    /// `memcpy` of `state_bytes` bytes.
    pub memcpy_ns: u64,
    /// `blake3::hash` of the `state_bytes` bytes of the encoding.
    pub blake3_ns: u64,
    /// The state hash from scratch (`Game::compute_hash`).
    pub hash_full_ns: u64,
    /// The incremental hash after one tick of the swarm, which moves every creep: what the
    /// tick pays.
    pub hash_tick_ns: u64,
    /// The incremental hash when 1% of the creeps changed, stored together (one run of
    /// records, as when a group spawned together is hit).
    pub hash_1pct_ns: u64,
    /// The incremental hash when 1% of the creeps changed, spread evenly (every 100th record):
    /// every leaf holds a change, so the whole state is rehashed.
    pub hash_1pct_spread_ns: u64,
    /// The incremental hash when nothing changed.
    pub hash_none_ns: u64,
    /// Load 8 frames back, then 8 x (tick with hash + save).
    pub rollback8_ns: u64,
    /// The slowest rollback timed.
    pub rollback8_max_ns: u64,
    /// Rollbacks timed.
    pub rollbacks: u32,
    /// The naive baseline's save (clone the world entity by entity, serialise, hash).
    pub naive_save_ns: u64,
    /// The naive baseline's load (parse, spawn entity by entity).
    pub naive_load_ns: u64,
}

/// A ratio `a / b` in thousandths, rounded.
pub fn milli(a: u64, b: u64) -> u64 {
    (a.saturating_mul(1000) + b.max(1) / 2) / b.max(1)
}

/// Thousandths as a decimal, "1.234".
pub fn decimal(milli: u64) -> String {
    format!("{}.{:03}", milli / 1000, milli % 1000)
}

impl Report {
    /// Rules and hash per creep per tick, in thousandths of a nanosecond.
    pub fn tick_pns_per_creep(&self) -> u64 {
        milli(self.tick_ns, u64::from(self.creeps))
    }

    /// The rules alone per creep per tick, in thousandths of a nanosecond.
    pub fn rules_pns_per_creep(&self) -> u64 {
        milli(self.rules_ns, u64::from(self.creeps))
    }

    /// Save / memcpy, in thousandths.
    pub fn save_vs_memcpy(&self) -> u64 {
        milli(self.save_ns, self.memcpy_ns)
    }

    /// Load / memcpy, in thousandths.
    pub fn load_vs_memcpy(&self) -> u64 {
        milli(self.load_ns, self.memcpy_ns)
    }

    /// The tick's hash / blake3 of the same bytes, in thousandths.
    pub fn hash_vs_blake3(&self) -> u64 {
        milli(self.hash_tick_ns, self.blake3_ns)
    }

    /// The full hash / blake3, in thousandths.
    pub fn full_hash_vs_blake3(&self) -> u64 {
        milli(self.hash_full_ns, self.blake3_ns)
    }

    /// Hash with 1% changed / full hash, in thousandths.
    pub fn incremental_share(&self) -> u64 {
        milli(self.hash_1pct_ns, self.hash_full_ns)
    }

    /// (naive save + load) / (our save + load), in thousandths.
    pub fn naive_speedup(&self) -> u64 {
        milli(
            self.naive_save_ns + self.naive_load_ns,
            self.save_ns + self.load_ns,
        )
    }

    /// The goals, each with whether it holds.
    pub fn goals(&self) -> Vec<Goal> {
        vec![
            Goal {
                id: "P1",
                what: "rollback-8 within 16.6 ms",
                pass: self.rollback8_ns <= ROLLBACK_BUDGET_NS,
            },
            Goal {
                id: "P2",
                what: "save and load each at most 2x memcpy",
                pass: self.save_vs_memcpy() <= 2000 && self.load_vs_memcpy() <= 2000,
            },
            Goal {
                id: "P3",
                what: "the tick's hash at most 1.5x blake3",
                pass: self.hash_vs_blake3() <= 1500,
            },
            Goal {
                id: "P3i",
                what: "hash with 1% of creeps changed (stored together) at most 1/4 of a full hash",
                pass: self.incremental_share() <= 250,
            },
            Goal {
                id: "P4",
                what: "save+load at least 50x faster than the naive baseline",
                pass: self.naive_speedup() >= 50_000,
            },
        ]
    }
}

/// One goal's verdict.
#[derive(Clone, Debug)]
pub struct Goal {
    /// Its name in the issue: P1 to P4 (P3i: the incremental half of P3).
    pub id: &'static str,
    /// What it asks.
    pub what: &'static str,
    /// Whether the figures meet it.
    pub pass: bool,
}

/// The phases of a run, for a progress display.
pub const PHASES: [&str; 5] = [
    "setup",
    "ticks",
    "state operations",
    "rollbacks",
    "naive baseline",
];

/// Runs the whole measurement; `progress(phase)` is called as each phase starts (an index into
/// [`PHASES`]).
///
/// # Panics
/// When `plan.creeps` is not a valid swarm size (1..=`sim::rules::MAX_CREEPS`).
pub fn run(plan: Plan, mut progress: impl FnMut(usize)) -> Report {
    progress(0);
    let mut game = crate::swarm(plan.creeps, 30);
    let mut inputs = [Input::IDLE; 4];
    let next_inputs = |game: &Game, inputs: &mut [Input; 4]| {
        Script::Random.inputs(1, game.frame(), inputs);
    };

    progress(1);
    let (mut tick_total, mut rules_total) = (0u64, 0u64);
    let frames = plan.frames.max(2);
    for n in 0..frames {
        next_inputs(&game, &mut inputs);
        if n % 2 == 0 {
            tick_total += time(|| {
                black_box(game.advance(&inputs));
            });
        } else {
            rules_total += time(|| game.advance_rules_only(&inputs));
        }
    }
    // Leave the game hashed (the last tick may have been rules only).
    next_inputs(&game, &mut inputs);
    game.advance(&inputs);
    let mut report = Report {
        frames,
        tick_ns: tick_total / u64::from(frames.div_ceil(2)),
        rules_ns: rules_total / u64::from(frames / 2),
        ..Report::default()
    };

    progress(2);
    state_operations(&mut game, &mut report);

    progress(3);
    rollbacks(&mut game, &mut report);

    progress(4);
    let world = crate::naive::world_of(&game);
    let rounds = (20_000_000 / report.state_bytes.max(1)).clamp(5, 200) as usize;
    let (mut saves, mut loads) = (Vec::new(), Vec::new());
    for _ in 0..rounds {
        let mut saved = None;
        saves.push(time(|| saved = Some(crate::naive::save(&world))));
        let saved = saved.expect("saved");
        loads.push(time(|| {
            black_box(crate::naive::load(&saved));
        }));
    }
    report.naive_save_ns = median(&mut saves);
    report.naive_load_ns = median(&mut loads);
    report
}

/// Save, load, memcpy, blake3 and the hashes, interleaved round by round on the same state.
fn state_operations(game: &mut Game, report: &mut Report) {
    let mut saved = game.save();
    report.creeps = saved.creep_records().len() as u32;
    // The tick's incremental hash alternates between the state and the state a tick later
    // (every creep moved, so every leaf differs each time, as in the swarm's tick); the 1%
    // trees between the state and 1% of its creeps changed, in one run or spread evenly.
    let (encoded, later, touched) = crate::hash_variants(game);
    report.state_bytes = encoded.len() as u64;
    let spread = crate::changed_creeps(&encoded, (0..report.creeps as usize).step_by(100));
    let mut dest = vec![0u8; encoded.len()];
    let mut trees: [HashTree; 4] = Default::default();
    for (tree, first) in trees.iter_mut().zip([&later, &touched, &spread, &encoded]) {
        tree.update(&[first]);
    }
    let [tick_tree, pct_tree, spread_tree, none_tree] = &mut trees;

    // A sample is a block of back-to-back repeats of one operation after an untimed one, as
    // criterion times them (the data is as warm as a loop keeps it); blocks of the different
    // operations alternate, so a busy spell of the machine hits them all alike.
    let reps = (4_000_000 / encoded.len().max(1)).clamp(4, 4000);
    let rounds = (300_000_000 / (encoded.len() * reps)).clamp(15, 200);
    let mut samples: [Vec<u64>; 9] = Default::default();
    for _ in 0..rounds {
        let timings = [
            block(reps, || game.save_into(black_box(&mut saved))),
            block(reps, || {
                black_box(game.load(black_box(&saved)));
            }),
            block(reps, || dest.copy_from_slice(black_box(&encoded))),
            block(reps, || {
                black_box(blake3::hash(black_box(&encoded)));
            }),
            block(reps, || {
                black_box(game.compute_hash());
            }),
            alternating(reps, tick_tree, &encoded, &later),
            alternating(reps, pct_tree, &encoded, &touched),
            alternating(reps, spread_tree, &encoded, &spread),
            block(reps, || {
                black_box(none_tree.update(&[&encoded]));
            }),
        ];
        for (list, t) in samples.iter_mut().zip(timings) {
            list.push(t);
        }
    }
    let [save, load, memcpy, blake, full, tick, pct, spread, none] =
        samples.map(|mut s| median(&mut s));
    report.save_ns = save;
    report.load_ns = load;
    report.memcpy_ns = memcpy;
    report.blake3_ns = blake;
    report.hash_full_ns = full;
    report.hash_tick_ns = tick;
    report.hash_1pct_ns = pct;
    report.hash_1pct_spread_ns = spread;
    report.hash_none_ns = none;
}

/// Load a snapshot 8 frames back, then 8 times tick (with its hash) and save, as GGRS asks at
/// the prediction limit; every save goes to its own buffer, as the session keeps them.
fn rollbacks(game: &mut Game, report: &mut Report) {
    let start = game.save();
    let mut saves: Vec<Snapshot> = (0..8).map(|_| game.save()).collect();
    let mut inputs = [Input::IDLE; 4];
    let rounds = (2_000_000_000 / (report.tick_ns.max(1) * 8)).clamp(10, 200) as usize;
    let mut samples = Vec::with_capacity(rounds);
    for _ in 0..rounds {
        samples.push(time(|| {
            game.load(&start);
            for save in &mut saves {
                Script::Random.inputs(1, game.frame(), &mut inputs);
                black_box(game.advance(&inputs));
                game.save_into(save);
            }
        }));
    }
    report.rollbacks = rounds as u32;
    report.rollback8_max_ns = samples.iter().copied().max().unwrap_or(0);
    report.rollback8_ns = median(&mut samples);
}

fn time(f: impl FnOnce()) -> u64 {
    let start = Instant::now();
    f();
    start.elapsed().as_nanos() as u64
}

/// Nanoseconds per call of `f`, over `reps` calls after an untimed one.
fn block(reps: usize, mut f: impl FnMut()) -> u64 {
    f();
    let start = Instant::now();
    for _ in 0..reps {
        f();
    }
    start.elapsed().as_nanos() as u64 / reps as u64
}

/// Nanoseconds per update of `tree` alternating between `a` and `b`, over `reps` updates
/// after an untimed one: each update finds `b`'s changes to `a` (or back).
fn alternating(reps: usize, tree: &mut HashTree, a: &[u8], b: &[u8]) -> u64 {
    let mut which = false;
    block(reps, || {
        which = !which;
        black_box(tree.update(&[if which { b } else { a }]));
    })
}

fn median(samples: &mut [u64]) -> u64 {
    samples.sort_unstable();
    samples.get(samples.len() / 2).copied().unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ratios_are_rounded_thousandths() {
        assert_eq!(decimal(milli(3, 2)), "1.500");
        assert_eq!(decimal(milli(2, 3)), "0.667");
        assert_eq!(decimal(milli(5, 0)), "5.000", "a zero divisor counts as 1");
    }

    /// A small run measures every figure and judges every goal.
    #[test]
    fn a_small_run_fills_the_report() {
        let mut phases = Vec::new();
        let report = run(
            Plan {
                creeps: 2_000,
                frames: 10,
            },
            |p| phases.push(p),
        );
        assert_eq!(phases, vec![0, 1, 2, 3, 4]);
        assert!(
            report.creeps > 1_000 && report.state_bytes > 24_000,
            "{report:?}"
        );
        for (name, ns) in [
            ("tick", report.tick_ns),
            ("rules", report.rules_ns),
            ("save", report.save_ns),
            ("load", report.load_ns),
            ("memcpy", report.memcpy_ns),
            ("blake3", report.blake3_ns),
            ("hash", report.hash_full_ns),
            ("hash_tick", report.hash_tick_ns),
            ("rollback", report.rollback8_ns),
            ("naive save", report.naive_save_ns),
            ("naive load", report.naive_load_ns),
        ] {
            assert!(ns > 0, "{name} was not measured: {report:?}");
        }
        assert!(report.rollback8_max_ns >= report.rollback8_ns);
        assert_eq!(report.goals().len(), 5);
    }
}
