//! `hltd` over WebRTC as separate processes. Every process runs inside a network namespace
//! the test creates ([`net::netns::Netns`]: loopback and a multicast route, or two namespaces
//! joined by a veth pair with addresses the test assigns), is bounded in time and is killed
//! by its id if it overstays.

use std::io::{BufRead, BufReader, Read};
use std::net::SocketAddr;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc::{channel, Receiver};
use std::time::{Duration, Instant};

use net::invite::RoomCode;
use net::netns::Netns;
use net::wsraw::RawWs;

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
        Proc::spawn(ns.command(env!("CARGO_BIN_EXE_hltd")), args)
    }

    /// In this process's own namespace (a test that reran itself inside one).
    fn start_here(args: &[&str]) -> Proc {
        Proc::spawn(Command::new(env!("CARGO_BIN_EXE_hltd")), args)
    }

    /// In this process's namespace, allowed `fds` open file descriptors (`ulimit -n`).
    fn start_limited(fds: u32, args: &[&str]) -> Proc {
        let mut command = Command::new("sh");
        command
            .arg("-c")
            .arg(format!("ulimit -n {fds} && exec \"$0\" \"$@\""))
            .arg(env!("CARGO_BIN_EXE_hltd"));
        Proc::spawn(command, args)
    }

    fn spawn(mut command: Command, args: &[&str]) -> Proc {
        let mut child = command
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

    fn pid(&self) -> u32 {
        self.child.id()
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

/// Tests that run wholly inside a namespace of their own, strangers included.
const INSIDE: Duration = Duration::from_secs(170);

/// Starts a headless WebRTC host with its embedded signaling server on a free port; returns
/// it, its room code, the signaling URL and its address.
fn rtc_host(host: &mut Proc) -> (String, String, SocketAddr) {
    let room = host.expect_line("room code: ");
    let signal = host.expect_line("signaling server: ");
    let url = signal.split_whitespace().next().expect("url").to_string();
    let addr = url
        .strip_prefix("ws://")
        .and_then(|a| a.parse().ok())
        .unwrap_or_else(|| panic!("{url}"));
    // Printed once the host is in its room.
    host.expect_line("waiting for ");
    (room, url, addr)
}

const HOST_ARGS: [&str; 8] = [
    "host",
    "--webrtc",
    "--signal-bind",
    "127.0.0.1:0",
    "--players",
    "2",
    "--frames",
    "900",
];

/// The room's name on the signaling server, as whoever runs the server (or sees the URL)
/// knows it: from it a stranger can enter the room, but it does not give the room's key.
fn room_name(room: &str) -> String {
    RoomCode::parse(room).expect("room code").room_name()
}

/// Reads what the signaling server relays until a signal arrives; its sender is the host,
/// who sends every newcomer something first.
fn learn_host_id(ws: &mut RawWs) -> String {
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        let Ok(Some(text)) = ws.read_text(Duration::from_millis(500)) else {
            continue;
        };
        let event: serde_json::Value = serde_json::from_str(&text).expect("json event");
        if let Some(sender) = event["Signal"]["sender"].as_str() {
            return sender.to_string();
        }
        // Had we been in the room first, the server would introduce the host to us.
        if let Some(host) = event["NewPeer"].as_str() {
            return host.to_string();
        }
    }
    panic!("the host sent the stranger nothing");
}

/// Signals with malformed session descriptions and candidates, forged ones, and frames that
/// are no signal at all.
fn junk(host: &str) -> Vec<String> {
    let signal = |data: &str| format!(r#"{{"Signal":{{"receiver":"{host}","data":{data}}}}}"#);
    vec![
        signal(r#"{"Answer":"x"}"#),
        signal(r#"{"Offer":"x"}"#),
        signal(r#"{"IceCandidate":"x"}"#),
        signal(&format!(r#"{{"Offer":"hltd1:o:{}:x"}}"#, "0".repeat(64))),
        signal(&format!(
            r#"{{"IceCandidate":"hltd1:r:{}:x"}}"#,
            "0".repeat(64)
        )),
        r#"{"Signal":"#.to_string(),
        "not json at all".to_string(),
        r#"{"NewPeer":"00000000-0000-0000-0000-000000000000"}"#.to_string(),
    ]
}

fn send_junk(ws: &mut RawWs, host: &str) {
    for frame in junk(host) {
        ws.send_text(&frame).expect("the stranger sends");
    }
}

/// Strangers in the host's room (they know its name, not its key) send the host malformed
/// session descriptions and forged signals, in the lobby (with `in_lobby`) and mid-match.
/// The host drops them all; a real joiner plays the match and both print equal `result:`
/// lines. (matchbox used to unwrap the malformed SDP: the host hung in the lobby, or both
/// ended mid-match with exit 3 and raw `unwrap` text.)
fn strangers_send_junk(in_lobby: bool) {
    let mut host = Proc::start_here(&HOST_ARGS);
    let (room, url, addr) = rtc_host(&mut host);
    let name = room_name(&room);
    let mut early = RawWs::connect(addr, &name).expect("stranger");
    let host_id = learn_host_id(&mut early);
    // Never heard from the host: its first signal would start a handshake.
    let mut blind = RawWs::connect(addr, &name).expect("stranger");
    if in_lobby {
        send_junk(&mut early, &host_id);
        send_junk(&mut blind, &host_id);
        std::thread::sleep(Duration::from_millis(500));
    }
    let mut join = Proc::start_here(&["join", &room, "--signal", &url]);
    join.expect_line("synchronized with seat");
    send_junk(&mut early, &host_id);
    send_junk(&mut blind, &host_id);
    let mut late = RawWs::connect(addr, &name).expect("a stranger mid-match");
    send_junk(&mut late, &host_id);
    let (joined, join_err) = passed_with_stderr(join);
    let (hosted, host_err) = passed_with_stderr(host);
    assert_eq!(joined, hosted);
    for stderr in [join_err, host_err] {
        assert!(!stderr.contains("unwrap"), "{stderr}");
    }
}

/// As [`passed`], also returning stderr.
fn passed_with_stderr(proc: Proc) -> (String, String) {
    let what = proc.what.clone();
    let (status, stdout, stderr) = proc.finish();
    assert!(status.success(), "{what}: {status}\n{stdout}\n{stderr}");
    assert!(!stderr.contains("panicked"), "{what}: {stderr}");
    let result = stdout
        .lines()
        .rfind(|l| l.starts_with("result: "))
        .unwrap_or_else(|| panic!("{what}: no result line in {stdout}"));
    assert!(result.contains("agreed=yes"), "{what}: {result}");
    (result.to_string(), stderr)
}

#[test]
fn strangers_junk_in_the_lobby_and_mid_match_is_dropped() {
    if !net::netns::rerun_inside(
        "webrtc::strangers_junk_in_the_lobby_and_mid_match_is_dropped",
        INSIDE,
    ) {
        return;
    }
    strangers_send_junk(true);
}

#[test]
fn strangers_junk_mid_match_is_dropped() {
    if !net::netns::rerun_inside("webrtc::strangers_junk_mid_match_is_dropped", INSIDE) {
        return;
    }
    strangers_send_junk(false);
}

fn open_fds(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd")).map_or(0, |d| d.count())
}

/// 300 silent websocket clients in the host's room, the host allowed 1024 descriptors: it
/// spends a peer connection on none of them, neither hangs nor fails, and a real joiner plays
/// the match. (Each used to cost the host a peer connection and its sockets, until `accept
/// error: Too many open files` and a hung lobby.)
#[test]
fn three_hundred_silent_clients_do_not_exhaust_the_host() {
    if !net::netns::rerun_inside(
        "webrtc::three_hundred_silent_clients_do_not_exhaust_the_host",
        INSIDE,
    ) {
        return;
    }
    let mut host = Proc::start_limited(1024, &HOST_ARGS);
    let (room, url, addr) = rtc_host(&mut host);
    let name = room_name(&room);
    std::thread::sleep(Duration::from_millis(300));
    let before = open_fds(host.pid());
    let clients: Vec<RawWs> = (0..300)
        .map(|i| RawWs::connect(addr, &name).unwrap_or_else(|err| panic!("client {i}: {err}")))
        .collect();
    std::thread::sleep(Duration::from_secs(3));
    let during = open_fds(host.pid());
    println!(
        "host descriptors: {before} before, {during} with {} silent clients",
        clients.len()
    );
    let join = Proc::start_here(&["join", &room, "--signal", &url]);
    let joined = passed(join);
    let hosted = passed(host);
    assert_eq!(joined, hosted);
    // The embedded server holds one descriptor per websocket; peer connections would add
    // several each.
    assert!(during < before + 300 + 50, "{before} -> {during}");
    drop(clients);
}

/// A member of the room (it holds the code, so it proves the key) answers the host's offer
/// with a session description that parses but that webrtc-rs refuses (its ICE credentials
/// conflict), which makes matchbox's loop fail. The host's lobby ends at once with exit 3 and
/// a clear message: no hang, no panic text, no `unwrap`.
#[test]
fn a_member_that_breaks_the_stack_ends_the_lobby_clearly() {
    if !net::netns::rerun_inside(
        "webrtc::a_member_that_breaks_the_stack_ends_the_lobby_clearly",
        INSIDE,
    ) {
        return;
    }
    use matchbox_socket::{PeerId, PeerSignal};
    let host = Proc::start_here(&HOST_ARGS);
    let mut host = host;
    let (room, _url, addr) = rtc_host(&mut host);
    let code = RoomCode::parse(&room).expect("room code");
    let key = code.key();
    let mut rogue = RawWs::connect(addr, &code.room_name()).expect("member");
    let mut me = None;
    let deadline = Instant::now() + Duration::from_secs(20);
    let started = loop {
        assert!(Instant::now() < deadline, "the host never offered");
        let Ok(Some(text)) = rogue.read_text(Duration::from_millis(500)) else {
            continue;
        };
        let event: serde_json::Value = serde_json::from_str(&text).expect("json");
        if let Some(id) = event["IdAssigned"].as_str() {
            me = Some(id.parse::<uuid::Uuid>().map(PeerId).expect("uuid"));
            continue;
        }
        let (Some(sender), Some(me)) = (event["Signal"]["sender"].as_str(), me) else {
            continue;
        };
        let sender = PeerId(sender.parse::<uuid::Uuid>().expect("uuid"));
        let data: PeerSignal =
            serde_json::from_value(event["Signal"]["data"].clone()).expect("signal");
        let send = |ws: &mut RawWs, data: PeerSignal| {
            let request = matchbox_socket::PeerRequest::Signal {
                receiver: sender,
                data,
            };
            ws.send_text(&serde_json::to_string(&request).expect("json"))
                .expect("send");
        };
        if let Some(answer) = net::signaller::answer_challenge(&key, me, sender, &data) {
            send(&mut rogue, answer);
        } else if let Some(('o', offer)) = net::signaller::signal_content(&data) {
            // Our answer: the host's own offer, made an answer, with a session-level ICE
            // username that conflicts with the media section's.
            let bad = offer.replace("a=setup:actpass", "a=setup:active").replacen(
                "t=0 0\r\n",
                "t=0 0\r\na=ice-ufrag:conflicting\r\n",
                1,
            );
            assert!(net::signaller::valid_sdp(&bad, false), "{bad}");
            let sealed = net::signaller::seal_signal(&key, me, sender, &PeerSignal::Answer(bad));
            send(&mut rogue, sealed);
            break Instant::now();
        }
    };
    let (status, stdout, stderr) = host.finish();
    let took = started.elapsed();
    println!("the host ended {took:?} after the bad answer: {stderr}");
    assert_eq!(status.code(), Some(3), "{stdout}\n{stderr}");
    assert!(stderr.contains("the WebRTC stack failed"), "{stderr}");
    for text in [&stdout, &stderr] {
        assert!(
            !text.contains("panicked") && !text.contains("unwrap"),
            "{text}"
        );
    }
    assert!(took < Duration::from_secs(10), "{took:?}");
}

/// The peak resident memory of process `pid`, in KiB (`VmHWM`).
fn peak_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("status");
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmHWM")
}

/// Whoever can reach `hltd signal` cannot grow its memory without bound: 200 websockets that
/// each start a 1 MiB message and never finish it, 200 more that each hold 60 KB of a
/// message under the length limit, and a recipient that never reads while another peer
/// sends it 2,000 signals of 60 KB (120 MB), leave the server's peak resident memory under
/// 48 MB, and it still relays. (It used to buffer every message up to 64 MiB before checking
/// its length, and to queue relayed signals without bound: 350 MB here.)
#[test]
fn strangers_cannot_exhaust_the_signaling_servers_memory() {
    if !net::netns::rerun_inside(
        "webrtc::strangers_cannot_exhaust_the_signaling_servers_memory",
        INSIDE,
    ) {
        return;
    }
    let mut signal = Proc::start_here(&["signal", "--bind", "127.0.0.1:0"]);
    let url = signal.expect_line("signaling server listening on ");
    let addr: SocketAddr = url
        .trim_start_matches("ws://")
        .split_whitespace()
        .next()
        .and_then(|a| a.parse().ok())
        .unwrap_or_else(|| panic!("address in {url:?}"));
    let before = peak_kib(signal.pid());
    let mut held = Vec::new();
    let unfinished = vec![b'x'; (1 << 20) - 1];
    let mut cut = 0;
    for i in 0..200 {
        let mut ws = RawWs::connect(addr, &format!("r{}", i % 10))
            .unwrap_or_else(|err| panic!("client {i}: {err}"));
        // The server may close the connection before the write ends.
        if ws.send_start(0x1, 1 << 20, &unfinished).is_err() {
            cut += 1;
        }
        held.push(ws);
    }
    // Under the limit, these are all held at once.
    let almost = vec![b'y'; 59_999];
    for i in 0..200 {
        let mut ws = RawWs::connect(addr, &format!("s{}", i % 10))
            .unwrap_or_else(|err| panic!("client {i}: {err}"));
        ws.send_start(0x1, 60_000, &almost).expect("send");
        held.push(ws);
    }
    let mut sleeper = RawWs::connect(addr, "q").expect("sleeper");
    let sleeper_id = sleeper.read_id().expect("id");
    let mut sender = RawWs::connect(addr, "q").expect("sender");
    sender.read_id().expect("id");
    let mut third = RawWs::connect(addr, "q").expect("third");
    let third_id = third.read_id().expect("id");
    let candidate = "c".repeat(60_000);
    for _ in 0..2_000 {
        sender
            .send_signal(&sleeper_id, "IceCandidate", &candidate)
            .expect("send");
    }
    // The server reads a websocket's frames in order: once the third peer hears this, the
    // server has handled every one of the 2,000.
    sender
        .send_signal(&third_id, "Answer", "done")
        .expect("send");
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        assert!(
            Instant::now() < deadline,
            "the signal after the flood never came"
        );
        if let Ok(Some(text)) = third.read_text(Duration::from_secs(1)) {
            if text.contains("done") {
                break;
            }
        }
    }
    let peak = peak_kib(signal.pid());
    println!(
        "signaling server peak memory: {before} KiB at the start, {peak} KiB after 200 \
         unfinished 1 MiB messages ({cut} cut short by the server), 200 unfinished 60 KB \
         ones and 120 MB for a peer that does not read"
    );
    assert!(peak < 48 << 10, "peak {peak} KiB");
    drop((held, sleeper));
    signal.kill();
}
