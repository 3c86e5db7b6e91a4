//! Recording onto a full disk: `/dev/full`, and a small tmpfs mounted in a mount namespace of
//! the test's own (needs root, as the network-namespace tests do). A failed write is said
//! once with the path and the cause, a replay that holds no frame and bundles that could
//! not be written whole are removed, and the replay line says how many frames were kept.

use std::process::Command;

fn temp(name: &str) -> std::path::PathBuf {
    std::env::temp_dir().join(format!("hltd-disk-{}-{name}", std::process::id()))
}

const FULL: &str = "No space left on device (os error 28)";

/// `--record /dev/full`: the replay's first write fails, which is said once, with the path,
/// before any match starts (exit 3); the device is not removed (it is not a file of ours).
#[test]
fn recording_to_dev_full_fails_once_before_the_match() {
    for args in [
        &["sim", "--frames", "120", "--record", "/dev/full"][..],
        &[
            "demo",
            "--headless",
            "--frames",
            "120",
            "--record",
            "/dev/full",
        ][..],
    ] {
        let out = crate::args::hltd_bounded(args);
        let (stdout, stderr) = (
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr),
        );
        assert_eq!(out.status.code(), Some(3), "{args:?}: {stderr}");
        assert!(
            stderr.contains(&format!("cannot write the replay /dev/full: {FULL}")),
            "{args:?}: {stderr}"
        );
        assert_eq!(stderr.matches("No space left").count(), 1, "once: {stderr}");
        assert!(!stderr.contains("panicked"), "{stderr}");
        assert!(!stdout.contains("result:"), "nothing started: {stdout}");
        let kind = std::fs::metadata("/dev/full")
            .expect("/dev/full")
            .file_type();
        assert!(std::os::unix::fs::FileTypeExt::is_char_device(&kind));
    }
}

/// Runs `script` with `sh` in a new mount namespace, where `$MNT` is a tmpfs of `kib` KiB
/// and `$HLTD` the binary (each run of it bounded by `timeout`). Panics when the namespace
/// cannot be made (not root).
fn in_tmpfs(name: &str, kib: u32, script: &str) -> (std::path::PathBuf, std::path::PathBuf) {
    let (mnt, out) = (temp(&format!("{name}-mnt")), temp(&format!("{name}-out")));
    for dir in [&mnt, &out] {
        let _ = std::fs::remove_dir_all(dir);
        std::fs::create_dir_all(dir).expect("dir");
    }
    let full = format!("mount -t tmpfs -o size={kib}k hltd-test \"$MNT\" || exit 97\n{script}");
    let status = Command::new("unshare")
        .args(["--mount", "--propagation", "private", "sh", "-c", &full])
        .env("MNT", &mnt)
        .env("OUT", &out)
        .env("HLTD", env!("CARGO_BIN_EXE_hltd"))
        .env("XDG_DATA_HOME", crate::data_home())
        .status()
        .expect("unshare runs");
    assert!(
        status.success(),
        "a mount namespace with a tmpfs is needed (run as root): {status}"
    );
    (mnt, out)
}

fn read(dir: &std::path::Path, file: &str) -> String {
    std::fs::read_to_string(dir.join(file)).unwrap_or_default()
}

/// A 3-peer demo with a desync, recorded onto a 32 KiB tmpfs: the replay fills the disk
/// mid-match and the bundles do not fit. The match still runs to its end (exit 1, the
/// desync); the replay line says how many frames the file kept, which is what the file
/// reads back as; one line says the bundles were not written, and none is left behind.
#[test]
fn a_full_disk_mid_match_keeps_whole_chunks_and_says_so_once() {
    let script = r#"
timeout 120 "$HLTD" demo --headless --peers 3 --frames 1800 --inject-desync 1@600 \
    --record "$MNT/m.hltr" >"$OUT/stdout" 2>"$OUT/stderr"
echo $? >"$OUT/rc"
ls -A "$MNT" >"$OUT/ls"
timeout 60 "$HLTD" replay info --json "$MNT/m.hltr" >"$OUT/info" 2>"$OUT/info.err"
"#;
    let (mnt, out) = in_tmpfs("mid", 32, script);
    let (stdout, stderr) = (read(&out, "stdout"), read(&out, "stderr"));
    assert_eq!(read(&out, "rc").trim(), "1", "the desync: {stdout}{stderr}");
    assert!(stdout.contains("verdict: frame=600 diverged=1"), "{stdout}");
    let path = mnt.join("m.hltr");
    let prefix = format!("replay: {} (", path.display());
    let line = stdout
        .lines()
        .find(|l| l.starts_with(&prefix))
        .unwrap_or_else(|| panic!("no replay line: {stdout}"));
    let suffix = format!(" frames, cut short: {FULL})");
    let kept: u32 = line
        .strip_prefix(&prefix)
        .and_then(|rest| rest.strip_suffix(&suffix))
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("{line}"));
    assert!(kept > 0 && kept < 1800 && kept.is_multiple_of(60), "{line}");
    let info: serde_json::Value = serde_json::from_str(&read(&out, "info"))
        .unwrap_or_else(|err| panic!("{err}: {}{}", read(&out, "info"), read(&out, "info.err")));
    assert_eq!(info["frames"], kept, "{info}");
    let bundles = stdout
        .lines()
        .find(|l| l.starts_with("desync bundle: not written for seat "))
        .unwrap_or_else(|| panic!("no line for the bundles: {stdout}"));
    assert!(
        bundles.ends_with(&format!("in {}: {FULL}", mnt.display())),
        "{bundles}"
    );
    for seat in ["seat 0", "seat 1", "seat 2"] {
        assert!(bundles.contains(seat), "{bundles}");
    }
    let both = format!("{stdout}{stderr}");
    assert_eq!(both.matches("No space left").count(), 2, "{both}");
    assert!(!both.contains("panicked"), "{both}");
    assert_eq!(read(&out, "ls").trim(), "m.hltr", "only the replay is left");
    let _ = std::fs::remove_dir_all(&mnt);
    let _ = std::fs::remove_dir_all(&out);
}

/// The replay directory on a disk with no room left: the match is played unrecorded, with
/// one warning naming the file, and no 0-byte replay is left behind.
#[test]
fn a_full_replay_directory_leaves_no_empty_replay() {
    let script = r#"
dd if=/dev/zero of="$MNT/filler" bs=4096 count=64 2>/dev/null
XDG_DATA_HOME="$MNT" timeout 60 "$HLTD" demo --headless --frames 120 >"$OUT/stdout" 2>"$OUT/stderr"
echo $? >"$OUT/rc"
ls -A "$MNT/healer-td/replays" >"$OUT/ls"
"#;
    let (mnt, out) = in_tmpfs("start", 64, script);
    let (stdout, stderr) = (read(&out, "stdout"), read(&out, "stderr"));
    assert_eq!(read(&out, "rc").trim(), "0", "{stdout}{stderr}");
    assert!(stdout.contains("agreed=yes"), "{stdout}");
    let warning = stderr
        .lines()
        .find(|l| l.starts_with("hltd: not recording: cannot write the replay "))
        .unwrap_or_else(|| panic!("no warning: {stderr}"));
    assert!(
        warning.ends_with(&format!(": {FULL} (the file is removed)")),
        "{warning}"
    );
    assert_eq!(stderr.matches("No space left").count(), 1, "{stderr}");
    assert!(!stdout.contains("replay:"), "{stdout}");
    assert_eq!(read(&out, "ls").trim(), "", "no replay left behind");
    let _ = std::fs::remove_dir_all(&mnt);
    let _ = std::fs::remove_dir_all(&out);
}
