//! Player inputs: four bytes per player per tick, every value legal.
//!
//! An input carries the player's cursor and at most one action at it. Inputs come from the
//! network, so decoding is total: any 4 bytes decode to a [`Command`], and an action that does
//! not apply (unknown code, cell outside the lane, on the path, not enough gold) is a no-op.

use serde::{Deserialize, Serialize};

use crate::rules::{TowerKind, LANE_H, LANE_W};

/// One player's input for one tick. Plain bytes, so garbage is representable and harmless.
#[derive(
    Clone,
    Copy,
    Debug,
    Default,
    PartialEq,
    Eq,
    Hash,
    Serialize,
    Deserialize,
    bytemuck::Pod,
    bytemuck::Zeroable,
)]
#[repr(C)]
pub struct Input {
    /// Action code, see [`Input::decode`].
    pub action: u8,
    /// Action argument: the tower kind for a build.
    pub arg: u8,
    /// Cursor column inside the player's lane.
    pub x: u8,
    /// Cursor row inside the player's lane.
    pub y: u8,
}

const _: () = assert!(std::mem::size_of::<Input>() == 4);

/// Action codes carried in [`Input::action`].
pub mod action {
    /// Nothing.
    pub const NONE: u8 = 0;
    /// Build the tower kind in `arg` at the cursor.
    pub const BUILD: u8 = 1;
    /// Upgrade the tower at the cursor.
    pub const UPGRADE: u8 = 2;
    /// Sell the tower at the cursor for half of what was spent on it.
    pub const SELL: u8 = 3;
    /// Repair the tower at the cursor to full hit points.
    pub const REPAIR: u8 = 4;
    /// Ask to pause or resume the match (any player can).
    pub const PAUSE: u8 = 5;
}

/// What an input asks for, after validation of its shape (not of the game state).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Command {
    /// Nothing this tick (also: anything undecodable).
    Idle,
    /// Move the cursor only.
    Cursor { x: u8, y: u8 },
    /// Build a tower.
    Build { x: u8, y: u8, kind: TowerKind },
    /// Upgrade the tower at the cell.
    Upgrade { x: u8, y: u8 },
    /// Sell the tower at the cell.
    Sell { x: u8, y: u8 },
    /// Repair the tower at the cell.
    Repair { x: u8, y: u8 },
    /// Toggle the pause.
    Pause,
}

impl Input {
    /// The idle input: no action, cursor at the lane's corner.
    pub const IDLE: Input = Input {
        action: action::NONE,
        arg: 0,
        x: 0,
        y: 0,
    };

    /// Builds an input from its parts.
    pub const fn new(action: u8, arg: u8, x: u8, y: u8) -> Input {
        Input { action, arg, x, y }
    }

    /// Interprets the bytes. Total: every value maps to some command.
    pub fn decode(self) -> Command {
        if self.action == action::PAUSE {
            return Command::Pause;
        }
        if self.x >= LANE_W || self.y >= LANE_H {
            return Command::Idle;
        }
        let (x, y) = (self.x, self.y);
        match self.action {
            action::BUILD => match TowerKind::from_u8(self.arg) {
                Some(kind) => Command::Build { x, y, kind },
                None => Command::Cursor { x, y },
            },
            action::UPGRADE => Command::Upgrade { x, y },
            action::SELL => Command::Sell { x, y },
            action::REPAIR => Command::Repair { x, y },
            _ => Command::Cursor { x, y },
        }
    }

    /// The input as its 4 wire bytes.
    pub fn to_bytes(self) -> [u8; 4] {
        [self.action, self.arg, self.x, self.y]
    }

    /// The input from its 4 wire bytes. Total.
    pub fn from_bytes(bytes: [u8; 4]) -> Input {
        Input::new(bytes[0], bytes[1], bytes[2], bytes[3])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The spec of decoding, as an independent table: pause anywhere; otherwise a cursor
    /// outside the lane is idle; build needs a known kind; unknown actions move the cursor.
    fn expected(input: Input) -> Command {
        let (x, y) = (input.x, input.y);
        if input.action == action::PAUSE {
            Command::Pause
        } else if x >= LANE_W || y >= LANE_H {
            Command::Idle
        } else {
            match (input.action, input.arg) {
                (1, 0) => Command::Build {
                    x,
                    y,
                    kind: TowerKind::Arrow,
                },
                (1, 1) => Command::Build {
                    x,
                    y,
                    kind: TowerKind::Cannon,
                },
                (1, 2) => Command::Build {
                    x,
                    y,
                    kind: TowerKind::Frost,
                },
                (1, 3) => Command::Build {
                    x,
                    y,
                    kind: TowerKind::Healer,
                },
                (2, _) => Command::Upgrade { x, y },
                (3, _) => Command::Sell { x, y },
                (4, _) => Command::Repair { x, y },
                _ => Command::Cursor { x, y },
            }
        }
    }

    /// Decoding is total and follows the spec over every action code and the edges of every
    /// other field.
    #[test]
    fn decode_follows_the_spec() {
        for action in 0..=u8::MAX {
            for arg in [0, 1, 2, 3, 4, 255] {
                for x in [0, 9, 10, 255] {
                    for y in [0, 15, 16, 255] {
                        let input = Input::new(action, arg, x, y);
                        assert_eq!(input.decode(), expected(input), "{input:?}");
                        assert_eq!(Input::from_bytes(input.to_bytes()), input);
                    }
                }
            }
        }
    }
}
