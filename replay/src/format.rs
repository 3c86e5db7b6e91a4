//! The byte layout (REPLAY_FORMAT.md): the file prefix, chunk framing, the header, the input
//! encoding and the hash chain. All integers little-endian and fixed-width.

use sim::{Input, Scenario, StateHash};

/// The first 8 bytes of every replay.
pub const MAGIC: &[u8; 8] = b"HLTDRPLY";
/// The format version this build writes and reads.
pub const FORMAT_VERSION: u16 = 1;
/// Bytes of the file prefix: magic, version, two reserved zero fields.
pub const PREFIX_LEN: usize = 16;
/// Bytes before a chunk's payload: kind, three zero bytes, payload length.
pub const CHUNK_HEAD: usize = 8;
/// Bytes after a chunk's payload: the first 16 bytes of its blake3.
pub const CHUNK_SUM: usize = 16;
/// A chunk's payload is at most this long (a 100,000-creep keyframe is 2.4 MB).
pub const PAYLOAD_MAX: u32 = 16 << 20;
/// Frames in one frames chunk at most.
pub const FRAMES_PER_CHUNK_MAX: u32 = 1 << 16;

/// Chunk kinds.
pub const KIND_HEADER: u8 = 1;
pub const KIND_FRAMES: u8 = 2;
pub const KIND_KEYFRAME: u8 = 3;
pub const KIND_END: u8 = 4;

/// The name of a chunk kind, for messages.
pub fn kind_name(kind: u8) -> &'static str {
    match kind {
        KIND_HEADER => "header",
        KIND_FRAMES => "frames",
        KIND_KEYFRAME => "keyframe",
        KIND_END => "end",
        _ => "unknown",
    }
}

/// What kind of match was recorded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MatchKind {
    /// `hltd demo`: every peer in one process.
    Demo = 0,
    /// `hltd host`.
    Host = 1,
    /// `hltd join`.
    Join = 2,
    /// `hltd spectate`.
    Spectate = 3,
    /// Recorded without a network (tests, `hltd sim`).
    Offline = 4,
}

impl MatchKind {
    fn from_code(code: u8) -> Option<MatchKind> {
        [
            MatchKind::Demo,
            MatchKind::Host,
            MatchKind::Join,
            MatchKind::Spectate,
            MatchKind::Offline,
        ]
        .into_iter()
        .find(|k| *k as u8 == code)
    }

    /// Its name in `replay info`.
    pub fn name(self) -> &'static str {
        match self {
            MatchKind::Demo => "demo",
            MatchKind::Host => "host",
            MatchKind::Join => "join",
            MatchKind::Spectate => "spectate",
            MatchKind::Offline => "offline",
        }
    }
}

/// Everything needed to re-simulate the match, and who recorded it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Header {
    /// `sim::RULES_VERSION` of the recording build.
    pub rules_version: u32,
    /// The game seed.
    pub seed: u64,
    /// Players, 1 to 4.
    pub players: u8,
    /// The scenario.
    pub scenario: Scenario,
    /// The swarm's creep count (0 for the standard scenario).
    pub creeps: u32,
    /// The recording peer's seat (None: a spectator).
    pub recorder: Option<u8>,
    /// GGRS input delay of the match.
    pub input_delay: u8,
    /// GGRS prediction window of the match.
    pub max_prediction: u8,
    /// Frames the match was planned to last.
    pub frames_planned: u32,
    /// A keyframe every this many frames (frame 0 always has one).
    pub keyframe_interval: u32,
    /// What kind of match.
    pub kind: MatchKind,
}

/// Bytes of an encoded header.
pub const HEADER_LEN: usize = 30;

impl Header {
    /// The header of a match recorded without a network (`hltd sim --record`, the fuzzers):
    /// seat 0 records, no GGRS settings.
    pub fn offline(
        settings: &sim::Settings,
        frames_planned: u32,
        keyframe_interval: u32,
    ) -> Header {
        Header {
            rules_version: sim::RULES_VERSION,
            seed: settings.seed(),
            players: settings.players(),
            scenario: settings.scenario(),
            creeps: settings.creeps(),
            recorder: Some(0),
            input_delay: 0,
            max_prediction: 0,
            frames_planned,
            keyframe_interval,
            kind: MatchKind::Offline,
        }
    }

    /// The game settings the header implies.
    ///
    /// # Errors
    /// When the header's settings are out of range.
    pub fn settings(&self) -> Result<sim::Settings, sim::SettingsError> {
        let creeps = match self.scenario {
            Scenario::Standard => None,
            Scenario::Swarm => Some(self.creeps),
        };
        sim::Settings::new(self.seed, u32::from(self.players), self.scenario, creeps)
    }

    pub(crate) fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(HEADER_LEN);
        out.extend_from_slice(&self.rules_version.to_le_bytes());
        out.extend_from_slice(&self.seed.to_le_bytes());
        out.push(self.players);
        out.push(self.scenario as u8);
        out.extend_from_slice(&self.creeps.to_le_bytes());
        out.push(self.recorder.unwrap_or(u8::MAX));
        out.push(self.input_delay);
        out.push(self.max_prediction);
        out.extend_from_slice(&self.frames_planned.to_le_bytes());
        out.extend_from_slice(&self.keyframe_interval.to_le_bytes());
        out.push(self.kind as u8);
        debug_assert_eq!(out.len(), HEADER_LEN);
        out
    }

    /// Reads a header payload; `Err` names what is wrong.
    pub(crate) fn decode(bytes: &[u8]) -> Result<Header, String> {
        if bytes.len() != HEADER_LEN {
            return Err(format!(
                "header is {} bytes, expected {HEADER_LEN}",
                bytes.len()
            ));
        }
        let mut r = Bytes::new(bytes);
        let header = Header {
            rules_version: r.u32(),
            seed: r.u64(),
            players: r.u8(),
            scenario: {
                let code = r.u8();
                Scenario::from_code(code).ok_or(format!("unknown scenario code {code}"))?
            },
            creeps: r.u32(),
            recorder: Some(r.u8()).filter(|&s| s != u8::MAX),
            input_delay: r.u8(),
            max_prediction: r.u8(),
            frames_planned: r.u32(),
            keyframe_interval: r.u32(),
            kind: {
                let code = r.u8();
                MatchKind::from_code(code).ok_or(format!("unknown match kind {code}"))?
            },
        };
        header
            .settings()
            .map_err(|err| format!("bad settings: {err}"))?;
        if header.recorder.is_some_and(|s| s >= header.players) {
            return Err(format!(
                "recorder seat {} in a match of {} players",
                header.recorder.unwrap_or(0),
                header.players
            ));
        }
        if header.keyframe_interval == 0 {
            return Err("keyframe interval 0".into());
        }
        Ok(header)
    }
}

/// Reads fixed-width little-endian integers from a slice whose length was checked.
pub(crate) struct Bytes<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Bytes<'a> {
    pub(crate) fn new(bytes: &'a [u8]) -> Self {
        Bytes { bytes, at: 0 }
    }

    /// The next `n` bytes, or `None` past the end.
    pub(crate) fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let end = self.at.checked_add(n)?;
        let part = self.bytes.get(self.at..end)?;
        self.at = end;
        Some(part)
    }

    fn array<const N: usize>(&mut self) -> [u8; N] {
        self.take(N)
            .and_then(|b| b.try_into().ok())
            .unwrap_or([0; N])
    }

    pub(crate) fn u8(&mut self) -> u8 {
        self.array::<1>()[0]
    }

    pub(crate) fn u32(&mut self) -> u32 {
        u32::from_le_bytes(self.array())
    }

    pub(crate) fn u64(&mut self) -> u64 {
        u64::from_le_bytes(self.array())
    }

    pub(crate) fn rest(&self) -> &'a [u8] {
        &self.bytes[self.at.min(self.bytes.len())..]
    }

    pub(crate) fn offset(&self) -> usize {
        self.at
    }
}

/// The checksum of a chunk: the first 16 bytes of blake3 over its head and payload.
pub(crate) fn chunk_sum(head: &[u8], payload: &[u8]) -> [u8; CHUNK_SUM] {
    let mut hasher = blake3::Hasher::new();
    hasher.update(head);
    hasher.update(payload);
    let mut sum = [0; CHUNK_SUM];
    sum.copy_from_slice(&hasher.finalize().as_bytes()[..CHUNK_SUM]);
    sum
}

/// Frames a chunk: head, payload, checksum.
pub(crate) fn chunk(kind: u8, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(CHUNK_HEAD + payload.len() + CHUNK_SUM);
    out.extend_from_slice(&[kind, 0, 0, 0]);
    out.extend_from_slice(&(payload.len() as u32).to_le_bytes());
    let sum = chunk_sum(&out, payload);
    out.extend_from_slice(payload);
    out.extend_from_slice(&sum);
    out
}

/// The start of the hash chain: blake3 of a domain string and the header's bytes.
pub(crate) fn chain_start(header: &[u8]) -> [u8; 32] {
    let mut hasher = blake3::Hasher::new();
    hasher.update(b"HLTDCHAIN");
    hasher.update(header);
    *hasher.finalize().as_bytes()
}

/// One link of the chain: the previous link, the frame's number, its inputs and the hash of
/// the state they led to.
pub(crate) fn chain_next(
    prev: &[u8; 32],
    frame: u32,
    inputs: &[Input],
    hash: &StateHash,
) -> [u8; 32] {
    let mut hasher = blake3::Hasher::new();
    hasher.update(prev);
    hasher.update(&frame.to_le_bytes());
    for input in inputs {
        hasher.update(&input.to_bytes());
    }
    hasher.update(&hash.0);
    *hasher.finalize().as_bytes()
}

/// Encodes the inputs of consecutive frames, each relative to the frame before (the first to
/// all-idle): a byte `0b0mmm_mmmm` with the mask of seats whose input changed (not zero),
/// followed by their 4-byte inputs; or `0b1nnn_nnnn`, n+1 frames in which nothing changed.
pub(crate) fn encode_inputs(frames: &[Vec<Input>], out: &mut Vec<u8>) {
    let players = frames.first().map_or(0, Vec::len);
    let mut prev = vec![Input::IDLE; players];
    let mut run = 0u8;
    let flush = |run: &mut u8, out: &mut Vec<u8>| {
        if *run > 0 {
            out.push(0x80 | (*run - 1));
            *run = 0;
        }
    };
    for inputs in frames {
        let mask = inputs
            .iter()
            .zip(&prev)
            .enumerate()
            .filter(|(_, (now, before))| now != before)
            .fold(0u8, |m, (seat, _)| m | 1 << seat);
        if mask == 0 {
            run += 1;
            if run == 128 {
                flush(&mut run, out);
            }
            continue;
        }
        flush(&mut run, out);
        out.push(mask);
        for (seat, input) in inputs.iter().enumerate() {
            if mask & 1 << seat != 0 {
                out.extend_from_slice(&input.to_bytes());
            }
        }
        prev.clone_from(inputs);
    }
    flush(&mut run, out);
}

/// Decodes exactly `count` frames of `players` inputs; `Err` says what is wrong.
pub(crate) fn decode_inputs(
    bytes: &[u8],
    players: usize,
    count: usize,
) -> Result<Vec<Vec<Input>>, String> {
    let mut frames = Vec::with_capacity(count.min(FRAMES_PER_CHUNK_MAX as usize));
    let mut prev = vec![Input::IDLE; players];
    let mut r = Bytes::new(bytes);
    while let Some(&[code]) = r.take(1) {
        let at = r.offset() - 1;
        if code & 0x80 != 0 {
            let n = usize::from(code & 0x7f) + 1;
            if frames.len() + n > count {
                return Err(format!(
                    "inputs make more than {count} frames (at input byte {at})"
                ));
            }
            frames.extend(std::iter::repeat_n(prev.clone(), n));
            continue;
        }
        if code == 0 || usize::from(code) >> players != 0 {
            return Err(format!("bad change mask {code:#04x} at input byte {at}"));
        }
        if frames.len() == count {
            return Err(format!(
                "inputs make more than {count} frames (at input byte {at})"
            ));
        }
        for (seat, input) in prev.iter_mut().enumerate() {
            if code & 1 << seat != 0 {
                let bytes = r
                    .take(4)
                    .ok_or(format!("inputs cut inside the frame at input byte {at}"))?;
                *input = Input::from_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]);
            }
        }
        frames.push(prev.clone());
    }
    if frames.len() != count {
        return Err(format!(
            "inputs make {} frames, expected {count}",
            frames.len()
        ));
    }
    Ok(frames)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inputs_round_trip_and_runs_are_short() {
        let a = Input::new(1, 0, 2, 3);
        let b = Input::new(0, 0, 4, 5);
        let mut frames = vec![vec![Input::IDLE, Input::IDLE]; 300];
        frames[10] = vec![a, Input::IDLE];
        for f in frames.iter_mut().skip(11) {
            *f = vec![b, a];
        }
        let mut bytes = Vec::new();
        encode_inputs(&frames, &mut bytes);
        assert!(bytes.len() < 20, "{} bytes", bytes.len());
        assert_eq!(decode_inputs(&bytes, 2, 300), Ok(frames.clone()));
        assert!(decode_inputs(&bytes, 2, 299).is_err());
        assert!(decode_inputs(&bytes, 2, 301).is_err());
        for cut in 0..bytes.len() {
            assert!(decode_inputs(&bytes[..cut], 2, 300).is_err(), "cut {cut}");
        }
    }

    #[test]
    fn headers_round_trip_and_bad_ones_say_why() {
        let header = Header {
            rules_version: sim::RULES_VERSION,
            seed: 9,
            players: 3,
            scenario: Scenario::Standard,
            creeps: 0,
            recorder: Some(2),
            input_delay: 2,
            max_prediction: 8,
            frames_planned: 3600,
            keyframe_interval: 600,
            kind: MatchKind::Host,
        };
        let bytes = header.encode();
        assert_eq!(Header::decode(&bytes), Ok(header));
        let mut bad = bytes.clone();
        bad[12] = 9; // players
        assert!(Header::decode(&bad).unwrap_err().contains("players"));
        let mut bad = bytes;
        bad[18] = 3; // recorder seat 3 of 3
        assert!(Header::decode(&bad).unwrap_err().contains("recorder"));
    }
}
