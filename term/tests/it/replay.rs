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
    // What was verified, and that the file is cut short: never `ok:` with exit 2.
    assert!(
        stdout.starts_with("incomplete: frames=") && stdout.contains("the file is cut short"),
        "{stdout}"
    );
    assert!(!stdout.contains("ok:"), "{stdout}");
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

/// Peak memory a file case may reach (issue 15's acceptance), in kB.
const PEAK_KB_MAX: u64 = 64 << 10;

/// `hltd ARGS` as a separate process, killed after `secs` seconds, under a 4 GiB address-space
/// limit (so a regression cannot take the machine's memory), with its peak resident memory
/// from `/usr/bin/time -v` (None when that is missing).
fn hltd_bounded(args: &[&str], secs: u32) -> (std::process::Output, Option<u64>) {
    let has_time = std::path::Path::new("/usr/bin/time").exists();
    let script = if has_time {
        format!("ulimit -v 4194304; exec /usr/bin/time -v timeout -s KILL {secs} \"$0\" \"$@\"")
    } else {
        format!("ulimit -v 4194304; exec timeout -s KILL {secs} \"$0\" \"$@\"")
    };
    let out = std::process::Command::new("sh")
        .arg("-c")
        .arg(script)
        .arg(env!("CARGO_BIN_EXE_hltd"))
        .args(args)
        .env("XDG_DATA_HOME", crate::data_home())
        .output()
        .expect("sh runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    let peak = stderr
        .lines()
        .find_map(|l| {
            l.trim()
                .strip_prefix("Maximum resident set size (kbytes): ")
        })
        .and_then(|n| n.trim().parse().ok());
    if !has_time {
        println!("/usr/bin/time is missing: peak memory not measured");
    }
    (out, peak)
}

/// Exit 2, the error naming `expected`, no panic, and a small peak.
fn refused(args: &[&str], expected: &str) {
    let (out, peak) = hltd_bounded(args, 30);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let stdout = String::from_utf8_lossy(&out.stdout);
    println!("{args:?}: peak {peak:?} kB");
    assert_eq!(out.status.code(), Some(2), "{args:?}: {stdout} {stderr}");
    assert!(stderr.contains(expected), "{args:?}: {stderr}");
    assert!(
        !stderr.contains("panicked") && !stdout.contains("panicked"),
        "{stderr}"
    );
    if let Some(peak) = peak {
        assert!(peak < PEAK_KB_MAX, "{args:?}: peak {peak} kB");
    }
}

/// A bundle of a 2-player match: 20 frames, the verdict at 20, states of frames 18 to 20.
fn small_bundle(dir: &std::path::Path) {
    bundle_of(dir, sim::Settings::standard(9, 2), 20, 18);
}

/// A bundle of `frames` frames of `settings` (idle inputs), with our states from frame
/// `around_from` on.
fn bundle_of(dir: &std::path::Path, settings: sim::Settings, frames: u32, around_from: u32) {
    let players = usize::from(settings.players());
    let mut game = sim::Game::new(settings);
    let inputs = vec![sim::Input::IDLE; players * frames as usize];
    let mut hashes = Vec::new();
    let mut states = Vec::new();
    for _ in 0..frames {
        let hash = game.advance(&inputs[..players]);
        hashes.push((game.frame() as i32, hash.0));
        if game.frame() >= around_from {
            states.push((game.frame() as i32, game.save()));
        }
    }
    let _ = std::fs::remove_dir_all(dir);
    let last = states.len() - 1;
    replay::bundle::write(
        dir,
        &replay::bundle::Evidence {
            header: replay::Header::offline(&settings, frames, 600),
            inputs: &inputs,
            frame: frames as i32,
            diverged: vec![1],
            checksums: vec![(0, 1), (1, 2)],
            state: Some(&states[last].1),
            agreed: None,
            hashes: &hashes,
            around: &states,
        },
    )
    .expect("write the bundle");
}

/// The base line: what the debug binary takes to refuse a missing file.
#[test]
fn the_baseline_peak_of_a_refusal() {
    let (out, peak) = hltd_bounded(&["replay", "verify", "/nonexistent-hltd.hltr"], 30);
    assert_eq!(out.status.code(), Some(2));
    println!("baseline peak: {peak:?} kB");
    if let Some(peak) = peak {
        assert!(peak < PEAK_KB_MAX, "{peak} kB");
    }
}

/// Issue 15, finding 4: devices, FIFOs with no writer and directories are refused at once
/// (nothing waits for a writer, nothing reads /dev/zero until memory runs out).
#[cfg(unix)]
#[test]
fn special_files_are_refused_at_once() {
    refused(
        &["replay", "verify", "/dev/zero"],
        "/dev/zero: is a character device, not a regular file",
    );
    refused(&["replay", "info", "/dev/zero"], "is a character device");
    let dir = temp("special");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir(&dir).expect("dir");
    let fifo = dir.join("fifo.hltr");
    let made = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .expect("mkfifo runs");
    assert!(made.success());
    let fifo = fifo.to_str().expect("utf-8");
    // Bounded: a regression blocks until `timeout` kills it (exit 137), not forever.
    refused(&["replay", "verify", fifo], "is a FIFO, not a regular file");
    refused(&["replay", "play", fifo], "is a FIFO, not a regular file");
    refused(
        &["replay", "verify", dir.to_str().expect("utf-8")],
        "is a directory",
    );
    // A bundle whose bundle.json is a FIFO.
    let bundle = dir.join("b.bundle");
    small_bundle(&bundle);
    let meta = bundle.join("bundle.json");
    std::fs::remove_file(&meta).expect("remove");
    assert!(std::process::Command::new("mkfifo")
        .arg(&meta)
        .status()
        .expect("mkfifo runs")
        .success());
    let b = bundle.to_str().expect("utf-8");
    refused(&["desync", "diff", b, b], "bundle.json: is a FIFO");
    let _ = std::fs::remove_dir_all(&dir);
}

/// Issue 15, finding 4: a bundle whose state file, replay or bundle.json is a link to
/// /dev/zero is refused, naming the file.
#[cfg(unix)]
#[test]
fn bundle_files_linked_to_dev_zero_are_refused() {
    for name in ["state-20.bin", "state-18.bin", "replay.hltr", "bundle.json"] {
        let dir = temp(&format!("zero-{name}"));
        small_bundle(&dir);
        let ok = hltd(&[
            "desync",
            "diff",
            dir.to_str().expect("utf-8"),
            dir.to_str().expect("utf-8"),
        ]);
        assert_eq!(ok.status.code(), Some(0), "{ok:?}");
        let file = dir.join(name);
        std::fs::remove_file(&file).expect("remove");
        std::os::unix::fs::symlink("/dev/zero", &file).expect("symlink");
        let d = dir.to_str().expect("utf-8");
        refused(
            &["desync", "diff", d, d],
            &format!("{name}: is a character device, not a regular file"),
        );
        let _ = std::fs::remove_dir_all(&dir);
    }
}

/// Issue 15, finding 4: files larger than their kind can be are refused by their size,
/// naming the cap; a replay under its cap that is bad near its start is refused after
/// reading little (a sparse file: its zeros cost no disk).
#[test]
fn oversized_files_are_refused_naming_the_cap() {
    let dir = temp("sparse");
    small_bundle(&dir);
    let d = dir.to_str().expect("utf-8");
    let state = std::fs::OpenOptions::new()
        .write(true)
        .open(dir.join("state-19.bin"))
        .expect("open");
    state.set_len(3 << 30).expect("a sparse 3 GiB state file");
    drop(state);
    refused(
        &["desync", "diff", d, d],
        "state-19.bin: 3221225472 bytes, more than a state file can hold (STATE_FILE_MAX is 2415472 bytes)",
    );
    // A replay: a valid prefix and header, then zeros, 3 GiB in all.
    let opening = {
        let mut bytes = replay::Recorder::new(
            Vec::new(),
            replay::Header::offline(&sim::Settings::standard(1, 1), 0, 600),
        )
        .expect("recorder")
        .finish()
        .expect("finish");
        bytes.truncate(70);
        bytes
    };
    let path = temp("sparse.hltr");
    let file = path.to_str().expect("utf-8");
    std::fs::write(&path, &opening).expect("write");
    let sparse = std::fs::OpenOptions::new()
        .write(true)
        .open(&path)
        .expect("open");
    sparse.set_len(3 << 30).expect("a sparse 3 GiB replay");
    refused(
        &["replay", "verify", file],
        "3221225472 bytes, more than a replay can hold (REPLAY_FILE_MAX is 1073741824 bytes)",
    );
    // Under the cap (900 MiB): read a chunk at a time, refused at byte 70.
    sparse.set_len(900 << 20).expect("a sparse 900 MiB replay");
    drop(sparse);
    let (out, peak) = hltd_bounded(&["replay", "verify", file], 30);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    println!("900 MiB sparse replay: peak {peak:?} kB");
    assert_eq!(out.status.code(), Some(2), "{stdout} {stderr}");
    assert!(
        stderr.contains("stops at chunk 1 at byte 70: checksum mismatch"),
        "{stderr}"
    );
    assert!(
        !stdout.contains("ok:") && !stderr.contains("panicked"),
        "{stdout} {stderr}"
    );
    if let Some(peak) = peak {
        assert!(peak < PEAK_KB_MAX, "peak {peak} kB");
    }
    let _ = std::fs::remove_file(&path);
    let _ = std::fs::remove_dir_all(&dir);
}

/// Issue 15, finding 4: one state of the largest swarm (100,000 creeps, 2.4 MB) named 1,500
/// times in around_files is decoded once: `desync diff` of the bundle with itself agrees,
/// with a small peak (it decoded 1,500 copies, 3.6 GB, before).
#[test]
fn a_state_named_1500_times_is_decoded_once() {
    let dir = temp("amplify");
    let settings = sim::Settings::swarm(3, 2, sim::rules::MAX_CREEPS);
    bundle_of(&dir, settings, 40, 40);
    let state = std::fs::metadata(dir.join("state-40.bin"))
        .expect("state")
        .len();
    assert!(state > 2_000_000, "{state} bytes");
    let meta_path = dir.join("bundle.json");
    let mut meta: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&meta_path).expect("read")).expect("JSON");
    let entry = meta["around_files"][0].clone();
    meta["around_files"] = serde_json::Value::Array(vec![entry; 1500]);
    let text = serde_json::to_string_pretty(&meta).expect("JSON");
    assert!(text.len() > 60_000, "{} bytes", text.len());
    std::fs::write(&meta_path, text).expect("write");
    let d = dir.to_str().expect("utf-8");
    let (out, peak) = hltd_bounded(&["desync", "diff", d, d], 120);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    println!("1,500 names of one 100,000-creep state: peak {peak:?} kB");
    assert_eq!(out.status.code(), Some(0), "{stdout} {stderr}");
    assert!(stdout.contains("state at frame 40: identical"), "{stdout}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    if let Some(peak) = peak {
        assert!(peak < PEAK_KB_MAX, "peak {peak} kB");
    }
    // The same file under 1,500 different frames (which kept 1,500 decoded copies, 3.6 GB,
    // before): a file holds one frame's state, so this is refused at the first wrong frame.
    let files: Vec<serde_json::Value> = (0..1500)
        .map(|f| serde_json::json!({"frame": f, "file": "state-40.bin"}))
        .collect();
    meta["around_files"] = serde_json::Value::Array(files);
    std::fs::write(
        &meta_path,
        serde_json::to_string_pretty(&meta).expect("JSON"),
    )
    .expect("write");
    refused(
        &["desync", "diff", d, d],
        "around_files[0]: state-40.bin holds the state of frame 40, not of frame 0",
    );
    let _ = std::fs::remove_dir_all(&dir);
}
