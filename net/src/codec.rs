//! GGRS messages on the wire, and their validation. The only module that uses bincode.
//!
//! GGRS trusts its peers: some well-formed messages crash it. An `Input` message whose inputs
//! run far ahead of ours overflows its 128-frame input queue (`assertion failed: self.length
//! <= INPUT_QUEUE_LENGTH`), and the run-length encoding inside an input message panics on a
//! truncated varint or allocates whatever length it claims. So every message is decoded here
//! into a mirror of GGRS's own types, checked against [`Limits`], repaired where that is safe
//! (inputs beyond our horizon are cut off; GGRS resends them later) and only then handed to
//! GGRS. Nothing a peer sends reaches GGRS unchecked.

use bincode::config::{Configuration, Limit, LittleEndian, Varint};
use serde::{Deserialize, Serialize};

use crate::secure::{DropReason, PAYLOAD_MAX};

type Config = Configuration<LittleEndian, Varint, Limit<PAYLOAD_MAX>>;

/// Variable-length integers: frames, lengths and variant tags take a byte or two instead of
/// four or eight, which roughly halves GGRS's messages on the wire.
const CONFIG: Config = bincode::config::standard().with_limit::<PAYLOAD_MAX>();

/// How far past our current frame a peer's inputs, acks and reports may reach. Honest peers
/// stay within input delay + prediction (about a dozen frames) of us.
pub const FRAMES_AHEAD_MAX: i32 = 64;
/// Frames of input one message may carry after repair.
pub const INPUT_FRAMES_MAX: usize = FRAMES_AHEAD_MAX as usize;
/// Bytes of one frame's input for all of one peer's players.
pub const INPUT_BYTES_MAX: usize = 64;
/// Largest frame advantage a quality report may claim.
pub const FRAME_ADVANTAGE_MAX: i16 = 128;
/// Players in any session.
pub const PLAYERS_MAX: usize = 16;

/// The longest encoded epoch message ([`crate::epoch::Message`]): its fragments together.
pub const EPOCH_MESSAGE_MAX: usize =
    crate::epoch::FRAGMENTS_MAX as usize * crate::epoch::FRAGMENT_LEN;

/// An epoch message's bytes (None if it is over [`EPOCH_MESSAGE_MAX`]).
pub fn encode_epoch<I: Serialize>(message: &crate::epoch::Message<I>) -> Option<Vec<u8>> {
    let config = bincode::config::standard().with_limit::<EPOCH_MESSAGE_MAX>();
    bincode::serde::encode_to_vec(message, config)
        .ok()
        .filter(|bytes| bytes.len() <= EPOCH_MESSAGE_MAX)
}

/// Decodes an epoch message, within [`EPOCH_MESSAGE_MAX`] (every collection it holds is
/// bounded by that); its values are checked where they are used ([`crate::epoch`]).
///
/// # Errors
/// [`DropReason::TooLong`] or [`DropReason::Malformed`].
pub fn decode_epoch<I: serde::de::DeserializeOwned>(
    bytes: &[u8],
) -> Result<crate::epoch::Message<I>, DropReason> {
    if bytes.len() > EPOCH_MESSAGE_MAX {
        return Err(DropReason::TooLong);
    }
    let config = bincode::config::standard().with_limit::<EPOCH_MESSAGE_MAX>();
    match bincode::serde::decode_from_slice(bytes, config) {
        Ok((message, used)) if used == bytes.len() => Ok(message),
        _ => Err(DropReason::Malformed),
    }
}

// The mirror of GGRS 0.13's `network::messages`: same fields, same order, so the same bytes.
// Public so tests and fuzzers can craft any message a hostile peer could send.

/// A peer's view of one player's connection (GGRS `ConnectionStatus`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[allow(missing_docs)]
pub struct ConnectionStatus {
    pub disconnected: bool,
    pub last_frame: i32,
}

/// GGRS's input message.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[allow(missing_docs)]
pub struct InputBody {
    pub peer_connect_status: Vec<ConnectionStatus>,
    pub disconnect_requested: bool,
    pub start_frame: i32,
    pub ack_frame: i32,
    /// Run-length encoded, length-prefixed, delta-coded inputs.
    pub bytes: Vec<u8>,
}

/// GGRS's message bodies.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[allow(missing_docs)]
pub enum Body {
    SyncRequest { random_request: u32 },
    SyncReply { random_reply: u32 },
    Input(InputBody),
    InputAck { ack_frame: i32 },
    QualityReport { frame_advantage: i16, ping: u128 },
    QualityReply { pong: u128 },
    ChecksumReport { checksum: u128, frame: i32 },
    KeepAlive,
}

/// A whole GGRS message as it travels.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Mirror {
    /// GGRS's per-session magic.
    pub magic: u16,
    /// The body.
    pub body: Body,
}

impl Mirror {
    /// The message's bytes, exactly as GGRS's own message would encode.
    pub fn to_bytes(&self) -> Vec<u8> {
        bincode::serde::encode_to_vec(self, CONFIG).unwrap_or_default()
    }
}

/// Inputs of `frames` frames of `size` bytes each, encoded as GGRS encodes them.
pub fn encode_inputs(frames: usize, size: usize) -> Vec<u8> {
    let mut delta = Vec::new();
    for f in 0..frames {
        delta.extend_from_slice(&(size as u16).to_le_bytes());
        delta.extend((0..size).map(|i| (f + i) as u8));
    }
    bitfield_rle::encode(&delta)
}

/// Who the sender is to us, which decides what it may send.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// A player in our session.
    Player,
    /// A spectator of ours: it may acknowledge inputs, never send any (GGRS asserts
    /// `player < num_players` on a spectator's input, in release builds too).
    HostOfSpectator,
    /// We spectate and it hosts: it sends inputs for a buffer of 60 frames, and never
    /// checksum reports (a spectator's GGRS asserts desync detection is on when one comes).
    SpectatorOfHost,
}

/// What the receiver knows when it checks a message.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// Our current frame (GGRS's `current_frame`).
    pub frame: i32,
    /// Our wall clock in milliseconds since the Unix epoch: quality replies echo a time we
    /// sent, and GGRS's arithmetic on an absurd one overflows.
    pub now_ms: u128,
    /// The sender's role.
    pub role: Role,
}

impl Limits {
    /// Limits at `frame` for a player, at a fixed clock (tests).
    pub fn at(frame: i32) -> Limits {
        Limits {
            frame,
            now_ms: 1_700_000_000_000,
            role: Role::Player,
        }
    }
}

/// A quality reply's echoed time must lie within this window before now (or a second after,
/// for clock steps).
pub const PONG_AGE_MAX_MS: u128 = 10_000;
/// Checksum reports older than our frame by more than this are dropped: GGRS keeps every
/// report it cannot match, so very old ones would pile up.
pub const CHECKSUM_AGE_MAX: i32 = 128;
/// GGRS spectators keep inputs in a ring of 60 frames: a host's inputs may reach this far
/// past the spectator's frame.
pub const SPECTATOR_FRAMES_AHEAD_MAX: i32 = 50;
/// Messages one batch may carry.
pub const BATCH_MESSAGES_MAX: usize = 64;

/// A checksum a peer reported for one of its confirmed frames.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ChecksumSeen {
    /// The frame.
    pub frame: i32,
    /// GGRS's u128 checksum (the first 16 bytes of the state hash).
    pub checksum: u128,
}

/// A checked message, ready for GGRS.
#[derive(Debug)]
pub struct Checked {
    /// The message.
    pub message: ggrs::Message,
    /// Set when the message is a checksum report: consensus reads it on the way through.
    pub checksum: Option<ChecksumSeen>,
    /// Whether inputs past the horizon were cut off.
    pub repaired: bool,
}

/// Decodes, checks and if needed repairs a GGRS message from a peer.
///
/// # Errors
/// [`DropReason::Malformed`] when the bytes are not a message; [`DropReason::Invalid`] when
/// the message could harm or mislead GGRS and cannot be repaired.
pub fn decode(bytes: &[u8], limits: Limits) -> Result<Checked, DropReason> {
    let (mirror, used): (Mirror, usize) =
        bincode::serde::decode_from_slice(bytes, CONFIG).map_err(|_| DropReason::Malformed)?;
    if used != bytes.len() {
        return Err(DropReason::Malformed);
    }
    check(mirror, limits)
}

/// Checks and if needed repairs a decoded message, and converts it for GGRS.
///
/// # Errors
/// [`DropReason::Invalid`] when the message could harm or mislead GGRS.
pub fn check(mut mirror: Mirror, limits: Limits) -> Result<Checked, DropReason> {
    let ahead = match limits.role {
        Role::SpectatorOfHost => SPECTATOR_FRAMES_AHEAD_MAX,
        Role::Player | Role::HostOfSpectator => FRAMES_AHEAD_MAX,
    };
    let horizon = limits.frame.saturating_add(ahead);
    let mut checksum = None;
    let mut repaired = false;
    match &mut mirror.body {
        Body::Input(_) if limits.role == Role::HostOfSpectator => {
            return Err(DropReason::Invalid);
        }
        Body::ChecksumReport { .. } if limits.role == Role::SpectatorOfHost => {
            return Err(DropReason::Invalid);
        }
        Body::Input(input) => {
            repaired = check_input(input, horizon)?;
            repaired |= strip_disconnects(input);
        }
        Body::InputAck { ack_frame } => check_frame(*ack_frame, -1, horizon)?,
        Body::QualityReport {
            frame_advantage, ..
        } => {
            if frame_advantage.unsigned_abs() > FRAME_ADVANTAGE_MAX.unsigned_abs() {
                return Err(DropReason::Invalid);
            }
        }
        Body::ChecksumReport {
            checksum: sum,
            frame,
        } => {
            let oldest = limits.frame.saturating_sub(CHECKSUM_AGE_MAX).max(0);
            check_frame(*frame, oldest, horizon)?;
            checksum = Some(ChecksumSeen {
                frame: *frame,
                checksum: *sum,
            });
        }
        Body::QualityReply { pong } => {
            let oldest = limits.now_ms.saturating_sub(PONG_AGE_MAX_MS);
            if !(oldest..=limits.now_ms.saturating_add(1000)).contains(pong) {
                return Err(DropReason::Invalid);
            }
        }
        Body::SyncRequest { .. } | Body::SyncReply { .. } => {}
        Body::KeepAlive => {}
    }
    let bytes = bincode::serde::encode_to_vec(&mirror, CONFIG).map_err(|_| DropReason::Invalid)?;
    Ok(Checked {
        message: to_ggrs(&bytes)?,
        checksum,
        repaired,
    })
}

/// Our mirror of a message GGRS wants to send.
///
/// # Errors
/// [`DropReason::TooLong`] if it does not fit a datagram.
pub fn mirror_of(message: &ggrs::Message) -> Result<Mirror, DropReason> {
    // Our own GGRS's messages are trusted but may be long: GGRS repeats every input its peer
    // has not acknowledged, hundreds of frames for a spectator that lags. Decode without the
    // datagram limit, then cut inputs down to what fits.
    let unlimited = bincode::config::standard();
    let bytes =
        bincode::serde::encode_to_vec(message, unlimited).map_err(|_| DropReason::TooLong)?;
    let (mut mirror, _): (Mirror, usize) =
        bincode::serde::decode_from_slice(&bytes, unlimited).map_err(|_| DropReason::TooLong)?;
    if let Body::Input(input) = &mut mirror.body {
        fit_outgoing_input(input);
    }
    Ok(mirror)
}

/// Decoded input bytes one outgoing message carries at most: leaves room in the datagram for
/// checksums and the rest. GGRS sends the frames cut off again once these are acknowledged.
const OUTGOING_INPUT_BYTES_MAX: usize = 512;

fn fit_outgoing_input(input: &mut InputBody) {
    let Ok(decoded) = rle_decode(&input.bytes, usize::MAX >> 1) else {
        return;
    };
    if decoded.len() <= OUTGOING_INPUT_BYTES_MAX {
        return;
    }
    let Ok(records) = delta_records(&decoded) else {
        return;
    };
    let keep = records
        .iter()
        .rposition(|&end| end <= OUTGOING_INPUT_BYTES_MAX)
        .unwrap_or(1)
        .max(1);
    input.bytes = bitfield_rle::encode(&decoded[..records[keep]]);
}

/// Tag of a run of checksum reports in a batch (bincode's own body tags are 0..=7).
const RUN: u8 = 0x80;
/// Checksum reports one run holds at most.
const RUN_MAX: usize = 32;

/// Encodes messages for one peer as a compact batch: the shared magic once, then each body,
/// with consecutive checksum reports packed as one run of raw 16-byte checksums.
pub fn encode_batch(magic: u16, bodies: &[Body], out: &mut Vec<u8>) {
    out.clear();
    out.extend_from_slice(&magic.to_le_bytes());
    let mut i = 0;
    while i < bodies.len() {
        if let Body::ChecksumReport { frame, .. } = bodies[i] {
            let mut run = vec![];
            while let Some(Body::ChecksumReport { checksum, frame: f }) = bodies.get(i) {
                if *f != frame + run.len() as i32 || run.len() == RUN_MAX {
                    break;
                }
                run.push(*checksum);
                i += 1;
            }
            out.push(RUN);
            out.extend_from_slice(&frame.to_le_bytes());
            out.push(run.len() as u8);
            for checksum in run {
                out.extend_from_slice(&checksum.to_le_bytes());
            }
        } else {
            if let Ok(bytes) = bincode::serde::encode_to_vec(&bodies[i], CONFIG) {
                out.extend_from_slice(&bytes);
            }
            i += 1;
        }
    }
}

/// Decodes a compact batch into messages (not yet checked: see [`check`]).
///
/// # Errors
/// [`DropReason::Malformed`] for anything that is not a batch; nothing of it is delivered.
pub fn decode_batch(bytes: &[u8]) -> Result<Vec<Mirror>, DropReason> {
    let (magic, mut rest) = bytes
        .split_first_chunk::<2>()
        .ok_or(DropReason::Malformed)?;
    let magic = u16::from_le_bytes(*magic);
    let mut messages = Vec::new();
    while let Some(&tag) = rest.first() {
        if tag == RUN {
            let (head, tail) = rest[1..]
                .split_first_chunk::<5>()
                .ok_or(DropReason::Malformed)?;
            let first = i32::from_le_bytes([head[0], head[1], head[2], head[3]]);
            let count = usize::from(head[4]);
            if count == 0 || count > RUN_MAX {
                return Err(DropReason::Malformed);
            }
            let (sums, tail) = tail
                .split_at_checked(16 * count)
                .ok_or(DropReason::Malformed)?;
            for (k, sum) in sums.chunks_exact(16).enumerate() {
                let mut bytes = [0u8; 16];
                bytes.copy_from_slice(sum);
                messages.push(Mirror {
                    magic,
                    body: Body::ChecksumReport {
                        checksum: u128::from_le_bytes(bytes),
                        frame: first.checked_add(k as i32).ok_or(DropReason::Malformed)?,
                    },
                });
            }
            rest = tail;
        } else {
            let (body, used): (Body, usize) = bincode::serde::decode_from_slice(rest, CONFIG)
                .map_err(|_| DropReason::Malformed)?;
            messages.push(Mirror { magic, body });
            rest = &rest[used..];
        }
        if messages.len() > BATCH_MESSAGES_MAX {
            return Err(DropReason::Malformed);
        }
    }
    Ok(messages)
}

fn to_ggrs(bytes: &[u8]) -> Result<ggrs::Message, DropReason> {
    bincode::serde::decode_from_slice(bytes, CONFIG)
        .map(|(message, _)| message)
        .map_err(|_| DropReason::Malformed)
}

fn check_frame(frame: i32, min: i32, horizon: i32) -> Result<(), DropReason> {
    if (min..=horizon).contains(&frame) {
        Ok(())
    } else {
        Err(DropReason::Invalid)
    }
}

/// A peer's report that a player disconnected at frame `f` makes GGRS disconnect that player
/// here too and replay from `f + 1`. When we still had that player's inputs past `f`, GGRS
/// panics: `cannot load frame outside of prediction window`, or, after its confirmed frame
/// jumped past `f` in the same step, `requested_frame >= self.inputs[self.tail].frame`. A
/// lagging, partitioned or hostile peer can send such reports. So reports of disconnects are
/// removed: every peer decides a player is gone from its own silence timeout. Peers may then
/// disconnect a player at different frames; consensus names that divergence, nothing crashes.
/// Returns whether it removed any.
fn strip_disconnects(input: &mut InputBody) -> bool {
    let mut stripped = false;
    for status in &mut input.peer_connect_status {
        stripped |= std::mem::replace(&mut status.disconnected, false);
    }
    stripped
}

/// Checks an input message; cuts off frames past `horizon`. Returns whether it cut.
fn check_input(input: &mut InputBody, horizon: i32) -> Result<bool, DropReason> {
    if input.peer_connect_status.len() > PLAYERS_MAX {
        return Err(DropReason::Invalid);
    }
    for status in &mut input.peer_connect_status {
        // A lagging receiver sees senders' frames far ahead: clamp them rather than refuse
        // the message, or a spectator that fell behind could never catch up.
        if status.last_frame < -1 {
            return Err(DropReason::Invalid);
        }
        status.last_frame = status.last_frame.min(horizon);
    }
    check_frame(input.start_frame, 0, horizon)?;
    check_frame(input.ack_frame, -1, horizon)?;
    let decoded = rle_decode(&input.bytes, INPUT_BYTES_MAX_TOTAL)?;
    let records = delta_records(&decoded)?;
    let frames = records.len() - 1;
    let room = (horizon - input.start_frame + 1) as usize;
    let keep = frames.min(room).min(INPUT_FRAMES_MAX);
    if keep == frames {
        return Ok(false);
    }
    if keep == 0 {
        return Err(DropReason::Invalid);
    }
    let cut = records[keep];
    input.bytes = bitfield_rle::encode(&decoded[..cut]);
    Ok(true)
}

/// Largest decoded input buffer accepted: every frame a message may carry, at most.
const INPUT_BYTES_MAX_TOTAL: usize = 2 * 128 * (2 + INPUT_BYTES_MAX);

/// Offsets where each length-prefixed delta record starts, then the end offset: GGRS's layout of the
/// decoded input bytes is `[len u16 LE][len bytes]` per frame.
fn delta_records(decoded: &[u8]) -> Result<Vec<usize>, DropReason> {
    let mut starts = Vec::new();
    let mut pos = 0;
    while pos < decoded.len() {
        starts.push(pos);
        let Some(len) = decoded.get(pos..pos + 2) else {
            return Err(DropReason::Invalid);
        };
        let len = usize::from(u16::from_le_bytes([len[0], len[1]]));
        if len > INPUT_BYTES_MAX || pos + 2 + len > decoded.len() {
            return Err(DropReason::Invalid);
        }
        pos += 2 + len;
    }
    starts.push(pos);
    Ok(starts)
}

/// Decodes `bitfield-rle` (the run-length encoding GGRS uses) with bounds: no truncated or
/// over-long varints, no output beyond `max` bytes. The library's own decoder panics or
/// allocates without limit on such input.
fn rle_decode(buf: &[u8], max: usize) -> Result<Vec<u8>, DropReason> {
    let mut out = Vec::new();
    let mut pos = 0;
    while pos < buf.len() {
        let mut header = 0u64;
        let mut shift = 0;
        loop {
            let byte = *buf.get(pos).ok_or(DropReason::Invalid)?;
            pos += 1;
            if shift > 56 {
                return Err(DropReason::Invalid);
            }
            header |= u64::from(byte & 0x7f) << shift;
            shift += 7;
            if byte & 0x80 == 0 {
                break;
            }
        }
        let repeat = header & 1 == 1;
        let len = if repeat { header >> 2 } else { header >> 1 };
        let len = usize::try_from(len).map_err(|_| DropReason::Invalid)?;
        if len > max - out.len() {
            return Err(DropReason::Invalid);
        }
        if repeat {
            let fill = if header & 2 != 0 { 255 } else { 0 };
            out.resize(out.len() + len, fill);
        } else {
            let run = buf.get(pos..pos + len).ok_or(DropReason::Invalid)?;
            out.extend_from_slice(run);
            pos += len;
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A GGRS message's bytes, as a single (unbatched) message travels.
    fn encode(message: &ggrs::Message, out: &mut Vec<u8>) -> Result<(), DropReason> {
        *out = bincode::serde::encode_to_vec(message, CONFIG).map_err(|_| DropReason::TooLong)?;
        Ok(())
    }

    fn wire(body: Body) -> Vec<u8> {
        Mirror { magic: 7, body }.to_bytes()
    }

    fn input_bytes(frames: usize, size: usize) -> Vec<u8> {
        encode_inputs(frames, size)
    }

    fn input(start_frame: i32, frames: usize) -> Body {
        Body::Input(InputBody {
            peer_connect_status: vec![
                ConnectionStatus {
                    disconnected: false,
                    last_frame: start_frame - 1
                };
                2
            ],
            disconnect_requested: false,
            start_frame,
            ack_frame: -1,
            bytes: input_bytes(frames, 4),
        })
    }

    /// Our mirror and GGRS agree on the bytes: a mirror message decodes as a GGRS message and
    /// encodes back to the same bytes.
    #[test]
    fn mirror_matches_ggrs() {
        for body in [
            Body::SyncRequest { random_request: 5 },
            Body::SyncReply { random_reply: 6 },
            input(10, 3),
            Body::InputAck { ack_frame: 4 },
            Body::QualityReport {
                frame_advantage: -3,
                ping: 99,
            },
            Body::QualityReply {
                pong: 1_700_000_000_000 - 5,
            },
            Body::ChecksumReport {
                checksum: 0xABCD,
                frame: 12,
            },
            Body::KeepAlive,
        ] {
            let bytes = wire(body.clone());
            let checked = decode(&bytes, Limits::at(20)).expect("valid");
            assert!(!checked.repaired);
            let mut again = Vec::new();
            encode(&checked.message, &mut again).expect("encode");
            assert_eq!(again, bytes, "{body:?}");
        }
    }

    /// An input message running past the horizon is cut to it, never passed whole; one that
    /// starts past it is refused.
    #[test]
    fn inputs_past_the_horizon_are_cut() {
        let checked = decode(&wire(input(0, 150)), Limits::at(0)).expect("repairable");
        assert!(checked.repaired);
        let mut again = Vec::new();
        encode(&checked.message, &mut again).expect("encode");
        let (mirror, _): (Mirror, usize) =
            bincode::serde::decode_from_slice(&again, CONFIG).expect("decode");
        let Body::Input(body) = mirror.body else {
            panic!("still an input")
        };
        let frames = delta_records(&rle_decode(&body.bytes, usize::MAX).expect("rle"))
            .expect("records")
            .len()
            - 1;
        assert_eq!(frames, INPUT_FRAMES_MAX);
        let near = decode(&wire(input(60, 30)), Limits::at(0)).expect("repairable");
        assert!(near.repaired, "frames 60..90 reach past the horizon 64");
        assert_eq!(
            decode(&wire(input(100, 1)), Limits::at(0))
                .map(|_| ())
                .unwrap_err(),
            DropReason::Invalid
        );
    }

    /// Run-length bytes that would panic or balloon inside GGRS are refused.
    #[test]
    fn hostile_run_lengths_are_refused() {
        let mut hostile: Vec<Vec<u8>> = vec![
            vec![0x80],                                                 // truncated varint
            vec![0xff; 12],                                             // over-long varint
            vec![0xfd, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f], // a run of 2^60
            vec![0x14, 1, 2],                                           // literal past the end
        ];
        hostile.push(bitfield_rle::encode([9u8, 0, 1])); // record length 9 with 1 byte
        for bytes in hostile {
            let body = Body::Input(InputBody {
                peer_connect_status: vec![],
                disconnect_requested: false,
                start_frame: 0,
                ack_frame: -1,
                bytes: bytes.clone(),
            });
            assert_eq!(
                decode(&wire(body), Limits::at(0)).map(|_| ()),
                Err(DropReason::Invalid),
                "{bytes:?}"
            );
        }
    }

    /// Frames, statuses and advantages out of range are refused; garbage is malformed.
    /// Batches round-trip, with checksum runs, and garbage batches are refused whole.
    #[test]
    fn batches_round_trip() {
        let bodies = vec![
            input(10, 3),
            Body::ChecksumReport {
                checksum: 1,
                frame: 4,
            },
            Body::ChecksumReport {
                checksum: 2,
                frame: 5,
            },
            Body::ChecksumReport {
                checksum: u128::MAX,
                frame: 6,
            },
            Body::InputAck { ack_frame: 9 },
            Body::ChecksumReport {
                checksum: 3,
                frame: 9,
            },
            Body::KeepAlive,
        ];
        let mut out = Vec::new();
        encode_batch(77, &bodies, &mut out);
        let back = decode_batch(&out).expect("decodes");
        assert_eq!(
            back.iter().map(|m| m.body.clone()).collect::<Vec<_>>(),
            bodies
        );
        assert!(back.iter().all(|m| m.magic == 77));
        for cut in 3..out.len() {
            assert!(decode_batch(&out[..cut])
                .map(|m| m.len() < bodies.len())
                .unwrap_or(true));
        }
        assert_eq!(decode_batch(&[1]).map(|_| ()), Err(DropReason::Malformed));
        assert_eq!(
            decode_batch(&[1, 2, RUN, 0, 0, 0, 0, 0]).map(|_| ()),
            Err(DropReason::Malformed)
        );
        let mut rng = oorandom::Rand32::new(11);
        for _ in 0..20_000 {
            let len = rng.rand_range(0..200) as usize;
            let junk: Vec<u8> = (0..len).map(|_| rng.rand_u32() as u8).collect();
            if let Ok(messages) = decode_batch(&junk) {
                for m in messages {
                    let _ = check(m, Limits::at(100));
                }
            }
        }
    }

    /// Peers' reports of disconnects are removed before GGRS sees them.
    #[test]
    fn disconnect_reports_are_stripped() {
        let mut body = input(100, 1);
        if let Body::Input(input) = &mut body {
            input.peer_connect_status[1] = ConnectionStatus {
                disconnected: true,
                last_frame: 3,
            };
        }
        let checked = decode(&wire(body), Limits::at(100)).expect("repairable");
        assert!(checked.repaired);
        let mut again = Vec::new();
        encode(&checked.message, &mut again).expect("encode");
        let (mirror, _): (Mirror, usize) =
            bincode::serde::decode_from_slice(&again, CONFIG).expect("decode");
        let Body::Input(input) = mirror.body else {
            panic!("still an input")
        };
        assert!(input.peer_connect_status.iter().all(|s| !s.disconnected));
    }

    /// Our own long input messages (a lagging spectator's backlog) are cut to fit a datagram.
    #[test]
    fn long_outgoing_inputs_are_cut_to_fit() {
        let mut body = InputBody {
            peer_connect_status: vec![],
            disconnect_requested: false,
            start_frame: 0,
            ack_frame: -1,
            bytes: encode_inputs(500, 16),
        };
        fit_outgoing_input(&mut body);
        let decoded = rle_decode(&body.bytes, usize::MAX >> 1).expect("rle");
        let frames = delta_records(&decoded).expect("records").len() - 1;
        assert!(
            decoded.len() <= OUTGOING_INPUT_BYTES_MAX,
            "{}",
            decoded.len()
        );
        assert_eq!(frames, OUTGOING_INPUT_BYTES_MAX / 18);
        let mut out = Vec::new();
        encode_batch(1, &[Body::Input(body)], &mut out);
        assert!(out.len() < PAYLOAD_MAX);
    }

    /// What a message may carry depends on who sends it, and echoed times must be recent.
    #[test]
    fn roles_and_clock() {
        let from_spectator = Limits {
            role: Role::HostOfSpectator,
            ..Limits::at(50)
        };
        assert_eq!(
            decode(&wire(input(50, 1)), from_spectator).map(|_| ()),
            Err(DropReason::Invalid),
            "a spectator never sends inputs"
        );
        assert!(decode(&wire(Body::InputAck { ack_frame: 40 }), from_spectator).is_ok());
        let from_host = Limits {
            role: Role::SpectatorOfHost,
            ..Limits::at(50)
        };
        let report = Body::ChecksumReport {
            checksum: 1,
            frame: 45,
        };
        assert_eq!(
            decode(&wire(report.clone()), from_host).map(|_| ()),
            Err(DropReason::Invalid)
        );
        assert!(decode(&wire(report), Limits::at(50)).is_ok());
        assert_eq!(
            decode(&wire(input(50, 60)), from_host).map(|c| c.repaired),
            Ok(true),
            "a spectator's inputs stop 50 frames ahead"
        );
        let now = Limits::at(0).now_ms;
        for (pong, ok) in [
            (now - 100, true),
            (0, false),
            (now + 60_000, false),
            (u128::MAX, false),
        ] {
            assert_eq!(
                decode(&wire(Body::QualityReply { pong }), Limits::at(0)).is_ok(),
                ok,
                "pong {pong}"
            );
        }
        let old = Body::ChecksumReport {
            checksum: 1,
            frame: 10,
        };
        assert_eq!(
            decode(&wire(old), Limits::at(500)).map(|_| ()),
            Err(DropReason::Invalid)
        );
    }

    #[test]
    fn out_of_range_fields_and_garbage() {
        let limits = Limits::at(10);
        for body in [
            Body::InputAck { ack_frame: 1000 },
            Body::InputAck { ack_frame: -5 },
            Body::ChecksumReport {
                checksum: 1,
                frame: -1,
            },
            Body::ChecksumReport {
                checksum: 1,
                frame: i32::MAX,
            },
            Body::QualityReport {
                frame_advantage: i16::MIN,
                ping: 0,
            },
            input(-7, 1),
        ] {
            assert_eq!(
                decode(&wire(body.clone()), limits).map(|_| ()),
                Err(DropReason::Invalid),
                "{body:?}"
            );
        }
        assert_eq!(decode(&[], limits).map(|_| ()), Err(DropReason::Malformed));
        assert_eq!(
            decode(&[1, 2, 3], limits).map(|_| ()),
            Err(DropReason::Malformed)
        );
        let mut trailing = wire(Body::KeepAlive);
        trailing.push(0);
        assert_eq!(
            decode(&trailing, limits).map(|_| ()),
            Err(DropReason::Malformed)
        );
        let checked = decode(
            &wire(Body::ChecksumReport {
                checksum: 42,
                frame: 3,
            }),
            limits,
        )
        .expect("valid");
        assert_eq!(
            checked.checksum,
            Some(ChecksumSeen {
                frame: 3,
                checksum: 42
            })
        );
    }
}
