//! Whole matches between in-process peers over encrypted loopback UDP.

use std::time::Duration;

use net::local::{run_local_match, LocalMatchOptions, LocalMatchReport};
use net::session::SessionOptions;

pub fn options(peers: usize, frames: u32, seed: u64) -> LocalMatchOptions {
    LocalMatchOptions {
        peers,
        frames,
        seed,
        bots: sim::Script::Human,
        loss_ppm: 0,
        latency: Duration::ZERO,
        inject_desync: None,
        leave: None,
        spectator: false,
        realtime: false,
        session: SessionOptions::default(),
        transport: net::local::LocalTransport::Udp,
    }
}

fn run(options: &LocalMatchOptions) -> LocalMatchReport {
    run_local_match(options).unwrap_or_else(|err| panic!("{options:?}: {err}"))
}

fn assert_agreed(report: &LocalMatchReport, what: &str) {
    assert!(report.agreed(), "{what}: {report:#?}");
    for (seat, peer) in report.peers.iter().enumerate() {
        let agreed = peer.agreed_up_to.unwrap_or(-1);
        assert!(
            agreed >= report.frames as i32 - 60,
            "{what}: seat {seat} agreed only up to {agreed}"
        );
    }
}

/// 2 and 4 peers, 600 frames: every confirmed hash agrees, and rollbacks happened.
#[test]
fn two_and_four_peers_agree() {
    for peers in [2, 4] {
        let report = run(&options(peers, 600, peers as u64));
        assert_agreed(&report, &format!("{peers} peers"));
        assert!(report.peers.iter().all(|p| p.work.frames >= 600));
    }
}

/// Loss and latency cause rollbacks, not desyncs.
#[test]
fn loss_and_latency_do_not_desync() {
    let mut o = options(3, 600, 9);
    o.loss_ppm = 50_000;
    o.latency = Duration::from_millis(20);
    let report = run(&o);
    assert_agreed(&report, "3 peers, 5% loss, 20 ms");
    let rollbacks: u64 = report.peers.iter().map(|p| p.work.rollbacks).sum();
    assert!(rollbacks > 0, "latency must cause rollbacks");
}

/// A bit flipped in seat 2's state at frame 300: every peer's verdict names seat 2 at 300;
/// with two peers, both are named.
#[test]
fn injected_desync_is_named() {
    let mut o = options(3, 600, 4);
    o.inject_desync = Some((2, 300));
    let report = run(&o);
    assert!(!report.agreed());
    for (seat, verdict) in report.verdicts.iter().enumerate() {
        let verdict = verdict
            .as_ref()
            .unwrap_or_else(|| panic!("seat {seat} saw no verdict"));
        assert_eq!(verdict.frame, 300, "seat {seat}");
        assert_eq!(verdict.diverged, vec![2], "seat {seat}");
    }
    let mut o = options(2, 600, 4);
    o.inject_desync = Some((1, 300));
    let report = run(&o);
    for (seat, verdict) in report.verdicts.iter().enumerate() {
        let verdict = verdict
            .as_ref()
            .unwrap_or_else(|| panic!("seat {seat} saw no verdict"));
        assert_eq!(
            (verdict.frame, verdict.diverged.clone()),
            (300, vec![0, 1]),
            "seat {seat}"
        );
    }
}

/// A spectator follows a 2-player match to the end with the same hash.
#[test]
fn spectator_follows_to_the_end() {
    let mut o = options(2, 600, 12);
    o.spectator = true;
    let report = run(&o);
    assert_agreed(&report, "2 peers and a spectator");
    assert_eq!(report.spectator_hash, Some(report.hashes[0]));
}

/// A player who quits mid-match is reported to everyone; the others play on to the end with
/// its inputs idle, never panicking, or, when configured to, end the match cleanly.
///
/// GGRS would have peers agree on the leaving frame by passing disconnect reports around, but
/// it panics on such a report whenever it still holds later inputs of the leaver, so
/// `net::codec` removes the reports and each peer goes by its own silence timeout. With three
/// or more players the rest may then make the leaver idle from different frames: consensus
/// names that as a desync at or after the leaving frame, and it is never a crash.
#[test]
fn a_player_leaving_is_reported_and_survived() {
    let mut o = options(2, 900, 21);
    o.leave = Some((1, 300));
    o.session.disconnect_timeout = Duration::from_millis(300);
    let report = run(&o);
    assert_eq!(
        report.disconnects[0],
        vec![1],
        "seat 0 must hear that seat 1 left"
    );
    assert!(report.peers[0].work.frames >= 900);
    assert!(report.verdicts[0].is_none(), "{:?}", report.verdicts[0]);

    let mut o = options(3, 900, 21);
    o.leave = Some((1, 300));
    o.session.disconnect_timeout = Duration::from_millis(300);
    let report = run(&o);
    for seat in [0, 2] {
        assert_eq!(
            report.disconnects[seat],
            vec![1],
            "seat {seat} must hear that seat 1 left"
        );
        assert!(
            report.peers[seat].work.frames >= 900,
            "seat {seat} plays on"
        );
        if let Some(verdict) = &report.verdicts[seat] {
            assert!(
                verdict.frame >= 299,
                "seat {seat}: a desync before the leave: {verdict:?}"
            );
        }
    }

    o.session.on_disconnect = net::session::OnDisconnect::End;
    match run_local_match(&o) {
        Err(net::local::LocalMatchError::Session(net::session::SessionError::PeerLeft(1))) => {}
        other => panic!("expected the match to end because seat 1 left, got {other:?}"),
    }
}

/// An impossible match is refused with the game's reason, not a panic.
#[test]
fn impossible_matches_are_refused() {
    for peers in [0, 5] {
        match run_local_match(&options(peers, 60, 1)) {
            Err(net::local::LocalMatchError::Settings(sim::SettingsError::Players(n))) => {
                assert_eq!(n as usize, peers)
            }
            other => panic!("{peers} peers: expected a settings error, got {other:?}"),
        }
    }
}

/// A peer that steps twice as often as the other runs ahead, and GGRS's advice to wait
/// reaches the caller through `take_wait_recommendation`; the slower peer gets none.
#[test]
fn a_peer_running_ahead_is_told_to_wait() {
    let o = options(2, 600, 4);
    let mut m = net::local::LocalMatch::start_udp(&o).expect("start");
    let (mut fast, mut slow) = (0u32, 0u32);
    for tick in 0..1200u32 {
        let frame = m.sessions[0].current_frame().max(0) as u32;
        m.sessions[0]
            .step(o.bots.input(o.seed, frame, 0))
            .expect("step the fast peer");
        fast += m.sessions[0].take_wait_recommendation();
        if tick % 2 == 0 {
            let frame = m.sessions[1].current_frame().max(0) as u32;
            m.sessions[1]
                .step(o.bots.input(o.seed, frame, 1))
                .expect("step the slow peer");
            slow += m.sessions[1].take_wait_recommendation();
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    assert!(
        fast > 0,
        "the fast peer got no wait advice at frame {}",
        m.sessions[0].current_frame()
    );
    assert_eq!(slow, 0, "the slow peer was told to wait");
}

/// Collects what an observed match hands out.
#[derive(Default)]
struct Collect {
    frames: std::collections::BTreeMap<Option<usize>, Vec<net::session::Confirmed<sim::Input>>>,
    evidence: Vec<(usize, net::session::Evidence<sim::Snapshot>)>,
}

impl net::local::Observer for Collect {
    fn wants_confirmed(&self, _seat: Option<usize>) -> bool {
        true
    }
    fn wants_evidence(&self) -> bool {
        true
    }
    fn confirmed(&mut self, seat: Option<usize>, frames: Vec<net::session::Confirmed<sim::Input>>) {
        self.frames.entry(seat).or_default().extend(frames);
    }
    fn evidence(&mut self, seat: usize, evidence: net::session::Evidence<sim::Snapshot>) {
        self.evidence.push((seat, evidence));
    }
}

/// Under loss and latency (so predictions are corrected by rollbacks), every peer and the
/// spectator hand out the same inputs for frames 0, 1, 2, ... without a gap, up to the last
/// frame; a fresh game fed those inputs reaches the hash every session reported for them.
#[test]
fn confirmed_inputs_are_final_and_reproduce_the_hashes() {
    let mut o = options(3, 600, 21);
    o.loss_ppm = 50_000;
    o.latency = Duration::from_millis(20);
    o.spectator = true;
    let mut seen = Collect::default();
    let report =
        net::local::run_observed(&o, &mut seen).unwrap_or_else(|err| panic!("{o:?}: {err}"));
    assert_agreed(&report, "observed match");
    let rollbacks: u64 = report.peers.iter().map(|p| p.work.rollbacks).sum();
    assert!(rollbacks > 0, "latency must cause rollbacks");
    assert_eq!(seen.frames.len(), 4, "3 seats and the spectator");
    let reference = &seen.frames[&Some(0)];
    for (who, frames) in &seen.frames {
        assert!(
            frames.len() >= 600,
            "{who:?} handed out {} frames",
            frames.len()
        );
        let settings = sim::Settings::standard(o.seed, 3);
        let mut game = sim::Game::new(settings);
        for (i, c) in frames.iter().enumerate() {
            assert_eq!(c.frame, i as i32, "{who:?}: frames in order, no gap");
            let common = reference.get(i).map(|r| &r.inputs);
            if let Some(inputs) = common {
                assert_eq!(&c.inputs, inputs, "{who:?}: inputs of frame {i}");
            }
            let hash = game.advance(&c.inputs);
            let reported = c.hash.unwrap_or_else(|| panic!("{who:?}: no hash for {i}"));
            assert_eq!(hash.0, reported, "{who:?}: state {}", i + 1);
            if let (Some(seat), 600) = (who, i + 1) {
                assert_eq!(
                    hash.0, report.hashes[*seat],
                    "{who:?}: hash of the last frame"
                );
            }
        }
    }
    assert!(seen.evidence.is_empty(), "no verdict, no evidence");
}

/// A verdict comes with evidence: our state of the verdict's frame (its hash differs between
/// the diverged peer and the others), the last agreed frame's state, and recent hashes.
#[test]
fn a_verdict_comes_with_evidence() {
    let mut o = options(3, 700, 5);
    o.inject_desync = Some((1, 600));
    let mut seen = Collect::default();
    let report =
        net::local::run_observed(&o, &mut seen).unwrap_or_else(|err| panic!("{o:?}: {err}"));
    assert!(!report.agreed());
    let mut seats: Vec<usize> = seen.evidence.iter().map(|(s, _)| *s).collect();
    seats.sort_unstable();
    assert_eq!(seats, vec![0, 1, 2], "every peer reports");
    let state_hash = |seat: usize| {
        let (_, e) = seen
            .evidence
            .iter()
            .find(|(s, _)| *s == seat)
            .expect("seat");
        assert_eq!(e.verdict.frame, 600);
        assert_eq!(e.verdict.diverged, vec![1]);
        let (agreed, agreed_state) = e.agreed.as_ref().expect("an agreed frame");
        assert!(*agreed < 600);
        let agreed_state = agreed_state.as_ref().expect("agreed state kept");
        assert_eq!(agreed_state.frame(), *agreed as u32);
        let state = e.state().expect("the verdict frame's state");
        assert_eq!(state.frame(), 600);
        let own = e
            .hashes
            .iter()
            .find(|(f, _)| *f == 600)
            .expect("hash of 600")
            .1;
        assert_eq!(
            state.hash().0,
            own,
            "seat {seat}: the dump is the state it hashed"
        );
        own
    };
    assert_eq!(state_hash(0), state_hash(2));
    assert_ne!(state_hash(0), state_hash(1));
}

/// A peer that only polls once it is past the last frame still confirms it (through the
/// other's inputs), but frames a poll confirms are handed out only after its next advance:
/// `reached` waits for them, and stepping on hands out every frame, in order.
#[test]
fn reached_waits_for_every_frame_to_be_handed_out() {
    let target = 300;
    let mut o = options(2, target as u32, 8);
    o.latency = Duration::from_millis(15);
    let mut m = net::local::LocalMatch::start_udp(&o).expect("start");
    let mut seen = Collect::default();
    m.observe_with(&seen);
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    let mut polled_past = false;
    while !(m.sessions[0].reached(target) && m.sessions[1].reached(target)) {
        assert!(std::time::Instant::now() < deadline, "stalled");
        for seat in 0..2 {
            let session = &mut m.sessions[seat];
            let frame = session.current_frame().max(0) as u32;
            // Seat 0 stops advancing just past the target until seat 1 confirmed it.
            let wait = seat == 0 && frame > target as u32 && !m.sessions[1].reached(target);
            let session = &mut m.sessions[seat];
            if wait {
                session.poll();
                polled_past = true;
            } else {
                session
                    .step(o.bots.input(o.seed, frame, seat as u8))
                    .expect("step");
            }
        }
        m.report_to(&mut seen);
        let handed = seen.frames.get(&Some(0)).map_or(0, Vec::len);
        if m.sessions[0].reached(target) {
            assert!(
                handed >= target as usize,
                "reached with {handed} frames out"
            );
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    assert!(
        polled_past,
        "the test did not exercise polling past the target"
    );
    for seat in [Some(0), Some(1)] {
        let frames = &seen.frames[&seat];
        assert!(
            frames.len() >= target as usize,
            "{seat:?}: {}",
            frames.len()
        );
        assert!(frames.iter().enumerate().all(|(i, c)| c.frame == i as i32));
    }
}
