//! The encrypted UDP socket: peers, handshakes, sealed datagrams, drop counters, rate limits,
//! and the adapter GGRS sends through.
//!
//! One [`SecureSocket`] serves a whole session: GGRS reaches it through
//! [`crate::transport::GgrsSocket`] (a shared handle), and the session driver through the same
//! handle for handshakes, the lobby's control messages and statistics. Everything that arrives is checked in this order, and
//! dropped and counted at the first failure: size and header, source (a peer, or a stranger
//! while the host is accepting), rate limit, authentication, replay window, message decoding,
//! GGRS validation ([`crate::codec`]).

use std::cell::RefCell;
use std::collections::{BTreeMap, VecDeque};
use std::io::ErrorKind;
use std::net::{SocketAddr, UdpSocket};
use std::rc::Rc;
use std::time::{Duration, Instant};

use crate::codec::ChecksumSeen;
use crate::secure::{
    self, Channel, DropReason, Initiator, Kind, DATAGRAM_MAX, DIGEST_LEN, PAYLOAD_MAX,
};
use crate::transport::{
    ControlInbox, FaultLine, Mailbox, Transport, STREAM_CONTROL, STREAM_GGRS, STREAM_GGRS_BATCH,
};
pub use crate::transport::{Faults, LinkEvent, Traffic};

/// Datagrams read per poll at most. A poll drains the socket until it is empty (a flood must
/// not leave the real peers' datagrams to overflow the receive buffer); this bounds the work
/// of one poll when datagrams come faster than they are read. It is more than the largest
/// receive buffer holds: 8 MiB at the kernel's 768 bytes per queued small datagram.
pub const RECV_BATCH_MAX: usize = 16_384;
/// The receive buffer asked of the OS. A hello flood fills the default buffer (208 KiB on
/// Linux, a few hundred datagrams) between two polls, and the kernel then drops the real
/// peers' datagrams with the strangers'. Linux caps the request at `net.core.rmem_max`;
/// [`SecureSocket::recv_buffer`] says what the kernel gave.
pub const RECV_BUFFER_WANTED: usize = 4 << 20;
/// Peers one socket knows at most (players, spectators, strangers handshaking).
pub const PEERS_MAX: usize = 32;
/// Handshake hellos are resent this often until answered.
pub const HELLO_RESEND: Duration = Duration::from_millis(200);
/// Handshake hellos per second accepted from strangers, all together.
pub const STRANGER_RATE_PER_S: u32 = 50;
/// Handshake messages per second one peer's address may make us process (each costs a key
/// exchange). Data packets are not limited here: decrypting one is cheap and `RECV_BATCH_MAX`
/// bounds them per poll, so spoofed junk cannot crowd out the real peer's traffic.
pub const HANDSHAKE_RATE_PER_S: u32 = 20;
/// A stranger whose handshake completed but who sent nothing authentic within this time may
/// be forgotten to make room: replayed hellos cannot fill the peer table.
pub const HALF_OPEN_GRACE: Duration = Duration::from_secs(5);
/// Hellos remembered per peer, so a repeated one is answered again instead of re-keying.
const HELLOS_REMEMBERED: usize = 4;

/// Where a peer's handshake stands.
// A socket has a few dozen peers at most: the variants' sizes do not matter.
#[allow(clippy::large_enum_variant)]
enum Link {
    /// We expect its hello.
    Expected,
    /// We sent a hello and wait for the welcome.
    Connecting {
        initiator: Initiator,
        hello: Vec<u8>,
        sent_at: Instant,
    },
    /// Keys agreed.
    Up {
        channel: Channel,
        /// A newer handshake's channel, adopted when data arrives under it (so a replayed
        /// hello cannot replace a working channel).
        pending: Option<Channel>,
        /// Noise messages of hellos we answered, with our welcomes: a repeated hello (a
        /// retransmission or a replay, whatever its unauthenticated header says) gets its
        /// welcome again and changes nothing.
        answered: Vec<(Vec<u8>, Vec<u8>)>,
    },
    /// The handshake showed a different configuration; everything from it is dropped.
    Refused,
}

struct Peer {
    link: Link,
    traffic: Traffic,
    /// Budget for handshake messages, which cost a key exchange each.
    handshakes: Bucket,
    /// It proved it holds the keys (sent authentic data, or answered our hello).
    authentic: bool,
    /// When it was added.
    since: Instant,
}

impl Peer {
    fn new(link: Link, now: Instant) -> Peer {
        Peer {
            link,
            traffic: Traffic::default(),
            handshakes: Bucket::new(HANDSHAKE_RATE_PER_S, now),
            authentic: false,
            since: now,
        }
    }
}

/// A token bucket: `rate` tokens per second, at most `rate` in store.
#[derive(Clone, Copy, Debug)]
struct Bucket {
    tokens: u32,
    rate: u32,
    at: Instant,
}

impl Bucket {
    fn new(rate: u32, now: Instant) -> Bucket {
        Bucket {
            tokens: rate,
            rate,
            at: now,
        }
    }

    fn refill(&mut self, now: Instant) {
        let elapsed_ms = now.saturating_duration_since(self.at).as_millis();
        let refill = (elapsed_ms * u128::from(self.rate) / 1000).min(u128::from(self.rate)) as u32;
        if refill > 0 {
            self.tokens = (self.tokens + refill).min(self.rate);
            self.at = now;
        }
    }

    fn take(&mut self, now: Instant) -> bool {
        self.refill(now);
        if self.tokens == 0 {
            return false;
        }
        self.tokens -= 1;
        true
    }
}

/// Where datagrams go: the OS's UDP, or a simulated network (fuzzing).
enum Wire {
    Os(UdpSocket),
    Sim(crate::simnet::Port),
}

impl Wire {
    fn send_to(&self, datagram: &[u8], to: SocketAddr) -> std::io::Result<usize> {
        match self {
            Wire::Os(socket) => socket.send_to(datagram, to),
            Wire::Sim(port) => port.send_to(datagram, to),
        }
    }

    fn recv_from(&self, buf: &mut [u8]) -> std::io::Result<(usize, SocketAddr)> {
        match self {
            Wire::Os(socket) => socket.recv_from(buf),
            Wire::Sim(port) => port.recv_from(buf),
        }
    }
}

/// The socket and everything it knows. Shared through [`Net`].
pub struct SecureSocket {
    socket: Wire,
    local: SocketAddr,
    /// The receive buffer the kernel gave (None: a simulated network).
    recv_buffer: Option<usize>,
    psk: [u8; 32],
    digest: [u8; DIGEST_LEN],
    peers: BTreeMap<SocketAddr, Peer>,
    accepting: bool,
    strangers: Traffic,
    stranger_bucket: Bucket,
    mailbox: Mailbox<SocketAddr>,
    control_inbox: ControlInbox<SocketAddr>,
    events: VecDeque<LinkEvent<SocketAddr>>,
    faults: FaultLine<SocketAddr>,
    buf: Vec<u8>,
    plain: Vec<u8>,
    wire: Vec<u8>,
}

/// A shared handle to the session's socket.
pub type Net = Rc<RefCell<SecureSocket>>;

/// Errors of setting up a socket.
#[derive(Debug, thiserror::Error)]
pub enum SocketError {
    /// The OS refused the address.
    #[error("cannot bind UDP socket to {addr}: {error}")]
    Bind {
        /// The address asked for.
        addr: SocketAddr,
        /// The OS error.
        error: std::io::Error,
    },
    /// The OS refused a socket option or query.
    #[error("UDP socket setup failed: {0}")]
    Setup(std::io::Error),
}

impl SecureSocket {
    /// Binds a socket at `addr` (port 0: any free port) for a session whose members share
    /// `psk` and whose configuration hashes to `digest`.
    ///
    /// # Errors
    /// [`SocketError`] when the OS refuses.
    pub fn bind(
        addr: SocketAddr,
        psk: [u8; 32],
        digest: [u8; DIGEST_LEN],
    ) -> Result<Net, SocketError> {
        let socket = UdpSocket::bind(addr).map_err(|error| SocketError::Bind { addr, error })?;
        socket.set_nonblocking(true).map_err(SocketError::Setup)?;
        let local = socket.local_addr().map_err(SocketError::Setup)?;
        let recv_buffer = grow_recv_buffer(&socket, RECV_BUFFER_WANTED);
        let net = Self::on_wire(Wire::Os(socket), local, psk, digest);
        net.borrow_mut().recv_buffer = recv_buffer;
        Ok(net)
    }

    /// A socket on a port of a simulated network ([`crate::simnet`]): the same encryption,
    /// checks and counters, no OS socket.
    pub fn on_simnet(net: &crate::simnet::SimNet, psk: [u8; 32], digest: [u8; DIGEST_LEN]) -> Net {
        let port = net.port();
        let local = port.local_addr();
        Self::on_wire(Wire::Sim(port), local, psk, digest)
    }

    fn on_wire(socket: Wire, local: SocketAddr, psk: [u8; 32], digest: [u8; DIGEST_LEN]) -> Net {
        let now = Instant::now();
        Rc::new(RefCell::new(SecureSocket {
            socket,
            local,
            recv_buffer: None,
            psk,
            digest,
            peers: BTreeMap::new(),
            accepting: false,
            strangers: Traffic::default(),
            stranger_bucket: Bucket::new(STRANGER_RATE_PER_S, now),
            mailbox: Mailbox::default(),
            control_inbox: ControlInbox::default(),
            events: VecDeque::new(),
            faults: FaultLine::default(),
            buf: vec![0; DATAGRAM_MAX + 1],
            plain: Vec::with_capacity(DATAGRAM_MAX),
            wire: Vec::with_capacity(DATAGRAM_MAX),
        }))
    }

    /// The address it is bound to.
    pub fn local_addr(&self) -> SocketAddr {
        self.local
    }

    /// The receive buffer the OS gave the socket, in bytes as the OS counts them (Linux
    /// reports twice what it grants for data, the rest being its bookkeeping); None on a
    /// simulated network or when the OS would not say.
    pub fn recv_buffer(&self) -> Option<usize> {
        self.recv_buffer
    }

    /// Whether hellos from unknown addresses are answered (a host waiting for players).
    pub fn set_accepting(&mut self, accepting: bool) {
        self.accepting = accepting;
    }

    /// Simulated faults on everything sent from now on.
    pub fn set_faults(&mut self, faults: Faults) {
        self.faults.set(faults);
    }

    /// Our current frame, the reference for validating GGRS messages.
    pub fn set_frame(&mut self, frame: i32) {
        self.mailbox.set_frame(frame);
    }

    /// Marks `addr` as a spectator of ours (see [`Mailbox::set_spectator`]).
    pub fn set_spectator(&mut self, addr: SocketAddr) {
        self.mailbox.set_spectator(addr);
    }

    /// Marks this socket as a spectator's (see [`Mailbox::set_spectating`]).
    pub fn set_spectating(&mut self, spectating: bool) {
        self.mailbox.set_spectating(spectating);
    }

    /// Starts (or restarts) a handshake with `addr`.
    pub fn connect(&mut self, addr: SocketAddr) {
        let Ok((initiator, hello)) = Initiator::start(&self.psk, &self.digest) else {
            return;
        };
        let now = Instant::now();
        let link = Link::Connecting {
            initiator,
            hello: hello.clone(),
            sent_at: now,
        };
        match self.peers.get_mut(&addr) {
            Some(peer) => peer.link = link,
            None => {
                self.peers.insert(addr, Peer::new(link, now));
            }
        }
        self.send_raw(addr, &hello);
    }

    /// Accepts a hello from `addr` (a peer we know of that will connect to us).
    pub fn expect(&mut self, addr: SocketAddr) {
        let now = Instant::now();
        self.peers
            .entry(addr)
            .or_insert_with(|| Peer::new(Link::Expected, now));
    }

    /// Whether the link to `addr` is up.
    pub fn is_up(&self, addr: SocketAddr) -> bool {
        matches!(
            self.peers.get(&addr),
            Some(Peer {
                link: Link::Up { .. },
                ..
            })
        )
    }

    /// Traffic counters of one peer.
    pub fn traffic(&self, addr: SocketAddr) -> Option<&Traffic> {
        self.peers.get(&addr).map(|p| &p.traffic)
    }

    /// Counters of datagrams from addresses that are not peers.
    pub fn strangers(&self) -> &Traffic {
        &self.strangers
    }

    /// Takes the link events since the last call.
    pub fn take_events(&mut self) -> Vec<LinkEvent<SocketAddr>> {
        self.events.drain(..).collect()
    }

    /// Takes the checksum reports peers sent since the last call.
    pub fn take_checksums(&mut self) -> Vec<(SocketAddr, ChecksumSeen)> {
        self.mailbox.take_checksums()
    }

    /// Takes the next control message.
    pub fn next_control(&mut self) -> Option<(SocketAddr, Vec<u8>)> {
        self.control_inbox.pop()
    }

    /// Sends a control message to a peer whose link is up.
    pub fn send_control(&mut self, addr: SocketAddr, payload: &[u8]) {
        self.send_stream(addr, STREAM_CONTROL, payload);
    }

    /// The GGRS magic our messages to `addr` carry (known once GGRS sent one): lets tests and
    /// fuzzers craft messages the peer's GGRS accepts as ours.
    pub fn outgoing_magic(&self, addr: SocketAddr) -> Option<u16> {
        self.mailbox.outgoing_magic(addr)
    }

    /// Seals `bytes` as a GGRS message to a peer, unchecked: what a hostile peer holding the
    /// session keys could send. For tests and fuzzing of the receiving side's validation.
    pub fn send_raw_ggrs(&mut self, addr: SocketAddr, bytes: &[u8]) {
        self.send_stream(addr, STREAM_GGRS, bytes);
    }

    /// Queues a GGRS message for `addr` (see [`Mailbox::queue`]).
    fn queue_ggrs(&mut self, addr: SocketAddr, message: &ggrs::Message) {
        let mut mailbox = std::mem::take(&mut self.mailbox);
        let queued = mailbox.queue(addr, message, |to, stream, body| {
            self.send_stream(to, stream, body)
        });
        self.mailbox = mailbox;
        if let Err(reason) = queued {
            self.count_drop(addr, reason);
        }
    }

    /// Sends every peer's queued GGRS messages now, one datagram per peer.
    pub fn flush(&mut self) {
        self.flush_every(1);
    }

    /// Sends the queued GGRS messages of every peer whose queue is `interval` calls old (or
    /// holds something urgent). Called once per frame, this sends one datagram per peer
    /// every `interval` frames.
    pub fn flush_every(&mut self, interval: u32) {
        let mut mailbox = std::mem::take(&mut self.mailbox);
        mailbox.flush_every(interval, |to, stream, body| {
            self.send_stream(to, stream, body)
        });
        self.mailbox = mailbox;
    }

    /// Reads everything waiting, resends unanswered hellos and releases delayed datagrams.
    pub fn poll(&mut self) {
        let now = Instant::now();
        // One reading of the wall clock serves every message of this poll.
        self.mailbox.read_clock();
        self.flush_delayed(now);
        let resend: Vec<(SocketAddr, Vec<u8>)> = self
            .peers
            .iter_mut()
            .filter_map(|(addr, peer)| match &mut peer.link {
                Link::Connecting { hello, sent_at, .. }
                    if now.saturating_duration_since(*sent_at) >= HELLO_RESEND =>
                {
                    *sent_at = now;
                    Some((*addr, hello.clone()))
                }
                _ => None,
            })
            .collect();
        for (addr, hello) in resend {
            self.send_raw(addr, &hello);
        }
        for _ in 0..RECV_BATCH_MAX {
            let mut buf = std::mem::take(&mut self.buf);
            let received = self.socket.recv_from(&mut buf);
            let result = match received {
                Ok((len, from)) => {
                    self.on_datagram(from, &buf[..len], now);
                    true
                }
                Err(err) if err.kind() == ErrorKind::WouldBlock => false,
                // ICMP errors (a peer's port closed) and the like: the next read continues.
                Err(_) => true,
            };
            self.buf = buf;
            if !result {
                break;
            }
        }
    }

    fn on_datagram(&mut self, from: SocketAddr, datagram: &[u8], now: Instant) {
        // A stranger while we accept nobody (the match runs) is dropped before anything else:
        // a flood of them costs one lookup and one count each.
        if !self.accepting && !self.peers.contains_key(&from) {
            return self.strangers.drop(DropReason::UnknownSource);
        }
        let (kind, _, _) = match secure::parse_header(datagram) {
            Ok(parsed) => parsed,
            Err(reason) => return self.count_drop(from, reason),
        };
        let Some(peer) = self.peers.get_mut(&from) else {
            return self.on_stranger(from, kind, datagram, now);
        };
        if kind != Kind::Data && !peer.handshakes.take(now) {
            return peer.traffic.drop(DropReason::RateLimited);
        }
        match kind {
            Kind::Hello => self.on_hello(from, datagram),
            Kind::Welcome => self.on_welcome(from, datagram),
            Kind::Data => self.on_data(from, datagram),
        }
    }

    /// Forgets strangers whose handshake completed but who never sent anything authentic.
    fn evict_half_open(&mut self, now: Instant) {
        self.peers.retain(|_, peer| {
            let half_open = !peer.authentic
                && matches!(peer.link, Link::Up { .. } | Link::Refused)
                && now.saturating_duration_since(peer.since) >= HALF_OPEN_GRACE;
            !half_open
        });
    }

    fn on_stranger(&mut self, from: SocketAddr, kind: Kind, datagram: &[u8], now: Instant) {
        if self.accepting && kind == Kind::Hello && self.peers.len() >= PEERS_MAX {
            self.evict_half_open(now);
        }
        if !self.accepting || kind != Kind::Hello || self.peers.len() >= PEERS_MAX {
            return self.strangers.drop(DropReason::UnknownSource);
        }
        if !self.stranger_bucket.take(now) {
            return self.strangers.drop(DropReason::RateLimited);
        }
        match secure::respond(&self.psk, &self.digest, datagram) {
            Ok((done, welcome)) => {
                let mismatch = done.peer_digest != self.digest;
                let link = if mismatch {
                    Link::Refused
                } else {
                    Link::Up {
                        channel: done.channel,
                        pending: None,
                        answered: vec![(noise_part(datagram).to_vec(), welcome.clone())],
                    }
                };
                self.peers.insert(from, Peer::new(link, now));
                self.count_received(from, datagram.len());
                self.send_raw(from, &welcome);
                self.events.push_back(if mismatch {
                    LinkEvent::ConfigMismatch(from)
                } else {
                    LinkEvent::Up(from)
                });
            }
            Err(reason) => self.strangers.drop(reason),
        }
    }

    fn on_hello(&mut self, from: SocketAddr, datagram: &[u8]) {
        let local = self.local;
        let Some(peer) = self.peers.get_mut(&from) else {
            return;
        };
        match &mut peer.link {
            Link::Refused => return peer.traffic.drop(DropReason::ConfigMismatch),
            // Both sides connecting at once: the lower address stays the initiator.
            Link::Connecting { .. } if local < from => {
                return peer.traffic.drop(DropReason::HandshakeFailed);
            }
            Link::Up { answered, .. } => {
                let body = noise_part(datagram);
                if let Some((_, welcome)) = answered.iter().find(|(hello, _)| hello == body) {
                    let welcome = welcome.clone();
                    self.count_received(from, datagram.len());
                    return self.send_raw(from, &welcome);
                }
            }
            _ => {}
        }
        let (done, welcome) = match secure::respond(&self.psk, &self.digest, datagram) {
            Ok(answer) => answer,
            Err(reason) => return peer.traffic.drop(reason),
        };
        if done.peer_digest != self.digest {
            peer.link = Link::Refused;
            self.events.push_back(LinkEvent::ConfigMismatch(from));
        } else {
            match &mut peer.link {
                Link::Up {
                    pending, answered, ..
                } => {
                    *pending = Some(done.channel);
                    if answered.len() == HELLOS_REMEMBERED {
                        answered.remove(0);
                    }
                    answered.push((noise_part(datagram).to_vec(), welcome.clone()));
                }
                link => {
                    *link = Link::Up {
                        channel: done.channel,
                        pending: None,
                        answered: vec![(noise_part(datagram).to_vec(), welcome.clone())],
                    };
                    self.events.push_back(LinkEvent::Up(from));
                }
            }
        }
        self.count_received(from, datagram.len());
        self.send_raw(from, &welcome);
    }

    fn on_welcome(&mut self, from: SocketAddr, datagram: &[u8]) {
        let Some(peer) = self.peers.get_mut(&from) else {
            return;
        };
        let Link::Connecting { initiator, .. } = &mut peer.link else {
            return peer.traffic.drop(DropReason::HandshakeFailed);
        };
        match initiator.finish(datagram) {
            Ok(done) if done.peer_digest == self.digest => {
                peer.link = Link::Up {
                    channel: done.channel,
                    pending: None,
                    answered: Vec::new(),
                };
                peer.authentic = true;
                self.events.push_back(LinkEvent::Up(from));
                self.count_received(from, datagram.len());
            }
            Ok(_) => {
                peer.link = Link::Refused;
                peer.traffic.drop(DropReason::ConfigMismatch);
                self.events.push_back(LinkEvent::ConfigMismatch(from));
            }
            // A forged or broken welcome: the handshake state is unchanged (snow restores it
            // on a failed read), so keep waiting for the real one.
            Err(reason) => peer.traffic.drop(reason),
        }
    }

    fn on_data(&mut self, from: SocketAddr, datagram: &[u8]) {
        let mut plain = std::mem::take(&mut self.plain);
        let opened = self.open_data(from, datagram, &mut plain);
        if let Err(reason) = opened {
            self.plain = plain;
            return self.count_drop(from, reason);
        }
        let delivered = match plain.split_first() {
            Some((&stream, body)) if stream == STREAM_GGRS || stream == STREAM_GGRS_BATCH => {
                let mut mailbox = std::mem::take(&mut self.mailbox);
                let delivered =
                    mailbox.deliver(from, stream, body, |reason| self.count_drop(from, reason));
                self.mailbox = mailbox;
                delivered
            }
            Some((&STREAM_CONTROL, body)) => self.control_inbox.push(from, body),
            _ => Err(DropReason::Malformed),
        };
        self.plain = plain;
        match delivered {
            Ok(()) => self.count_received(from, datagram.len()),
            Err(reason) => self.count_drop(from, reason),
        }
    }

    fn open_data(
        &mut self,
        from: SocketAddr,
        datagram: &[u8],
        plain: &mut Vec<u8>,
    ) -> Result<(), DropReason> {
        let peer = self.peers.get_mut(&from).ok_or(DropReason::UnknownSource)?;
        let Link::Up {
            channel, pending, ..
        } = &mut peer.link
        else {
            return Err(if matches!(peer.link, Link::Refused) {
                DropReason::ConfigMismatch
            } else {
                DropReason::NotAuthentic
            });
        };
        let opened = match channel.open(datagram, plain) {
            Ok(()) => Ok(()),
            Err(first) => match pending.as_mut().map(|p| p.open(datagram, plain)) {
                Some(Ok(())) => {
                    if let Some(newer) = pending.take() {
                        *channel = newer;
                    }
                    Ok(())
                }
                _ => Err(first),
            },
        };
        peer.authentic |= opened.is_ok();
        opened
    }

    fn count_drop(&mut self, from: SocketAddr, reason: DropReason) {
        match self.peers.get_mut(&from) {
            Some(peer) => peer.traffic.drop(reason),
            None => self.strangers.drop(reason),
        }
    }

    fn count_received(&mut self, from: SocketAddr, len: usize) {
        if let Some(peer) = self.peers.get_mut(&from) {
            peer.traffic.packets_received += 1;
            peer.traffic.bytes_received += len as u64;
        }
    }

    fn send_stream(&mut self, addr: SocketAddr, stream: u8, body: &[u8]) {
        if body.len() + 1 > PAYLOAD_MAX {
            return self.count_drop(addr, DropReason::TooLong);
        }
        let mut plain = std::mem::take(&mut self.plain);
        plain.clear();
        plain.push(stream);
        plain.extend_from_slice(body);
        let mut wire = std::mem::take(&mut self.wire);
        let sealed = match self.peers.get_mut(&addr).map(|p| &mut p.link) {
            Some(Link::Up { channel, .. }) => channel.seal(&plain, &mut wire),
            _ => Err(DropReason::UnknownSource),
        };
        self.plain = plain;
        match sealed {
            Ok(()) => self.send_raw(addr, &wire),
            Err(reason) => self.count_drop(addr, reason),
        }
        self.wire = wire;
    }

    fn send_raw(&mut self, addr: SocketAddr, datagram: &[u8]) {
        if let Some(peer) = self.peers.get_mut(&addr) {
            peer.traffic.packets_sent += 1;
            peer.traffic.bytes_sent += datagram.len() as u64;
        }
        if let Some(datagram) = self.faults.admit(addr, datagram) {
            // A full send buffer or an unreachable peer loses the datagram, as UDP may.
            let _ = self.socket.send_to(datagram, addr);
        }
    }

    fn flush_delayed(&mut self, now: Instant) {
        while let Some((addr, datagram)) = self.faults.due(now) {
            let _ = self.socket.send_to(&datagram, addr);
        }
    }
}

/// Asks the OS for a receive buffer of `wanted` bytes, and returns what it gave (logged at
/// debug level). A refusal keeps the default buffer: the socket works, a flood just
/// overflows it sooner.
fn grow_recv_buffer(socket: &UdpSocket, wanted: usize) -> Option<usize> {
    let sock = socket2::SockRef::from(socket);
    let before = sock.recv_buffer_size().ok();
    if let Err(err) = sock.set_recv_buffer_size(wanted) {
        tracing::debug!(wanted, %err, "the OS refused a larger UDP receive buffer");
    }
    let got = sock.recv_buffer_size().ok();
    tracing::debug!(
        wanted,
        before = ?before,
        got = ?got,
        "UDP receive buffer: asked for {wanted} bytes, the OS reports {} (it was {})",
        got.map_or_else(|| "nothing".to_string(), |g| g.to_string()),
        before.map_or_else(|| "unknown".to_string(), |b| b.to_string()),
    );
    got
}

/// The Noise message of a handshake datagram (after the unauthenticated header).
fn noise_part(datagram: &[u8]) -> &[u8] {
    datagram.get(secure::HEADER_LEN..).unwrap_or(&[])
}

impl Transport for SecureSocket {
    type Addr = SocketAddr;

    fn poll(&mut self) {
        SecureSocket::poll(self);
    }

    fn failure(&self) -> Option<String> {
        None
    }

    fn local_addr(&self) -> Option<SocketAddr> {
        Some(self.local)
    }

    fn open_link(&mut self, addr: SocketAddr, initiate: bool) {
        if initiate {
            self.connect(addr);
        } else {
            self.expect(addr);
        }
    }

    fn is_up(&self, addr: SocketAddr) -> bool {
        SecureSocket::is_up(self, addr)
    }

    fn peers_up(&self) -> Vec<SocketAddr> {
        self.peers
            .iter()
            .filter(|(_, p)| matches!(p.link, Link::Up { .. }))
            .map(|(a, _)| *a)
            .collect()
    }

    fn set_accepting(&mut self, accepting: bool) {
        SecureSocket::set_accepting(self, accepting);
    }

    fn take_events(&mut self) -> Vec<LinkEvent<SocketAddr>> {
        SecureSocket::take_events(self)
    }

    fn traffic(&self, addr: SocketAddr) -> Option<&Traffic> {
        SecureSocket::traffic(self, addr)
    }

    fn next_control(&mut self) -> Option<(SocketAddr, Vec<u8>)> {
        SecureSocket::next_control(self)
    }

    fn send_control(&mut self, addr: SocketAddr, payload: &[u8]) {
        SecureSocket::send_control(self, addr, payload);
    }

    fn mailbox(&mut self) -> &mut Mailbox<SocketAddr> {
        &mut self.mailbox
    }

    fn flush_every(&mut self, interval: u32) {
        SecureSocket::flush_every(self, interval);
    }

    fn queue_ggrs(&mut self, addr: SocketAddr, message: &ggrs::Message) {
        SecureSocket::queue_ggrs(self, addr, message);
    }

    fn set_faults(&mut self, faults: Faults) {
        SecureSocket::set_faults(self, faults);
    }
}
