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
