//! Hostile input: garbage, truncated, bit-flipped and replayed datagrams, packets under a
//! wrong key, strangers, and crafted GGRS messages from a registered peer. The session
//! survives, the counters show the drops, and the hashes still agree.

use std::net::{Ipv4Addr, SocketAddr, UdpSocket};
use std::time::{Duration, Instant};

use net::codec::{Body, ConnectionStatus, InputBody, Mirror};
use net::secure::DropReason;
use net::session::{config_digest, Seat, Session, SessionOptions};
use net::udp::{Net, SecureSocket};
use sim::{Game, Script, Settings};

const FRAMES: i32 = 600;
const SEED: u64 = 0x5EED;

fn loopback() -> SocketAddr {
    SocketAddr::from((Ipv4Addr::LOCALHOST, 0))
}

/// Steps every session once, each with the script's input for its seat.
fn step_all(sessions: &mut [Session<Game>], script: Script) {
    for (seat, session) in sessions.iter_mut().enumerate() {
        let frame = session.current_frame().max(0) as u32;
        session
            .step(script.input(SEED, frame, seat as u8))
            .unwrap_or_else(|err| panic!("seed {SEED}: seat {seat}: {err}"));
    }
}

/// Polls `nets` until `done` holds, for at most 5 seconds.
fn poll_until(nets: &[&Net], what: &str, done: impl Fn() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(5);
    while !done() {
        assert!(Instant::now() < deadline, "{what} timed out");
        for net in nets {
            net.borrow_mut().poll();
        }
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// A UDP relay between peer 0 and peer 1 that also attacks peer 0 from peer 1's address.
struct Proxy {
    /// Faces peer 0, posing as peer 1.
    a: UdpSocket,
    /// Faces peer 1, posing as peer 0.
    b: UdpSocket,
    peer0: SocketAddr,
    peer1: SocketAddr,
    seen: Vec<Vec<u8>>,
    rng: oorandom::Rand32,
    attacking: bool,
}

impl Proxy {
    fn pump(&mut self) {
        let mut buf = [0u8; 2048];
        while let Ok((n, _)) = self.a.recv_from(&mut buf) {
            let _ = self.b.send_to(&buf[..n], self.peer1);
        }
        while let Ok((n, _)) = self.b.recv_from(&mut buf) {
            let datagram = buf[..n].to_vec();
            let _ = self.a.send_to(&datagram, self.peer0);
            if self.attacking {
                self.attack(&datagram);
            }
            if self.seen.len() < 256 {
                self.seen.push(datagram);
            }
        }
    }

    /// Sends peer 0 a mutated or replayed copy of real traffic, or garbage, from peer 1's
    /// address.
    fn attack(&mut self, real: &[u8]) {
        let mut copy = real.to_vec();
        match self.rng.rand_range(0..6) {
            0 => {
                let i = self.rng.rand_range(0..copy.len() as u32) as usize;
                copy[i] ^= 1 << self.rng.rand_range(0..8);
            }
            1 => copy.truncate(self.rng.rand_range(0..copy.len() as u32) as usize),
            2 if !self.seen.is_empty() => {
                let i = self.rng.rand_range(0..self.seen.len() as u32) as usize;
                copy = self.seen[i].clone();
            }
            3 => {
                let len = self.rng.rand_range(0..1400) as usize;
                copy = (0..len).map(|_| self.rng.rand_u32() as u8).collect();
            }
            4 => {
                // Our own magic and version, then garbage: gets as far as authentication.
                copy[16..]
                    .iter_mut()
                    .for_each(|b| *b = self.rng.rand_u32() as u8);
            }
            _ => return,
        }
        let _ = self.a.send_to(&copy, self.peer0);
    }
}

pub fn crafted(frame: i32) -> Vec<Vec<u8>> {
    let status = |last_frame| ConnectionStatus {
        disconnected: false,
        last_frame,
    };
    let input = |start_frame, bytes| {
        Body::Input(InputBody {
            peer_connect_status: vec![status(frame); 2],
            disconnect_requested: false,
            start_frame,
            ack_frame: frame,
            bytes,
        })
    };
    let bodies = vec![
        // The crash GGRS is known for: inputs far past the receiver's queue.
        input(frame.max(0), net::codec::encode_inputs(150, 4)),
        input(frame + 500, net::codec::encode_inputs(1, 4)),
        // Run-length encodings that panic or balloon inside GGRS's decoder.
        input(frame.max(0), vec![0x80]),
        input(
            frame.max(0),
            vec![0xfd, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f],
        ),
        Body::Input(InputBody {
            peer_connect_status: vec![status(i32::MAX); 40],
            disconnect_requested: false,
            start_frame: i32::MAX,
            ack_frame: i32::MIN,
            bytes: vec![],
        }),
        Body::QualityReport {
            frame_advantage: i16::MIN,
            ping: u128::MAX,
        },
        Body::ChecksumReport {
            checksum: 1,
            frame: frame + 10_000,
        },
        Body::InputAck {
            ack_frame: i32::MAX,
        },
    ];
    let mut messages: Vec<Vec<u8>> = bodies
        .into_iter()
        .map(|body| Mirror { magic: 0, body }.to_bytes())
        .collect();
    messages.push(vec![0xff; 40]);
    messages.push(vec![]);
    messages
}

#[test]
fn hostile_traffic_is_dropped_and_counted() {
    let options = SessionOptions::default();
    let digest = config_digest(sim::RULES_VERSION, &options);
    let psk = [42u8; 32];
    let nets: Vec<Net> = (0..2)
        .map(|_| SecureSocket::bind(loopback(), psk, digest).expect("bind"))
        .collect();
    let addr = |i: usize| nets[i].borrow().local_addr();
    let a = UdpSocket::bind(loopback()).expect("bind");
    let b = UdpSocket::bind(loopback()).expect("bind");
    a.set_nonblocking(true).expect("nonblocking");
    b.set_nonblocking(true).expect("nonblocking");
    let (pa, pb) = (a.local_addr().expect("addr"), b.local_addr().expect("addr"));
    let mut proxy = Proxy {
        a,
        b,
        peer0: addr(0),
        peer1: addr(1),
        seen: Vec::new(),
        rng: oorandom::Rand32::new(SEED),
        attacking: false,
    };
    // Peer 0 knows peer 1 as the proxy's `a`; peer 1 knows peer 0 as the proxy's `b`.
    nets[1].borrow_mut().expect(pb);
    nets[0].borrow_mut().connect(pa);
    let deadline = Instant::now() + Duration::from_secs(5);
    while !(nets[0].borrow().is_up(pa) && nets[1].borrow().is_up(pb)) {
        assert!(
            Instant::now() < deadline,
            "handshake through the proxy timed out"
        );
        nets[0].borrow_mut().poll();
        nets[1].borrow_mut().poll();
        proxy.pump();
        std::thread::sleep(Duration::from_millis(1));
    }
    // A stranger, and a peer under another secret.
    let stranger = UdpSocket::bind(loopback()).expect("bind");
    let impostor = SecureSocket::bind(loopback(), [7u8; 32], digest).expect("bind");
    impostor.borrow_mut().connect(addr(0));

    let settings = Settings::standard(SEED, 2);
    let mut sessions = [
        Session::start(
            Game::new(settings),
            nets[0].clone(),
            vec![Seat::Local, Seat::Remote(pa)],
            &[],
            options,
        )
        .expect("start 0"),
        Session::start(
            Game::new(settings),
            nets[1].clone(),
            vec![Seat::Remote(pb), Seat::Local],
            &[],
            options,
        )
        .expect("start 1"),
    ];
    proxy.attacking = true;
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut sent_crafted = 0;
    while sessions.iter().any(|s| s.confirmed_hash(FRAMES).is_none()) {
        assert!(
            Instant::now() < deadline,
            "seed {SEED}: the match stalled under attack"
        );
        step_all(&mut sessions, Script::Random);
        proxy.pump();
        let frame = sessions[1].current_frame();
        if frame > 100 && frame % 7 == 0 {
            for message in crafted(frame) {
                nets[1].borrow_mut().send_raw_ggrs(pb, &message);
                sent_crafted += 1;
            }
        }
        let _ = stranger.send_to(b"HLTD hello?", addr(0));
        impostor.borrow_mut().poll();
        std::thread::sleep(Duration::from_micros(300));
    }

    assert!(sent_crafted > 0);
    for (seat, session) in sessions.iter().enumerate() {
        assert!(
            session.verdict().is_none(),
            "seed {SEED}: seat {seat}: {:?}",
            session.verdict()
        );
    }
    assert_eq!(
        sessions[0].confirmed_hash(FRAMES),
        sessions[1].confirmed_hash(FRAMES)
    );
    let traffic = nets[0]
        .borrow()
        .traffic(pa)
        .cloned()
        .expect("peer 1 is known");
    let strangers = nets[0].borrow().strangers().clone();
    let count = |t: &net::udp::Traffic, r: DropReason| t.dropped.get(&r).copied().unwrap_or(0);
    eprintln!("seed {SEED}: from peer 1 {traffic:?}; from strangers {strangers:?}");
    for reason in [
        DropReason::NotAuthentic,
        DropReason::Replayed,
        DropReason::Invalid,
        DropReason::Malformed,
    ] {
        assert!(
            count(&traffic, reason) > 0,
            "seed {SEED}: no {reason:?} drops counted"
        );
    }
    assert!(
        count(&traffic, DropReason::TooShort) + count(&traffic, DropReason::BadMagic) > 0,
        "seed {SEED}: garbage must be dropped at the header"
    );
    assert!(
        count(&strangers, DropReason::UnknownSource) > 0,
        "seed {SEED}: strangers"
    );
    assert!(
        !nets[0].borrow().is_up(impostor.borrow().local_addr()),
        "no link under a wrong secret"
    );
}

/// A registered peer claims, in a well-formed input message, that another player left at
/// frame 0. GGRS would roll back to frame 1, far outside its prediction window, and panic.
/// The receiver must survive and finish the match (it may now disagree, which consensus names).
#[test]
fn a_false_early_disconnect_report_does_not_crash() {
    let options = SessionOptions::default();
    let digest = config_digest(sim::RULES_VERSION, &options);
    let psk = [9u8; 32];
    let nets: Vec<Net> = (0..3)
        .map(|_| SecureSocket::bind(loopback(), psk, digest).expect("bind"))
        .collect();
    let addrs: Vec<SocketAddr> = nets.iter().map(|n| n.borrow().local_addr()).collect();
    for (i, net) in nets.iter().enumerate() {
        for (j, addr) in addrs.iter().enumerate() {
            match i.cmp(&j) {
                std::cmp::Ordering::Less => net.borrow_mut().connect(*addr),
                std::cmp::Ordering::Greater => net.borrow_mut().expect(*addr),
                std::cmp::Ordering::Equal => {}
            }
        }
    }
    poll_until(&nets.iter().collect::<Vec<_>>(), "handshakes", || {
        (0..3).all(|i| (0..3).all(|j| i == j || nets[i].borrow().is_up(addrs[j])))
    });
    let settings = Settings::standard(SEED, 3);
    let mut sessions: Vec<Session<Game>> = (0..3)
        .map(|me| {
            let seats = Seat::table(&addrs, me);
            Session::start(Game::new(settings), nets[me].clone(), seats, &[], options)
                .expect("start")
        })
        .collect();
    let mut lied = false;
    let deadline = Instant::now() + Duration::from_secs(60);
    while sessions[0].confirmed_hash(FRAMES).is_none() {
        assert!(
            Instant::now() < deadline,
            "seed {SEED}: seat 0 stalled after the false report"
        );
        step_all(&mut sessions, Script::Human);
        let frame = sessions[1].current_frame();
        let magic = nets[1].borrow().outgoing_magic(addrs[0]);
        if let (false, true, Some(magic)) = (lied, frame > 200, magic) {
            let status = |disconnected, last_frame| ConnectionStatus {
                disconnected,
                last_frame,
            };
            let lie = Mirror {
                magic,
                body: Body::Input(InputBody {
                    peer_connect_status: vec![
                        status(false, frame),
                        status(false, frame),
                        status(true, 0),
                    ],
                    disconnect_requested: false,
                    start_frame: frame + 2,
                    ack_frame: frame,
                    bytes: net::codec::encode_inputs(1, 4),
                }),
            };
            nets[1]
                .borrow_mut()
                .send_raw_ggrs(addrs[0], &lie.to_bytes());
            lied = true;
        }
        std::thread::sleep(Duration::from_micros(300));
    }
    assert!(lied, "the false report must have been sent");
}

/// Three well-formed messages that crash GGRS unless stopped first: a spectator sending the
/// host an input (GGRS asserts in release builds), a player's quality reply echoing time 0
/// (overflows GGRS's ping arithmetic in debug builds), and a host sending its spectator a
/// checksum report (a spectator's GGRS asserts in debug builds). Each peer plays on.
#[test]
fn role_and_clock_attacks_do_not_crash() {
    for attack in 0..3 {
        let options = SessionOptions::default();
        let digest = config_digest(sim::RULES_VERSION, &options);
        let psk = [3u8; 32];
        let nets: Vec<Net> = (0..2)
            .map(|_| SecureSocket::bind(loopback(), psk, digest).expect("bind"))
            .collect();
        let watcher = SecureSocket::bind(loopback(), psk, digest).expect("bind");
        let addrs: Vec<SocketAddr> = nets.iter().map(|n| n.borrow().local_addr()).collect();
        let watcher_addr = watcher.borrow().local_addr();
        nets[1].borrow_mut().expect(addrs[0]);
        nets[0].borrow_mut().connect(addrs[1]);
        nets[0].borrow_mut().set_accepting(true);
        watcher.borrow_mut().connect(addrs[0]);
        poll_until(&[&nets[0], &nets[1], &watcher], "handshakes", || {
            nets[0].borrow().is_up(addrs[1])
                && nets[1].borrow().is_up(addrs[0])
                && watcher.borrow().is_up(addrs[0])
        });
        nets[0].borrow_mut().set_accepting(false);
        let settings = Settings::standard(SEED, 2);
        let start = |me: usize, spectators: &[SocketAddr]| {
            Session::start(
                Game::new(settings),
                nets[me].clone(),
                Seat::table(&addrs, me),
                spectators,
                options,
            )
            .expect("start")
        };
        let mut host = start(0, &[watcher_addr]);
        let mut guest = start(1, &[]);
        let mut spectator = net::session::Spectator::start(
            Game::new(settings),
            watcher.clone(),
            addrs[0],
            2,
            options,
        )
        .expect("spectator");
        for frame in 0..400u32 {
            host.step(Script::Human.input(SEED, frame, 0))
                .expect("host steps");
            guest
                .step(Script::Human.input(SEED, frame, 1))
                .expect("guest steps");
            spectator.step().expect("spectator steps");
            if frame == 200 {
                let (from, to) = match attack {
                    0 => (&watcher, addrs[0]),
                    1 => (&nets[1], addrs[0]),
                    _ => (&nets[0], watcher_addr),
                };
                let magic = from
                    .borrow()
                    .outgoing_magic(to)
                    .expect("GGRS has sent a message");
                let body = match attack {
                    0 => Body::Input(InputBody {
                        peer_connect_status: vec![
                            ConnectionStatus {
                                disconnected: false,
                                last_frame: -1
                            };
                            2
                        ],
                        disconnect_requested: false,
                        start_frame: 0,
                        ack_frame: -1,
                        bytes: net::codec::encode_inputs(1, 4),
                    }),
                    1 => Body::QualityReply { pong: 0 },
                    _ => Body::ChecksumReport {
                        checksum: 1,
                        frame: 1,
                    },
                };
                from.borrow_mut()
                    .send_raw_ggrs(to, &Mirror { magic, body }.to_bytes());
            }
            std::thread::sleep(Duration::from_millis(1));
        }
        let invalid = |net: &Net, from: SocketAddr| {
            net.borrow()
                .traffic(from)
                .and_then(|t| t.dropped.get(&DropReason::Invalid).copied())
                .unwrap_or(0)
        };
        let dropped = match attack {
            0 => invalid(&nets[0], watcher_addr),
            1 => invalid(&nets[0], addrs[1]),
            _ => invalid(&watcher, addrs[0]),
        };
        assert!(
            dropped >= 1,
            "attack {attack}: the message must be dropped as invalid"
        );
        assert!(
            host.current_frame() > 300,
            "attack {attack}: the host plays on"
        );
    }
}

/// Inputs a spectator sends during the lobby, before the host knows it as a spectator, are
/// discarded when it becomes one: they never reach the host's GGRS.
#[test]
fn lobby_time_spectator_inputs_are_discarded() {
    use ggrs::NonBlockingSocket;
    let options = SessionOptions::default();
    let digest = config_digest(sim::RULES_VERSION, &options);
    let host = SecureSocket::bind(loopback(), [5u8; 32], digest).expect("bind");
    let watcher = SecureSocket::bind(loopback(), [5u8; 32], digest).expect("bind");
    let host_addr = host.borrow().local_addr();
    let watcher_addr = watcher.borrow().local_addr();
    host.borrow_mut().set_accepting(true);
    watcher.borrow_mut().connect(host_addr);
    poll_until(&[&host, &watcher], "handshake", || {
        watcher.borrow().is_up(host_addr)
    });
    let input = Mirror {
        magic: 1,
        body: Body::Input(InputBody {
            peer_connect_status: vec![],
            disconnect_requested: false,
            start_frame: 0,
            ack_frame: -1,
            bytes: net::codec::encode_inputs(1, 4),
        }),
    };
    watcher
        .borrow_mut()
        .send_raw_ggrs(host_addr, &input.to_bytes());
    std::thread::sleep(Duration::from_millis(20));
    host.borrow_mut().poll();
    host.borrow_mut().set_spectator(watcher_addr);
    let delivered = net::transport::GgrsSocket(host.clone()).receive_all_messages();
    assert!(
        delivered.iter().all(|(from, _)| *from != watcher_addr),
        "a spectator's lobby-time input reached GGRS"
    );
    let received = host
        .borrow()
        .traffic(watcher_addr)
        .map_or(0, |t| t.packets_received);
    assert!(
        received >= 2,
        "the input did arrive (and was then discarded)"
    );
}

/// A roster as the host writes it: ROSTER, our seat, start, seed, frames, input delay,
/// prediction, counts, then each address (kind 4, octets, port little-endian).
fn roster_bytes(
    seat: u8,
    frames: u32,
    players: &[SocketAddr],
    spectators: &[SocketAddr],
) -> Vec<u8> {
    let mut out = vec![2, seat, 1];
    out.extend_from_slice(&7u64.to_le_bytes());
    out.extend_from_slice(&frames.to_le_bytes());
    out.extend_from_slice(&[2, 8, players.len() as u8, spectators.len() as u8]);
    for addr in players.iter().chain(spectators) {
        let SocketAddr::V4(v4) = addr else {
            panic!("loopback v4 only")
        };
        out.push(4);
        out.extend_from_slice(&v4.ip().octets());
        out.extend_from_slice(&v4.port().to_le_bytes());
    }
    out
}

/// A host holding the secret answers a join with a roster that breaks the rules: a match of
/// 2^31 frames (which `as i32` made negative), our address twice, seat 0 not the host. The
/// joiner refuses each with an error that names the problem, instead of starting a match
/// it can never finish (or waiting for a roster it ignored).
#[test]
fn a_joiner_refuses_a_bad_roster() {
    use net::lobby::{LobbyError, Role, RosterError};
    let options = SessionOptions::default();
    let digest = config_digest(sim::RULES_VERSION, &options);
    let psk = [9u8; 32];
    type Roster = fn(SocketAddr, SocketAddr) -> Vec<u8>;
    let cases: [(&str, Roster); 3] = [
        ("frames 2^31", |host, me| {
            roster_bytes(1, 1 << 31, &[host, me], &[])
        }),
        ("duplicate", |host, me| {
            roster_bytes(1, 600, &[host, me, me], &[])
        }),
        ("host elsewhere", |host, me| {
            roster_bytes(1, 600, &[me, host], &[])
        }),
    ];
    for (name, roster) in cases {
        let joiner = SecureSocket::bind(loopback(), psk, digest).expect("bind joiner");
        let me = joiner.borrow().local_addr();
        let (tx, rx) = std::sync::mpsc::channel();
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let stopped = stop.clone();
        // The hostile host runs on a thread of its own: sockets are not shared.
        let host = std::thread::spawn(move || {
            let net = SecureSocket::bind(loopback(), psk, digest).expect("bind host");
            net.borrow_mut().set_accepting(true);
            let addr = net.borrow().local_addr();
            tx.send(addr).expect("tell the address");
            let deadline = Instant::now() + Duration::from_secs(10);
            while !stopped.load(std::sync::atomic::Ordering::Relaxed) && Instant::now() < deadline {
                net.borrow_mut().poll();
                loop {
                    let next = net.borrow_mut().next_control();
                    let Some((from, message)) = next else { break };
                    if message.first() == Some(&1) {
                        net.borrow_mut().send_control(from, &roster(addr, from));
                    }
                }
                std::thread::sleep(Duration::from_millis(2));
            }
        });
        let host_addr = rx.recv().expect("the host's address");
        let outcome = net::lobby::join(
            &joiner,
            Some(host_addr),
            Role::Player,
            &digest,
            Duration::from_secs(5),
            Duration::from_secs(8),
            &mut |_| {},
        );
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        host.join().expect("host thread");
        let expected = match name {
            "frames 2^31" => RosterError::Frames(1 << 31),
            "duplicate" => RosterError::Duplicate(me.to_string()),
            _ => RosterError::NotHost {
                seat0: me.to_string(),
                host: host_addr.to_string(),
            },
        };
        match outcome {
            Err(LobbyError::Roster(err)) => {
                assert_eq!(err, expected, "{name}");
                let text = LobbyError::Roster(err).to_string();
                assert!(text.starts_with("refused the host's roster: "), "{text}");
            }
            other => panic!("{name}: expected a refused roster, got {other:?}"),
        }
    }
}
