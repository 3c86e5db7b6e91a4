//! A whole match on this machine: N peers in one process, each with its own socket on
//! loopback (encrypted UDP, or WebRTC through an embedded signaling server), bots on every
//! seat. What `hltd demo --headless` runs, and what the tests drive.

use std::cell::RefCell;
use std::net::{Ipv4Addr, SocketAddr};
use std::rc::Rc;
use std::time::{Duration, Instant};

use sim::{Game, Input, Script, Settings};

use crate::consensus::Verdict;
use crate::game::Rollback;
#[cfg(feature = "webrtc")]
use crate::invite::RoomCode;
use crate::invite::Secret;
use crate::lobby::Plan;
#[cfg(feature = "webrtc")]
use crate::rtc::{IceServers, RtcError, RtcSocket};
use crate::session::{
    config_digest, Confirmed, Departure, Evidence, PeerStats, Seat, Session, SessionError,
    SessionEvent, SessionOptions, Spectator, Step, Work,
};
#[cfg(feature = "webrtc")]
use crate::signal::{EmbeddedSignal, SignalError};
use crate::transport::{Faults, Transport};
use crate::udp::{Net, SecureSocket, SocketError};

/// Longest a local match may take before it is called stuck, beyond a second per 60 frames.
pub const STALL_GRACE: Duration = Duration::from_secs(20);
/// Longest the handshakes may take.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// Longest the WebRTC connections may take (ICE, DTLS and SCTP for every pair).
pub const RTC_CONNECT_TIMEOUT: Duration = Duration::from_secs(20);

/// What carries a local match.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum LocalTransport {
    /// Encrypted UDP on loopback.
    #[default]
    Udp,
    /// WebRTC data channels, through a signaling server embedded for the match.
    WebRtc,
}

/// What to run.
#[derive(Clone, Debug)]
pub struct LocalMatchOptions {
    /// Peers, 1..=4, one seat each.
    pub peers: usize,
    /// Frames to confirm.
    pub frames: u32,
    /// Game seed (also the bots' seed).
    pub seed: u64,
    /// How the bots play ([`Script::Human`] moves its cursor like a person).
    pub bots: Script,
    /// Datagrams each peer loses, in parts per million.
    pub loss_ppm: u32,
    /// Delay added to every datagram.
    pub latency: Duration,
    /// Flip a bit of this seat's state when it reaches this frame.
    pub inject_desync: Option<(usize, u32)>,
    /// This seat stops playing (goes silent) at this frame, as if its player quit.
    pub leave: Option<(usize, u32)>,
    /// Also run a spectator of seat 0's session.
    pub spectator: bool,
    /// Step every peer once per frame period (`1 / fps`), as a real game would, instead of
    /// as fast as the protocol allows.
    pub realtime: bool,
    /// GGRS options.
    pub session: SessionOptions,
    /// What carries the match.
    pub transport: LocalTransport,
}

/// What happened.
#[derive(Clone, Debug)]
pub struct LocalMatchReport {
    /// Frames confirmed by every peer.
    pub frames: u32,
    /// Every peer's state hash at `frames`, by seat.
    pub hashes: Vec<[u8; 32]>,
    /// Every peer's verdict, by seat (None: it saw no disagreement).
    pub verdicts: Vec<Option<Verdict>>,
    /// Every peer's work and statistics, by seat.
    pub peers: Vec<PeerReport>,
    /// For every seat: the seats it saw leave.
    pub disconnects: Vec<Vec<usize>>,
    /// The seat that left, if one did (its hash and verdict are not compared).
    pub departed: Option<usize>,
    /// The spectator's hash at `frames`, when one ran.
    pub spectator_hash: Option<[u8; 32]>,
    /// Time from creating the sockets to every link up.
    pub connect_time: Duration,
    /// Time from starting GGRS to every session running.
    pub sync_time: Duration,
    /// Time the whole match took.
    pub elapsed: Duration,
}

impl LocalMatchReport {
    /// Whether all peers have the same hash at the end and nobody saw a disagreement.
    pub fn agreed(&self) -> bool {
        let present: Vec<usize> = (0..self.hashes.len())
            .filter(|&s| Some(s) != self.departed)
            .collect();
        let first = self.hashes[present[0]];
        present
            .iter()
            .all(|&s| self.verdicts[s].is_none() && self.hashes[s] == first)
    }
}

/// One peer's numbers.
#[derive(Clone, Debug)]
pub struct PeerReport {
    /// What GGRS made it simulate.
    pub work: Work,
    /// Its view of each other peer.
    pub links: Vec<PeerStats>,
    /// Newest frame it saw agreed by all.
    pub agreed_up_to: Option<i32>,
}

/// Why a local match failed to run (a desync is not a failure: it is in the report).
#[derive(Debug, thiserror::Error)]
pub enum LocalMatchError {
    /// The options name an impossible match (the game's settings say why).
    #[error("invalid match: {0}")]
    Settings(#[from] sim::SettingsError),
    /// Sockets could not be set up.
    #[error(transparent)]
    Socket(#[from] SocketError),
    /// GGRS failed.
    #[error(transparent)]
    Session(#[from] SessionError),
    /// No randomness for the secret.
    #[error("no randomness for the session secret: {0}")]
    Random(getrandom::Error),
    /// Handshakes did not complete in time.
    #[error("peers did not connect within {0:?}")]
    ConnectTimeout(Duration),
    /// A WebRTC socket could not start.
    #[cfg(feature = "webrtc")]
    #[error(transparent)]
    Rtc(#[from] RtcError),
    /// The signaling server could not start.
    #[cfg(feature = "webrtc")]
    #[error(transparent)]
    Signal(#[from] SignalError),
    /// The match made no progress in time.
    #[error("the match stalled: {0}")]
    Stalled(String),
    /// The plan breaks the roster's rules.
    #[error("invalid plan: {0}")]
    Plan(#[from] crate::lobby::RosterError),
}

/// A sim game whose state gets one bit flipped at a chosen frame: a stand-in for a
/// non-deterministic bug, to exercise desync detection.
pub struct Faulty {
    game: Game,
    flip_at: Option<u32>,
}

impl Faulty {
    /// The game's picture, for renderers.
    pub fn view(&self) -> sim::View {
        self.game.view()
    }
}

impl Rollback for Faulty {
    type Input = Input;
    type Snapshot = sim::Snapshot;

    fn advance(&mut self, inputs: &[Input]) {
        self.game.advance(inputs);
        if self.flip_at == Some(self.game.frame()) {
            self.game.inject_desync();
        }
    }
    fn save(&self) -> sim::Snapshot {
        self.game.save()
    }
    fn load(&mut self, snapshot: &sim::Snapshot) {
        self.game.load(snapshot);
    }
    fn state_hash(&self) -> [u8; 32] {
        self.game.hash().0
    }
}

/// States kept per session for desync evidence, when an observer asks for it (4 s at 60 Hz).
pub const EVIDENCE_STATES: usize = 240;

/// Someone following a running match from outside, to record it: `net` hands out confirmed
/// inputs and desync evidence, and knows nothing of files.
pub trait Observer {
    /// Whether to collect the confirmed frames of `seat` (None: the spectator).
    fn wants_confirmed(&self, _seat: Option<usize>) -> bool {
        false
    }
    /// Whether sessions should keep recent states, so a verdict comes with evidence.
    fn wants_evidence(&self) -> bool {
        false
    }
    /// Frames `seat` (None: the spectator) confirmed since the last call, in order.
    fn confirmed(&mut self, _seat: Option<usize>, _frames: Vec<Confirmed<Input>>) {}
    /// What `seat` knew when it reached its verdict.
    fn evidence(&mut self, _seat: usize, _evidence: Evidence<sim::Snapshot>) {}
}

/// Nobody listening.
impl Observer for () {}

/// Runs a match between `options.peers` bots on loopback, to `options.frames` confirmed frames.
///
/// # Errors
/// [`LocalMatchError`] when the match cannot be set up or stalls.
pub fn run_local_match(options: &LocalMatchOptions) -> Result<LocalMatchReport, LocalMatchError> {
    run_observed(options, &mut ())
}

/// [`run_local_match`], telling `observer` what the sessions confirm as they go.
///
/// # Errors
/// [`LocalMatchError`] when the match cannot be set up or stalls.
pub fn run_observed(
    options: &LocalMatchOptions,
    observer: &mut dyn Observer,
) -> Result<LocalMatchReport, LocalMatchError> {
    let started = Instant::now();
    match options.transport {
        LocalTransport::Udp => {
            play_local(options, LocalMatch::start_udp(options)?, started, observer)
        }
        #[cfg(feature = "webrtc")]
        LocalTransport::WebRtc => {
            play_local(options, LocalMatch::start_rtc(options)?, started, observer)
        }
        #[cfg(not(feature = "webrtc"))]
        LocalTransport::WebRtc => Err(LocalMatchError::Stalled(
            "this build has no WebRTC (net's `webrtc` feature)".into(),
        )),
    }
}

/// The sessions of a local match, started and connected, for a caller that steps them itself
/// (the live demo). `sessions[seat]` plays `seat`.
pub struct LocalMatch<T: Transport> {
    /// Every peer's session, by seat.
    pub sessions: Vec<Session<Faulty, T>>,
    /// The spectator, when one was asked for.
    pub spectator: Option<Spectator<Game, T>>,
    /// Time from creating the sockets to every link up.
    pub connect_time: Duration,
    /// The signaling server of a WebRTC match, kept for the match's length.
    #[cfg(feature = "webrtc")]
    signal: Option<EmbeddedSignal>,
}

impl<T: Transport> LocalMatch<T> {
    /// Makes the sessions keep what `observer` wants (before the first step).
    pub fn observe_with(&mut self, observer: &dyn Observer) {
        for (seat, session) in self.sessions.iter_mut().enumerate() {
            if observer.wants_confirmed(Some(seat)) {
                session.keep_confirmed();
            }
            if observer.wants_evidence() {
                session.keep_states(EVIDENCE_STATES);
            }
        }
        if let Some(spectator) = self.spectator.as_mut() {
            if observer.wants_confirmed(None) {
                spectator.keep_confirmed();
            }
        }
    }

    /// Hands `observer` what the sessions confirmed, and any evidence, since the last call.
    pub fn report_to(&mut self, observer: &mut dyn Observer) {
        for (seat, session) in self.sessions.iter_mut().enumerate() {
            report_session(seat, session, observer);
        }
        if let Some(spectator) = self.spectator.as_mut() {
            let frames = spectator.take_confirmed();
            if !frames.is_empty() {
                observer.confirmed(None, frames);
            }
        }
    }
}

fn report_session<T: Transport>(
    seat: usize,
    session: &mut Session<Faulty, T>,
    observer: &mut dyn Observer,
) {
    let frames = session.take_confirmed();
    if !frames.is_empty() {
        observer.confirmed(Some(seat), frames);
    }
    if let Some(evidence) = session.take_evidence() {
        observer.evidence(seat, evidence);
    }
}

impl LocalMatch<SecureSocket> {
    /// Starts a match over encrypted loopback UDP (`options.transport` is not consulted).
    ///
    /// # Errors
    /// [`LocalMatchError`] when the match cannot be set up.
    pub fn start_udp(options: &LocalMatchOptions) -> Result<Self, LocalMatchError> {
        let started = Instant::now();
        let settings = settings_of(options)?;
        let (nets, spectator) = udp_sockets(options)?;
        start_local(options, settings, nets, spectator, started, CONNECT_TIMEOUT)
    }
}

#[cfg(feature = "webrtc")]
impl LocalMatch<RtcSocket> {
    /// Starts a match over WebRTC on this machine, through a signaling server embedded for
    /// the match's length (`options.transport` is not consulted).
    ///
    /// # Errors
    /// [`LocalMatchError`] when the match cannot be set up.
    pub fn start_rtc(options: &LocalMatchOptions) -> Result<Self, LocalMatchError> {
        let started = Instant::now();
        let settings = settings_of(options)?;
        let signal = EmbeddedSignal::start(SocketAddr::from((Ipv4Addr::LOCALHOST, 0)))?;
        let room = RoomCode::generate().map_err(LocalMatchError::Random)?;
        signal.serve_only(&room.room_name());
        let url = signal.url();
        let ice = IceServers::default();
        let nets = (0..options.peers)
            .map(|_| RtcSocket::connect(&url, &room, &ice))
            .collect::<Result<Vec<_>, _>>()?;
        let spectator = if options.spectator {
            Some(RtcSocket::connect(&url, &room, &ice)?)
        } else {
            None
        };
        let mut m = start_local(
            options,
            settings,
            nets,
            spectator,
            started,
            RTC_CONNECT_TIMEOUT,
        )?;
        m.signal = Some(signal);
        Ok(m)
    }
}

/// The game's settings for a local match (the options' player count checked there).
fn settings_of(options: &LocalMatchOptions) -> Result<Settings, LocalMatchError> {
    let players = u32::try_from(options.peers).unwrap_or(u32::MAX);
    Ok(Settings::new(
        options.seed,
        players,
        sim::Scenario::Standard,
        None,
    )?)
}

/// One socket per peer (and the spectator's), on loopback, sharing a fresh secret.
fn udp_sockets(options: &LocalMatchOptions) -> Result<(Vec<Net>, Option<Net>), LocalMatchError> {
    let loopback = SocketAddr::from((Ipv4Addr::LOCALHOST, 0));
    let psk = Secret::generate().map_err(LocalMatchError::Random)?.psk();
    let digest = config_digest(sim::RULES_VERSION, &options.session);
    let nets: Vec<Net> = (0..options.peers)
        .map(|_| SecureSocket::bind(loopback, psk, digest))
        .collect::<Result<_, _>>()?;
    let spectator = if options.spectator {
        Some(SecureSocket::bind(loopback, psk, digest)?)
    } else {
        None
    };
    Ok((nets, spectator))
}

fn start_local<T: Transport>(
    options: &LocalMatchOptions,
    settings: Settings,
    nets: Vec<Rc<RefCell<T>>>,
    spectator_net: Option<Rc<RefCell<T>>>,
    started: Instant,
    connect_timeout: Duration,
) -> Result<LocalMatch<T>, LocalMatchError> {
    let addrs: Vec<T::Addr> = nets
        .iter()
        .map(|n| n.borrow().local_addr())
        .collect::<Option<_>>()
        .ok_or(LocalMatchError::ConnectTimeout(connect_timeout))?;
    connect_all(&nets, &addrs, spectator_net.as_ref(), connect_timeout)?;
    let connect_time = started.elapsed();
    for (i, net) in nets.iter().enumerate() {
        net.borrow_mut().set_faults(Faults {
            loss_ppm: options.loss_ppm,
            latency: options.latency,
            seed: options.seed ^ (i as u64) << 32,
        });
    }

    let mut sessions = Vec::with_capacity(options.peers);
    for (me, net) in nets.iter().enumerate() {
        let seats = Seat::table(&addrs, me);
        let spectators: Vec<T::Addr> = match (&spectator_net, me) {
            (Some(s), 0) => s.borrow().local_addr().into_iter().collect(),
            _ => Vec::new(),
        };
        let game = Faulty {
            game: Game::new(settings),
            flip_at: options
                .inject_desync
                .filter(|&(seat, _)| seat == me)
                .map(|(_, f)| f),
        };
        sessions.push(Session::start(
            game,
            net.clone(),
            seats,
            &spectators,
            options.session,
        )?);
    }
    let spectator = match spectator_net {
        Some(net) => Some(Spectator::start(
            Game::new(settings),
            net,
            addrs[0],
            options.peers,
            options.session,
        )?),
        None => None,
    };
    Ok(LocalMatch {
        sessions,
        spectator,
        connect_time,
        #[cfg(feature = "webrtc")]
        signal: None,
    })
}

/// Plays a started local match to its end, as fast as the protocol allows (or in real time).
fn play_local<T: Transport>(
    options: &LocalMatchOptions,
    mut m: LocalMatch<T>,
    started: Instant,
    observer: &mut dyn Observer,
) -> Result<LocalMatchReport, LocalMatchError> {
    m.observe_with(observer);
    let outcome = play_local_observed(options, &mut m, started, observer);
    // What was confirmed before a failure is still worth keeping.
    m.report_to(observer);
    outcome
}

fn play_local_observed<T: Transport>(
    options: &LocalMatchOptions,
    m: &mut LocalMatch<T>,
    started: Instant,
    observer: &mut dyn Observer,
) -> Result<LocalMatchReport, LocalMatchError> {
    let LocalMatch {
        sessions,
        spectator,
        connect_time,
        ..
    } = m;
    let connect_time = *connect_time;

    let sync_started = Instant::now();
    let deadline = sync_started + STALL_GRACE + Duration::from_secs(u64::from(options.frames / 60));
    let mut sync_time = None;
    let mut disconnects = vec![Vec::new(); options.peers];
    let target = options.frames as i32;
    let period = Duration::from_secs(1) / options.session.fps.max(1) as u32;
    let mut next_tick = Instant::now();
    loop {
        if options.realtime {
            let now = Instant::now();
            if now < next_tick {
                std::thread::sleep(next_tick - now);
            }
            next_tick += period;
        }
        let mut done = true;
        for (seat, session) in sessions.iter_mut().enumerate() {
            let frame = session.current_frame().max(0) as u32;
            if options.leave.is_some_and(|(s, f)| s == seat && frame >= f) {
                continue;
            }
            let input = options.bots.input(options.seed, frame, seat as u8);
            session.step(input)?;
            for event in session.take_events() {
                log_event(seat, &event);
                if let SessionEvent::Disconnected(gone) = event {
                    disconnects[seat].push(gone);
                }
            }
            report_session(seat, session, observer);
            done &= session.reached(target);
        }
        if sync_time.is_none() && sessions.iter().all(Session::is_running) {
            sync_time = Some(sync_started.elapsed());
        }
        if let Some(spectator) = spectator.as_mut() {
            for _ in 0..4 {
                if spectator.step()? == Step::Waiting {
                    break;
                }
            }
            let frames = spectator.take_confirmed();
            if !frames.is_empty() {
                observer.confirmed(None, frames);
            }
            done &= spectator.current_frame() >= target;
        }
        if done {
            break;
        }
        if Instant::now() > deadline {
            let frames: Vec<String> = sessions
                .iter()
                .map(|s| format!("{}/{}", s.current_frame(), s.confirmed_frame()))
                .collect();
            return Err(LocalMatchError::Stalled(format!(
                "after {:?}, peers at current/confirmed frames {}",
                started.elapsed(),
                frames.join(" ")
            )));
        }
        if !options.realtime && (options.latency > Duration::ZERO || sync_time.is_none()) {
            std::thread::sleep(Duration::from_micros(200));
        }
    }
    // A last exchange so every peer hears the others' final checksums.
    let settle = Instant::now() + Duration::from_millis(50);
    while Instant::now() < settle {
        for session in sessions.iter_mut() {
            session.poll();
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    Ok(LocalMatchReport {
        frames: options.frames,
        hashes: sessions
            .iter()
            .map(|s| s.confirmed_hash(target).unwrap_or([0; 32]))
            .collect(),
        verdicts: sessions.iter().map(|s| s.verdict().cloned()).collect(),
        peers: sessions
            .iter()
            .map(|s| PeerReport {
                work: s.work(),
                links: s.peer_stats(),
                agreed_up_to: s.agreed_up_to(),
            })
            .collect(),
        disconnects,
        departed: options.leave.map(|(seat, _)| seat),
        spectator_hash: spectator.as_ref().and_then(|s| s.hash_at(target)),
        connect_time,
        sync_time: sync_time.unwrap_or_default(),
        elapsed: started.elapsed(),
    })
}

/// Every peer handshakes with every higher-numbered peer; the spectator with peer 0.
fn connect_all<T: Transport>(
    nets: &[Rc<RefCell<T>>],
    addrs: &[T::Addr],
    spectator: Option<&Rc<RefCell<T>>>,
    timeout: Duration,
) -> Result<(), LocalMatchError> {
    for (i, net) in nets.iter().enumerate() {
        for addr in &addrs[..i] {
            net.borrow_mut().open_link(*addr, false);
        }
        for addr in &addrs[i + 1..] {
            net.borrow_mut().open_link(*addr, true);
        }
    }
    nets[0].borrow_mut().set_accepting(spectator.is_some());
    if let Some(s) = spectator {
        s.borrow_mut().open_link(addrs[0], true);
    }
    let deadline = Instant::now() + timeout;
    loop {
        for net in nets.iter().chain(spectator) {
            net.borrow_mut().poll();
        }
        let all_up = nets.iter().enumerate().all(|(i, net)| {
            let net = net.borrow();
            addrs
                .iter()
                .enumerate()
                .all(|(j, a)| i == j || net.is_up(*a))
        });
        let spectator_up = spectator.is_none_or(|s| s.borrow().is_up(addrs[0]));
        if all_up && spectator_up {
            nets[0].borrow_mut().set_accepting(false);
            return Ok(());
        }
        for net in nets.iter().chain(spectator) {
            if let Some(failure) = net.borrow().failure() {
                return Err(SessionError::Transport(failure).into());
            }
        }
        if Instant::now() > deadline {
            return Err(LocalMatchError::ConnectTimeout(timeout));
        }
        std::thread::sleep(Duration::from_millis(1));
    }
}

fn log_event<A: std::fmt::Debug>(seat: usize, event: &SessionEvent<A>) {
    match event {
        SessionEvent::Desync(verdict) => tracing::warn!(seat, %verdict, "desync verdict"),
        other => tracing::debug!(seat, ?other, "session event"),
    }
}

/// What one peer of a match planned in a lobby saw.
#[derive(Clone, Debug)]
pub struct PlayedReport {
    /// Frames played with everyone we still played with at the end: the planned frames, or,
    /// when nobody plays with us any more, the frame of the earliest departure (the last
    /// state every side shares).
    pub frames: u32,
    /// The frames planned.
    pub planned: u32,
    /// The departures we know of, by seat (ours too, when a peer went on without us).
    pub departures: Vec<Departure>,
    /// Our seat (None: spectator).
    pub seat: Option<usize>,
    /// Players in the match.
    pub players: usize,
    /// Our state hash at `frames` (zeros when we never confirmed it).
    pub hash: [u8; 32],
    /// The verdict we reached, if any.
    pub verdict: Option<Verdict>,
    /// Newest frame we saw agreed by all.
    pub agreed_up_to: Option<i32>,
    /// Our work and links (empty for a spectator).
    pub peer: Option<PeerReport>,
    /// From starting GGRS to running.
    pub sync_time: Duration,
}

impl PlayedReport {
    /// No disagreement seen (a spectator has nothing to compare and always agrees).
    pub fn agreed(&self) -> bool {
        self.verdict.is_none()
    }
}

/// Which side of a planned match this process plays.
enum Side<T: Transport> {
    Player(Box<Session<Faulty, T>>),
    Watcher(Box<Spectator<Game, T>>),
}

/// A match planned in a lobby, started, for a caller that steps it once per tick: the
/// headless [`play_plan`] with a bot in our seat, or the terminal client with the user.
pub struct PlannedMatch<T: Transport> {
    side: Side<T>,
    net: Rc<RefCell<T>>,
    host: T::Addr,
    seat: Option<usize>,
    players: usize,
    target: i32,
    started: Instant,
    sync_time: Option<Duration>,
    finished: Option<Instant>,
    events: Vec<SessionEvent<T::Addr>>,
}

impl<T: Transport> PlannedMatch<T> {
    /// Starts GGRS for the plan: a player session in our seat, or a spectator of the host.
    ///
    /// # Errors
    /// [`LocalMatchError`] when the plan's settings or GGRS's configuration are refused.
    pub fn start(net: Rc<RefCell<T>>, plan: &Plan<T::Addr>) -> Result<Self, LocalMatchError> {
        let players = u32::try_from(plan.players.len()).unwrap_or(u32::MAX);
        let settings = Settings::new(plan.seed, players, sim::Scenario::Standard, None)?;
        let target = i32::try_from(plan.frames)
            .ok()
            .filter(|&f| (1..=crate::lobby::FRAMES_MAX as i32).contains(&f))
            .ok_or(crate::lobby::RosterError::Frames(plan.frames))?;
        let host = *plan
            .players
            .first()
            .ok_or(crate::lobby::RosterError::Players(0))?;
        let side = match plan.seat {
            None => Side::Watcher(Box::new(Spectator::start(
                Game::new(settings),
                net.clone(),
                host,
                plan.players.len(),
                plan.options(),
            )?)),
            Some(me) => {
                let spectators: &[T::Addr] = if me == 0 { &plan.spectators } else { &[] };
                Side::Player(Box::new(Session::start(
                    Faulty {
                        game: Game::new(settings),
                        flip_at: None,
                    },
                    net.clone(),
                    Seat::table(&plan.players, me),
                    spectators,
                    plan.options(),
                )?))
            }
        };
        Ok(PlannedMatch {
            side,
            net,
            host,
            seat: plan.seat,
            players: plan.players.len(),
            target,
            started: Instant::now(),
            sync_time: None,
            finished: None,
            events: Vec::new(),
        })
    }

    /// One tick: advances a frame with `input` in our seat if GGRS allows (a spectator
    /// advances as far as the host's inputs go, a few frames at most), answers the lobby's
    /// stragglers, and collects events.
    ///
    /// # Errors
    /// [`LocalMatchError`] when GGRS or the transport fails before our last frame is
    /// confirmed; afterwards a failed transport (the others left) just ends the match.
    pub fn tick(&mut self, input: Input) -> Result<(), LocalMatchError> {
        let stepped = match &mut self.side {
            Side::Player(session) => session.step(input).map(|_| ()),
            Side::Watcher(spectator) => {
                let mut result = Ok(());
                for _ in 0..4 {
                    match spectator.step() {
                        Ok(Step::Advanced) => {}
                        Ok(Step::Waiting) => break,
                        Err(err) => {
                            result = Err(err);
                            break;
                        }
                    }
                }
                result
            }
        };
        match stepped {
            Ok(()) => {}
            // The others may leave (and with them a WebRTC connection) once our last frame
            // is confirmed: that is the end of the match, not a failure.
            Err(SessionError::Transport(_)) if self.finished.is_some() => {}
            Err(err) => return Err(err.into()),
        }
        match &mut self.side {
            // The session reads the control messages (departure notices are its own).
            Side::Player(session) => {
                for (from, message) in session.take_control() {
                    if self.seat == Some(0) {
                        crate::lobby::refuse_latecomer(&self.net, from, &message);
                    } else {
                        crate::lobby::answer_roster(&self.net, self.host, from, &message);
                    }
                }
                self.events.extend(session.take_events());
            }
            Side::Watcher(_) => crate::lobby::answer_rosters(&self.net, self.host),
        }
        if self.sync_time.is_none() && self.is_running() {
            self.sync_time = Some(self.started.elapsed());
        }
        if self.finished.is_none() && self.reached_target() {
            self.finished = Some(Instant::now());
        }
        Ok(())
    }

    /// Makes the session keep what `observer` wants (before the first tick).
    pub fn observe_with(&mut self, observer: &dyn Observer) {
        match &mut self.side {
            Side::Player(session) => {
                if observer.wants_confirmed(self.seat) {
                    session.keep_confirmed();
                }
                if observer.wants_evidence() {
                    session.keep_states(EVIDENCE_STATES);
                }
            }
            Side::Watcher(spectator) => {
                if observer.wants_confirmed(None) {
                    spectator.keep_confirmed();
                }
            }
        }
    }

    /// Hands `observer` what was confirmed, and any evidence, since the last call.
    pub fn report_to(&mut self, observer: &mut dyn Observer) {
        match &mut self.side {
            Side::Player(session) => {
                report_session(self.seat.unwrap_or(0), session, observer);
            }
            Side::Watcher(spectator) => {
                let frames = spectator.take_confirmed();
                if !frames.is_empty() {
                    observer.confirmed(None, frames);
                }
            }
        }
    }

    /// Reads the network without advancing.
    pub fn poll(&mut self) {
        match &mut self.side {
            Side::Player(session) => session.poll(),
            Side::Watcher(_) => {}
        }
        self.net.borrow_mut().flush_every(1);
    }

    /// Whether the match is over for us: our last frame is confirmed, or nobody plays with us
    /// any more and our hash of the last frame we shared is known.
    fn reached_target(&self) -> bool {
        match &self.side {
            Side::Player(session) => {
                session.reached(self.target)
                    || self.split(session).is_some_and(|(_, hash)| hash.is_some())
            }
            Side::Watcher(spectator) => spectator.current_frame() >= self.target,
        }
    }

    /// The session's split ([`Session::split`]) when it falls inside the match: a departure
    /// from the planned last frame on (while we linger after it, say) left every frame of the
    /// match shared, so it is no split, and not reported.
    fn split(&self, session: &Session<Faulty, T>) -> Option<(i32, Option<[u8; 32]>)> {
        session.split().filter(|&(frame, _)| frame < self.target)
    }

    /// Whether GGRS is running (synchronized with every peer).
    pub fn is_running(&self) -> bool {
        match &self.side {
            Side::Player(session) => session.is_running(),
            Side::Watcher(spectator) => spectator.is_running(),
        }
    }

    /// Whether our last frame is confirmed (a spectator: reached).
    pub fn is_finished(&self) -> bool {
        self.finished.is_some()
    }

    /// Whether there is nothing left to wait for: finished, and every peer's checksum of the
    /// last frame heard (or a verdict reached), or `linger` passed since finishing. After a
    /// split we linger in full: our departure notices are resent meanwhile, for a peer that
    /// was stopped or flooded to hear them.
    pub fn is_done(&self, linger: Duration) -> bool {
        let Some(at) = self.finished else {
            return false;
        };
        let heard_all = match &self.side {
            Side::Player(s) => {
                self.split(s).is_none()
                    && (s.agreed_up_to() >= Some(self.target) || s.verdict().is_some())
            }
            Side::Watcher(_) => true,
        };
        heard_all || at.elapsed() >= linger
    }

    /// Takes the session's events since the last call.
    pub fn take_events(&mut self) -> Vec<SessionEvent<T::Addr>> {
        std::mem::take(&mut self.events)
    }

    /// Takes GGRS's wait recommendation (see [`Session::take_wait_recommendation`]).
    pub fn take_wait_recommendation(&mut self) -> u32 {
        match &mut self.side {
            Side::Player(session) => session.take_wait_recommendation(),
            Side::Watcher(_) => 0,
        }
    }

    /// Our seat (None: spectating).
    pub fn seat(&self) -> Option<usize> {
        self.seat
    }

    /// The frame the match ends at.
    pub fn target(&self) -> i32 {
        self.target
    }

    /// Our player session (None: spectating).
    pub fn session(&self) -> Option<&Session<Faulty, T>> {
        match &self.side {
            Side::Player(session) => Some(session),
            Side::Watcher(_) => None,
        }
    }

    /// The snapshot to draw.
    pub fn view(&self) -> sim::View {
        match &self.side {
            Side::Player(session) => session.game().view(),
            Side::Watcher(spectator) => spectator.game().view(),
        }
    }

    /// The frame our game is at.
    pub fn current_frame(&self) -> i32 {
        match &self.side {
            Side::Player(session) => session.current_frame(),
            Side::Watcher(spectator) => spectator.current_frame(),
        }
    }

    /// The transport.
    pub fn net(&self) -> &Rc<RefCell<T>> {
        &self.net
    }

    /// The host's address (seat 0).
    pub fn host(&self) -> T::Addr {
        self.host
    }

    /// Our last inputs and checksums may still wait in a batch: sends them, and answers what
    /// comes in for `time`, so the others can finish too.
    pub fn settle(&mut self, time: Duration) {
        let until = Instant::now() + time;
        while Instant::now() < until {
            self.poll();
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    /// What we saw up to the newest frame we hold confirmed (a spectator: reached), for a
    /// match that ended before its last frame: `frames` is that frame and `hash` our state's
    /// hash of it.
    pub fn report_so_far(&self) -> PlayedReport {
        let mut report = self.report();
        let (frame, hash) = match &self.side {
            Side::Player(s) => {
                // The newest confirmed frame whose hash we hold (the very newest may not be
                // simulated yet).
                let newest = s.confirmed_frame().clamp(0, self.target);
                (0..=16)
                    .map(|back| (newest - back).max(0))
                    .find_map(|frame| s.confirmed_hash(frame).map(|h| (frame, Some(h))))
                    .unwrap_or((newest, None))
            }
            Side::Watcher(s) => {
                let frame = s.current_frame().clamp(0, self.target);
                (frame, s.hash_at(frame))
            }
        };
        report.frames = u32::try_from(frame).unwrap_or(0);
        report.hash = hash.unwrap_or([0; 32]);
        report
    }

    /// What we saw.
    pub fn report(&self) -> PlayedReport {
        let planned = u32::try_from(self.target).unwrap_or(0);
        let (frames, hash, verdict, agreed_up_to, peer, departures) = match &self.side {
            Side::Player(s) => {
                let (frames, hash) = match self.split(s) {
                    Some((frame, hash)) => (u32::try_from(frame).unwrap_or(0), hash),
                    None => (planned, s.confirmed_hash(self.target)),
                };
                (
                    frames,
                    hash,
                    s.verdict().cloned(),
                    s.agreed_up_to(),
                    Some(PeerReport {
                        work: s.work(),
                        links: s.peer_stats(),
                        agreed_up_to: s.agreed_up_to(),
                    }),
                    s.departures()
                        .into_iter()
                        .filter(|d| d.frame < self.target)
                        .collect(),
                )
            }
            Side::Watcher(s) => (
                planned,
                s.hash_at(self.target),
                None,
                None,
                None,
                Vec::new(),
            ),
        };
        PlayedReport {
            frames,
            planned,
            departures,
            seat: self.seat,
            players: self.players,
            hash: hash.unwrap_or([0; 32]),
            verdict,
            agreed_up_to,
            peer,
            sync_time: self.sync_time.unwrap_or_default(),
        }
    }
}

/// Plays a match planned in a lobby, with a bot ([`Script::Human`]) in our seat, until
/// `plan.frames` are confirmed, one frame per 1/60 s as a played match runs (GGRS drops a
/// spectator that falls more than 128 frames behind, so a host must not race ahead); then
/// lingers up to `linger` so the others can finish and checksums arrive.
///
/// # Errors
/// [`LocalMatchError`] when GGRS fails or the match stalls.
pub fn play_plan<T: Transport>(
    net: Rc<RefCell<T>>,
    plan: &Plan<T::Addr>,
    linger: Duration,
    on_event: impl FnMut(&SessionEvent<T::Addr>),
    observer: &mut dyn Observer,
) -> Result<PlayedReport, LocalMatchError> {
    play_plan_reporting(net, plan, linger, on_event, observer).map_err(|failed| failed.error)
}

/// A planned match that failed, and what we saw until then once GGRS started.
#[derive(Debug)]
pub struct PlanFailure {
    /// Why it failed.
    pub error: LocalMatchError,
    /// Our report at the newest frame we hold confirmed ([`PlannedMatch::report_so_far`]).
    pub so_far: Option<PlayedReport>,
}

/// As [`play_plan`]; a match that fails after it started also returns what we saw until then
/// ([`PlannedMatch::report_so_far`]), so that the failure can still be summed up.
///
/// # Errors
/// As [`play_plan`], with the report so far once GGRS started.
pub fn play_plan_reporting<T: Transport>(
    net: Rc<RefCell<T>>,
    plan: &Plan<T::Addr>,
    linger: Duration,
    mut on_event: impl FnMut(&SessionEvent<T::Addr>),
    observer: &mut dyn Observer,
) -> Result<PlayedReport, Box<PlanFailure>> {
    let mut planned = PlannedMatch::start(net, plan).map_err(|error| {
        Box::new(PlanFailure {
            error,
            so_far: None,
        })
    })?;
    planned.observe_with(observer);
    let outcome = play_planned(&mut planned, plan, linger, &mut on_event, observer);
    planned.report_to(observer);
    outcome.map_err(|error| {
        Box::new(PlanFailure {
            error,
            so_far: Some(planned.report_so_far()),
        })
    })
}

fn play_planned<T: Transport>(
    planned: &mut PlannedMatch<T>,
    plan: &Plan<T::Addr>,
    linger: Duration,
    on_event: &mut impl FnMut(&SessionEvent<T::Addr>),
    observer: &mut dyn Observer,
) -> Result<PlayedReport, LocalMatchError> {
    let target = planned.target();
    let deadline = Instant::now() + STALL_GRACE + Duration::from_secs(u64::from(plan.frames / 60));
    let period = Duration::from_secs(1) / plan.options().fps.max(1) as u32;
    let mut next_tick = Instant::now();
    let mut skip = 0u32;
    loop {
        let now = Instant::now();
        if !planned.is_running() {
            // Synchronization is a handful of round trips: answer them as they come instead
            // of once per frame period.
            std::thread::sleep(Duration::from_millis(1));
            next_tick = now;
        } else if now < next_tick {
            std::thread::sleep(next_tick - now);
        }
        next_tick = next_tick.max(now) + period;
        skip += planned.take_wait_recommendation();
        if skip > 0 && !planned.is_finished() {
            // Running ahead of the others: GGRS asks us to spend this tick only listening.
            skip -= 1;
            planned.poll();
        } else {
            let frame = planned.current_frame().max(0) as u32;
            let me = plan.seat.unwrap_or(0) as u8;
            planned.tick(Script::Human.input(plan.seed, frame, me))?;
        }
        for event in planned.take_events() {
            on_event(&event);
        }
        planned.report_to(observer);
        // A spectator is done once finished: it has no checksums to wait for.
        if planned.is_done(linger) {
            break;
        }
        if Instant::now() > deadline {
            return Err(LocalMatchError::Stalled(match planned.session() {
                Some(session) => format!(
                    "at frame {}, confirmed {}",
                    session.current_frame(),
                    session.confirmed_frame()
                ),
                None => format!("spectator at frame {} of {target}", planned.current_frame()),
            }));
        }
    }
    if plan.seat.is_some() {
        planned.settle(Duration::from_millis(300));
    }
    Ok(planned.report())
}
