//! The WebRTC signaling server: matchbox_signaling's full-mesh topology, whose rooms are the
//! URL path (`ws://host:port/ROOM`), the same protocol as the upstream `matchbox_server`. It
//! runs on a thread of its own with a single-threaded tokio runtime, embedded in
//! `hltd host --webrtc` and the WebRTC demo, or standalone as `hltd signal`.
//!
//! The server only introduces peers: it relays their session descriptions and ICE candidates
//! and never sees game traffic, which flows peer to peer over DTLS-encrypted data channels.

use std::net::SocketAddr;
use std::thread::JoinHandle;

use matchbox_signaling::SignalingServer;

/// The port clients try when no signaling URL is given (the upstream server's default).
pub const DEFAULT_PORT: u16 = 3536;
/// The signaling URL clients use when none is given.
pub const DEFAULT_URL: &str = "ws://127.0.0.1:3536";

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
fn bound(
    bind: SocketAddr,
    stopped: Option<tokio::sync::oneshot::Receiver<()>>,
) -> Result<(SignalingServer, SocketAddr), SignalError> {
    let mut builder = SignalingServer::full_mesh_builder(bind);
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
    let (server, addr) = bound(bind, None)?;
    on_ready(addr);
    runtime
        .block_on(server.serve())
        .map_err(|err| SignalError::Serve(err.to_string()))
}

/// A signaling server running on its own thread, for as long as this value lives.
pub struct EmbeddedSignal {
    addr: SocketAddr,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl EmbeddedSignal {
    /// Starts a server at `bind` (port 0: any free port).
    ///
    /// # Errors
    /// [`SignalError`] when the address cannot be bound.
    pub fn start(bind: SocketAddr) -> Result<EmbeddedSignal, SignalError> {
        let runtime = runtime()?;
        let (stop, stopped) = tokio::sync::oneshot::channel();
        let (server, addr) = bound(bind, Some(stopped))?;
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
