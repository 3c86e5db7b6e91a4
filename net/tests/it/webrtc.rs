//! Matches over WebRTC, each test inside a network namespace of its own (loopback and a
//! multicast route only), made by the test itself through [`net::netns::rerun_inside`].

use std::time::{Duration, Instant};

use net::local::{run_local_match, LocalMatchOptions, LocalTransport};
use net::rtc::{room_url, IceServers, RtcSocket};
use net::session::{Seat, Session, SessionOptions};
use net::signal::EmbeddedSignal;
use net::transport::Transport;
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
    let url = room_url(&signal.url(), "HOSTILE");
    let nets: Vec<_> = (0..3)
        .map(|_| RtcSocket::connect(&url, &IceServers::default()).expect("connect"))
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
