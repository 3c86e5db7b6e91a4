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
use std::time::Duration;

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

/// Why a transition is wanted.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Reason {
    /// The player in this seat left (said goodbye, or fell silent).
    Leave(usize),
    /// The player of this seat, gone earlier, is back.
    Rejoin(usize),
    /// A verdict: this seat's state is not the majority's.
    Resync(usize),
    /// A spectator, by the number the host gave it, wants to watch.
    Spectate(u32),
}

/// One attempt at a transition, led by one player: later attempts have higher rounds, and a
/// player follows only the highest it has seen.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord)]
pub struct Ballot {
    /// Attempts so far in this match.
    pub round: u32,
    /// The leading player's seat.
    pub leader: usize,
}

/// What the next epoch is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Next {
    /// Its number.
    pub epoch: u32,
    /// The frame it starts at.
    pub cut: u32,
    /// The hash of the state it starts from.
    pub hash: [u8; 32],
    /// The players whose own replay reached that state: whoever did not fetches it from
    /// one of them.
    pub holders: BTreeSet<usize>,
    /// The seats that play in it.
    pub live: BTreeSet<usize>,
    /// Why it started.
    pub reasons: Vec<Reason>,
}

/// What players say to each other about a transition.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Message<I> {
    /// To the leader: please start a transition.
    Ask {
        /// The epoch the asker plays in.
        epoch: u32,
        /// Why.
        reason: Reason,
    },
    /// From the leader: stop advancing and report.
    Freeze {
        /// The attempt.
        ballot: Ballot,
        /// The epoch played now.
        epoch: u32,
        /// Why.
        reasons: Vec<Reason>,
        /// The seats that do not go on.
        leaving: BTreeSet<usize>,
    },
    /// To the leader: what this player holds.
    Report {
        /// The attempt.
        ballot: Ballot,
        /// What it holds.
        report: Report<I>,
    },
    /// From the leader: the plan, to replay.
    Commit {
        /// The attempt.
        ballot: Ballot,
        /// What to replay.
        plan: Plan<I>,
    },
    /// To the leader: the hash this player's replay reached (None: it lacks the base state).
    Done {
        /// The attempt.
        ballot: Ballot,
        /// Its state of the cut's hash.
        hash: Option<[u8; 32]>,
    },
    /// From the leader: start the next epoch.
    Start {
        /// The attempt.
        ballot: Ballot,
        /// The epoch to start.
        next: Next,
    },
    /// To the leader: started.
    Started {
        /// The attempt.
        ballot: Ballot,
    },
}

/// What the agreement asks of the session that runs it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Action<I> {
    /// Send this to that seat (again and again until it is answered: the agreement resends,
    /// so the transport need not be reliable).
    Send(usize, Message<I>),
    /// Stop advancing (keep polling the network) and call [`Agreement::reported`].
    Freeze(Ballot),
    /// Load the base state, play the plan's inputs to its cut, and call
    /// [`Agreement::replayed`] with the hash reached (None without the base state).
    Replay(Plan<I>),
    /// Start the next epoch from the state of its cut: ours if our replay reached its hash,
    /// else fetched from one of its holders.
    Start(Next),
    /// No plan could be made; the match cannot heal this way.
    Stuck(PlanError),
}

/// How often an unanswered message is sent again.
pub const RESEND: Duration = Duration::from_millis(100);
/// How long a leader waits for every player's report or replay before it goes on without
/// the silent ones, and a follower waits for its leader before it presumes it gone.
pub const ANSWER_TIMEOUT: Duration = Duration::from_millis(1_500);

#[derive(Clone, Debug)]
enum Phase<I> {
    /// Playing an epoch (as leader, perhaps still waiting for `Started` from some).
    Playing,
    /// Following `ballot`: frozen, reported or not yet.
    Frozen {
        ballot: Ballot,
        report: Option<Report<I>>,
    },
    /// Following: replaying, then waiting for the start.
    Replaying {
        ballot: Ballot,
        hash: Option<Option<[u8; 32]>>,
    },
    /// Leading: gathering reports.
    Gathering {
        ballot: Ballot,
        reasons: Vec<Reason>,
        leaving: BTreeSet<usize>,
        reports: BTreeMap<usize, Report<I>>,
    },
    /// Leading: waiting for every replay's hash.
    Committing {
        ballot: Ballot,
        reasons: Vec<Reason>,
        leaving: BTreeSet<usize>,
        plan: Plan<I>,
        done: BTreeMap<usize, Option<[u8; 32]>>,
    },
}

/// One player's side of the agreement on transitions (see the module documentation): a
/// passive state machine, driven by [`Agreement::handle`], [`Agreement::propose`], the
/// session's answers ([`Agreement::reported`], [`Agreement::replayed`]) and
/// [`Agreement::poll`], which returns what to do.
pub struct Agreement<I> {
    me: usize,
    players: usize,
    live: BTreeSet<usize>,
    epoch: u32,
    /// The highest attempt seen.
    seen: Ballot,
    phase: Phase<I>,
    /// When the phase last made progress (a message from the leader, or one we waited for).
    since: Duration,
    last_sent: Option<Duration>,
    /// Reasons waiting for the next transition.
    wanted: BTreeSet<Reason>,
    /// As leader of the last start: the `Start`, who has not said it started, and when it
    /// was first sent (it is sent again, whatever the phase, for [`ANSWER_TIMEOUT`] twice).
    unacked: Option<(Message<I>, BTreeSet<usize>, Duration)>,
    actions: Vec<Action<I>>,
}

impl<I: Copy + PartialEq + Default + std::fmt::Debug> Agreement<I> {
    /// The agreement of the player in seat `me` of `players`, all playing epoch 0.
    pub fn new(me: usize, players: usize) -> Agreement<I> {
        Agreement {
            me,
            players,
            live: (0..players).collect(),
            epoch: 0,
            seen: Ballot::default(),
            phase: Phase::Playing,
            since: Duration::ZERO,
            last_sent: None,
            wanted: BTreeSet::new(),
            unacked: None,
            actions: Vec::new(),
        }
    }

    /// The agreement of a player in seat `me` that joins a match playing `epoch` with the
    /// seats `live` (a rejoining player, told so when it was let back in): it takes part from
    /// the start of the next epoch.
    pub fn joining(me: usize, players: usize, epoch: u32, live: BTreeSet<usize>) -> Agreement<I> {
        Agreement {
            epoch,
            live,
            ..Agreement::new(me, players)
        }
    }

    /// The epoch being played (or frozen).
    pub fn epoch(&self) -> u32 {
        self.epoch
    }

    /// The seats playing.
    pub fn live(&self) -> &BTreeSet<usize> {
        &self.live
    }

    /// Whether a transition is under way (the session must not advance).
    pub fn frozen(&self) -> bool {
        !matches!(self.phase, Phase::Playing)
    }

    /// Who leads a transition now: the lowest seat playing that is not leaving.
    fn leader(&self, leaving: &BTreeSet<usize>) -> Option<usize> {
        self.live.iter().copied().find(|s| !leaving.contains(s))
    }

    fn leaving_of(&self, reasons: &BTreeSet<Reason>) -> BTreeSet<usize> {
        reasons
            .iter()
            .filter_map(|r| match r {
                Reason::Leave(seat) if self.live.contains(seat) => Some(*seat),
                _ => None,
            })
            .collect()
    }

    /// Wants a transition for `reason` (this player noticed it): leads one, or asks the
    /// leader to.
    pub fn propose(&mut self, reason: Reason, now: Duration) {
        let applies = match reason {
            Reason::Leave(seat) | Reason::Resync(seat) => self.live.contains(&seat),
            Reason::Rejoin(seat) => seat < self.players && !self.live.contains(&seat),
            Reason::Spectate(_) => true,
        };
        if applies && self.wanted.insert(reason) && matches!(self.phase, Phase::Playing) {
            self.last_sent = None;
            self.poll_wanted(now);
        }
    }

    /// While playing: start a transition for what is wanted, or ask the leader.
    fn poll_wanted(&mut self, now: Duration) {
        if self.wanted.is_empty() {
            return;
        }
        let leaving = self.leaving_of(&self.wanted);
        let due = self
            .last_sent
            .is_none_or(|at| now.saturating_sub(at) >= RESEND);
        match self.leader(&leaving) {
            Some(leader) if leader == self.me => self.lead(now),
            Some(leader) if due => {
                self.last_sent = Some(now);
                for reason in &self.wanted {
                    self.actions.push(Action::Send(
                        leader,
                        Message::Ask {
                            epoch: self.epoch,
                            reason: *reason,
                        },
                    ));
                }
            }
            _ => {}
        }
    }

    /// Starts a new attempt led by this player, for everything wanted.
    fn lead(&mut self, now: Duration) {
        let ballot = Ballot {
            round: self.seen.round + 1,
            leader: self.me,
        };
        self.seen = ballot;
        let reasons: Vec<Reason> = self.wanted.iter().copied().collect();
        let leaving = self.leaving_of(&self.wanted);
        self.phase = Phase::Gathering {
            ballot,
            reasons,
            leaving,
            reports: BTreeMap::new(),
        };
        self.since = now;
        self.last_sent = None;
        self.actions.push(Action::Freeze(ballot));
        self.resend(now);
    }

    /// The seats that report in the current attempt, leader included.
    fn participants(&self, leaving: &BTreeSet<usize>) -> Vec<usize> {
        self.live
            .iter()
            .copied()
            .filter(|s| !leaving.contains(s))
            .collect()
    }

    /// Takes a message from the player in seat `from`.
    pub fn handle(&mut self, from: usize, message: Message<I>, now: Duration) {
        if from >= self.players || from == self.me {
            return;
        }
        match message {
            Message::Ask { epoch, reason } => {
                if epoch == self.epoch && self.live.contains(&from) {
                    self.propose(reason, now);
                }
            }
            Message::Freeze {
                ballot,
                epoch,
                reasons,
                ..
            } => {
                if ballot.leader != from || ballot < self.seen || epoch != self.epoch {
                    return;
                }
                if ballot == self.seen {
                    // Sent again: answer again what we answered.
                    if let Phase::Frozen {
                        report: Some(report),
                        ..
                    } = &self.phase
                    {
                        let report = report.clone();
                        self.actions
                            .push(Action::Send(from, Message::Report { ballot, report }));
                    }
                    if !matches!(self.phase, Phase::Playing) {
                        self.since = now;
                        return;
                    }
                }
                self.seen = ballot;
                self.wanted.extend(reasons);
                self.phase = Phase::Frozen {
                    ballot,
                    report: None,
                };
                self.since = now;
                self.actions.push(Action::Freeze(ballot));
            }
            Message::Report { ballot, report } => {
                if let Phase::Gathering {
                    ballot: mine,
                    reports,
                    leaving,
                    ..
                } = &mut self.phase
                {
                    // The first report of each counts: a player cannot change its story.
                    if ballot == *mine && report.seat == from && !leaving.contains(&from) {
                        reports.entry(from).or_insert(report);
                        self.gathered(now);
                    }
                }
            }
            Message::Commit { ballot, plan } => {
                if ballot.leader != from || ballot != self.seen {
                    return;
                }
                match &self.phase {
                    Phase::Frozen { .. } => {
                        self.phase = Phase::Replaying { ballot, hash: None };
                        self.since = now;
                        self.actions.push(Action::Replay(plan));
                    }
                    Phase::Replaying {
                        hash: Some(hash), ..
                    } => {
                        self.since = now;
                        let hash = *hash;
                        self.actions
                            .push(Action::Send(from, Message::Done { ballot, hash }));
                    }
                    _ => {}
                }
            }
            Message::Done { ballot, hash } => {
                if let Phase::Committing {
                    ballot: mine, done, ..
                } = &mut self.phase
                {
                    if ballot == *mine && !done.contains_key(&from) {
                        done.insert(from, hash);
                        self.committed(now);
                    }
                }
            }
            Message::Start { ballot, next } => {
                if ballot.leader != from || ballot < self.seen || next.epoch != self.epoch + 1 {
                    // Sent again after we started: say so again.
                    if ballot == self.seen && next.epoch == self.epoch && !self.frozen() {
                        self.actions
                            .push(Action::Send(from, Message::Started { ballot }));
                    }
                    return;
                }
                // Also a player that missed the freeze or the commit (it fetches the state),
                // or one the others went on without (the next epoch does not count it).
                self.seen = ballot;
                self.begin(next, now);
                self.actions
                    .push(Action::Send(from, Message::Started { ballot }));
            }
            Message::Started { ballot } => {
                if let Some((Message::Start { ballot: mine, .. }, waiting, _)) = &mut self.unacked {
                    if ballot == *mine {
                        waiting.remove(&from);
                    }
                }
            }
        }
    }

    /// The session's report, after [`Action::Freeze`].
    pub fn reported(&mut self, report: Report<I>, now: Duration) {
        match &mut self.phase {
            Phase::Frozen {
                ballot,
                report: mine @ None,
            } => {
                let ballot = *ballot;
                *mine = Some(report.clone());
                self.actions.push(Action::Send(
                    ballot.leader,
                    Message::Report { ballot, report },
                ));
            }
            Phase::Gathering { reports, .. } => {
                reports.insert(self.me, report);
                self.gathered(now);
            }
            _ => {}
        }
    }

    /// The session's replay reached a state with this hash (None: it lacks the base).
    pub fn replayed(&mut self, reached: Option<[u8; 32]>, now: Duration) {
        match &mut self.phase {
            Phase::Replaying { ballot, hash } if hash.is_none() => {
                *hash = Some(reached);
                let ballot = *ballot;
                self.actions.push(Action::Send(
                    ballot.leader,
                    Message::Done {
                        ballot,
                        hash: reached,
                    },
                ));
            }
            Phase::Committing { done, .. } => {
                done.insert(self.me, reached);
                self.committed(now);
            }
            _ => {}
        }
    }

    /// As leader: once every participant reported, plans and commits.
    fn gathered(&mut self, now: Duration) {
        let Phase::Gathering {
            ballot,
            reasons,
            leaving,
            reports,
        } = &self.phase
        else {
            return;
        };
        if self
            .participants(leaving)
            .iter()
            .any(|s| !reports.contains_key(s))
        {
            return;
        }
        let reports: Vec<Report<I>> = reports.values().cloned().collect();
        match plan(self.players, &reports, leaving) {
            Ok(plan) => {
                self.phase = Phase::Committing {
                    ballot: *ballot,
                    reasons: reasons.clone(),
                    leaving: leaving.clone(),
                    plan: plan.clone(),
                    done: BTreeMap::new(),
                };
                self.since = now;
                self.last_sent = None;
                self.actions.push(Action::Replay(plan));
                self.resend(now);
            }
            Err(err) => {
                self.phase = Phase::Playing;
                self.wanted.clear();
                self.actions.push(Action::Stuck(err));
            }
        }
    }

    /// As leader: once every participant's replay is in, decides the state and starts.
    fn committed(&mut self, now: Duration) {
        let Phase::Committing {
            ballot,
            reasons,
            leaving,
            plan,
            done,
        } = &self.phase
        else {
            return;
        };
        let participants = self.participants(leaving);
        if participants.iter().any(|s| !done.contains_key(s)) {
            return;
        }
        // The state most replays reached; with 3 or more players at least two must agree,
        // with 1 or 2 the leader's stands (no majority can decide).
        let mut votes: BTreeMap<[u8; 32], BTreeSet<usize>> = BTreeMap::new();
        for (&seat, hash) in done {
            if let Some(hash) = hash {
                votes.entry(*hash).or_default().insert(seat);
            }
        }
        let mine = done.get(&self.me).copied().flatten();
        let best = votes
            .iter()
            .max_by_key(|(hash, seats)| (seats.len(), Some(**hash) == mine))
            .map(|(hash, seats)| (*hash, seats.clone()));
        let decided = match best {
            Some((hash, seats)) if seats.len() >= 2 || participants.len() <= 2 => {
                if participants.len() <= 2 && seats.len() < 2 {
                    mine.map(|m| (m, BTreeSet::from([self.me])))
                } else {
                    Some((hash, seats))
                }
            }
            _ => None,
        };
        let Some((hash, holders)) = decided else {
            self.phase = Phase::Playing;
            self.wanted.clear();
            self.actions.push(Action::Stuck(PlanError::NoCommonBase));
            return;
        };
        let mut live = self.live.clone();
        for reason in reasons {
            match reason {
                Reason::Leave(seat) => {
                    live.remove(seat);
                }
                Reason::Rejoin(seat) if *seat < self.players => {
                    live.insert(*seat);
                }
                _ => {}
            }
        }
        let next = Next {
            epoch: self.epoch + 1,
            cut: plan.cut,
            hash,
            holders,
            live,
            reasons: reasons.clone(),
        };
        let start = Message::Start {
            ballot: *ballot,
            next: next.clone(),
        };
        // Leavers hear it too, in case they are still there: they learn they are out.
        let waiting: BTreeSet<usize> = participants
            .into_iter()
            .chain(next.live.iter().copied())
            .chain(leaving.iter().copied())
            .filter(|&s| s != self.me)
            .collect();
        self.unacked = Some((start, waiting, now));
        self.begin(next, now);
        self.last_sent = None;
        self.resend(now);
    }

    /// Starts the next epoch here.
    fn begin(&mut self, next: Next, now: Duration) {
        self.epoch = next.epoch;
        self.live = next.live.clone();
        for reason in &next.reasons {
            self.wanted.remove(reason);
        }
        // Reasons that no longer apply: a leaver already gone, a rejoiner already back.
        let live = self.live.clone();
        self.wanted.retain(|r| match r {
            Reason::Leave(seat) => live.contains(seat),
            Reason::Rejoin(seat) => !live.contains(seat),
            _ => true,
        });
        self.phase = Phase::Playing;
        self.since = now;
        self.actions.push(Action::Start(next));
    }

    /// Sends what is unanswered (if it is time), and handles timeouts.
    fn resend(&mut self, now: Duration) {
        if self
            .last_sent
            .is_some_and(|at| now.saturating_sub(at) < RESEND)
        {
            return;
        }
        self.last_sent = Some(now);
        if let Some((start, waiting, _)) = &self.unacked {
            for &seat in waiting {
                self.actions.push(Action::Send(seat, start.clone()));
            }
        }
        match &self.phase {
            Phase::Gathering {
                ballot,
                reasons,
                leaving,
                reports,
            } => {
                for seat in self.participants(leaving) {
                    if seat != self.me && !reports.contains_key(&seat) {
                        self.actions.push(Action::Send(
                            seat,
                            Message::Freeze {
                                ballot: *ballot,
                                epoch: self.epoch,
                                reasons: reasons.clone(),
                                leaving: leaving.clone(),
                            },
                        ));
                    }
                }
            }
            Phase::Committing {
                ballot,
                leaving,
                plan,
                done,
                ..
            } => {
                for seat in self.participants(leaving) {
                    if seat != self.me && !done.contains_key(&seat) {
                        self.actions.push(Action::Send(
                            seat,
                            Message::Commit {
                                ballot: *ballot,
                                plan: plan.clone(),
                            },
                        ));
                    }
                }
            }
            Phase::Playing | Phase::Frozen { .. } | Phase::Replaying { .. } => {}
        }
    }

    /// What to do now: resends, timeouts, and everything decided since the last poll.
    pub fn poll(&mut self, now: Duration) -> Vec<Action<I>> {
        let waited = now.saturating_sub(self.since) >= ANSWER_TIMEOUT;
        if let Some((_, waiting, sent)) = &self.unacked {
            if waiting.is_empty() || now.saturating_sub(*sent) >= 2 * ANSWER_TIMEOUT {
                self.unacked = None;
            }
        }
        let leading = match &self.phase {
            Phase::Gathering {
                leaving, reports, ..
            } => Some((
                leaving.clone(),
                reports.keys().copied().collect::<BTreeSet<_>>(),
            )),
            Phase::Committing { leaving, done, .. } => {
                Some((leaving.clone(), done.keys().copied().collect()))
            }
            _ => None,
        };
        match &self.phase {
            Phase::Gathering { .. } | Phase::Committing { .. } if waited => {
                // Go on without the silent: they leave too, in a new attempt.
                let (leaving, answered) = leading.unwrap_or_default();
                let silent: Vec<usize> = self
                    .participants(&leaving)
                    .into_iter()
                    .filter(|s| *s != self.me && !answered.contains(s))
                    .collect();
                for seat in silent {
                    self.wanted.insert(Reason::Leave(seat));
                }
                self.lead(now);
            }
            Phase::Frozen { ballot, .. } | Phase::Replaying { ballot, .. } if waited => {
                // The leader is gone: it leaves, and the next in line leads.
                let leader = ballot.leader;
                self.wanted.insert(Reason::Leave(leader));
                self.phase = Phase::Playing;
                self.since = now;
                self.last_sent = None;
                self.poll_wanted(now);
            }
            Phase::Playing => {
                self.poll_wanted(now);
                self.resend(now);
            }
            _ => self.resend(now),
        }
        std::mem::take(&mut self.actions)
    }
}

#[cfg(test)]
mod tests;
