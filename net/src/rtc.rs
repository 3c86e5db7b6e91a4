//! The WebRTC transport: matchbox_socket's data channels, behind our own GGRS adapter.
//!
//! matchbox's own GGRS adapter panics on the first packet it cannot decode; here every packet
//! goes through the same [`Mailbox`] validation as over UDP, and a bad one is dropped and
//! counted. Two channels per peer: channel 0 is unreliable and unordered and carries GGRS
//! messages (a stream byte, then a message or a batch, as inside UDP datagrams); channel 1 is
//! reliable and ordered and carries the lobby's control messages. DTLS encrypts both; the
//! signaling server introduces the peers of one room to each other.
//!
//! Signaling goes through our own signaller ([`crate::signaller`]): the room's name and the
//! key that authenticates every signal come from the room code, and only peers that prove they
//! hold the key, up to a cap, reach matchbox (each costs a peer connection there). Junk and
//! malformed signals are dropped before matchbox sees them.
//!
//! matchbox's message loop (a future) runs on a thread of its own, driven by
//! `futures::executor::block_on`. It unwraps errors in places (a peer connection that cannot be
//! built, a session description webrtc-rs refuses): the thread catches the panic, and the
//! socket turns it, like any other end of the loop, into [`Transport::failure`], which ends
//! the session with a clear error. One known cause is checked before starting: webrtc-rs
//! opens an mDNS multicast socket, which fails with `No such device (os error 19)` on a host
//! without a route to 224.0.0.0/4.

use std::cell::RefCell;
use std::collections::{BTreeMap, VecDeque};
use std::net::UdpSocket;
use std::panic::AssertUnwindSafe;
use std::rc::Rc;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use matchbox_socket::{
    ChannelConfig, MessageLoopFuture, Packet, PeerId, PeerState, RtcIceServerConfig, WebRtcSocket,
    WebRtcSocketBuilder,
};

use crate::invite::RoomCode;
use crate::lobby::{Reader, RosterAddr};
use crate::secure::{DropReason, PAYLOAD_MAX};
use crate::signaller::{Gate, GatedBuilder, SignalStats, ADMIT_MAX_DEFAULT};
use crate::transport::{
    ControlInbox, FaultLine, Faults, LinkEvent, Mailbox, Traffic, Transport, STREAM_GGRS,
    STREAM_GGRS_BATCH,
};

/// The data channel GGRS messages travel on (unreliable, unordered).
pub const CHANNEL_GGRS: usize = 0;
/// The data channel control messages travel on (reliable, ordered).
pub const CHANNEL_CONTROL: usize = 1;
/// How long the signaling server may take to welcome us.
pub const SIGNAL_TIMEOUT: Duration = Duration::from_secs(10);
/// The name of the thread that runs matchbox's message loop.
pub const LOOP_THREAD: &str = "webrtc-loop";
/// Peers the socket keeps counters of at most (UDP has [`crate::udp::PEERS_MAX`]): the
/// signaller admits fewer; peers that left are forgotten first when room is needed.
pub const RTC_PEERS_MAX: usize = 16;
/// Longest detail of a failure of the WebRTC stack that is shown.
const DETAIL_MAX: usize = 200;

/// What to say when the host has no multicast route.
pub const NO_MULTICAST_ROUTE: &str = "WebRTC cannot start: this host has no route to the \
multicast range 224.0.0.0/4, which webrtc-rs needs for its mDNS socket (it fails with \"No such \
device (os error 19)\"). Add one, e.g. `ip route add 224.0.0.0/4 dev eth0` (or `dev lo` for a \
match on this machine), or play over encrypted UDP instead (`hltd host --udp ADDR`)";

/// A shared handle to a WebRTC socket.
pub type RtcNet = Rc<RefCell<RtcSocket>>;

/// STUN and TURN servers for ICE. Empty by default: a match on one machine or one network
/// needs none, and an offline machine could not reach the public STUN servers matchbox
/// would otherwise use. One username and credential serve every TURN URL.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IceServers {
    /// `stun:host[:port]`, `stuns:...`, `turn:host[:port][?transport=udp|tcp]`, `turns:...`.
    #[serde(default)]
    pub urls: Vec<String>,
    /// TURN username.
    #[serde(default)]
    pub username: Option<String>,
    /// TURN credential.
    #[serde(default)]
    pub credential: Option<String>,
}

impl IceServers {
    /// Reads a JSON configuration: `{"urls": [...], "username": "...", "credential": "..."}`.
    ///
    /// # Errors
    /// [`RtcError::Ice`] naming the line and column of a syntax error, or what is invalid.
    pub fn from_json(text: &str) -> Result<IceServers, RtcError> {
        let servers: IceServers = serde_json::from_str(text).map_err(|err| {
            RtcError::Ice(format!(
                "line {} column {}: {err}",
                err.line(),
                err.column()
            ))
        })?;
        servers.validate()?;
        Ok(servers)
    }

    /// Checks what webrtc-rs would otherwise fail on inside matchbox's loop.
    ///
    /// # Errors
    /// [`RtcError::Ice`] naming the URL and what is wrong with it.
    pub fn validate(&self) -> Result<(), RtcError> {
        for url in &self.urls {
            let (scheme, rest) = url
                .split_once(':')
                .ok_or_else(|| RtcError::Ice(format!("{url:?} has no scheme (stun: or turn:)")))?;
            let turn = match scheme {
                "stun" | "stuns" => false,
                "turn" | "turns" => true,
                other => {
                    return Err(RtcError::Ice(format!(
                        "{url:?}: unknown scheme {other:?} (expected stun, stuns, turn or turns)"
                    )))
                }
            };
            let host = rest.split(['?', ':']).next().unwrap_or("");
            if host.is_empty() || rest.starts_with('/') {
                return Err(RtcError::Ice(format!(
                    "{url:?}: expected {scheme}:host[:port], without slashes"
                )));
            }
            let missing = |v: &Option<String>| v.as_deref().is_none_or(str::is_empty);
            if turn && (missing(&self.username) || missing(&self.credential)) {
                return Err(RtcError::Ice(format!(
                    "{url:?} is a TURN server and needs a username and a credential"
                )));
            }
        }
        Ok(())
    }
}

/// Why a WebRTC socket could not start.
#[derive(Debug, thiserror::Error)]
pub enum RtcError {
    /// The host has no multicast route (see [`NO_MULTICAST_ROUTE`]).
    #[error("{NO_MULTICAST_ROUTE}")]
    NoMulticastRoute,
    /// The signaling URL is not one.
    #[error("bad signaling URL {url:?}: {reason}")]
    BadUrl {
        /// What was given.
        url: String,
        /// What is wrong.
        reason: &'static str,
    },
    /// The ICE configuration is invalid.
    #[error("bad ICE server configuration: {0}")]
    Ice(String),
    /// The signaling server refused us or could not be reached.
    #[error("cannot use the signaling server at {url}: {reason}")]
    Signaling {
        /// The room URL.
        url: String,
        /// What happened.
        reason: String,
    },
    /// The signaling server did not answer in time.
    #[error("the signaling server at {url} did not answer within {within:?}")]
    SignalingTimeout {
        /// The room URL.
        url: String,
        /// How long we waited.
        within: Duration,
    },
    /// The message-loop thread could not start.
    #[error("cannot start the WebRTC thread: {0}")]
    Thread(std::io::Error),
}

/// Checks that `url` is a websocket URL with a host (matchbox would fail later and less
/// clearly).
///
/// # Errors
/// [`RtcError::BadUrl`] saying what is wrong.
pub fn check_url(url: &str) -> Result<(), RtcError> {
    let bad = |reason| RtcError::BadUrl {
        url: url.to_string(),
        reason,
    };
    let rest = url
        .strip_prefix("ws://")
        .or_else(|| url.strip_prefix("wss://"))
        .ok_or_else(|| bad("expected ws://host:port or wss://host"))?;
    if rest.is_empty() || rest.starts_with('/') {
        return Err(bad("no host after the scheme"));
    }
    if url.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(bad("contains spaces or control characters"));
    }
    Ok(())
}

/// The URL of `room` on the signaling server at `signal` (`ws://host:port`).
pub fn room_url(signal: &str, room: &str) -> String {
    format!("{}/{room}", signal.trim_end_matches('/'))
}

/// Whether the kernel has a route for multicast: asked by connecting a UDP socket (which only
/// looks the route up and sends nothing).
///
/// # Errors
/// [`RtcError::NoMulticastRoute`] when it has none.
pub fn check_multicast_route() -> Result<(), RtcError> {
    let Ok(socket) = UdpSocket::bind(("0.0.0.0", 0)) else {
        // No IPv4 at all: let webrtc-rs decide.
        return Ok(());
    };
    match socket.connect(("224.0.0.251", 5353)) {
        Err(err)
            if err.kind() == std::io::ErrorKind::NetworkUnreachable
                || err.raw_os_error() == Some(19) =>
        {
            Err(RtcError::NoMulticastRoute)
        }
        _ => Ok(()),
    }
}

/// Sends panics of the message-loop thread to the log instead of stderr: the socket reports
/// them as a failure of the session. Other threads keep the previous hook.
fn quiet_loop_panics() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if std::thread::current().name() == Some(LOOP_THREAD) {
                tracing::debug!(%info, "WebRTC message loop panicked");
            } else {
                previous(info);
            }
        }));
    });
}

/// Runs matchbox's message loop to its end and says how it ended.
fn drive(message_loop: MessageLoopFuture) -> Result<(), String> {
    match std::panic::catch_unwind(AssertUnwindSafe(|| {
        futures::executor::block_on(message_loop)
    })) {
        Ok(Ok(())) => Err("the WebRTC connection closed".to_string()),
        Ok(Err(err)) => Err(match &err {
            matchbox_socket::Error::ConnectionFailed(why)
            | matchbox_socket::Error::Disconnected(why) => explain(&format!("{err} ({why})")),
        }),
        Err(payload) => {
            let text = payload
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| payload.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown panic".to_string());
            Err(explain(&format!(
                "the WebRTC stack failed ({})",
                panic_detail(&text)
            )))
        }
    }
}

/// What a panic of matchbox's loop says, without the `unwrap`/`expect` wording around it, on
/// one line and bounded.
fn panic_detail(text: &str) -> String {
    let text = text
        .strip_prefix("called `Result::unwrap()` on an `Err` value: ")
        .or_else(|| text.strip_prefix("called `Option::unwrap()` on a `None` value"))
        .unwrap_or(text);
    let mut detail: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .take(DETAIL_MAX)
        .collect();
    if detail.trim().is_empty() {
        detail = "it gave no reason".to_string();
    }
    detail
}

/// Names known causes in matchbox's and webrtc-rs's messages.
fn explain(message: &str) -> String {
    if message.contains("os error 19") || message.contains("No such device") {
        NO_MULTICAST_ROUTE.to_string()
    } else if message.contains("should never be propagated") {
        "the signaling server closed the connection".to_string()
    } else if message.contains("Too many open files") || message.contains("os error 24") {
        format!("{message}: this process ran out of file descriptors (raise `ulimit -n`)")
    } else {
        message.to_string()
    }
}

struct RtcPeer {
    up: bool,
    traffic: Traffic,
}

/// A WebRTC socket in one room of a signaling server.
pub struct RtcSocket {
    socket: WebRtcSocket,
    url: String,
    id: Option<PeerId>,
    peers: BTreeMap<PeerId, RtcPeer>,
    /// Drops of packets to or from peers without a connection (yet).
    strangers: Traffic,
    mailbox: Mailbox<PeerId>,
    control: ControlInbox<PeerId>,
    events: VecDeque<LinkEvent<PeerId>>,
    faults: FaultLine<PeerId>,
    driver: Option<JoinHandle<Result<(), String>>>,
    gate: Arc<Gate>,
    failure: Option<String>,
    packet: Vec<u8>,
    created: Instant,
}

impl RtcSocket {
    /// Joins `room` on the signaling server at `signal` (`ws://host:port`) and waits until
    /// the server assigned us an id. Peers in the room that prove they hold the room's key
    /// connect by themselves from then on, up to [`ADMIT_MAX_DEFAULT`] at a time (see
    /// [`RtcSocket::set_admit_max`]).
    ///
    /// # Errors
    /// [`RtcError`] when the URL or ICE servers are invalid, the host has no multicast route,
    /// or the signaling server cannot be reached within [`SIGNAL_TIMEOUT`].
    pub fn connect(signal: &str, room: &RoomCode, ice: &IceServers) -> Result<RtcNet, RtcError> {
        let room_url = room_url(signal, &room.room_name());
        let room_url = room_url.as_str();
        check_url(room_url)?;
        ice.validate()?;
        check_multicast_route()?;
        quiet_loop_panics();
        let gate = Gate::new(ADMIT_MAX_DEFAULT);
        let (socket, message_loop) = WebRtcSocketBuilder::new(room_url)
            .signaller_builder(Arc::new(GatedBuilder::new(room.key(), gate.clone())))
            .ice_server(RtcIceServerConfig {
                urls: ice.urls.clone(),
                username: ice.username.clone(),
                credential: ice.credential.clone(),
            })
            .reconnect_attempts(Some(1))
            .add_channel(ChannelConfig::unreliable())
            .add_channel(ChannelConfig::reliable())
            .build();
        let driver = std::thread::Builder::new()
            .name(LOOP_THREAD.into())
            .spawn(move || drive(message_loop))
            .map_err(RtcError::Thread)?;
        let mut me = RtcSocket {
            socket,
            url: room_url.to_string(),
            id: None,
            peers: BTreeMap::new(),
            strangers: Traffic::default(),
            mailbox: Mailbox::default(),
            control: ControlInbox::default(),
            events: VecDeque::new(),
            faults: FaultLine::default(),
            driver: Some(driver),
            gate,
            failure: None,
            packet: Vec::with_capacity(PAYLOAD_MAX),
            created: Instant::now(),
        };
        let deadline = Instant::now() + SIGNAL_TIMEOUT;
        let built = Instant::now();
        while me.id.is_none() {
            me.poll();
            if let Some(reason) = me.failure.take() {
                return Err(RtcError::Signaling {
                    url: me.url,
                    reason,
                });
            }
            if Instant::now() > deadline {
                return Err(RtcError::SignalingTimeout {
                    url: me.url,
                    within: SIGNAL_TIMEOUT,
                });
            }
            std::thread::sleep(Duration::from_millis(2));
        }
        tracing::debug!(
            ms = built.elapsed().as_millis(),
            url = %me.url,
            "signaling server assigned our id"
        );
        Ok(Rc::new(RefCell::new(me)))
    }

    /// The room URL.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Admits up to `admit_max` peers into the room at a time (a host: its other players and
    /// the spectators it takes).
    pub fn set_admit_max(&self, admit_max: usize) {
        self.gate.set_admit_max(admit_max);
    }

    /// What the signaller admitted and dropped.
    pub fn signal_stats(&self) -> SignalStats {
        self.gate.stats()
    }

    /// Ends the socket as if the WebRTC stack had failed with `reason`: for tests of what a
    /// failure does to a lobby or a match.
    pub fn fail_for_test(&mut self, reason: &str) {
        self.failure = Some(reason.to_string());
    }

    /// Sends `bytes` as they are on the GGRS channel: what a hostile peer could send. For tests
    /// and fuzzing of the receiving side.
    pub fn send_raw(&mut self, to: PeerId, bytes: &[u8]) {
        self.send_now(CHANNEL_GGRS, to, bytes);
    }

    /// Sends `bytes` as one GGRS message, unchecked.
    pub fn send_raw_ggrs(&mut self, to: PeerId, bytes: &[u8]) {
        let mut packet = vec![STREAM_GGRS];
        packet.extend_from_slice(bytes);
        self.send_now(CHANNEL_GGRS, to, &packet);
    }

    /// The GGRS magic our messages to `to` carry, once GGRS sent one.
    pub fn outgoing_magic(&self, to: PeerId) -> Option<u16> {
        self.mailbox.outgoing_magic(to)
    }

    fn send_ggrs(&mut self, to: PeerId, stream: u8, body: &[u8]) {
        let mut packet = std::mem::take(&mut self.packet);
        packet.clear();
        packet.push(stream);
        packet.extend_from_slice(body);
        if let Some(packet) = self.faults.admit(to, &packet) {
            self.send_now(CHANNEL_GGRS, to, packet);
        }
        self.packet = packet;
    }

    fn send_now(&mut self, channel: usize, to: PeerId, bytes: &[u8]) {
        let Some(peer) = self.peers.get_mut(&to).filter(|p| p.up) else {
            return self.strangers.drop(DropReason::UnknownSource);
        };
        if bytes.len() > PAYLOAD_MAX {
            return peer.traffic.drop(DropReason::TooLong);
        }
        peer.traffic.packets_sent += 1;
        peer.traffic.bytes_sent += bytes.len() as u64;
        if let Ok(channel) = self.socket.get_channel_mut(channel) {
            // Fails only when the message loop is gone, which `poll` reports.
            let _ = channel.try_send(Packet::copy_from_slice(bytes), to);
        }
    }

    fn on_ggrs_packet(&mut self, from: PeerId, packet: &[u8]) {
        let Some(peer) = self.peers.get_mut(&from).filter(|p| p.up) else {
            return self.strangers.drop(DropReason::UnknownSource);
        };
        let result = match packet.split_first() {
            _ if packet.len() > PAYLOAD_MAX => Err(DropReason::TooLong),
            Some((&stream, body)) if stream == STREAM_GGRS || stream == STREAM_GGRS_BATCH => {
                let traffic = &mut peer.traffic;
                self.mailbox
                    .deliver(from, stream, body, |reason| traffic.drop(reason))
            }
            _ => Err(DropReason::Malformed),
        };
        match result {
            Ok(()) => {
                peer.traffic.packets_received += 1;
                peer.traffic.bytes_received += packet.len() as u64;
            }
            Err(reason) => peer.traffic.drop(reason),
        }
    }

    fn on_control(&mut self, from: PeerId, message: &[u8]) {
        let Some(peer) = self.peers.get_mut(&from).filter(|p| p.up) else {
            return self.strangers.drop(DropReason::UnknownSource);
        };
        let kept = if message.len() > PAYLOAD_MAX {
            Err(DropReason::TooLong)
        } else {
            self.control.push(from, message)
        };
        match kept {
            Ok(()) => {
                peer.traffic.packets_received += 1;
                peer.traffic.bytes_received += message.len() as u64;
            }
            Err(reason) => peer.traffic.drop(reason),
        }
    }

    /// Counters of messages from peers whose connection we had not seen yet.
    pub fn strangers(&self) -> &Traffic {
        &self.strangers
    }
}

impl Transport for RtcSocket {
    type Addr = PeerId;

    fn poll(&mut self) {
        self.mailbox.read_clock();
        if self.id.is_none() {
            self.id = self.socket.id();
        }
        if self.driver.as_ref().is_some_and(JoinHandle::is_finished) {
            let ended = self.driver.take().map(JoinHandle::join);
            self.failure = Some(match ended {
                Some(Ok(Err(reason))) => reason,
                _ => "the WebRTC message loop ended".to_string(),
            });
            tracing::error!(failure = ?self.failure, "WebRTC transport failed");
        }
        if let Ok(changes) = self.socket.try_update_peers() {
            for (peer, state) in changes {
                let up = state == PeerState::Connected;
                if !self.peers.contains_key(&peer) {
                    if !up {
                        // Never up here: nothing to forget.
                        continue;
                    }
                    if self.peers.len() >= RTC_PEERS_MAX {
                        let gone = self.peers.iter().find(|(_, p)| !p.up).map(|(a, _)| *a);
                        match gone {
                            Some(gone) => {
                                self.peers.remove(&gone);
                            }
                            None => {
                                tracing::warn!(%peer, "WebRTC peer table full; ignoring a peer");
                                self.strangers.drop(DropReason::UnknownSource);
                                continue;
                            }
                        }
                    }
                }
                let entry = self.peers.entry(peer).or_insert(RtcPeer {
                    up,
                    traffic: Traffic::default(),
                });
                entry.up = up;
                tracing::debug!(
                    %peer,
                    up,
                    ms = self.created.elapsed().as_millis(),
                    "WebRTC peer connection changed"
                );
                self.events.push_back(if up {
                    LinkEvent::Up(peer)
                } else {
                    LinkEvent::Down(peer)
                });
            }
        }
        let now = Instant::now();
        while let Some((to, packet)) = self.faults.due(now) {
            self.send_now(CHANNEL_GGRS, to, &packet);
        }
        let ggrs = self
            .socket
            .get_channel_mut(CHANNEL_GGRS)
            .map(|c| c.receive())
            .unwrap_or_default();
        for (from, packet) in ggrs {
            self.on_ggrs_packet(from, &packet);
        }
        let control = self
            .socket
            .get_channel_mut(CHANNEL_CONTROL)
            .map(|c| c.receive())
            .unwrap_or_default();
        for (from, message) in control {
            self.on_control(from, &message);
        }
    }

    fn failure(&self) -> Option<String> {
        self.failure.clone()
    }

    fn local_addr(&self) -> Option<PeerId> {
        self.id
    }

    fn open_link(&mut self, addr: PeerId, _initiate: bool) {
        // The signaling server connects everyone in the room to everyone; a peer named here
        // is admitted even after the room closed.
        self.gate.expect(addr);
    }

    fn is_up(&self, addr: PeerId) -> bool {
        self.peers.get(&addr).is_some_and(|p| p.up)
    }

    fn peers_up(&self) -> Vec<PeerId> {
        self.peers
            .iter()
            .filter(|(_, p)| p.up)
            .map(|(a, _)| *a)
            .collect()
    }

    fn set_accepting(&mut self, accepting: bool) {
        // Whoever proves the room's key may connect, up to the cap; the lobby decides who
        // plays. Once the match started, nobody is admitted.
        if accepting {
            self.gate.open();
        } else {
            self.gate.close();
        }
    }

    fn take_events(&mut self) -> Vec<LinkEvent<PeerId>> {
        self.events.drain(..).collect()
    }

    fn traffic(&self, addr: PeerId) -> Option<&Traffic> {
        self.peers.get(&addr).map(|p| &p.traffic)
    }

    fn next_control(&mut self) -> Option<(PeerId, Vec<u8>)> {
        self.control.pop()
    }

    fn send_control(&mut self, addr: PeerId, payload: &[u8]) {
        self.send_now(CHANNEL_CONTROL, addr, payload);
    }

    fn mailbox(&mut self) -> &mut Mailbox<PeerId> {
        &mut self.mailbox
    }

    fn flush_every(&mut self, interval: u32) {
        let mut mailbox = std::mem::take(&mut self.mailbox);
        mailbox.flush_every(interval, |to, stream, body| {
            self.send_ggrs(to, stream, body)
        });
        self.mailbox = mailbox;
    }

    fn set_faults(&mut self, faults: Faults) {
        self.faults.set(faults);
    }

    fn queue_ggrs(&mut self, addr: PeerId, message: &ggrs::Message) {
        let mut mailbox = std::mem::take(&mut self.mailbox);
        let queued = mailbox.queue(addr, message, |to, stream, body| {
            self.send_ggrs(to, stream, body)
        });
        self.mailbox = mailbox;
        if let (Err(reason), Some(peer)) = (queued, self.peers.get_mut(&addr)) {
            peer.traffic.drop(reason);
        }
    }
}

impl RosterAddr for PeerId {
    fn put(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(self.0.as_bytes());
    }

    fn get(reader: &mut Reader<'_>) -> Option<Self> {
        Some(PeerId(uuid::Uuid::from_bytes(reader.take::<16>()?)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ice_configuration_is_checked() {
        let ok = IceServers::from_json(
            r#"{"urls": ["stun:stun.example.org:3478", "turn:turn.example.org?transport=udp"],
                "username": "u", "credential": "c"}"#,
        );
        assert!(ok.is_ok(), "{ok:?}");
        for (json, needle) in [
            (r#"{"urls": ["turn:turn.example.org"]}"#, "username"),
            (r#"{"urls": ["http://x"]}"#, "unknown scheme"),
            (r#"{"urls": ["stun://x"]}"#, "without slashes"),
            (r#"{"urls": ["stun"]}"#, "no scheme"),
            (r#"{"urls": ["stun:x"], "user": "u"}"#, "line 1"),
            ("{\n\"urls\": [", "line 2"),
        ] {
            let err = IceServers::from_json(json).expect_err(json).to_string();
            assert!(err.contains(needle), "{json}: {err}");
        }
        assert_eq!(IceServers::default().validate().ok(), Some(()));
    }

    #[test]
    fn signaling_urls_are_checked() {
        assert!(check_url("ws://127.0.0.1:3536/ABC").is_ok());
        assert!(check_url("wss://signal.example.org/ABC").is_ok());
        for bad in [
            "http://x",
            "ws://",
            "ws:///room",
            "127.0.0.1:3536",
            "ws://a b",
        ] {
            assert!(check_url(bad).is_err(), "{bad}");
        }
        assert_eq!(room_url("ws://h:1/", "R"), "ws://h:1/R");
    }

    /// A panic inside the message loop (as matchbox's unwraps do) is caught on its thread and
    /// comes back as an explained error.
    #[test]
    fn a_panicking_loop_becomes_an_error() {
        quiet_loop_panics();
        let message_loop: MessageLoopFuture = Box::pin(async {
            panic!("called `Result::unwrap()` on an `Err` value: Io(No such device (os error 19))")
        });
        let ended = std::thread::Builder::new()
            .name(LOOP_THREAD.into())
            .spawn(move || drive(message_loop))
            .expect("thread")
            .join()
            .expect("the panic stays inside drive");
        assert_eq!(ended, Err(NO_MULTICAST_ROUTE.to_string()));
        let message_loop: MessageLoopFuture = Box::pin(async {
            panic!("called `Result::unwrap()` on an `Err` value: SdpInvalidSyntax(\"x\")")
        });
        let ended = std::thread::Builder::new()
            .name(LOOP_THREAD.into())
            .spawn(move || drive(message_loop))
            .expect("thread")
            .join()
            .expect("the panic stays inside drive")
            .expect_err("a panic is a failure");
        assert_eq!(ended, "the WebRTC stack failed (SdpInvalidSyntax(\"x\"))");
        assert!(!ended.contains("unwrap"), "{ended}");
        let message_loop: MessageLoopFuture = Box::pin(async { Ok(()) });
        assert_eq!(
            drive(message_loop),
            Err("the WebRTC connection closed".to_string())
        );
    }

    #[test]
    fn loop_failures_are_explained() {
        assert_eq!(
            explain(
                "called `Result::unwrap()` on an `Err` value: Io(No such device (os error 19))"
            ),
            NO_MULTICAST_ROUTE
        );
        assert_eq!(explain("other"), "other");
    }
}
