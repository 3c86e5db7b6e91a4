//! A peer-to-peer match on GGRS: the driver that feeds a [`Rollback`] game GGRS's requests,
//! records checksums for consensus, turns GGRS's events into [`SessionEvent`]s, and reports
//! per-peer statistics.

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::net::SocketAddr;
use std::rc::Rc;
use std::time::{Duration, Instant};

use ggrs::{
    DesyncDetection, GgrsError, GgrsEvent, GgrsRequest, InputStatus, P2PSession, PlayerType,
    SessionBuilder, SessionState, SpectatorSession,
};

use crate::consensus::{Consensus, Verdict};
use crate::game::{checksum_of, GgrsConfig, Rollback};
use crate::secure::DIGEST_LEN;
use crate::transport::{GgrsSocket, LinkEvent, Traffic, Transport};
use crate::udp::SecureSocket;

/// Frames of input delay unless configured otherwise.
pub const DEFAULT_INPUT_DELAY: usize = 2;
/// Frames GGRS may predict ahead unless configured otherwise.
pub const DEFAULT_MAX_PREDICTION: usize = 8;
/// The prediction windows a session takes. Below 2, GGRS can never advance past a silent
/// peer's last input without its input, so it never becomes safe to disconnect it (see
/// `Session::to_disconnect`), and GGRS's own timeout then panics it.
pub const MAX_PREDICTION_RANGE: std::ops::RangeInclusive<usize> = 2..=8;
/// Frames per second unless configured otherwise.
pub const DEFAULT_FPS: usize = 60;
/// Silence after which a peer counts as gone.
pub const DEFAULT_DISCONNECT_TIMEOUT: Duration = Duration::from_secs(3);
/// Frames between datagrams to a peer unless configured otherwise: four frames (67 ms at
/// 60 Hz) of GGRS messages per datagram keeps a 4-player match under 8 KiB/s per player,
/// while input delay (2) and prediction (8) absorb the added latency.
pub const DEFAULT_SEND_EVERY_FRAMES: u32 = 4;
/// Our full state hashes kept per frame, for reports at the end.
pub const HASHES_KEPT: usize = 4096;
/// Control message (first byte) a peer sends every player when it stops counting a seat's
/// inputs: `[DEPARTURE_NOTICE, seat, frame as i32 LE]`, the first frame whose input of `seat`
/// it takes as idle. Outside the lobby's message numbers.
pub const DEPARTURE_NOTICE: u8 = 0x40;
/// Our departure notices are resent this often for the rest of the match: the peer we stopped
/// hearing may hear us (a flood at our socket, or it was stopped for a while).
pub const NOTICE_RESEND: Duration = Duration::from_millis(200);
/// Control messages kept for the caller (the lobby's stragglers) between takes.
const CONTROL_KEPT: usize = 64;

/// A player the match went on without: from `frame` on, its input counts as idle. States up
/// to and including `frame` (which only inputs of earlier frames made) are the last ones it
/// shares with the rest.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Departure {
    /// The seat that left (0-based, as in verdicts).
    pub seat: usize,
    /// The first frame whose input of `seat` is idle.
    pub frame: i32,
}

impl std::fmt::Display for Departure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "departure: seat={} frame={}", self.seat, self.frame)
    }
}

/// GGRS's socket, with the departed muted: nothing of GGRS's goes to a peer we no longer play
/// with (GGRS keeps sending checksum reports to a disconnected peer for 5 s, of states that
/// peer does not share), and nothing from it reaches GGRS.
struct SessionSocket<T: Transport> {
    inner: GgrsSocket<T>,
    muted: Rc<RefCell<BTreeSet<T::Addr>>>,
}

impl<T: Transport> ggrs::NonBlockingSocket<T::Addr> for SessionSocket<T> {
    fn send_to(&mut self, msg: &ggrs::Message, addr: &T::Addr) {
        if !self.muted.borrow().contains(addr) {
            self.inner.send_to(msg, addr);
        }
    }

    fn receive_all_messages(&mut self) -> Vec<(T::Addr, ggrs::Message)> {
        let mut messages = self.inner.receive_all_messages();
        let muted = self.muted.borrow();
        if !muted.is_empty() {
            messages.retain(|(from, _)| !muted.contains(from));
        }
        messages
    }
}

/// Records our state hash of `frame`, forgetting the oldest beyond [`HASHES_KEPT`].
fn remember(hashes: &mut BTreeMap<i32, [u8; 32]>, frame: i32, hash: [u8; 32]) {
    hashes.insert(frame, hash);
    while hashes.len() > HASHES_KEPT {
        hashes.pop_first();
    }
}

/// What the remaining peers do when one leaves.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum OnDisconnect {
    /// Play on; the gone peer's inputs become the default (idle) input.
    #[default]
    Continue,
    /// End the match.
    End,
}

/// Session parameters every peer must share (the digest covers them).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SessionOptions {
    /// Frames of input delay.
    pub input_delay: usize,
    /// Frames GGRS may predict ahead ([`MAX_PREDICTION_RANGE`]; GGRS's lockstep mode 0 is
    /// not offered).
    pub max_prediction: usize,
    /// Frames per second.
    pub fps: usize,
    /// Silence after which a peer counts as gone.
    pub disconnect_timeout: Duration,
    /// What happens when a peer leaves.
    pub on_disconnect: OnDisconnect,
    /// Frames between datagrams to a peer: GGRS's messages of that many frames travel
    /// together. More saves bandwidth and costs that much latency. Synchronization messages
    /// always leave at once.
    pub send_every_frames: u32,
}

impl Default for SessionOptions {
    fn default() -> Self {
        SessionOptions {
            input_delay: DEFAULT_INPUT_DELAY,
            max_prediction: DEFAULT_MAX_PREDICTION,
            fps: DEFAULT_FPS,
            disconnect_timeout: DEFAULT_DISCONNECT_TIMEOUT,
            on_disconnect: OnDisconnect::Continue,
            send_every_frames: DEFAULT_SEND_EVERY_FRAMES,
        }
    }
}

/// The digest peers compare in the handshake: the wire protocol, the game's rules version and
/// the session options that must match on both sides.
pub fn config_digest(rules_version: u32, options: &SessionOptions) -> [u8; DIGEST_LEN] {
    let mut hasher = blake3::Hasher::new_derive_key("healer-td 2026 session config v1");
    hasher.update(&u32::from(crate::secure::WIRE_VERSION).to_le_bytes());
    hasher.update(&rules_version.to_le_bytes());
    hasher.update(&(options.max_prediction as u32).to_le_bytes());
    hasher.update(&(options.fps as u32).to_le_bytes());
    // Desync detection is on at interval 1 on every peer: a mismatch panics GGRS in debug.
    hasher.update(&1u32.to_le_bytes());
    *hasher.finalize().as_bytes()
}

/// Who sits where.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Seat<A = SocketAddr> {
    /// Played here.
    Local,
    /// Played by the peer at this address.
    Remote(A),
}

impl<A: Copy + PartialEq> Seat<A> {
    /// The seats of a match whose players are at `addrs` (by seat), seen from seat `me`.
    pub fn table(addrs: &[A], me: usize) -> Vec<Seat<A>> {
        addrs
            .iter()
            .enumerate()
            .map(|(seat, addr)| {
                if seat == me {
                    Seat::Local
                } else {
                    Seat::Remote(*addr)
                }
            })
            .collect()
    }
}

/// Something the player should hear about.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SessionEvent<A = SocketAddr> {
    /// GGRS synchronized with the peer in this seat.
    Synchronized(usize),
    /// The peer in this seat went quiet.
    Interrupted(usize),
    /// The peer in this seat is back.
    Resumed(usize),
    /// The peer in this seat left or timed out.
    Disconnected(usize),
    /// Confirmed states differ: the verdict names who diverged.
    Desync(Verdict),
    /// A peer at this address runs different rules or session options.
    ConfigMismatch(A),
}

/// Why [`Session::step`] did not advance.
#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    /// GGRS refused the setup.
    #[error("cannot start the session: {0}")]
    Setup(GgrsError),
    /// GGRS failed while running.
    #[error("session failed: {0}")]
    Ggrs(GgrsError),
    /// GGRS asked to load a frame that holds no state.
    #[error("GGRS asked to load frame {0}, which holds no saved state")]
    MissingState(i32),
    /// A peer left and the session is set to end then.
    #[error("the player in seat {0} left")]
    PeerLeft(usize),
    /// The transport failed (WebRTC's message loop ended, say).
    #[error("the connection failed: {0}")]
    Transport(String),
    /// The same peer is named twice (two seats, or a seat and a spectator).
    #[error("{0} is named twice among the players and spectators")]
    Duplicate(String),
}

/// The confirmed inputs of one frame, as a session hands them out for recording: every
/// player's input of `frame` (GGRS's default input for a player who left), and our hash of
/// the state they led to (frame + 1), when we saved it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Confirmed<I> {
    /// The frame the inputs advance from.
    pub frame: i32,
    /// Every player's input, by seat.
    pub inputs: Vec<I>,
    /// Our hash of state `frame + 1`.
    pub hash: Option<[u8; 32]>,
}

/// What a peer knew when it reached a verdict: the makings of a desync report.
#[derive(Clone, Debug)]
pub struct Evidence<S> {
    /// The disagreement.
    pub verdict: Verdict,
    /// The newest frame all peers agreed on, and our state of it when still kept.
    pub agreed: Option<(i32, Option<S>)>,
    /// Our kept states from [`EVIDENCE_BEFORE`] frames before the verdict's frame to the
    /// newest confirmed one, oldest first: peers' verdicts may name different frames (each
    /// decides a frame once it has heard every checksum of it), and a report compares states
    /// of the same frame.
    pub around: Vec<(i32, S)>,
    /// Our hashes of recent confirmed frames, oldest first.
    pub hashes: Vec<(i32, [u8; 32])>,
}

impl<S> Evidence<S> {
    /// Our saved state of the verdict's frame, when it was still kept (one of
    /// [`Evidence::around`]).
    pub fn state(&self) -> Option<&S> {
        self.around
            .iter()
            .find(|(frame, _)| *frame == self.verdict.frame)
            .map(|(_, state)| state)
    }
}

/// Confirmed inputs on their way out, and the inputs of frames not yet confirmed.
struct ConfirmedLog<I> {
    /// Inputs of simulated frames not yet handed out (the last simulation of each wins).
    pending: BTreeMap<i32, Vec<I>>,
    /// The next frame to hand out.
    next: i32,
    out: Vec<Confirmed<I>>,
}

/// Our recent saved states, for desync reports.
struct StateRing<S> {
    keep: usize,
    states: BTreeMap<i32, S>,
}

/// Hashes of this many frames before the verdict go into the evidence.
pub const EVIDENCE_HASHES: i32 = 120;
/// States of this many frames before the verdict go into the evidence.
pub const EVIDENCE_BEFORE: i32 = 60;

/// What one step did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Step {
    /// A frame was advanced.
    Advanced,
    /// Nothing to do yet: synchronizing, or too far ahead of the others.
    Waiting,
}

/// Work GGRS made the game do.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Work {
    /// Frames advanced for the first time.
    pub frames: u64,
    /// Rollbacks (loads).
    pub rollbacks: u64,
    /// Frames simulated again after rollbacks.
    pub resimulated: u64,
}

/// One peer as seen from here.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PeerStats {
    /// Seat.
    pub seat: usize,
    /// Round-trip time in milliseconds, once synchronized.
    pub ping_ms: Option<u128>,
    /// Frames we are behind them (negative: ahead).
    pub local_frames_behind: Option<i32>,
    /// Frames they are behind us.
    pub remote_frames_behind: Option<i32>,
    /// Datagrams and bytes, and drops by reason.
    pub traffic: Traffic,
}

/// A running peer-to-peer match.
pub struct Session<G: Rollback + 'static, T: Transport = SecureSocket> {
    ggrs: P2PSession<GgrsConfig<G, T::Addr>>,
    net: Rc<RefCell<T>>,
    game: G,
    seats: Vec<Seat<T::Addr>>,
    local_seat: usize,
    seat_of: BTreeMap<T::Addr, usize>,
    options: SessionOptions,
    consensus: Consensus,
    hashes: BTreeMap<i32, [u8; 32]>,
    work: Work,
    events: VecDeque<SessionEvent<T::Addr>>,
    left: Vec<usize>,
    /// Per seat: datagrams received when last counted, and when that count last grew.
    heard: Vec<(u64, std::time::Instant)>,
    sent_verdict: bool,
    /// Frames GGRS recommended we skip (we run ahead of the others), not yet taken.
    wait_frames: u32,
    /// The frame the game is in (follows GGRS's loads and advances).
    game_frame: i32,
    confirmed_log: Option<ConfirmedLog<G::Input>>,
    states: Option<StateRing<G::Snapshot>>,
    evidence: Option<Evidence<G::Snapshot>>,
    /// Peers we no longer send GGRS messages to nor take them from.
    muted: Rc<RefCell<BTreeSet<T::Addr>>>,
    /// Departures we know of, by seat: decided here, or a peer's notice that it went on
    /// without us. The frame is the first idle one (lowest known).
    departures: BTreeMap<usize, i32>,
    /// Seats we disconnected whose first idle frame GGRS has not simulated yet, and whether
    /// that frame is a departure whatever it is (our own decision), or only when it comes
    /// before every departure we know (we disconnected a peer that went on without us: if we
    /// lacked some of its inputs from before its notice's frame, the state we share with it
    /// is older than that frame, and it must hear so).
    departing: BTreeMap<usize, bool>,
    /// The newest frame each seat reported a checksum of: a peer that went on without us did
    /// so from a frame after every one it reported (GGRS reports only confirmed frames, which
    /// needed our inputs), so a departure notice naming that frame or an earlier one is a
    /// lie, meant to hide states already compared.
    reported_up_to: BTreeMap<usize, i32>,
    /// Seats to disconnect from GGRS once that is safe, and whether the departure counts
    /// whatever its frame (as in `departing`). GGRS 0.13 panics ("must load frame in the
    /// past") when a player is disconnected while its last input is exactly the frame before
    /// the current one; once an advance lacked the seat's input, the current frame is at
    /// least two past its last input, and the disconnect is safe.
    to_disconnect: BTreeMap<usize, bool>,
    /// Per seat, whether a frame GGRS advanced since the seat was muted lacked its input
    /// (predicted it, or GGRS had disconnected the seat itself). Only advances after the mute
    /// count: from then on its last input is frozen, so once one lacked it, the current frame
    /// stays at least two past it.
    predicted: Vec<bool>,
    /// Per seat, the first frame GGRS ever advanced with its input disconnected (also when
    /// GGRS's own timeout disconnected it, re-simulating from there within one advance).
    idle_from: BTreeMap<usize, i32>,
    /// Our own decisions, announced to every player.
    announced: Vec<Departure>,
    last_notice: Option<Instant>,
    /// Our hash of each departure's frame, kept once confirmed (the ring of recent hashes may
    /// lose it before the match ends).
    departure_hashes: BTreeMap<i32, [u8; 32]>,
    /// Control messages that are not ours, for [`Session::take_control`].
    control: VecDeque<(T::Addr, Vec<u8>)>,
}

impl<G: Rollback + 'static, T: Transport> Session<G, T> {
    /// Starts GGRS for `game` with the given seats (exactly one [`Seat::Local`]) and
    /// spectators, over `net`, whose links to every remote seat and spectator must be up.
    ///
    /// # Errors
    /// [`SessionError::Setup`] when GGRS refuses the configuration.
    pub fn start(
        game: G,
        net: Rc<RefCell<T>>,
        seats: Vec<Seat<T::Addr>>,
        spectators: &[T::Addr],
        options: SessionOptions,
    ) -> Result<Session<G, T>, SessionError> {
        if !MAX_PREDICTION_RANGE.contains(&options.max_prediction) {
            return Err(SessionError::Setup(GgrsError::InvalidRequest {
                info: format!(
                    "a prediction window of {} frames is outside {MAX_PREDICTION_RANGE:?}",
                    options.max_prediction
                ),
            }));
        }
        let local_seat = seats
            .iter()
            .position(|s| *s == Seat::Local)
            .ok_or_else(|| {
                SessionError::Setup(GgrsError::InvalidRequest {
                    info: "no local seat".into(),
                })
            })?;
        let mut builder = SessionBuilder::<GgrsConfig<G, T::Addr>>::new()
            .with_num_players(seats.len())
            .map_err(SessionError::Setup)?
            .with_input_delay(options.input_delay)
            .with_max_prediction_window(options.max_prediction)
            .with_fps(options.fps)
            .map_err(SessionError::Setup)?
            .with_desync_detection_mode(DesyncDetection::On { interval: 1 })
            .with_disconnect_timeout(options.disconnect_timeout)
            .with_disconnect_notify_delay(options.disconnect_timeout / 3);
        let mut seat_of = BTreeMap::new();
        for (handle, seat) in seats.iter().enumerate() {
            let player = match seat {
                Seat::Local => PlayerType::Local,
                Seat::Remote(addr) => {
                    if seat_of.insert(*addr, handle).is_some() {
                        return Err(SessionError::Duplicate(addr.to_string()));
                    }
                    PlayerType::Remote(*addr)
                }
            };
            builder = builder
                .add_player(player, handle)
                .map_err(SessionError::Setup)?;
        }
        if seats.iter().filter(|s| **s == Seat::Local).count() > 1 {
            return Err(SessionError::Setup(GgrsError::InvalidRequest {
                info: "more than one local seat".into(),
            }));
        }
        for (i, addr) in spectators.iter().enumerate() {
            if seat_of.contains_key(addr) || spectators[..i].contains(addr) {
                return Err(SessionError::Duplicate(addr.to_string()));
            }
        }
        for (i, addr) in spectators.iter().enumerate() {
            net.borrow_mut().mailbox().set_spectator(*addr);
            builder = builder
                .add_player(PlayerType::Spectator(*addr), seats.len() + i)
                .map_err(SessionError::Setup)?;
        }
        let muted = Rc::new(RefCell::new(BTreeSet::new()));
        let ggrs = builder
            .start_p2p_session(SessionSocket {
                inner: GgrsSocket(net.clone()),
                muted: muted.clone(),
            })
            .map_err(SessionError::Setup)?;
        let seats_len = seats.len();
        Ok(Session {
            ggrs,
            net,
            game,
            consensus: Consensus::new(seats.len(), local_seat),
            seats,
            local_seat,
            seat_of,
            options,
            hashes: BTreeMap::new(),
            work: Work::default(),
            events: VecDeque::new(),
            left: Vec::new(),
            heard: vec![(0, std::time::Instant::now()); seats_len],
            sent_verdict: false,
            wait_frames: 0,
            game_frame: 0,
            confirmed_log: None,
            states: None,
            evidence: None,
            muted,
            departures: BTreeMap::new(),
            departing: BTreeMap::new(),
            reported_up_to: BTreeMap::new(),
            to_disconnect: BTreeMap::new(),
            predicted: Vec::new(),
            idle_from: BTreeMap::new(),
            announced: Vec::new(),
            last_notice: None,
            departure_hashes: BTreeMap::new(),
            control: VecDeque::new(),
        })
    }

    /// From now on, keeps the confirmed inputs of every frame for [`Session::take_confirmed`]
    /// (call it before the first step, or the frames before are lost).
    pub fn keep_confirmed(&mut self) {
        self.confirmed_log.get_or_insert_with(|| ConfirmedLog {
            pending: BTreeMap::new(),
            next: self.game_frame,
            out: Vec::new(),
        });
    }

    /// Takes the frames confirmed since the last call, in order, each with its inputs and
    /// our hash of the state they led to. A frame is handed out once every peer's input of
    /// it arrived and the state after it was saved, so never a predicted one.
    pub fn take_confirmed(&mut self) -> Vec<Confirmed<G::Input>> {
        self.confirmed_log
            .as_mut()
            .map(|log| std::mem::take(&mut log.out))
            .unwrap_or_default()
    }

    /// From now on, keeps our saved states of the last `frames` frames, so that a verdict
    /// comes with [`Evidence`] ([`Session::take_evidence`]).
    pub fn keep_states(&mut self, frames: usize) {
        self.states = Some(StateRing {
            keep: frames.max(1),
            states: BTreeMap::new(),
        });
    }

    /// Takes what we knew when we reached our verdict (once; None before a verdict, or when
    /// states were not kept).
    pub fn take_evidence(&mut self) -> Option<Evidence<G::Snapshot>> {
        self.evidence.take()
    }

    /// The socket validates GGRS messages against our current frame.
    fn tell_net_where_we_are(&self) {
        let frame = self.ggrs.current_frame();
        self.net.borrow_mut().mailbox().set_frame(frame);
    }

    /// Reads the network and GGRS's events without advancing.
    pub fn poll(&mut self) {
        self.tell_net_where_we_are();
        self.ggrs.poll_remote_clients();
        self.net
            .borrow_mut()
            .flush_every(self.options.send_every_frames);
        self.after_poll();
    }

    /// Advances one frame with `input` as the local player's input, if GGRS allows.
    ///
    /// # Errors
    /// [`SessionError`] when GGRS fails or a peer left and the session ends then.
    pub fn step(&mut self, input: G::Input) -> Result<Step, SessionError> {
        let step = self.step_unflushed(input);
        // What GGRS sent during this step leaves with the next datagram to each peer.
        self.net
            .borrow_mut()
            .flush_every(self.options.send_every_frames);
        step
    }

    fn step_unflushed(&mut self, input: G::Input) -> Result<Step, SessionError> {
        self.tell_net_where_we_are();
        self.ggrs.poll_remote_clients();
        self.after_poll();
        if let Some(failure) = self.net.borrow().failure() {
            return Err(SessionError::Transport(failure));
        }
        if let Some(&seat) = self.left.first() {
            if self.options.on_disconnect == OnDisconnect::End {
                return Err(SessionError::PeerLeft(seat));
            }
        }
        if self.ggrs.current_state() != SessionState::Running {
            return Ok(Step::Waiting);
        }
        self.ggrs
            .add_local_input(self.local_seat, input)
            .map_err(SessionError::Ggrs)?;
        self.disconnect_when_safe();
        let requests = match self.ggrs.advance_frame() {
            Ok(requests) => requests,
            Err(GgrsError::PredictionThreshold) => return Ok(Step::Waiting),
            Err(err) => return Err(SessionError::Ggrs(err)),
        };
        self.fulfil(requests)?;
        self.consensus.confirm(self.ggrs.confirmed_frame());
        self.hand_out_confirmed();
        self.after_poll();
        Ok(Step::Advanced)
    }

    /// Moves frames whose inputs are all confirmed, and whose resulting state is saved, to
    /// the confirmed log's output. GGRS corrects every misprediction up to its confirmed
    /// frame within the same advance, so the inputs and hashes kept for those frames are
    /// the final ones.
    fn hand_out_confirmed(&mut self) {
        let confirmed = self.ggrs.confirmed_frame();
        let Some(log) = self.confirmed_log.as_mut() else {
            return;
        };
        while log.next <= confirmed && log.next + 1 < self.game_frame {
            let Some(inputs) = log.pending.remove(&log.next) else {
                break;
            };
            log.out.push(Confirmed {
                frame: log.next,
                inputs,
                hash: self.hashes.get(&(log.next + 1)).copied(),
            });
            log.next += 1;
        }
    }

    fn fulfil(
        &mut self,
        requests: Vec<GgrsRequest<GgrsConfig<G, T::Addr>>>,
    ) -> Result<(), SessionError> {
        let mut inputs = Vec::with_capacity(self.seats.len());
        let mut rolled_back = false;
        let mut advances = 0u64;
        for request in requests {
            match request {
                GgrsRequest::SaveGameState { cell, frame } => {
                    let hash = self.game.state_hash();
                    let checksum = checksum_of(&hash);
                    let snapshot = self.game.save();
                    if let Some(ring) = self.states.as_mut() {
                        ring.states.insert(frame, snapshot.clone());
                        while ring.states.len() > ring.keep {
                            ring.states.pop_first();
                        }
                    }
                    cell.save(frame, Some(snapshot), Some(checksum));
                    self.consensus.saved(frame, checksum);
                    remember(&mut self.hashes, frame, hash);
                }
                GgrsRequest::LoadGameState { cell, frame } => {
                    let snapshot = cell.load().ok_or(SessionError::MissingState(frame))?;
                    self.game.load(&snapshot);
                    self.game_frame = frame;
                    self.work.rollbacks += 1;
                    rolled_back = true;
                }
                GgrsRequest::AdvanceFrame { inputs: given } => {
                    if self.predicted.len() < given.len() {
                        self.predicted.resize(given.len(), false);
                    }
                    for (seat, (_, status)) in given.iter().enumerate() {
                        if *status != InputStatus::Confirmed {
                            self.predicted[seat] = true;
                        }
                        if *status == InputStatus::Disconnected {
                            let first = self.idle_from.entry(seat).or_insert(self.game_frame);
                            *first = (*first).min(self.game_frame);
                        }
                    }
                    if !self.departing.is_empty() {
                        self.note_idle_inputs(&given);
                    }
                    inputs.clear();
                    inputs.extend(given.iter().map(|(input, _)| *input));
                    self.game.advance(&inputs);
                    if let Some(log) = self.confirmed_log.as_mut() {
                        if self.game_frame >= log.next {
                            log.pending.insert(self.game_frame, inputs.clone());
                        }
                    }
                    self.game_frame += 1;
                    advances += 1;
                }
            }
        }
        if rolled_back {
            // All but the last advance after a load re-simulate frames played before.
            self.work.resimulated += advances.saturating_sub(1);
            self.work.frames += advances.min(1);
        } else {
            self.work.frames += advances;
        }
        Ok(())
    }

    /// A seat we decided has left gets its first idle frame from GGRS itself: the first frame
    /// GGRS advances with that seat's input marked disconnected (after disconnecting a player,
    /// GGRS re-simulates from the frame after its last received input).
    fn note_idle_inputs(&mut self, given: &[(G::Input, InputStatus)]) {
        for (seat, (_, status)) in given.iter().enumerate() {
            if *status != InputStatus::Disconnected {
                continue;
            }
            let frame = self
                .idle_from
                .get(&seat)
                .copied()
                .unwrap_or(self.game_frame);
            let Some(always) = self.departing.remove(&seat) else {
                continue;
            };
            let earliest = self.departures.values().copied().min();
            if always || earliest.is_some_and(|e| frame < e) {
                let known = self.departures.entry(seat).or_insert(frame);
                *known = (*known).min(frame);
                // Our states from this frame on hold the seat's input idle: its checksums of
                // them are not ours to compare, whatever it announced.
                self.consensus.leave(seat, frame);
                self.announced.push(Departure { seat, frame });
                // Announce at once, before GGRS's next messages leave.
                self.last_notice = None;
            }
        }
    }

    /// Sends our departure decisions to every other player, now and every
    /// [`NOTICE_RESEND`].
    fn send_notices(&mut self) {
        if self.announced.is_empty()
            || self
                .last_notice
                .is_some_and(|at| at.elapsed() < NOTICE_RESEND)
        {
            return;
        }
        self.last_notice = Some(Instant::now());
        let mut net = self.net.borrow_mut();
        for seat in &self.seats {
            let Seat::Remote(addr) = seat else {
                continue;
            };
            for departure in &self.announced {
                let mut notice = vec![DEPARTURE_NOTICE, departure.seat as u8];
                notice.extend_from_slice(&departure.frame.to_le_bytes());
                net.send_control(*addr, &notice);
            }
        }
    }

    /// Reads control messages: departure notices are ours, the rest wait for
    /// [`Session::take_control`].
    fn read_control(&mut self) {
        loop {
            let next = self.net.borrow_mut().next_control();
            let Some((from, message)) = next else {
                break;
            };
            if message.first() == Some(&DEPARTURE_NOTICE) {
                self.on_notice(from, &message);
            } else if self.control.len() < CONTROL_KEPT {
                self.control.push_back((from, message));
            }
        }
    }

    /// A peer says it went on without a seat from a frame on. Only a notice naming us
    /// changes anything here: that peer no longer counts our inputs, so we no longer play
    /// with it, and its states after the frame are not ours to compare. (Notices naming a
    /// third player are the business of that player and of agreed departures, not of this.)
    fn on_notice(&mut self, from: T::Addr, message: &[u8]) {
        let Some(&sender) = self.seat_of.get(&from) else {
            return;
        };
        let parsed = match message {
            [_, seat, a, b, c, d] => {
                Some((usize::from(*seat), i32::from_le_bytes([*a, *b, *c, *d])))
            }
            _ => None,
        };
        // It cannot have stopped later than the inputs we have made so far.
        let newest = self.ggrs.current_frame() + self.options.input_delay as i32 + 1;
        let Some((seat, frame)) = parsed.filter(|&(_, f)| (0..=newest).contains(&f)) else {
            tracing::debug!(%from, "dropped a malformed departure notice");
            return;
        };
        // Only a notice naming us, and only in a 2-player match: with 3 or 4 players the
        // others still play the sender's real inputs, so obeying one peer's notice alone
        // would split us from them (agreed departures are for that).
        if seat != self.local_seat || self.seats.len() != 2 {
            return;
        }
        if self
            .reported_up_to
            .get(&sender)
            .is_some_and(|&newest| frame <= newest)
        {
            tracing::warn!(
                seat = sender,
                frame,
                "dropped a departure notice naming a frame the peer already reported a state after"
            );
            return;
        }
        let known = self.departures.entry(seat).or_insert(frame);
        if frame < *known {
            *known = frame;
        }
        if !self.left.contains(&sender) {
            tracing::warn!(seat = sender, frame, "the peer went on without us");
            self.left.push(sender);
            self.mute(from);
            self.consensus.leave(sender, frame);
            self.disconnect_later(sender, false);
            self.events.push_back(SessionEvent::Disconnected(sender));
        } else {
            self.consensus.leave(sender, frame);
        }
    }

    /// Queues `seat` (muted just now) to be disconnected from GGRS once that is safe.
    fn disconnect_later(&mut self, seat: usize, always: bool) {
        if let Some(flag) = self.predicted.get_mut(seat) {
            *flag = false;
        }
        let entry = self.to_disconnect.entry(seat).or_insert(always);
        *entry |= always;
    }

    /// Disconnects from GGRS the seats waiting for it, once GGRS has predicted their input
    /// (see `to_disconnect`): the seat's last input is then at least two frames back.
    fn disconnect_when_safe(&mut self) {
        if self.to_disconnect.is_empty() {
            return;
        }
        let ready: Vec<(usize, bool)> = self
            .to_disconnect
            .iter()
            .filter(|(&seat, _)| self.predicted.get(seat).copied().unwrap_or(false))
            .map(|(&seat, &always)| (seat, always))
            .collect();
        for (seat, always) in ready {
            self.to_disconnect.remove(&seat);
            // Err when GGRS already disconnected it itself (its own timeout): then GGRS
            // marks its later inputs disconnected all the same.
            let disconnected = self.ggrs.disconnect_player(seat).is_ok();
            if always || disconnected {
                self.departing.insert(seat, always);
            }
            // GGRS keeps one frame to re-simulate from (the newest disconnect's, not the
            // earliest): one disconnect per advance, the others at the next.
            if disconnected {
                break;
            }
        }
    }

    fn mute(&mut self, addr: T::Addr) {
        self.muted.borrow_mut().insert(addr);
    }

    /// Keeps our hash of every departure's frame once it is confirmed.
    fn keep_departure_hashes(&mut self) {
        if self.departures.is_empty() {
            return;
        }
        let confirmed = self.ggrs.confirmed_frame();
        for &frame in self.departures.values() {
            if frame <= confirmed && !self.departure_hashes.contains_key(&frame) {
                if let Some(&hash) = self.hashes.get(&frame) {
                    self.departure_hashes.insert(frame, hash);
                }
            }
        }
    }

    fn after_poll(&mut self) {
        // Notices first: a peer that went on without us may have sent states we no longer
        // share in the same poll.
        self.read_control();
        for event in self.ggrs.events().collect::<Vec<_>>() {
            self.on_ggrs_event(event);
        }
        self.notice_silence();
        let (checksums, links) = {
            let mut net = self.net.borrow_mut();
            (net.mailbox().take_checksums(), net.take_events())
        };
        for (addr, seen) in checksums {
            if let Some(&seat) = self.seat_of.get(&addr) {
                self.consensus.reported(seat, seen.frame, seen.checksum);
                let newest = self.reported_up_to.entry(seat).or_insert(seen.frame);
                *newest = (*newest).max(seen.frame);
            }
        }
        for link in links {
            match link {
                LinkEvent::ConfigMismatch(addr) => {
                    self.events.push_back(SessionEvent::ConfigMismatch(addr));
                }
                // A closed WebRTC connection is a departure we need not wait out.
                LinkEvent::Down(addr) => {
                    if let Some(&seat) = self.seat_of.get(&addr) {
                        self.peer_left(seat, addr);
                    }
                }
                LinkEvent::Up(_) => {}
            }
        }
        if !self.sent_verdict {
            if let Some(verdict) = self.consensus.verdict() {
                let checksums: Vec<String> = verdict
                    .checksums
                    .iter()
                    .map(|(seat, sum)| format!("{seat}:{sum:032x}"))
                    .collect();
                tracing::error!(
                    frame = verdict.frame,
                    diverged = ?verdict.diverged,
                    checksums = %checksums.join(" "),
                    "desync: confirmed states differ"
                );
                self.events.push_back(SessionEvent::Desync(verdict.clone()));
                self.sent_verdict = true;
                self.gather_evidence();
            }
        }
        self.keep_departure_hashes();
        self.send_notices();
    }

    /// Keeps what we know of the verdict's frame and the last agreed one, while the states
    /// are still in the ring.
    fn gather_evidence(&mut self) {
        let (Some(ring), Some(verdict)) = (self.states.as_ref(), self.consensus.verdict()) else {
            return;
        };
        let agreed = self
            .consensus
            .agreed_up_to()
            .map(|frame| (frame, ring.states.get(&frame).cloned()));
        let from = verdict.frame - EVIDENCE_HASHES;
        let to = self.ggrs.confirmed_frame().max(verdict.frame);
        self.evidence = Some(Evidence {
            verdict: verdict.clone(),
            around: ring
                .states
                .range(verdict.frame - EVIDENCE_BEFORE..=to)
                .map(|(frame, state)| (*frame, state.clone()))
                .collect(),
            agreed,
            hashes: self
                .hashes
                .range(from..=to)
                .map(|(frame, hash)| (*frame, *hash))
                .collect(),
        });
    }

    /// GGRS reports a disconnect it detects itself, but not one it learns from another
    /// peer's report. So a peer silent for the disconnect timeout counts as gone here too.
    fn notice_silence(&mut self) {
        let now = std::time::Instant::now();
        for seat in 0..self.seats.len() {
            let Seat::Remote(addr) = self.seats[seat] else {
                continue;
            };
            let received = self
                .net
                .borrow()
                .traffic(addr)
                .map_or(0, |t| t.packets_received);
            let (count, since) = &mut self.heard[seat];
            if received != *count {
                *count = received;
                *since = now;
            } else if now.saturating_duration_since(*since) >= self.options.disconnect_timeout {
                self.peer_left(seat, addr);
            }
        }
    }

    /// We go on without the player in `seat`: GGRS stops waiting for it (its inputs become
    /// idle from the frame after the last one we received), nothing more of GGRS's goes to
    /// it, consensus stops comparing its states past the frames we confirmed with it, and
    /// once GGRS names the first idle frame every player hears of it.
    fn peer_left(&mut self, seat: usize, addr: T::Addr) {
        if self.left.contains(&seat) {
            return;
        }
        tracing::warn!(seat, %addr, "peer left");
        self.left.push(seat);
        self.mute(addr);
        // Its inputs are real up to the newest frame we confirmed at least; later frames may
        // already be simulated without them.
        self.consensus.leave(seat, self.consensus.confirmed() + 1);
        self.disconnect_later(seat, true);
        self.events.push_back(SessionEvent::Disconnected(seat));
    }

    fn on_ggrs_event(&mut self, event: GgrsEvent<GgrsConfig<G, T::Addr>>) {
        let seat = |addr: &T::Addr| self.seat_of.get(addr).copied();
        let event = match event {
            GgrsEvent::Synchronized { addr } => seat(&addr).map(SessionEvent::Synchronized),
            GgrsEvent::NetworkInterrupted { addr, .. } => {
                seat(&addr).map(SessionEvent::Interrupted)
            }
            GgrsEvent::NetworkResumed { addr } => seat(&addr).map(SessionEvent::Resumed),
            GgrsEvent::Disconnected { addr } => {
                if let Some(seat) = seat(&addr) {
                    self.peer_left(seat, addr);
                }
                None
            }
            GgrsEvent::WaitRecommendation { skip_frames } => {
                self.wait_frames = self.wait_frames.max(skip_frames);
                None
            }
            // Consensus reaches its own verdicts from the same checksums; GGRS's pairwise
            // events would only repeat them.
            GgrsEvent::DesyncDetected { .. } | GgrsEvent::Synchronizing { .. } => None,
        };
        if let Some(event) = event {
            self.events.push_back(event);
        }
    }

    /// Takes GGRS's latest wait recommendation: the number of ticks a loop running at a fixed
    /// rate should spend only polling, because this peer runs ahead of the others (0: none).
    /// GGRS recommends at most once a second.
    pub fn take_wait_recommendation(&mut self) -> u32 {
        std::mem::take(&mut self.wait_frames)
    }

    /// Takes the events since the last call.
    pub fn take_events(&mut self) -> Vec<SessionEvent<T::Addr>> {
        self.events.drain(..).collect()
    }

    /// Whether GGRS finished synchronizing with every peer.
    pub fn is_running(&self) -> bool {
        self.ggrs.current_state() == SessionState::Running
    }

    /// The frame the game is at.
    pub fn current_frame(&self) -> i32 {
        self.ggrs.current_frame()
    }

    /// The last frame whose inputs every peer confirmed.
    pub fn confirmed_frame(&self) -> i32 {
        self.ggrs.confirmed_frame()
    }

    /// Whether the match reached `frame`: our state of it is confirmed and, when confirmed
    /// frames are kept, every frame before it was handed out. (A tick that only polls can
    /// confirm frames; they are handed out after the next advance, once GGRS corrected any
    /// misprediction the poll revealed.)
    pub fn reached(&self, frame: i32) -> bool {
        self.confirmed_hash(frame).is_some()
            && self
                .confirmed_log
                .as_ref()
                .is_none_or(|log| log.next >= frame)
    }

    /// Our state hash of `frame`, if it is confirmed and recent.
    pub fn confirmed_hash(&self, frame: i32) -> Option<[u8; 32]> {
        (frame <= self.ggrs.confirmed_frame())
            .then(|| self.hashes.get(&frame).copied())
            .flatten()
    }

    /// The newest frame all peers agreed on, while no disagreement was seen.
    pub fn agreed_up_to(&self) -> Option<i32> {
        self.consensus.agreed_up_to()
    }

    /// The first disagreement, if any.
    pub fn verdict(&self) -> Option<&Verdict> {
        self.consensus.verdict()
    }

    /// The departures we know of, by seat: the players we went on without, and our own seat
    /// when a peer went on without us.
    pub fn departures(&self) -> Vec<Departure> {
        self.departures
            .iter()
            .map(|(&seat, &frame)| Departure { seat, frame })
            .collect()
    }

    /// When nobody plays with us any more (every other player left, or went on without us):
    /// the last frame we shared with all of them, the earliest departure's frame, and our
    /// hash of it once confirmed. With two players this is the split: both sides know the
    /// same departures (from their own decision or the other's notice) and so name the same
    /// frame and hash.
    pub fn split(&self) -> Option<(i32, Option<[u8; 32]>)> {
        let alone =
            (0..self.seats.len()).all(|seat| seat == self.local_seat || self.left.contains(&seat));
        if !alone || !self.departing.is_empty() || !self.to_disconnect.is_empty() {
            return None;
        }
        let frame = self.departures.values().copied().min()?;
        Some((frame, self.departure_hashes.get(&frame).copied()))
    }

    /// Takes the control messages that arrived during the match and are not the session's
    /// (a joiner still asking the host, the host's resent roster).
    pub fn take_control(&mut self) -> Vec<(T::Addr, Vec<u8>)> {
        self.control.drain(..).collect()
    }

    /// Our seat.
    pub fn local_seat(&self) -> usize {
        self.local_seat
    }

    /// The game (for rendering: read its view, never change it).
    pub fn game(&self) -> &G {
        &self.game
    }

    /// Work GGRS made the game do.
    pub fn work(&self) -> Work {
        self.work
    }

    /// Frames GGRS suggests we are ahead of the others (positive: wait).
    pub fn frames_ahead(&self) -> i32 {
        self.ggrs.frames_ahead()
    }

    /// Statistics of every remote seat.
    pub fn peer_stats(&self) -> Vec<PeerStats> {
        let net = self.net.borrow();
        self.seats
            .iter()
            .enumerate()
            .filter_map(|(seat, s)| match s {
                Seat::Local => None,
                Seat::Remote(addr) => {
                    let ggrs = self.ggrs.network_stats(seat).ok();
                    Some(PeerStats {
                        seat,
                        ping_ms: ggrs.map(|s| s.ping),
                        local_frames_behind: ggrs.map(|s| s.local_frames_behind),
                        remote_frames_behind: ggrs.map(|s| s.remote_frames_behind),
                        traffic: net.traffic(*addr).cloned().unwrap_or_default(),
                    })
                }
            })
            .collect()
    }

    /// The transport, for counters of strangers and the like.
    pub fn net(&self) -> &Rc<RefCell<T>> {
        &self.net
    }
}

/// A spectator following a match through one host.
pub struct Spectator<G: Rollback + 'static, T: Transport = SecureSocket> {
    ggrs: SpectatorSession<GgrsConfig<G, T::Addr>>,
    net: Rc<RefCell<T>>,
    game: G,
    hashes: BTreeMap<i32, [u8; 32]>,
    frames: u64,
    /// Frames advanced, kept for [`Spectator::take_confirmed`] (None: not kept).
    confirmed: Option<Vec<Confirmed<G::Input>>>,
}

impl<G: Rollback + 'static, T: Transport> Spectator<G, T> {
    /// Follows the match of `players` players hosted at `host`, over `net` (link up).
    ///
    /// # Errors
    /// [`SessionError::Setup`] when GGRS refuses the configuration.
    pub fn start(
        game: G,
        net: Rc<RefCell<T>>,
        host: T::Addr,
        players: usize,
        options: SessionOptions,
    ) -> Result<Self, SessionError> {
        let ggrs = SessionBuilder::<GgrsConfig<G, T::Addr>>::new()
            .with_num_players(players)
            .and_then(|b| b.with_fps(options.fps))
            .map_err(SessionError::Setup)?
            .with_max_prediction_window(options.max_prediction)
            .with_disconnect_timeout(options.disconnect_timeout)
            .start_spectator_session(host, GgrsSocket(net.clone()));
        net.borrow_mut().mailbox().set_spectating(true);
        Ok(Spectator {
            ggrs,
            net,
            game,
            hashes: BTreeMap::new(),
            frames: 0,
            confirmed: None,
        })
    }

    /// From now on, keeps every frame's inputs for [`Spectator::take_confirmed`] (a
    /// spectator only ever sees confirmed inputs).
    pub fn keep_confirmed(&mut self) {
        self.confirmed.get_or_insert_with(Vec::new);
    }

    /// Takes the frames advanced since the last call, with their inputs and hashes.
    pub fn take_confirmed(&mut self) -> Vec<Confirmed<G::Input>> {
        self.confirmed
            .as_mut()
            .map(std::mem::take)
            .unwrap_or_default()
    }

    /// Advances as far as the host's inputs allow, one frame per call.
    ///
    /// # Errors
    /// [`SessionError::Ggrs`] when GGRS fails.
    pub fn step(&mut self) -> Result<Step, SessionError> {
        let step = self.step_unflushed();
        self.net.borrow_mut().flush_every(1);
        step
    }

    fn step_unflushed(&mut self) -> Result<Step, SessionError> {
        let frame = self.current_frame();
        self.net.borrow_mut().mailbox().set_frame(frame);
        self.ggrs.poll_remote_clients();
        for _ in self.ggrs.events() {}
        if let Some(failure) = self.net.borrow().failure() {
            return Err(SessionError::Transport(failure));
        }
        if self.ggrs.current_state() != SessionState::Running {
            return Ok(Step::Waiting);
        }
        let requests = match self.ggrs.advance_frame() {
            Ok(requests) => requests,
            Err(GgrsError::PredictionThreshold) => return Ok(Step::Waiting),
            Err(err) => return Err(SessionError::Ggrs(err)),
        };
        let mut inputs = Vec::new();
        let before = self.frames;
        for request in requests {
            if let GgrsRequest::AdvanceFrame { inputs: given } = request {
                inputs.clear();
                inputs.extend(given.iter().map(|(input, _)| *input));
                self.game.advance(&inputs);
                self.frames += 1;
                // After n advances the game is in state n, which is what peers call frame n.
                let frame = i32::try_from(self.frames).unwrap_or(i32::MAX);
                let hash = self.game.state_hash();
                remember(&mut self.hashes, frame, hash);
                if let Some(out) = self.confirmed.as_mut() {
                    out.push(Confirmed {
                        frame: frame - 1,
                        inputs: inputs.clone(),
                        hash: Some(hash),
                    });
                }
            }
        }
        Ok(if self.frames > before {
            Step::Advanced
        } else {
            Step::Waiting
        })
    }

    /// Whether GGRS finished synchronizing with the host.
    pub fn is_running(&self) -> bool {
        self.ggrs.current_state() == SessionState::Running
    }

    /// The frame the spectator's game is at.
    pub fn current_frame(&self) -> i32 {
        i32::try_from(self.frames).unwrap_or(i32::MAX)
    }

    /// The state hash at `frame`, if recent.
    pub fn hash_at(&self, frame: i32) -> Option<[u8; 32]> {
        self.hashes.get(&frame).copied()
    }

    /// The game.
    pub fn game(&self) -> &G {
        &self.game
    }
}
