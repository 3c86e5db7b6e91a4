//! Regenerates the cross-target corpus in `fuzz/corpus/replays`: replays of 1-4 player
//! standard matches, a 10,000-creep swarm, and matches recorded from lossy network fuzz runs
//! (many rollbacks), with their final hashes in `EXPECTED`. Run it after a change of the rules
//! (`RULES_VERSION`) or the replay format, and commit the result:
//!
//! ```sh
//! cargo run --release -p fuzz --example make_corpus
//! ```

use std::fmt::Write;
use std::path::Path;

use fuzz::netfuzz::{NetCase, NetOptions};
use net::simnet::SimFaults;
use sim::{Script, Settings};

fn main() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("corpus/replays");
    std::fs::create_dir_all(&dir).expect("corpus directory");
    for entry in std::fs::read_dir(&dir).expect("corpus directory") {
        let path = entry.expect("entry").path();
        if path.extension().is_some_and(|e| e == "hltr") {
            std::fs::remove_file(path).expect("remove an old replay");
        }
    }
    let mut expected = String::from(
        "# NAME FRAMES HASH: the final hash every target must re-simulate each replay to.\n\
         # Regenerate with: cargo run --release -p fuzz --example make_corpus\n",
    );
    let mut add = |name: String,
                   settings: Settings,
                   inputs: &dyn Fn(u32, usize) -> sim::Input,
                   frames: u32| {
        let path = dir.join(&name);
        let hash = fuzz::record_inputs(&path, settings, frames, inputs).expect("write a replay");
        writeln!(expected, "{name} {frames} {hash}").expect("a string");
        println!("{name}: {frames} frames");
    };

    // Standard matches, 1 to 4 players: fuzz inputs (random actions) and human-like bots.
    for players in 1..=4u32 {
        for (kind, seed) in [
            ("random", 100 + u64::from(players)),
            ("human", 200 + u64::from(players)),
        ] {
            let settings = Settings::standard(seed, players);
            let frames = 1500;
            if kind == "random" {
                add(
                    format!("standard-{players}p-{kind}.hltr"),
                    settings,
                    &|f, s| fuzz::input(seed, f, s),
                    frames,
                );
            } else {
                add(
                    format!("standard-{players}p-{kind}.hltr"),
                    settings,
                    &|f, s| Script::Human.input(seed, f, s as u8),
                    frames,
                );
            }
        }
    }
    // The swarm: 10,000 creeps on 4 lanes.
    let swarm = Settings::swarm(300, 4, 10_000);
    add(
        "swarm-4p-10000.hltr".into(),
        swarm,
        &|f, s| fuzz::input(300, f, s),
        240,
    );

    // Matches played over a lossy simulated network: seat 0's confirmed inputs.
    let faults = SimFaults {
        loss_ppm: 200_000,
        dup_ppm: 50_000,
        reorder_ppm: 100_000,
        latency_us: 80_000,
        jitter_us: 40_000,
        partition_us: 300_000,
    };
    let mut made = 0;
    let mut seed = 400;
    while made < 11 {
        let peers = 2 + made % 3;
        let case = NetCase::new(
            seed,
            &NetOptions {
                peers: Some(peers),
                frames: 900,
                faults,
                broken: false,
                leave_ppm: 0,
            },
        );
        seed += 1;
        let (outcome, run) = case.run(false);
        if outcome.is_err() {
            continue;
        }
        let rollbacks: u64 = run.work.iter().map(|w| w.rollbacks).sum();
        let frames = &run.confirmed[0];
        let name = format!("net-{peers}p-seed{}-rollbacks{rollbacks}.hltr", case.seed);
        add(
            name,
            case.settings(),
            &|f, s| frames[f as usize].inputs[s],
            900,
        );
        made += 1;
    }
    std::fs::write(dir.join("EXPECTED"), expected).expect("write EXPECTED");
}
