//! The small trait through which sessions drive a game, and GGRS's configuration for it.

use std::marker::PhantomData;

use serde::{de::DeserializeOwned, Serialize};

/// What a session needs from a deterministic game: advance from everyone's inputs, save, load,
/// and a checksum of the current state. Another deterministic game can use `net` by
/// implementing it.
pub trait Rollback {
    /// One player's input for one frame.
    type Input: Copy + PartialEq + Default + Serialize + DeserializeOwned + Send + Sync + 'static;
    /// A saved state.
    type Snapshot: Clone + Send + Sync + 'static;

    /// Advances one frame from every player's input, in player order.
    fn advance(&mut self, inputs: &[Self::Input]);
    /// Saves the whole state.
    fn save(&self) -> Self::Snapshot;
    /// Restores a state saved by [`Rollback::save`].
    fn load(&mut self, snapshot: &Self::Snapshot);
    /// A 32-byte hash of the current state.
    fn state_hash(&self) -> [u8; 32];

    /// Checksum of the current state, compared between rollbacks and between peers: the first
    /// 16 bytes of [`Rollback::state_hash`], little-endian.
    fn checksum(&self) -> u128 {
        checksum_of(&self.state_hash())
    }
}

/// The GGRS checksum of a 32-byte state hash: its first 16 bytes, little-endian.
pub fn checksum_of(hash: &[u8; 32]) -> u128 {
    let mut first = [0u8; 16];
    first.copy_from_slice(&hash[..16]);
    u128::from_le_bytes(first)
}

impl Rollback for sim::Game {
    type Input = sim::Input;
    type Snapshot = sim::Snapshot;

    fn advance(&mut self, inputs: &[sim::Input]) {
        sim::Game::advance(self, inputs);
    }

    fn save(&self) -> sim::Snapshot {
        sim::Game::save(self)
    }

    fn load(&mut self, snapshot: &sim::Snapshot) {
        sim::Game::load(self, snapshot);
    }

    fn state_hash(&self) -> [u8; 32] {
        self.hash().0
    }
}

/// GGRS's type bundle for a game `G` whose peers are named by `A` (a socket address for UDP,
/// a signaling peer id for WebRTC).
pub struct GgrsConfig<G, A = std::net::SocketAddr>(PhantomData<fn() -> (G, A)>);

impl<G: Rollback + 'static, A: crate::transport::Address> ggrs::Config for GgrsConfig<G, A> {
    type Input = G::Input;
    type InputPredictor = ggrs::PredictRepeatLast;
    type State = G::Snapshot;
    type Address = A;
}
