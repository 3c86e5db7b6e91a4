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
