//! What sessions and lobbies need from a transport ([`Transport`]), GGRS's adapter over any of
//! them ([`GgrsSocket`]), and the parts both transports share: the GGRS mailbox that batches
//! outgoing messages and validates incoming ones ([`Mailbox`]), traffic counters and simulated
//! faults.
//!
//! Two transports implement the trait: encrypted UDP ([`crate::udp::SecureSocket`], addressed
//! by `SocketAddr`) and WebRTC data channels ([`crate::rtc::RtcSocket`], addressed by the
//! signaling server's peer ids). Whatever the transport, every GGRS message passes through
//! [`Mailbox::deliver`] and so through [`crate::codec`]'s validation before GGRS sees it.

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::fmt::{Debug, Display};
use std::hash::Hash;
use std::rc::Rc;
use std::time::{Duration, Instant};

use crate::codec::{self, Body, ChecksumSeen, Limits};
use crate::secure::DropReason;

/// Streams multiplexed inside a packet (its first byte, after decryption where there is any).
pub const STREAM_GGRS: u8 = 0;
/// Lobby and other control messages.
pub const STREAM_CONTROL: u8 = 1;
/// Several GGRS messages in the compact batch format of [`codec::encode_batch`].
pub const STREAM_GGRS_BATCH: u8 = 2;

/// GGRS messages waiting in the inbox at most: bounds what peers can make us hold between
/// polls.
pub const INBOX_MAX: usize = 4096;
/// GGRS messages waiting from one sender at most.
pub const INBOX_PER_PEER: usize = 1024;
/// GGRS messages queued for one peer at most before they are sent.
pub const OUTBOX_MAX: usize = 128;
/// Packets held back by simulated latency at most.
pub const DELAYED_MAX: usize = 4096;
/// Control messages waiting at most.
pub const CONTROL_INBOX_MAX: usize = 64;
/// Control messages waiting from one sender at most: one joiner cannot lock out the rest.
pub const CONTROL_INBOX_PER_PEER: usize = 8;

/// How a transport names a peer.
pub trait Address: Copy + Ord + Hash + Debug + Display + Send + Sync + 'static {}
impl<A: Copy + Ord + Hash + Debug + Display + Send + Sync + 'static> Address for A {}

/// Counters of one peer (or of all strangers together).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Traffic {
    /// Packets sent.
    pub packets_sent: u64,
    /// Payload bytes sent (for UDP the datagram, for WebRTC the data-channel message; the
    /// headers below are not counted).
    pub bytes_sent: u64,
    /// Packets received and accepted.
    pub packets_received: u64,
    /// Payload bytes received and accepted.
    pub bytes_received: u64,
    /// Packets (or messages inside them) dropped, by reason.
    pub dropped: BTreeMap<DropReason, u64>,
}

impl Traffic {
    /// Counts one drop.
    pub fn drop(&mut self, reason: DropReason) {
        *self.dropped.entry(reason).or_insert(0) += 1;
    }
}

/// Something that happened to a peer's link, for the driver to report.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LinkEvent<A> {
    /// The link came up (a handshake completed, a data channel opened).
    Up(A),
    /// The peer runs a different configuration (rules version or session settings).
    ConfigMismatch(A),
    /// The link went down (WebRTC only: UDP has no such signal and relies on silence).
    Down(A),
}

/// What a session and a lobby need from a transport. Calls come from one thread; a transport
/// that runs work elsewhere (WebRTC's message loop) reports that work's failure through
/// [`Transport::failure`].
pub trait Transport: 'static {
    /// How peers are named.
    type Addr: Address;

    /// Reads what arrived, resends what is due. Never blocks.
    fn poll(&mut self);
    /// A failure that ends every session on this transport, if one happened.
    fn failure(&self) -> Option<String>;
    /// Our own address as peers know it, once known.
    fn local_addr(&self) -> Option<Self::Addr>;

    /// Starts the link to `addr`: `initiate` says whether we make the first move (UDP: we
    /// send the hello, or else expect one). Transports whose links come up by themselves
    /// ignore it.
    fn open_link(&mut self, addr: Self::Addr, initiate: bool);
    /// Whether the link to `addr` is up.
    fn is_up(&self, addr: Self::Addr) -> bool;
    /// Every peer whose link is up.
    fn peers_up(&self) -> Vec<Self::Addr>;
    /// Whether peers we do not know may connect (a host waiting for players).
    fn set_accepting(&mut self, accepting: bool);
    /// Takes the link events since the last call.
    fn take_events(&mut self) -> Vec<LinkEvent<Self::Addr>>;
    /// Traffic counters of one peer.
    fn traffic(&self, addr: Self::Addr) -> Option<&Traffic>;

    /// Takes the next control message.
    fn next_control(&mut self) -> Option<(Self::Addr, Vec<u8>)>;
    /// Sends a control message to a peer whose link is up.
    fn send_control(&mut self, addr: Self::Addr, payload: &[u8]);

    /// The GGRS mailbox: messages waiting for GGRS, and GGRS's messages waiting to leave.
    fn mailbox(&mut self) -> &mut Mailbox<Self::Addr>;
    /// Sends the GGRS messages of every peer whose queue is `interval` calls old.
    fn flush_every(&mut self, interval: u32);
    /// Queues a GGRS message for `addr` (sent at the next due flush).
    fn queue_ggrs(&mut self, addr: Self::Addr, message: &ggrs::Message);
    /// Simulated faults on the GGRS packets sent from now on.
    fn set_faults(&mut self, faults: Faults);
}

/// GGRS's view of a transport: messages queue in the mailbox and leave at the session's
/// flush, and receiving polls the transport.
pub struct GgrsSocket<T: Transport>(pub Rc<RefCell<T>>);

impl<T: Transport> ggrs::NonBlockingSocket<T::Addr> for GgrsSocket<T> {
    fn send_to(&mut self, msg: &ggrs::Message, addr: &T::Addr) {
        self.0.borrow_mut().queue_ggrs(*addr, msg);
    }

    fn receive_all_messages(&mut self) -> Vec<(T::Addr, ggrs::Message)> {
        let mut transport = self.0.borrow_mut();
        transport.poll();
        transport.mailbox().take_inbox()
    }
}

/// GGRS messages waiting to leave for one peer.
#[derive(Default)]
struct Outbox {
    magic: u16,
    bodies: Vec<Body>,
    /// Holds a message that should not wait (synchronization).
    urgent: bool,
    /// Flush calls since this outbox last sent.
    age: u32,
}

/// GGRS messages on their way in (validated) and out (merged and batched), keyed by peer.
pub struct Mailbox<A> {
    frame: i32,
    spectators: BTreeSet<A>,
    spectating: bool,
    /// Wall clock at the last poll, in ms since the Unix epoch (for quality replies).
    now_ms: u128,
    /// Messages in `inbox` per sender.
    inbox_counts: BTreeMap<A, usize>,
    inbox: Vec<(A, ggrs::Message)>,
    checksums: Vec<(A, ChecksumSeen)>,
    outbox: BTreeMap<A, Outbox>,
    batch: Vec<u8>,
}

impl<A: Address> Default for Mailbox<A> {
    fn default() -> Self {
        Mailbox {
            frame: 0,
            spectators: BTreeSet::new(),
            spectating: false,
            now_ms: 0,
            inbox_counts: BTreeMap::new(),
            inbox: Vec::new(),
            checksums: Vec::new(),
            outbox: BTreeMap::new(),
            batch: Vec::new(),
        }
    }
}

impl<A: Address> Mailbox<A> {
    /// Our current frame, the reference for validating GGRS messages.
    pub fn set_frame(&mut self, frame: i32) {
        self.frame = frame;
    }

    /// Reads the wall clock once for every message until the next call.
    pub fn read_clock(&mut self) {
        self.now_ms = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis());
    }

    /// Marks `addr` as a spectator of ours: it may acknowledge inputs but never send any.
    /// What it sent before (checked as a player's) is discarded.
    pub fn set_spectator(&mut self, addr: A) {
        self.spectators.insert(addr);
        self.inbox.retain(|(from, _)| *from != addr);
        self.inbox_counts.remove(&addr);
    }

    /// Marks this mailbox as a spectator's: its one peer is the host, who never sends
    /// checksum reports to spectators, and the spectator's input buffer is short. What
    /// arrived before (checked as a player's) is discarded.
    pub fn set_spectating(&mut self, spectating: bool) {
        self.spectating = spectating;
        self.inbox.clear();
        self.inbox_counts.clear();
    }

    /// Takes the checksum reports peers sent since the last call.
    pub fn take_checksums(&mut self) -> Vec<(A, ChecksumSeen)> {
        std::mem::take(&mut self.checksums)
    }

    /// Takes the validated messages for GGRS.
    pub fn take_inbox(&mut self) -> Vec<(A, ggrs::Message)> {
        self.inbox_counts.clear();
        std::mem::take(&mut self.inbox)
    }

    /// The GGRS magic our messages to `addr` carry (known once GGRS sent one): lets tests and
    /// fuzzers craft messages the peer's GGRS accepts as ours.
    pub fn outgoing_magic(&self, addr: A) -> Option<u16> {
        self.outbox.get(&addr).map(|o| o.magic)
    }

    fn limits(&self, from: A) -> Limits {
        Limits {
            frame: self.frame,
            now_ms: self.now_ms,
            role: if self.spectating {
                codec::Role::SpectatorOfHost
            } else if self.spectators.contains(&from) {
                codec::Role::HostOfSpectator
            } else {
                codec::Role::Player
            },
        }
    }

    /// Delivers the body of a GGRS stream (`STREAM_GGRS` or `STREAM_GGRS_BATCH`) from `from`.
    /// A bad message inside a batch costs only itself and is passed to `dropped`; `Err` means
    /// the whole packet is bad.
    ///
    /// # Errors
    /// The reason to drop the packet.
    pub fn deliver(
        &mut self,
        from: A,
        stream: u8,
        body: &[u8],
        mut dropped: impl FnMut(DropReason),
    ) -> Result<(), DropReason> {
        match stream {
            STREAM_GGRS => {
                let checked = codec::decode(body, self.limits(from))?;
                self.push_checked(from, checked)
            }
            STREAM_GGRS_BATCH => {
                for mirror in codec::decode_batch(body)? {
                    let pushed = codec::check(mirror, self.limits(from))
                        .and_then(|checked| self.push_checked(from, checked));
                    if let Err(reason) = pushed {
                        dropped(reason);
                    }
                }
                Ok(())
            }
            _ => Err(DropReason::Malformed),
        }
    }

    fn push_checked(&mut self, from: A, checked: codec::Checked) -> Result<(), DropReason> {
        let mine = self.inbox_counts.entry(from).or_insert(0);
        if self.inbox.len() >= INBOX_MAX || *mine >= INBOX_PER_PEER {
            return Err(DropReason::RateLimited);
        }
        *mine += 1;
        if let Some(seen) = checked.checksum {
            if self.checksums.len() < INBOX_MAX {
                self.checksums.push((from, seen));
            }
        }
        self.inbox.push((from, checked.message));
        Ok(())
    }

    /// Queues a GGRS message for `addr`, merging it with what is already queued: only the
    /// newest input message (it repeats every unacknowledged input), ack and quality message
    /// matter, and a keep-alive is pointless next to anything else. A full queue, or a
    /// message from a new GGRS session, first sends what is queued through `send`.
    ///
    /// # Errors
    /// When GGRS's message cannot be mirrored (it never should).
    pub fn queue(
        &mut self,
        addr: A,
        message: &ggrs::Message,
        mut send: impl FnMut(A, u8, &[u8]),
    ) -> Result<(), DropReason> {
        let mirror = codec::mirror_of(message)?;
        let full = self.outbox.get(&addr).is_some_and(|o| {
            (o.magic != mirror.magic && !o.bodies.is_empty()) || o.bodies.len() >= OUTBOX_MAX
        });
        if full {
            self.flush_peer(addr, &mut send);
        }
        let outbox = self.outbox.entry(addr).or_default();
        outbox.magic = mirror.magic;
        let body = mirror.body;
        let same_kind =
            |queued: &Body| std::mem::discriminant(queued) == std::mem::discriminant(&body);
        match &body {
            Body::Input(input) => {
                // An input message acknowledges too: a queued ack it covers is redundant.
                let ack = input.ack_frame;
                outbox.bodies.retain(|queued| match queued {
                    Body::InputAck { ack_frame } => *ack_frame > ack,
                    queued => !same_kind(queued),
                });
            }
            Body::InputAck { ack_frame } => {
                let covered = outbox.bodies.iter().any(
                    |queued| matches!(queued, Body::Input(input) if input.ack_frame >= *ack_frame),
                );
                if covered {
                    return Ok(());
                }
                outbox.bodies.retain(|queued| !same_kind(queued));
            }
            Body::QualityReport { .. } | Body::QualityReply { .. } => {
                outbox.bodies.retain(|queued| !same_kind(queued));
            }
            Body::KeepAlive if !outbox.bodies.is_empty() => return Ok(()),
            _ => {}
        }
        // Synchronization is a handshake of round trips: batching it would only slow the
        // start. Quality replies wait like the rest (ping then includes the batching delay,
        // which inputs suffer too).
        outbox.urgent |= matches!(body, Body::SyncRequest { .. } | Body::SyncReply { .. });
        outbox.bodies.push(body);
        Ok(())
    }

    /// Sends, through `send(addr, stream, body)`, the queued GGRS messages of every peer whose
    /// queue is `interval` calls old (or holds something urgent). Called once per frame, this
    /// sends one packet per peer every `interval` frames.
    pub fn flush_every(&mut self, interval: u32, mut send: impl FnMut(A, u8, &[u8])) {
        let due: Vec<A> = self
            .outbox
            .iter_mut()
            .filter_map(|(addr, o)| {
                o.age += 1;
                (!o.bodies.is_empty() && (o.urgent || o.age >= interval)).then_some(*addr)
            })
            .collect();
        for addr in due {
            self.flush_peer(addr, &mut send);
        }
    }

    fn flush_peer(&mut self, addr: A, send: &mut impl FnMut(A, u8, &[u8])) {
        let Some(outbox) = self.outbox.get_mut(&addr) else {
            return;
        };
        let mut start = 0;
        while start < outbox.bodies.len() {
            // Take as many messages as fit one packet (at least one, at most a chunk).
            let mut end = outbox.bodies.len().min(start + codec::BATCH_MESSAGES_MAX);
            loop {
                codec::encode_batch(outbox.magic, &outbox.bodies[start..end], &mut self.batch);
                if self.batch.len() < crate::secure::PAYLOAD_MAX || end == start + 1 {
                    break;
                }
                end = start + (end - start).div_ceil(2);
            }
            send(addr, STREAM_GGRS_BATCH, &self.batch);
            start = end;
        }
        outbox.bodies.clear();
        outbox.urgent = false;
        outbox.age = 0;
    }
}

/// Control messages waiting to be read, bounded in total and per sender.
pub struct ControlInbox<A> {
    queue: VecDeque<(A, Vec<u8>)>,
}

impl<A: Address> Default for ControlInbox<A> {
    fn default() -> Self {
        ControlInbox {
            queue: VecDeque::new(),
        }
    }
}

impl<A: Address> ControlInbox<A> {
    /// Keeps `message` from `from` for [`ControlInbox::pop`].
    ///
    /// # Errors
    /// [`DropReason::RateLimited`] when the inbox, or `from`'s share of it, is full.
    pub fn push(&mut self, from: A, message: &[u8]) -> Result<(), DropReason> {
        let mine = self.queue.iter().filter(|(a, _)| *a == from).count();
        if self.queue.len() >= CONTROL_INBOX_MAX || mine >= CONTROL_INBOX_PER_PEER {
            return Err(DropReason::RateLimited);
        }
        self.queue.push_back((from, message.to_vec()));
        Ok(())
    }

    /// The oldest message.
    pub fn pop(&mut self) -> Option<(A, Vec<u8>)> {
        self.queue.pop_front()
    }
}

/// Simulated network faults on what a transport sends (for the demo and tests).
#[derive(Clone, Copy, Debug, Default)]
pub struct Faults {
    /// Probability of dropping a packet, in parts per million.
    pub loss_ppm: u32,
    /// Delay added to every packet.
    pub latency: Duration,
    /// Seed of the loss decisions.
    pub seed: u64,
}

/// Applies [`Faults`] to outgoing packets: drops some, holds the rest back.
pub struct FaultLine<A> {
    faults: Faults,
    rng: oorandom::Rand32,
    delayed: VecDeque<(Instant, A, Vec<u8>)>,
}

impl<A: Address> Default for FaultLine<A> {
    fn default() -> Self {
        FaultLine {
            faults: Faults::default(),
            rng: oorandom::Rand32::new(0),
            delayed: VecDeque::new(),
        }
    }
}

impl<A: Address> FaultLine<A> {
    /// Applies `faults` from now on.
    pub fn set(&mut self, faults: Faults) {
        self.faults = faults;
        self.rng = oorandom::Rand32::new(faults.seed);
    }

    /// Decides the fate of one packet: `Some` to send it now, `None` when it is lost or held
    /// back (it then comes out of [`FaultLine::due`]).
    pub fn admit<'a>(&mut self, to: A, packet: &'a [u8]) -> Option<&'a [u8]> {
        if self.faults.loss_ppm > 0 && self.rng.rand_range(0..1_000_000) < self.faults.loss_ppm {
            return None;
        }
        if self.faults.latency.is_zero() {
            return Some(packet);
        }
        if self.delayed.len() < DELAYED_MAX {
            let due = Instant::now() + self.faults.latency;
            self.delayed.push_back((due, to, packet.to_vec()));
        }
        None
    }

    /// The next held-back packet whose time has come.
    pub fn due(&mut self, now: Instant) -> Option<(A, Vec<u8>)> {
        if self.delayed.front().is_some_and(|(due, _, _)| *due <= now) {
            self.delayed.pop_front().map(|(_, to, packet)| (to, packet))
        } else {
            None
        }
    }
}
