//! Matches over WebRTC, each test inside a network namespace of its own (loopback and a
//! multicast route only), made by the test itself through [`net::netns::rerun_inside`].

use std::time::{Duration, Instant};

use net::invite::RoomCode;
use net::lobby::{self, LobbyError, Offer, Role};
use net::local::{
    play_plan_reporting, run_local_match, LocalMatchOptions, LocalTransport, Observer,
};
use net::rtc::{IceServers, RtcNet, RtcSocket};
use net::session::{config_digest, Seat, Session, SessionError, SessionOptions};
use net::signal::{EmbeddedSignal, Limits};
use net::transport::Transport;
use net::wsraw::RawWs;
use sim::{Game, Script, Settings};

/// A test and everything it starts, inside its namespace.
const LIMIT: Duration = Duration::from_secs(120);
const SEED: u64 = 23;

fn options(peers: usize, frames: u32) -> LocalMatchOptions {
    LocalMatchOptions {
        transport: LocalTransport::WebRtc,
        ..crate::local::options(peers, frames, SEED)
    }
}

/// 2 peers with a spectator, and 3 peers, 600 frames each over WebRTC with the embedded
/// signaling server: every peer's hash agrees, and so does the spectator's.
#[test]
fn two_and_three_peers_agree() {
    if !net::netns::rerun_inside("webrtc::two_and_three_peers_agree", LIMIT) {
        return;
    }
    for (peers, spectator) in [(2, true), (3, false)] {
        let options = LocalMatchOptions {
            spectator,
            ..options(peers, 600)
        };
        let report = run_local_match(&options).unwrap_or_else(|err| panic!("{peers} peers: {err}"));
        assert!(report.agreed(), "{peers} peers: {report:#?}");
        assert!(
            report.hashes.iter().all(|h| *h == report.hashes[0]),
            "{peers} peers: hashes differ"
        );
        if spectator {
            assert_eq!(report.spectator_hash, Some(report.hashes[0]), "spectator");
        }
        println!(
            "{peers} peers over WebRTC: connected in {} ms, synchronized {} ms later",
            report.connect_time.as_millis(),
            report.sync_time.as_millis()
        );
    }
}

/// A bit flipped in seat 1's state at frame 300 is named, as over UDP.
#[test]
fn injected_desync_is_named() {
    if !net::netns::rerun_inside("webrtc::injected_desync_is_named", LIMIT) {
        return;
    }
    let options = LocalMatchOptions {
        inject_desync: Some((1, 300)),
        ..options(3, 600)
    };
    let report = run_local_match(&options).unwrap_or_else(|err| panic!("{err}"));
    assert!(!report.agreed(), "the flip must be seen");
    for (seat, verdict) in report.verdicts.iter().enumerate() {
        let verdict = verdict
            .as_ref()
            .unwrap_or_else(|| panic!("seat {seat} saw no verdict"));
        assert_eq!(verdict.diverged, vec![1], "seat {seat}: {verdict}");
        assert!(verdict.frame >= 300, "seat {seat}: {verdict}");
    }
}

/// Seat 2 plays but also sends garbage, crafted GGRS messages (the kinds that crash GGRS) and
/// junk control messages to seats 0 and 1 on their data channels. Both play on to the end,
/// agree with each other, and count what they dropped.
#[test]
fn a_hostile_peer_does_not_crash_the_others() {
    if !net::netns::rerun_inside("webrtc::a_hostile_peer_does_not_crash_the_others", LIMIT) {
        return;
    }
    const FRAMES: i32 = 600;
    let signal = EmbeddedSignal::start(([127, 0, 0, 1], 0).into()).expect("signaling");
    let room = RoomCode::generate().expect("randomness");
    let nets: Vec<_> = (0..3)
        .map(|_| RtcSocket::connect(&signal.url(), &room, &IceServers::default()).expect("connect"))
        .collect();
    let addrs: Vec<_> = nets
        .iter()
        .map(|n| n.borrow().local_addr().expect("id"))
        .collect();
    let deadline = Instant::now() + Duration::from_secs(30);
    while !(0..3).all(|i| (0..3).all(|j| i == j || nets[i].borrow().is_up(addrs[j]))) {
        assert!(Instant::now() < deadline, "peers did not connect");
        for net in &nets {
            net.borrow_mut().poll();
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    let settings = Settings::standard(SEED, 3);
    let mut sessions: Vec<_> = (0..3)
        .map(|me| {
            Session::start(
                Game::new(settings),
                nets[me].clone(),
                Seat::table(&addrs, me),
                &[],
                SessionOptions::default(),
            )
            .expect("start")
        })
        .collect();
    let mut rng = oorandom::Rand32::new(SEED);
    let mut attacks = 0u32;
    let deadline = Instant::now() + Duration::from_secs(60);
    while !(0..2).all(|s| sessions[s].confirmed_hash(FRAMES).is_some()) {
        assert!(Instant::now() < deadline, "seed {SEED}: the match stalled");
        for (seat, session) in sessions.iter_mut().enumerate() {
            let frame = session.current_frame().max(0) as u32;
            session
                .step(Script::Human.input(SEED, frame, seat as u8))
                .unwrap_or_else(|err| panic!("seed {SEED}: seat {seat}: {err}"));
        }
        let frame = sessions[2].current_frame();
        if frame > 30 && frame % 10 == 0 && attacks < 400 {
            let mut hostile = nets[2].borrow_mut();
            for &victim in &addrs[..2] {
                for message in crate::hostile::crafted(frame) {
                    hostile.send_raw_ggrs(victim, &message);
                }
                let len = rng.rand_range(0..300) as usize;
                let junk: Vec<u8> = (0..len).map(|_| rng.rand_u32() as u8).collect();
                hostile.send_raw(victim, &junk);
                hostile.send_control(victim, &junk);
                attacks += 1;
            }
        }
        std::thread::sleep(Duration::from_micros(300));
    }
    assert!(attacks > 0, "the attack must have run");
    assert_eq!(
        sessions[0].confirmed_hash(FRAMES),
        sessions[1].confirmed_hash(FRAMES),
        "seed {SEED}: the honest seats disagree"
    );
    for (seat, session) in sessions.iter().enumerate().take(2) {
        let stats = session.peer_stats();
        let from_hostile = stats.iter().find(|s| s.seat == 2).expect("seat 2");
        let dropped: u64 = from_hostile.traffic.dropped.values().sum();
        assert!(
            dropped > 0,
            "seat {seat} dropped nothing from the hostile peer: {from_hostile:?}"
        );
        println!(
            "seat {seat} dropped from seat 2: {:?}",
            from_hostile.traffic.dropped
        );
    }
    drop(signal);
}

fn connect(signal: &EmbeddedSignal, room: &RoomCode) -> RtcNet {
    RtcSocket::connect(&signal.url(), room, &IceServers::default()).expect("connect")
}

/// Polls `nets` until every one sees every other up.
fn until_connected(nets: &[&RtcNet]) {
    let ids: Vec<_> = nets
        .iter()
        .map(|n| n.borrow().local_addr().expect("id"))
        .collect();
    let deadline = Instant::now() + Duration::from_secs(30);
    while !nets.iter().all(|n| {
        ids.iter()
            .all(|id| Some(*id) == n.borrow().local_addr() || n.borrow().is_up(*id))
    }) {
        assert!(Instant::now() < deadline, "peers did not connect");
        for net in nets {
            net.borrow_mut().poll();
        }
        std::thread::sleep(Duration::from_millis(2));
    }
}

/// The signaling server refuses connections beyond its caps, in one room and in total, before
/// the websocket upgrade; the peers already in a room still connect through it, and a place
/// freed is taken again.
#[test]
fn the_signaling_server_caps_connections() {
    if !net::netns::rerun_inside("webrtc::the_signaling_server_caps_connections", LIMIT) {
        return;
    }
    let limits = Limits {
        total: 8,
        per_room: 4,
    };
    let signal = EmbeddedSignal::start_with(([127, 0, 0, 1], 0).into(), limits).expect("signal");
    let room = RoomCode::generate().expect("randomness");
    let (a, b) = (connect(&signal, &room), connect(&signal, &room));
    let name = room.room_name();
    let mut held: Vec<RawWs> = (0..2)
        .map(|i| RawWs::connect(signal.addr(), &name).unwrap_or_else(|e| panic!("{i}: {e}")))
        .collect();
    let refused = RawWs::connect(signal.addr(), &name)
        .err()
        .expect("the room is full");
    assert!(refused.to_string().contains("503"), "{refused}");
    held.extend((0..4).map(|i| {
        RawWs::connect(signal.addr(), "other").unwrap_or_else(|e| panic!("other {i}: {e}"))
    }));
    let refused = RawWs::connect(signal.addr(), "third")
        .err()
        .expect("the server is full");
    assert!(refused.to_string().contains("503"), "{refused}");
    assert_eq!(signal.stats().open, 8);
    assert_eq!(signal.stats().refused, 2);
    until_connected(&[&a, &b]);
    // Junk from a member of the room is dropped by the server and relayed to nobody; a
    // message over the size limit closes its sender's websocket, which frees its place.
    held[0].send_text("{\"Signal\":").expect("send");
    let _ = held[0].send_text(&"x".repeat(100_000));
    let deadline = Instant::now() + Duration::from_secs(5);
    while signal.stats().open > 7 || signal.stats().dropped < 1 || signal.stats().failed < 1 {
        assert!(
            Instant::now() < deadline,
            "junk not counted or the oversized sender not closed: {:?}",
            signal.stats()
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    // What was queued for it before (its id, the others' arrivals), then the close: well
    // before the 5 s a read would wait for more.
    let started = Instant::now();
    let mut heard = 0;
    while let Ok(Some(_)) = held[0].read_text(Duration::from_secs(5)) {
        heard += 1;
        assert!(heard < 16, "more than was queued for it");
    }
    assert!(started.elapsed() < Duration::from_secs(4), "not closed");
    // A place freed is taken again.
    RawWs::connect(signal.addr(), "third").expect("room again");
    println!("signaling server: {:?}", signal.stats());
}

/// A recipient that never reads costs the server a bounded queue: once it overflows, the
/// recipient is closed (it used to be queued every signal without bound), the others in the
/// room hear that it left, and they are still served.
#[test]
fn a_recipient_that_does_not_read_is_closed() {
    if !net::netns::rerun_inside("webrtc::a_recipient_that_does_not_read_is_closed", LIMIT) {
        return;
    }
    let signal = EmbeddedSignal::start(([127, 0, 0, 1], 0).into()).expect("signal");
    let mut sleeper = RawWs::connect(signal.addr(), "r").expect("sleeper");
    let sleeper_id = sleeper.read_id().expect("id");
    let mut sender = RawWs::connect(signal.addr(), "r").expect("sender");
    let sender_id = sender.read_id().expect("id");
    let candidate = "c".repeat(60_000);
    // 2,000 signals of 60 KB: 120 MB that the sleeper never reads.
    for _ in 0..2_000 {
        sender
            .send_signal(&sleeper_id, "IceCandidate", &candidate)
            .expect("send");
    }
    let deadline = Instant::now() + Duration::from_secs(30);
    while signal.stats().slow < 1 || signal.stats().dropped < 1_000 {
        assert!(
            Instant::now() < deadline,
            "the recipient that does not read was not closed: {:?}",
            signal.stats()
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    // The sender hears that the sleeper left (the rest of its signals went to nobody), then a
    // third peer's arrival and its signal.
    let heard = sender.read_text(Duration::from_secs(5)).expect("read");
    assert_eq!(heard, Some(format!(r#"{{"PeerLeft":"{sleeper_id}"}}"#)));
    let mut third = RawWs::connect(signal.addr(), "r").expect("third");
    let third_id = third.read_id().expect("id");
    let heard = sender.read_text(Duration::from_secs(5)).expect("read");
    assert_eq!(heard, Some(format!(r#"{{"NewPeer":"{third_id}"}}"#)));
    third.send_signal(&sender_id, "Answer", "a").expect("send");
    let heard = sender.read_text(Duration::from_secs(5)).expect("read");
    assert_eq!(
        heard,
        Some(format!(
            r#"{{"Signal":{{"sender":"{third_id}","data":{{"Answer":"a"}}}}}}"#
        ))
    );
    assert_eq!(signal.stats().slow, 1, "{:?}", signal.stats());
    println!("signaling server: {:?}", signal.stats());
}

/// An embedded server told its room serves that room only: connections to any other path are
/// refused before the upgrade and take no place, so strangers who do not know the room's name
/// cannot crowd its players out.
#[test]
fn an_embedded_server_serves_only_its_room() {
    if !net::netns::rerun_inside("webrtc::an_embedded_server_serves_only_its_room", LIMIT) {
        return;
    }
    let limits = Limits {
        total: 4,
        per_room: 4,
    };
    let signal = EmbeddedSignal::start_with(([127, 0, 0, 1], 0).into(), limits).expect("signal");
    let room = RoomCode::generate().expect("randomness");
    let name = room.room_name();
    signal.serve_only(&name);
    for path in ["", "other", "junk/path", &name[1..]] {
        let refused = RawWs::connect(signal.addr(), path)
            .err()
            .unwrap_or_else(|| panic!("{path:?} must be refused"));
        assert!(refused.to_string().contains("404"), "{path:?}: {refused}");
    }
    // `junk/path` is no route of the server at all (axum's 404); the other three reached the
    // room check.
    assert_eq!(signal.stats().other_room, 3);
    assert_eq!(
        signal.stats().open,
        0,
        "a refused connection takes no place"
    );
    let held: Vec<RawWs> = (0..4)
        .map(|i| RawWs::connect(signal.addr(), &name).unwrap_or_else(|e| panic!("{i}: {e}")))
        .collect();
    assert_eq!(held.len(), 4, "every place is the room's");
}

fn offer(players: usize, frames: u32) -> Offer {
    let options = SessionOptions::default();
    Offer {
        players,
        seed: SEED,
        frames,
        options,
        digest: config_digest(sim::RULES_VERSION, &options),
    }
}

/// A host whose WebRTC stack fails in the lobby ends the lobby at once with the failure (it
/// used to wait for players until its lobby timed out).
#[test]
fn a_failed_stack_ends_the_lobby_at_once() {
    if !net::netns::rerun_inside("webrtc::a_failed_stack_ends_the_lobby_at_once", LIMIT) {
        return;
    }
    let signal = EmbeddedSignal::start(([127, 0, 0, 1], 0).into()).expect("signal");
    let room = RoomCode::generate().expect("randomness");
    let host = connect(&signal, &room);
    host.borrow_mut()
        .fail_for_test("the WebRTC stack failed (simulated)");
    let started = Instant::now();
    let result = lobby::host(&host, &offer(2, 600), Duration::from_secs(20), &mut |_| {});
    assert!(
        matches!(&result, Err(LobbyError::Transport(why)) if why.contains("simulated")),
        "{result:?}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
}

/// Fails its transport once a confirmed frame reaches `at`.
struct FailAt {
    net: RtcNet,
    at: i32,
}

impl Observer for FailAt {
    fn wants_confirmed(&self, _seat: Option<usize>) -> bool {
        true
    }
    fn confirmed(
        &mut self,
        _seat: Option<usize>,
        frames: Vec<net::session::Confirmed<sim::Input>>,
    ) {
        if frames.iter().any(|f| f.frame >= self.at) {
            self.net
                .borrow_mut()
                .fail_for_test("the WebRTC stack failed (simulated)");
        }
    }
}

/// A host whose WebRTC stack fails mid-match ends with the failure and a report of where it
/// stood (the frame it reached and its hash there), and the joiner ends too, without hanging.
#[test]
fn a_failed_stack_mid_match_still_reports() {
    if !net::netns::rerun_inside("webrtc::a_failed_stack_mid_match_still_reports", LIMIT) {
        return;
    }
    let signal = EmbeddedSignal::start(([127, 0, 0, 1], 0).into()).expect("signal");
    let room = RoomCode::generate().expect("randomness");
    let url = signal.url();
    let joiner = std::thread::spawn(move || {
        let net = RtcSocket::connect(&url, &room, &IceServers::default()).expect("connect");
        let digest = config_digest(sim::RULES_VERSION, &SessionOptions::default());
        let plan = lobby::join(
            &net,
            None,
            Role::Player,
            &digest,
            Duration::from_secs(15),
            Duration::from_secs(30),
            &mut |_| {},
        )
        .expect("join");
        let started = Instant::now();
        let outcome = play_plan_reporting(net, &plan, Duration::from_secs(2), |_| {}, &mut ());
        (
            started.elapsed(),
            outcome
                .map(|r| r.frames)
                .map_err(|f| (f.error.to_string(), f.so_far.map(|r| r.frames))),
        )
    });
    let host = connect(&signal, &room);
    let plan =
        lobby::host(&host, &offer(2, 600), Duration::from_secs(30), &mut |_| {}).expect("host");
    let mut observer = FailAt {
        net: host.clone(),
        at: 120,
    };
    let outcome = play_plan_reporting(host, &plan, Duration::from_secs(2), |_| {}, &mut observer);
    let failed = outcome.expect_err("the match fails");
    let (err, so_far) = (failed.error, failed.so_far);
    assert!(
        matches!(&err, net::local::LocalMatchError::Session(SessionError::Transport(why)) if why.contains("simulated")),
        "{err}"
    );
    let so_far = so_far.expect("a report so far");
    assert!((120..600).contains(&so_far.frames), "{}", so_far.frames);
    assert_ne!(so_far.hash, [0; 32], "the hash of the frame reached");
    // The host's socket goes with the observer: the joiner sees it leave.
    drop(observer);
    let (took, joined) = joiner.join().expect("the joiner does not panic");
    println!(
        "host ended at frame {}; joiner: {joined:?} after {took:?}",
        so_far.frames
    );
    // The joiner ends too, with a frame it can name: the split at the host's departure, or
    // its own report so far.
    let joiner_frames = match &joined {
        Ok(frames) => Some(*frames),
        Err((_, frames)) => *frames,
    };
    assert!(
        joiner_frames.is_some_and(|f| f <= 600),
        "the joiner ends with a report: {joined:?}"
    );
}
