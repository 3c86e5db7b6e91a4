//! Criterion benchmarks of replays: verify speed in frames per second (goal: 60,000, a
//! thousand times real time, for a 4-player standard match) and the worst seek in a
//! 30-minute replay (goal: 50 ms). The setup prints the replay sizes.
//!
//! The scripted players lose a standard match partway (the base falls in wave 9); after that
//! the state stands still but for the frame counter, and frames are cheap. So verify speed is
//! measured on the part of the match where the game is running, and on a whole 10-minute
//! replay beside it.

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use sim::{Game, Input, Script, Settings, Status};

const TEN_MINUTES: u32 = 36_000;
const THIRTY_MINUTES: u32 = 108_000;

/// Frames of a 4-player standard match of scripted players before it is won or lost.
fn running_frames(script: Script) -> u32 {
    let mut game = Game::new(Settings::standard(1, 4));
    let mut inputs = [Input::IDLE; 4];
    while game.status() == Status::Running && game.frame() < TEN_MINUTES {
        script.inputs(1, game.frame(), &mut inputs);
        game.advance(&inputs);
    }
    game.frame()
}

fn verify(c: &mut Criterion) {
    let running = running_frames(Script::Random);
    let active = replay::read(&benches::recorded(4, running, Script::Random)).expect("replay");
    let whole_bytes = benches::recorded(4, TEN_MINUTES, Script::Random);
    let human_bytes = benches::recorded(4, TEN_MINUTES, Script::Human);
    eprintln!(
        "replay sizes: 10 minutes, 4 players: {} bytes (random-cursor bots), {} bytes \
         (human-like bots); the match runs {running} frames before the base falls",
        whole_bytes.len(),
        human_bytes.len()
    );
    let whole = replay::read(&whole_bytes).expect("replay");

    let mut group = c.benchmark_group("replay");
    group.sample_size(10);
    group.throughput(Throughput::Elements(u64::from(running)));
    group.bench_function("verify_4p_standard_running", |b| {
        b.iter(|| black_box(replay::verify(&active)))
    });
    group.throughput(Throughput::Elements(u64::from(TEN_MINUTES)));
    group.bench_function("verify_4p_standard_10min", |b| {
        b.iter(|| black_box(replay::verify(&whole)))
    });
    // Reading (chunk checksums, the hash chain, decoding keyframes) is part of `replay
    // verify` too.
    group.bench_function("read_4p_standard_10min", |b| {
        b.iter(|| black_box(replay::read(&whole_bytes).expect("replay")))
    });
    group.finish();
}

fn seek(c: &mut Criterion) {
    let bytes = benches::recorded(4, THIRTY_MINUTES, Script::Random);
    let replay = replay::read(&bytes).expect("replay");
    let opened = Instant::now();
    let mut player = replay::Player::new(replay).expect("player");
    eprintln!(
        "opening a 30-minute replay for playback (one play-through): {:?}",
        opened.elapsed()
    );
    // The slowest seek lands one frame before a keyframe: 599 frames to simulate. Time every
    // such seek once, from the far end, and benchmark the slowest.
    let mut worst = (Duration::ZERO, 0);
    for keyframe in (0..THIRTY_MINUTES).step_by(600) {
        let target = keyframe + 599;
        player.seek(THIRTY_MINUTES);
        let started = Instant::now();
        player.seek(target);
        let took = started.elapsed();
        if took > worst.0 {
            worst = (took, target);
        }
    }
    eprintln!(
        "slowest seek in a 30-minute replay: to frame {} ({:?} in the survey)",
        worst.1, worst.0
    );
    let target = worst.1;
    let mut group = c.benchmark_group("replay");
    group.sample_size(20);
    group.bench_function("seek_worst_30min", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                player.seek(THIRTY_MINUTES);
                let started = Instant::now();
                black_box(player.seek(target));
                total += started.elapsed();
            }
            total
        })
    });
    group.finish();
}

criterion_group!(benches, verify, seek);
criterion_main!(benches);
