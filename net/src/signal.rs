//! The WebRTC signaling server: a full mesh whose rooms are the URL path
//! (`ws://host:port/ROOM`), the same protocol as the upstream `matchbox_server` (a peer gets
//! `IdAssigned`, the others in its room `NewPeer` and later `PeerLeft`, and signals are
//! relayed by receiver id). It runs on a thread of its own with a single-threaded tokio
//! runtime, embedded in `hltd host --webrtc` and the WebRTC demo, or standalone as
//! `hltd signal`.
//!
//! The server only introduces peers: it relays their session descriptions and ICE candidates
//! and never sees game traffic, which flows peer to peer over DTLS-encrypted data channels.
//!
//! Everything a stranger can make it hold is bounded (see [`Limits`] and SECURITY.md):
//! - connections: at most [`PENDING_MAX`] before their upgrade ([`PENDING_PER_ADDRESS`] from
//!   one IP address), each closed unless upgraded within [`REQUEST_TIMEOUT`]; websockets capped in total and per room
//!   (refused before the upgrade with `503`);
//! - what one websocket reads: a message over [`FRAME_MAX`] closes it at that length;
//! - what waits to be sent: each recipient's queue holds [`QUEUE_MESSAGES`] and
//!   [`QUEUE_BYTES_MAX`]; a recipient whose queue overflows does not read what it is sent,
//!   and is closed (the others in its room hear `PeerLeft`); so is one whose socket takes no
//!   message for [`WRITE_TIMEOUT`], or that sends nothing for [`IDLE_TIMEOUT`];
//! - it relays only frames that are a valid request, only within a room (junk is dropped,
//!   counted, and logged at most every few seconds with a short excerpt).

use std::collections::{BTreeMap, HashMap};
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use futures::{SinkExt, StreamExt};
use matchbox_socket::{PeerEvent, PeerId, PeerRequest};
use tokio::sync::{mpsc, watch};

/// The port clients try when no signaling URL is given (the upstream server's default).
pub const DEFAULT_PORT: u16 = 3536;
/// The signaling URL clients use when none is given.
pub const DEFAULT_URL: &str = "ws://127.0.0.1:3536";
/// The longest message read or relayed (our signaller refuses longer ones too). A longer one
/// closes the websocket once this many bytes have arrived.
pub const FRAME_MAX: usize = crate::signaller::FRAME_MAX;
/// The longest room name (URL path) accepted.
pub const ROOM_NAME_MAX: usize = 64;
/// Connections accepted but not yet upgraded to a websocket, at most; more are closed at once.
pub const PENDING_MAX: usize = 64;
/// Connections from one IP address waiting for their upgrade, at most, so that one source
/// cannot take every pending place.
pub const PENDING_PER_ADDRESS: usize = 8;
/// How long a connection may take from its accept to its websocket upgrade.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(5);
/// Messages waiting for one recipient, at most (a match's whole handshake is a few dozen).
pub const QUEUE_MESSAGES: usize = 64;
/// Bytes waiting for one recipient, at most (two of the longest messages; a handshake's
/// messages are a few KiB in all).
pub const QUEUE_BYTES_MAX: usize = 2 * FRAME_MAX;
/// How long one message may take to be written to its recipient's socket.
pub const WRITE_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a websocket may send nothing (matchbox clients send a keep-alive every 10 s).
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(45);
/// The room of a client that names none (`ws://host:port`), as upstream.
const DEFAULT_ROOM: &str = "world";
/// How often at most a summary of dropped frames is logged.
const LOG_EVERY: Duration = Duration::from_secs(10);
/// Characters of a dropped frame shown in the log.
const EXCERPT: usize = 60;
/// The chunk a websocket reads at a time (tungstenite's default is 128 KiB per connection).
const READ_CHUNK: usize = 8 << 10;
/// How long a server that stops waits for its websockets to close.
const CLOSE_GRACE: Duration = Duration::from_millis(500);

/// How many websockets a server keeps open at most. Each costs at most about 350 KiB: a
/// message of [`FRAME_MAX`] being read (and room reserved for its next frame), one being
/// written, and its queue of [`QUEUE_BYTES_MAX`]; an idle one costs a few KiB.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// In total.
    pub total: usize,
    /// In one room. A match has 4 players and 4 spectators at most.
    pub per_room: usize,
}

impl Limits {
    /// `hltd signal`: many matches. A room holds one match (8 peers at most), with room to
    /// spare for peers that reconnect.
    pub const STANDALONE: Limits = Limits {
        total: 1024,
        per_room: 32,
    };
    /// A host's embedded server. It serves one match, so its one room may take them all:
    /// strangers who learned the room's name cannot crowd the players out below this cap,
    /// and the host's signaller admits none of them.
    pub const EMBEDDED: Limits = Limits {
        total: 512,
        per_room: 512,
    };
}

/// What a server refused and dropped.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ServerStats {
    /// Websockets open now.
    pub open: usize,
    /// Connections refused because of [`Limits`], [`PENDING_MAX`] or [`PENDING_PER_ADDRESS`].
    pub refused: u64,
    /// Frames dropped: not a valid request, or for a peer not in the room.
    pub dropped: u64,
    /// Websockets closed because they did not take what they were sent: their queue
    /// overflowed, or a write took over [`WRITE_TIMEOUT`].
    pub slow: u64,
    /// Websockets closed because a message could not be read (over [`FRAME_MAX`], broken
    /// framing, or the connection failed), or because they sent nothing for
    /// [`IDLE_TIMEOUT`].
    pub failed: u64,
    /// Connections refused because they asked for another room than the one an embedded
    /// server serves ([`EmbeddedSignal::serve_only`]).
    pub other_room: u64,
}

/// A websocket's queue: what the server relays to it, sent by its own writer task.
struct Outbox {
    queue: mpsc::Sender<Message>,
    /// Bytes in the queue (the writer gives back what it takes out).
    bytes: Arc<AtomicUsize>,
    /// Told when the server closes this websocket.
    closed: Arc<tokio::sync::Notify>,
}

impl Outbox {
    /// Queues `text` if the queue has room for it.
    fn push(&self, text: String) -> bool {
        let len = text.len();
        // Counted before it is queued, so the writer never gives back more than was taken.
        let fits = self.bytes.fetch_add(len, Ordering::Relaxed) + len <= QUEUE_BYTES_MAX
            && self.queue.try_send(Message::Text(text.into())).is_ok();
        if !fits {
            self.bytes.fetch_sub(len, Ordering::Relaxed);
        }
        fits
    }
}

#[derive(Default)]
struct Inner {
    /// Every room's websockets, by peer id (ordered, so relaying order is reproducible).
    rooms: HashMap<String, BTreeMap<PeerId, Outbox>>,
    /// Websockets counted per room, from their upgrade until they close.
    places: HashMap<String, usize>,
    /// The one room served, once known: connections to any other are refused before the
    /// upgrade and take no place.
    only_room: Option<String>,
    stats: ServerStats,
    logged: Option<Instant>,
    unlogged: u64,
}

/// The state every connection of one server shares.
struct Shared {
    limits: Limits,
    inner: Mutex<Inner>,
    /// Becomes true when the server stops.
    stopping: watch::Receiver<bool>,
}

type Server = Arc<Shared>;

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Whether one more websocket fits in `room`.
    fn fits(&self, room: &str) -> bool {
        let inner = self.lock();
        inner.stats.open < self.limits.total
            && inner.places.get(room).copied().unwrap_or(0) < self.limits.per_room
    }

    fn refuse(&self, what: &str) {
        let mut inner = self.lock();
        inner.stats.refused += 1;
        if inner.stats.refused.is_power_of_two() {
            tracing::warn!(
                refused = inner.stats.refused,
                open = inner.stats.open,
                what = %excerpt(what),
                "signaling server full: refusing connections"
            );
        }
    }

    /// Whether `room` is not the one room this server serves (and counts it).
    fn refuses_room(&self, room: &str) -> bool {
        let mut inner = self.lock();
        let refused = inner.only_room.as_deref().is_some_and(|only| only != room);
        if refused {
            inner.stats.other_room += 1;
        }
        refused
    }

    /// Takes a place in `room`, given back when the slot drops.
    fn take(self: &Server, room: &str) -> Option<Slot> {
        if !self.fits(room) {
            self.refuse(room);
            return None;
        }
        let mut inner = self.lock();
        inner.stats.open += 1;
        *inner.places.entry(room.to_string()).or_insert(0) += 1;
        Some(Slot {
            server: Arc::clone(self),
            room: room.to_string(),
        })
    }

    fn junk(&self, what: &str, frame: &str) {
        let mut inner = self.lock();
        inner.stats.dropped += 1;
        inner.unlogged += 1;
        tracing::debug!(what, frame = %excerpt(frame), "signaling: dropped a frame");
        if inner.logged.is_none_or(|at| at.elapsed() >= LOG_EVERY) {
            tracing::warn!(
                dropped = inner.unlogged,
                latest = what,
                excerpt = %excerpt(frame),
                "signaling: dropped frames that are not valid requests"
            );
            inner.logged = Some(Instant::now());
            inner.unlogged = 0;
        }
    }

    /// Queues `event` for `to` in `room`. Returns false when `to` is not in the room (the
    /// caller decides whether that is junk). A recipient whose queue is full is closed.
    fn relay(&self, room: &str, to: PeerId, event: &PeerEvent) -> bool {
        let Ok(text) = serde_json::to_string(event) else {
            return true;
        };
        let inner = self.lock();
        let Some(outbox) = inner.rooms.get(room).and_then(|peers| peers.get(&to)) else {
            return false;
        };
        if !outbox.push(text) {
            drop(inner);
            self.close_slow(room, to);
        }
        true
    }

    /// Closes `peer`, which does not take what it is sent (counted once, if it was still in
    /// its room).
    fn close_slow(&self, room: &str, peer: PeerId) {
        if !self.leave(room, peer) {
            return;
        }
        let mut inner = self.lock();
        inner.stats.slow += 1;
        if inner.stats.slow.is_power_of_two() {
            tracing::warn!(
                slow = inner.stats.slow,
                "signaling: closed websockets that do not read what they are sent"
            );
        }
    }

    /// Adds `peer` to `room` and tells the others there.
    fn join(&self, room: &str, peer: PeerId, outbox: Outbox) {
        let others: Vec<PeerId> = {
            let mut inner = self.lock();
            let peers = inner.rooms.entry(room.to_string()).or_default();
            let others = peers.keys().copied().collect();
            peers.insert(peer, outbox);
            others
        };
        for other in others {
            self.relay(room, other, &PeerEvent::NewPeer(peer));
        }
    }

    /// Removes `peer` from `room`, if it is still there, closes it and tells the others.
    /// Returns whether it was there.
    fn leave(&self, room: &str, peer: PeerId) -> bool {
        let others: Vec<PeerId> = {
            let mut inner = self.lock();
            let Some(peers) = inner.rooms.get_mut(room) else {
                return false;
            };
            let Some(outbox) = peers.remove(&peer) else {
                return false;
            };
            outbox.closed.notify_one();
            let others = peers.keys().copied().collect();
            if peers.is_empty() {
                inner.rooms.remove(room);
            }
            others
        };
        // Telling one may close it in turn (its queue is full); each close removes a peer.
        for other in others {
            self.relay(room, other, &PeerEvent::PeerLeft(peer));
        }
        true
    }
}

/// The start of `text`, escaped, for a log line.
fn excerpt(text: &str) -> String {
    let mut short: String = text.chars().take(EXCERPT).collect();
    if short.len() < text.len() {
        short.push_str("...");
    }
    short.escape_debug().to_string()
}

/// A websocket's place in its room.
struct Slot {
    server: Server,
    room: String,
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut inner = self.server.lock();
        inner.stats.open = inner.stats.open.saturating_sub(1);
        if let Some(n) = inner.places.get_mut(&self.room) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                inner.places.remove(&self.room);
            }
        }
    }
}

/// A fresh peer id, as upstream: a random (version 4) UUID.
fn new_peer_id() -> Option<PeerId> {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes).ok()?;
    Some(PeerId(uuid::Builder::from_random_bytes(bytes).into_uuid()))
}

/// The websocket upgrade of `/` and `/ROOM`: refused (before the upgrade, so it takes no
/// place) when the name is too long, is not the room served, or the room or server is full.
async fn upgrade(
    ws: WebSocketUpgrade,
    room: Option<Path<String>>,
    State(server): State<Server>,
) -> Response {
    let room = room.map_or_else(|| DEFAULT_ROOM.to_string(), |Path(room)| room);
    if room.len() > ROOM_NAME_MAX {
        return (StatusCode::BAD_REQUEST, "room name too long").into_response();
    }
    if server.refuses_room(&room) {
        return (StatusCode::NOT_FOUND, "no such room").into_response();
    }
    if !server.fits(&room) {
        server.refuse(&room);
        return (StatusCode::SERVICE_UNAVAILABLE, "signaling server full").into_response();
    }
    ws.read_buffer_size(READ_CHUNK)
        .write_buffer_size(0)
        .max_write_buffer_size(2 * FRAME_MAX)
        .max_message_size(FRAME_MAX)
        .max_frame_size(FRAME_MAX)
        .on_upgrade(move |socket| peer(server, room, socket))
}

/// One websocket, from its upgrade until it closes.
async fn peer(server: Server, room: String, socket: WebSocket) {
    let (mut sink, mut stream) = socket.split();
    // The request was let through when it fitted; more may have arrived at once.
    let (Some(_slot), Some(id)) = (server.take(&room), new_peer_id()) else {
        let _ = sink
            .send(Message::Close(Some(CloseFrame {
                code: 1013,
                reason: "signaling server full".into(),
            })))
            .await;
        return;
    };
    let (queue, mut queued) = mpsc::channel::<Message>(QUEUE_MESSAGES);
    let outbox = Outbox {
        queue,
        bytes: Arc::default(),
        closed: Arc::default(),
    };
    let (bytes, closed) = (Arc::clone(&outbox.bytes), Arc::clone(&outbox.closed));
    let mut stopping = server.stopping.clone();
    let writer = {
        let (server, room) = (Arc::clone(&server), room.clone());
        let mut stopping = stopping.clone();
        tokio::spawn(async move {
            loop {
                let message = tokio::select! {
                    message = queued.recv() => message,
                    _ = stopping.wait_for(|stop| *stop) => None,
                };
                let Some(message) = message else { break };
                if let Message::Text(text) = &message {
                    bytes.fetch_sub(text.len(), Ordering::Relaxed);
                }
                match tokio::time::timeout(WRITE_TIMEOUT, sink.send(message)).await {
                    Ok(Ok(())) => {}
                    Ok(Err(_)) => break,
                    Err(_) => {
                        // Its socket takes nothing: a client that does not read.
                        server.close_slow(&room, id);
                        return;
                    }
                }
            }
            let _ = tokio::time::timeout(WRITE_TIMEOUT, sink.close()).await;
        })
    };
    let assigned = serde_json::to_string(&PeerEvent::IdAssigned(id)).expect("an id serializes");
    if !outbox.push(assigned) {
        return;
    }
    server.join(&room, id, outbox);
    loop {
        let frame = tokio::select! {
            frame = tokio::time::timeout(IDLE_TIMEOUT, stream.next()) => frame,
            _ = closed.notified() => break,
            _ = stopping.wait_for(|stop| *stop) => break,
        };
        let text = match frame {
            Ok(Some(Ok(Message::Text(text)))) => text,
            Ok(Some(Ok(Message::Close(_))) | None) => break,
            Ok(Some(Err(err))) => {
                server.lock().stats.failed += 1;
                tracing::debug!(%err, "signaling: closed a websocket that could not be read");
                break;
            }
            Err(_) => {
                server.lock().stats.failed += 1;
                tracing::debug!("signaling: closed a websocket that sent nothing for too long");
                break;
            }
            Ok(Some(Ok(Message::Binary(_)))) => {
                server.junk("a binary frame", "");
                continue;
            }
            Ok(Some(Ok(_))) => continue,
        };
        let text = text.as_str();
        match serde_json::from_str::<PeerRequest>(text) {
            Ok(PeerRequest::Signal { receiver, data }) if receiver != id => {
                let event = PeerEvent::Signal { sender: id, data };
                if !server.relay(&room, receiver, &event) {
                    server.junk("a signal for a peer not in the room", text);
                }
            }
            Ok(PeerRequest::Signal { .. }) => server.junk("a signal to itself", text),
            Ok(PeerRequest::KeepAlive) => {}
            Err(_) => server.junk("not a signaling request", text),
        }
    }
    // Leaving drops the room's outbox, so the writer sends what is queued and closes (each
    // write within its deadline).
    server.leave(&room, id);
    let _ = writer.await;
}

/// Why the signaling server could not run.
#[derive(Debug, thiserror::Error)]
pub enum SignalError {
    /// The address could not be bound.
    #[error("cannot listen for signaling on {addr}: {error}")]
    Bind {
        /// The address asked for.
        addr: SocketAddr,
        /// What the OS said.
        error: std::io::Error,
    },
    /// The async runtime could not start.
    #[error("cannot start the signaling server's runtime: {0}")]
    Runtime(std::io::Error),
}

/// Connections accepted and not yet upgraded, in total and by source address.
#[derive(Clone, Default)]
struct Pending(Arc<Mutex<HashMap<IpAddr, usize>>>);

impl Pending {
    /// A place for one more connection from `from`, given back when it drops.
    fn take(&self, from: IpAddr) -> Option<PendingPlace> {
        let mut by_address = self.0.lock().unwrap_or_else(|e| e.into_inner());
        let total: usize = by_address.values().sum();
        let mine = by_address.get(&from).copied().unwrap_or(0);
        if total >= PENDING_MAX || mine >= PENDING_PER_ADDRESS {
            return None;
        }
        // Only addresses with a connection pending have an entry: at most PENDING_MAX.
        by_address.insert(from, mine + 1);
        Some(PendingPlace {
            pending: self.clone(),
            from,
        })
    }
}

/// One connection's place in [`Pending`].
struct PendingPlace {
    pending: Pending,
    from: IpAddr,
}

impl Drop for PendingPlace {
    fn drop(&mut self) {
        let mut by_address = self.pending.0.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(n) = by_address.get_mut(&self.from) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                by_address.remove(&self.from);
            }
        }
    }
}

/// A bound server, not yet serving.
struct Bound {
    listener: std::net::TcpListener,
    addr: SocketAddr,
    server: Server,
    stop: watch::Sender<bool>,
}

/// Binds `bind` for a server with `limits` (no runtime needed yet).
fn bound(bind: SocketAddr, limits: Limits) -> Result<Bound, SignalError> {
    let error = |error| SignalError::Bind { addr: bind, error };
    let listener = std::net::TcpListener::bind(bind).map_err(error)?;
    listener.set_nonblocking(true).map_err(error)?;
    let addr = listener.local_addr().map_err(error)?;
    let (stop, stopping) = watch::channel(false);
    let server = Arc::new(Shared {
        limits,
        inner: Mutex::default(),
        stopping,
    });
    Ok(Bound {
        listener,
        addr,
        server,
        stop,
    })
}

impl Bound {
    /// Accepts connections until told to stop, then closes the websockets.
    async fn serve(self) -> Result<(), SignalError> {
        let Bound {
            listener,
            server,
            stop,
            ..
        } = self;
        let listener = tokio::net::TcpListener::from_std(listener).map_err(SignalError::Runtime)?;
        let app = Router::new()
            .route("/", get(upgrade))
            .route("/{room}", get(upgrade))
            .with_state(Arc::clone(&server));
        let pending = Pending::default();
        let mut stopping = server.stopping.clone();
        let mut failed_accepts = 0u64;
        loop {
            let accepted = tokio::select! {
                accepted = listener.accept() => accepted,
                _ = stopping.wait_for(|stop| *stop) => break,
            };
            let (stream, from) = match accepted {
                Ok(accepted) => accepted,
                Err(err) => {
                    // Out of descriptors, most likely: wait for some to close.
                    failed_accepts += 1;
                    if failed_accepts.is_power_of_two() {
                        tracing::warn!(%err, failed_accepts, "signaling: cannot accept connections");
                    }
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            };
            let Some(permit) = pending.take(from.ip()) else {
                server.refuse("connections waiting for their upgrade");
                continue;
            };
            let _ = stream.set_nodelay(true);
            let service = hyper_util::service::TowerToHyperService::new(app.clone());
            tokio::spawn(async move {
                // The whole exchange before the upgrade has the deadline (a refused client
                // that keeps its connection open is closed then); an upgraded connection
                // lives on in its websocket's task and no longer counts here.
                let connection = hyper::server::conn::http1::Builder::new()
                    .timer(hyper_util::rt::TokioTimer::new())
                    .header_read_timeout(REQUEST_TIMEOUT)
                    .max_buf_size(16 << 10)
                    .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                    .with_upgrades();
                let _ = tokio::time::timeout(REQUEST_TIMEOUT, connection).await;
                drop(permit);
            });
        }
        drop(listener);
        let _ = stop.send(true);
        // Give the websockets a moment to close cleanly; the runtime drops the rest.
        let deadline = Instant::now() + CLOSE_GRACE;
        while server.lock().stats.open > 0 && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        Ok(())
    }
}

fn runtime() -> Result<tokio::runtime::Runtime, SignalError> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(SignalError::Runtime)
}

/// Runs a signaling server at `bind` until the process ends (`hltd signal`), with the
/// [`Limits::STANDALONE`]. `on_ready` hears the bound address once clients can connect.
///
/// # Errors
/// [`SignalError`] when the address cannot be bound or the server fails.
pub fn serve(bind: SocketAddr, on_ready: impl FnOnce(SocketAddr)) -> Result<(), SignalError> {
    let runtime = runtime()?;
    let bound = bound(bind, Limits::STANDALONE)?;
    on_ready(bound.addr);
    runtime.block_on(bound.serve())
}

/// A signaling server running on its own thread, for as long as this value lives.
pub struct EmbeddedSignal {
    addr: SocketAddr,
    server: Server,
    stop: watch::Sender<bool>,
    thread: Option<JoinHandle<()>>,
}

impl EmbeddedSignal {
    /// Starts a server at `bind` (port 0: any free port) with the [`Limits::EMBEDDED`].
    ///
    /// # Errors
    /// [`SignalError`] when the address cannot be bound.
    pub fn start(bind: SocketAddr) -> Result<EmbeddedSignal, SignalError> {
        EmbeddedSignal::start_with(bind, Limits::EMBEDDED)
    }

    /// Starts a server at `bind` with `limits`.
    ///
    /// # Errors
    /// [`SignalError`] when the address cannot be bound.
    pub fn start_with(bind: SocketAddr, limits: Limits) -> Result<EmbeddedSignal, SignalError> {
        let runtime = runtime()?;
        let bound = bound(bind, limits)?;
        let (addr, server, stop) = (bound.addr, Arc::clone(&bound.server), bound.stop.clone());
        let thread = std::thread::Builder::new()
            .name("signaling".into())
            .spawn(move || {
                if let Err(err) = runtime.block_on(bound.serve()) {
                    tracing::error!(%err, "signaling server stopped");
                }
            })
            .map_err(SignalError::Runtime)?;
        Ok(EmbeddedSignal {
            addr,
            server,
            stop,
            thread: Some(thread),
        })
    }

    /// The address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The URL clients connect to (add `/ROOM`).
    pub fn url(&self) -> String {
        format!("ws://{}", self.addr)
    }

    /// From now on serves only the room named `room` (a [`crate::invite::RoomCode`]'s
    /// `room_name`): connections asking for any other are refused with 404 before the
    /// websocket upgrade, so strangers who do not know the room's name cannot take the places
    /// of its players.
    pub fn serve_only(&self, room: &str) {
        self.server.lock().only_room = Some(room.to_string());
    }

    /// What it refused and dropped so far.
    pub fn stats(&self) -> ServerStats {
        self.server.lock().stats
    }
}

impl Drop for EmbeddedSignal {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
        // The thread closes the websockets and ends on its own; nobody needs to wait for it.
        drop(self.thread.take());
    }
}
