//! `hltd` over WebRTC as separate processes. Every process runs inside a network namespace
//! the test creates ([`net::netns::Netns`]: loopback and a multicast route, or two namespaces
//! joined by a veth pair with addresses the test assigns), is bounded in time and is killed
//! by its id if it overstays.

use std::io::{BufRead, BufReader, Read};
use std::process::{Child, ExitStatus, Stdio};
use std::sync::mpsc::{channel, Receiver};
use std::time::{Duration, Instant};

use net::netns::Netns;

const LIMIT: Duration = Duration::from_secs(90);

fn netns(multicast: bool) -> Netns {
    Netns::new(multicast).unwrap_or_else(|err| panic!("{err}"))
}

/// A running `hltd` whose output is read as it comes.
struct Proc {
    what: String,
    child: Child,
    lines: Receiver<String>,
    seen: Vec<String>,
    stderr: Option<std::thread::JoinHandle<String>>,
}

impl Proc {
    fn start(ns: &Netns, args: &[&str]) -> Proc {
        let mut child = ns
            .command(env!("CARGO_BIN_EXE_hltd"))
            .env("XDG_DATA_HOME", super::data_home())
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start hltd");
        let stdout = child.stdout.take().expect("piped");
        let mut stderr = child.stderr.take().expect("piped");
        let (tx, lines) = channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let stderr = std::thread::spawn(move || {
            let mut text = String::new();
            let _ = stderr.read_to_string(&mut text);
            text
        });
        Proc {
            what: args.join(" "),
            child,
            lines,
            seen: Vec::new(),
            stderr: Some(stderr),
        }
    }

    /// Waits for a line starting with `prefix` and returns the rest of it.
    fn expect_line(&mut self, prefix: &str) -> String {
        let deadline = Instant::now() + LIMIT;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    self.seen.push(line.clone());
                    if let Some(rest) = line.strip_prefix(prefix) {
                        return rest.to_string();
                    }
                }
                Err(_) => {
                    let _ = self.child.kill();
                    let status = self.child.wait();
                    let stderr = self
                        .stderr
                        .take()
                        .and_then(|t| t.join().ok())
                        .unwrap_or_default();
                    panic!(
                        "{}: no line {prefix:?} ({status:?}); saw {:#?}\nstderr: {stderr}",
                        self.what, self.seen
                    );
                }
            }
        }
    }

    /// Waits for the end (killing it after [`LIMIT`]) and returns its status, stdout and
    /// stderr.
    fn finish(mut self) -> (ExitStatus, String, String) {
        let deadline = Instant::now() + LIMIT;
        let status = loop {
            match self.child.try_wait() {
                Ok(Some(status)) => break status,
                Ok(None) if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(20));
                }
                _ => {
                    let _ = self.child.kill();
                    let _ = self.child.wait();
                    panic!(
                        "{}: did not finish within {LIMIT:?}: {:#?}",
                        self.what, self.seen
                    );
                }
            }
        };
        // The reader thread may still hold the last lines: take them until the pipe closes.
        while let Ok(line) = self.lines.recv_timeout(Duration::from_secs(5)) {
            self.seen.push(line);
        }
        let stderr = self
            .stderr
            .take()
            .and_then(|t| t.join().ok())
            .unwrap_or_default();
        (status, self.seen.join("\n"), stderr)
    }

    fn kill(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Finishes `proc`, asserts it exited 0 without a panic, and returns its result line.
fn passed(proc: Proc) -> String {
    let what = proc.what.clone();
    let (status, stdout, stderr) = proc.finish();
    assert!(status.success(), "{what}: {status}\n{stdout}\n{stderr}");
    assert!(!stderr.contains("panicked"), "{what}: {stderr}");
    let result = stdout
        .lines()
        .rfind(|l| l.starts_with("result: "))
        .unwrap_or_else(|| panic!("{what}: no result line in {stdout}"));
    assert!(result.contains("agreed=yes"), "{what}: {result}");
    result.to_string()
}

/// The acceptance run: 3 peers, 900 frames over WebRTC with the embedded signaling server.
#[test]
fn demo_over_webrtc_agrees() {
    let ns = netns(true);
    let demo = Proc::start(
        &ns,
        &[
            "demo",
            "--headless",
            "--transport",
            "webrtc",
            "--peers",
            "3",
            "--frames",
            "900",
        ],
    );
    let result = passed(demo);
    assert!(result.contains("frames=900 peers=3"), "{result}");
}

/// Without a multicast route, WebRTC cannot start: a clear error naming the fix and the
/// alternative, a non-zero exit, no panic.
#[test]
fn a_missing_multicast_route_is_explained() {
    let ns = netns(false);
    let room = some_room();
    for args in [
        &[
            "demo",
            "--headless",
            "--transport",
            "webrtc",
            "--frames",
            "60",
        ][..],
        &["join", &room][..],
        &["host", "--webrtc"][..],
    ] {
        let (status, _, stderr) = Proc::start(&ns, args).finish();
        assert!(!status.success(), "{args:?}");
        assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
        assert!(
            stderr.contains("224.0.0.0/4")
                && stderr.contains("ip route add")
                && stderr.contains("UDP"),
            "{args:?}: {stderr}"
        );
    }
}

/// A room code with a valid check digit, for rooms nobody hosts.
fn some_room() -> String {
    net::invite::RoomCode::generate()
        .expect("randomness")
        .to_string()
}

/// `hltd signal` standalone, a host using it and a player joining through it.
#[test]
fn standalone_signal_server_with_two_peers() {
    let ns = netns(true);
    let mut signal = Proc::start(&ns, &["signal", "--bind", "127.0.0.1:0"]);
    let url = signal.expect_line("signaling server listening on ");
    let url = url.split_whitespace().next().expect("url").to_string();
    let mut host = Proc::start(
        &ns,
        &[
            "host",
            "--webrtc",
            "--signal",
            &url,
            "--players",
            "2",
            "--frames",
            "600",
            "--seed",
            "5",
        ],
    );
    let room = host.expect_line("room code: ");
    let join = Proc::start(&ns, &["join", &room, "--signal", &url]);
    let joined = passed(join);
    let hosted = passed(host);
    assert_eq!(joined, hosted);
    signal.kill();
}

/// The host's embedded signaling server on a free port; a spectator and two players join.
#[test]
fn embedded_signal_with_players_and_a_spectator() {
    let ns = netns(true);
    let mut host = Proc::start(
        &ns,
        &[
            "host",
            "--webrtc",
            "--signal-bind",
            "127.0.0.1:0",
            "--players",
            "3",
            "--frames",
            "600",
        ],
    );
    let room = host.expect_line("room code: ");
    let signal = host.expect_line("signaling server: ");
    let url = signal.split_whitespace().next().expect("url").to_string();
    let mut spectator = Proc::start(&ns, &["spectate", &room, "--signal", &url]);
    spectator.expect_line("in room ");
    host.expect_line("spectator joined");
    let players: Vec<Proc> = (0..2)
        .map(|_| Proc::start(&ns, &["join", &room, "--signal", &url]))
        .collect();
    let results: Vec<String> = players.into_iter().map(passed).collect();
    let hosted = passed(host);
    let watched = passed(spectator);
    assert!(
        results.iter().all(|r| *r == hosted),
        "{results:?} vs {hosted}"
    );
    // The spectator has no peers to agree with; its hash is the players'.
    assert_eq!(
        watched.split("hash=").nth(1),
        hosted.split("hash=").nth(1),
        "spectator"
    );
}

/// A mistyped room code exits 2 at once; an unreachable signaling server and an empty room
/// give a clear error within a bounded time.
#[test]
fn bad_rooms_and_servers_fail_clearly() {
    let ns = netns(true);
    let room = some_room();
    let mut typo = room.clone().into_bytes();
    typo[0] = if typo[0] == b'A' { b'B' } else { b'A' };
    let typo = String::from_utf8(typo).expect("ascii");
    let (status, _, stderr) = Proc::start(&ns, &["join", &typo]).finish();
    assert_eq!(status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("typo"), "{stderr}");

    let started = Instant::now();
    let (status, _, stderr) =
        Proc::start(&ns, &["join", &room, "--signal", "ws://127.0.0.1:9"]).finish();
    assert!(!status.success());
    assert!(
        stderr.contains("cannot use the signaling server at ws://127.0.0.1:9"),
        "{stderr}"
    );
    println!("unreachable server reported after {:?}", started.elapsed());

    let mut signal = Proc::start(&ns, &["signal", "--bind", "127.0.0.1:0"]);
    let url = signal.expect_line("signaling server listening on ");
    let url = url.split_whitespace().next().expect("url").to_string();
    let started = Instant::now();
    let (status, _, stderr) = Proc::start(&ns, &["join", &room, "--signal", &url]).finish();
    assert!(!status.success());
    assert!(stderr.contains("no answer from the host"), "{stderr}");
    println!("empty room reported after {:?}", started.elapsed());
    signal.kill();

    let (status, _, stderr) = Proc::start(&ns, &["join", &room, "--signal", "http://x"]).finish();
    assert_eq!(status.code(), Some(2), "{stderr}");
}

/// Host and player in two namespaces joined by a veth pair (addresses assigned here): the
/// match runs over a real link, and the player reports its connect time.
#[test]
fn two_namespaces_over_veth() {
    let (a, b) = (netns(false), netns(false));
    a.link(&b, "192.0.2.1/24", "192.0.2.2/24")
        .unwrap_or_else(|err| panic!("{err}"));
    let mut host = Proc::start(
        &a,
        &[
            "host",
            "--webrtc",
            "--signal-bind",
            "192.0.2.1:0",
            "--players",
            "2",
            "--frames",
            "600",
        ],
    );
    let room = host.expect_line("room code: ");
    let signal = host.expect_line("signaling server: ");
    let url = signal.split_whitespace().next().expect("url").to_string();
    let mut join = Proc::start(&b, &["join", &room, "--signal", &url]);
    let connect = join.expect_line("join to synchronized session: ");
    println!("over veth: socket to synchronized session {connect}");
    let joined = passed(join);
    let hosted = passed(host);
    assert_eq!(joined, hosted);
}
