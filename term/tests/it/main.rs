//! The `hltd` binary, run as a user runs it.

mod args;
mod disk;
mod flood;
mod fuzz;
mod network;
mod replay;
mod tui;
mod webrtc;

use std::process::{Command, Output};

/// The replay directory every `hltd` of these tests writes to by default (through
/// `XDG_DATA_HOME`), so tests never write into the user's own.
fn data_home() -> std::path::PathBuf {
    std::env::temp_dir().join(format!("hltd-tests-{}", std::process::id()))
}

fn hltd(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_hltd"))
        .env("XDG_DATA_HOME", data_home())
        .args(args)
        .output()
        .expect("hltd runs")
}

/// `hltd sim` prints one line, `frame=<N> hash=<64 hex>`, the same on every run.
#[test]
fn sim_prints_a_stable_line() {
    let args = ["sim", "--seed", "7", "--players", "4", "--frames", "600"];
    let first = hltd(&args);
    let second = hltd(&args);
    assert!(first.status.success());
    let line = String::from_utf8(first.stdout.clone()).expect("utf-8");
    let hash = line
        .strip_prefix("frame=600 hash=")
        .and_then(|rest| rest.strip_suffix('\n'))
        .expect("frame=600 hash=<hex>\\n");
    assert_eq!(hash.len(), 64);
    assert!(hash
        .bytes()
        .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()));
    assert_eq!(first.stdout, second.stdout);
}

/// The line is the library's hash: the binary adds nothing of its own.
#[test]
fn sim_line_matches_the_library() {
    let out = hltd(&["sim", "--seed", "42", "--players", "4", "--frames", "1000"]);
    let mut game = sim::Game::new(sim::Settings::standard(42, 4));
    let mut inputs = [sim::Input::IDLE; 4];
    for _ in 0..1000 {
        sim::Script::Random.inputs(42, game.frame(), &mut inputs);
        game.advance(&inputs);
    }
    let expected = format!("frame=1000 hash={}\n", game.hash());
    assert_eq!(String::from_utf8_lossy(&out.stdout), expected);
}

/// Bad arguments exit 2 and say what was expected.
#[test]
fn bad_arguments_exit_2_with_a_reason() {
    for (args, says) in [
        (&["sim", "--players", "5"][..], "1..=4"),
        (
            &["sim", "--creeps", "10"][..],
            "--creeps only applies to --scenario swarm",
        ),
        (
            &["sim", "--scenario", "swarm", "--creeps", "0"][..],
            "1..=100000",
        ),
        (&["sim", "--frames", "many"][..], "invalid digit"),
        (&["sim", "--inputs", "loud"][..], "possible values"),
        (&["bench", "--creeps", "0"][..], "1..=100000"),
        (&["bench", "--frames", "1"][..], "2..=1000000"),
    ] {
        let out = hltd(args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(says), "{args:?}: {stderr}");
        assert!(out.stdout.is_empty(), "{args:?}");
    }
}

/// `hltd bench --json` prints one JSON object with every key the performance issue names (as
/// numbers), the other figures, and a verdict per goal; the table names every goal.
#[test]
fn bench_reports_every_goal() {
    let out = hltd(&["bench", "--creeps", "3000", "--frames", "20", "--json"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).expect("one JSON object");
    for key in [
        "creeps",
        "tick_ns_per_creep",
        "rollback8_ms",
        "save_vs_memcpy",
        "load_vs_memcpy",
        "hash_vs_blake3",
        "naive_speedup",
        "rules_ns_per_creep",
        "ticks_per_sec",
        "hash_1pct_vs_full",
    ] {
        let value = report[key].as_f64().unwrap_or(-1.0);
        assert!(
            value.is_sign_positive() && value != 0.0,
            "{key} = {}",
            report[key]
        );
    }
    let creeps = report["creeps"].as_u64().expect("creeps");
    assert!((2_900..=3_000).contains(&creeps), "{creeps}");
    for goal in ["P1", "P2", "P3", "P3i", "P4"] {
        assert!(
            report["goals"][goal].is_boolean(),
            "{goal}: {}",
            report["goals"]
        );
    }

    let out = hltd(&["bench", "--creeps", "1000", "--frames", "4"]);
    assert!(out.status.success());
    let table = String::from_utf8_lossy(&out.stdout);
    for line in [
        "P1",
        "P2",
        "P3",
        "P4",
        "rollback-8",
        "naive save+load",
        "ns per creep",
    ] {
        assert!(table.contains(line), "{line} missing from:\n{table}");
    }
    assert!(
        table.contains("all goals met") || table.contains("goals missed: "),
        "{table}"
    );
}
