//! Reading a replay, whatever the bytes: every complete, intact chunk is kept, and the first
//! problem is named with its chunk and byte offset.

use std::io::Read;
use std::path::{Path, PathBuf};

use sim::{Input, Snapshot, StateHash, Status};

use crate::file::FileError;

use crate::format::{
    chain_next, chain_start, chunk_sum, decode_inputs, kind_name, Bytes, Header, CHUNK_HEAD,
    CHUNK_SUM, FORMAT_VERSION, FRAMES_PER_CHUNK_MAX, KIND_END, KIND_FRAMES, KIND_HEADER,
    KIND_KEYFRAME, MAGIC, PAYLOAD_MAX, PREFIX_LEN,
};

/// What is wrong at a place in the file.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ReadErrorKind {
    /// The file does not start with `HLTDRPLY`.
    #[error("bad magic: not a Healer TD replay")]
    BadMagic,
    /// Another format version.
    #[error("unknown format version {0} (this build reads version {FORMAT_VERSION})")]
    UnknownVersion(u16),
    /// A reserved field is not zero.
    #[error("reserved bytes are not zero")]
    Reserved,
    /// The file ends inside a chunk.
    #[error("truncated {kind} chunk: {missing} byte(s) missing")]
    Truncated { kind: &'static str, missing: u64 },
    /// A chunk claims more than the format allows.
    #[error("chunk length {0} exceeds the limit")]
    TooLong(u32),
    /// A chunk's checksum does not match its bytes.
    #[error("checksum mismatch in a {0} chunk")]
    Checksum(&'static str),
    /// A chunk of a kind this build does not know.
    #[error("unknown chunk kind {0}")]
    UnknownKind(u8),
    /// The first chunk is not the header, or a second header follows.
    #[error("{0}")]
    Order(String),
    /// Recorded by a build with other rules: its frames cannot be re-simulated here.
    #[error("rules version {file} is from another build (this build has {ours})")]
    RulesVersion { file: u32, ours: u32 },
    /// The header's fields are wrong.
    #[error("bad header: {0}")]
    Header(String),
    /// A frames chunk's fields are wrong.
    #[error("bad frames chunk: {0}")]
    Frames(String),
    /// A frames chunk's chain value is not what its inputs and hashes give.
    #[error("broken hash chain: the frames up to {0} do not match the chain recorded with them")]
    BrokenChain(u32),
    /// A keyframe is wrong.
    #[error("bad keyframe: {0}")]
    Keyframe(String),
    /// The end chunk is wrong.
    #[error("bad end chunk: {0}")]
    End(String),
    /// Reading the file failed (or it grew past its cap while being read).
    #[error("reading failed: {message}")]
    Io {
        /// The error's kind.
        kind: std::io::ErrorKind,
        /// What failed.
        message: String,
    },
}

/// Where reading stopped, and why.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("chunk {chunk} at byte {offset}: {kind}")]
pub struct ReadError {
    /// Index of the chunk (0: the header chunk; the 16-byte prefix counts as chunk 0 too).
    pub chunk: u32,
    /// Byte offset of the chunk's start in the file.
    pub offset: u64,
    /// What is wrong.
    pub kind: ReadErrorKind,
}

/// A keyframe: the state at a frame, and where it was in the file.
#[derive(Clone, Debug)]
pub struct Keyframe {
    /// The frame.
    pub frame: u32,
    /// The state (its hash computed from the bytes).
    pub snapshot: Snapshot,
}

/// How the recording ended, when it ended cleanly.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct End {
    /// The last frame.
    pub frame: u32,
    /// The game's status then.
    pub status: Status,
    /// Its state hash.
    pub hash: StateHash,
}

/// What a replay file holds, as far as it could be read.
#[derive(Clone, Debug)]
pub struct Replay {
    /// The header.
    pub header: Header,
    /// `inputs[i]`: every seat's input that advanced state `i` to `i + 1`.
    pub inputs: Vec<Vec<Input>>,
    /// `hashes[i]`: the hash of state `i + 1`.
    pub hashes: Vec<StateHash>,
    /// Keyframes in frame order (frame 0 first).
    pub keyframes: Vec<Keyframe>,
    /// The end chunk, if the recording ended cleanly.
    pub end: Option<End>,
    /// Where reading stopped before the end of the file, if it did; everything before is
    /// intact.
    pub stopped: Option<ReadError>,
    /// Bytes read up to the end of the last intact chunk.
    pub intact_bytes: u64,
}

impl Replay {
    /// Frames recorded.
    pub fn frames(&self) -> u32 {
        self.hashes.len() as u32
    }

    /// The hash of the last recorded frame (the initial state's for an empty recording).
    pub fn last_hash(&self) -> Option<StateHash> {
        self.hashes.last().copied()
    }
}

fn status_of(code: u8) -> Option<Status> {
    [Status::Running, Status::Won, Status::Lost]
        .into_iter()
        .find(|s| *s as u8 == code)
}

/// Reads a replay from its bytes. `Err` when not even the prefix and header are intact;
/// otherwise the intact chunks, and in [`Replay::stopped`] the first problem after them.
///
/// # Errors
/// [`ReadError`] when the prefix or the header chunk is damaged, or from another build.
pub fn read(bytes: &[u8]) -> Result<Replay, ReadError> {
    read_from(bytes)
}

/// Why a replay file could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ReplayFileError {
    /// The file is not one to read (a FIFO, a device, larger than a replay can be) or could
    /// not be opened.
    #[error(transparent)]
    File(#[from] FileError),
    /// Its prefix or header is damaged.
    #[error("{}: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// What is wrong, and where.
        source: ReadError,
    },
}

/// Reads the replay file at `path` (a regular file of at most [`crate::file::REPLAY_FILE_MAX`]
/// bytes), a chunk at a time: a file damaged near its start is refused after reading little.
///
/// # Errors
/// [`ReplayFileError`] naming the file when it cannot be read or its prefix or header is
/// damaged.
pub fn read_file(path: &Path) -> Result<Replay, ReplayFileError> {
    let file = crate::file::open(path, crate::file::REPLAY)?;
    read_from(std::io::BufReader::with_capacity(64 << 10, file)).map_err(|source| {
        ReplayFileError::Read {
            path: path.to_path_buf(),
            source,
        }
    })
}

/// Reads `n` bytes into `buf` or as many as there are before the end.
fn fill<R: Read>(input: &mut R, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match input.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(err) if err.kind() == std::io::ErrorKind::Interrupted => {}
            Err(err) => return Err(err),
        }
    }
    Ok(n)
}

fn io_kind(err: &std::io::Error) -> ReadErrorKind {
    ReadErrorKind::Io {
        kind: err.kind(),
        message: err.to_string(),
    }
}

/// Reads a replay a chunk at a time from `input` (which is read no further than the first
/// problem): at most one chunk's payload is held besides what the replay keeps.
///
/// # Errors
/// [`ReadError`] when the prefix or the header chunk is damaged, or from another build.
pub fn read_from<R: Read>(mut input: R) -> Result<Replay, ReadError> {
    let fail = |chunk, offset: u64, kind| ReadError {
        chunk,
        offset,
        kind,
    };
    let mut prefix = [0; PREFIX_LEN];
    let got = fill(&mut input, &mut prefix).map_err(|err| fail(0, 0, io_kind(&err)))?;
    if got < MAGIC.len() || prefix[..MAGIC.len()] != MAGIC[..] {
        return Err(fail(0, 0, ReadErrorKind::BadMagic));
    }
    if got < PREFIX_LEN {
        return Err(fail(
            0,
            0,
            ReadErrorKind::Truncated {
                kind: "prefix",
                missing: (PREFIX_LEN - got) as u64,
            },
        ));
    }
    let rest = &prefix[MAGIC.len()..];
    let version = u16::from_le_bytes([rest[0], rest[1]]);
    if version != FORMAT_VERSION {
        return Err(fail(0, 0, ReadErrorKind::UnknownVersion(version)));
    }
    if rest[2..].iter().any(|&b| b != 0) {
        return Err(fail(0, 0, ReadErrorKind::Reserved));
    }

    let mut chunks = Chunks {
        input,
        at: PREFIX_LEN as u64,
        index: 0,
        buf: Vec::new(),
    };
    let (kind, offset) = match chunks.next_chunk() {
        Some(Ok(c)) => c,
        Some(Err(err)) => return Err(err),
        None => {
            return Err(fail(
                0,
                PREFIX_LEN as u64,
                ReadErrorKind::Truncated {
                    kind: "header",
                    missing: (CHUNK_HEAD + CHUNK_SUM) as u64,
                },
            ))
        }
    };
    let payload = chunks.payload();
    if kind != KIND_HEADER {
        return Err(fail(
            0,
            offset,
            ReadErrorKind::Order(format!(
                "the first chunk is a {} chunk, not the header",
                kind_name(kind)
            )),
        ));
    }
    let header = Header::decode(payload).map_err(|e| fail(0, offset, ReadErrorKind::Header(e)))?;
    if header.rules_version != sim::RULES_VERSION {
        return Err(fail(
            0,
            offset,
            ReadErrorKind::RulesVersion {
                file: header.rules_version,
                ours: sim::RULES_VERSION,
            },
        ));
    }
    let mut replay = Replay {
        header,
        inputs: Vec::new(),
        hashes: Vec::new(),
        keyframes: Vec::new(),
        end: None,
        stopped: None,
        intact_bytes: chunks.at,
    };
    let mut chain = chain_start(payload);
    let players = usize::from(header.players);
    while let Some(next) = chunks.next_chunk() {
        let index = chunks.index - 1;
        let stop = match next {
            Err(err) => Some(err),
            Ok((kind, offset)) => {
                let payload = chunks.payload();
                let result = if replay.end.is_some() {
                    Err(ReadErrorKind::End("a chunk follows the end chunk".into()))
                } else {
                    match kind {
                        KIND_FRAMES => frames(&mut replay, &mut chain, players, payload),
                        KIND_KEYFRAME => keyframe(&mut replay, payload),
                        KIND_END => end(&mut replay, payload),
                        KIND_HEADER => Err(ReadErrorKind::Order("a second header chunk".into())),
                        other => Err(ReadErrorKind::UnknownKind(other)),
                    }
                };
                result.err().map(|kind| fail(index, offset, kind))
            }
        };
        if let Some(err) = stop {
            replay.stopped = Some(err);
            break;
        }
        replay.intact_bytes = chunks.at;
    }
    Ok(replay)
}

/// Reads the chunks after the prefix one at a time, checking each.
struct Chunks<R> {
    input: R,
    /// Offset of the next chunk.
    at: u64,
    index: u32,
    /// The last chunk read: head, payload, checksum.
    buf: Vec<u8>,
}

impl<R: Read> Chunks<R> {
    /// The next chunk's kind and offset (its payload is [`Chunks::payload`]); `None` at the
    /// end of the file.
    fn next_chunk(&mut self) -> Option<Result<(u8, u64), ReadError>> {
        let offset = self.at;
        let index = self.index;
        let fail = |kind| {
            Some(Err(ReadError {
                chunk: index,
                offset,
                kind,
            }))
        };
        let mut head = [0; CHUNK_HEAD];
        let got = match fill(&mut self.input, &mut head) {
            Ok(0) => return None,
            Ok(got) => got,
            Err(err) => {
                self.index += 1;
                return fail(io_kind(&err));
            }
        };
        self.index += 1;
        let kind_byte = head[0];
        let kind = kind_name(kind_byte);
        if got < CHUNK_HEAD {
            return fail(ReadErrorKind::Truncated {
                kind,
                missing: (CHUNK_HEAD - got) as u64,
            });
        }
        let len = u32::from_le_bytes([head[4], head[5], head[6], head[7]]);
        if len > PAYLOAD_MAX {
            return fail(ReadErrorKind::TooLong(len));
        }
        let rest = len as usize + CHUNK_SUM;
        self.buf.clear();
        self.buf.extend_from_slice(&head);
        // Grows with what arrives, so a length the file does not hold is not allocated.
        if let Err(err) = (&mut self.input)
            .take(rest as u64)
            .read_to_end(&mut self.buf)
        {
            return fail(io_kind(&err));
        }
        let got = self.buf.len() - CHUNK_HEAD;
        if got < rest {
            return fail(ReadErrorKind::Truncated {
                kind,
                missing: (rest - got) as u64,
            });
        }
        let payload = &self.buf[CHUNK_HEAD..CHUNK_HEAD + len as usize];
        if chunk_sum(&head, payload)[..] != self.buf[CHUNK_HEAD + len as usize..] {
            return fail(ReadErrorKind::Checksum(kind));
        }
        if head[1..4].iter().any(|&b| b != 0) {
            return fail(ReadErrorKind::Reserved);
        }
        self.at += (CHUNK_HEAD + rest) as u64;
        Some(Ok((kind_byte, offset)))
    }

    /// The payload of the chunk [`Chunks::next_chunk`] returned last.
    fn payload(&self) -> &[u8] {
        let end = self.buf.len().saturating_sub(CHUNK_SUM);
        self.buf.get(CHUNK_HEAD..end).unwrap_or(&[])
    }
}

fn frames(
    replay: &mut Replay,
    chain: &mut [u8; 32],
    players: usize,
    payload: &[u8],
) -> Result<(), ReadErrorKind> {
    let bad = |what: String| Err(ReadErrorKind::Frames(what));
    let mut r = Bytes::new(payload);
    let (first, count, inputs_len) = (r.u32(), r.u32(), r.u32());
    if first != replay.frames() {
        return bad(format!(
            "starts at frame {first}, but {} frames came before",
            replay.frames()
        ));
    }
    if replay.keyframes.is_empty() {
        return bad("no keyframe of frame 0 before the first frames".into());
    }
    if count == 0 || count > FRAMES_PER_CHUNK_MAX {
        return bad(format!("{count} frames in one chunk"));
    }
    let Some(input_bytes) = r.take(inputs_len as usize) else {
        return bad(format!("inputs of {inputs_len} bytes do not fit"));
    };
    let inputs =
        decode_inputs(input_bytes, players, count as usize).map_err(ReadErrorKind::Frames)?;
    let expected = count as usize * 32 + 32;
    if r.rest().len() != expected {
        return bad(format!(
            "{} bytes of hashes and chain, expected {expected}",
            r.rest().len()
        ));
    }
    let mut hashes = Vec::with_capacity(count as usize);
    for _ in 0..count {
        let mut hash = [0; 32];
        hash.copy_from_slice(r.take(32).unwrap_or(&[0; 32]));
        hashes.push(StateHash(hash));
    }
    let mut link = *chain;
    for (i, (inputs, hash)) in inputs.iter().zip(&hashes).enumerate() {
        link = chain_next(&link, first + i as u32, inputs, hash);
    }
    if r.rest() != link {
        return Err(ReadErrorKind::BrokenChain(first + count));
    }
    *chain = link;
    replay.inputs.extend(inputs);
    replay.hashes.extend(hashes);
    Ok(())
}

fn keyframe(replay: &mut Replay, payload: &[u8]) -> Result<(), ReadErrorKind> {
    let bad = |what: String| Err(ReadErrorKind::Keyframe(what));
    let mut r = Bytes::new(payload);
    let frame = r.u32();
    if frame != replay.frames() {
        return bad(format!("of frame {frame} after {} frames", replay.frames()));
    }
    // The format puts one after frame 0 and one every interval frames, each once.
    if let Some(last) = replay.keyframes.last().filter(|k| k.frame >= frame) {
        return bad(format!(
            "a second keyframe of frame {frame} (the last was of frame {})",
            last.frame
        ));
    }
    let interval = replay.header.keyframe_interval;
    if !frame.is_multiple_of(interval) {
        return bad(format!(
            "of frame {frame}, not a multiple of the keyframe interval {interval}"
        ));
    }
    let snapshot =
        Snapshot::decode(r.rest()).map_err(|e| ReadErrorKind::Keyframe(e.to_string()))?;
    if snapshot.frame() != frame {
        return bad(format!(
            "labelled frame {frame}, holds frame {}",
            snapshot.frame()
        ));
    }
    // The state is the one played: frame 0's is the header's initial state, and any other
    // must hash to the recorded hash of its frame.
    let recorded = match frame {
        0 => match replay.header.settings() {
            Ok(settings) => sim::Game::new(settings).hash(),
            Err(err) => return bad(format!("the header's settings: {err}")),
        },
        f => match replay.hashes.get(f as usize - 1) {
            Some(hash) => *hash,
            None => return bad(format!("of frame {frame}, which has no recorded hash")),
        },
    };
    if recorded != snapshot.hash() {
        return bad(match frame {
            0 => "its state is not the initial state of the header's settings".to_string(),
            _ => format!("its state does not hash to the recorded hash of frame {frame}"),
        });
    }
    replay.keyframes.push(Keyframe { frame, snapshot });
    Ok(())
}

fn end(replay: &mut Replay, payload: &[u8]) -> Result<(), ReadErrorKind> {
    if payload.len() != 37 {
        return Err(ReadErrorKind::End(format!(
            "{} bytes, expected 37",
            payload.len()
        )));
    }
    let mut r = Bytes::new(payload);
    let frame = r.u32();
    let code = r.u8();
    let status = status_of(code).ok_or(ReadErrorKind::End(format!("unknown status {code}")))?;
    let mut hash = [0; 32];
    hash.copy_from_slice(r.rest());
    if frame != replay.frames() {
        return Err(ReadErrorKind::End(format!(
            "says frame {frame}, but {} frames were recorded",
            replay.frames()
        )));
    }
    let last = replay
        .last_hash()
        .or_else(|| replay.keyframes.first().map(|k| k.snapshot.hash()));
    if last != Some(StateHash(hash)) {
        return Err(ReadErrorKind::End(
            "its hash is not the last recorded frame's".into(),
        ));
    }
    replay.end = Some(End {
        frame,
        status,
        hash: StateHash(hash),
    });
    Ok(())
}
