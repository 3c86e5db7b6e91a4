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

    fn write(&mut self, bytes: &[u8]) -> Result<(), RecordError> {
        self.out.write_all(bytes)?;
        self.out.flush()?;
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
        self.write(&framed)
    }

    /// Records the confirmed inputs of the next frame, with the hash the session saw for the
    /// state they led to, if it knows it.
    ///
    /// # Errors
    /// [`RecordError`] when writing fails or the inputs do not fit the match.
    pub fn record(&mut self, inputs: &[Input], seen: Option<StateHash>) -> Result<(), RecordError> {
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

    /// Bytes written so far.
    pub fn bytes_written(&self) -> u64 {
        self.written
    }

    /// Writes what is pending and the end chunk (last frame, status, final hash), and gives
    /// the writer back.
    ///
    /// # Errors
    /// [`RecordError::Io`] when writing fails.
    pub fn finish(mut self) -> Result<W, RecordError> {
        self.flush_frames()?;
        let mut payload = Vec::with_capacity(37);
        payload.extend_from_slice(&self.game.frame().to_le_bytes());
        payload.push(self.game.status() as u8);
        payload.extend_from_slice(&self.game.hash().0);
        self.write(&chunk(KIND_END, &payload))?;
        Ok(self.out)
    }
}
