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
//!    the *cut* (the last frame whose inputs are known for every seat that goes on: a player
//!    that goes on speaks for its own inputs, and another's report of them must agree), and
//!    for each seat that leaves the first frame it is idle. No player decides alone which
//!    inputs of a leaver count: an input any player received counts for all.
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

use serde::{Deserialize, Serialize};

/// The longest stretch of frames a plan replays (about 2 s at 60 Hz). A frozen match is at
/// most a prediction window ahead of its confirmed frames, so this is never reached by
/// honest players.
pub const PLAN_FRAMES_MAX: u32 = 128;

/// What one player holds when a transition freezes the match.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
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
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
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
    /// A seat that goes on did not report.
    #[error("seat {seat} goes on but did not report")]
    Missing {
        /// The seat.
        seat: usize,
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

    // Every input known from the base on (at most PLAN_FRAMES_MAX frames), checked for
    // conflicts. A seat that goes on speaks for its own inputs: another's report of them
    // must agree, and counts for nothing beyond what the seat itself reports.
    let end = u64::from(base) + u64::from(PLAN_FRAMES_MAX);
    let in_plan = |frame: u32| u64::from(frame) < end;
    let mut known: BTreeMap<u32, Vec<Option<(I, usize)>>> = BTreeMap::new();
    for report in &reports {
        for (&frame, seats) in report
            .inputs
            .range(base..)
            .take_while(|(f, _)| in_plan(**f))
        {
            let entry = known.entry(frame).or_insert_with(|| vec![None; players]);
            for (seat, input) in seats.iter().enumerate() {
                let Some(input) = input else { continue };
                let speaks = leaving.contains(&seat) || seat == report.seat;
                match entry[seat] {
                    None if speaks => entry[seat] = Some((*input, report.seat)),
                    Some((held, first)) if held != *input => {
                        return Err(PlanError::Conflict {
                            frame,
                            seat,
                            first,
                            second: report.seat,
                        });
                    }
                    _ => {}
                }
            }
        }
    }
    // Others' reports of a seat that goes on, read before the seat's own, are checked now.
    for report in &reports {
        for (&frame, seats) in report
            .inputs
            .range(base..)
            .take_while(|(f, _)| in_plan(**f))
        {
            for (seat, input) in seats.iter().enumerate() {
                let (Some(input), Some(Some((held, first)))) =
                    (input, known.get(&frame).map(|k| k[seat]))
                else {
                    continue;
                };
                if held != *input {
                    return Err(PlanError::Conflict {
                        frame,
                        seat,
                        first,
                        second: report.seat,
                    });
                }
            }
        }
    }
    // The first frame from the base whose input of `seat` nobody (who may) reports.
    let known_until = |seat: usize| {
        let mut frame = u64::from(base);
        while frame < end
            && known
                .get(&(frame as u32))
                .is_some_and(|seats| seats[seat].is_some())
        {
            frame += 1;
        }
        frame as u32
    };
    for seat in (0..players).filter(|s| !leaving.contains(s)) {
        if !seen.contains(&seat) {
            return Err(PlanError::Missing { seat });
        }
    }
    let cut = (0..players)
        .filter(|seat| !leaving.contains(seat))
        .map(known_until)
        .min()
        .unwrap_or(base);
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
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Reason {
    /// The player in this seat left (said goodbye, or fell silent).
    Leave(usize),
    /// The player of this seat, gone earlier, is back (only its admitter proposes this).
    Rejoin(usize),
    /// A verdict: this seat's state is not the majority's.
    Resync(usize),
    /// A spectator, by the number its admitter gave it, wants to watch (only the admitter
    /// proposes this).
    Spectate(u32),
}

/// One attempt at a transition, led by one player: later attempts have higher rounds, and a
/// player follows only the highest it has seen, from the player entitled to lead it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Ballot {
    /// Attempts so far in this match.
    pub round: u32,
    /// The leading player's seat.
    pub leader: usize,
}

/// What the next epoch is.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
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

/// Why a transition ended without a next epoch.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Stuck {
    /// The reports allow no plan.
    #[error("no plan: {0}")]
    Plan(PlanError),
    /// Nobody is left to go on (or the attempts ran out of numbers).
    #[error("nobody left to go on")]
    NoQuorum,
    /// With 3 or 4 players, no two replays reached the same state.
    #[error("no two players reached the same state")]
    NoMajority,
    /// The leader ended the attempt (it is stuck for one of the reasons above).
    #[error("the leader gave the transition up")]
    Aborted,
    /// Players that are still heard did not take part for [`ATTEMPT_MAX`].
    #[error("the transition took over {} s", ATTEMPT_MAX.as_secs())]
    TooLong,
}

/// What players say to each other about a transition.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Message<I> {
    /// To the leader: please start a transition (only for a departure or a resync).
    Ask {
        /// The epoch the asker plays in.
        epoch: u32,
        /// Why.
        reason: Reason,
    },
    /// From the leader, resent until the commit: stop advancing and report.
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
    /// To a leader: a higher attempt is under way, or a seat it counts out is still heard.
    Nack {
        /// The attempt refused.
        ballot: Ballot,
        /// The highest attempt this player has seen.
        seen: Ballot,
    },
    /// To the leader: what this player holds.
    Report {
        /// The attempt.
        ballot: Ballot,
        /// What it holds.
        report: Report<I>,
    },
    /// From the leader, resent until the start: the plan, to replay.
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
    /// From the leader: the attempt failed; go on as the session decides.
    Abort {
        /// The attempt.
        ballot: Ballot,
    },
    /// From the leader, resent until answered: start the next epoch.
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
    /// Send this to that seat. The agreement resends what goes unanswered, so the transport
    /// need not be reliable.
    Send(usize, Message<I>),
    /// Stop advancing (keep polling the network) and call [`Agreement::reported`].
    Freeze(Ballot),
    /// Load the base state, play the plan's inputs to its cut, and call
    /// [`Agreement::replayed`] with the hash reached (None without the base state).
    Replay(Plan<I>),
    /// Start the next epoch from the state of its cut: ours if our replay reached its hash,
    /// else fetched from one of its holders. A player not in its `live` seats is out.
    Start(Next),
    /// The transition failed: the match cannot heal this way (the session ends it, or goes
    /// on as before the transition).
    Stuck(Stuck),
}

/// How often a leader repeats its freeze or commit to every player in the attempt.
pub const RESEND: Duration = Duration::from_millis(100);
/// How long a leader waits for a player's report or replay before it goes on without it.
pub const ANSWER_TIMEOUT: Duration = Duration::from_millis(1_500);
/// How long a follower waits without a word from its leader before it presumes it gone:
/// twice a leader's wait, so that a leader that counts a player out does so first.
pub const LEADER_TIMEOUT: Duration = Duration::from_millis(3_000);
/// How long a leader repeats a start to players that have not said they started.
pub const START_RESEND_FOR: Duration = Duration::from_secs(10);
/// How long one attempt may take, as its leader sees it, before it is given up.
pub const ATTEMPT_MAX: Duration = Duration::from_secs(10);
/// Reasons waiting for a transition, at most.
pub const WANTED_MAX: usize = 16;

#[derive(Clone, Debug)]
enum Phase<I> {
    /// Playing an epoch.
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
    /// Frozen without a leader (ours fell silent, or a higher attempt is under way): waiting
    /// for the next one's freeze, or leading it.
    Orphan,
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
/// passive state machine, driven by [`Agreement::handle`], [`Agreement::propose`], what the
/// session hears ([`Agreement::hears`]), its answers ([`Agreement::reported`],
/// [`Agreement::replayed`]) and [`Agreement::poll`], which returns what to do.
///
/// Its rules, which the tests check through loss, reordering and silent players:
/// - only the lowest seat playing that is not counted out leads, and a player follows a
///   freeze only from that seat, and only if it too no longer hears every seat counted out
///   (otherwise it answers [`Message::Nack`], and the leader waits);
/// - a player is in one attempt at a time and starts each epoch number once; the two sides
///   of a partition each go on without the other, as the two players of a split 2-player
///   match do (each side agrees, within itself, on who left and when);
/// - the next epoch starts from the state at least two replays reached with 3 or 4 players
///   (the leader's with 1 or 2), and names who holds it;
/// - whatever goes unanswered is sent again; a leader goes on without the silent after
///   [`ANSWER_TIMEOUT`], a follower presumes its leader gone after [`LEADER_TIMEOUT`] and
///   stays frozen until the next leader's freeze.
pub struct Agreement<I> {
    me: usize,
    players: usize,
    live: BTreeSet<usize>,
    epoch: u32,
    /// The highest attempt seen.
    seen: Ballot,
    phase: Phase<I>,
    /// When the phase last made progress (a word from the leader, or an answer).
    since: Duration,
    /// When the phase's messages were last sent.
    sent: Option<Duration>,
    /// When the last asks went to the leader.
    asked: Option<Duration>,
    /// Reasons waiting for the next transition.
    wanted: BTreeSet<Reason>,
    /// Seats the session no longer hears.
    unheard: BTreeSet<usize>,
    /// As leader of the last start: the `Start`, who has not said it started, and when it
    /// was first sent.
    unacked: Option<(Message<I>, BTreeSet<usize>, Duration)>,
    start_sent: Option<Duration>,
    /// When the attempt this player leads began.
    attempt_began: Duration,
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
            sent: None,
            asked: None,
            wanted: BTreeSet::new(),
            unheard: BTreeSet::new(),
            unacked: None,
            start_sent: None,
            attempt_began: Duration::ZERO,
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

    /// Tells whether the session hears `seat` (it received from it within its silence
    /// timeout). A player follows a freeze that counts a seat out only once it no longer
    /// hears that seat itself.
    pub fn hears(&mut self, seat: usize, heard: bool) {
        if heard {
            self.unheard.remove(&seat);
        } else if seat < self.players {
            self.unheard.insert(seat);
        }
    }

    /// Who leads an attempt that counts `leaving` out: the lowest seat playing that is not
    /// counted out.
    fn leader_for(&self, leaving: &BTreeSet<usize>) -> Option<usize> {
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

    /// The seats that report in an attempt that counts `leaving` out, leader included.
    fn participants(&self, leaving: &BTreeSet<usize>) -> Vec<usize> {
        self.live
            .iter()
            .copied()
            .filter(|s| !leaving.contains(s))
            .collect()
    }

    /// The participants but this player: whom a leader's messages go to.
    fn others(&self, leaving: &BTreeSet<usize>) -> Vec<usize> {
        let mut others = self.participants(leaving);
        others.retain(|&s| s != self.me);
        others
    }

    /// Whether anyone is left to go on when `leaving` go.
    fn quorum(&self, leaving: &BTreeSet<usize>) -> bool {
        !self.participants(leaving).is_empty()
    }

    /// Wants a transition for `reason` (this player noticed it): leads one, or asks the
    /// leader to.
    pub fn propose(&mut self, reason: Reason, now: Duration) {
        let applies = match reason {
            Reason::Leave(seat) | Reason::Resync(seat) => self.live.contains(&seat),
            Reason::Rejoin(seat) => seat < self.players && !self.live.contains(&seat),
            Reason::Spectate(_) => true,
        };
        if applies && self.wanted.len() < WANTED_MAX && self.wanted.insert(reason) {
            self.asked = None;
            if matches!(self.phase, Phase::Playing | Phase::Orphan) {
                self.poll_wanted(now);
            }
        }
    }

    /// While playing (or orphaned): lead a transition for what is wanted, or ask the leader.
    fn poll_wanted(&mut self, now: Duration) {
        if self.wanted.is_empty() {
            return;
        }
        // A leader we would ask but no longer hear is gone too.
        loop {
            let leaving = self.leaving_of(&self.wanted);
            match self.leader_for(&leaving) {
                Some(leader)
                    if leader != self.me
                        && self.unheard.contains(&leader)
                        && self.wanted.len() < WANTED_MAX =>
                {
                    self.wanted.insert(Reason::Leave(leader));
                }
                _ => break,
            }
        }
        let leaving = self.leaving_of(&self.wanted);
        let due = self.asked.is_none_or(|at| now.saturating_sub(at) >= RESEND);
        match self.leader_for(&leaving) {
            Some(leader) if leader == self.me => self.lead(now),
            Some(leader) if due => {
                self.asked = Some(now);
                for reason in &self.wanted {
                    if matches!(reason, Reason::Leave(_) | Reason::Resync(_)) {
                        self.actions.push(Action::Send(
                            leader,
                            Message::Ask {
                                epoch: self.epoch,
                                reason: *reason,
                            },
                        ));
                    }
                }
            }
            _ => {}
        }
    }

    /// Starts a new attempt led by this player, for everything wanted.
    fn lead(&mut self, now: Duration) {
        let leaving = self.leaving_of(&self.wanted);
        let Some(round) = self.seen.round.checked_add(1) else {
            self.stuck(Stuck::NoQuorum);
            return;
        };
        if !self.quorum(&leaving) {
            self.stuck(Stuck::NoQuorum);
            return;
        }
        let ballot = Ballot {
            round,
            leader: self.me,
        };
        if !matches!(
            self.phase,
            Phase::Gathering { .. } | Phase::Committing { .. }
        ) {
            self.attempt_began = now;
        }
        self.seen = ballot;
        self.phase = Phase::Gathering {
            ballot,
            reasons: self.wanted.iter().copied().collect(),
            leaving,
            reports: BTreeMap::new(),
        };
        self.since = now;
        self.sent = None;
        self.actions.push(Action::Freeze(ballot));
        self.resend(now);
    }

    /// Ends the attempt here without a next epoch.
    fn stuck(&mut self, why: Stuck) {
        self.phase = Phase::Playing;
        self.wanted.clear();
        self.actions.push(Action::Stuck(why));
    }

    /// Takes a message from the player in seat `from`.
    pub fn handle(&mut self, from: usize, message: Message<I>, now: Duration) {
        if from >= self.players || from == self.me {
            return;
        }
        // Whatever it says, it is there.
        self.unheard.remove(&from);
        match message {
            Message::Ask { epoch, reason } => {
                let heard_of =
                    matches!(reason, Reason::Leave(s) | Reason::Resync(s) if s < self.players);
                if epoch == self.epoch && self.live.contains(&from) && heard_of {
                    self.propose(reason, now);
                }
            }
            Message::Freeze {
                ballot,
                epoch,
                reasons,
                leaving,
            } => self.on_freeze(from, ballot, epoch, reasons, leaving, now),
            Message::Nack { ballot, seen } => {
                let mine = match &self.phase {
                    Phase::Gathering { ballot, .. } | Phase::Committing { ballot, .. } => {
                        Some(*ballot)
                    }
                    _ => None,
                };
                if mine != Some(ballot) {
                    return;
                }
                if seen > ballot {
                    // A higher attempt is under way: follow it once its leader freezes us.
                    self.seen = seen;
                    self.phase = Phase::Orphan;
                    self.since = now;
                } else {
                    // It still hears a seat we count out: wait for it to notice.
                    self.since = now;
                }
            }
            Message::Report { ballot, report } => {
                let Phase::Gathering {
                    ballot: mine,
                    leaving,
                    ..
                } = &self.phase
                else {
                    return;
                };
                let taking_part = self.participants(leaving).contains(&from);
                if ballot == *mine && report.seat == from && taking_part {
                    if let Phase::Gathering { reports, .. } = &mut self.phase {
                        // The first report of each counts: a player cannot change its story.
                        reports.entry(from).or_insert(report);
                    }
                    self.gathered(now);
                }
            }
            Message::Commit { ballot, plan } => {
                if ballot != self.seen || ballot.leader != from {
                    return;
                }
                let fits = u64::from(plan.cut) >= u64::from(plan.base)
                    && plan.inputs.len() as u64 == u64::from(plan.cut - plan.base.min(plan.cut))
                    && plan.inputs.len() as u64 <= u64::from(PLAN_FRAMES_MAX)
                    && plan.inputs.iter().all(|i| i.len() == self.players)
                    && plan.departures.keys().all(|s| *s < self.players);
                if !fits {
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
                    Phase::Replaying { .. } => self.since = now,
                    _ => {}
                }
            }
            Message::Done { ballot, hash } => {
                let Phase::Committing {
                    ballot: mine,
                    leaving,
                    ..
                } = &self.phase
                else {
                    return;
                };
                let taking_part = self.participants(leaving).contains(&from);
                if ballot == *mine && taking_part {
                    if let Phase::Committing { done, .. } = &mut self.phase {
                        done.entry(from).or_insert(hash);
                    }
                    self.committed(now);
                }
            }
            Message::Abort { ballot } => {
                if ballot >= self.seen
                    && ballot.leader == from
                    && self.seen.leader == from
                    && matches!(
                        self.phase,
                        Phase::Frozen { .. } | Phase::Replaying { .. } | Phase::Orphan
                    )
                {
                    self.stuck(Stuck::Aborted);
                }
            }
            Message::Start { ballot, next } => self.on_start(from, ballot, next, now),
            Message::Started { ballot } => {
                if let Some((Message::Start { ballot: mine, .. }, waiting, _)) = &mut self.unacked {
                    if ballot == *mine {
                        waiting.remove(&from);
                    }
                }
            }
        }
    }

    fn on_freeze(
        &mut self,
        from: usize,
        ballot: Ballot,
        epoch: u32,
        reasons: Vec<Reason>,
        leaving: BTreeSet<usize>,
        now: Duration,
    ) {
        let entitled = ballot.leader == from
            && epoch == self.epoch
            && leaving
                .iter()
                .all(|s| self.live.contains(s) && *s != self.me)
            && self.leader_for(&leaving) == Some(from)
            && reasons.len() <= WANTED_MAX;
        if !entitled {
            return;
        }
        if ballot < self.seen {
            let seen = self.seen;
            self.actions
                .push(Action::Send(from, Message::Nack { ballot, seen }));
            return;
        }
        // Count a seat out only once we no longer hear it either.
        if leaving.iter().any(|s| !self.unheard.contains(s)) {
            if self.seen.leader == from {
                // Our leader is alive, only ahead of us.
                self.since = now;
            }
            let seen = self.seen;
            self.actions
                .push(Action::Send(from, Message::Nack { ballot, seen }));
            return;
        }
        if ballot == self.seen {
            // Sent again: a sign of life of the leader; answer again what we answered.
            self.since = now;
            if let Phase::Frozen {
                report: Some(report),
                ..
            } = &self.phase
            {
                let report = report.clone();
                self.actions
                    .push(Action::Send(from, Message::Report { ballot, report }));
            }
            if !matches!(self.phase, Phase::Playing | Phase::Orphan) {
                return;
            }
        }
        self.seen = ballot;
        for reason in reasons {
            if self.wanted.len() < WANTED_MAX {
                self.wanted.insert(reason);
            }
        }
        self.phase = Phase::Frozen {
            ballot,
            report: None,
        };
        self.since = now;
        self.actions.push(Action::Freeze(ballot));
    }

    fn on_start(&mut self, from: usize, ballot: Ballot, next: Next, now: Duration) {
        let fits = next
            .live
            .iter()
            .chain(&next.holders)
            .all(|s| *s < self.players)
            && next.reasons.len() <= WANTED_MAX
            && !next.live.is_empty();
        if !fits || ballot.leader != from {
            return;
        }
        if ballot == self.seen && next.epoch == self.epoch && !self.frozen() {
            // Sent again after we started: say so again.
            self.actions
                .push(Action::Send(from, Message::Started { ballot }));
            return;
        }
        // From the attempt we follow, or (a player that missed the freeze: a rejoiner, or
        // one counted out) a higher one for the next epoch.
        let ours = ballot == self.seen
            && matches!(self.phase, Phase::Frozen { .. } | Phase::Replaying { .. });
        // A start we did not follow must come from the leader entitled to it: the lowest
        // seat playing that the next epoch keeps.
        let removed: BTreeSet<usize> = self.live.difference(&next.live).copied().collect();
        let later = ballot > self.seen
            && matches!(self.phase, Phase::Playing | Phase::Orphan)
            && self.leader_for(&removed) == Some(from);
        if next.epoch != self.epoch.wrapping_add(1) || !(ours || later) {
            return;
        }
        self.seen = ballot;
        self.begin(next, now);
        self.actions
            .push(Action::Send(from, Message::Started { ballot }));
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

    /// As leader: tells the others the attempt failed, and is stuck.
    fn abort(&mut self, ballot: Ballot, leaving: &BTreeSet<usize>, why: Stuck) {
        for seat in self.others(leaving) {
            self.actions
                .push(Action::Send(seat, Message::Abort { ballot }));
        }
        self.stuck(why);
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
        let (ballot, reasons, leaving) = (*ballot, reasons.clone(), leaving.clone());
        let reports: Vec<Report<I>> = reports.values().cloned().collect();
        // Seats out of this epoch (gone before) are idle throughout, like those leaving now.
        let idle: BTreeSet<usize> = (0..self.players)
            .filter(|s| leaving.contains(s) || !self.live.contains(s))
            .collect();
        match plan(self.players, &reports, &idle) {
            Ok(plan) => {
                self.phase = Phase::Committing {
                    ballot,
                    reasons,
                    leaving,
                    plan: plan.clone(),
                    done: BTreeMap::new(),
                };
                self.since = now;
                self.sent = None;
                self.actions.push(Action::Replay(plan));
                self.resend(now);
            }
            Err(err) => self.abort(ballot, &leaving, Stuck::Plan(err)),
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
        let (ballot, reasons, leaving, cut) = (*ballot, reasons.clone(), leaving.clone(), plan.cut);
        // The state most replays reached; with 3 or more players at least two must agree,
        // with 1 or 2 the leader's stands (no majority can decide).
        let mut votes: BTreeMap<[u8; 32], BTreeSet<usize>> = BTreeMap::new();
        for (&seat, hash) in done {
            if let Some(hash) = hash {
                votes.entry(*hash).or_default().insert(seat);
            }
        }
        let mine = done.get(&self.me).copied().flatten();
        let decided = if participants.len() <= 2 {
            mine.map(|m| (m, votes.get(&m).cloned().unwrap_or_default()))
        } else {
            let most = votes.values().map(BTreeSet::len).max().unwrap_or(0);
            let best: Vec<_> = votes.iter().filter(|(_, v)| v.len() == most).collect();
            // Two states with equal votes: none wins.
            (most >= 2 && best.len() == 1).then(|| (*best[0].0, best[0].1.clone()))
        };
        let Some((hash, holders)) = decided else {
            self.abort(ballot, &leaving, Stuck::NoMajority);
            return;
        };
        let mut live = self.live.clone();
        for reason in &reasons {
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
            epoch: self.epoch.wrapping_add(1),
            cut,
            hash,
            holders,
            live,
            reasons,
        };
        let start = Message::Start {
            ballot,
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
        self.start_sent = None;
        self.begin(next, now);
        self.resend(now);
    }

    /// Starts the next epoch here.
    fn begin(&mut self, next: Next, now: Duration) {
        self.epoch = next.epoch;
        self.live = next.live.clone();
        for reason in &next.reasons {
            self.wanted.remove(reason);
        }
        // Reasons that no longer apply: a seat gone, or one still playing that we hear again
        // (a leader we wrongly thought gone); a rejoiner back; a resync of a seat gone.
        let (live, unheard) = (self.live.clone(), self.unheard.clone());
        self.wanted.retain(|r| match r {
            Reason::Leave(seat) => live.contains(seat) && unheard.contains(seat),
            Reason::Rejoin(seat) => !live.contains(seat),
            Reason::Resync(seat) => live.contains(seat),
            Reason::Spectate(_) => true,
        });
        self.phase = Phase::Playing;
        self.since = now;
        self.actions.push(Action::Start(next));
    }

    /// Sends the phase's messages (if it is time) to every player in the attempt, and a
    /// start not yet answered.
    fn resend(&mut self, now: Duration) {
        if self
            .start_sent
            .is_none_or(|at| now.saturating_sub(at) >= RESEND)
        {
            if let Some((start, waiting, _)) = &self.unacked {
                self.start_sent = Some(now);
                for &seat in waiting {
                    self.actions.push(Action::Send(seat, start.clone()));
                }
            }
        }
        if self.sent.is_some_and(|at| now.saturating_sub(at) < RESEND) {
            return;
        }
        self.sent = Some(now);
        let (message, leaving) = match &self.phase {
            Phase::Gathering {
                ballot,
                reasons,
                leaving,
                ..
            } => (
                Message::Freeze {
                    ballot: *ballot,
                    epoch: self.epoch,
                    reasons: reasons.clone(),
                    leaving: leaving.clone(),
                },
                leaving,
            ),
            Phase::Committing {
                ballot,
                leaving,
                plan,
                ..
            } => (
                Message::Commit {
                    ballot: *ballot,
                    plan: plan.clone(),
                },
                leaving,
            ),
            _ => return,
        };
        for seat in self.others(leaving) {
            self.actions.push(Action::Send(seat, message.clone()));
        }
    }

    /// What to do now: resends, timeouts, and everything decided since the last poll.
    pub fn poll(&mut self, now: Duration) -> Vec<Action<I>> {
        if let Some((_, waiting, sent)) = &self.unacked {
            if waiting.is_empty() || now.saturating_sub(*sent) >= START_RESEND_FOR {
                self.unacked = None;
            }
        }
        let waited = now.saturating_sub(self.since);
        let leading = matches!(
            self.phase,
            Phase::Gathering { .. } | Phase::Committing { .. }
        );
        if leading && now.saturating_sub(self.attempt_began) >= ATTEMPT_MAX {
            let (ballot, leaving) = match &self.phase {
                Phase::Gathering {
                    ballot, leaving, ..
                }
                | Phase::Committing {
                    ballot, leaving, ..
                } => (*ballot, leaving.clone()),
                _ => (self.seen, BTreeSet::new()),
            };
            self.abort(ballot, &leaving, Stuck::TooLong);
            return std::mem::take(&mut self.actions);
        }
        match &self.phase {
            Phase::Gathering {
                leaving, reports, ..
            } if waited >= ANSWER_TIMEOUT => {
                let answered: BTreeSet<usize> = reports.keys().copied().collect();
                self.without_the_silent(leaving.clone(), &answered, now);
            }
            Phase::Committing { leaving, done, .. } if waited >= ANSWER_TIMEOUT => {
                let answered: BTreeSet<usize> = done.keys().copied().collect();
                self.without_the_silent(leaving.clone(), &answered, now);
            }
            Phase::Frozen { ballot, .. } | Phase::Replaying { ballot, .. }
                if waited >= LEADER_TIMEOUT =>
            {
                // A leader we no longer hear is gone: it leaves, and the next in line leads.
                // One we still hear has moved on to an attempt we refused: wait for it.
                let leader = ballot.leader;
                if self.unheard.contains(&leader) && self.wanted.len() < WANTED_MAX {
                    self.wanted.insert(Reason::Leave(leader));
                }
                self.phase = Phase::Orphan;
                self.since = now;
                self.asked = None;
                self.poll_wanted(now);
            }
            Phase::Orphan if waited >= ATTEMPT_MAX => {
                // Nobody led us anywhere for that long: the transition failed.
                self.stuck(Stuck::Aborted);
            }
            Phase::Playing | Phase::Orphan => {
                self.poll_wanted(now);
                self.resend(now);
            }
            _ => self.resend(now),
        }
        std::mem::take(&mut self.actions)
    }

    /// As leader: a new attempt that also counts out the participants that did not answer.
    fn without_the_silent(
        &mut self,
        leaving: BTreeSet<usize>,
        answered: &BTreeSet<usize>,
        now: Duration,
    ) {
        for seat in self.participants(&leaving) {
            if seat != self.me && !answered.contains(&seat) && self.wanted.len() < WANTED_MAX {
                self.wanted.insert(Reason::Leave(seat));
            }
        }
        self.lead(now);
    }
}

/// The first byte of an epoch message's fragment on the control stream.
pub const FRAGMENT_TAG: u8 = 0x41;
/// Bytes of an encoded message in one fragment (a fragment is this plus 5 bytes).
pub const FRAGMENT_LEN: usize = 960;
/// Fragments of one message, at most: an encoded message is at most
/// `FRAGMENTS_MAX * FRAGMENT_LEN` bytes ([`crate::codec::EPOCH_MESSAGE_MAX`]).
pub const FRAGMENTS_MAX: u8 = 16;
/// Messages being put together again per sender, at most (older ones are dropped).
const ASSEMBLING_PER_SENDER: usize = 2;

/// Cuts an encoded message into fragments: `[FRAGMENT_TAG, id (2 bytes), index, count,
/// bytes...]`. `id` tells one message's fragments from another's.
pub fn fragments(id: u16, encoded: &[u8]) -> Vec<Vec<u8>> {
    let count = encoded.len().div_ceil(FRAGMENT_LEN).max(1);
    if count > usize::from(FRAGMENTS_MAX) {
        return Vec::new();
    }
    (0..count)
        .map(|index| {
            let piece = &encoded[(index * FRAGMENT_LEN).min(encoded.len())
                ..((index + 1) * FRAGMENT_LEN).min(encoded.len())];
            let mut out = Vec::with_capacity(5 + piece.len());
            out.push(FRAGMENT_TAG);
            out.extend_from_slice(&id.to_le_bytes());
            out.push(index as u8);
            out.push(count as u8);
            out.extend_from_slice(piece);
            out
        })
        .collect()
}

/// One message's fragments so far: how many it has, and those that arrived, by index.
type Pieces = (u8, BTreeMap<u8, Vec<u8>>);

/// Puts fragments from each sender together again, within bounds: at most
/// [`FRAGMENTS_MAX`] fragments of [`FRAGMENT_LEN`] bytes per message and two messages per
/// sender under way; anything malformed is dropped and counted.
#[derive(Debug, Default)]
pub struct Assembler<P> {
    under_way: BTreeMap<(P, u16), Pieces>,
    /// Fragments dropped: malformed, out of range, or inconsistent with their message.
    pub dropped: u64,
}

impl<P: Copy + Ord> Assembler<P> {
    /// An empty assembler.
    pub fn new() -> Assembler<P> {
        Assembler {
            under_way: BTreeMap::new(),
            dropped: 0,
        }
    }

    /// Takes one fragment from `from`; returns a whole encoded message once its last
    /// fragment is in.
    pub fn take(&mut self, from: P, fragment: &[u8]) -> Option<Vec<u8>> {
        let [FRAGMENT_TAG, a, b, index, count, piece @ ..] = fragment else {
            self.dropped += 1;
            return None;
        };
        let (id, index, count) = (u16::from_le_bytes([*a, *b]), *index, *count);
        let full = index + 1 < count;
        if count == 0
            || count > FRAGMENTS_MAX
            || index >= count
            || piece.len() > FRAGMENT_LEN
            || (full && piece.len() != FRAGMENT_LEN)
        {
            self.dropped += 1;
            return None;
        }
        if !self.under_way.contains_key(&(from, id)) {
            // Room for it: the sender's oldest message under way goes.
            let mine: Vec<(P, u16)> = self
                .under_way
                .keys()
                .filter(|(p, _)| *p == from)
                .copied()
                .collect();
            if mine.len() >= ASSEMBLING_PER_SENDER {
                self.under_way.remove(&mine[0]);
                self.dropped += 1;
            }
        }
        let (known, pieces) = self
            .under_way
            .entry((from, id))
            .or_insert_with(|| (count, BTreeMap::new()));
        if *known != count {
            self.dropped += 1;
            return None;
        }
        pieces.entry(index).or_insert_with(|| piece.to_vec());
        if pieces.len() < usize::from(count) {
            return None;
        }
        let (_, pieces) = self.under_way.remove(&(from, id))?;
        Some(pieces.into_values().flatten().collect())
    }
}

#[cfg(test)]
mod tests;
