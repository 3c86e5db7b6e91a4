//! Transfers driven through a simulated wire in virtual time: loss, duplication, reordering,
//! hostile peers. Every random test takes a seed and prints it when it fails.

use super::*;

const A: u8 = 1; // the receiver
const B: u8 = 2; // the sender
const C: u8 = 3; // a third member

fn blob(seed: u64, len: usize) -> Arc<[u8]> {
    let mut rng = oorandom::Rand64::new(u128::from(seed));
    (0..len).map(|_| rng.rand_u64() as u8).collect()
}

fn hash_of(bytes: &[u8]) -> [u8; 32] {
    blake3::hash(bytes).into()
}

/// A wire between the two ends: each message (encoded and decoded again) is lost with
/// `loss`, sent twice with `dup`, and delayed by up to `jitter_ms`, so that it may overtake
/// others.
struct Wire {
    rng: oorandom::Rand64,
    loss: u64,
    dup: u64,
    jitter_ms: u64,
    /// (arrival in ms, order, to, from, bytes)
    flight: BTreeMap<(u64, u64), (u8, u8, Vec<u8>)>,
    order: u64,
}

impl Wire {
    fn new(seed: u64, loss_pct: u64, dup_pct: u64, jitter_ms: u64) -> Wire {
        Wire {
            rng: oorandom::Rand64::new(u128::from(seed)),
            loss: loss_pct,
            dup: dup_pct,
            jitter_ms,
            flight: BTreeMap::new(),
            order: 0,
        }
    }

    fn send(&mut self, now_ms: u64, from: u8, to: u8, message: &Message) {
        let bytes = message.encode();
        assert!(bytes.len() <= MESSAGE_MAX);
        let copies = if self.rng.rand_range(0..100) < self.dup {
            2
        } else {
            1
        };
        for _ in 0..copies {
            if self.rng.rand_range(0..100) < self.loss {
                continue;
            }
            let at = now_ms + 1 + self.rng.rand_range(0..self.jitter_ms + 1);
            self.order += 1;
            self.flight
                .insert((at, self.order), (to, from, bytes.clone()));
        }
    }

    fn arrivals(&mut self, now_ms: u64) -> Vec<(u8, u8, Message)> {
        let mut out = Vec::new();
        while let Some(entry) = self.flight.first_entry() {
            if entry.key().0 > now_ms {
                break;
            }
            let (to, from, bytes) = entry.remove();
            out.push((
                to,
                from,
                Message::decode(&bytes).expect("our own messages decode"),
            ));
        }
        out
    }
}

/// Runs one transfer of `state` from B to A until it ends or `limit_ms` passes; B holds
/// `served` (what it answers the request with). Returns the outcome and the time it took.
fn run(
    wire: &mut Wire,
    state: &Arc<[u8]>,
    served: Option<Arc<[u8]>>,
    rate: u64,
    limit_ms: u64,
) -> (Outcome<u8>, u64, Incoming<u8>, Outgoing<u8>) {
    let mut rx = Incoming::<u8>::new(4 << 20);
    let mut tx = Outgoing::<u8>::new(rate);
    let expected = hash_of(state);
    rx.fetch(B, 7, expected, Duration::ZERO);
    for now_ms in 0..limit_ms {
        let now = Duration::from_millis(now_ms);
        for (to, from, message) in wire.arrivals(now_ms) {
            if to == A {
                rx.handle(from, message, now);
            } else {
                tx.handle(from, message, now, |frame, hash| {
                    assert_eq!((frame, *hash), (7, expected));
                    served.clone()
                });
            }
        }
        for (to, message) in rx.poll(now) {
            wire.send(now_ms, A, to, &message);
        }
        for (to, message) in tx.poll(now) {
            wire.send(now_ms, B, to, &message);
        }
        if let Some(outcome) = rx.take_done().pop() {
            return (outcome, now_ms, rx, tx);
        }
    }
    panic!("the transfer did not end within {limit_ms} ms");
}

#[test]
fn a_state_arrives_whole_and_checked() {
    let state = blob(1, 2_415_472);
    let mut wire = Wire::new(1, 0, 0, 0);
    let (outcome, took, rx, tx) = run(&mut wire, &state, Some(state.clone()), DEFAULT_RATE, 10_000);
    assert_eq!(outcome.result.as_deref(), Ok(&state[..]));
    assert_eq!(outcome.frame, 7);
    // 2.4 MB at 16 MiB/s: about 130 ms of virtual time (the first window goes at once).
    println!("2,415,472 bytes in {took} ms of virtual time");
    assert!((100..400).contains(&took), "{took} ms");
    assert_eq!(
        rx.stats().chunks_received,
        u64::from(chunks_of(state.len() as u32))
    );
    assert_eq!(tx.stats().chunks_resent, 0);
    assert_eq!(rx.running(), 0);
}

#[test]
fn lossy_reordering_wires_still_deliver() {
    for seed in 0..40u64 {
        let len = 1 + (seed as usize * 7_919) % 300_000;
        let state = blob(seed, len);
        let mut wire = Wire::new(seed, 20, 10, 30);
        let (outcome, took, rx, tx) =
            run(&mut wire, &state, Some(state.clone()), DEFAULT_RATE, 60_000);
        assert_eq!(
            outcome.result.as_deref(),
            Ok(&state[..]),
            "seed {seed}: len {len}, {took} ms, {:?} {:?}",
            rx.stats(),
            tx.stats()
        );
        assert!(
            took < 8_000,
            "seed {seed}: {took} ms for {len} bytes: {:?}",
            tx.stats()
        );
    }
}

#[test]
fn the_byte_rate_holds() {
    let state = blob(2, 1 << 20);
    let mut wire = Wire::new(2, 0, 0, 0);
    let rate = 1 << 20; // 1 MiB/s
    let (outcome, took, _, _) = run(&mut wire, &state, Some(state.clone()), rate, 10_000);
    assert!(outcome.result.is_ok());
    // One window (256 KiB) at once, the other 768 KiB at 1 MiB/s: 750 ms.
    assert!((700..900).contains(&took), "{took} ms");
}

#[test]
fn a_state_with_another_hash_is_not_adopted() {
    let state = blob(3, 50_000);
    let other = blob(4, 50_000);
    let mut wire = Wire::new(3, 0, 0, 0);
    // The sender answers with other bytes (it lies about its hash).
    let (outcome, _, _, _) = run(&mut wire, &state, Some(other.clone()), DEFAULT_RATE, 10_000);
    assert_eq!(
        outcome.result,
        Err(TransferError::HashMismatch {
            got: hash_of(&other)
        })
    );
}

#[test]
fn a_sender_without_the_state_refuses() {
    let state = blob(5, 5_000);
    let mut wire = Wire::new(5, 0, 0, 0);
    let (outcome, took, _, tx) = run(&mut wire, &state, None, DEFAULT_RATE, 10_000);
    assert_eq!(outcome.result, Err(TransferError::Refused));
    assert!(took < 10, "{took} ms");
    assert_eq!(tx.stats().refused, 1);
}

#[test]
fn a_silent_sender_times_out() {
    let mut rx = Incoming::<u8>::new(1 << 20);
    rx.fetch(B, 1, [0; 32], Duration::ZERO);
    let mut requests = 0;
    let mut now_ms = 0;
    while rx.take_done().is_empty() {
        now_ms += 10;
        assert!(now_ms < 10_000, "never gave up");
        requests += rx
            .poll(Duration::from_millis(now_ms))
            .iter()
            .filter(|(_, m)| matches!(m, Message::Request { .. }))
            .count();
    }
    assert_eq!(u128::from(now_ms as u32), GIVE_UP_AFTER.as_millis());
    // Sent again every 250 ms until then.
    assert_eq!(requests, 20, "requests");
}

#[test]
fn chunks_nobody_asked_for_are_dropped_and_counted() {
    let mut rx = Incoming::<u8>::new(1 << 20);
    let state = blob(6, 3_000);
    let id = rx.fetch(B, 1, hash_of(&state), Duration::ZERO);
    let chunk = |id, index: u32| Message::Chunk {
        id,
        len: 3_000,
        index,
        bytes: state[index as usize * CHUNK_LEN..(3_000).min((index as usize + 1) * CHUNK_LEN)]
            .to_vec(),
    };
    let now = Duration::ZERO;
    // From another member than the one asked, and for a transfer never asked for.
    rx.handle(C, chunk(id, 0), now);
    rx.handle(B, chunk(TransferId(99), 0), now);
    assert_eq!(rx.stats().unrequested, 2);
    // The real sender, with a total length that changes midway.
    rx.handle(B, chunk(id, 0), now);
    rx.handle(
        B,
        Message::Chunk {
            id,
            len: 2_048,
            index: 1,
            bytes: vec![0; CHUNK_LEN],
        },
        now,
    );
    assert_eq!(rx.stats().inconsistent, 1);
    // The same chunk twice is kept once.
    rx.handle(B, chunk(id, 0), now);
    assert_eq!(rx.stats().duplicates, 1);
    rx.handle(B, chunk(id, 1), now);
    rx.handle(B, chunk(id, 2), now);
    let done = rx.take_done();
    assert_eq!(done.len(), 1);
    assert_eq!(done[0].result.as_deref(), Ok(&state[..]));
    // A refusal from a stranger ends nothing.
    let id = rx.fetch(B, 2, [1; 32], now);
    rx.handle(C, Message::Refuse { id }, now);
    assert!(rx.take_done().is_empty());
    assert_eq!(rx.running(), 1);
}

#[test]
fn a_state_over_the_limit_is_refused_before_any_buffer() {
    let mut rx = Incoming::<u8>::new(10_000);
    let id = rx.fetch(B, 1, [0; 32], Duration::ZERO);
    rx.handle(
        B,
        Message::Chunk {
            id,
            len: u32::MAX,
            index: 0,
            bytes: vec![0; CHUNK_LEN],
        },
        Duration::ZERO,
    );
    let done = rx.take_done();
    assert_eq!(
        done[0].result,
        Err(TransferError::TooLarge {
            len: u32::MAX,
            limit: 10_000
        })
    );
    // The sender hears to stop.
    assert!(rx
        .poll(Duration::ZERO)
        .contains(&(B, Message::Cancel { id })));
}

#[test]
fn fetches_and_transfers_served_are_bounded() {
    let mut rx = Incoming::<u8>::new(1 << 20);
    for _ in 0..FETCHES_MAX {
        rx.fetch(B, 1, [0; 32], Duration::ZERO);
    }
    rx.fetch(B, 1, [0; 32], Duration::ZERO);
    assert_eq!(rx.running(), FETCHES_MAX);
    assert_eq!(rx.take_done()[0].result, Err(TransferError::Busy));

    let state = blob(7, 100_000);
    let mut tx = Outgoing::<u8>::new(DEFAULT_RATE);
    // One peer gets SERVING_PER_PEER at most; all together SERVING_MAX.
    for i in 0..3 {
        let request = Message::Request {
            id: TransferId(i),
            frame: 1,
            hash: hash_of(&state),
        };
        tx.handle(A, request, Duration::ZERO, |_, _| Some(state.clone()));
    }
    assert_eq!(tx.serving(), SERVING_PER_PEER);
    assert_eq!(tx.stats().refused, 1);
    for peer in 10..16u8 {
        for i in 0..2 {
            let request = Message::Request {
                id: TransferId(i),
                frame: 1,
                hash: hash_of(&state),
            };
            tx.handle(peer, request, Duration::ZERO, |_, _| Some(state.clone()));
        }
    }
    assert_eq!(tx.serving(), SERVING_MAX);
    assert_eq!(tx.stats().refused, 1 + 12 + 2 - SERVING_MAX as u64);
    // A request sent again is not served twice.
    let again = Message::Request {
        id: TransferId(0),
        frame: 1,
        hash: hash_of(&state),
    };
    tx.handle(A, again, Duration::ZERO, |_, _| Some(state.clone()));
    assert_eq!(tx.serving(), SERVING_MAX);
    // Acknowledgements of chunks never sent, and from strangers, change nothing.
    let ack = Message::Ack {
        id: TransferId(0),
        below: 1_000_000,
        also: [u64::MAX; 4],
    };
    tx.handle(A, ack.clone(), Duration::ZERO, |_, _| None);
    tx.handle(C, ack, Duration::ZERO, |_, _| None);
    assert_eq!(tx.stats().inconsistent, 1);
    assert_eq!(tx.stats().unrequested, 1);
    // Transfers nobody acknowledges are dropped after GIVE_UP_AFTER.
    tx.poll(Duration::ZERO);
    tx.poll(GIVE_UP_AFTER);
    assert_eq!(tx.serving(), 0);
}

#[test]
fn decoding_checks_every_length_and_range() {
    let good = [
        Message::Request {
            id: TransferId(1),
            frame: 2,
            hash: [3; 32],
        },
        Message::Chunk {
            id: TransferId(1),
            len: 1_500,
            index: 1,
            bytes: vec![9; 476],
        },
        Message::Ack {
            id: TransferId(1),
            below: 4,
            also: [5, 0, 1, u64::MAX],
        },
        Message::Refuse { id: TransferId(1) },
        Message::Cancel { id: TransferId(1) },
    ];
    for message in &good {
        let bytes = message.encode();
        assert_eq!(Message::decode(&bytes).as_ref(), Ok(message));
        // Every shorter prefix and one byte more are refused.
        for cut in 0..bytes.len() {
            assert!(
                Message::decode(&bytes[..cut]).is_err(),
                "{message:?} cut at {cut}"
            );
        }
        let mut longer = bytes.clone();
        longer.push(0);
        assert!(Message::decode(&longer).is_err(), "{message:?} longer");
    }
    let chunk = |len: u32, index: u32, n: usize| {
        Message::Chunk {
            id: TransferId(0),
            len,
            index,
            bytes: vec![0; n],
        }
        .encode()
    };
    assert_eq!(
        Message::decode(&chunk(1_500, 2, 0)),
        Err(DecodeError::Range)
    );
    assert_eq!(
        Message::decode(&chunk(1_500, 0, 1_000)),
        Err(DecodeError::Range)
    );
    // An empty state is one empty chunk.
    assert!(Message::decode(&chunk(0, 0, 0)).is_ok());
    assert_eq!(Message::decode(&chunk(0, 1, 0)), Err(DecodeError::Range));
    assert_eq!(Message::decode(&[0]), Err(DecodeError::Tag));
    assert_eq!(Message::decode(&[]), Err(DecodeError::Tag));
    // Random bytes never panic; whatever decodes encodes back to the same bytes.
    let mut rng = oorandom::Rand64::new(11);
    for _ in 0..100_000 {
        let len = rng.rand_range(0..(MESSAGE_MAX as u64 + 8)) as usize;
        let mut bytes: Vec<u8> = (0..len).map(|_| rng.rand_u64() as u8).collect();
        if let Some(first) = bytes.first_mut() {
            *first = 1 + *first % 6;
        }
        if let Ok(message) = Message::decode(&bytes) {
            assert_eq!(message.encode(), bytes);
        }
    }
}

#[test]
fn an_empty_state_and_a_trickle_both_end() {
    let empty: Arc<[u8]> = Arc::from(Vec::new());
    let mut wire = Wire::new(12, 0, 0, 0);
    let (outcome, _, _, _) = run(&mut wire, &empty, Some(empty.clone()), DEFAULT_RATE, 1_000);
    assert_eq!(outcome.result.as_deref(), Ok(&[][..]));
    // A sender that drips one chunk every 4 s never lets the fetch time out for silence,
    // but the whole fetch ends after FETCH_MAX.
    let state = blob(13, 100 * CHUNK_LEN);
    let mut rx = Incoming::<u8>::new(1 << 20);
    let id = rx.fetch(B, 1, hash_of(&state), Duration::ZERO);
    let mut now_ms = 0u64;
    let mut index = 0u32;
    let outcome = loop {
        now_ms += 4_000;
        let now = Duration::from_millis(now_ms);
        rx.handle(
            B,
            Message::Chunk {
                id,
                len: state.len() as u32,
                index,
                bytes: state[index as usize * CHUNK_LEN..(index as usize + 1) * CHUNK_LEN].to_vec(),
            },
            now,
        );
        index += 1;
        rx.poll(now);
        if let Some(outcome) = rx.take_done().pop() {
            break outcome;
        }
        assert!(now_ms < 60_000, "the fetch never ended");
    };
    assert_eq!(outcome.result, Err(TransferError::TimedOut));
    assert!(Duration::from_millis(now_ms) >= FETCH_MAX);
}
