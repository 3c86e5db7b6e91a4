//! The WebRTC signaling server: a full mesh whose rooms are the URL path
//! (`ws://host:port/ROOM`), the same protocol as the upstream `matchbox_server`. It runs on a
//! thread of its own with a single-threaded tokio runtime, embedded in `hltd host --webrtc`
//! and the WebRTC demo, or standalone as `hltd signal`.
//!
//! The server only introduces peers: it relays their session descriptions and ICE candidates
//! and never sees game traffic, which flows peer to peer over DTLS-encrypted data channels.
//!
//! It is matchbox_signaling's server with a topology of our own ([`Guarded`]), which keeps
//! matchbox's room bookkeeping but caps connections ([`Limits`], in total and per room:
//! refused before the websocket upgrade, with `503`), relays only frames that are a valid
//! request (anything else, and frames over [`FRAME_MAX`], is dropped and counted, and logged
//! at most every few seconds with a short excerpt), and relays only within a room.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use axum::extract::ws::{CloseFrame, Message};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use futures::StreamExt;
use matchbox_signaling::topologies::full_mesh::FullMeshState;
use matchbox_signaling::{
    NoCallbacks, SignalingServer, SignalingServerBuilder, SignalingState, SignalingTopology,
    WsStateMeta,
};
use matchbox_socket::{PeerEvent, PeerRequest};

/// The port clients try when no signaling URL is given (the upstream server's default).
pub const DEFAULT_PORT: u16 = 3536;
/// The signaling URL clients use when none is given.
pub const DEFAULT_URL: &str = "ws://127.0.0.1:3536";
/// The longest frame relayed (our signaller refuses longer ones too).
pub const FRAME_MAX: usize = crate::signaller::FRAME_MAX;
/// The longest room name (URL path) accepted.
pub const ROOM_NAME_MAX: usize = 64;
/// How often at most a summary of dropped frames is logged.
const LOG_EVERY: Duration = Duration::from_secs(10);
/// Characters of a dropped frame shown in the log.
const EXCERPT: usize = 60;

/// How many websockets a server keeps open at most. An idle websocket costs about 140 KB.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// In total.
    pub total: usize,
    /// In one room. A match has 4 players and 4 spectators at most.
    pub per_room: usize,
}

impl Limits {
    /// `hltd signal`: many matches, about 140 MB of websockets at most. A room holds one
    /// match (8 peers at most), with room to spare for peers that reconnect.
    pub const STANDALONE: Limits = Limits {
        total: 1024,
        per_room: 32,
    };
    /// A host's embedded server (idle websockets cost about 140 KB each; messages up to
    /// matchbox_signaling's 64 MiB are buffered before [`FRAME_MAX`] is checked, a known gap).
    /// It serves one match, so one room may
    /// take them all: strangers who learned the room's name cannot crowd the players out
    /// below this cap, and the host's signaller admits none of them.
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
    /// Connections refused because of [`Limits`].
    pub refused: u64,
    /// Frames dropped: not a valid request, too long, or for a peer not in the room.
    pub dropped: u64,
    /// Connections refused because they asked for another room than the one an embedded
    /// server serves ([`EmbeddedSignal::serve_only`]).
    pub other_room: u64,
}

#[derive(Default)]
struct Counts {
    rooms: HashMap<String, usize>,
    /// The one room served, once known: connections to any other are refused before the
    /// upgrade and take no place.
    only_room: Option<String>,
    stats: ServerStats,
    logged: Option<Instant>,
    unlogged: u64,
}

/// The state every connection of one server shares.
#[derive(Clone)]
pub struct GuardedState {
    mesh: FullMeshState,
    limits: Limits,
    counts: Arc<Mutex<Counts>>,
}

impl SignalingState for GuardedState {}

impl GuardedState {
    fn new(limits: Limits) -> GuardedState {
        GuardedState {
            mesh: FullMeshState::default(),
            limits,
            counts: Arc::default(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Counts> {
        self.counts.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Whether one more websocket fits in `room`.
    fn fits(&self, room: &str) -> bool {
        let counts = self.lock();
        counts.stats.open < self.limits.total
            && counts.rooms.get(room).copied().unwrap_or(0) < self.limits.per_room
    }

    fn refuse(&self, room: &str) {
        let mut counts = self.lock();
        counts.stats.refused += 1;
        if counts.stats.refused.is_power_of_two() {
            tracing::warn!(
                refused = counts.stats.refused,
                open = counts.stats.open,
                room = %excerpt(room),
                "signaling server full: refusing connections"
            );
        }
    }

    /// Whether `room` is not the one room this server serves (and counts it).
    fn refuses_room(&self, room: &str) -> bool {
        let mut counts = self.lock();
        let refused = counts.only_room.as_deref().is_some_and(|only| only != room);
        if refused {
            counts.stats.other_room += 1;
        }
        refused
    }

    /// Takes a place in `room`, given back when the slot drops.
    fn take(&self, room: &str) -> Option<Slot> {
        if !self.fits(room) {
            self.refuse(room);
            return None;
        }
        let mut counts = self.lock();
        counts.stats.open += 1;
        *counts.rooms.entry(room.to_string()).or_insert(0) += 1;
        Some(Slot {
            state: self.clone(),
            room: room.to_string(),
        })
    }

    fn junk(&self, what: &str, frame: &str) {
        let mut counts = self.lock();
        counts.stats.dropped += 1;
        counts.unlogged += 1;
        tracing::debug!(what, frame = %excerpt(frame), "signaling: dropped a frame");
        if counts.logged.is_none_or(|at| at.elapsed() >= LOG_EVERY) {
            tracing::warn!(
                dropped = counts.unlogged,
                latest = what,
                excerpt = %excerpt(frame),
                "signaling: dropped frames that are not valid requests"
            );
            counts.logged = Some(Instant::now());
            counts.unlogged = 0;
        }
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
    state: GuardedState,
    room: String,
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut counts = self.state.lock();
        counts.stats.open = counts.stats.open.saturating_sub(1);
        if let Some(n) = counts.rooms.get_mut(&self.room) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                counts.rooms.remove(&self.room);
            }
        }
    }
}

/// Our full-mesh topology: see the module documentation.
pub struct Guarded;

#[matchbox_socket::async_trait::async_trait]
impl SignalingTopology<NoCallbacks, GuardedState> for Guarded {
    async fn state_machine(upgrade: WsStateMeta<NoCallbacks, GuardedState>) {
        let WsStateMeta {
            room,
            peer_id,
            sender,
            mut receiver,
            mut state,
            ..
        } = upgrade;
        // The request was let through when it fitted; more may have arrived at once.
        let Some(_slot) = state.take(&room) else {
            let _ = sender.send(Ok(Message::Close(Some(CloseFrame {
                code: 1013,
                reason: "signaling server full".into(),
            }))));
            return;
        };
        state.mesh.add_peer(peer_id, sender.clone(), room.clone());
        while let Some(frame) = receiver.next().await {
            let text = match frame {
                Ok(Message::Text(text)) => text,
                Ok(Message::Close(_)) | Err(_) => break,
                Ok(Message::Binary(_)) => {
                    state.junk("a binary frame", "");
                    continue;
                }
                Ok(_) => continue,
            };
            let text = text.as_str();
            if text.len() > FRAME_MAX {
                state.junk("a frame over the size limit", text);
                continue;
            }
            match serde_json::from_str::<PeerRequest>(text) {
                Ok(PeerRequest::Signal { receiver, data }) if receiver != peer_id => {
                    let event = PeerEvent::Signal {
                        sender: peer_id,
                        data,
                    };
                    let Ok(event) = serde_json::to_string(&event) else {
                        continue;
                    };
                    let event = Message::Text(event.into());
                    if state
                        .mesh
                        .try_send_to_peer(receiver, event, room.clone())
                        .is_err()
                    {
                        state.junk("a signal for a peer not in the room", text);
                    }
                }
                Ok(PeerRequest::Signal { .. }) => state.junk("a signal to itself", text),
                Ok(PeerRequest::KeepAlive) => {}
                Err(_) => state.junk("not a signaling request", text),
            }
        }
        state.mesh.remove_peer(&peer_id);
    }
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
    /// The server failed while serving.
    #[error("the signaling server failed: {0}")]
    Serve(String),
}

/// Builds a server and binds its listener (no runtime needed yet).
// The refusal is axum's `Response`, as matchbox_signaling's callback wants it.
#[allow(clippy::result_large_err)]
fn bound(
    bind: SocketAddr,
    state: &GuardedState,
    stopped: Option<tokio::sync::oneshot::Receiver<()>>,
) -> Result<(SignalingServer, SocketAddr), SignalError> {
    let gate = state.clone();
    let mut builder = SignalingServerBuilder::new(bind, Guarded, state.clone())
        .on_connection_request(move |meta| {
            let room = meta.path.unwrap_or_else(|| "world".to_string());
            if room.len() > ROOM_NAME_MAX {
                return Err((StatusCode::BAD_REQUEST, "room name too long").into_response());
            }
            if gate.refuses_room(&room) {
                return Err((StatusCode::NOT_FOUND, "no such room").into_response());
            }
            if gate.fits(&room) {
                Ok(true)
            } else {
                gate.refuse(&room);
                Err((StatusCode::SERVICE_UNAVAILABLE, "signaling server full").into_response())
            }
        });
    if let Some(stopped) = stopped {
        builder = builder.with_shutdown(stopped);
    }
    let mut server = builder.build();
    let addr = server.bind().map_err(|err| SignalError::Bind {
        addr: bind,
        error: match err {
            matchbox_signaling::Error::Bind(source) => source,
            other => std::io::Error::other(other.to_string()),
        },
    })?;
    Ok((server, addr))
}

fn runtime() -> Result<tokio::runtime::Runtime, SignalError> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(SignalError::Runtime)
}

/// Runs a signaling server at `bind` until the process ends (`hltd signal`). `on_ready` hears
/// the bound address once clients can connect.
///
/// # Errors
/// [`SignalError`] when the address cannot be bound or the server fails.
pub fn serve(bind: SocketAddr, on_ready: impl FnOnce(SocketAddr)) -> Result<(), SignalError> {
    let runtime = runtime()?;
    let (server, addr) = bound(bind, &GuardedState::new(Limits::STANDALONE), None)?;
    on_ready(addr);
    runtime
        .block_on(server.serve())
        .map_err(|err| SignalError::Serve(err.to_string()))
}

/// A signaling server running on its own thread, for as long as this value lives.
pub struct EmbeddedSignal {
    addr: SocketAddr,
    state: GuardedState,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
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
        let (stop, stopped) = tokio::sync::oneshot::channel();
        let state = GuardedState::new(limits);
        let (server, addr) = bound(bind, &state, Some(stopped))?;
        let thread = std::thread::Builder::new()
            .name("signaling".into())
            .spawn(move || {
                if let Err(err) = runtime.block_on(server.serve()) {
                    tracing::error!(%err, "signaling server stopped");
                }
            })
            .map_err(SignalError::Runtime)?;
        Ok(EmbeddedSignal {
            addr,
            state,
            stop: Some(stop),
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
        self.state.lock().only_room = Some(room.to_string());
    }

    /// What it refused and dropped so far.
    pub fn stats(&self) -> ServerStats {
        self.state.lock().stats
    }
}

impl Drop for EmbeddedSignal {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        // The thread closes the websockets and ends on its own; nobody needs to wait for it.
        drop(self.thread.take());
    }
}
