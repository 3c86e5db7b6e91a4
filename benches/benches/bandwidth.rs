//! Bandwidth of a played match, as a criterion benchmark whose measurement is bytes, not time:
//! bytes each player sends per second at 60 Hz with encryption, counting 28 bytes of IPv4 and
//! UDP header per datagram, at 2 and 4 players. Each sample is a real-time match on loopback
//! with bots; one iteration is one second of play, so criterion's "time" per iteration reads
//! as bytes per second per player.
//! The goal is at most 8 KiB/s per player at 4 players.
//!
//! `HLTD_BENCH_SEND_EVERY=N` sends a datagram every N frames instead of the default.

// Criterion's measurement interface is in f64; nothing here feeds the simulation.
#![allow(clippy::float_arithmetic)]

use std::time::Duration;

use criterion::measurement::{Measurement, ValueFormatter};
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use net::local::{run_local_match, LocalMatchOptions};
use net::session::SessionOptions;
use sim::Script;

/// IPv4 (20) and UDP (8) header bytes per datagram.
const IP_UDP_HEADER: u64 = 28;
/// Frames per second of a played match.
const FPS: f64 = 60.0;

/// Bytes sent, as a criterion measurement.
struct BytesSent;

impl Measurement for BytesSent {
    type Intermediate = ();
    type Value = u64;

    fn start(&self) {}
    fn end(&self, _: ()) -> u64 {
        0
    }
    fn add(&self, a: &u64, b: &u64) -> u64 {
        a + b
    }
    fn zero(&self) -> u64 {
        0
    }
    fn to_f64(&self, value: &u64) -> f64 {
        *value as f64
    }
    fn formatter(&self) -> &dyn ValueFormatter {
        &PerSecond
    }
}

/// Bytes per iteration (one second of play) shown as bytes per second.
struct PerSecond;

impl ValueFormatter for PerSecond {
    fn scale_values(&self, _typical: f64, _values: &mut [f64]) -> &'static str {
        "B/s per player"
    }
    fn scale_throughputs(
        &self,
        _typical: f64,
        _t: &Throughput,
        _values: &mut [f64],
    ) -> &'static str {
        "B/s per player"
    }
    fn scale_for_machines(&self, _values: &mut [f64]) -> &'static str {
        "B/s per player"
    }
}

/// Plays `frames` frames in real time and returns the mean bytes one player sent.
fn bytes_per_player(players: usize, frames: u32, bots: Script) -> u64 {
    let every = std::env::var("HLTD_BENCH_SEND_EVERY")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(net::session::DEFAULT_SEND_EVERY_FRAMES);
    let options = LocalMatchOptions {
        peers: players,
        frames,
        seed: 1,
        bots,
        loss_ppm: 0,
        latency: Duration::ZERO,
        inject_desync: None,
        leave: None,
        spectator: false,
        realtime: true,
        session: SessionOptions {
            send_every_frames: every,
            ..SessionOptions::default()
        },
        // WebRTC needs a network namespace of its own (see README), which a benchmark run on
        // the host does not have; its figures were taken by hand.
        transport: net::local::LocalTransport::Udp,
    };
    let report = run_local_match(&options)
        .unwrap_or_else(|err| panic!("bandwidth: {players} players: {err}"));
    let total: u64 = report
        .peers
        .iter()
        .flat_map(|p| &p.links)
        .map(|l| l.traffic.bytes_sent + l.traffic.packets_sent * IP_UDP_HEADER)
        .sum();
    // Scale to exactly `frames` frames: the match runs a little past the target to confirm it.
    let played = report.elapsed.as_secs_f64() * FPS;
    (total as f64 / players as f64 * f64::from(frames) / played.max(1.0)) as u64
}

fn bandwidth(c: &mut Criterion<BytesSent>) {
    let mut group = c.benchmark_group("bandwidth");
    group.sample_size(10);
    group.warm_up_time(Duration::from_secs(1));
    group.measurement_time(Duration::from_secs(10));
    for (players, bots, name) in [
        (2, Script::Human, "human"),
        (4, Script::Human, "human"),
        (4, Script::Random, "random_cursor"),
    ] {
        group.bench_function(BenchmarkId::new(format!("{players}_players"), name), |b| {
            // One iteration: one second of play.
            b.iter_custom(|seconds| bytes_per_player(players, (seconds as u32).max(1) * 60, bots))
        });
    }
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().with_measurement(BytesSent);
    targets = bandwidth
}
criterion_main!(benches);
