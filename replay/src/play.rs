//! Playing a replay back: stepping frame by frame and seeking to any frame from the nearest
//! keyframe, checking every hash on the way.
//!
//! A keyframe is trusted only when its state hashes to the hash the chain recorded for its
//! frame (frame 0's to the hash of a fresh game of the header's settings); an untrusted one is
//! passed over for an earlier one, so a seek lands on the same state as playing from the
//! start, whatever the keyframes hold.

use sim::{Game, Settings, SettingsError, StateHash};

use crate::read::Replay;

/// A replay being played back.
pub struct Player {
    replay: Replay,
    settings: Settings,
    game: Game,
    /// Indices into `replay.keyframes` of the trusted keyframes, in frame order.
    trusted: Vec<usize>,
    /// The first frame whose state did not hash as recorded.
    diverged: Option<u32>,
}

/// What a seek did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Seek {
    /// The frame simulation started from (a keyframe's, or where the player was).
    pub from: u32,
    /// Frames simulated to get there.
    pub simulated: u32,
}

impl Player {
    /// Starts at frame 0.
    ///
    /// # Errors
    /// When the header's settings are invalid (a replay that was read has valid ones).
    pub fn new(replay: Replay) -> Result<Player, SettingsError> {
        let settings = replay.header.settings()?;
        let game = Game::new(settings);
        let initial = game.hash();
        let trusted = replay
            .keyframes
            .iter()
            .enumerate()
            .filter(|(_, k)| {
                let expected = match k.frame {
                    0 => Some(initial),
                    f => replay.hashes.get(f as usize - 1).copied(),
                };
                expected == Some(k.snapshot.hash()) && k.snapshot.frame() == k.frame
            })
            .map(|(i, _)| i)
            .collect();
        Ok(Player {
            replay,
            settings,
            game,
            trusted,
            diverged: None,
        })
    }

    /// The replay.
    pub fn replay(&self) -> &Replay {
        &self.replay
    }

    /// The game at the current frame (for its view).
    pub fn game(&self) -> &Game {
        &self.game
    }

    /// The current frame (state number: frame 0 is the start).
    pub fn frame(&self) -> u32 {
        self.game.frame()
    }

    /// The last frame that can be reached.
    pub fn frames(&self) -> u32 {
        self.replay.frames()
    }

    /// The current state's hash.
    pub fn hash(&self) -> StateHash {
        self.game.hash()
    }

    /// Whether the current state's hash is the one recorded for this frame.
    pub fn matches_record(&self) -> bool {
        match self.frame() {
            0 => true,
            f => self.replay.hashes.get(f as usize - 1) == Some(&self.game.hash()),
        }
    }

    /// The first frame seen whose state did not hash as recorded.
    pub fn diverged(&self) -> Option<u32> {
        self.diverged
    }

    /// Keyframes that can be seeked from (their state hashes as recorded).
    pub fn trusted_keyframes(&self) -> usize {
        self.trusted.len()
    }

    /// Advances one frame; false at the end.
    pub fn step(&mut self) -> bool {
        let frame = self.frame() as usize;
        let Some(inputs) = self.replay.inputs.get(frame) else {
            return false;
        };
        let hash = self.game.advance(inputs);
        if self.replay.hashes.get(frame) != Some(&hash) && self.diverged.is_none() {
            self.diverged = Some(frame as u32 + 1);
        }
        true
    }

    /// Goes to `target` (at most the last frame): from the nearest trusted keyframe at or
    /// before it, or from the current frame when that is nearer.
    pub fn seek(&mut self, target: u32) -> Seek {
        let target = target.min(self.frames());
        let keyframe = self
            .trusted
            .iter()
            .map(|&i| &self.replay.keyframes[i])
            .rfind(|k| k.frame <= target);
        let here = self.frame();
        let from_here = here <= target && keyframe.is_none_or(|k| k.frame <= here);
        if !from_here {
            match keyframe {
                Some(k) => {
                    self.game.load(&k.snapshot);
                }
                None => self.game = Game::new(self.settings),
            }
        }
        let from = self.frame();
        while self.frame() < target && self.step() {}
        Seek {
            from,
            simulated: self.frame() - from,
        }
    }
}
