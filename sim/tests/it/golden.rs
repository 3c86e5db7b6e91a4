//! The golden hash pins the rules and the state encoding: any change to either must change
//! this value and `RULES_VERSION` in the same commit.

use sim::{Game, Script, Settings, RULES_VERSION};

use crate::run;

const GOLDEN_RULES_VERSION: u32 = 1;
const GOLDEN_STANDARD_1000: &str =
    "d465a2c76a63b00ac0d3ba3cdd66734f4cbc4eed45133924f784339c8455ad86";
const GOLDEN_SWARM_1000: &str = "07307a0453f5d396f9062b3669c31e8c928e26f340fb5c18c16599fd5854fa9c";

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
