//! `hltd bench`: the performance goals measured in one run (`benches::measure`), printed as a
//! table with a pass/fail mark per goal, or as one JSON object.

use anyhow::Result;
use benches::measure::{self, decimal, milli, Plan, Report, PHASES, ROLLBACK_BUDGET_NS};
use indicatif::{ProgressBar, ProgressStyle};

use crate::args::BenchArgs;

pub fn run(args: &BenchArgs) -> Result<std::process::ExitCode> {
    let bar = ProgressBar::new(PHASES.len() as u64);
    bar.set_style(
        ProgressStyle::with_template("{bar:20} {pos}/{len} {msg}  {elapsed}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let plan = Plan {
        creeps: args.creeps,
        frames: args.frames,
    };
    let report = measure::run(plan, |phase| {
        bar.set_position(phase as u64);
        bar.set_message(PHASES[phase]);
    });
    bar.finish_and_clear();
    if args.json {
        println!("{}", json(&report));
    } else {
        print!("{}", table(&report));
    }
    // The figures are the product: missing a goal is reported, not an error.
    Ok(std::process::ExitCode::SUCCESS)
}

/// Nanoseconds in a readable unit.
fn duration(ns: u64) -> String {
    let trim = |s: String| s.trim_end_matches('0').trim_end_matches('.').to_string();
    match ns {
        0..=9_999 => format!("{ns} ns"),
        10_000..=999_999 => format!("{} us", trim(decimal(milli(ns, 1000)))),
        _ => format!("{} ms", decimal(milli(ns, 1_000_000))),
    }
}

fn mark(pass: bool) -> &'static str {
    if pass {
        "pass"
    } else {
        "FAIL"
    }
}

fn table(r: &Report) -> String {
    use std::fmt::Write;
    let goals = r.goals();
    let verdict = |id: &str| mark(goals.iter().any(|g| g.id == id && g.pass));
    let mut out = String::new();
    let _ = writeln!(
        out,
        "hltd bench: swarm of {} creeps, 4 players; state {} bytes; {} ticks, {} rollbacks timed",
        r.creeps, r.state_bytes, r.frames, r.rollbacks
    );
    let _ = writeln!(
        out,
        "tick              {:>10}  {} ticks/s  {} ns per creep (rules {} ns, hash included)",
        duration(r.tick_ns),
        1_000_000_000 / r.tick_ns.max(1),
        decimal(r.tick_pns_per_creep()),
        decimal(r.rules_pns_per_creep()),
    );
    let _ = writeln!(
        out,
        "memcpy            {:>10}  (same bytes)",
        duration(r.memcpy_ns)
    );
    let _ = writeln!(
        out,
        "save              {:>10}  {}x memcpy                P2 <= 2x     {}",
        duration(r.save_ns),
        decimal(r.save_vs_memcpy()),
        mark(r.save_vs_memcpy() <= 2000),
    );
    let _ = writeln!(
        out,
        "load              {:>10}  {}x memcpy                P2 <= 2x     {}",
        duration(r.load_ns),
        decimal(r.load_vs_memcpy()),
        mark(r.load_vs_memcpy() <= 2000),
    );
    let _ = writeln!(
        out,
        "blake3            {:>10}  (same bytes)",
        duration(r.blake3_ns)
    );
    let _ = writeln!(
        out,
        "hash, full        {:>10}  {}x blake3",
        duration(r.hash_full_ns),
        decimal(r.full_hash_vs_blake3()),
    );
    let _ = writeln!(
        out,
        "hash, per tick    {:>10}  {}x blake3 (every creep moved)  P3 <= 1.5x  {}",
        duration(r.hash_tick_ns),
        decimal(r.hash_vs_blake3()),
        verdict("P3"),
    );
    let _ = writeln!(
        out,
        "hash, 1% changed  {:>10}  {}x full (creeps stored together)  P3 <= 0.25x {}",
        duration(r.hash_1pct_ns),
        decimal(r.incremental_share()),
        verdict("P3i"),
    );
    let _ = writeln!(
        out,
        "hash, 1% spread   {:>10}  {}x full (every 100th creep: every leaf changes)",
        duration(r.hash_1pct_spread_ns),
        decimal(milli(r.hash_1pct_spread_ns, r.hash_full_ns)),
    );
    let _ = writeln!(
        out,
        "hash, unchanged   {:>10}  {}x full",
        duration(r.hash_none_ns),
        decimal(milli(r.hash_none_ns, r.hash_full_ns)),
    );
    let _ = writeln!(
        out,
        "rollback-8        {:>10}  of {} budget (slowest {})  P1           {}",
        duration(r.rollback8_ns),
        duration(ROLLBACK_BUDGET_NS),
        duration(r.rollback8_max_ns),
        verdict("P1"),
    );
    let _ = writeln!(
        out,
        "naive save+load   {:>10}  {}x our save+load          P4 >= 50x    {}",
        duration(r.naive_save_ns + r.naive_load_ns),
        decimal(r.naive_speedup()),
        verdict("P4"),
    );
    let failed: Vec<&str> = goals.iter().filter(|g| !g.pass).map(|g| g.id).collect();
    let _ = if failed.is_empty() {
        writeln!(out, "all goals met")
    } else {
        writeln!(out, "goals missed: {}", failed.join(", "))
    };
    out
}

fn json(r: &Report) -> serde_json::Value {
    // Ratios are computed in thousandths; JSON gets them as plain numbers.
    let number = |milli: u64| -> serde_json::Value {
        decimal(milli)
            .parse::<serde_json::Number>()
            .map_or(serde_json::Value::Null, serde_json::Value::Number)
    };
    let goals: serde_json::Map<String, serde_json::Value> = r
        .goals()
        .iter()
        .map(|g| (g.id.to_string(), serde_json::Value::Bool(g.pass)))
        .collect();
    serde_json::json!({
        "creeps": r.creeps,
        "state_bytes": r.state_bytes,
        "frames": r.frames,
        "ticks_per_sec": 1_000_000_000 / r.tick_ns.max(1),
        "tick_ns_per_creep": number(r.tick_pns_per_creep()),
        "rules_ns_per_creep": number(r.rules_pns_per_creep()),
        "tick_us": number(r.tick_ns),
        "save_us": number(r.save_ns),
        "load_us": number(r.load_ns),
        "memcpy_us": number(r.memcpy_ns),
        "blake3_us": number(r.blake3_ns),
        "hash_full_us": number(r.hash_full_ns),
        "hash_tick_us": number(r.hash_tick_ns),
        "hash_1pct_us": number(r.hash_1pct_ns),
        "hash_1pct_spread_us": number(r.hash_1pct_spread_ns),
        "hash_unchanged_us": number(r.hash_none_ns),
        "save_vs_memcpy": number(r.save_vs_memcpy()),
        "load_vs_memcpy": number(r.load_vs_memcpy()),
        "hash_vs_blake3": number(r.hash_vs_blake3()),
        "full_hash_vs_blake3": number(r.full_hash_vs_blake3()),
        "hash_1pct_vs_full": number(r.incremental_share()),
        "rollback8_ms": number(milli(r.rollback8_ns, 1_000_000)),
        "rollback8_max_ms": number(milli(r.rollback8_max_ns, 1_000_000)),
        "rollback8_budget_ms": number(milli(ROLLBACK_BUDGET_NS, 1_000_000)),
        "rollbacks": r.rollbacks,
        "naive_save_us": number(r.naive_save_ns),
        "naive_load_us": number(r.naive_load_ns),
        "naive_speedup": number(r.naive_speedup()),
        "goals": goals,
    })
}
