//! Plans from reports built out of a known truth: random matches where a seat may leave, each
//! survivor holding a different part of what happened. Every random test takes a seed and
//! prints it when it fails.

use super::*;

type Input = u8;

/// What really happened: every seat's inputs of every frame (the leaver's end at `last`).
struct Truth {
    players: usize,
    inputs: Vec<Vec<Input>>,
}

impl Truth {
    fn new(rng: &mut oorandom::Rand64, players: usize, frames: u32) -> Truth {
        Truth {
            players,
            inputs: (0..frames)
                .map(|_| (0..players).map(|_| rng.rand_range(1..200) as u8).collect())
                .collect(),
        }
    }

    fn hash(frame: u32) -> [u8; 32] {
        blake3::hash(&frame.to_le_bytes()).into()
    }
}

/// A survivor's report: it confirmed (holds the states of) frames `oldest..=confirmed`, knows
/// every seat's inputs before `confirmed`, and some seats' further: up to (not including)
/// `known_until[seat]`.
fn report(
    truth: &Truth,
    seat: usize,
    oldest: u32,
    confirmed: u32,
    known_until: &[u32],
) -> Report<Input> {
    let last = known_until
        .iter()
        .copied()
        .max()
        .unwrap_or(confirmed)
        .max(confirmed);
    Report {
        seat,
        states: (oldest..=confirmed).map(|f| (f, Truth::hash(f))).collect(),
        inputs: (oldest..last)
            .map(|frame| {
                let seats = (0..truth.players)
                    .map(|s| {
                        (frame < confirmed || frame < known_until[s])
                            .then(|| truth.inputs[frame as usize][s])
                    })
                    .collect();
                (frame, seats)
            })
            .collect(),
    }
}

#[test]
fn random_departures_give_one_plan_true_to_what_happened() {
    for seed in 0..2_000u64 {
        let mut rng = oorandom::Rand64::new(u128::from(seed));
        let players = 2 + rng.rand_range(0..3) as usize;
        let truth = Truth::new(&mut rng, players, 400);
        let leaver = (rng.rand_range(0..3) > 0).then(|| rng.rand_range(0..players as u64) as usize);
        let leaving: BTreeSet<usize> = leaver.into_iter().collect();
        // The leaver's last input anyone could have: frame `last - 1`.
        let last = 200 + rng.rand_range(0..20) as u32;
        // What reached each survivor: the leaver's inputs up to some point before `last`,
        // the others' up to around their frame (itself up to its own frame plus delay).
        // Confirmed: every seat's input known before it. Every survivor keeps its states back
        // to a little before the oldest confirmed frame among them.
        let known: Vec<(usize, Vec<u32>, u32)> = (0..players)
            .filter(|s| Some(*s) != leaver)
            .map(|seat| {
                let frame = 200 + rng.rand_range(0..16) as u32;
                let known_until: Vec<u32> = (0..players)
                    .map(|s| match leaver {
                        Some(l) if s == l => last - rng.rand_range(0..4) as u32,
                        _ if s == seat => frame + 2,
                        _ => frame - rng.rand_range(0..6) as u32,
                    })
                    .collect();
                let confirmed = known_until.iter().copied().min().expect("seats").min(frame);
                (seat, known_until, confirmed)
            })
            .collect();
        let oldest_confirmed = known.iter().map(|k| k.2).min().expect("survivors");
        let reports: Vec<Report<Input>> = known
            .iter()
            .map(|(seat, known_until, confirmed)| {
                let oldest = oldest_confirmed.saturating_sub(rng.rand_range(0..8) as u32);
                report(&truth, *seat, oldest, *confirmed, known_until)
            })
            .collect();
        let plan = plan(players, &reports, &leaving)
            .unwrap_or_else(|err| panic!("seed {seed}: {err}: {reports:?}"));
        // The same plan whatever the order the reports came in.
        let mut shuffled = reports.clone();
        shuffled.reverse();
        assert_eq!(
            super::plan(players, &shuffled, &leaving).as_ref(),
            Ok(&plan),
            "seed {seed}"
        );
        // The base is held by everyone; the cut is past every confirmed frame.
        for r in &reports {
            assert_eq!(
                r.states.get(&plan.base),
                Some(&plan.base_hash),
                "seed {seed}"
            );
            assert!(
                plan.cut >= *r.states.keys().last().expect("states"),
                "seed {seed}"
            );
        }
        assert_eq!(
            plan.inputs.len() as u32,
            plan.cut - plan.base,
            "seed {seed}"
        );
        for (i, inputs) in plan.inputs.iter().enumerate() {
            let frame = plan.base + i as u32;
            assert_eq!(inputs.len(), players, "seed {seed}");
            for (seat, &input) in inputs.iter().enumerate() {
                let idle = plan.departures.get(&seat).is_some_and(|&d| frame >= d);
                let expected = if idle {
                    0
                } else {
                    truth.inputs[frame as usize][seat]
                };
                assert_eq!(input, expected, "seed {seed}: frame {frame} seat {seat}");
            }
        }
        if let Some(leaver) = leaver {
            // Every input of the leaver that reached anyone counts, up to the cut.
            let reached = reports
                .iter()
                .flat_map(|r| r.inputs.iter())
                .filter(|(_, seats)| seats[leaver].is_some())
                .map(|(frame, _)| frame + 1)
                .max()
                .unwrap_or(0);
            assert_eq!(
                plan.departures[&leaver],
                reached.min(plan.cut).max(plan.base),
                "seed {seed}"
            );
        }
    }
}

#[test]
fn the_base_is_the_newest_state_everyone_agrees_on() {
    let mut rng = oorandom::Rand64::new(5);
    let truth = Truth::new(&mut rng, 3, 100);
    let all = [50u32; 3];
    let mut reports: Vec<Report<Input>> = (0..3).map(|s| report(&truth, s, 30, 50, &all)).collect();
    // Seat 2's states from frame 45 on hash otherwise (it desynced there).
    for (frame, hash) in reports[2].states.range_mut(45..) {
        *hash = blake3::hash(&[*frame as u8, 1]).into();
    }
    let plan = plan(3, &reports, &BTreeSet::new()).expect("a plan");
    assert_eq!(plan.base, 44);
    assert_eq!(plan.cut, 50);
    // Nobody agrees on anything: no plan.
    for (frame, hash) in reports[2].states.iter_mut() {
        *hash = blake3::hash(&[*frame as u8, 2]).into();
    }
    assert_eq!(
        super::plan(3, &reports, &BTreeSet::new()),
        Err(PlanError::NoCommonBase)
    );
}

#[test]
fn conflicting_inputs_are_named() {
    let mut rng = oorandom::Rand64::new(6);
    let truth = Truth::new(&mut rng, 3, 100);
    let reports_of = |truth: &Truth| -> Vec<Report<Input>> {
        (0..2)
            .map(|s| report(truth, s, 30, 40, &[48, 48, 44]))
            .collect()
    };
    let mut reports = reports_of(&truth);
    // Seat 1 claims seat 2 played something else at frame 42, which seat 0 also received.
    let forged = reports[1].inputs.get_mut(&42).expect("frame 42");
    forged[2] = forged[2].map(|i| i.wrapping_add(1));
    let leaving = BTreeSet::from([2]);
    assert_eq!(
        plan(3, &reports, &leaving),
        Err(PlanError::Conflict {
            frame: 42,
            seat: 2,
            first: 0,
            second: 1
        })
    );
    // What only one survivor received counts as it says: a member can put words in a
    // leaver's mouth for frames nobody else heard (SECURITY.md says so).
    let mut reports = reports_of(&truth);
    for seats in reports[0].inputs.values_mut() {
        seats[2] = None;
    }
    let plan = plan(3, &reports, &leaving).expect("a plan");
    assert_eq!(plan.departures[&2], 44);
}

#[test]
fn malformed_and_incomplete_reports_are_refused() {
    let mut rng = oorandom::Rand64::new(7);
    let truth = Truth::new(&mut rng, 2, 100);
    let good = |s| report(&truth, s, 30, 40, &[42, 42]);
    let none = BTreeSet::new();
    assert_eq!(plan::<Input>(2, &[], &none), Err(PlanError::NoReports));
    assert!(matches!(
        plan(2, &[good(0), good(0)], &none),
        Err(PlanError::Malformed { seat: 0, .. })
    ));
    assert!(matches!(
        plan(2, &[good(0), good(5)], &none),
        Err(PlanError::Malformed { seat: 5, .. })
    ));
    assert!(matches!(
        plan(2, &[good(0), good(1)], &BTreeSet::from([1])),
        Err(PlanError::Malformed { seat: 1, .. })
    ));
    let mut short = good(1);
    short.inputs.get_mut(&35).expect("frame").pop();
    assert!(matches!(
        plan(2, &[good(0), short], &none),
        Err(PlanError::Malformed { seat: 1, .. })
    ));
    // Seat 0 confirmed frame 45 (so it had every input before it) but reports none of its
    // inputs from 40 on; seat 1 confirmed 40 and knows inputs up to 41.
    let mut lacking = report(&truth, 0, 30, 45, &[46, 46]);
    lacking.inputs.retain(|&frame, _| frame < 40);
    let behind = report(&truth, 1, 30, 40, &[42, 42]);
    assert_eq!(
        plan(2, &[lacking, behind], &none),
        Err(PlanError::Incomplete {
            seat: 0,
            confirmed: 45,
            cut: 42
        })
    );
}

#[test]
fn a_plan_is_bounded() {
    let mut rng = oorandom::Rand64::new(8);
    let truth = Truth::new(&mut rng, 2, 1_000);
    // Inputs known 300 frames past the base: the plan stops at PLAN_FRAMES_MAX.
    let reports: Vec<_> = (0..2)
        .map(|s| report(&truth, s, 100, 100, &[400, 400]))
        .collect();
    let plan = plan(2, &reports, &BTreeSet::new()).expect("a plan");
    assert_eq!(plan.cut - plan.base, PLAN_FRAMES_MAX);
}
