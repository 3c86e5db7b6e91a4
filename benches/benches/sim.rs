//! Criterion benchmarks of the core, named by operation and size: one tick of the swarm (and
//! its rules alone), save, load and hash (full and incremental) of its state beside memcpy
//! and raw blake3 of the same number of bytes, an 8-frame rollback, and the naive baseline
//! (clone the hecs world entity by entity, serialise, hash; parse and respawn), so the figures
//! read as ratios taken in the same run.

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use sim::hashtree::HashTree;
use sim::{Input, Script};

const SIZES: [(u32, &str); 3] = [(1_000, "1k"), (10_000, "10k"), (100_000, "100k")];

fn tick(c: &mut Criterion) {
    let mut group = c.benchmark_group("tick");
    group.sample_size(20);
    for (creeps, name) in SIZES {
        let mut game = benches::swarm(creeps, 30);
        let mut inputs = [Input::IDLE; 4];
        group.throughput(Throughput::Elements(u64::from(creeps)));
        group.bench_function(format!("tick_{name}"), |b| {
            b.iter(|| {
                Script::Random.inputs(1, game.frame(), &mut inputs);
                black_box(game.advance(&inputs))
            })
        });
        // The rules alone; every tick is followed by a hashed one, as a game must stay hashed.
        group.bench_function(format!("rules_{name}"), |b| {
            b.iter_custom(|iters| {
                let mut spent = std::time::Duration::ZERO;
                for _ in 0..iters {
                    Script::Random.inputs(1, game.frame(), &mut inputs);
                    let start = std::time::Instant::now();
                    game.advance_rules_only(&inputs);
                    spent += start.elapsed();
                    Script::Random.inputs(1, game.frame(), &mut inputs);
                    game.advance(&inputs);
                }
                spent
            })
        });
    }
    group.finish();
}

fn snapshot(c: &mut Criterion) {
    let mut group = c.benchmark_group("snapshot");
    for (creeps, name) in SIZES {
        let mut game = benches::swarm(creeps, 30);
        let mut saved = game.save();
        let bytes = saved.state_bytes();
        group.throughput(Throughput::Bytes(bytes as u64));

        group.bench_function(format!("save_{name}"), |b| {
            b.iter(|| game.save_into(black_box(&mut saved)))
        });
        group.bench_function(format!("load_in_place_{name}"), |b| {
            b.iter(|| game.load(black_box(&saved)))
        });
        // Two states with different creep counts: every load despawns or spawns the difference.
        let mut other = benches::swarm(creeps, 31);
        let saved_other = other.save();
        let mut flip = false;
        group.bench_function(format!("load_resize_{name}"), |b| {
            b.iter(|| {
                flip = !flip;
                other.load(black_box(if flip { &saved } else { &saved_other }))
            })
        });
        group.bench_function(format!("hash_full_{name}"), |b| {
            b.iter(|| black_box(game.compute_hash()))
        });
        // The incremental hash, alternating between the state and a variant of it: one tick
        // later (every creep moved), 1% of the creeps changed in one run, and no change.
        let (encoded, later, touched) = benches::hash_variants(&mut game);
        for (variant, label) in [(&later, "tick"), (&touched, "1pct"), (&encoded, "none")] {
            let mut tree = HashTree::new();
            let mut which = false;
            group.bench_function(format!("hash_incremental_{label}_{name}"), |b| {
                b.iter(|| {
                    which = !which;
                    black_box(tree.update(&[if which { variant } else { &encoded }]))
                })
            });
        }

        let source = vec![0x5Au8; bytes];
        let mut dest = vec![0u8; bytes];
        group.bench_function(format!("memcpy_{name}"), |b| {
            b.iter(|| dest.copy_from_slice(black_box(&source)))
        });
        group.bench_function(format!("blake3_{name}"), |b| {
            b.iter(|| black_box(blake3_raw(&source)))
        });
    }
    group.finish();
}

/// One full rollback as GGRS asks for it: load a snapshot 8 frames back, then 8 times tick
/// (which ends with the state hash) and save (the budget is one 60 Hz frame, 16.6 ms).
fn rollback8(c: &mut Criterion) {
    let mut group = c.benchmark_group("rollback");
    group.sample_size(10);
    for (creeps, name) in SIZES {
        let mut game = benches::swarm(creeps, 30);
        let start = game.save();
        let mut saves: Vec<sim::Snapshot> = (0..8).map(|_| game.save()).collect();
        let mut inputs = [Input::IDLE; 4];
        group.bench_function(format!("rollback8_{name}"), |b| {
            b.iter(|| {
                game.load(&start);
                for save in &mut saves {
                    Script::Random.inputs(1, game.frame(), &mut inputs);
                    // The tick ends with the state's hash (what a session sends as checksum).
                    black_box(game.advance(&inputs));
                    game.save_into(save);
                }
            })
        });
    }
    group.finish();
}

/// The naive baseline (`benches::naive`) beside our save + load at the same size.
fn naive(c: &mut Criterion) {
    let mut group = c.benchmark_group("naive");
    group.sample_size(10);
    for (creeps, name) in SIZES {
        let mut game = benches::swarm(creeps, 30);
        let world = benches::naive::world_of(&game);
        group.bench_function(format!("naive_save_load_{name}"), |b| {
            b.iter(|| black_box(benches::naive::load(&benches::naive::save(&world))))
        });
        let mut saved = game.save();
        group.bench_function(format!("save_load_{name}"), |b| {
            b.iter(|| {
                game.save_into(&mut saved);
                black_box(game.load(&saved))
            })
        });
    }
    group.finish();
}

fn blake3_raw(bytes: &[u8]) -> [u8; 32] {
    *blake3::hash(bytes).as_bytes()
}

criterion_group!(benches, tick, snapshot, rollback8, naive);
criterion_main!(benches);
