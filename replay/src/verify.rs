//! Re-simulating a replay and comparing every hash.

use sim::{Game, StateHash};

use crate::read::Replay;

/// What re-simulating found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Every recorded hash (and every keyframe) matched; the last frame and its hash.
    Ok { frames: u32, hash: StateHash },
    /// The first frame whose state hashed differently from the recording.
    Diverged {
        frame: u32,
        expected: StateHash,
        got: StateHash,
    },
}

/// Re-simulates every recorded frame from the header's settings and compares each state's
/// hash with the recorded one, and each keyframe's with the state at its frame.
pub fn verify(replay: &Replay) -> Verdict {
    let Ok(settings) = replay.header.settings() else {
        // `read` checked the settings; an invalid one cannot reach here.
        return Verdict::Diverged {
            frame: 0,
            expected: StateHash::ZERO,
            got: StateHash::ZERO,
        };
    };
    let mut game = Game::new(settings);
    let mut keyframes = replay.keyframes.iter().peekable();
    let mut check_keyframe = |game: &Game| {
        while let Some(k) = keyframes.next_if(|k| k.frame <= game.frame()) {
            if k.frame == game.frame() && k.snapshot.hash() != game.hash() {
                return Some(Verdict::Diverged {
                    frame: k.frame,
                    expected: k.snapshot.hash(),
                    got: game.hash(),
                });
            }
        }
        None
    };
    if let Some(diverged) = check_keyframe(&game) {
        return diverged;
    }
    for (inputs, expected) in replay.inputs.iter().zip(&replay.hashes) {
        let got = game.advance(inputs);
        if got != *expected {
            return Verdict::Diverged {
                frame: game.frame(),
                expected: *expected,
                got,
            };
        }
        if let Some(diverged) = check_keyframe(&game) {
            return diverged;
        }
    }
    Verdict::Ok {
        frames: game.frame(),
        hash: game.hash(),
    }
}
