//! State transfer: one member sends another the bytes of a state, in chunks that each fit a
//! datagram, acknowledged, resent when lost, rate-limited, and bounded in size; the receiver
//! adopts the bytes only if their blake3 equals the hash it was told to expect. That hash
//! comes from the caller (the consensus of the match), never from the sender, so a member
//! cannot make another adopt a state nobody else hashed.
//!
//! Both ends are passive state machines in the spirit of GGRS's requests: messages and the
//! time go in ([`Incoming::handle`], [`Outgoing::handle`], their `poll`s), messages to send
//! and finished transfers come out. Nothing here touches a socket or a clock, so tests drive
//! a transfer through loss, duplication and reordering in virtual time.
//!
//! A transfer, as the receiver sees it:
//! 1. [`Incoming::fetch`] asks a member for its state of a frame (a [`Message::Request`],
//!    resent until the first chunk arrives).
//! 2. The sender ([`Outgoing`]) looks the state up (the caller's `lookup`), or refuses; it
//!    sends chunks within its window of unacknowledged chunks and its byte rate, and resends
//!    those not acknowledged in time.
//! 3. The receiver acknowledges what arrived ([`Message::Ack`]), and once every chunk is in,
//!    checks the hash and hands out the outcome ([`Incoming::take_done`]).
//!
//! Everything from a peer is checked: a chunk for a transfer nobody asked that peer for, an
//! index or length out of range, a total length that changes, or over the receiver's limit,
//! is dropped and counted ([`TransferStats`]). A receiver holds at most [`FETCHES_MAX`]
//! buffers of at most its limit; a sender serves at most [`SERVING_MAX`] transfers at once.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

/// Bytes of state in one chunk (a chunk message is this plus 17 bytes: one datagram).
pub const CHUNK_LEN: usize = 1024;
/// Chunks a sender has in flight (sent and not acknowledged) per transfer, at most.
pub const WINDOW: u32 = 256;
/// Transfers a receiver runs at once, at most.
pub const FETCHES_MAX: usize = 4;
/// Transfers a sender serves at once, at most; more requests are refused.
pub const SERVING_MAX: usize = 8;
/// Transfers a sender serves to one peer at once, at most.
pub const SERVING_PER_PEER: usize = 2;
/// How long a whole fetch may take, however steadily chunks trickle in.
pub const FETCH_MAX: Duration = Duration::from_secs(30);
/// Chunks an acknowledgement describes beyond its first missing one: the whole window.
pub const ACK_BITS: u32 = WINDOW;
/// Bytes per second a sender sends by default, over all its transfers.
pub const DEFAULT_RATE: u64 = 16 << 20;
/// How long a chunk (or a request) waits for its acknowledgement before it is sent again.
pub const RESEND_AFTER: Duration = Duration::from_millis(250);
/// How long a transfer may go without progress before either end gives up.
pub const GIVE_UP_AFTER: Duration = Duration::from_secs(5);
/// New chunks that make the receiver acknowledge at once (otherwise at its next poll).
const ACK_EVERY: u32 = 32;
/// The longest encoded message.
pub const MESSAGE_MAX: usize = 13 + CHUNK_LEN;

const TAG_REQUEST: u8 = 1;
const TAG_CHUNK: u8 = 2;
const TAG_ACK: u8 = 3;
const TAG_REFUSE: u8 = 4;
const TAG_CANCEL: u8 = 5;

/// A transfer, as its receiver numbers it (the sender keys it by receiver and number).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TransferId(pub u32);

/// What the two ends say to each other.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Message {
    /// Receiver to sender: send your state of `frame`, whose hash should be `hash`.
    Request {
        /// The receiver's number for this transfer.
        id: TransferId,
        /// The state's frame.
        frame: u32,
        /// The hash the receiver expects (the sender refuses when its state has another).
        hash: [u8; 32],
    },
    /// Sender to receiver: chunk `index` of a state of `len` bytes.
    Chunk {
        /// The transfer.
        id: TransferId,
        /// The whole state's length in bytes.
        len: u32,
        /// The chunk's number: it holds bytes `index * CHUNK_LEN ..`.
        index: u32,
        /// Its bytes: [`CHUNK_LEN`] of them, fewer in the last chunk.
        bytes: Vec<u8>,
    },
    /// Receiver to sender: every chunk below `below` arrived, and chunk `below + 1 + i` for
    /// every bit `i` set in `also` (bit `i % 64` of word `i / 64`).
    Ack {
        /// The transfer.
        id: TransferId,
        /// Chunks before this one all arrived.
        below: u32,
        /// The [`ACK_BITS`] chunks after `below`, one bit each.
        also: [u64; 4],
    },
    /// Sender to receiver: no state of that frame with that hash here, or too busy.
    Refuse {
        /// The transfer.
        id: TransferId,
    },
    /// Receiver to sender: stop sending (done, or given up).
    Cancel {
        /// The transfer.
        id: TransferId,
    },
}

/// Why a message could not be decoded.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// Nothing, or an unknown first byte.
    #[error("not a transfer message")]
    Tag,
    /// Shorter or longer than its kind is.
    #[error("a transfer message of the wrong length")]
    Length,
    /// A chunk whose index, length or bytes do not fit together.
    #[error("a chunk out of range")]
    Range,
}

/// A state's chunks: an empty state is one empty chunk.
fn chunks_of(len: u32) -> u32 {
    len.div_ceil(CHUNK_LEN as u32).max(1)
}

/// The number of bytes of chunk `index` of a state of `len` bytes.
fn chunk_len(len: u32, index: u32) -> usize {
    let start = u64::from(index) * CHUNK_LEN as u64;
    (u64::from(len).saturating_sub(start)).min(CHUNK_LEN as u64) as usize
}

impl Message {
    /// The message's bytes (at most [`MESSAGE_MAX`]).
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(MESSAGE_MAX);
        let (tag, id) = match self {
            Message::Request { id, .. } => (TAG_REQUEST, id),
            Message::Chunk { id, .. } => (TAG_CHUNK, id),
            Message::Ack { id, .. } => (TAG_ACK, id),
            Message::Refuse { id } => (TAG_REFUSE, id),
            Message::Cancel { id } => (TAG_CANCEL, id),
        };
        out.push(tag);
        out.extend_from_slice(&id.0.to_le_bytes());
        match self {
            Message::Request { frame, hash, .. } => {
                out.extend_from_slice(&frame.to_le_bytes());
                out.extend_from_slice(hash);
            }
            Message::Chunk {
                len, index, bytes, ..
            } => {
                out.extend_from_slice(&len.to_le_bytes());
                out.extend_from_slice(&index.to_le_bytes());
                out.extend_from_slice(bytes);
            }
            Message::Ack { below, also, .. } => {
                out.extend_from_slice(&below.to_le_bytes());
                for word in also {
                    out.extend_from_slice(&word.to_le_bytes());
                }
            }
            Message::Refuse { .. } | Message::Cancel { .. } => {}
        }
        out
    }

    /// Decodes `bytes`, checking every length and range.
    ///
    /// # Errors
    /// [`DecodeError`] naming what is wrong.
    pub fn decode(bytes: &[u8]) -> Result<Message, DecodeError> {
        let u32_at = |at: usize| -> Result<u32, DecodeError> {
            bytes
                .get(at..at + 4)
                .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                .ok_or(DecodeError::Length)
        };
        let tag = *bytes.first().ok_or(DecodeError::Tag)?;
        if !(TAG_REQUEST..=TAG_CANCEL).contains(&tag) {
            return Err(DecodeError::Tag);
        }
        let id = TransferId(u32_at(1)?);
        let exact = |n: usize| {
            if bytes.len() == n {
                Ok(())
            } else {
                Err(DecodeError::Length)
            }
        };
        match tag {
            TAG_REQUEST => {
                exact(41)?;
                let mut hash = [0u8; 32];
                hash.copy_from_slice(&bytes[9..41]);
                Ok(Message::Request {
                    id,
                    frame: u32_at(5)?,
                    hash,
                })
            }
            TAG_CHUNK => {
                if bytes.len() < 13 || bytes.len() > MESSAGE_MAX {
                    return Err(DecodeError::Length);
                }
                let (len, index) = (u32_at(5)?, u32_at(9)?);
                let payload = &bytes[13..];
                if index >= chunks_of(len) || payload.len() != chunk_len(len, index) {
                    return Err(DecodeError::Range);
                }
                Ok(Message::Chunk {
                    id,
                    len,
                    index,
                    bytes: payload.to_vec(),
                })
            }
            TAG_ACK => {
                exact(41)?;
                let mut also = [0u64; 4];
                for (i, word) in also.iter_mut().enumerate() {
                    let at = 9 + 8 * i;
                    let mut eight = [0u8; 8];
                    eight.copy_from_slice(&bytes[at..at + 8]);
                    *word = u64::from_le_bytes(eight);
                }
                Ok(Message::Ack {
                    id,
                    below: u32_at(5)?,
                    also,
                })
            }
            TAG_REFUSE => exact(5).map(|()| Message::Refuse { id }),
            _ => exact(5).map(|()| Message::Cancel { id }),
        }
    }
}

/// What one end dropped or did, for the network panel and the tests.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TransferStats {
    /// Chunks sent, first time and again.
    pub chunks_sent: u64,
    /// Chunks sent again because no acknowledgement came in time.
    pub chunks_resent: u64,
    /// Chunks received and kept.
    pub chunks_received: u64,
    /// Chunks that arrived again (kept once).
    pub duplicates: u64,
    /// Messages for a transfer that this peer was not asked to take part in: unknown
    /// number, or from another peer than the one asked.
    pub unrequested: u64,
    /// Chunks whose total length differs from the transfer's, or is over the limit, and
    /// acknowledgements of chunks that do not exist.
    pub inconsistent: u64,
    /// Requests refused: no such state, or too many transfers already.
    pub refused: u64,
}

/// Chunks received or acknowledged, one bit each.
#[derive(Clone, Debug, Default)]
struct Bits {
    words: Vec<u64>,
    count: u32,
}

impl Bits {
    fn new(n: u32) -> Bits {
        Bits {
            words: vec![0; (n as usize).div_ceil(64)],
            count: 0,
        }
    }

    fn get(&self, i: u32) -> bool {
        self.words
            .get(i as usize / 64)
            .is_some_and(|w| w & (1 << (i % 64)) != 0)
    }

    /// Sets bit `i`; false when it was set already (or is out of range).
    fn set(&mut self, i: u32) -> bool {
        let Some(word) = self.words.get_mut(i as usize / 64) else {
            return false;
        };
        let bit = 1 << (i % 64);
        if *word & bit != 0 {
            return false;
        }
        *word |= bit;
        self.count += 1;
        true
    }

    /// The first clear bit, or `n` when every one below `n` is set.
    fn first_clear(&self, n: u32) -> u32 {
        for (w, word) in self.words.iter().enumerate() {
            if *word != u64::MAX {
                return ((w as u32) * 64 + word.trailing_ones()).min(n);
            }
        }
        n
    }
}

/// How a fetch ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Outcome<P> {
    /// The transfer.
    pub id: TransferId,
    /// Who was asked.
    pub from: P,
    /// The state's frame.
    pub frame: u32,
    /// The state's bytes, whose blake3 is the hash asked for, or why there are none.
    pub result: Result<Vec<u8>, TransferError>,
}

/// Why a fetch brought no state.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum TransferError {
    /// The sender holds no such state, or serves too many transfers.
    #[error("the peer refused: it holds no such state, or is busy")]
    Refused,
    /// Every chunk arrived, and their hash is not the one expected.
    #[error("the state's hash is {got}, not the one expected", got = hex(got))]
    HashMismatch {
        /// The hash of what arrived.
        got: [u8; 32],
    },
    /// The state announced is larger than this receiver takes.
    #[error("the state is {len} bytes, over the limit of {limit}")]
    TooLarge {
        /// Its length.
        len: u32,
        /// The receiver's limit.
        limit: usize,
    },
    /// Nothing came for [`GIVE_UP_AFTER`], or the whole fetch took [`FETCH_MAX`].
    #[error("no progress for {} s, or no end after {} s", GIVE_UP_AFTER.as_secs(), FETCH_MAX.as_secs())]
    TimedOut,
    /// Too many fetches already running ([`FETCHES_MAX`]).
    #[error("too many state transfers at once")]
    Busy,
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

struct Fetching<P> {
    from: P,
    frame: u32,
    hash: [u8; 32],
    /// Known from the first chunk.
    len: Option<u32>,
    buf: Vec<u8>,
    got: Bits,
    /// When the request was last sent (until a chunk arrives).
    requested_at: Option<Duration>,
    last_progress: Duration,
    /// When it was asked for.
    began: Duration,
    /// New chunks since the last acknowledgement, and whether one is owed at all.
    unacked: u32,
    ack_due: bool,
}

/// The receiving end: fetches states from peers.
pub struct Incoming<P> {
    limit: usize,
    next_id: u32,
    fetching: BTreeMap<TransferId, Fetching<P>>,
    outbox: Vec<(P, Message)>,
    done: Vec<Outcome<P>>,
    stats: TransferStats,
}

impl<P: Copy + Ord> Incoming<P> {
    /// A receiver that takes states of at most `limit` bytes.
    pub fn new(limit: usize) -> Incoming<P> {
        Incoming {
            limit,
            next_id: 0,
            fetching: BTreeMap::new(),
            outbox: Vec::new(),
            done: Vec::new(),
            stats: TransferStats::default(),
        }
    }

    /// Asks `from` for its state of `frame`, to be adopted only if its blake3 is `hash`. With
    /// [`FETCHES_MAX`] already running, the outcome is [`TransferError::Busy`] at once.
    pub fn fetch(&mut self, from: P, frame: u32, hash: [u8; 32], now: Duration) -> TransferId {
        let id = TransferId(self.next_id);
        self.next_id = self.next_id.wrapping_add(1);
        if self.fetching.len() >= FETCHES_MAX {
            self.done.push(Outcome {
                id,
                from,
                frame,
                result: Err(TransferError::Busy),
            });
            return id;
        }
        self.fetching.insert(
            id,
            Fetching {
                from,
                frame,
                hash,
                len: None,
                buf: Vec::new(),
                got: Bits::default(),
                requested_at: None,
                last_progress: now,
                began: now,
                unacked: 0,
                ack_due: false,
            },
        );
        id
    }

    /// Gives up a fetch (the sender hears so); no outcome follows.
    pub fn cancel(&mut self, id: TransferId) {
        if let Some(fetch) = self.fetching.remove(&id) {
            self.outbox.push((fetch.from, Message::Cancel { id }));
        }
    }

    /// Takes a message from `from`.
    pub fn handle(&mut self, from: P, message: Message, now: Duration) {
        let id = match &message {
            Message::Chunk { id, .. } | Message::Refuse { id } => *id,
            // Requests, acknowledgements and cancels are for the sending end.
            _ => return,
        };
        let Some(fetch) = self.fetching.get_mut(&id).filter(|f| f.from == from) else {
            self.stats.unrequested += 1;
            return;
        };
        match message {
            Message::Refuse { .. } => {
                self.finish(id, Err(TransferError::Refused));
            }
            Message::Chunk {
                len, index, bytes, ..
            } => {
                if fetch.len.is_some_and(|known| known != len) {
                    self.stats.inconsistent += 1;
                    return;
                }
                if fetch.len.is_none() {
                    if len as usize > self.limit {
                        self.stats.inconsistent += 1;
                        self.outbox.push((from, Message::Cancel { id }));
                        let limit = self.limit;
                        self.finish(id, Err(TransferError::TooLarge { len, limit }));
                        return;
                    }
                    fetch.len = Some(len);
                    fetch.buf = vec![0; len as usize];
                    fetch.got = Bits::new(chunks_of(len));
                    fetch.requested_at = None;
                }
                // The decoder checked that the index and the bytes fit `len`; a message built
                // by hand is checked again.
                if index >= chunks_of(len) || bytes.len() != chunk_len(len, index) {
                    self.stats.inconsistent += 1;
                    return;
                }
                if !fetch.got.set(index) {
                    self.stats.duplicates += 1;
                    // Our acknowledgement may have been lost: say again what we hold.
                    fetch.ack_due = true;
                    return;
                }
                let start = index as usize * CHUNK_LEN;
                fetch.buf[start..start + bytes.len()].copy_from_slice(&bytes);
                self.stats.chunks_received += 1;
                fetch.last_progress = now;
                fetch.unacked += 1;
                fetch.ack_due = true;
                if fetch.got.count == chunks_of(len) {
                    let got: [u8; 32] = blake3::hash(&fetch.buf).into();
                    let result = if got == fetch.hash {
                        Ok(std::mem::take(&mut fetch.buf))
                    } else {
                        Err(TransferError::HashMismatch { got })
                    };
                    self.outbox.push((from, Message::Cancel { id }));
                    self.finish(id, result);
                } else if fetch.unacked >= ACK_EVERY {
                    let ack = ack_of(id, fetch);
                    self.outbox.push((from, ack));
                }
            }
            _ => {}
        }
    }

    fn finish(&mut self, id: TransferId, result: Result<Vec<u8>, TransferError>) {
        if let Some(fetch) = self.fetching.remove(&id) {
            self.done.push(Outcome {
                id,
                from: fetch.from,
                frame: fetch.frame,
                result,
            });
        }
    }

    /// What to send now: requests (again, until a chunk arrives), acknowledgements owed, and
    /// cancels; fetches without progress for [`GIVE_UP_AFTER`] end as timed out.
    pub fn poll(&mut self, now: Duration) -> Vec<(P, Message)> {
        let mut timed_out = Vec::new();
        for (&id, fetch) in &mut self.fetching {
            if now.saturating_sub(fetch.last_progress) >= GIVE_UP_AFTER
                || now.saturating_sub(fetch.began) >= FETCH_MAX
            {
                timed_out.push(id);
                continue;
            }
            if fetch.len.is_none() {
                if fetch
                    .requested_at
                    .is_none_or(|at| now.saturating_sub(at) >= RESEND_AFTER)
                {
                    fetch.requested_at = Some(now);
                    self.outbox.push((
                        fetch.from,
                        Message::Request {
                            id,
                            frame: fetch.frame,
                            hash: fetch.hash,
                        },
                    ));
                }
            } else if fetch.ack_due {
                let ack = ack_of(id, fetch);
                self.outbox.push((fetch.from, ack));
            }
        }
        for id in timed_out {
            if let Some(fetch) = self.fetching.get(&id) {
                self.outbox.push((fetch.from, Message::Cancel { id }));
            }
            self.finish(id, Err(TransferError::TimedOut));
        }
        std::mem::take(&mut self.outbox)
    }

    /// Takes the fetches that ended since the last call.
    pub fn take_done(&mut self) -> Vec<Outcome<P>> {
        std::mem::take(&mut self.done)
    }

    /// Fetches running.
    pub fn running(&self) -> usize {
        self.fetching.len()
    }

    /// What was dropped and done so far.
    pub fn stats(&self) -> &TransferStats {
        &self.stats
    }
}

fn ack_of<P>(id: TransferId, fetch: &mut Fetching<P>) -> Message {
    let n = fetch.len.map_or(0, chunks_of);
    let below = fetch.got.first_clear(n);
    let mut also = [0u64; 4];
    for i in 0..ACK_BITS {
        if fetch.got.get(below.saturating_add(1 + i)) {
            also[i as usize / 64] |= 1 << (i % 64);
        }
    }
    fetch.unacked = 0;
    fetch.ack_due = false;
    Message::Ack { id, below, also }
}

struct Serving {
    blob: Arc<[u8]>,
    chunks: u32,
    acked: Bits,
    /// When each chunk was last sent (None: never).
    sent_at: Vec<Option<Duration>>,
    /// Chunks below this were sent at least once.
    next_new: u32,
    /// Chunks below this are all acknowledged.
    acked_below: u32,
    last_progress: Duration,
}

/// The sending end: serves states to peers that ask.
pub struct Outgoing<P> {
    rate: u64,
    /// Bytes that may be sent now (a token bucket of up to one window).
    tokens: u64,
    /// Byte-microseconds not yet a whole byte of tokens.
    fraction: u64,
    last_refill: Option<Duration>,
    serving: BTreeMap<(P, TransferId), Serving>,
    outbox: Vec<(P, Message)>,
    stats: TransferStats,
}

impl<P: Copy + Ord> Outgoing<P> {
    /// A sender of at most `rate` bytes of chunks per second over all its transfers.
    pub fn new(rate: u64) -> Outgoing<P> {
        Outgoing {
            rate: rate.max(1),
            tokens: 0,
            fraction: 0,
            last_refill: None,
            serving: BTreeMap::new(),
            outbox: Vec::new(),
            stats: TransferStats::default(),
        }
    }

    /// Takes a message from `from`. A request is served with what `lookup(frame, hash)`
    /// returns: the bytes of our state of that frame if its hash is that one, else None (and
    /// the request is refused).
    pub fn handle(
        &mut self,
        from: P,
        message: Message,
        now: Duration,
        lookup: impl FnOnce(u32, &[u8; 32]) -> Option<Arc<[u8]>>,
    ) {
        match message {
            Message::Request { id, frame, hash } => {
                if self.serving.contains_key(&(from, id)) {
                    return; // a request sent again; already served
                }
                let theirs = self.serving.keys().filter(|(to, _)| *to == from).count();
                let room = self.serving.len() < SERVING_MAX && theirs < SERVING_PER_PEER;
                let blob = room
                    .then(|| lookup(frame, &hash))
                    .flatten()
                    .filter(|blob| u32::try_from(blob.len()).is_ok());
                let Some(blob) = blob else {
                    self.stats.refused += 1;
                    self.outbox.push((from, Message::Refuse { id }));
                    return;
                };
                let chunks = chunks_of(blob.len() as u32);
                self.serving.insert(
                    (from, id),
                    Serving {
                        blob,
                        chunks,
                        acked: Bits::new(chunks),
                        sent_at: vec![None; chunks as usize],
                        next_new: 0,
                        acked_below: 0,
                        last_progress: now,
                    },
                );
            }
            Message::Ack { id, below, also } => {
                let Some(serving) = self.serving.get_mut(&(from, id)) else {
                    self.stats.unrequested += 1;
                    return;
                };
                if below > serving.chunks || below > serving.next_new {
                    self.stats.inconsistent += 1;
                    return;
                }
                let mut progress = false;
                for i in serving.acked_below..below {
                    progress |= serving.acked.set(i);
                }
                serving.acked_below = serving.acked_below.max(below);
                for i in 0..ACK_BITS {
                    let index = below.saturating_add(1 + i);
                    if also[i as usize / 64] & (1 << (i % 64)) != 0 && index < serving.next_new {
                        progress |= serving.acked.set(index);
                    }
                }
                if progress {
                    serving.last_progress = now;
                }
                if serving.acked.count == serving.chunks {
                    self.serving.remove(&(from, id));
                }
            }
            Message::Cancel { id } => {
                self.serving.remove(&(from, id));
            }
            Message::Chunk { .. } | Message::Refuse { .. } => {}
        }
    }

    fn refill(&mut self, now: Duration) {
        let burst = u64::from(WINDOW) * CHUNK_LEN as u64;
        let Some(last) = self.last_refill.replace(now) else {
            self.tokens = burst;
            return;
        };
        let micros = now
            .saturating_sub(last)
            .as_micros()
            .min(u128::from(u32::MAX)) as u64;
        let earned = self
            .fraction
            .saturating_add(self.rate.saturating_mul(micros));
        self.tokens = self.tokens.saturating_add(earned / 1_000_000).min(burst);
        self.fraction = earned % 1_000_000;
    }

    /// What to send now: refusals, chunks not acknowledged in time (first), then new chunks,
    /// within each transfer's window and the byte rate. Transfers without progress for
    /// [`GIVE_UP_AFTER`] are dropped.
    pub fn poll(&mut self, now: Duration) -> Vec<(P, Message)> {
        self.refill(now);
        self.serving
            .retain(|_, s| now.saturating_sub(s.last_progress) < GIVE_UP_AFTER);
        let mut out = std::mem::take(&mut self.outbox);
        // Round-robin would be fairer; transfers are few and short, so in order is enough.
        for (&(to, id), serving) in &mut self.serving {
            let blob_len = serving.blob.len() as u32;
            let mut send = |index: u32, tokens: &mut u64, stats: &mut TransferStats| {
                let start = index as usize * CHUNK_LEN;
                let len = chunk_len(blob_len, index);
                if (*tokens as usize) < len {
                    return false;
                }
                *tokens -= len as u64;
                stats.chunks_sent += 1;
                out.push((
                    to,
                    Message::Chunk {
                        id,
                        len: blob_len,
                        index,
                        bytes: serving.blob[start..start + len].to_vec(),
                    },
                ));
                true
            };
            let mut in_flight = 0u32;
            for index in serving.acked_below..serving.next_new {
                if serving.acked.get(index) {
                    continue;
                }
                in_flight += 1;
                let due = serving.sent_at[index as usize]
                    .is_none_or(|at| now.saturating_sub(at) >= RESEND_AFTER);
                if due {
                    if !send(index, &mut self.tokens, &mut self.stats) {
                        break;
                    }
                    self.stats.chunks_resent += 1;
                    serving.sent_at[index as usize] = Some(now);
                }
            }
            while serving.next_new < serving.chunks && in_flight < WINDOW {
                let index = serving.next_new;
                if !send(index, &mut self.tokens, &mut self.stats) {
                    break;
                }
                serving.sent_at[index as usize] = Some(now);
                serving.next_new += 1;
                in_flight += 1;
            }
        }
        out
    }

    /// Transfers being served.
    pub fn serving(&self) -> usize {
        self.serving.len()
    }

    /// What was refused and done so far.
    pub fn stats(&self) -> &TransferStats {
        &self.stats
    }
}

#[cfg(test)]
mod tests;
