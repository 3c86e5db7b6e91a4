//! `hltd fuzz`, as a user runs it.

use crate::hltd;

/// `fuzz synctest` exits 0 with its summary on intact rules; with the hidden
/// `--break-determinism` it exits 1, printing for each failing seed a rerun command (which
/// fails again on its own) and a replay that `replay verify` opens.
#[test]
fn synctest_reports_failures_with_a_rerun_and_a_replay() {
    let out_dir = std::env::temp_dir().join(format!("hltd-fuzz-{}", std::process::id()));
    let out = out_dir.to_str().expect("utf-8");
    let ok = hltd(&[
        "fuzz",
        "synctest",
        "--seeds",
        "4",
        "--players",
        "4",
        "--check-distance",
        "7",
    ]);
    let text = String::from_utf8_lossy(&ok.stdout).into_owned();
    assert_eq!(ok.status.code(), Some(0), "{text}");
    assert!(text.ends_with("fuzz: seeds=4 failures=0\n"), "{text}");
    assert!(text.contains(" seeds/s, "), "{text}");

    let bad = hltd(&[
        "fuzz",
        "synctest",
        "--seeds",
        "3",
        "--check-distance",
        "3",
        "--out",
        out,
        "--break-determinism",
    ]);
    let text = String::from_utf8_lossy(&bad.stdout).into_owned();
    assert_eq!(bad.status.code(), Some(1), "{text}");
    assert!(text.ends_with("fuzz: seeds=3 failures=3\n"), "{text}");
    let rerun = text
        .lines()
        .find_map(|l| l.trim().strip_prefix("rerun: hltd "))
        .unwrap_or_else(|| panic!("no rerun line: {text}"));
    let again = hltd(&rerun.split(' ').collect::<Vec<_>>());
    assert_eq!(again.status.code(), Some(1), "{rerun}: {again:?}");
    assert!(String::from_utf8_lossy(&again.stdout).contains("fuzz: seeds=1 failures=1"));
    let replay = text
        .lines()
        .find_map(|l| l.trim().strip_prefix("replay: "))
        .unwrap_or_else(|| panic!("no replay line: {text}"));
    let verify = hltd(&["replay", "verify", replay]);
    assert_eq!(verify.status.code(), Some(0), "{verify:?}");
    let _ = std::fs::remove_dir_all(&out_dir);
}

/// `fuzz net` exits 0 on intact rules over a faulty simulated network; broken, it exits 1
/// and each failing seed leaves a rerun line, a replay that verifies, and desync bundles that
/// `desync diff` compares down to the field.
#[test]
fn net_reports_failures_with_a_replay_and_bundles() {
    let out_dir = std::env::temp_dir().join(format!("hltd-fuzznet-{}", std::process::id()));
    let out = out_dir.to_str().expect("utf-8");
    let faults = [
        "--peers",
        "3",
        "--frames",
        "300",
        "--loss",
        "0.1",
        "--dup",
        "0.02",
        "--reorder",
        "0.05",
        "--latency",
        "40",
        "--jitter",
        "20",
        "--partition",
        "300",
    ];
    let mut args = vec!["fuzz", "net", "--seeds", "3"];
    args.extend_from_slice(&faults);
    let ok = hltd(&args);
    let text = String::from_utf8_lossy(&ok.stdout).into_owned();
    assert_eq!(ok.status.code(), Some(0), "{text}");
    assert!(text.ends_with("fuzz: seeds=3 failures=0\n"), "{text}");
    assert!(text.contains("frames/s of play ("), "{text}");

    args.extend_from_slice(&["--out", out, "--break-determinism"]);
    let bad = hltd(&args);
    let text = String::from_utf8_lossy(&bad.stdout).into_owned();
    assert_eq!(bad.status.code(), Some(1), "{text}");
    assert!(text.ends_with("fuzz: seeds=3 failures=3\n"), "{text}");
    assert!(text.contains("  rerun: hltd fuzz net --seed "), "{text}");
    let replay = text
        .lines()
        .find_map(|l| l.trim().strip_prefix("replay: "))
        .unwrap_or_else(|| panic!("no replay line: {text}"));
    let verify = hltd(&["replay", "verify", replay]);
    assert_eq!(verify.status.code(), Some(0), "{verify:?}");
    // The bundles of one seed: seat 0's against the one its verdict names as diverged.
    let dir = std::path::Path::new(replay)
        .parent()
        .expect("seed directory");
    let first = dir.join("desync-seat0.bundle");
    let meta: serde_json::Value =
        serde_json::from_slice(&std::fs::read(first.join("bundle.json")).expect("seat 0's bundle"))
            .expect("JSON");
    let diverged: Vec<u64> = meta["diverged"]
        .as_array()
        .expect("diverged seats")
        .iter()
        .filter_map(serde_json::Value::as_u64)
        .collect();
    let kept = (0..3)
        .find(|s| !diverged.contains(s))
        .expect("a seat that kept up");
    let bundle = |seat: u64| dir.join(format!("desync-seat{seat}.bundle"));
    let (first, other) = (bundle(diverged[0]), bundle(kept));
    let diff = hltd(&[
        "desync",
        "diff",
        first.to_str().expect("utf-8"),
        other.to_str().expect("utf-8"),
    ]);
    let text = String::from_utf8_lossy(&diff.stdout).into_owned();
    assert_eq!(diff.status.code(), Some(1), "{text}");
    assert!(text.contains("world Globals.kills: "), "{text}");
    let _ = std::fs::remove_dir_all(&out_dir);
}
