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
        let survivors: Vec<usize> = (0..players).filter(|s| Some(*s) != leaver).collect();
        let frames: BTreeMap<usize, u32> = survivors
            .iter()
            .map(|&s| (s, 200 + rng.rand_range(0..16) as u32))
            .collect();
        let mut views: BTreeMap<usize, Vec<u32>> = survivors
            .iter()
            .map(|&seat| {
                let view = (0..players)
                    .map(|s| match leaver {
                        Some(l) if s == l => last - rng.rand_range(0..4) as u32,
                        _ if s == seat => frames[&seat] + 2,
                        _ => frames[&seat] - rng.rand_range(0..6) as u32,
                    })
                    .collect();
                (seat, view)
            })
            .collect();
        // A player has its own inputs at least as far as anyone else does (it made them).
        for &seat in &survivors {
            let furthest = views.values().map(|v| v[seat]).max().expect("views");
            views.get_mut(&seat).expect("view")[seat] = furthest;
        }
        // Confirmed: every seat's input known before it.
        let known: Vec<(usize, Vec<u32>, u32)> = views
            .into_iter()
            .map(|(seat, view)| {
                let confirmed = view
                    .iter()
                    .copied()
                    .min()
                    .expect("seats")
                    .min(frames[&seat]);
                (seat, view, confirmed)
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
            cut: 40
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

/// A match of players running the agreement over a lossy, reordering wire in virtual time.
struct Table {
    rng: oorandom::Rand64,
    loss: u64,
    members: Vec<Member>,
    /// (arrival ms, order) -> (to, from, message)
    flight: BTreeMap<(u64, u64), (usize, usize, Message<Input>)>,
    order: u64,
    now_ms: u64,
    truth: Truth,
}

struct Member {
    agreement: Agreement<Input>,
    /// Gone: hears and says nothing from `gone_at` ms on.
    gone_at: Option<u64>,
    /// Still heard (its GGRS traffic flows), but its agreement messages are lost both ways.
    mute: bool,
    /// The side of a partition it is on: messages and hearing cross no sides.
    side: u8,
    /// Its replays reach another state (the minority of a desync): this one.
    desynced: Option<u8>,
    frozen_at: Option<u64>,
    started: Vec<Next>,
    stuck: Vec<Stuck>,
    /// The hash its last replay reached.
    reached: Option<[u8; 32]>,
}

fn replay_hash(plan: &Plan<Input>, desynced: Option<u8>) -> [u8; 32] {
    let mut hasher = blake3::Hasher::new();
    hasher.update(&plan.base_hash);
    for inputs in &plan.inputs {
        hasher.update(inputs);
    }
    hasher.update(&plan.cut.to_le_bytes());
    if let Some(how) = desynced {
        hasher.update(&[how]);
    }
    hasher.finalize().into()
}

impl Table {
    fn new(seed: u64, players: usize, loss: u64) -> Table {
        let mut rng = oorandom::Rand64::new(u128::from(seed));
        let truth = Truth::new(&mut rng, players, 200);
        Table {
            rng,
            loss,
            members: (0..players)
                .map(|seat| Member {
                    agreement: Agreement::new(seat, players),
                    gone_at: None,
                    mute: false,
                    side: 0,
                    desynced: None,
                    frozen_at: None,
                    started: Vec::new(),
                    stuck: Vec::new(),
                    reached: None,
                })
                .collect(),
            flight: BTreeMap::new(),
            order: 0,
            now_ms: 0,
            truth,
        }
    }

    fn alive(&self, seat: usize) -> bool {
        self.members[seat].gone_at.is_none_or(|at| self.now_ms < at)
    }

    /// Whether `seat` hears `other` (its GGRS traffic, as the session would tell).
    fn heard(&self, seat: usize, other: usize) -> bool {
        self.alive(other) && self.members[seat].side == self.members[other].side
    }

    /// Whether an agreement message from `from` reaches `to`.
    fn reaches(&self, from: usize, to: usize) -> bool {
        self.alive(to) && self.heard(to, from) && !self.members[to].mute && !self.members[from].mute
    }

    /// What a player holds when frozen: states 90..=100, every input before 100, and every
    /// live seat's inputs to 104 (a leaver's only to 102, and only seat 1 heard 102).
    fn report_of(&self, seat: usize, leaving: &BTreeSet<usize>) -> Report<Input> {
        let known: Vec<u32> = (0..self.truth.players)
            .map(|s| match (leaving.contains(&s), seat) {
                (true, 1) => 103,
                (true, _) => 102,
                (false, _) => 104,
            })
            .collect();
        report(&self.truth, seat, 90, 100, &known)
    }

    fn act(&mut self, seat: usize, actions: Vec<Action<Input>>) {
        let now = Duration::from_millis(self.now_ms);
        for action in actions {
            match action {
                Action::Send(to, message) => {
                    if self.rng.rand_range(0..100) < self.loss {
                        continue;
                    }
                    let at = self.now_ms + 1 + self.rng.rand_range(0..20);
                    self.order += 1;
                    self.flight.insert((at, self.order), (to, seat, message));
                }
                Action::Freeze(_) => {
                    self.members[seat].frozen_at.get_or_insert(self.now_ms);
                    let leaving: BTreeSet<usize> = (0..self.truth.players)
                        .filter(|&s| self.members[s].gone_at.is_some())
                        .collect();
                    let report = self.report_of(seat, &leaving);
                    self.members[seat].agreement.reported(report, now);
                }
                Action::Replay(plan) => {
                    let hash = replay_hash(&plan, self.members[seat].desynced);
                    self.members[seat].reached = Some(hash);
                    self.members[seat].agreement.replayed(Some(hash), now);
                }
                Action::Start(next) => self.members[seat].started.push(next),
                Action::Stuck(err) => self.members[seat].stuck.push(err),
            }
        }
    }

    /// Runs until `done` holds or `limit_ms` more pass (then panics with `what`).
    fn run(&mut self, limit_ms: u64, what: &str, done: impl Fn(&Table) -> bool) {
        let deadline = self.now_ms + limit_ms;
        while !done(self) {
            if self.now_ms >= deadline {
                for (seat, m) in self.members.iter().enumerate() {
                    eprintln!(
                        "seat {seat}: epoch {} phase {:?} seen {:?} wanted {:?} started {:?} stuck {:?}",
                        m.agreement.epoch,
                        m.agreement.phase,
                        m.agreement.seen,
                        m.agreement.wanted,
                        m.started.iter().map(|n| n.epoch).collect::<Vec<_>>(),
                        m.stuck,
                    );
                }
                panic!("{what}: not done within {limit_ms} ms");
            }
            self.now_ms += 5;
            let now = Duration::from_millis(self.now_ms);
            while let Some(entry) = self.flight.first_entry() {
                if entry.key().0 > self.now_ms {
                    break;
                }
                let (to, from, message) = entry.remove();
                if self.reaches(from, to) {
                    if std::env::var_os("EPOCH_DEBUG").is_some() && to == 2 {
                        eprintln!("{} ms: to 2 from {from}: {message:?}", self.now_ms);
                    }
                    self.members[to].agreement.handle(from, message, now);
                }
            }
            for seat in 0..self.members.len() {
                if self.alive(seat) {
                    for other in (0..self.members.len()).filter(|&o| o != seat) {
                        let heard = self.heard(seat, other);
                        self.members[seat].agreement.hears(other, heard);
                    }
                    let actions = self.members[seat].agreement.poll(now);
                    self.act(seat, actions);
                }
            }
        }
    }

    fn propose(&mut self, seat: usize, reason: Reason) {
        let now = Duration::from_millis(self.now_ms);
        self.members[seat].agreement.propose(reason, now);
    }

    /// Every player still there started epoch `epoch`, all with the same next epoch.
    fn all_started(&self, epoch: u32) -> bool {
        (0..self.members.len())
            .filter(|&s| self.alive(s))
            .all(|s| self.members[s].started.iter().any(|n| n.epoch == epoch))
    }

    fn the_next(&self, epoch: u32, seed: u64) -> Next {
        // Every player that started this epoch, gone since or not, started the same one.
        let nexts: Vec<&Next> = self
            .members
            .iter()
            .flat_map(|m| m.started.iter().filter(|n| n.epoch == epoch))
            .collect();
        assert!(!nexts.is_empty(), "seed {seed}");
        assert!(
            nexts.iter().all(|n| *n == nexts[0]),
            "seed {seed}: players started different epochs: {nexts:?}"
        );
        nexts[0].clone()
    }
}

#[test]
fn survivors_agree_on_a_departure_through_loss() {
    for seed in 0..300u64 {
        let players = 3 + (seed % 2) as usize;
        let mut table = Table::new(seed, players, 25);
        let leaver = (seed as usize / 2) % players;
        table.members[leaver].gone_at = Some(0);
        // Every survivor notices, at slightly different times.
        for seat in (0..players).filter(|&s| s != leaver) {
            table.run(10_000, "notice", |_| true);
            table.propose(seat, Reason::Leave(leaver));
            table.now_ms += table.rng.rand_range(0..50);
        }
        table.run(20_000, &format!("seed {seed}"), |t| t.all_started(1));
        let next = table.the_next(1, seed);
        let expected: BTreeSet<usize> = (0..players).filter(|&s| s != leaver).collect();
        assert_eq!(next.live, expected, "seed {seed}");
        assert_eq!(next.cut, 104, "seed {seed}");
        assert_eq!(next.holders, expected, "seed {seed}");
        for seat in expected {
            let member = &table.members[seat];
            assert_eq!(
                member.started.len(),
                1,
                "seed {seed}: seat {seat} started twice"
            );
            assert_eq!(member.reached, Some(next.hash), "seed {seed}");
            assert!(member.stuck.is_empty(), "seed {seed}: {:?}", member.stuck);
            assert!(!member.agreement.frozen(), "seed {seed}");
        }
    }
}

#[test]
fn the_leader_leaving_mid_transition_is_survived() {
    for seed in 0..100u64 {
        let mut table = Table::new(seed, 4, 10);
        table.members[3].gone_at = Some(0);
        table.propose(0, Reason::Leave(3));
        // Seat 0 leads, and vanishes once the others froze.
        table.run(5_000, "freeze", |t| {
            t.members[1].frozen_at.is_some() && t.members[2].frozen_at.is_some()
        });
        table.members[0].gone_at = Some(table.now_ms);
        table.run(20_000, &format!("seed {seed}"), |t| t.all_started(1));
        let next = table.the_next(1, seed);
        assert_eq!(next.live, BTreeSet::from([1, 2]), "seed {seed}");
        assert!(next.reasons.contains(&Reason::Leave(0)), "seed {seed}");
        assert!(next.reasons.contains(&Reason::Leave(3)), "seed {seed}");
    }
}

#[test]
fn a_resync_names_the_holders_of_the_majority_state() {
    for seed in 0..50u64 {
        let mut table = Table::new(seed, 4, 20);
        table.members[2].desynced = Some(1);
        table.propose(1, Reason::Resync(2));
        table.run(20_000, &format!("seed {seed}"), |t| t.all_started(1));
        let next = table.the_next(1, seed);
        assert_eq!(next.live, BTreeSet::from([0, 1, 2, 3]), "seed {seed}");
        assert_eq!(next.holders, BTreeSet::from([0, 1, 3]), "seed {seed}");
        // The minority's own replay is not the state: it fetches it.
        assert_ne!(table.members[2].reached, Some(next.hash), "seed {seed}");
        assert_eq!(table.members[0].reached, Some(next.hash), "seed {seed}");
    }
}

#[test]
fn with_two_players_the_leaders_state_stands() {
    let mut table = Table::new(1, 2, 0);
    table.members[1].desynced = Some(1);
    table.propose(1, Reason::Resync(1));
    table.run(5_000, "two players", |t| t.all_started(1));
    let next = table.the_next(1, 1);
    assert_eq!(next.holders, BTreeSet::from([0]));
    assert_eq!(table.members[0].reached, Some(next.hash));
}

#[test]
fn three_different_states_are_stuck_not_decided() {
    // No two of three replays agree: no state wins alone, not even the leader's.
    let mut table = Table::new(2, 3, 0);
    table.members[1].desynced = Some(1);
    table.members[2].desynced = Some(2);
    table.propose(0, Reason::Resync(1));
    table.run(5_000, "three players", |t| !t.members[0].stuck.is_empty());
    assert!(table.members.iter().all(|m| m.started.is_empty()));
    // Two of three agree: they are the majority, and the leader's own state loses.
    let mut table = Table::new(2, 3, 0);
    table.members[0].desynced = Some(1);
    table.propose(0, Reason::Resync(0));
    table.run(5_000, "two of three", |t| t.all_started(1));
    assert_eq!(table.the_next(1, 2).holders, BTreeSet::from([1, 2]));
}

#[test]
fn a_forged_report_gets_the_transition_stuck() {
    let mut table = Table::new(3, 3, 0);
    table.members[2].gone_at = Some(0);
    table.propose(0, Reason::Leave(2));
    // Seat 1 reports another input for seat 0 than seat 0 itself does.
    table.run(5_000, "freeze", |t| t.members[1].frozen_at.is_some());
    let now = Duration::from_millis(table.now_ms);
    let mut forged = table.report_of(1, &BTreeSet::from([2]));
    if let Some(seats) = forged.inputs.get_mut(&101) {
        seats[0] = seats[0].map(|i| i.wrapping_add(1));
    }
    let ballot = table.members[0].agreement.seen;
    table.members[0].agreement.handle(
        1,
        Message::Report {
            ballot,
            report: forged,
        },
        now,
    );
    table.run(5_000, "stuck", |t| !t.members[0].stuck.is_empty());
    assert!(matches!(
        table.members[0].stuck[0],
        Stuck::Plan(PlanError::Conflict {
            frame: 101,
            seat: 0,
            ..
        })
    ));
    // The follower hears that the attempt failed: it is not left frozen, and does not take
    // the leader for gone.
    let until = table.now_ms + 5_000;
    table.run(6_000, "after", |t| t.now_ms >= until);
    assert_eq!(table.members[1].stuck, vec![Stuck::Aborted]);
    for member in &table.members[..2] {
        assert!(!member.agreement.frozen());
        assert!(member.started.is_empty());
        assert_eq!(member.stuck.len(), 1);
    }
}

#[test]
fn a_rejoining_player_and_a_late_spectator_are_let_in() {
    for seed in 0..50u64 {
        let mut table = Table::new(seed, 3, 20);
        table.members[2].gone_at = Some(0);
        table.propose(0, Reason::Leave(2));
        table.propose(1, Reason::Leave(2));
        table.run(20_000, &format!("seed {seed}: leave"), |t| t.all_started(1));
        assert_eq!(table.the_next(1, seed).live, BTreeSet::from([0, 1]));
        // Seat 2 comes back; the host let it in and told it the epoch.
        table.members[2].gone_at = None;
        let live = table.members[0].agreement.live().clone();
        table.members[2].agreement = Agreement::joining(2, 3, 1, live);
        table.propose(0, Reason::Rejoin(2));
        table.propose(0, Reason::Spectate(7));
        table.run(20_000, &format!("seed {seed}: rejoin"), |t| {
            t.all_started(2)
        });
        let next = table.the_next(2, seed);
        assert_eq!(next.live, BTreeSet::from([0, 1, 2]), "seed {seed}");
        // The rejoiner did not replay: it fetches the state from a holder.
        assert!(!next.holders.contains(&2), "seed {seed}");
        // The spectator came while the rejoin was under way: the next transition is its.
        table.run(20_000, &format!("seed {seed}: spectator"), |t| {
            t.all_started(3)
        });
        let next = table.the_next(3, seed);
        assert_eq!(next.reasons, vec![Reason::Spectate(7)], "seed {seed}");
        assert_eq!(next.holders, BTreeSet::from([0, 1, 2]), "seed {seed}");
        // Reasons that no longer apply start nothing.
        table.propose(1, Reason::Rejoin(2));
        table.propose(1, Reason::Leave(9));
        let until = table.now_ms + 2_000;
        table.run(3_000, "nothing", |t| t.now_ms >= until);
        assert!(
            table.members.iter().all(|m| m.started.len() <= 3),
            "seed {seed}"
        );
    }
}

#[test]
fn a_silent_player_never_costs_the_leader_its_place() {
    // A transition for a spectator while seat 3 is silently gone: the leader goes on without
    // seat 3 after its wait, and nobody takes the leader for gone (it speaks to every player
    // in the attempt every RESEND).
    for seed in 0..200u64 {
        let mut table = Table::new(seed, 4, 0);
        table.members[3].gone_at = Some(0);
        table.propose(0, Reason::Spectate(1));
        table.run(20_000, &format!("seed {seed}"), |t| t.all_started(1));
        let next = table.the_next(1, seed);
        assert_eq!(next.live, BTreeSet::from([0, 1, 2]), "seed {seed}");
        let until = table.now_ms + 5_000;
        table.run(6_000, "after", |t| t.now_ms >= until);
        for member in &table.members[..3] {
            assert_eq!(member.started.len(), 1, "seed {seed}");
            assert!(!member.agreement.frozen(), "seed {seed}");
        }
    }
}

#[test]
fn a_player_that_is_heard_is_never_counted_out() {
    // Seat 2 plays on (the others hear it) but never answers the agreement: the leader wants
    // to count it out, seat 1 refuses since it still hears it, and the attempt is given up
    // after ATTEMPT_MAX. Nobody starts an epoch without seat 2, and nobody is left frozen.
    let mut table = Table::new(9, 3, 0);
    table.members[2].mute = true;
    table.propose(0, Reason::Spectate(1));
    table.run(15_000, "given up", |t| !t.members[0].stuck.is_empty());
    assert_eq!(table.members[0].stuck, vec![Stuck::TooLong]);
    let until = table.now_ms + 5_000;
    table.run(6_000, "after", |t| t.now_ms >= until);
    assert_eq!(table.members[1].stuck, vec![Stuck::Aborted]);
    for member in &table.members {
        assert!(member.started.is_empty());
        assert!(!member.agreement.frozen());
    }
}

#[test]
fn both_sides_of_a_partition_go_on_each_agreed_within() {
    for seed in 0..50u64 {
        let mut table = Table::new(seed, 4, 10);
        table.members[2].side = 1;
        table.members[3].side = 1;
        for (seat, gone) in [(0, 2), (1, 3), (2, 0), (3, 1)] {
            table.propose(seat, Reason::Leave(gone));
        }
        table.run(20_000, &format!("seed {seed}"), |t| {
            t.members.iter().all(|m| !m.started.is_empty())
        });
        for (a, b) in [(0, 1), (2, 3)] {
            let (na, nb) = (&table.members[a].started, &table.members[b].started);
            assert_eq!(na, nb, "seed {seed}: one side, two epochs");
            assert_eq!(na.len(), 1, "seed {seed}");
            assert_eq!(na[0].live, BTreeSet::from([a, b]), "seed {seed}");
        }
    }
}

#[test]
fn only_the_entitled_leader_is_followed() {
    let mut table = Table::new(4, 3, 0);
    let now = Duration::ZERO;
    let next = Next {
        epoch: 1,
        cut: 5,
        hash: [7; 32],
        holders: BTreeSet::from([2]),
        live: BTreeSet::from([1, 2]),
        reasons: vec![Reason::Leave(0)],
    };
    let ballot = Ballot {
        round: 99,
        leader: 2,
    };
    let member = &mut table.members[1].agreement;
    // Seat 2 is not the lowest seat playing: neither its freeze nor its start counts.
    member.handle(
        2,
        Message::Freeze {
            ballot,
            epoch: 0,
            reasons: vec![Reason::Leave(0)],
            leaving: BTreeSet::from([0]),
        },
        now,
    );
    member.handle(
        2,
        Message::Start {
            ballot,
            next: next.clone(),
        },
        now,
    );
    let actions = member.poll(now);
    assert!(!member.frozen(), "{actions:?}");
    assert!(actions
        .iter()
        .all(|a| !matches!(a, Action::Start(_) | Action::Freeze(_))));
    // A huge round from the rightful leader is followed, and leading after it cannot wrap.
    let huge = Ballot {
        round: u32::MAX,
        leader: 0,
    };
    member.hears(2, false);
    member.handle(
        0,
        Message::Freeze {
            ballot: huge,
            epoch: 0,
            reasons: vec![Reason::Leave(2)],
            leaving: BTreeSet::from([2]),
        },
        now,
    );
    assert!(member.frozen());
    // The leader falls silent: seat 1 would lead next, and the round cannot go higher.
    member.hears(0, false);
    let later = member.poll(LEADER_TIMEOUT);
    assert!(later.contains(&Action::Stuck(Stuck::NoQuorum)), "{later:?}");
    // Asks for what only an admitter may propose, from anyone, start nothing.
    let mut host = Agreement::<Input>::new(0, 3);
    for reason in [Reason::Spectate(3), Reason::Rejoin(1), Reason::Leave(7)] {
        host.handle(1, Message::Ask { epoch: 0, reason }, now);
    }
    assert!(!host.frozen());
    assert!(host.poll(now).is_empty());
}

fn every_message() -> Vec<Message<sim::Input>> {
    let mut rng = oorandom::Rand64::new(21);
    let input = |rng: &mut oorandom::Rand64| sim::Input {
        action: rng.rand_range(0..8) as u8,
        arg: rng.rand_range(0..4) as u8,
        x: rng.rand_range(0..16) as u8,
        y: rng.rand_range(0..16) as u8,
    };
    let ballot = Ballot {
        round: 3,
        leader: 1,
    };
    // The largest report a player makes: 32 states, PLAN_FRAMES_MAX frames of 4 seats.
    let report = Report {
        seat: 1,
        states: (0..32u32).map(|f| (1_000 + f, [f as u8; 32])).collect(),
        inputs: (0..PLAN_FRAMES_MAX)
            .map(|f| (1_000 + f, (0..4).map(|_| Some(input(&mut rng))).collect()))
            .collect(),
    };
    let plan = Plan {
        base: 1_000,
        base_hash: [9; 32],
        inputs: (0..PLAN_FRAMES_MAX)
            .map(|_| (0..4).map(|_| input(&mut rng)).collect())
            .collect(),
        cut: 1_000 + PLAN_FRAMES_MAX,
        departures: BTreeMap::from([(3, 1_050)]),
    };
    vec![
        Message::Ask {
            epoch: 2,
            reason: Reason::Leave(3),
        },
        Message::Freeze {
            ballot,
            epoch: 2,
            reasons: vec![Reason::Leave(3), Reason::Spectate(9)],
            leaving: BTreeSet::from([3]),
        },
        Message::Nack {
            ballot,
            seen: ballot,
        },
        Message::Report { ballot, report },
        Message::Commit { ballot, plan },
        Message::Done {
            ballot,
            hash: Some([4; 32]),
        },
        Message::Abort { ballot },
        Message::Start {
            ballot,
            next: Next {
                epoch: 3,
                cut: 1_128,
                hash: [5; 32],
                holders: BTreeSet::from([0, 1]),
                live: BTreeSet::from([0, 1, 2]),
                reasons: vec![Reason::Rejoin(2)],
            },
        },
        Message::Started { ballot },
    ]
}

#[test]
fn every_message_crosses_the_wire_in_fragments() {
    let mut rng = oorandom::Rand64::new(22);
    let mut assembler = Assembler::<u8>::new();
    for (id, message) in every_message().into_iter().enumerate() {
        let encoded = crate::codec::encode_epoch(&message).expect("fits");
        let mut pieces = fragments(id as u16, &encoded);
        assert!(!pieces.is_empty() && pieces.iter().all(|p| p.len() <= 5 + FRAGMENT_LEN));
        // Out of order, one of them twice.
        let again = pieces[0].clone();
        pieces.push(again);
        for i in (1..pieces.len()).rev() {
            pieces.swap(i, rng.rand_range(0..i as u64 + 1) as usize);
        }
        // A whole message at least once (a duplicate of a one-fragment message is that
        // message again, which the agreement takes as a resend).
        let whole: Vec<Vec<u8>> = pieces.iter().filter_map(|p| assembler.take(7, p)).collect();
        assert!(!whole.is_empty(), "{message:?}");
        for bytes in &whole {
            let decoded: Message<sim::Input> = crate::codec::decode_epoch(bytes).expect("decodes");
            assert_eq!(decoded, message);
        }
    }
}

#[test]
fn hostile_fragments_are_dropped_and_bounded() {
    let mut assembler = Assembler::<u8>::new();
    let piece = vec![0u8; FRAGMENT_LEN];
    let fragment = |id: u16, index: u8, count: u8, bytes: &[u8]| {
        let mut f = vec![FRAGMENT_TAG];
        f.extend_from_slice(&id.to_le_bytes());
        f.extend_from_slice(&[index, count]);
        f.extend_from_slice(bytes);
        f
    };
    for bad in [
        vec![],
        vec![0x99, 0, 0, 0, 1],
        fragment(1, 0, 0, &[]),
        fragment(1, 3, 2, &[]),
        fragment(1, 0, FRAGMENTS_MAX + 1, &piece),
        fragment(1, 0, 2, &[1, 2, 3]),
        fragment(1, 0, 1, &vec![0; FRAGMENT_LEN + 1]),
    ] {
        assert_eq!(assembler.take(1, &bad), None);
    }
    assert_eq!(assembler.dropped, 7);
    // Many messages begun and never finished: two per sender are kept.
    for id in 0..1_000u16 {
        assert_eq!(assembler.take(1, &fragment(id, 0, 16, &piece)), None);
    }
    assert!(assembler.under_way.len() <= ASSEMBLING_PER_SENDER);
    // A fragment that disagrees with its message's count.
    assembler.take(2, &fragment(5, 0, 3, &piece));
    let before = assembler.dropped;
    assert_eq!(assembler.take(2, &fragment(5, 1, 4, &piece)), None);
    assert_eq!(assembler.dropped, before + 1);
    // Random bytes never panic the decoder.
    let mut rng = oorandom::Rand64::new(23);
    for _ in 0..20_000 {
        let len = rng.rand_range(0..300) as usize;
        let bytes: Vec<u8> = (0..len).map(|_| rng.rand_u64() as u8).collect();
        let _ = crate::codec::decode_epoch::<sim::Input>(&bytes);
    }
    // Every cut of a real message is refused, never half-read.
    let encoded = crate::codec::encode_epoch(&every_message()[4]).expect("fits");
    for cut in (0..encoded.len()).step_by(7) {
        assert!(crate::codec::decode_epoch::<sim::Input>(&encoded[..cut]).is_err());
    }
}
