//! Our signaller for matchbox: the websocket to the signaling server, with a gate in it that
//! authenticates every signal before matchbox's message loop sees it.
//!
//! matchbox starts a whole peer connection (sockets, file descriptors, a DTLS certificate) for
//! every `NewPeer` the server announces and for every signal from a sender it does not know,
//! and it unwraps the session descriptions it is sent, so one malformed offer or answer ends
//! its loop. Here nothing unchecked reaches it:
//!
//! - Every signal we send carries a MAC (keyed blake3, the key derived from the room code, see
//!   [`crate::invite::RoomCode::key`]) over the sender's and receiver's ids, its kind and its
//!   content, inside the same `PeerSignal` variant (`Offer("hltd1:o:<mac>:<sdp>")`), so an
//!   unmodified signaling server relays it. A received signal whose MAC does not verify is
//!   dropped and counted. The SDP carries the DTLS fingerprints, so the MAC also keeps whoever
//!   runs the signaling server from putting itself in the middle.
//! - A `NewPeer(x)` is held back until `x` proves it holds the key: we send it a challenge (a
//!   random nonce) and release `NewPeer(x)` to matchbox only when its answer carries the MAC
//!   over both ids and the nonce. Pending challenges are bounded (the oldest is forgotten).
//! - Peers are admitted up to a cap ([`Gate::set_admit_max`]) and not at all once the match
//!   started ([`Gate::close`]), when handshakes still unfinished get no further description;
//!   whoever is not admitted costs a few bytes and no descriptors.
//! - Offers and answers must parse with the parser matchbox uses (webrtc-rs's
//!   `RTCSessionDescription`) and name DTLS and ICE credentials; one of each per peer. ICE
//!   candidates are bounded JSON objects, a bounded number per peer. A second `IdAssigned`
//!   (which matchbox would panic on) and events about ourselves are dropped.
//! - Frames from the server are bounded ([`FRAME_MAX`]); a longer one ends the connection.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll};

use async_tungstenite::smol::{connect_async_with_config, ConnectStream};
use async_tungstenite::tungstenite::protocol::WebSocketConfig;
use async_tungstenite::tungstenite::{Error as WsError, Message};
use async_tungstenite::WebSocketStream;
use futures::{Sink, Stream};
// (`Sink` is async-tungstenite's `futures-03-sink`: its inherent methods are private.)
use matchbox_socket::async_trait::async_trait;
use matchbox_socket::{
    PeerEvent, PeerId, PeerRequest, PeerSignal, SignalingError, Signaller, SignallerBuilder,
};

/// The longest frame we accept from the signaling server. An offer or answer is 1-2 KB.
pub const FRAME_MAX: usize = 64 * 1024;
/// The longest session description accepted.
pub const SDP_MAX: usize = 16 * 1024;
/// The longest ICE candidate accepted.
pub const CANDIDATE_MAX: usize = 1024;
/// ICE candidates accepted from one peer.
pub const CANDIDATES_PER_PEER: u32 = 64;
/// Newcomers challenged and not yet answered at most; the oldest is forgotten first.
pub const PENDING_MAX: usize = 32;
/// Challenges we answer for one sender at most.
pub const ANSWERS_PER_SENDER: u8 = 4;
/// Senders whose challenges we remember having answered.
pub const ANSWERED_MAX: usize = 64;
/// Peers named as expected ([`Gate::expect`]) at most.
pub const EXPECTED_MAX: usize = 16;
/// Peers a joiner admits at most: everyone else of the largest match (4 players and 4
/// spectators).
pub const ADMIT_MAX_DEFAULT: usize = 7;

const PREFIX: &str = "hltd1:";
const MAC_DOMAIN: &[u8] = b"healer-td 2026 webrtc signal v1";

/// Why a signal or event from the signaling server was dropped.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum SignalDrop {
    /// Not a matchbox event, or not one of our signals.
    Malformed,
    /// Its MAC does not verify: the sender does not hold the room's key.
    Unauthenticated,
    /// An authentic signal out of turn (a second offer, an answer nobody asked for, a second
    /// `IdAssigned`, an answer to no pending challenge, ...).
    Unexpected,
    /// Content that matchbox would fail on (an SDP that does not parse, a bad candidate).
    Invalid,
    /// The room is full: the cap on admitted peers is reached.
    Full,
    /// The match started: nobody is admitted anymore.
    Closed,
    /// Over a bound (challenges pending, answers given, candidates per peer).
    Flood,
}

/// What the gate has done, for logs and tests.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SignalStats {
    /// Peers admitted (released to matchbox).
    pub admitted: u64,
    /// Challenges sent to newcomers.
    pub challenged: u64,
    /// Signals and events dropped, by reason.
    pub dropped: BTreeMap<SignalDrop, u64>,
}

#[derive(Debug)]
struct GateState {
    admit_max: usize,
    closed: bool,
    admitted_now: usize,
    /// Peers admitted even once closed (the match's own, named by the lobby).
    expected: BTreeSet<PeerId>,
    stats: SignalStats,
}

impl GateState {
    fn open_to(&self, peer: PeerId) -> Result<(), SignalDrop> {
        if self.closed && !self.expected.contains(&peer) {
            Err(SignalDrop::Closed)
        } else if self.admitted_now >= self.admit_max {
            Err(SignalDrop::Full)
        } else {
            Ok(())
        }
    }
}

/// Shared between the socket (which sets the cap and closes the room) and the signaller
/// (which admits peers).
#[derive(Debug)]
pub struct Gate(Mutex<GateState>);

impl Gate {
    /// A gate admitting up to `admit_max` peers at a time.
    pub fn new(admit_max: usize) -> Arc<Gate> {
        Arc::new(Gate(Mutex::new(GateState {
            admit_max,
            closed: false,
            admitted_now: 0,
            expected: BTreeSet::new(),
            stats: SignalStats::default(),
        })))
    }

    fn lock(&self) -> MutexGuard<'_, GateState> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Admits up to `admit_max` peers at a time from now on.
    pub fn set_admit_max(&self, admit_max: usize) {
        self.lock().admit_max = admit_max;
    }

    /// Names a peer of the match: it is admitted even once the gate is closed (up to the cap).
    pub fn expect(&self, peer: PeerId) {
        let mut state = self.lock();
        if state.expected.len() < EXPECTED_MAX {
            state.expected.insert(peer);
        }
    }

    /// Admits nobody but the expected peers from now on (the match started).
    pub fn close(&self) {
        self.lock().closed = true;
    }

    /// Admits peers again (up to the cap).
    pub fn open(&self) {
        self.lock().closed = false;
    }

    /// Whether the match started.
    pub fn is_closed(&self) -> bool {
        self.lock().closed
    }

    /// What the gate did so far.
    pub fn stats(&self) -> SignalStats {
        self.lock().stats.clone()
    }

    fn count(&self, reason: SignalDrop) {
        *self.lock().stats.dropped.entry(reason).or_insert(0) += 1;
    }

    /// Whether `peer` may be admitted; counts it when so.
    fn try_admit(&self, peer: PeerId) -> Result<(), SignalDrop> {
        let mut state = self.lock();
        state.open_to(peer)?;
        state.admitted_now += 1;
        state.stats.admitted += 1;
        Ok(())
    }

    fn accepting(&self, peer: PeerId) -> Result<(), SignalDrop> {
        self.lock().open_to(peer)
    }

    /// Whether a handshake with `peer` may still go on: not once closed, unless expected.
    fn may_describe(&self, peer: PeerId) -> bool {
        let state = self.lock();
        !state.closed || state.expected.contains(&peer)
    }

    fn release(&self) {
        let mut state = self.lock();
        state.admitted_now = state.admitted_now.saturating_sub(1);
    }
}

/// The MAC of one signal: keyed blake3 over the domain, both ids, the kind and the content.
fn mac(key: &[u8; 32], sender: PeerId, receiver: PeerId, tag: u8, body: &str) -> blake3::Hash {
    let mut hasher = blake3::Hasher::new_keyed(key);
    hasher.update(MAC_DOMAIN);
    hasher.update(sender.0.as_bytes());
    hasher.update(receiver.0.as_bytes());
    hasher.update(&[tag]);
    hasher.update(body.as_bytes());
    hasher.finalize()
}

/// Wraps `body` as signal kind `tag` from `sender` to `receiver`.
fn seal(key: &[u8; 32], sender: PeerId, receiver: PeerId, tag: u8, body: &str) -> String {
    let mac = mac(key, sender, receiver, tag, body);
    format!("{PREFIX}{}:{}:{body}", char::from(tag), mac.to_hex())
}

/// `signal` from `sender` to `receiver` as our signaller sends it: for tests that play a
/// member of the room.
pub fn seal_signal(
    key: &[u8; 32],
    sender: PeerId,
    receiver: PeerId,
    signal: &PeerSignal,
) -> PeerSignal {
    match signal {
        PeerSignal::Offer(sdp) => PeerSignal::Offer(seal(key, sender, receiver, b'o', sdp)),
        PeerSignal::Answer(sdp) => PeerSignal::Answer(seal(key, sender, receiver, b'a', sdp)),
        PeerSignal::IceCandidate(c) => {
            PeerSignal::IceCandidate(seal(key, sender, receiver, b'i', c))
        }
    }
}

/// The answer `me` gives to `signal` from `challenger` when it is a challenge: for tests that
/// play a member of the room.
pub fn answer_challenge(
    key: &[u8; 32],
    me: PeerId,
    challenger: PeerId,
    signal: &PeerSignal,
) -> Option<PeerSignal> {
    let (tag, _, nonce) = unwrap_signal(signal)?;
    (tag == b'c').then(|| PeerSignal::IceCandidate(seal(key, me, challenger, b'r', nonce)))
}

/// The kind (`o`, `a`, `i`, `c`, `r`) and content of one of our signals, its MAC unchecked.
pub fn signal_content(signal: &PeerSignal) -> Option<(char, &str)> {
    unwrap_signal(signal).map(|(tag, _, body)| (char::from(tag), body))
}

/// The kind, MAC and content of one of our signals; `None` when it is not one.
fn unwrap_signal(signal: &PeerSignal) -> Option<(u8, blake3::Hash, &str)> {
    let (text, allowed): (&str, &[u8]) = match signal {
        PeerSignal::Offer(text) => (text, b"o"),
        PeerSignal::Answer(text) => (text, b"a"),
        PeerSignal::IceCandidate(text) => (text, b"icr"),
    };
    let rest = text.strip_prefix(PREFIX)?;
    let (&tag, rest) = rest.as_bytes().split_first()?;
    if !allowed.contains(&tag) {
        return None;
    }
    let rest = rest.strip_prefix(b":")?;
    let (hex, rest) = rest.split_at_checked(64)?;
    let rest = rest.strip_prefix(b":")?;
    let mac = blake3::Hash::from_hex(hex).ok()?;
    // `rest` is a suffix of a str that starts after ASCII bytes: still valid UTF-8.
    let body = std::str::from_utf8(rest).ok()?;
    Some((tag, mac, body))
}

/// Whether `sdp` is a session description matchbox can use: it parses with webrtc-rs's parser
/// (the one matchbox unwraps) and carries DTLS and ICE credentials.
pub fn valid_sdp(sdp: &str, offer: bool) -> bool {
    if sdp.len() > SDP_MAX {
        return false;
    }
    let parsed = if offer {
        webrtc::peer_connection::RTCSessionDescription::offer(sdp.to_string()).is_ok()
    } else {
        webrtc::peer_connection::RTCSessionDescription::answer(sdp.to_string()).is_ok()
    };
    parsed
        && [
            "a=fingerprint:",
            "a=ice-ufrag:",
            "a=ice-pwd:",
            "m=application",
        ]
        .iter()
        .all(|needle| sdp.contains(needle))
}

/// Whether `candidate` is an ICE candidate as matchbox sends them: `null` (the end), or a
/// small JSON object whose `candidate` is a string.
pub fn valid_candidate(candidate: &str) -> bool {
    if candidate.len() > CANDIDATE_MAX {
        return false;
    }
    if candidate == "null" {
        return true;
    }
    serde_json::from_str::<serde_json::Value>(candidate)
        .ok()
        .and_then(|v| v.get("candidate").map(serde_json::Value::is_string))
        .unwrap_or(false)
}

fn nonce() -> Result<String, SignalingError> {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes)
        .map_err(|err| SignalingError::UserImplementationError(format!("no randomness: {err}")))?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

/// Builds [`GatedSignaller`]s for matchbox.
pub struct GatedBuilder {
    key: [u8; 32],
    gate: Arc<Gate>,
}

impl GatedBuilder {
    /// A builder for signallers authenticating with `key` and admitting through `gate`.
    pub fn new(key: [u8; 32], gate: Arc<Gate>) -> GatedBuilder {
        GatedBuilder { key, gate }
    }
}

impl std::fmt::Debug for GatedBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("GatedBuilder(..)")
    }
}

/// The websocket configuration: frames and messages bounded by [`FRAME_MAX`].
fn ws_config() -> WebSocketConfig {
    WebSocketConfig::default()
        .max_message_size(Some(FRAME_MAX))
        .max_frame_size(Some(FRAME_MAX))
}

#[async_trait]
impl SignallerBuilder for GatedBuilder {
    async fn new_signaller(
        &self,
        _attempts: Option<u16>,
        room_url: String,
    ) -> Result<Box<dyn Signaller>, SignalingError> {
        // One attempt: the caller reports a failure at once.
        let (ws, _) = connect_async_with_config(&room_url, Some(ws_config()))
            .await
            .map_err(|err| SignalingError::NegotiationFailed(Box::new(err.into())))?;
        Ok(Box::new(GatedSignaller {
            ws,
            key: self.key,
            gate: self.gate.clone(),
            me: None,
            outgoing: VecDeque::new(),
            ready: VecDeque::new(),
            pending: VecDeque::new(),
            admitted: BTreeMap::new(),
            answered: BTreeMap::new(),
        }))
    }
}

/// What we know of an admitted peer.
#[derive(Default)]
struct Admitted {
    /// Its offer or answer arrived.
    described: bool,
    /// ICE candidates it sent.
    candidates: u32,
}

/// The signaller: see the module documentation.
pub struct GatedSignaller {
    ws: WebSocketStream<ConnectStream>,
    key: [u8; 32],
    gate: Arc<Gate>,
    me: Option<PeerId>,
    /// Frames waiting to be sent.
    outgoing: VecDeque<Message>,
    /// Events checked and waiting for matchbox.
    ready: VecDeque<PeerEvent>,
    /// Newcomers challenged, with their nonce.
    pending: VecDeque<(PeerId, String)>,
    admitted: BTreeMap<PeerId, Admitted>,
    answered: BTreeMap<PeerId, u8>,
}

impl GatedSignaller {
    /// Sends what waits and reads the next frame. All state lives in `self`, so the future
    /// polling this may be dropped at any point (matchbox's loop does) without losing a frame.
    fn poll_io(&mut self, cx: &mut Context<'_>) -> Poll<Option<Result<Message, WsError>>> {
        if let Err(err) = self.poll_send(cx) {
            return Poll::Ready(Some(Err(err)));
        }
        Stream::poll_next(Pin::new(&mut self.ws), cx)
    }

    /// Hands waiting frames to the websocket and flushes; `Ok` whether or not all left.
    fn poll_send(&mut self, cx: &mut Context<'_>) -> Result<bool, WsError> {
        while !self.outgoing.is_empty() {
            match Sink::poll_ready(Pin::new(&mut self.ws), cx) {
                Poll::Ready(Ok(())) => {
                    if let Some(message) = self.outgoing.pop_front() {
                        Sink::start_send(Pin::new(&mut self.ws), message)?;
                    }
                }
                Poll::Ready(Err(err)) => return Err(err),
                Poll::Pending => return Ok(false),
            }
        }
        match Sink::poll_flush(Pin::new(&mut self.ws), cx) {
            Poll::Ready(Ok(())) => Ok(true),
            Poll::Ready(Err(err)) => Err(err),
            Poll::Pending => Ok(false),
        }
    }

    fn queue(&mut self, request: &PeerRequest) {
        match serde_json::to_string(request) {
            Ok(text) => self.outgoing.push_back(Message::Text(text.into())),
            Err(err) => tracing::warn!(%err, "cannot encode a signaling request"),
        }
    }

    fn queue_signal(&mut self, to: PeerId, tag: u8, body: &str) {
        let Some(me) = self.me else {
            return;
        };
        let text = seal(&self.key, me, to, tag, body);
        let data = match tag {
            b'o' => PeerSignal::Offer(text),
            b'a' => PeerSignal::Answer(text),
            _ => PeerSignal::IceCandidate(text),
        };
        self.queue(&PeerRequest::Signal { receiver: to, data });
    }

    fn drop_one(&self, reason: SignalDrop, what: &str) {
        tracing::debug!(?reason, what, "signaling: dropped");
        self.gate.count(reason);
    }

    /// Checks one frame from the server; what passes waits in `ready`, what we answer in
    /// `outgoing`.
    fn on_frame(&mut self, text: &str) -> Result<(), SignalingError> {
        let Ok(event) = serde_json::from_str::<PeerEvent>(text) else {
            self.drop_one(SignalDrop::Malformed, "not a signaling event");
            return Ok(());
        };
        let me = match (event, self.me) {
            (PeerEvent::IdAssigned(id), None) => {
                self.me = Some(id);
                self.ready.push_back(PeerEvent::IdAssigned(id));
                return Ok(());
            }
            (PeerEvent::IdAssigned(_), Some(_)) => {
                self.drop_one(SignalDrop::Unexpected, "a second IdAssigned");
                return Ok(());
            }
            (_, None) => {
                self.drop_one(SignalDrop::Unexpected, "an event before IdAssigned");
                return Ok(());
            }
            (event, Some(me)) => (event, me),
        };
        match me {
            (PeerEvent::NewPeer(peer), me) => self.on_new_peer(peer, me),
            (PeerEvent::PeerLeft(peer), _) => {
                self.pending.retain(|(p, _)| *p != peer);
                self.answered.remove(&peer);
                if self.admitted.remove(&peer).is_some() {
                    self.gate.release();
                    self.ready.push_back(PeerEvent::PeerLeft(peer));
                }
                Ok(())
            }
            (PeerEvent::Signal { sender, data }, me) => {
                self.on_signal(sender, me, &data);
                Ok(())
            }
            (PeerEvent::IdAssigned(_), _) => Ok(()),
        }
    }

    fn on_new_peer(&mut self, peer: PeerId, me: PeerId) -> Result<(), SignalingError> {
        if peer == me
            || self.admitted.contains_key(&peer)
            || self.pending.iter().any(|p| p.0 == peer)
        {
            self.drop_one(SignalDrop::Unexpected, "NewPeer of a known peer");
            return Ok(());
        }
        if let Err(reason) = self.gate.accepting(peer) {
            self.drop_one(reason, "NewPeer");
            return Ok(());
        }
        let nonce = nonce()?;
        if self.pending.len() >= PENDING_MAX {
            self.pending.pop_front();
            self.drop_one(SignalDrop::Flood, "oldest pending challenge");
        }
        self.queue_signal(peer, b'c', &nonce);
        self.pending.push_back((peer, nonce));
        self.gate.lock().stats.challenged += 1;
        Ok(())
    }

    fn on_signal(&mut self, sender: PeerId, me: PeerId, data: &PeerSignal) {
        if sender == me {
            return self.drop_one(SignalDrop::Unexpected, "a signal from ourselves");
        }
        let Some((tag, their_mac, body)) = unwrap_signal(data) else {
            return self.drop_one(SignalDrop::Malformed, "not one of our signals");
        };
        // Challenges too: the challenger proves the key first, so a stranger can neither fill
        // our table of answered challenges nor get an answer out of us.
        if mac(&self.key, sender, me, tag, body) != their_mac {
            return self.drop_one(SignalDrop::Unauthenticated, "a signal whose MAC is wrong");
        }
        if tag == b'c' {
            return self.on_challenge(sender, body);
        }
        match tag {
            b'r' => {
                let Some(at) = self
                    .pending
                    .iter()
                    .position(|(p, n)| *p == sender && n == body)
                else {
                    return self.drop_one(SignalDrop::Unexpected, "an answer to no challenge");
                };
                self.pending.remove(at);
                if let Err(reason) = self.gate.try_admit(sender) {
                    return self.drop_one(reason, "a newcomer's answer");
                }
                self.admitted.insert(sender, Admitted::default());
                tracing::debug!(%sender, "signaling: newcomer proved the room key");
                self.ready.push_back(PeerEvent::NewPeer(sender));
            }
            b'o' => {
                if !valid_sdp(body, true) {
                    return self.drop_one(SignalDrop::Invalid, "an offer");
                }
                let closed = !self.gate.may_describe(sender);
                match self.admitted.get_mut(&sender) {
                    Some(peer) if peer.described => {
                        return self.drop_one(SignalDrop::Unexpected, "a second offer")
                    }
                    // A handshake still open when the match started is nobody's the match
                    // needs: it stays unfinished.
                    Some(_) if closed => return self.drop_one(SignalDrop::Closed, "an offer"),
                    Some(peer) => peer.described = true,
                    None => {
                        if let Err(reason) = self.gate.try_admit(sender) {
                            return self.drop_one(reason, "an offer");
                        }
                        self.admitted.insert(
                            sender,
                            Admitted {
                                described: true,
                                candidates: 0,
                            },
                        );
                    }
                }
                self.pass(sender, PeerSignal::Offer(body.to_string()));
            }
            b'a' => {
                if !valid_sdp(body, false) {
                    return self.drop_one(SignalDrop::Invalid, "an answer");
                }
                let closed = !self.gate.may_describe(sender);
                match self.admitted.get_mut(&sender) {
                    Some(_) if closed => return self.drop_one(SignalDrop::Closed, "an answer"),
                    Some(peer) if !peer.described => peer.described = true,
                    _ => return self.drop_one(SignalDrop::Unexpected, "an answer"),
                }
                self.pass(sender, PeerSignal::Answer(body.to_string()));
            }
            _ => {
                if !valid_candidate(body) {
                    return self.drop_one(SignalDrop::Invalid, "an ICE candidate");
                }
                match self.admitted.get_mut(&sender) {
                    Some(peer) if peer.described && peer.candidates < CANDIDATES_PER_PEER => {
                        peer.candidates += 1;
                    }
                    Some(peer) if peer.described => {
                        return self.drop_one(SignalDrop::Flood, "an ICE candidate")
                    }
                    _ => return self.drop_one(SignalDrop::Unexpected, "an ICE candidate"),
                }
                self.pass(sender, PeerSignal::IceCandidate(body.to_string()));
            }
        }
    }

    /// Answers a challenge: our MAC over both ids and the nonce.
    fn on_challenge(&mut self, sender: PeerId, nonce: &str) {
        if nonce.len() != 32 || !nonce.bytes().all(|b| b.is_ascii_hexdigit()) {
            return self.drop_one(SignalDrop::Malformed, "a challenge");
        }
        if !self.answered.contains_key(&sender) && self.answered.len() >= ANSWERED_MAX {
            return self.drop_one(SignalDrop::Flood, "a challenge");
        }
        let count = self.answered.entry(sender).or_insert(0);
        if *count >= ANSWERS_PER_SENDER {
            return self.drop_one(SignalDrop::Flood, "a challenge");
        }
        *count += 1;
        self.queue_signal(sender, b'r', nonce);
    }

    fn pass(&mut self, sender: PeerId, data: PeerSignal) {
        self.ready.push_back(PeerEvent::Signal { sender, data });
    }
}

#[async_trait]
impl Signaller for GatedSignaller {
    async fn send(&mut self, request: PeerRequest) -> Result<(), SignalingError> {
        match request {
            PeerRequest::Signal { receiver, data } => {
                let (tag, body) = match &data {
                    PeerSignal::Offer(sdp) => (b'o', sdp),
                    PeerSignal::Answer(sdp) => (b'a', sdp),
                    PeerSignal::IceCandidate(candidate) => (b'i', candidate),
                };
                let body = body.clone();
                self.queue_signal(receiver, tag, &body);
            }
            PeerRequest::KeepAlive => self.queue(&PeerRequest::KeepAlive),
        }
        futures::future::poll_fn(|cx| match self.poll_send(cx) {
            Ok(true) => Poll::Ready(Ok(())),
            Ok(false) => Poll::Pending,
            Err(err) => Poll::Ready(Err(SignalingError::from(err))),
        })
        .await
    }

    async fn next_message(&mut self) -> Result<PeerEvent, SignalingError> {
        loop {
            if let Some(event) = self.ready.pop_front() {
                return Ok(event);
            }
            let frame = futures::future::poll_fn(|cx| self.poll_io(cx)).await;
            match frame {
                Some(Ok(Message::Text(text))) => self.on_frame(&text)?,
                Some(Ok(Message::Close(_))) | None => return Err(SignalingError::StreamExhausted),
                Some(Ok(Message::Binary(_))) => {
                    self.drop_one(SignalDrop::Malformed, "a binary frame");
                }
                // Pings are answered by tungstenite.
                Some(Ok(_)) => {}
                Some(Err(err)) => return Err(SignalingError::from(err)),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(n: u8) -> PeerId {
        PeerId(uuid::Uuid::from_bytes([n; 16]))
    }

    #[test]
    fn sealed_signals_verify_only_with_the_key_and_the_ids() {
        let key = [7u8; 32];
        let text = seal(&key, id(1), id(2), b'o', "v=0 body:with:colons");
        let signal = PeerSignal::Offer(text.clone());
        let (tag, their_mac, body) = unwrap_signal(&signal).expect("ours");
        assert_eq!((tag, body), (b'o', "v=0 body:with:colons"));
        assert_eq!(mac(&key, id(1), id(2), tag, body), their_mac);
        assert_ne!(mac(&[8u8; 32], id(1), id(2), tag, body), their_mac);
        assert_ne!(mac(&key, id(2), id(1), tag, body), their_mac);
        assert_ne!(mac(&key, id(1), id(2), b'a', body), their_mac);
        // The kind must match the variant it travels in.
        assert!(unwrap_signal(&PeerSignal::Answer(text.clone())).is_none());
        for junk in [
            "x",
            "",
            "hltd1:",
            "hltd1:o:",
            "hltd1:o:zz:x",
            "hltd1:q:00:x",
        ] {
            assert!(
                unwrap_signal(&PeerSignal::Offer(junk.into())).is_none(),
                "{junk}"
            );
        }
        let mut cut = text.clone();
        while cut.pop().is_some() {
            let _ = unwrap_signal(&PeerSignal::Offer(cut.clone()));
        }
    }

    #[test]
    fn content_is_checked_as_matchbox_would_need_it() {
        assert!(!valid_sdp("x", true));
        assert!(!valid_sdp("x", false));
        assert!(!valid_sdp(&"v=0\r\n".repeat(5000), true));
        assert!(valid_candidate("null"));
        assert!(valid_candidate(
            r#"{"candidate":"candidate:1 1 udp 1 127.0.0.1 5 typ host"}"#
        ));
        assert!(!valid_candidate("{}"));
        assert!(!valid_candidate("x"));
        assert!(!valid_candidate(&format!(
            r#"{{"candidate":"{}"}}"#,
            "a".repeat(2000)
        )));
    }

    #[test]
    fn the_gate_caps_and_closes() {
        let gate = Gate::new(2);
        assert_eq!(gate.try_admit(id(1)), Ok(()));
        assert_eq!(gate.try_admit(id(2)), Ok(()));
        assert_eq!(gate.try_admit(id(3)), Err(SignalDrop::Full));
        gate.release();
        assert_eq!(gate.accepting(id(3)), Ok(()));
        gate.expect(id(4));
        gate.close();
        assert_eq!(gate.try_admit(id(3)), Err(SignalDrop::Closed));
        assert!(!gate.may_describe(id(3)));
        assert!(gate.may_describe(id(4)));
        assert_eq!(gate.try_admit(id(4)), Ok(()));
        assert_eq!(gate.try_admit(id(5)), Err(SignalDrop::Closed));
        assert_eq!(gate.stats().admitted, 3);
    }
}
