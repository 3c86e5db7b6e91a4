//! The network fuzzer: 2-4 real GGRS P2P sessions of the real game, each on a real encrypted
//! socket, over a [`SimNet`] whose faults come from the seed. Peers are stepped as fast as the
//! protocol allows, each step a sixtieth of a second of virtual network time.
//!
//! The oracle: every peer hands out the same inputs and the same state hash for every frame
//! all of them confirmed, no peer reaches a desync verdict, and every peer reaches the target
//! frame. (Panics are the caller's to catch: it runs each case under `catch_unwind`.)

use std::time::{Duration, Instant};

use net::consensus::Verdict;
use net::session::{
    config_digest, Confirmed, Evidence, Seat, Session, SessionEvent, SessionOptions, Work,
};
use net::simnet::{SimFaults, SimNet, SimStats};
use net::transport::Transport;
use net::udp::{Net, SecureSocket};
use sim::{Game, Input, Settings};

use crate::{input, mix};

/// Virtual time per step: one frame at 60 Hz.
pub const STEP_US: u64 = 16_667;
/// States each session keeps for desync evidence.
const EVIDENCE_STATES: usize = 240;
/// Longest the handshakes may take (they retry by the wall clock).
const CONNECT_LIMIT: Duration = Duration::from_secs(20);

/// What to fuzz; `peers: None` picks 2 to 4 per seed.
#[derive(Clone, Copy, Debug, Default)]
pub struct NetOptions {
    /// Peers, 2..=4.
    pub peers: Option<usize>,
    /// Frames every peer must reach.
    pub frames: u32,
    /// The network's faults.
    pub faults: SimFaults,
    /// Test support: break the game's determinism ([`Game::break_determinism`]).
    pub broken: bool,
    /// Probability, in millionths, that a case has a peer that leaves (its process stops)
    /// at a frame the seed picks.
    pub leave_ppm: u32,
}

/// How long a peer may be silent before the others count it gone, in a case with a leaver
/// (by the wall clock; a loaded machine makes live peers look this silent only rarely).
const LEAVE_TIMEOUT: Duration = Duration::from_secs(2);

/// One case: everything its seed decided.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NetCase {
    /// The seed.
    pub seed: u64,
    /// Peers.
    pub peers: usize,
    /// Frames.
    pub frames: u32,
    /// Faults.
    pub faults: SimFaults,
    /// The peer that leaves, and the frame from which it no longer plays.
    pub leaver: Option<(usize, u32)>,
}

/// Why a case failed.
#[derive(Debug, thiserror::Error)]
pub enum NetFailure {
    /// The match could not be set up.
    #[error("setup failed: {0}")]
    Setup(String),
    /// A session failed.
    #[error("seat {seat}: {error}")]
    Session {
        /// Whose.
        seat: usize,
        /// What failed.
        error: net::session::SessionError,
    },
    /// Two peers confirmed different inputs for a frame.
    #[error("confirmed inputs differ at frame {frame} between seat {first} and seat {seat}")]
    InputsDiffer {
        /// The frame.
        frame: i32,
        /// The first seat compared (seat 0, unless it left).
        first: usize,
        /// The seat that differs from it.
        seat: usize,
    },
    /// Two peers have different hashes of a frame all confirmed.
    #[error("state hashes differ at frame {frame}: {hashes}")]
    HashesDiffer {
        /// The state number.
        frame: i32,
        /// Every seat's hash, abbreviated.
        hashes: String,
    },
    /// A peer reached a desync verdict.
    #[error("seat {seat} reached a {verdict}")]
    Verdict {
        /// Whose.
        seat: usize,
        /// The verdict.
        verdict: Verdict,
    },
    /// A peer declared another gone.
    #[error("seat {seat} declared seat {gone} gone")]
    Disconnected {
        /// Who declared.
        seat: usize,
        /// Who left.
        gone: usize,
    },
    /// The match stopped making progress.
    #[error("stalled after {wall_ms} ms: frames (current/confirmed) {frames}")]
    Stalled {
        /// Wall-clock time spent.
        wall_ms: u128,
        /// Every peer's current and confirmed frame.
        frames: String,
    },
}

/// What a case did, failing or not: the material for a replay and desync bundles.
#[derive(Default)]
pub struct NetRun {
    /// Every seat's confirmed frames, in order.
    pub confirmed: Vec<Vec<Confirmed<Input>>>,
    /// Evidence of every seat that reached a verdict.
    pub evidence: Vec<(usize, Evidence<sim::Snapshot>)>,
    /// Every seat's work (rollbacks, re-simulated frames).
    pub work: Vec<Work>,
    /// What the network did.
    pub stats: SimStats,
    /// Virtual time that passed, in microseconds.
    pub virtual_us: u64,
    /// Wall-clock time the case took.
    pub wall: Duration,
}

impl NetCase {
    /// The case of `seed` under `options`.
    pub fn new(seed: u64, options: &NetOptions) -> NetCase {
        let mut rng = oorandom::Rand32::new(mix(seed, 0x7E7, 0));
        let peers = options
            .peers
            .unwrap_or_else(|| rng.rand_range(2..5) as usize);
        // Drawn apart from the rest, so that a case keeps its peers with or without leavers.
        let mut leaving = oorandom::Rand32::new(mix(seed, 0x1EA, 0));
        let leaver = (leaving.rand_range(0..1_000_000) < options.leave_ppm).then(|| {
            let last = (options.frames * 2 / 3).max(61);
            (
                leaving.rand_range(0..peers as u32) as usize,
                leaving.rand_range(60..last),
            )
        });
        NetCase {
            seed,
            peers,
            frames: options.frames,
            faults: options.faults,
            leaver,
        }
    }

    /// The game's settings (the seed is the game's seed too).
    pub fn settings(&self) -> Settings {
        Settings::standard(self.seed, self.peers as u32)
    }

    /// The `hltd` command that runs exactly this case.
    pub fn command(&self) -> String {
        let f = &self.faults;
        let p = |ppm: u32| format!("{}.{:06}", ppm / 1_000_000, ppm % 1_000_000);
        let leave = if self.leaver.is_some() {
            " --leave 1"
        } else {
            ""
        };
        format!(
            "hltd fuzz net --seed {} --peers {} --frames {} --loss {} --dup {} --reorder {} \
             --latency {} --jitter {} --partition {}{leave}",
            self.seed,
            self.peers,
            self.frames,
            p(f.loss_ppm),
            p(f.dup_ppm),
            p(f.reorder_ppm),
            f.latency_us / 1000,
            f.jitter_us / 1000,
            f.partition_us / 1000
        )
    }

    /// Runs the case: the verdict of the oracle, and what happened.
    pub fn run(&self, broken: bool) -> (Result<(), NetFailure>, NetRun) {
        let started = Instant::now();
        let mut run = NetRun {
            confirmed: vec![Vec::new(); self.peers],
            ..NetRun::default()
        };
        let net = SimNet::new(mix(self.seed, 0x4E7, 1), self.faults);
        let played = self.play(&net, broken, &mut run);
        run.stats = net.stats();
        run.virtual_us = net.now_us();
        run.wall = started.elapsed();
        // The oracle's finding names the frame and every hash: it goes first.
        let leaver = self.leaver.map(|(seat, _)| seat);
        let outcome = match played {
            Ok(()) => oracle(&run, leaver),
            Err(verdict @ NetFailure::Verdict { .. }) => oracle(&run, leaver).and(Err(verdict)),
            Err(other) => Err(other),
        };
        (outcome, run)
    }

    fn play(&self, net: &SimNet, broken: bool, run: &mut NetRun) -> Result<(), NetFailure> {
        let options = SessionOptions {
            // Only the wall clock can make a peer look gone here (partitions are virtual and
            // short): a loaded machine must not fail a case. With a leaver, the others must
            // notice it within the case's time.
            disconnect_timeout: if self.leaver.is_some() {
                LEAVE_TIMEOUT
            } else {
                Duration::from_secs(30)
            },
            ..SessionOptions::default()
        };
        let mut psk = [0u8; 32];
        for (i, chunk) in psk.chunks_mut(8).enumerate() {
            chunk.copy_from_slice(&mix(self.seed, 0x9E4, i as u64).to_le_bytes());
        }
        let digest = config_digest(sim::RULES_VERSION, &options);
        let nets: Vec<Net> = (0..self.peers)
            .map(|_| SecureSocket::on_simnet(net, psk, digest))
            .collect();
        let addrs: Vec<_> = nets.iter().map(|n| n.borrow().local_addr()).collect();
        connect(net, &nets, &addrs)?;

        let mut sessions = Vec::with_capacity(self.peers);
        for (me, n) in nets.iter().enumerate() {
            let mut game = Game::new(self.settings());
            if broken {
                game.break_determinism();
            }
            let mut session =
                Session::start(game, n.clone(), Seat::table(&addrs, me), &[], options)
                    .map_err(|error| NetFailure::Session { seat: me, error })?;
            session.keep_confirmed();
            session.keep_states(EVIDENCE_STATES);
            sessions.push(session);
        }
        let target = i32::try_from(self.frames).unwrap_or(i32::MAX);
        // Generous: partitions and GGRS's wall-clock retries may hold a match up.
        let deadline = Instant::now()
            + Duration::from_secs(60)
            + Duration::from_millis(u64::from(self.frames));
        let mut verdict = None;
        let gone = |seat: usize, frame: i32| {
            self.leaver
                .is_some_and(|(who, from)| who == seat && frame >= from as i32)
        };
        while !sessions
            .iter()
            .enumerate()
            .all(|(seat, s)| s.reached(target) || gone(seat, s.current_frame()))
        {
            let mut moved = false;
            for (seat, session) in sessions.iter_mut().enumerate() {
                if gone(seat, session.current_frame()) {
                    // Its process stopped: it neither plays nor answers.
                    continue;
                }
                let before = session.current_frame();
                let frame = before.max(0) as u32;
                session
                    .step(input(self.seed, frame, seat))
                    .map_err(|error| NetFailure::Session { seat, error })?;
                moved |= session.current_frame() != before;
                for event in session.take_events() {
                    match event {
                        SessionEvent::Desync(v) => {
                            verdict.get_or_insert(NetFailure::Verdict { seat, verdict: v });
                        }
                        SessionEvent::Disconnected(left)
                            if self.leaver.is_none_or(|(who, _)| who != left) =>
                        {
                            return Err(NetFailure::Disconnected { seat, gone: left });
                        }
                        _ => {}
                    }
                }
                run.confirmed[seat].extend(session.take_confirmed());
                if let Some(evidence) = session.take_evidence() {
                    run.evidence.push((seat, evidence));
                }
            }
            net.advance(STEP_US);
            if Instant::now() > deadline {
                let frames: Vec<String> = sessions
                    .iter()
                    .map(|s| format!("{}/{}", s.current_frame(), s.confirmed_frame()))
                    .collect();
                return Err(NetFailure::Stalled {
                    wall_ms: deadline.elapsed().as_millis() + 60_000,
                    frames: frames.join(" "),
                });
            }
            if !moved {
                // Everyone waits: on the network (virtual time passes anyway) or on a retry
                // timed by the wall clock.
                std::thread::sleep(Duration::from_micros(200));
            }
        }
        run.work = sessions.iter().map(Session::work).collect();
        verdict.map_or(Ok(()), Err)
    }
}

/// Every peer handshakes with every other over the simulated network.
fn connect(net: &SimNet, nets: &[Net], addrs: &[std::net::SocketAddr]) -> Result<(), NetFailure> {
    for (i, n) in nets.iter().enumerate() {
        for (j, addr) in addrs.iter().enumerate() {
            if i != j {
                n.borrow_mut().open_link(*addr, j > i);
            }
        }
    }
    let deadline = Instant::now() + CONNECT_LIMIT;
    loop {
        for n in nets {
            n.borrow_mut().poll();
        }
        let up = nets.iter().enumerate().all(|(i, n)| {
            addrs
                .iter()
                .enumerate()
                .all(|(j, a)| i == j || n.borrow().is_up(*a))
        });
        if up {
            return Ok(());
        }
        if Instant::now() > deadline {
            return Err(NetFailure::Setup(format!(
                "handshakes not done within {CONNECT_LIMIT:?}"
            )));
        }
        net.advance(1_000);
        std::thread::sleep(Duration::from_micros(200));
    }
}

/// Same inputs and hashes for every frame all peers (but a leaver) confirmed.
fn oracle(run: &NetRun, leaver: Option<usize>) -> Result<(), NetFailure> {
    let survivors: Vec<(usize, &Vec<Confirmed<Input>>)> = run
        .confirmed
        .iter()
        .enumerate()
        .filter(|(seat, _)| Some(*seat) != leaver)
        .collect();
    let Some(&(first_seat, first_frames)) = survivors.first() else {
        return Ok(());
    };
    let common = survivors.iter().map(|(_, c)| c.len()).min().unwrap_or(0);
    for i in 0..common {
        let first = &first_frames[i];
        for &(seat, frames) in survivors.iter().skip(1) {
            if frames[i].inputs != first.inputs {
                return Err(NetFailure::InputsDiffer {
                    frame: first.frame,
                    first: first_seat,
                    seat,
                });
            }
        }
        if survivors.iter().any(|(_, c)| c[i].hash != first.hash) {
            let hashes: Vec<String> = survivors
                .iter()
                .map(|&(seat, c)| {
                    let hex = c[i]
                        .hash
                        .map_or("none".to_string(), |h| sim::StateHash(h).to_hex());
                    format!("{seat}:{}", &hex[..hex.len().min(16)])
                })
                .collect();
            return Err(NetFailure::HashesDiffer {
                frame: first.frame + 1,
                hashes: hashes.join(" "),
            });
        }
    }
    Ok(())
}
