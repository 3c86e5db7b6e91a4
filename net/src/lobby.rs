//! The lobby: how players and spectators holding an invite gather at the host before GGRS
//! starts, and how a planned match is then played to its end.
//!
//! The same lobby runs over any [`Transport`]. Over UDP, joiners first handshake with the
//! host (the invite's address and secret); over WebRTC, everyone in the room is connected to
//! everyone by the signaling server and a joiner asks every peer until the host answers.
//! Joiners say whether they play or watch, with the digest of their rules and session
//! options; the host refuses a different one. The host answers every joiner with the roster (seat, seed, frames, options,
//! and every player's address); when all seats are taken the roster says *start*. Players then
//! handshake with each other (the lower seat connects to the higher) and tell the host they
//! are ready; the host starts GGRS when everyone is. Every lobby message is resent until
//! answered, so the lobby survives loss. Messages travel on the encrypted control stream, and
//! their decoder is total.

use std::cell::RefCell;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::rc::Rc;
use std::time::{Duration, Instant};

use crate::secure::DIGEST_LEN;
use crate::session::{OnDisconnect, SessionOptions};
use crate::transport::{LinkEvent, Transport};

/// Lobby messages are resent this often until answered.
pub const RESEND: Duration = Duration::from_millis(100);
/// Spectators one host takes at most.
pub const SPECTATORS_MAX: usize = 4;

const JOIN: u8 = 1;
const ROSTER: u8 = 2;
const READY: u8 = 3;
const FULL: u8 = 4;
const MISMATCH: u8 = 5;

/// What a joiner wants to do.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// Take a seat.
    Player,
    /// Watch.
    Spectator,
}

/// Everything a peer needs to start its session.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Plan<A = SocketAddr> {
    /// Our seat, or `None` for a spectator.
    pub seat: Option<usize>,
    /// Game seed.
    pub seed: u64,
    /// Frames to play.
    pub frames: u32,
    /// Input delay and prediction (the rest are defaults).
    pub input_delay: u8,
    /// Frames GGRS may predict.
    pub max_prediction: u8,
    /// Each seat's address as the host sees it; seat 0 is the host.
    pub players: Vec<A>,
    /// Spectators' addresses (the host's session serves them).
    pub spectators: Vec<A>,
}

impl<A> Plan<A> {
    /// The session options the plan implies.
    pub fn options(&self) -> SessionOptions {
        SessionOptions {
            input_delay: usize::from(self.input_delay),
            max_prediction: usize::from(self.max_prediction),
            on_disconnect: OnDisconnect::Continue,
            ..SessionOptions::default()
        }
    }
}

/// Why the lobby failed.
#[derive(Debug, thiserror::Error)]
pub enum LobbyError {
    /// Nobody answered in time.
    #[error(
        "no answer from the host within {0:?}: is the host running, the code current and the \
         match not started yet?"
    )]
    NoAnswer(Duration),
    /// The host runs other rules or options.
    #[error("the host runs a different version or configuration of the game")]
    ConfigMismatch,
    /// The host's seats are taken, or its match started.
    #[error("the match is full or already started")]
    Full,
    /// Players did not gather in time.
    #[error("players did not gather within {0:?}")]
    Timeout(Duration),
    /// The transport failed.
    #[error("the connection failed: {0}")]
    Transport(String),
    /// The user left the lobby.
    #[error("left the lobby")]
    Cancelled,
    /// The host's roster breaks the rules.
    #[error("refused the host's roster: {0}")]
    Roster(#[from] RosterError),
}

/// Something worth telling the user while the lobby fills.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Progress<A = SocketAddr> {
    /// A player took a seat.
    Joined { seat: usize, addr: A },
    /// A spectator arrived.
    Watching(A),
    /// A peer with different rules tried to join.
    Refused(A),
    /// A player who held this seat left before the start; later seats move up.
    Left { seat: usize, addr: A },
    /// Every seat is taken; players are connecting to each other.
    Starting,
    /// The player in this seat is connected to every other player (host's view).
    Ready { seat: usize },
    /// The roster as the host last sent it (joiner's view): our seat (None: watching), every
    /// seat's address, the number of spectators, and whether the match is starting.
    Roster {
        seat: Option<usize>,
        players: Vec<A>,
        spectators: usize,
        start: bool,
    },
}

/// Whoever follows a lobby: told of progress, and asked between turns whether to go on.
pub trait Watcher<A> {
    /// Something happened.
    fn progress(&mut self, progress: Progress<A>);
    /// Called every turn of the lobby (a few milliseconds apart); `false` gives up, and the
    /// lobby returns [`LobbyError::Cancelled`].
    fn go_on(&mut self) -> bool {
        true
    }
}

impl<A, F: FnMut(Progress<A>)> Watcher<A> for F {
    fn progress(&mut self, progress: Progress<A>) {
        self(progress);
    }
}

/// How a roster writes and reads a peer's address.
pub trait RosterAddr: Sized {
    /// Appends the address.
    fn put(&self, out: &mut Vec<u8>);
    /// Reads one address; `None` when the bytes are not one.
    fn get(reader: &mut Reader<'_>) -> Option<Self>;
    /// Whether this address, as our own transport reports it, is how peers see us, so that
    /// finding it in a roster's other seats means the roster is wrong. A socket bound to the
    /// unspecified address (`0.0.0.0:port`) is not: peers see another address.
    fn names_us_exactly(&self) -> bool {
        true
    }
}

impl RosterAddr for SocketAddr {
    fn put(&self, out: &mut Vec<u8>) {
        encode_addr(self, out);
    }
    fn get(reader: &mut Reader<'_>) -> Option<Self> {
        reader.addr()
    }
    fn names_us_exactly(&self) -> bool {
        !self.ip().is_unspecified()
    }
}

/// The most frames a match may have: the range of `hltd host --frames`, and what a roster
/// may carry (GGRS counts frames in an `i32`).
pub const FRAMES_MAX: u32 = 1_000_000;

/// What is wrong with a roster the host sent. Any of these ends the join: the host holds the
/// invite's secret, so a roster that breaks the rules is a broken or hostile host.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum RosterError {
    /// The bytes are not a roster (too short, too long, a bad address or flag).
    #[error("the roster is malformed: {0}")]
    Malformed(&'static str),
    /// The match length is outside 1..=[`FRAMES_MAX`].
    #[error("the roster's match length of {0} frames is outside 1..={FRAMES_MAX}")]
    Frames(u32),
    /// The player count is outside 1..=4.
    #[error("the roster names {0} players; a match has 1 to 4")]
    Players(usize),
    /// More spectators than a host takes.
    #[error("the roster names {0} spectators; a host takes at most {SPECTATORS_MAX}")]
    Spectators(usize),
    /// Input delay or prediction outside what the session allows.
    #[error("the roster's {what} of {value} is outside {range}")]
    Option {
        /// Which option.
        what: &'static str,
        /// Its value.
        value: u8,
        /// The allowed range.
        range: &'static str,
    },
    /// The seat it gives us is not one of its seats.
    #[error("the roster gives us seat {seat} of {players}")]
    Seat {
        /// The seat (0-based).
        seat: u8,
        /// Players in the roster.
        players: usize,
    },
    /// The roster gives us seat 0, which is the host's.
    #[error("the roster gives us seat 0, which is the host's")]
    HostSeat,
    /// An address appears twice (in two seats, or as a player and a spectator).
    #[error("the roster lists {0} twice")]
    Duplicate(String),
    /// Seat 0 is not the host we talk to.
    #[error("the roster puts {seat0} in the host's seat 0, but the host is {host}")]
    NotHost {
        /// The address in seat 0.
        seat0: String,
        /// The peer that sent the roster.
        host: String,
    },
    /// Our own address is listed somewhere other than our seat.
    #[error("the roster lists our own address {0} in a place that is not ours")]
    OwnAddress(String),
}

/// Encodes a roster message for `to_seat` (255: spectator).
fn encode_roster<A: RosterAddr>(plan: &Plan<A>, to_seat: u8, start: bool) -> Vec<u8> {
    let mut out = vec![ROSTER, to_seat, u8::from(start)];
    out.extend_from_slice(&plan.seed.to_le_bytes());
    out.extend_from_slice(&plan.frames.to_le_bytes());
    out.push(plan.input_delay);
    out.push(plan.max_prediction);
    out.push(plan.players.len() as u8);
    out.push(plan.spectators.len() as u8);
    for addr in plan.players.iter().chain(&plan.spectators) {
        addr.put(&mut out);
    }
    out
}

fn encode_addr(addr: &SocketAddr, out: &mut Vec<u8>) {
    match addr.ip() {
        IpAddr::V4(ip) => {
            out.push(4);
            out.extend_from_slice(&ip.octets());
        }
        IpAddr::V6(ip) => {
            out.push(6);
            out.extend_from_slice(&ip.octets());
        }
    }
    out.extend_from_slice(&addr.port().to_le_bytes());
}

/// A total decoder over a byte slice.
pub struct Reader<'a>(&'a [u8]);

impl Reader<'_> {
    /// The next `N` bytes.
    pub fn take<const N: usize>(&mut self) -> Option<[u8; N]> {
        let (head, rest) = self.0.split_at_checked(N)?;
        self.0 = rest;
        head.try_into().ok()
    }

    fn u8(&mut self) -> Option<u8> {
        self.take::<1>().map(|b| b[0])
    }

    fn addr(&mut self) -> Option<SocketAddr> {
        let ip = match self.u8()? {
            4 => IpAddr::V4(Ipv4Addr::from(self.take::<4>()?)),
            6 => IpAddr::V6(Ipv6Addr::from(self.take::<16>()?)),
            _ => return None,
        };
        Some(SocketAddr::new(ip, u16::from_le_bytes(self.take::<2>()?)))
    }
}

/// Decodes a roster: (our seat or None, start, plan), every value checked against its range
/// ([`RosterError`] names the first that is not). Whether the addresses make sense for us is
/// [`check_roster`]'s part.
fn decode_roster<A: RosterAddr>(
    bytes: &[u8],
) -> Result<(Option<usize>, bool, Plan<A>), RosterError> {
    use RosterError::Malformed;
    let mut r = Reader(bytes);
    if r.u8() != Some(ROSTER) {
        return Err(Malformed("not a roster message"));
    }
    let short = Malformed("too short");
    let seat = r.u8().ok_or(short.clone())?;
    let start = match r.u8().ok_or(short.clone())? {
        0 => false,
        1 => true,
        _ => return Err(Malformed("the start flag is neither 0 nor 1")),
    };
    let seed = u64::from_le_bytes(r.take::<8>().ok_or(short.clone())?);
    let frames = u32::from_le_bytes(r.take::<4>().ok_or(short.clone())?);
    let input_delay = r.u8().ok_or(short.clone())?;
    let max_prediction = r.u8().ok_or(short.clone())?;
    let players = usize::from(r.u8().ok_or(short.clone())?);
    let spectators = usize::from(r.u8().ok_or(short.clone())?);
    if !(1..=FRAMES_MAX).contains(&frames) {
        return Err(RosterError::Frames(frames));
    }
    if input_delay > 8 {
        return Err(RosterError::Option {
            what: "input delay",
            value: input_delay,
            range: "0..=8",
        });
    }
    if !crate::session::MAX_PREDICTION_RANGE.contains(&usize::from(max_prediction)) {
        return Err(RosterError::Option {
            what: "prediction window",
            value: max_prediction,
            range: "2..=8",
        });
    }
    if !(1..=4).contains(&players) {
        return Err(RosterError::Players(players));
    }
    if spectators > SPECTATORS_MAX {
        return Err(RosterError::Spectators(spectators));
    }
    let players_addrs = (0..players)
        .map(|_| A::get(&mut r))
        .collect::<Option<Vec<_>>>()
        .ok_or(Malformed(
            "a player's address is cut short or of an unknown kind",
        ))?;
    let spectator_addrs = (0..spectators)
        .map(|_| A::get(&mut r))
        .collect::<Option<Vec<_>>>()
        .ok_or(Malformed(
            "a spectator's address is cut short or of an unknown kind",
        ))?;
    if !r.0.is_empty() {
        return Err(Malformed("bytes after the last address"));
    }
    if seat != 255 && usize::from(seat) >= players {
        return Err(RosterError::Seat { seat, players });
    }
    let plan = Plan {
        seat: (seat != 255).then_some(usize::from(seat)),
        seed,
        frames,
        input_delay,
        max_prediction,
        players: players_addrs,
        spectators: spectator_addrs,
    };
    Ok((plan.seat, start, plan))
}

/// Checks a decoded roster's addresses, as a joiner who got it from `sender` and whose own
/// address is `own` (when the transport knows it): every address appears once (no player is
/// also a spectator), seat 0 is `sender` (the invite's address over UDP, the peer that
/// answered over WebRTC), and our own address appears nowhere but in our seat.
///
/// # Errors
/// The first [`RosterError`] found.
pub fn check_roster<A: RosterAddr + PartialEq + std::fmt::Display>(
    plan: &Plan<A>,
    sender: &A,
    own: Option<&A>,
) -> Result<(), RosterError> {
    if plan.seat == Some(0) {
        return Err(RosterError::HostSeat);
    }
    let all: Vec<&A> = plan.players.iter().chain(&plan.spectators).collect();
    for (i, addr) in all.iter().enumerate() {
        if all[..i].contains(addr) {
            return Err(RosterError::Duplicate(addr.to_string()));
        }
    }
    if plan.players.first() != Some(sender) {
        return Err(RosterError::NotHost {
            seat0: plan
                .players
                .first()
                .map_or_else(|| "nobody".to_string(), ToString::to_string),
            host: sender.to_string(),
        });
    }
    if let Some(own) = own.filter(|a| a.names_us_exactly()) {
        // A player's place is its seat; a spectator's is the spectators' list.
        let misplaced = match plan.seat {
            Some(seat) => all
                .iter()
                .any(|addr| *addr == own && Some(*addr) != plan.players.get(seat)),
            None => plan.players.contains(own),
        };
        if misplaced {
            return Err(RosterError::OwnAddress(own.to_string()));
        }
    }
    Ok(())
}

/// What a host offers: the match its lobby gathers players for.
#[derive(Clone, Copy, Debug)]
pub struct Offer {
    /// Seats, the host's included.
    pub players: usize,
    /// Game seed.
    pub seed: u64,
    /// Frames to play.
    pub frames: u32,
    /// Session options (input delay and prediction travel in the roster).
    pub options: SessionOptions,
    /// The digest of rules and options joiners must share.
    pub digest: [u8; DIGEST_LEN],
}

fn join_message(role: Role, digest: &[u8; DIGEST_LEN]) -> Vec<u8> {
    let mut out = vec![JOIN, u8::from(role == Role::Spectator)];
    out.extend_from_slice(digest);
    out
}

/// Hosts a lobby on `net` (its own seat is 0) until `offer.players` players hold seats and
/// are connected to each other. Returns the plan to start GGRS with.
///
/// # Errors
/// [`LobbyError::Timeout`] when `wait` passes first, [`LobbyError::Transport`] as soon as
/// the transport fails.
pub fn host<T: Transport>(
    net: &Rc<RefCell<T>>,
    offer: &Offer,
    wait: Duration,
    watcher: &mut impl Watcher<T::Addr>,
) -> Result<Plan<T::Addr>, LobbyError>
where
    T::Addr: RosterAddr,
{
    let deadline = Instant::now() + wait;
    let Some(me) = net.borrow().local_addr() else {
        return Err(LobbyError::Transport(
            "the transport does not know its own address yet".into(),
        ));
    };
    let mut plan = Plan {
        seat: Some(0),
        seed: offer.seed,
        frames: offer.frames,
        input_delay: offer.options.input_delay.min(8) as u8,
        max_prediction: offer.options.max_prediction.clamp(
            *crate::session::MAX_PREDICTION_RANGE.start(),
            *crate::session::MAX_PREDICTION_RANGE.end(),
        ) as u8,
        players: vec![me],
        spectators: Vec::new(),
    };
    let mut ready = vec![true];
    let mut refused = Vec::new();
    net.borrow_mut().set_accepting(true);
    let mut last_send = Instant::now() - RESEND;
    loop {
        net.borrow_mut().poll();
        // A failed transport (WebRTC's stack) admits nobody anymore: end at once.
        if let Some(failure) = net.borrow().failure() {
            return Err(LobbyError::Transport(failure));
        }
        for event in net.borrow_mut().take_events() {
            match event {
                LinkEvent::ConfigMismatch(addr) => watcher.progress(Progress::Refused(addr)),
                LinkEvent::Down(addr) => {
                    // Before the start, a departed player's seat is freed.
                    if let Some(seat) = plan.players.iter().skip(1).position(|a| *a == addr) {
                        plan.players.remove(seat + 1);
                        ready.remove(seat + 1);
                        watcher.progress(Progress::Left {
                            seat: seat + 1,
                            addr,
                        });
                    }
                    plan.spectators.retain(|a| *a != addr);
                }
                LinkEvent::Up(_) => {}
            }
        }
        loop {
            // Not `while let`: its borrow of `net` would last through the body, which sends.
            let next = net.borrow_mut().next_control();
            let Some((from, message)) = next else {
                break;
            };
            match message.first().copied() {
                Some(JOIN) if !plan.players.contains(&from) && !plan.spectators.contains(&from) => {
                    if message.get(2..) != Some(&offer.digest[..]) {
                        net.borrow_mut().send_control(from, &[MISMATCH]);
                        if !refused.contains(&from) {
                            refused.push(from);
                            watcher.progress(Progress::Refused(from));
                        }
                        continue;
                    }
                    let full = plan.players.len() == offer.players;
                    let watching = message.get(1) == Some(&1);
                    // Spectators are welcome until the start, seats full or not.
                    if (!watching && full) || (watching && plan.spectators.len() >= SPECTATORS_MAX)
                    {
                        net.borrow_mut().send_control(from, &[FULL]);
                    } else if watching {
                        plan.spectators.push(from);
                        last_send = Instant::now() - RESEND;
                        watcher.progress(Progress::Watching(from));
                    } else {
                        last_send = Instant::now() - RESEND;
                        plan.players.push(from);
                        ready.push(false);
                        watcher.progress(Progress::Joined {
                            seat: plan.players.len() - 1,
                            addr: from,
                        });
                        if plan.players.len() == offer.players {
                            watcher.progress(Progress::Starting);
                        }
                    }
                }
                Some(READY) => {
                    if let Some(seat) = plan.players.iter().position(|a| *a == from) {
                        if !ready[seat] {
                            ready[seat] = true;
                            watcher.progress(Progress::Ready { seat });
                        }
                    }
                }
                _ => {}
            }
        }
        let full = plan.players.len() == offer.players;
        if full && ready.iter().all(|&r| r) {
            net.borrow_mut().set_accepting(false);
            return Ok(plan);
        }
        if last_send.elapsed() >= RESEND {
            last_send = Instant::now();
            let mut net = net.borrow_mut();
            for (seat, addr) in plan.players.iter().enumerate().skip(1) {
                net.send_control(*addr, &encode_roster(&plan, seat as u8, full));
            }
            for addr in &plan.spectators {
                net.send_control(*addr, &encode_roster(&plan, 255, full));
            }
        }
        if Instant::now() > deadline {
            return Err(LobbyError::Timeout(wait));
        }
        if !watcher.go_on() {
            return Err(LobbyError::Cancelled);
        }
        std::thread::sleep(Duration::from_millis(2));
    }
}

/// Joins a lobby over `net` as `role`, with the `digest` of our rules and options. `host` is
/// the host's address when it is known (UDP: the invite's); without it (WebRTC: someone in the
/// room), every connected peer is asked until the host answers. Returns the plan once the
/// host starts and, for a player, once every link to the other players is up.
///
/// # Errors
/// [`LobbyError`] when the host does not answer within `answer_within`, refuses, or the lobby
/// times out after `wait`.
pub fn join<T: Transport>(
    net: &Rc<RefCell<T>>,
    host: Option<T::Addr>,
    role: Role,
    digest: &[u8; DIGEST_LEN],
    answer_within: Duration,
    wait: Duration,
    watcher: &mut impl Watcher<T::Addr>,
) -> Result<Plan<T::Addr>, LobbyError>
where
    T::Addr: RosterAddr,
{
    let started = Instant::now();
    let answer_within = answer_within.min(wait);
    let deadline = started + wait;
    if let Some(host) = host {
        net.borrow_mut().open_link(host, true);
    }
    let join = join_message(role, digest);
    // The host once it answered (UDP: once its link is up).
    let mut heard: Option<T::Addr> = None;
    let mut plan: Option<Plan<T::Addr>> = None;
    let mut connected_to_peers = false;
    let mut last_roster: Option<Progress<T::Addr>> = None;
    let mut last_send = Instant::now() - RESEND;
    loop {
        net.borrow_mut().poll();
        if let Some(failure) = net.borrow().failure() {
            return Err(LobbyError::Transport(failure));
        }
        for event in net.borrow_mut().take_events() {
            if matches!(event, LinkEvent::ConfigMismatch(a) if Some(a) == host) {
                return Err(LobbyError::ConfigMismatch);
            }
        }
        if let Some(host) = host {
            if net.borrow().is_up(host) {
                heard = Some(host);
            }
        }
        // Read before the loop: `while let` holds its borrow of `net` through the body.
        let own = net.borrow().local_addr();
        while let Some((from, message)) = net.borrow_mut().next_control() {
            if heard.or(host).is_some_and(|h| h != from) {
                continue;
            }
            match message.first().copied() {
                Some(FULL) if plan.is_none() => return Err(LobbyError::Full),
                Some(MISMATCH) => return Err(LobbyError::ConfigMismatch),
                Some(ROSTER) => {
                    let checked =
                        decode_roster::<T::Addr>(&message).and_then(|(_, start, roster)| {
                            check_roster(&roster, &from, own.as_ref()).map(|()| (start, roster))
                        });
                    let (start, roster) = match checked {
                        Ok(valid) => valid,
                        // From the host we know (UDP: the invite's address; WebRTC: the peer
                        // that answered), a bad roster ends the join. Before anyone answered
                        // over WebRTC, it may be anyone in the room: not worth believing.
                        Err(err) if heard.or(host).is_some() => {
                            return Err(LobbyError::Roster(err));
                        }
                        Err(err) => {
                            tracing::debug!(%from, %err, "ignored a bad roster");
                            continue;
                        }
                    };
                    heard = Some(from);
                    let seen = Progress::Roster {
                        seat: roster.seat,
                        players: roster.players.clone(),
                        spectators: roster.spectators.len(),
                        start,
                    };
                    if last_roster.as_ref() != Some(&seen) {
                        last_roster = Some(seen.clone());
                        watcher.progress(seen);
                    }
                    // A roster without the start flag means: seats are still filling.
                    if start {
                        plan = Some(roster);
                    }
                }
                _ => {}
            }
        }
        if let (Some(plan), Some(host)) = (&plan, heard) {
            let Some(me) = plan.seat else {
                return Ok(plan.clone());
            };
            if !connected_to_peers {
                connected_to_peers = true;
                let mut net = net.borrow_mut();
                for (seat, addr) in plan.players.iter().enumerate().skip(1) {
                    if seat != me {
                        net.open_link(*addr, seat > me);
                    }
                }
            }
            let all_up = {
                let net = net.borrow();
                plan.players
                    .iter()
                    .enumerate()
                    .all(|(s, a)| s == me || net.is_up(*a))
            };
            if all_up {
                // Tell the host; it starts once everyone has. If this is lost, the host's
                // resent roster is answered again by [`answer_rosters`] while playing.
                net.borrow_mut().send_control(host, &[READY]);
                return Ok(plan.clone());
            }
        } else if heard.is_none() && started.elapsed() > answer_within {
            return Err(LobbyError::NoAnswer(answer_within));
        } else if last_send.elapsed() >= RESEND {
            let mut net = net.borrow_mut();
            // Whom to ask: the host once it is up, else everyone connected (when the host is
            // unknown). Nobody yet: ask as soon as someone is, not a resend period later.
            let to = match (heard, host) {
                (Some(host), _) => vec![host],
                (None, Some(_)) => Vec::new(),
                (None, None) => net.peers_up(),
            };
            for peer in &to {
                net.send_control(*peer, &join);
            }
            if !to.is_empty() {
                last_send = Instant::now();
            }
        }
        if Instant::now() > deadline {
            return Err(LobbyError::Timeout(wait));
        }
        if !watcher.go_on() {
            return Err(LobbyError::Cancelled);
        }
        std::thread::sleep(Duration::from_millis(2));
    }
}

/// While the host plays: answers anyone still asking to join with FULL (the match started),
/// and discards other control messages.
pub fn refuse_latecomers<T: Transport>(net: &Rc<RefCell<T>>) {
    loop {
        let next = net.borrow_mut().next_control();
        let Some((from, message)) = next else {
            break;
        };
        refuse_latecomer(net, from, &message);
    }
}

/// While the host plays: answers one control message, a request to join with FULL.
pub fn refuse_latecomer<T: Transport>(net: &Rc<RefCell<T>>, from: T::Addr, message: &[u8]) {
    if message.first() == Some(&JOIN) {
        net.borrow_mut().send_control(from, &[FULL]);
    }
}

/// While playing: answers the host's resent start roster with READY (our first READY may
/// have been lost), and discards other control messages.
pub fn answer_rosters<T: Transport>(net: &Rc<RefCell<T>>, host: T::Addr) {
    loop {
        let next = net.borrow_mut().next_control();
        let Some((from, message)) = next else {
            break;
        };
        answer_roster(net, host, from, &message);
    }
}

/// While playing: answers one control message, the host's resent roster with READY.
pub fn answer_roster<T: Transport>(
    net: &Rc<RefCell<T>>,
    host: T::Addr,
    from: T::Addr,
    message: &[u8],
) {
    if from == host && message.first() == Some(&ROSTER) {
        net.borrow_mut().send_control(host, &[READY]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample_plan() -> Plan<SocketAddr> {
        Plan {
            seat: Some(1),
            seed: 99,
            frames: 600,
            input_delay: 2,
            max_prediction: 8,
            players: vec![
                "127.0.0.1:5".parse().expect("addr"),
                "[::1]:6".parse().expect("addr"),
            ],
            spectators: vec!["127.0.0.1:7".parse().expect("addr")],
        }
    }

    /// Rosters round-trip; every truncation and garbage byte string is an error.
    #[test]
    fn roster_codec_is_total() {
        let plan = sample_plan();
        let bytes = encode_roster(&plan, 1, true);
        assert_eq!(decode_roster(&bytes), Ok((Some(1), true, plan.clone())));
        for cut in 0..bytes.len() {
            assert!(
                decode_roster::<SocketAddr>(&bytes[..cut]).is_err(),
                "cut at {cut}"
            );
        }
        let mut rng = oorandom::Rand32::new(3);
        for _ in 0..10_000 {
            let len = rng.rand_range(0..80) as usize;
            let mut junk: Vec<u8> = (0..len).map(|_| rng.rand_u32() as u8).collect();
            if let Some(first) = junk.first_mut() {
                *first = ROSTER;
            }
            if let Ok((_, _, plan)) = decode_roster::<SocketAddr>(&junk) {
                assert!((1..=FRAMES_MAX).contains(&plan.frames), "{plan:?}");
                assert!(plan.input_delay <= 8 && (2..=8).contains(&plan.max_prediction));
            }
        }
    }

    /// Values out of range are refused, each with its own error: a match length of 2^31
    /// (which `as i32` made negative) or 0, options past GGRS's limits, a seat that is not
    /// one of the roster's, a start flag of 7.
    #[test]
    fn roster_values_out_of_range_are_refused() {
        let plan = sample_plan();
        let frames_at = 1 + 1 + 1 + 8;
        let with = |at: usize, bytes: &[u8]| {
            let mut out = encode_roster(&plan, 1, true);
            out[at..at + bytes.len()].copy_from_slice(bytes);
            decode_roster::<SocketAddr>(&out)
        };
        assert_eq!(
            with(frames_at, &(1u32 << 31).to_le_bytes()),
            Err(RosterError::Frames(1 << 31))
        );
        assert_eq!(
            with(frames_at, &u32::MAX.to_le_bytes()),
            Err(RosterError::Frames(u32::MAX))
        );
        assert_eq!(
            with(frames_at, &0u32.to_le_bytes()),
            Err(RosterError::Frames(0))
        );
        let max = with(frames_at, &FRAMES_MAX.to_le_bytes()).expect("the largest length");
        assert_eq!(max.2.frames, FRAMES_MAX);
        assert!(matches!(
            with(frames_at + 4, &[9]),
            Err(RosterError::Option { value: 9, .. })
        ));
        assert!(matches!(
            with(frames_at + 5, &[0]),
            Err(RosterError::Option { value: 0, .. })
        ));
        assert_eq!(
            with(1, &[2]),
            Err(RosterError::Seat {
                seat: 2,
                players: 2
            })
        );
        assert!(matches!(with(2, &[7]), Err(RosterError::Malformed(_))));
        let err = with(frames_at, &(1u32 << 31).to_le_bytes()).expect_err("refused");
        assert_eq!(
            err.to_string(),
            "the roster's match length of 2147483648 frames is outside 1..=1000000"
        );
    }

    /// Addresses that make no sense for the joiner are refused: one twice, a player also
    /// watching, seat 0 not the host that sent it, our own address in another seat.
    #[test]
    fn roster_addresses_are_checked() {
        let addr = |s: &str| -> SocketAddr { s.parse().expect("addr") };
        let host = addr("127.0.0.1:5");
        let me = addr("127.0.0.1:6");
        let other = addr("127.0.0.1:8");
        let plan = |players: &[SocketAddr], spectators: &[SocketAddr], seat| Plan {
            seat,
            seed: 1,
            frames: 600,
            input_delay: 2,
            max_prediction: 8,
            players: players.to_vec(),
            spectators: spectators.to_vec(),
        };
        // Every case goes through the wire format, as a joiner sees it.
        let check = |p: &Plan<SocketAddr>, own: Option<SocketAddr>| {
            let to = p.seat.map_or(255, |s| s as u8);
            let (_, _, decoded) = decode_roster::<SocketAddr>(&encode_roster(p, to, true))?;
            check_roster(&decoded, &host, own.as_ref())
        };
        assert_eq!(check(&plan(&[host, me], &[], Some(1)), Some(me)), Ok(()));
        assert_eq!(
            check(
                &plan(&[host, me, other], &[], Some(1)),
                Some(addr("0.0.0.0:6"))
            ),
            Ok(()),
            "an unspecified own address says nothing"
        );
        assert_eq!(
            check(&plan(&[host, me, me], &[], Some(1)), None),
            Err(RosterError::Duplicate(me.to_string()))
        );
        assert_eq!(
            check(&plan(&[host, me], &[me], Some(1)), None),
            Err(RosterError::Duplicate(me.to_string())),
            "a player also listed as a spectator"
        );
        assert_eq!(
            check(&plan(&[host, me], &[], Some(0)), Some(me)),
            Err(RosterError::HostSeat),
            "the joiner given the host's seat"
        );
        assert_eq!(
            check(&plan(&[host], &[me], None), Some(me)),
            Ok(()),
            "a roster of a lobby still gathering: the host alone so far"
        );
        assert_eq!(
            check(&plan(&[me, host], &[], Some(1)), None),
            Err(RosterError::NotHost {
                seat0: me.to_string(),
                host: host.to_string()
            })
        );
        assert_eq!(
            check(&plan(&[host, other, me], &[], Some(1)), Some(me)),
            Err(RosterError::OwnAddress(me.to_string())),
            "our address in seat 2 while we sit in seat 1"
        );
        assert_eq!(
            check(&plan(&[host, me], &[other], None), Some(me)),
            Err(RosterError::OwnAddress(me.to_string())),
            "a spectator listed as a player"
        );
        assert_eq!(check(&plan(&[host, other], &[me], None), Some(me)), Ok(()));
    }
}
