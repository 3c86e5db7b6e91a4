//! One entry point per decoder of outside bytes, each taking arbitrary bytes: what the
//! cargo-fuzz targets in `fuzz/targets` call, and what the seed corpora run through as plain
//! tests. Each must return normally for every input; a panic is a bug. Where a decoder has a
//! round-trip property, it is checked too (a failed check panics).

use net::codec::{self, Limits, Role};
use net::invite::{Invite, RoomCode};
use net::secure::{self, Initiator, DIGEST_LEN, PAYLOAD_MAX};
use sim::{Game, Input, Scenario, Settings, Snapshot};

/// A decoder's entry point: any bytes in, nothing out; a panic is a bug.
pub type Target = fn(&[u8]);

/// The targets, by name (the file names in `fuzz/targets/fuzz_targets` and the corpus
/// directories).
pub const TARGETS: [(&str, Target); 7] = [
    ("udp_envelope", udp_envelope),
    ("handshake", handshake),
    ("ggrs_message", ggrs_message),
    ("invite", invite),
    ("replay_reader", replay_reader),
    ("snapshot", snapshot),
    ("sim_inputs", sim_inputs),
];

const PSK: [u8; 32] = [7; 32];
const DIGEST: [u8; DIGEST_LEN] = [9; DIGEST_LEN];

fn channels() -> (secure::Channel, secure::Channel) {
    let (mut initiator, hello) = Initiator::start(&PSK, &DIGEST).expect("handshake start");
    let (responder, welcome) = secure::respond(&PSK, &DIGEST, &hello).expect("respond");
    let initiator = initiator.finish(&welcome).expect("finish");
    (initiator.channel, responder.channel)
}

/// A datagram from the network: its header, then opening it on an established channel (a
/// forgery must fail); and the bytes as a payload sealed and opened again.
pub fn udp_envelope(data: &[u8]) {
    if let Ok((_, _, body)) = secure::parse_header(data) {
        assert!(body.len() < data.len());
    }
    let (mut ours, mut theirs) = channels();
    let mut out = Vec::new();
    assert!(
        theirs.open(data, &mut out).is_err(),
        "a datagram not sealed by the peer opened"
    );
    if data.len() <= PAYLOAD_MAX {
        let mut sealed = Vec::new();
        ours.seal(data, &mut sealed).expect("seal");
        theirs
            .open(&sealed, &mut out)
            .expect("open what was sealed");
        assert_eq!(out, data);
        assert!(
            theirs.open(&sealed, &mut out).is_err(),
            "a replayed datagram opened"
        );
    }
}

/// A handshake message from the network: as a hello to a responder, and as a welcome to an
/// initiator. Neither may succeed without the key, and neither may panic.
pub fn handshake(data: &[u8]) {
    let _ = secure::respond(&PSK, &DIGEST, data);
    if let Ok((mut initiator, _)) = Initiator::start(&PSK, &DIGEST) {
        let _ = initiator.finish(data);
    }
}

/// A GGRS message from a peer, for each role and around any frame (the first four bytes),
/// and as a batch; a checked message re-encodes to one that checks again.
pub fn ggrs_message(data: &[u8]) {
    let frame = data
        .first_chunk::<4>()
        .map_or(0, |b| i32::from_le_bytes(*b));
    for role in [Role::Player, Role::HostOfSpectator, Role::SpectatorOfHost] {
        let limits = Limits {
            role,
            ..Limits::at(frame)
        };
        let _ = codec::decode(data, limits);
        let _ = codec::decode(data.get(4..).unwrap_or(&[]), limits);
        if let Ok(batch) = codec::decode_batch(data) {
            for mirror in batch {
                let _ = codec::check(mirror, limits);
            }
        }
    }
}

/// Typed or pasted text: an invite code and a room code. A valid invite encodes back to a
/// code that decodes to the same invite.
pub fn invite(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    if let Ok(invite) = Invite::decode(&text) {
        assert_eq!(Invite::decode(&invite.encode()).ok(), Some(invite));
    }
    let _ = Invite::parse_valid(&text);
    if let Ok(room) = RoomCode::parse(&text) {
        assert_eq!(RoomCode::parse(&room.to_string()).ok(), Some(room));
    }
}

/// A replay file: read, verified, and opened for playback (which plays it through).
pub fn replay_reader(data: &[u8]) {
    if let Ok(replay) = replay::read(data) {
        let _ = replay::verify(&replay);
        if let Ok(mut player) = replay::Player::new(replay) {
            let end = player.frames();
            player.seek(end / 2);
            player.seek(end);
        }
    }
}

/// A state's canonical encoding (desync bundles, replay keyframes): decoding is total, and a
/// decoded state encodes back to exactly the same bytes and equals itself field by field.
pub fn snapshot(data: &[u8]) {
    if let Ok(state) = Snapshot::decode(data) {
        let mut again = Vec::new();
        state.encode(&mut again);
        assert_eq!(again, data);
        assert!(state.diff(&state).is_empty());
        let _ = state.fields();
    }
}

/// Inputs from players: the first byte picks the players and scenario, every 4 bytes after
/// are one input. Any input is a legal action or a no-op; a state saved and loaded into
/// another game goes on exactly as the original.
pub fn sim_inputs(data: &[u8]) {
    let Some((&first, rest)) = data.split_first() else {
        return;
    };
    let players = u32::from(first % 4) + 1;
    let settings = if first & 0x80 != 0 {
        Settings::new(u64::from(first), players, Scenario::Swarm, Some(200))
    } else {
        Settings::new(u64::from(first), players, Scenario::Standard, None)
    };
    let Ok(settings) = settings else {
        return;
    };
    let mut game = Game::new(settings);
    let rows: Vec<Vec<Input>> = rest
        .chunks(4 * players as usize)
        .map(|row| {
            row.chunks(4)
                .map(|b| Input {
                    action: b[0],
                    arg: b.get(1).copied().unwrap_or(0),
                    x: b.get(2).copied().unwrap_or(0),
                    y: b.get(3).copied().unwrap_or(0),
                })
                .collect()
        })
        .collect();
    for (i, row) in rows.iter().enumerate() {
        if i % 8 == 7 {
            let mut copy = Game::new(settings);
            copy.load(&game.save());
            assert_eq!(
                copy.advance(row),
                game.advance(row),
                "a loaded state went another way"
            );
        } else {
            game.advance(row);
        }
    }
}

/// Valid examples for every target: where the seed corpora start.
pub fn seeds() -> Vec<(&'static str, Vec<u8>)> {
    let mut out = Vec::new();
    let (mut ours, _) = channels();
    let mut sealed = Vec::new();
    ours.seal(b"\x01hello", &mut sealed).expect("seal");
    out.push(("udp_envelope", sealed));
    out.push(("udp_envelope", b"\x01\x02".to_vec()));
    let (_, hello) = Initiator::start(&PSK, &DIGEST).expect("start");
    out.push(("handshake", hello.clone()));
    if let Ok((_, welcome)) = secure::respond(&PSK, &DIGEST, &hello) {
        out.push(("handshake", welcome));
    }
    let mirror = codec::Mirror {
        magic: 0x1234,
        body: codec::Body::ChecksumReport {
            checksum: 99,
            frame: 7,
        },
    };
    out.push(("ggrs_message", mirror.to_bytes()));
    let mut batch = Vec::new();
    codec::encode_batch(
        0x1234,
        &[
            codec::Body::KeepAlive,
            codec::Body::InputAck { ack_frame: 3 },
            codec::Body::ChecksumReport {
                checksum: 1,
                frame: 4,
            },
        ],
        &mut batch,
    );
    out.push(("ggrs_message", batch));
    let invite = Invite {
        host: "127.0.0.1:4000".parse().expect("addr"),
        secret: net::invite::Secret([3; 12]),
        expires_min: 0,
    };
    out.push(("invite", invite.encode().into_bytes()));
    out.push(("invite", b"ABCD-EFGH".to_vec()));
    let settings = Settings::standard(5, 2);
    let mut game = Game::new(settings);
    let header = replay::Header::offline(&settings, 120, 60);
    let mut recorder = replay::Recorder::new(Vec::new(), header).expect("recorder");
    let mut inputs = vec![Input::IDLE; 2];
    for frame in 0..120 {
        sim::Script::Random.inputs(5, frame, &mut inputs);
        game.advance(&inputs);
        recorder.record(&inputs, None).expect("record");
    }
    out.push(("replay_reader", recorder.finish().expect("finish")));
    let mut state = Vec::new();
    game.save().encode(&mut state);
    out.push(("snapshot", state));
    let mut moves = vec![1u8];
    for frame in 0..64u32 {
        for seat in 0..2u8 {
            let input = sim::Script::Random.input(9, frame, seat);
            moves.extend_from_slice(&[input.action, input.arg, input.x, input.y]);
        }
    }
    out.push(("sim_inputs", moves));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every target runs its seeds, and every single-bit flip of them, without a panic.
    #[test]
    fn seeds_and_their_bit_flips_run_clean() {
        for (name, seed) in seeds() {
            let target = TARGETS.iter().find(|t| t.0 == name).expect("a target").1;
            target(&seed);
            for bit in (0..seed.len() * 8).step_by(7) {
                let mut flipped = seed.clone();
                flipped[bit / 8] ^= 1 << (bit % 8);
                target(&flipped);
            }
            for cut in (0..seed.len()).step_by(5) {
                target(&seed[..cut]);
            }
        }
    }
}
