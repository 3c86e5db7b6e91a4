//! Restores reproduce the state exactly: stable ids, storage order, hashes, and the future.

use sim::{Game, LoadPath, Script, Settings, View};

use crate::{game_at, run};

fn uids(game: &Game) -> (Vec<u32>, Vec<u32>) {
    (
        game.creeps().iter().map(|c| c.uid).collect(),
        game.towers().iter().map(|t| t.uid).collect(),
    )
}

/// Entities spawned and despawned after a save are undone by the load: the same stable ids in
/// the same storage order, and the same ids handed out afterwards.
#[test]
fn ids_survive_spawns_and_despawns_across_a_restore() {
    let seed = 5;
    let mut game = game_at(seed, 4, 1500);
    let saved = game.save();
    let ids_at_save = uids(&game);
    assert!(
        !ids_at_save.0.is_empty(),
        "creeps must be alive at the save"
    );

    let first = run(&mut game, Script::Random, seed, 300);
    let ids_after = uids(&game);
    let gone = ids_at_save
        .0
        .iter()
        .filter(|u| !ids_after.0.contains(u))
        .count();
    let born = ids_after
        .0
        .iter()
        .filter(|u| !ids_at_save.0.contains(u))
        .count();
    assert!(
        gone > 0 && born > 0,
        "the window must despawn ({gone}) and spawn ({born}) creeps"
    );

    game.load(&saved);
    assert_eq!(
        uids(&game),
        ids_at_save,
        "ids and order after the load equal those at the save"
    );
    assert_eq!(game.hash(), saved.hash());

    let second = run(&mut game, Script::Random, seed, 300);
    assert_eq!(
        first, second,
        "the replayed window hashes the same, tick by tick"
    );
    assert_eq!(
        uids(&game),
        ids_after,
        "and spawns the same ids in the same order"
    );
}

/// Loading into a fresh game (another world, other hecs ids) continues identically.
#[test]
fn load_into_a_fresh_game_continues_identically() {
    let seed = 11;
    let mut original = game_at(seed, 3, 2000);
    let saved = original.save();
    let mut copy = Game::new(Settings::standard(999, 1));
    copy.load(&saved);
    assert_eq!(copy.view(), original.view());
    assert_eq!(
        run(&mut copy, Script::Random, seed, 400),
        run(&mut original, Script::Random, seed, 400)
    );
}

/// A load with no structural change since the save copies values back in place; one after
/// spawns or despawns resizes the archetypes; both restore the same view.
#[test]
fn in_place_and_resizing_loads_restore_values() {
    let mut game = game_at(3, 2, 900);
    let saved = game.save();
    let view: View = game.view();
    // Find a tick that moves creeps without spawning or despawning any.
    let mut probe = game_at(3, 2, 900);
    let mut idle_ticks = 0;
    loop {
        let before = uids(&probe);
        run(&mut probe, Script::Idle, 3, 1);
        if uids(&probe) != before {
            break;
        }
        idle_ticks += 1;
    }
    assert!(
        idle_ticks > 0,
        "the probe needs a tick without structural change"
    );
    run(&mut game, Script::Idle, 3, idle_ticks);
    assert_ne!(game.view().creeps, view.creeps, "creeps moved");
    assert_eq!(game.load(&saved), LoadPath::InPlace);
    assert_eq!(game.view(), view);
    assert_eq!(game.hash(), saved.hash());

    run(&mut game, Script::Idle, 3, idle_ticks + 1);
    assert_ne!(uids(&game), uids_of(&view), "the structure changed");
    assert_eq!(game.load(&saved), LoadPath::Resized);
    assert_eq!(game.view(), view);
    assert_eq!(game.compute_hash(), saved.hash());
    assert_eq!(saved.rehash(), saved.hash());
}

fn uids_of(view: &View) -> (Vec<u32>, Vec<u32>) {
    (
        view.creeps.iter().map(|c| c.uid).collect(),
        view.towers.iter().map(|t| t.uid).collect(),
    )
}

/// The canonical encoding round-trips: a decoded snapshot has the saved hash, and a fresh game
/// that loads it plays on exactly like the original.
#[test]
fn encoded_snapshots_decode_and_play_on() {
    let seed = 8;
    let mut game = game_at(seed, 3, 1200);
    let mut bytes = Vec::new();
    game.save().encode(&mut bytes);
    assert_eq!(bytes.len(), game.save().state_bytes());
    let decoded = sim::Snapshot::decode(&bytes).expect("decode");
    assert_eq!(decoded.hash(), game.hash());
    let mut other = Game::new(Settings::standard(seed, 3));
    assert_eq!(other.load(&decoded), LoadPath::Resized);
    assert_eq!(other.hash(), game.hash());
    assert_eq!(
        run(&mut other, Script::Random, seed, 300),
        run(&mut game, Script::Random, seed, 300)
    );
}

/// Every truncation and every trailing byte is an error naming the offset; random bytes
/// behind the magic never panic (seeded).
#[test]
fn snapshot_decoding_is_total() {
    let game = game_at(2, 2, 900);
    let mut bytes = Vec::new();
    game.save().encode(&mut bytes);
    for cut in 0..bytes.len() {
        assert!(
            matches!(
                sim::Snapshot::decode(&bytes[..cut]),
                Err(sim::SnapshotError::Truncated { .. } | sim::SnapshotError::Magic)
            ),
            "cut at {cut}"
        );
    }
    let mut longer = bytes.clone();
    longer.push(0);
    assert_eq!(
        sim::Snapshot::decode(&longer).err(),
        Some(sim::SnapshotError::Trailing(bytes.len()))
    );
    let seed = 11;
    let mut rng = oorandom::Rand32::new(seed);
    for round in 0..2000 {
        let len = rng.rand_range(0..400) as usize;
        let mut junk: Vec<u8> = b"HLTDSTAT".to_vec();
        junk.extend((0..len).map(|_| rng.rand_u32() as u8));
        // The creep count follows the magic and the globals: make it plausible half the
        // time, so decoding gets past it.
        let count_at = 8 + std::mem::size_of::<sim::Globals>();
        if round % 2 == 0 && junk.len() >= count_at + 4 {
            junk[count_at..count_at + 4].copy_from_slice(&(rng.rand_range(0..4)).to_le_bytes());
        }
        let _ = sim::Snapshot::decode(&junk);
    }
}

/// Loads between any two frames of a swarm, whose creeps die and spawn every tick (so counts
/// go up and down and records move), restore the saved state exactly, and the game then plays
/// on to the same hashes as the first time. Seeded; `RESTORE_SEED` overrides the seed.
#[test]
fn loads_between_any_frames_restore_and_replay() {
    let seed: u64 = std::env::var("RESTORE_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(20_261_121);
    let mut game = Game::new(Settings::swarm(seed, 3, 600));
    let mut inputs = [sim::Input::IDLE; 3];
    let mut saves = vec![game.save()];
    let mut hashes = vec![game.hash()];
    for _ in 0..150 {
        Script::Random.inputs(seed, game.frame(), &mut inputs);
        hashes.push(game.advance(&inputs));
        saves.push(game.save());
    }
    let counts: std::collections::BTreeSet<u32> = saves
        .iter()
        .map(|s| s.creep_records().len() as u32)
        .collect();
    assert!(counts.len() > 3, "creep counts vary: {counts:?}");
    let mut rng = oorandom::Rand32::new(seed);
    let (mut in_place, mut resized) = (0, 0);
    for round in 0..200 {
        let from = rng.rand_range(0..saves.len() as u32) as usize;
        match game.load(&saves[from]) {
            LoadPath::InPlace => in_place += 1,
            LoadPath::Resized => resized += 1,
        }
        assert_eq!(
            (game.frame(), game.compute_hash()),
            (saves[from].frame(), saves[from].hash()),
            "seed {seed}, round {round}: load of frame {from}"
        );
        let ahead = (from + 1 + rng.rand_range(0..6) as usize).min(saves.len() - 1);
        for (frame, hash) in hashes.iter().enumerate().take(ahead + 1).skip(from + 1) {
            Script::Random.inputs(seed, game.frame(), &mut inputs);
            assert_eq!(
                game.advance(&inputs),
                *hash,
                "seed {seed}, round {round}: frame {frame} after a load of frame {from}"
            );
        }
    }
    assert!(
        in_place > 0 && resized > 0,
        "both paths ran: {in_place} {resized}"
    );
}
