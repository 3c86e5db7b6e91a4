//! Playing a replay back: stepping frame by frame and seeking to any frame from the nearest
//! keyframe, checking every hash on the way.
//!
//! The file's author controls its hashes as much as its keyframes, so a keyframe is not
//! trusted for what the file says of it: [`Player::new`] plays the replay once from a fresh
//! game, up to its first frame that does not hash as recorded, and trusts a keyframe only
//! when its state hashes as the state that play reached at its frame. Only states a game really reached are ever loaded, and a seek lands
//! on exactly the state that playing from the start reaches, whatever the file holds.

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
    /// Frames the opening play-through simulated.
    played_through: u32,
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
    /// Plays the replay once (to learn which keyframes to trust, and where it first diverges
    /// from its recorded hashes, if it does), then stands at frame 0. See
    /// [`Player::with_progress`].
    ///
    /// # Errors
    /// When the header's settings are invalid (a replay that was read has valid ones).
    pub fn new(replay: Replay) -> Result<Player, SettingsError> {
        Player::with_progress(replay, |_, _| {})
    }

    /// [`Player::new`], calling `progress(frames played, frames recorded)` after every frame
    /// of the play-through (so a caller can show how far it is when it takes long).
    ///
    /// The play-through stops at the first frame whose state does not hash as recorded: the
    /// file's hashes are wrong from there on, so the keyframes after it cannot be checked
    /// against them (a seek past it simulates from the last trusted keyframe before it), and
    /// a crafted file of many frames that diverges early costs only the frames up to there.
    ///
    /// # Errors
    /// When the header's settings are invalid (a replay that was read has valid ones).
    pub fn with_progress(
        replay: Replay,
        mut progress: impl FnMut(u32, u32),
    ) -> Result<Player, SettingsError> {
        let settings = replay.header.settings()?;
        let mut game = Game::new(settings);
        let mut trusted = Vec::new();
        let mut diverged = None;
        let mut keyframes = replay.keyframes.iter().enumerate().peekable();
        let total = replay.frames();
        for frame in 0..=total {
            while let Some((i, k)) = keyframes.next_if(|(_, k)| k.frame <= frame) {
                if k.frame == frame && k.snapshot.hash() == game.hash() {
                    trusted.push(i);
                }
            }
            let Some(inputs) = replay.inputs.get(frame as usize) else {
                break;
            };
            let hash = game.advance(inputs);
            progress(frame + 1, total);
            if replay.hashes.get(frame as usize) != Some(&hash) {
                diverged = Some(frame + 1);
                break;
            }
        }
        Ok(Player {
            replay,
            settings,
            played_through: game.frame(),
            game: Game::new(settings),
            trusted,
            diverged,
        })
    }

    /// Frames the play-through of [`Player::new`] simulated: all of them, or up to the
    /// first that diverged.
    pub fn played_through(&self) -> u32 {
        self.played_through
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

    /// The first frame whose state does not hash as recorded (known from the start).
    pub fn diverged(&self) -> Option<u32> {
        self.diverged
    }

    /// Keyframes that can be seeked from (their state is the one play reaches).
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
        self.learn();
        true
    }

    /// Trusts the keyframe of the current frame if its state is the one play reached (the
    /// play-through stops at the first divergence, so keyframes after it are learnt here, as
    /// playback or a seek passes them).
    fn learn(&mut self) {
        let frame = self.frame();
        let keyframes = &self.replay.keyframes;
        let Ok(i) = keyframes.binary_search_by_key(&frame, |k| k.frame) else {
            return;
        };
        if let Err(at) = self.trusted.binary_search(&i) {
            if keyframes[i].snapshot.hash() == self.game.hash() {
                self.trusted.insert(at, i);
            }
        }
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
