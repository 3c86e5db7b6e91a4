//! Criterion benchmarks of the core, named by operation and size: one tick of the swarm, and
//! save, load and hash of its state, beside memcpy and raw blake3 of the same number of bytes
//! so the figures read as ratios taken in the same run.

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
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
        // Two states with different structure: every load rebuilds the archetypes.
        let mut other = benches::swarm(creeps, 31);
        let saved_other = other.save();
        let mut flip = false;
        group.bench_function(format!("load_rebuild_{name}"), |b| {
            b.iter(|| {
                flip = !flip;
                other.load(black_box(if flip { &saved } else { &saved_other }))
            })
        });
        group.bench_function(format!("hash_{name}"), |b| {
            b.iter(|| black_box(game.compute_hash()))
        });

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

fn blake3_raw(bytes: &[u8]) -> [u8; 32] {
    *blake3::hash(bytes).as_bytes()
}

criterion_group!(benches, tick, snapshot, rollback8);
criterion_main!(benches);
