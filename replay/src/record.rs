//! Writing a replay while the match runs, one checksummed chunk at a time.

use std::io::Write;

use sim::{Game, Input, StateHash};

use crate::format::{
    chain_next, chain_start, chunk, encode_inputs, Header, FORMAT_VERSION, KIND_END, KIND_FRAMES,
    KIND_HEADER, KIND_KEYFRAME, MAGIC,
};

/// Frames per frames chunk: a peer killed mid-match loses at most this many (1 s at 60 Hz).
pub const FRAMES_PER_CHUNK: usize = 60;

/// Why recording failed.
#[derive(Debug, thiserror::Error)]
pub enum RecordError {
    /// Writing failed.
    #[error("writing the replay failed: {0}")]
    Io(#[from] std::io::Error),
    /// The header's settings are out of range.
    #[error("the replay's settings are invalid: {0}")]
    Settings(#[from] sim::SettingsError),
    /// A frame came with the wrong number of inputs.
    #[error("a frame of a {expected}-player match came with {got} inputs")]
    Players { expected: usize, got: usize },
    /// An earlier write failed: the recorder writes nothing more, so the file ends with what
    /// was written whole before it.
    #[error("an earlier write of the replay failed; nothing more is written")]
    Stopped,
}

/// Records confirmed inputs. It keeps a game of its own, advanced by exactly those inputs:
/// its hashes go into the file and its states make the keyframes; a hash the session reports
/// for the same frame is compared with it (a difference means the session's own simulation
/// went astray, and is kept for the desync report).
pub struct Recorder<W: Write> {
    out: W,
    header: Header,
    game: Game,
    chain: [u8; 32],
    inputs: Vec<Vec<Input>>,
    hashes: Vec<StateHash>,
    /// The frame (state number) the first pending input advances from.
    first: u32,
    written: u64,
    /// Frames in the frames chunks written whole.
    kept: u32,
    /// Set by a failed write: nothing more is written.
    failed: bool,
    mismatch: Option<(u32, StateHash, StateHash)>,
    scratch: Vec<u8>,
}

impl<W: Write> Recorder<W> {
    /// Starts a replay on `out`: the prefix, the header, and the keyframe of frame 0.
    ///
    /// # Errors
    /// [`RecordError`] when the settings are invalid or writing fails.
    pub fn new(out: W, header: Header) -> Result<Self, RecordError> {
        let game = Game::new(header.settings()?);
        let header_bytes = header.encode();
        let mut recorder = Recorder {
            out,
            header,
            game,
            chain: chain_start(&header_bytes),
            inputs: Vec::with_capacity(FRAMES_PER_CHUNK),
            hashes: Vec::with_capacity(FRAMES_PER_CHUNK),
            first: 0,
            written: 0,
            kept: 0,
            failed: false,
            mismatch: None,
            scratch: Vec::new(),
        };
        let mut prefix = Vec::with_capacity(crate::format::PREFIX_LEN);
        prefix.extend_from_slice(MAGIC);
        prefix.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
        prefix.extend_from_slice(&[0; 6]);
        recorder.write(&prefix)?;
        recorder.write(&chunk(KIND_HEADER, &header_bytes))?;
        recorder.keyframe()?;
        Ok(recorder)
    }

    /// Writes one chunk; after a failure, refuses every later one (a chunk after a torn one
    /// could not be read anyway).
    fn write(&mut self, bytes: &[u8]) -> Result<(), RecordError> {
        if self.failed {
            return Err(RecordError::Stopped);
        }
        let written = self.out.write_all(bytes).and_then(|()| self.out.flush());
        if let Err(err) = written {
            self.failed = true;
            return Err(RecordError::Io(err));
        }
        self.written += bytes.len() as u64;
        Ok(())
    }

    fn keyframe(&mut self) -> Result<(), RecordError> {
        let mut payload = std::mem::take(&mut self.scratch);
        payload.clear();
        payload.extend_from_slice(&self.game.frame().to_le_bytes());
        self.game.save().encode(&mut payload);
        let framed = chunk(KIND_KEYFRAME, &payload);
        self.scratch = payload;
        self.write(&framed)
    }

    fn flush_frames(&mut self) -> Result<(), RecordError> {
        if self.inputs.is_empty() {
            return Ok(());
        }
        let mut payload = std::mem::take(&mut self.scratch);
        payload.clear();
        payload.extend_from_slice(&self.first.to_le_bytes());
        payload.extend_from_slice(&(self.inputs.len() as u32).to_le_bytes());
        let mut inputs = Vec::new();
        encode_inputs(&self.inputs, &mut inputs);
        payload.extend_from_slice(&(inputs.len() as u32).to_le_bytes());
        payload.extend_from_slice(&inputs);
        for hash in &self.hashes {
            payload.extend_from_slice(&hash.0);
        }
        payload.extend_from_slice(&self.chain);
        let framed = chunk(KIND_FRAMES, &payload);
        self.scratch = payload;
        self.first += self.inputs.len() as u32;
        self.inputs.clear();
        self.hashes.clear();
        self.write(&framed)?;
        self.kept = self.first;
        Ok(())
    }

    /// Records the confirmed inputs of the next frame, with the hash the session saw for the
    /// state they led to, if it knows it.
    ///
    /// # Errors
    /// [`RecordError`] when writing fails or the inputs do not fit the match;
    /// [`RecordError::Stopped`] for every frame after a failed write.
    pub fn record(&mut self, inputs: &[Input], seen: Option<StateHash>) -> Result<(), RecordError> {
        if self.failed {
            return Err(RecordError::Stopped);
        }
        let players = usize::from(self.header.players);
        if inputs.len() != players {
            return Err(RecordError::Players {
                expected: players,
                got: inputs.len(),
            });
        }
        let frame = self.game.frame();
        let hash = self.game.advance(inputs);
        if let Some(seen) = seen.filter(|s| *s != hash) {
            self.mismatch.get_or_insert((frame + 1, hash, seen));
        }
        self.chain = chain_next(&self.chain, frame, inputs, &hash);
        self.inputs.push(inputs.to_vec());
        self.hashes.push(hash);
        if self.inputs.len() >= FRAMES_PER_CHUNK {
            self.flush_frames()?;
        }
        if self
            .game
            .frame()
            .is_multiple_of(self.header.keyframe_interval)
        {
            self.flush_frames()?;
            self.keyframe()?;
        }
        Ok(())
    }

    /// Frames recorded so far.
    pub fn frames(&self) -> u32 {
        self.game.frame()
    }

    /// The recorder's game, at the last recorded frame.
    pub fn game(&self) -> &Game {
        &self.game
    }

    /// The first frame whose hash the session reported differently: (frame, ours, the
    /// session's).
    pub fn mismatch(&self) -> Option<(u32, StateHash, StateHash)> {
        self.mismatch
    }

    /// Frames the file holds whole so far: those of the frames chunks written (a reader
    /// gets exactly these from a file whose later writes failed).
    pub fn frames_kept(&self) -> u32 {
        self.kept
    }

    /// Whether a write failed (then nothing more is written).
    pub fn failed(&self) -> bool {
        self.failed
    }

    /// Bytes written so far.
    pub fn bytes_written(&self) -> u64 {
        self.written
    }

    /// Writes what is pending and the end chunk (last frame, status, final hash); after it
    /// [`Recorder::frames_kept`] says what the file holds either way.
    ///
    /// # Errors
    /// [`RecordError::Io`] when writing fails, [`RecordError::Stopped`] after a failure.
    pub fn write_end(&mut self) -> Result<(), RecordError> {
        self.flush_frames()?;
        let mut payload = Vec::with_capacity(37);
        payload.extend_from_slice(&self.game.frame().to_le_bytes());
        payload.push(self.game.status() as u8);
        payload.extend_from_slice(&self.game.hash().0);
        self.write(&chunk(KIND_END, &payload))
    }

    /// Writes what is pending and the end chunk (last frame, status, final hash), and gives
    /// the writer back.
    ///
    /// # Errors
    /// [`RecordError::Io`] when writing fails, [`RecordError::Stopped`] after a failure.
    pub fn finish(mut self) -> Result<W, RecordError> {
        self.write_end()?;
        Ok(self.out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A disk that fills after `room` bytes: a write takes what still fits, then fails as
    /// a full disk does (ENOSPC).
    struct Full {
        bytes: Vec<u8>,
        room: usize,
    }

    impl Write for Full {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            let fits = buf.len().min(self.room - self.bytes.len());
            if fits == 0 && !buf.is_empty() {
                return Err(std::io::Error::from_raw_os_error(28));
            }
            self.bytes.extend_from_slice(&buf[..fits]);
            Ok(fits)
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    fn header() -> Header {
        Header::offline(&sim::Settings::standard(3, 2), 900, 600)
    }

    /// On a full disk the recorder stops at the first failed write, counts only the frames
    /// of the chunks written whole (what a reader gets back from the file), and refuses to
    /// write anything after the torn chunk.
    #[test]
    fn a_full_disk_keeps_the_whole_chunks_and_counts_them() {
        // Room for the prefix, header, keyframe and a few frames chunks, then a torn one.
        let mut probe = Recorder::new(Vec::new(), header()).expect("recorder");
        let start = probe.bytes_written() as usize;
        for _ in 0..60 {
            probe.record(&[Input::IDLE; 2], None).expect("record");
        }
        let chunk = probe.bytes_written() as usize - start;
        for room in [start + 3 * chunk + chunk / 2, start + 3 * chunk] {
            let out = Full {
                bytes: Vec::new(),
                room,
            };
            let mut recorder = Recorder::new(out, header()).expect("recorder");
            let mut failure = None;
            for frame in 0..900 {
                if let Err(err) = recorder.record(&[Input::IDLE; 2], None) {
                    failure = Some((frame, err));
                    break;
                }
            }
            let (frame, err) = failure.expect("the disk fills");
            assert!(
                matches!(&err, RecordError::Io(io) if io.raw_os_error() == Some(28)),
                "{err}"
            );
            assert_eq!(frame, 239, "the fourth chunk fails (room {room})");
            assert!(recorder.failed());
            assert_eq!(recorder.frames_kept(), 180, "three chunks of 60 kept");
            assert!(matches!(
                recorder.record(&[Input::IDLE; 2], None),
                Err(RecordError::Stopped)
            ));
            assert!(
                matches!(recorder.finish(), Err(RecordError::Stopped)),
                "finish after a failure writes nothing"
            );
        }
    }

    /// What the file holds after the failure reads back as exactly the frames kept.
    #[test]
    fn the_frames_kept_are_what_a_reader_gets() {
        let mut probe = Recorder::new(Vec::new(), header()).expect("recorder");
        let start = probe.bytes_written() as usize;
        for _ in 0..60 {
            probe.record(&[Input::IDLE; 2], None).expect("record");
        }
        let chunk = probe.bytes_written() as usize - start;
        let room = start + 2 * chunk + 7;
        let mut recorder = Recorder::new(
            Full {
                bytes: Vec::new(),
                room,
            },
            header(),
        )
        .expect("recorder");
        while recorder.record(&[Input::IDLE; 2], None).is_ok() {}
        let kept = recorder.frames_kept();
        assert_eq!(kept, 120);
        let bytes = std::mem::take(&mut recorder.out.bytes);
        assert_eq!(
            bytes.len(),
            room,
            "the torn chunk's first bytes are on disk"
        );
        let replay = crate::read(&bytes).expect("the whole chunks read");
        assert_eq!(replay.frames(), kept);
    }
}
