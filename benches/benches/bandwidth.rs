//! Bandwidth of a played match: bytes per second each player sends at 60 Hz with
//! encryption, counting 28 bytes of IPv4 and UDP header per datagram, at 2 and 4 players.
//! Each match runs in real time on loopback (10 seconds by default; `HLTD_BENCH_FRAMES`
//! overrides the frame count). Not a criterion benchmark: it measures traffic, not time.

// Reporting averages only; nothing here feeds the simulation.
#![allow(clippy::float_arithmetic)]

use std::time::Duration;

use net::local::{run_local_match, LocalMatchOptions};
use net::session::SessionOptions;

/// IPv4 (20) and UDP (8) header bytes per datagram.
const IP_UDP_HEADER: u64 = 28;
/// The goal at 4 players, per player.
const GOAL_BYTES_PER_S: u64 = 8 * 1024;

fn main() {
    // `cargo bench` passes `--bench`; `cargo test --benches` passes nothing: run a short match.
    let quick = !std::env::args().any(|a| a == "--bench");
    let frames: u32 = std::env::var("HLTD_BENCH_FRAMES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(if quick { 60 } else { 600 });
    let every: u32 = std::env::var("HLTD_BENCH_SEND_EVERY")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(net::session::DEFAULT_SEND_EVERY_FRAMES);
    println!("sending every {every} frame(s)");
    println!("players  bytes/s per player (with IP+UDP)  datagrams/s per player  goal at 4: {GOAL_BYTES_PER_S}");
    for (players, bots) in [
        (2usize, sim::Script::Human),
        (4, sim::Script::Human),
        (4, sim::Script::Random),
    ] {
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
        };
        let report = match run_local_match(&options) {
            Ok(report) => report,
            Err(err) => {
                eprintln!("bandwidth: {players} players: {err}");
                std::process::exit(1);
            }
        };
        let seconds = report.elapsed.as_secs_f64();
        let per_player: Vec<(u64, u64)> = report
            .peers
            .iter()
            .map(|p| {
                let packets: u64 = p.links.iter().map(|l| l.traffic.packets_sent).sum();
                let bytes: u64 = p.links.iter().map(|l| l.traffic.bytes_sent).sum();
                (bytes + packets * IP_UDP_HEADER, packets)
            })
            .collect();
        let n = per_player.len() as f64;
        let bytes = per_player.iter().map(|p| p.0 as f64).sum::<f64>() / n / seconds;
        let packets = per_player.iter().map(|p| p.1 as f64).sum::<f64>() / n / seconds;
        let mark = if players == 4 && bots == sim::Script::Human {
            if bytes <= GOAL_BYTES_PER_S as f64 {
                "  pass"
            } else {
                "  FAIL"
            }
        } else {
            ""
        };
        let who = if bots == sim::Script::Human {
            "human-like"
        } else {
            "random cursor"
        };
        println!("{players:>7}  {bytes:>33.0}  {packets:>22.1}  bots: {who}{mark}");
    }
}
