//! `hltd sim --record`, `hltd replay info` and `hltd replay verify`, as a user runs them.

use crate::hltd;

fn temp(name: &str) -> std::path::PathBuf {
    std::env::temp_dir().join(format!("hltd-replay-{}-{name}", std::process::id()))
}

/// A recorded match verifies with the hash `hltd sim` printed; info tells its length and
/// result, in lines and in JSON.
#[test]
fn a_recording_verifies_and_tells_its_story() {
    let path = temp("ok.hltr");
    let file = path.to_str().expect("utf-8 path");
    let sim = hltd(&[
        "sim",
        "--seed",
        "7",
        "--players",
        "4",
        "--frames",
        "1500",
        "--record",
        file,
    ]);
    assert!(sim.status.success());
    let line = String::from_utf8_lossy(&sim.stdout).into_owned();
    let hash = line
        .trim()
        .strip_prefix("frame=1500 hash=")
        .expect("sim line");

    let verify = hltd(&["replay", "verify", file]);
    assert_eq!(verify.status.code(), Some(0), "{verify:?}");
    assert_eq!(
        String::from_utf8_lossy(&verify.stdout),
        format!("ok: frames=1500 hash={hash}\n")
    );

    let info = hltd(&["replay", "info", file]);
    let text = String::from_utf8_lossy(&info.stdout);
    assert!(
        text.contains("seed 7, 4 player(s), scenario standard"),
        "{text}"
    );
    assert!(
        text.contains("length: 1500 frames (0:25 at 60 Hz), 3 keyframes"),
        "{text}"
    );
    assert!(text.contains(&format!("last hash: {hash}")), "{text}");

    let json = hltd(&["replay", "info", "--json", file]);
    let value: serde_json::Value = serde_json::from_slice(&json.stdout).expect("one JSON object");
    assert_eq!(value["frames"], 1500);
    assert_eq!(value["players"], 4);
    assert_eq!(value["last_hash"], hash);
    assert_eq!(value["complete"], true);
    let _ = std::fs::remove_file(&path);
}

/// A cut file verifies up to its last complete chunk and exits 2 saying where it stops; a
/// file that is not a replay exits 2 naming the problem; a flipped byte never passes.
#[test]
fn damaged_files_exit_2_and_say_where() {
    let path = temp("cut.hltr");
    let file = path.to_str().expect("utf-8 path");
    assert!(hltd(&[
        "sim",
        "--seed",
        "2",
        "--players",
        "2",
        "--frames",
        "700",
        "--record",
        file
    ])
    .status
    .success());
    let bytes = std::fs::read(&path).expect("read");
    std::fs::write(&path, &bytes[..bytes.len() - 500]).expect("cut");
    let out = hltd(&["replay", "verify", file]);
    assert_eq!(out.status.code(), Some(2));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stdout.starts_with("ok: frames="), "{stdout}");
    assert!(stderr.contains("incomplete: stops at chunk"), "{stderr}");
    assert!(stderr.contains("truncated"), "{stderr}");

    let mut flipped = bytes.clone();
    flipped[bytes.len() / 2] ^= 0x10;
    std::fs::write(&path, &flipped).expect("flip");
    let out = hltd(&["replay", "verify", file]);
    assert!(matches!(out.status.code(), Some(1 | 2)), "{out:?}");

    std::fs::write(&path, b"hello").expect("junk");
    let out = hltd(&["replay", "verify", file]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("bad magic"));
    let missing = temp("missing.hltr");
    let out = hltd(&["replay", "info", missing.to_str().expect("utf-8")]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot read"));
    let _ = std::fs::remove_file(&path);
}

/// The `result:` line's hash.
fn result_hash(stdout: &str) -> String {
    stdout
        .lines()
        .find_map(|l| l.strip_prefix("result: "))
        .and_then(|l| l.split("hash=").nth(1))
        .unwrap_or_else(|| panic!("no result line in {stdout}"))
        .to_string()
}

/// Round trip: a recorded headless demo (3 peers, loss and latency, so with rollbacks)
/// verifies `ok` with the very hash the demo printed; by default the replay lands in the
/// replay directory and the summary names it; `--no-record` writes none.
#[test]
fn a_recorded_demo_verifies_with_the_hash_it_printed() {
    let path = temp("demo.hltr");
    let file = path.to_str().expect("utf-8 path");
    let demo = hltd(&[
        "demo",
        "--headless",
        "--peers",
        "3",
        "--frames",
        "900",
        "--seed",
        "11",
        "--loss",
        "0.05",
        "--latency",
        "20",
        "--record",
        file,
    ]);
    let stdout = String::from_utf8_lossy(&demo.stdout).into_owned();
    assert_eq!(demo.status.code(), Some(0), "{stdout}");
    let hash = result_hash(&stdout);
    assert!(
        stdout.contains(&format!("replay: {file} (900 frames)")),
        "{stdout}"
    );
    let verify = hltd(&["replay", "verify", file]);
    assert_eq!(verify.status.code(), Some(0), "{verify:?}");
    assert_eq!(
        String::from_utf8_lossy(&verify.stdout),
        format!("ok: frames=900 hash={hash}\n")
    );
    let info = hltd(&["replay", "info", "--json", file]);
    let value: serde_json::Value = serde_json::from_slice(&info.stdout).expect("JSON");
    assert_eq!(value["kind"], "demo");
    assert_eq!(value["recorder_seat"], 0);
    assert_eq!(value["players"], 3);
    let _ = std::fs::remove_file(&path);

    // The default: a new file in $XDG_DATA_HOME/healer-td/replays.
    let home = temp("xdg");
    let dir = home.join("healer-td/replays");
    let run = |extra: &[&str]| {
        let mut args = vec!["demo", "--headless", "--frames", "120", "--seed", "4"];
        args.extend_from_slice(extra);
        std::process::Command::new(env!("CARGO_BIN_EXE_hltd"))
            .env("XDG_DATA_HOME", &home)
            .args(&args)
            .output()
            .expect("hltd runs")
    };
    let out = run(&[]);
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(out.status.success(), "{stdout}");
    let written: Vec<_> = std::fs::read_dir(&dir)
        .expect("the replay directory was made")
        .map(|e| e.expect("entry").path())
        .collect();
    assert_eq!(written.len(), 1, "{written:?}");
    let name = written[0]
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or("");
    assert!(name.ends_with("-demo-seed4-seat0.hltr"), "{name}");
    assert!(
        stdout.contains(&format!("replay: {} (120 frames)", written[0].display())),
        "{stdout}"
    );
    let verify = hltd(&["replay", "verify", written[0].to_str().expect("utf-8")]);
    assert_eq!(verify.status.code(), Some(0), "{verify:?}");
    let out = run(&["--no-record"]);
    assert!(out.status.success());
    assert!(!String::from_utf8_lossy(&out.stdout).contains("replay:"));
    assert_eq!(
        std::fs::read_dir(&dir).expect("dir").count(),
        1,
        "--no-record wrote a file"
    );
    let _ = std::fs::remove_dir_all(&home);
}

/// `demo --inject-desync 1@600` with 3 peers writes a bundle per peer; `desync diff` of the
/// bundles of peer 0 and peer 1 names the first differing frame and the flipped field
/// (exit 1); a bundle compared with itself agrees (exit 0); a damaged bundle exits 2.
#[test]
fn desync_bundles_name_the_flipped_field() {
    let home = temp("desync");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_hltd"))
        .env("XDG_DATA_HOME", &home)
        .args([
            "demo",
            "--headless",
            "--peers",
            "3",
            "--inject-desync",
            "1@600",
        ])
        .output()
        .expect("hltd runs");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert_eq!(out.status.code(), Some(1), "a desync exits 1: {stdout}");
    let bundles: Vec<std::path::PathBuf> = stdout
        .lines()
        .filter_map(|l| l.strip_prefix("desync bundle: "))
        .map(std::path::PathBuf::from)
        .collect();
    assert_eq!(bundles.len(), 3, "one per peer: {stdout}");
    let of = |peer: usize| {
        bundles
            .iter()
            .find(|b| {
                b.to_string_lossy()
                    .ends_with(&format!("-seat{peer}.bundle"))
            })
            .unwrap_or_else(|| panic!("no bundle of peer {peer}: {bundles:?}"))
            .to_str()
            .expect("utf-8")
            .to_string()
    };
    let (p0, p1, p2) = (of(0), of(1), of(2));
    for b in [&p0, &p1] {
        for file in ["bundle.json", "replay.hltr", "state-600.bin"] {
            assert!(std::path::Path::new(b).join(file).exists(), "{b}/{file}");
        }
        let replay = format!("{b}/replay.hltr");
        let verify = hltd(&["replay", "verify", &replay]);
        assert_eq!(verify.status.code(), Some(0), "{verify:?}");
        assert!(String::from_utf8_lossy(&verify.stdout).starts_with("ok: frames=600 "));
    }

    let diff = hltd(&["desync", "diff", &p0, &p1]);
    let text = String::from_utf8_lossy(&diff.stdout).into_owned();
    assert_eq!(diff.status.code(), Some(1), "{text}");
    assert!(text.contains("first differing frame: 600"), "{text}");
    assert!(
        text.contains("state at frame 600: 1 field(s) differ"),
        "{text}"
    );
    assert!(text.contains("  world Globals.rng_state: 0x"), "{text}");
    assert!(
        text.contains("inputs: the same for the 600 frames"),
        "{text}"
    );
    assert!(text.ends_with("agree: no\n"), "{text}");

    // Peers 0 and 2 stayed together.
    let same = hltd(&["desync", "diff", &p0, &p2]);
    let text = String::from_utf8_lossy(&same.stdout).into_owned();
    assert_eq!(same.status.code(), Some(0), "{text}");
    assert!(text.contains("state at frame 600: identical"), "{text}");

    std::fs::write(format!("{p2}/bundle.json"), "{\"bundle_version\": 1,").expect("damage");
    let bad = hltd(&["desync", "diff", &p0, &p2]);
    assert_eq!(bad.status.code(), Some(2), "{bad:?}");
    let err = String::from_utf8_lossy(&bad.stderr);
    assert!(err.contains("bundle.json: line 1 column"), "{err}");
    let _ = std::fs::remove_dir_all(&home);
}

/// `--record` into a missing directory is a usage error before anything starts; a replay of
/// a match left early says so in `replay info`.
#[test]
fn record_paths_are_checked_first_and_early_ends_are_told() {
    for sub in [
        &["demo", "--headless"][..],
        &["host", "--headless"][..],
        &["join", "--headless", "not-a-code"][..],
    ] {
        let mut args = sub.to_vec();
        args.extend(["--record", "/nonexistent-dir-hltd/x.hltr"]);
        let out = hltd(&args);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {out:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains("--record /nonexistent-dir-hltd/x.hltr: the directory /nonexistent-dir-hltd does not exist"),
            "{args:?}: {err}"
        );
    }

    // A replay whose match stopped at frame 300 of 900 planned.
    let path = temp("early.hltr");
    let header = replay::Header {
        rules_version: sim::RULES_VERSION,
        seed: 3,
        players: 2,
        scenario: sim::Scenario::Standard,
        creeps: 0,
        recorder: Some(0),
        input_delay: 2,
        max_prediction: 8,
        frames_planned: 900,
        keyframe_interval: 600,
        kind: replay::MatchKind::Demo,
    };
    let file = std::fs::File::create(&path).expect("create");
    let mut recorder = replay::Recorder::new(file, header).expect("recorder");
    for _ in 0..300 {
        recorder
            .record(&[sim::Input::IDLE; 2], None)
            .expect("record");
    }
    recorder.finish().expect("finish");
    let file = path.to_str().expect("utf-8");
    let info = hltd(&["replay", "info", file]);
    let text = String::from_utf8_lossy(&info.stdout);
    assert!(
        text.contains("result: running, left at frame 300 of the 900 planned"),
        "{text}"
    );
    let json = hltd(&["replay", "info", "--json", file]);
    let value: serde_json::Value = serde_json::from_slice(&json.stdout).expect("JSON");
    assert_eq!(value["ended_early"], true);
    assert_eq!(value["complete"], true);
    let _ = std::fs::remove_file(&path);
}
