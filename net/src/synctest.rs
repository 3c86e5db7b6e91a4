//! Sync-test: GGRS rolls the game back every frame and re-simulates up to `check_distance`
//! frames, comparing the checksum of every re-simulated frame with the first one. Any
//! non-determinism (state outside the snapshot, order-dependent rules) shows up as a mismatch.

use ggrs::{GgrsError, GgrsRequest, SessionBuilder};

use crate::game::{GgrsConfig, Rollback};

/// Parameters of a sync-test run.
#[derive(Clone, Copy, Debug)]
pub struct SyncTestOptions {
    /// Players whose inputs are fed each frame (GGRS allows 1 and more).
    pub players: usize,
    /// Frames re-simulated after each rollback, 1..=7 (GGRS needs it below max prediction 8).
    pub check_distance: usize,
    /// Frames to advance.
    pub frames: u32,
}

/// What a successful run did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SyncTestReport {
    /// Frames advanced (confirmed).
    pub frames: u32,
    /// Frames simulated in total, re-simulations included.
    pub simulated: u64,
    /// Rollbacks (loads) performed.
    pub rollbacks: u64,
}

/// Why a sync-test stopped.
#[derive(Debug, thiserror::Error)]
pub enum SyncTestError {
    /// A re-simulated frame did not reproduce its checksum: the game is not deterministic.
    #[error("checksum mismatch detected at frame {current_frame}: frames {mismatched_frames:?} re-simulated differently")]
    Mismatch {
        /// The frame being advanced when the mismatch was found.
        current_frame: i32,
        /// The frames whose checksums differed.
        mismatched_frames: Vec<i32>,
    },
    /// GGRS refused the configuration or a request.
    #[error("sync-test session failed: {0}")]
    Session(GgrsError),
    /// GGRS asked to load a frame that was never saved.
    #[error("GGRS asked to load frame {0}, which holds no saved state")]
    MissingState(i32),
}

/// Runs `game` through a GGRS sync-test session, with `input(frame, player)` as every player's
/// input.
///
/// # Errors
/// [`SyncTestError::Mismatch`] when a re-simulation differs; the other variants when GGRS
/// cannot run the session as configured.
pub fn run_synctest<G: Rollback + 'static>(
    game: &mut G,
    options: SyncTestOptions,
    mut input: impl FnMut(u32, usize) -> G::Input,
) -> Result<SyncTestReport, SyncTestError> {
    let mut session = SessionBuilder::<GgrsConfig<G>>::new()
        .with_num_players(options.players)
        .map_err(SyncTestError::Session)?
        .with_check_distance(options.check_distance)
        .with_input_delay(0)
        .start_synctest_session()
        .map_err(SyncTestError::Session)?;
    let mut report = SyncTestReport {
        frames: 0,
        simulated: 0,
        rollbacks: 0,
    };
    let mut inputs = Vec::with_capacity(options.players);
    for frame in 0..options.frames {
        for player in 0..options.players {
            session
                .add_local_input(player, input(frame, player))
                .map_err(SyncTestError::Session)?;
        }
        let requests = session.advance_frame().map_err(|err| match err {
            GgrsError::MismatchedChecksum {
                current_frame,
                mismatched_frames,
            } => SyncTestError::Mismatch {
                current_frame,
                mismatched_frames,
            },
            other => SyncTestError::Session(other),
        })?;
        for request in requests {
            match request {
                GgrsRequest::SaveGameState { cell, frame } => {
                    cell.save(frame, Some(game.save()), Some(game.checksum()));
                }
                GgrsRequest::LoadGameState { cell, frame } => {
                    let snapshot = cell.load().ok_or(SyncTestError::MissingState(frame))?;
                    game.load(&snapshot);
                    report.rollbacks += 1;
                }
                GgrsRequest::AdvanceFrame { inputs: given } => {
                    inputs.clear();
                    inputs.extend(given.iter().map(|(input, _status)| *input));
                    game.advance(&inputs);
                    report.simulated += 1;
                }
            }
        }
        report.frames += 1;
    }
    Ok(report)
}
