//! The golden hash pins the rules and the state encoding: any change to either must change
//! this value and `RULES_VERSION` in the same commit.

use sim::{Game, Script, Settings, RULES_VERSION};

use crate::run;

const GOLDEN_RULES_VERSION: u32 = 2;
const GOLDEN_STANDARD_1000: &str =
    "6b661deef741389278c6b4d6da3b33e63c729a1fd8785ce8c5fae1adb2141d8f";
const GOLDEN_SWARM_1000: &str = "ea6dec34f6103d1220fbcb2286af982ddb193a886b153734251923a34f6ee9a8";

/// Seed 42, 4 players, the random script: the hash at frame 1000 is pinned.
#[test]
fn standard_hash_at_frame_1000_is_pinned() {
    assert_eq!(
        RULES_VERSION, GOLDEN_RULES_VERSION,
        "RULES_VERSION changed: update the golden hashes in the same commit"
    );
    let mut game = Game::new(Settings::standard(42, 4));
    let hashes = run(&mut game, Script::Random, 42, 1000);
    assert_eq!(game.frame(), 1000);
    assert!(
        game.creep_count() > 0 && game.tower_count() > 0,
        "the script must exercise the rules"
    );
    assert_eq!(
        hashes[999].to_hex(),
        GOLDEN_STANDARD_1000,
        "the rules or the encoding changed: bump RULES_VERSION and the golden hashes together"
    );
}

/// The swarm at 2000 creeps, 3 players, seed 9: the hash at frame 1000 is pinned too.
#[test]
fn swarm_hash_at_frame_1000_is_pinned() {
    let mut game = Game::new(Settings::swarm(9, 3, 2000));
    let hashes = run(&mut game, Script::Random, 9, 1000);
    assert_eq!(
        hashes[999].to_hex(),
        GOLDEN_SWARM_1000,
        "the rules or the encoding changed: bump RULES_VERSION and the golden hashes together"
    );
}
