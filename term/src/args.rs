//! The command-line arguments, in clap's derive form.

use std::process::ExitCode;

use clap::{CommandFactory, Parser, Subcommand, ValueEnum};

/// Healer TD: co-op terminal tower defence on a deterministic rollback core.
#[derive(Debug, Parser)]
#[command(name = "hltd", version, about)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run a networked match between bots on this machine, over encrypted loopback UDP (or
    /// WebRTC).
    Demo(DemoArgs),
    /// Host a match: over encrypted UDP it prints an invite code, over WebRTC (--webrtc) a
    /// room code; then it waits for the players.
    Host(HostArgs),
    /// Join a hosted match with its invite code or room code.
    Join(JoinArgs),
    /// Watch a hosted match with its invite code or room code.
    Spectate(JoinArgs),
    /// Run a WebRTC signaling server (rooms by URL path, like matchbox_server).
    Signal(SignalArgs),
    /// Run a match headless and print its final frame and state hash.
    Sim(SimArgs),
    /// Inspect and check replay files.
    #[command(subcommand)]
    Replay(ReplayCommand),
    /// Read desync bundles (written when a peer finds that confirmed states differ).
    #[command(subcommand)]
    Desync(DesyncCommand),
    /// Hunt for desyncs: random inputs and settings through GGRS sync-tests, or peers over a
    /// simulated faulty network.
    #[command(subcommand)]
    Fuzz(FuzzCommand),
    /// Measure the core against its performance goals: tick, save, load, hash, an 8-frame
    /// rollback and a naive baseline, on the swarm scenario, with a pass/fail mark per goal.
    Bench(BenchArgs),
}

#[derive(Debug, clap::Args)]
pub struct BenchArgs {
    /// Creeps in the swarm (4 players), 1 to 100000.
    #[arg(long, default_value_t = 100_000, value_parser = clap::value_parser!(u32).range(1..=i64::from(sim::rules::MAX_CREEPS)))]
    pub creeps: u32,
    /// Ticks to time, at least 2 (half with the state hash, half the rules alone).
    #[arg(long, default_value_t = 600, value_parser = clap::value_parser!(u32).range(2..=1_000_000))]
    pub frames: u32,
    /// Print one JSON object instead of the table.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Subcommand)]
pub enum FuzzCommand {
    /// Random inputs (and random settings, unless fixed) through GGRS sync-test sessions of
    /// the real game: every rollback must reproduce the same hashes.
    Synctest(SynctestArgs),
    /// 2 to 4 peers (real GGRS sessions, real encryption) over a simulated network whose
    /// loss, duplication, reordering, latency, jitter and partitions come from the seed:
    /// every peer must confirm the same hashes and reach the last frame.
    Net(NetFuzzArgs),
}

#[derive(Debug, clap::Args)]
pub struct NetFuzzArgs {
    #[command(flatten)]
    pub seeds: SeedArgs,
    /// Peers, 2 to 4 (default: picked per seed).
    #[arg(long, value_parser = clap::value_parser!(u32).range(2..=4))]
    pub peers: Option<u32>,
    /// Frames every peer must reach.
    #[arg(long, default_value_t = 600, value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    pub frames: u32,
    /// Probability that a datagram is lost, 0 to 0.5.
    #[arg(long, default_value = "0", value_parser = parse_probability_ppm)]
    pub loss: u32,
    /// Probability that a datagram arrives twice.
    #[arg(long, default_value = "0", value_parser = parse_probability_ppm)]
    pub dup: u32,
    /// Probability that a datagram is held back and overtaken.
    #[arg(long, default_value = "0", value_parser = parse_probability_ppm)]
    pub reorder: u32,
    /// Delay of every datagram, in milliseconds.
    #[arg(long, default_value_t = 0, value_parser = clap::value_parser!(u64).range(0..=2000))]
    pub latency: u64,
    /// Up to this much more delay, in milliseconds.
    #[arg(long, default_value_t = 0, value_parser = clap::value_parser!(u64).range(0..=2000))]
    pub jitter: u64,
    /// Partitions of this many milliseconds, one every 2 to 6 seconds (0: none).
    #[arg(long, default_value_t = 0, value_parser = clap::value_parser!(u64).range(0..=10_000))]
    pub partition: u64,
    /// Probability that a case has a peer that leaves (stops playing) at a frame its seed
    /// picks; the others must agree on everything they confirmed.
    #[arg(long, default_value = "0", value_parser = parse_probability_ppm)]
    pub leave: u32,
    /// Seeds run at once (each case spends most of its wall time waiting on retry timers).
    #[arg(long, default_value_t = 8, value_parser = clap::value_parser!(u32).range(1..=64))]
    pub jobs: u32,
    /// Where failing seeds' replays and desync bundles go (default: fuzz/ in the replay
    /// directory).
    #[arg(long, value_name = "DIR")]
    pub out: Option<std::path::PathBuf>,
    /// Test support: break the game's determinism, to see the oracle fire.
    #[arg(long, hide = true)]
    pub break_determinism: bool,
}

/// Which seeds a fuzzer runs.
#[derive(Debug, clap::Args)]
pub struct SeedArgs {
    /// Seeds to run, from --first-seed on.
    #[arg(long, default_value_t = 20, value_parser = clap::value_parser!(u64).range(1..=1_000_000))]
    pub seeds: u64,
    /// The first seed of --seeds.
    #[arg(long, default_value_t = 0)]
    pub first_seed: u64,
    /// Run this one seed (what a failure's rerun line uses).
    #[arg(long, conflicts_with_all = ["seeds", "first_seed"])]
    pub seed: Option<u64>,
}

impl SeedArgs {
    /// The seeds, in order, or a usage error for `command` when `--first-seed` plus
    /// `--seeds` runs past the last seed.
    pub fn list(&self, command: &str) -> Result<Vec<u64>, UsageError> {
        match self.seed {
            Some(seed) => Ok(vec![seed]),
            None => {
                if self.first_seed.checked_add(self.seeds - 1).is_none() {
                    return Err(UsageError::new(
                        command,
                        format!(
                            "--first-seed {} --seeds {}: the seeds would run past {}; the \
                             last seed is --first-seed plus --seeds minus 1",
                            self.first_seed,
                            self.seeds,
                            u64::MAX
                        ),
                    ));
                }
                Ok((0..self.seeds).map(|i| self.first_seed + i).collect())
            }
        }
    }
}

#[derive(Debug, clap::Args)]
pub struct SynctestArgs {
    #[command(flatten)]
    pub seeds: SeedArgs,
    /// Players, 1 to 4 (default: picked per seed).
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..=4))]
    pub players: Option<u32>,
    /// GGRS check distance, 1 to 7 (default: picked per seed).
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..=7))]
    pub check_distance: Option<u32>,
    /// Frames per seed.
    #[arg(long, default_value_t = 600, value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    pub frames: u32,
    /// Scenario (default: picked per seed, mostly standard).
    #[arg(long, value_enum)]
    pub scenario: Option<ScenarioArg>,
    /// Creeps of a swarm (default: picked per seed).
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..=i64::from(sim::rules::MAX_CREEPS)))]
    pub creeps: Option<u32>,
    /// Where failing seeds' replays go (default: fuzz/ in the replay directory).
    #[arg(long, value_name = "DIR")]
    pub out: Option<std::path::PathBuf>,
    /// Test support: break the game's determinism, to see the oracle fire.
    #[arg(long, hide = true)]
    pub break_determinism: bool,
}

#[derive(Debug, Subcommand)]
pub enum DesyncCommand {
    /// Compare two bundles of the same desync: the first frame whose hashes differ and,
    /// field by field, what differs in the states (entity, component, field, both values).
    /// Exit 0 when they agree, 1 when they differ, 2 when a bundle cannot be read.
    Diff {
        /// The first bundle (its directory, or its bundle.json).
        a: std::path::PathBuf,
        /// The second bundle.
        b: std::path::PathBuf,
    },
}

/// Where a match's replay goes.
#[derive(Debug, clap::Args)]
pub struct RecordArgs {
    /// Write the replay to this file instead of a new file in the replay directory
    /// ($XDG_DATA_HOME/healer-td/replays, else ~/.local/share/healer-td/replays).
    #[arg(long, value_name = "PATH")]
    pub record: Option<std::path::PathBuf>,
    /// Do not record the match (desync bundles are still written to the replay directory).
    #[arg(long, conflicts_with = "record")]
    pub no_record: bool,
}

/// Refuses a `--record PATH` that cannot be written (a directory, a FIFO, socket or block
/// device, or in a directory that does not exist), before any match or lobby starts: a usage
/// error for `sub`, exit 2. (Opening a FIFO for writing would wait for a reader forever; a
/// character device such as /dev/null is taken.)
///
/// # Errors
/// The [`UsageError`] that says which.
pub fn check_record_path(sub: &str, path: &std::path::Path) -> Result<(), UsageError> {
    let parent = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(std::path::Path::new("."));
    if let Ok(meta) = std::fs::metadata(path) {
        use std::os::unix::fs::FileTypeExt;
        let kind = meta.file_type();
        let refused = if kind.is_dir() {
            Some("is a directory")
        } else if kind.is_fifo() {
            Some("is a FIFO (writing to it would wait for a reader)")
        } else if kind.is_socket() {
            Some("is a socket")
        } else if kind.is_block_device() {
            Some("is a block device")
        } else {
            None
        };
        if let Some(what) = refused {
            return Err(UsageError::new(
                sub,
                format!("--record {}: {what}", path.display()),
            ));
        }
    }
    if !parent.is_dir() {
        return Err(UsageError::new(
            sub,
            format!(
                "--record {}: the directory {} does not exist",
                path.display(),
                parent.display()
            ),
        ));
    }
    Ok(())
}

impl RecordArgs {
    /// Refuses a `--record PATH` that cannot be written ([`check_record_path`]).
    ///
    /// # Errors
    /// The [`UsageError`] that says which.
    pub fn check(&self, sub: &str) -> Result<(), UsageError> {
        match &self.record {
            Some(path) => check_record_path(sub, path),
            None => Ok(()),
        }
    }

    /// What to record.
    pub fn target(&self) -> crate::record::Target {
        match (&self.record, self.no_record) {
            (_, true) => crate::record::Target::Off,
            (Some(path), false) => crate::record::Target::Path(path.clone()),
            (None, false) => crate::record::Target::Default,
        }
    }
}

#[derive(Debug, Subcommand)]
pub enum ReplayCommand {
    /// Print a replay's header, length, players, result and the hash of its last frame.
    Info {
        /// The replay file.
        file: std::path::PathBuf,
        /// Print one JSON object instead of lines.
        #[arg(long)]
        json: bool,
    },
    /// Re-simulate every frame and compare every hash: `ok: frames=<N> hash=<hex>` and exit
    /// 0, `diverged: frame=<F> expected=<hex> got=<hex>` and exit 1, or exit 2 with where and
    /// why the file cannot be read (whole).
    Verify {
        /// The replay file.
        file: std::path::PathBuf,
    },
    /// Play a replay on the match screen: pause, step forward and back, speed 1/4x to 16x,
    /// seek by 10 seconds or to a frame, with the hash of every frame shown (? lists the keys).
    Play {
        /// The replay file.
        file: std::path::PathBuf,
        /// Playback speed: 1/4x, 1/2x, 1x, 2x, 4x, 8x or 16x.
        #[arg(
            long,
            default_value = "1x",
            value_parser = clap::builder::PossibleValuesParser::new(crate::playback::SPEEDS.map(|s| s.2))
        )]
        speed: String,
        /// Start at this frame.
        #[arg(long, value_name = "FRAME")]
        from: Option<u32>,
        /// Start paused.
        #[arg(long)]
        paused: bool,
    },
}

#[derive(Debug, clap::Args)]
pub struct HostArgs {
    /// Print progress line by line and let a bot play our seat, instead of the terminal
    /// view (also what happens when standard output is not a terminal).
    #[arg(long)]
    pub headless: bool,
    /// Address to listen on; players must be able to reach it (it goes into the code).
    #[arg(long, default_value = "127.0.0.1:0")]
    pub udp: std::net::SocketAddr,
    /// Players in the match, 2 to 4, the host included.
    #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(u32).range(2..=4))]
    pub players: u32,
    /// Frames to play (60 per second of game time).
    #[arg(long, default_value_t = 3600, value_parser = clap::value_parser!(u32).range(1..=i64::from(net::lobby::FRAMES_MAX)))]
    pub frames: u32,
    /// Seed of the game and the bots.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Minutes the invite code stays valid.
    #[arg(long, default_value_t = 30, value_parser = clap::value_parser!(u64).range(1..=1440))]
    pub ttl_min: u64,
    /// Play over WebRTC (matchbox) instead of encrypted UDP: prints a room code.
    #[arg(long, conflicts_with = "udp")]
    pub webrtc: bool,
    /// With --webrtc: use the signaling server at this URL (ws://host:port) instead of
    /// starting one in this process.
    #[arg(long, value_name = "URL", requires = "webrtc")]
    pub signal: Option<String>,
    /// With --webrtc: where the embedded signaling server listens (port 0: any free port).
    #[arg(
        long,
        value_name = "ADDR",
        default_value = "127.0.0.1:3536",
        conflicts_with = "signal"
    )]
    pub signal_bind: std::net::SocketAddr,
    #[command(flatten)]
    pub ice: IceArgs,
    #[command(flatten)]
    pub recording: RecordArgs,
}

#[derive(Debug, clap::Args)]
pub struct JoinArgs {
    /// The invite code (UDP, e.g. 0A1B2-C3D4E-...) or the 6-character room code (WebRTC)
    /// the host printed; case and dashes do not matter.
    pub code: String,
    /// Print progress line by line and let a bot play our seat, instead of the terminal
    /// view (also what happens when standard output is not a terminal).
    #[arg(long)]
    pub headless: bool,
    /// Local address to use (UDP; default: loopback for a loopback host, else any).
    #[arg(long)]
    pub bind: Option<std::net::SocketAddr>,
    /// The signaling server of a WebRTC room (ws://host:port).
    #[arg(long, value_name = "URL", default_value = net::signal::DEFAULT_URL)]
    pub signal: String,
    #[command(flatten)]
    pub ice: IceArgs,
    #[command(flatten)]
    pub recording: RecordArgs,
}

/// STUN and TURN servers for WebRTC. None by default.
#[derive(Debug, clap::Args)]
pub struct IceArgs {
    /// A STUN or TURN server, e.g. stun:stun.example.org:3478 or
    /// turn:turn.example.org:3478?transport=udp (repeat for several).
    #[arg(long = "ice", value_name = "URL")]
    pub urls: Vec<String>,
    /// Username for the TURN servers.
    #[arg(long, value_name = "NAME")]
    pub ice_user: Option<String>,
    /// Credential for the TURN servers.
    #[arg(long, value_name = "SECRET")]
    pub ice_credential: Option<String>,
    /// A JSON file: {"urls": [...], "username": "...", "credential": "..."}; the flags above
    /// add to it and override its username and credential.
    #[arg(long, value_name = "FILE")]
    pub ice_config: Option<std::path::PathBuf>,
}

impl IceArgs {
    /// The ICE servers the flags and file name.
    ///
    /// # Errors
    /// A [`UsageError`] for `sub` when the file cannot be read or a server is invalid.
    pub fn servers(&self, sub: &str) -> Result<net::rtc::IceServers, UsageError> {
        let mut servers = match &self.ice_config {
            Some(path) => {
                let text = replay::file::read_to_string(path, replay::file::ICE_CONFIG)
                    .map_err(|err| UsageError::new(sub, format!("--ice-config: {err}")))?;
                net::rtc::IceServers::from_json(&text).map_err(|err| {
                    UsageError::new(sub, format!("--ice-config {}: {err}", path.display()))
                })?
            }
            None => net::rtc::IceServers::default(),
        };
        servers.urls.extend(self.urls.iter().cloned());
        if self.ice_user.is_some() {
            servers.username.clone_from(&self.ice_user);
        }
        if self.ice_credential.is_some() {
            servers.credential.clone_from(&self.ice_credential);
        }
        servers
            .validate()
            .map_err(|err| UsageError::new(sub, err.to_string()))?;
        Ok(servers)
    }
}

#[derive(Debug, clap::Args)]
pub struct SignalArgs {
    /// Address to listen on (port 0: any free port).
    #[arg(long, default_value = "127.0.0.1:3536")]
    pub bind: std::net::SocketAddr,
}

#[derive(Clone, Copy, Debug, Default, ValueEnum)]
pub enum TransportArg {
    /// Encrypted UDP on loopback.
    #[default]
    Udp,
    /// WebRTC data channels, with a signaling server embedded in the process.
    Webrtc,
}

#[derive(Debug, clap::Args)]
pub struct DemoArgs {
    /// Print only the summary, with a bot in every seat, instead of the terminal view (also
    /// what happens when standard output is not a terminal).
    #[arg(long)]
    pub headless: bool,
    /// Peers in the match, 2 to 4, each on its own socket with a bot in its seat.
    #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(u32).range(2..=4))]
    pub peers: u32,
    /// Frames every peer must confirm (60 per second of game time).
    #[arg(long, default_value_t = 3600, value_parser = clap::value_parser!(u32).range(1..=i64::from(net::lobby::FRAMES_MAX)))]
    pub frames: u32,
    /// Seed of the game and the bots.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Probability that a datagram is lost, 0 to 0.5 (e.g. 0.05).
    #[arg(long, default_value = "0", value_parser = parse_probability_ppm)]
    pub loss: u32,
    /// Delay added to every datagram, in milliseconds: up to 10 per frame of input delay
    /// plus prediction (100 by default), beyond which a match runs slower than real time.
    #[arg(long, default_value_t = 0, value_parser = clap::value_parser!(u64).range(0..=1000))]
    pub latency: u64,
    /// Flip a bit in one peer's state at one frame, e.g. 2@600, to exercise desync detection.
    #[arg(long, value_parser = parse_injection)]
    pub inject_desync: Option<(u32, u32)>,
    /// Frames of input delay.
    #[arg(long, default_value_t = net::session::DEFAULT_INPUT_DELAY as u32, value_parser = clap::value_parser!(u32).range(0..=8))]
    pub input_delay: u32,
    /// Frames GGRS may predict ahead, 2 to 8.
    #[arg(long, default_value_t = net::session::DEFAULT_MAX_PREDICTION as u32, value_parser = clap::value_parser!(u32).range(2..=8))]
    pub max_prediction: u32,
    /// Step at 60 frames per second, as a played match does, instead of as fast as the
    /// protocol allows.
    #[arg(long)]
    pub realtime: bool,
    /// What carries the match.
    #[arg(long, value_enum, default_value_t = TransportArg::Udp)]
    pub transport: TransportArg,
    #[command(flatten)]
    pub recording: RecordArgs,
}

/// The highest `--loss` a match can run at (parts per million). Every datagram of the
/// handshake and of GGRS's synchronization must get through, retried on timers, so the time
/// to synchronize grows fast with loss; total loss can never synchronize.
pub const MAX_LOSS_PPM: u32 = 500_000;

/// Milliseconds of `demo --latency` a match keeps real time with, per frame of its window
/// (input delay plus prediction): GGRS advances about that window per round trip. Measured
/// (2 peers, debug build): a window of 10 plays 84 frames/s at 100 ms, 56 at 150, 42 at 200;
/// a window of 4 plays 85 at 40 ms, 58 at 60, 39 at 90; real time is 60, so about 14 ms per
/// frame of window, and 10 leaves a margin (a busy machine played 57 frames/s at 120 ms).
/// Slower than real time, a match overruns the local match's deadline (its length at 60 Hz
/// plus a grace) and ends as stalled.
pub const LATENCY_MS_PER_FRAME: u64 = 10;

/// Refuses a loss at which no match can run.
fn check_loss(command: &str, loss_ppm: u32) -> Result<(), UsageError> {
    if loss_ppm > MAX_LOSS_PPM {
        return Err(UsageError::new(
            command,
            format!(
                "--loss {}: a match cannot synchronize when so many datagrams are lost; \
                 give a probability from 0 to {}",
                ppm_text(loss_ppm),
                ppm_text(MAX_LOSS_PPM)
            ),
        ));
    }
    Ok(())
}

/// Parts per million as a decimal probability: `0.05`, `1`.
fn ppm_text(ppm: u32) -> String {
    let (whole, frac) = (ppm / 1_000_000, ppm % 1_000_000);
    if frac == 0 {
        return whole.to_string();
    }
    let digits = format!("{frac:06}");
    format!("{whole}.{}", digits.trim_end_matches('0'))
}

impl DemoArgs {
    /// Checks what clap's ranges cannot: the recording path, a loss a match can run at, and
    /// an injection at a seat and frame the match has.
    ///
    /// # Errors
    /// The [`UsageError`] of `demo` that names the argument.
    pub fn check(&self) -> Result<(), UsageError> {
        self.recording.check("demo")?;
        check_loss("demo", self.loss)?;
        let window = u64::from(self.input_delay + self.max_prediction);
        let most = LATENCY_MS_PER_FRAME * window;
        if self.latency > most {
            return Err(UsageError::new(
                "demo",
                format!(
                    "--latency {}: with --input-delay {} and --max-prediction {} a match \
                     runs slower than real time above {most} ms and stalls; give 0 to \
                     {most}, or a larger --max-prediction",
                    self.latency, self.input_delay, self.max_prediction
                ),
            ));
        }
        if let Some((peer, frame)) = self.inject_desync {
            if peer >= self.peers {
                return Err(UsageError::new(
                    "demo",
                    format!(
                        "--inject-desync {peer}@{frame}: peers are seats 0 to {} (as in \
                         verdict lines)",
                        self.peers - 1
                    ),
                ));
            }
            if frame == 0 || frame > self.frames {
                return Err(UsageError::new(
                    "demo",
                    format!(
                        "--inject-desync {peer}@{frame}: the frame must be 1 to {} (the \
                         match's --frames)",
                        self.frames
                    ),
                ));
            }
        }
        Ok(())
    }
}

impl NetFuzzArgs {
    /// Checks what clap's ranges cannot: a loss a match can run at.
    ///
    /// # Errors
    /// The [`UsageError`] of `fuzz net` that names the argument.
    pub fn check(&self) -> Result<(), UsageError> {
        check_loss("fuzz net", self.loss)
    }
}

/// Parses a probability written as a decimal between 0 and 1 into parts per million, without
/// floating point.
fn parse_probability_ppm(text: &str) -> Result<u32, String> {
    let err = || format!("expected a probability from 0 to 1 such as 0.05, got '{text}'");
    let (whole, frac) = text.split_once('.').unwrap_or((text, ""));
    if whole.is_empty() && frac.is_empty() || frac.len() > 6 {
        return Err(err());
    }
    let whole: u32 = if whole.is_empty() {
        0
    } else {
        whole.parse().map_err(|_| err())?
    };
    let frac_digits = if frac.is_empty() {
        0
    } else {
        frac.parse::<u32>().map_err(|_| err())?
    };
    if !frac.bytes().all(|b| b.is_ascii_digit()) || whole > 1 {
        return Err(err());
    }
    let ppm = whole * 1_000_000 + frac_digits * 10u32.pow(6 - frac.len() as u32);
    if ppm > 1_000_000 {
        return Err(err());
    }
    Ok(ppm)
}

/// Parses `PEER@FRAME`.
fn parse_injection(text: &str) -> Result<(u32, u32), String> {
    let err = || format!("expected PEER@FRAME such as 2@600, got '{text}'");
    let (peer, frame) = text.split_once('@').ok_or_else(err)?;
    Ok((
        peer.parse().map_err(|_| err())?,
        frame.parse().map_err(|_| err())?,
    ))
}

#[derive(Debug, clap::Args)]
pub struct SimArgs {
    /// Seed of the match (game randomness and scripted inputs).
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Players, 1 to 4: one lane each.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=4))]
    pub players: u32,
    /// Ticks to simulate (60 per second of game time).
    #[arg(long, default_value_t = 3600)]
    pub frames: u32,
    /// Rule set parameters.
    #[arg(long, value_enum, default_value_t = ScenarioArg::Standard)]
    pub scenario: ScenarioArg,
    /// Creeps the swarm keeps alive, 1 to 100000 (swarm only; default 10000).
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..=i64::from(sim::rules::MAX_CREEPS)))]
    pub creeps: Option<u32>,
    /// Who plays: scripted random actions, or nobody.
    #[arg(long, value_enum, default_value_t = InputsArg::Random)]
    pub inputs: InputsArg,
    /// Also print a summary of the final state on stderr.
    #[arg(long, short)]
    pub verbose: bool,
    /// Write the match as a replay to this file (see REPLAY_FORMAT.md).
    #[arg(long, value_name = "PATH")]
    pub record: Option<std::path::PathBuf>,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum ScenarioArg {
    /// Twelve waves, bosses, a base to defend.
    Standard,
    /// A constant crowd of creeps (see --creeps), for benchmarks.
    Swarm,
}

impl From<ScenarioArg> for sim::Scenario {
    fn from(arg: ScenarioArg) -> Self {
        match arg {
            ScenarioArg::Standard => sim::Scenario::Standard,
            ScenarioArg::Swarm => sim::Scenario::Swarm,
        }
    }
}

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum InputsArg {
    /// Scripted players that build, upgrade, repair and sell at random.
    Random,
    /// Players that never act.
    Idle,
}

impl From<InputsArg> for sim::Script {
    fn from(arg: InputsArg) -> Self {
        match arg {
            InputsArg::Random => sim::Script::Random,
            InputsArg::Idle => sim::Script::Idle,
        }
    }
}

/// The usage error of `sim` for settings the library refused.
pub fn sim_usage_error(err: &sim::SettingsError) -> UsageError {
    let message = match err {
        sim::SettingsError::CreepsWithoutSwarm => {
            "--creeps only applies to --scenario swarm".to_string()
        }
        other => other.to_string(),
    };
    UsageError::new("sim", message)
}

/// An argument found wrong after clap parsed it. Command code returns it (inside
/// `anyhow::Error` where that is the error type) instead of exiting, so destructors run (the
/// terminal is restored by one); `main` reports it with [`UsageError::report`]: clap's error
/// format with the usage of the subcommand named, exit 2.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct UsageError {
    /// The subcommand's path below `hltd`, words separated by spaces: `demo`, `replay play`.
    pub command: String,
    /// What is wrong, naming the argument.
    pub message: String,
}

impl UsageError {
    /// A usage error of `command` (e.g. `replay play`).
    pub fn new(command: &str, message: impl Into<String>) -> UsageError {
        UsageError {
            command: command.to_string(),
            message: message.into(),
        }
    }

    /// Prints the error with the usage of its subcommand, as clap does for the errors it
    /// finds, and gives the exit status (2). A path naming no subcommand gets the usage of
    /// the deepest one it names (at worst `hltd`'s own), never a panic.
    pub fn report(&self) -> ExitCode {
        let mut cmd = Cli::command();
        cmd.build();
        for name in self.command.split_whitespace() {
            let Some(sub) = cmd.find_subcommand(name).cloned() else {
                break;
            };
            cmd = sub;
        }
        let err = cmd.error(clap::error::ErrorKind::ValueValidation, &self.message);
        // Nothing more can be done when stderr is gone.
        let _ = err.print();
        ExitCode::from(u8::try_from(err.exit_code()).unwrap_or(2))
    }
}
