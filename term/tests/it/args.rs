//! Bad arguments, as a user types them: every one exits 2 with clap's usage of the right
//! subcommand and a reason, before any long work, and nothing panics.

use std::process::{Command, Output, Stdio};
use std::time::Duration;

fn temp(name: &str) -> std::path::PathBuf {
    std::env::temp_dir().join(format!("hltd-args-{}-{name}", std::process::id()))
}

/// A short valid replay (600 frames of `hltd sim`) at `path`.
fn recorded(path: &std::path::Path) {
    let out = hltd_bounded(&[
        "sim",
        "--frames",
        "600",
        "--record",
        path.to_str().expect("utf-8"),
    ]);
    assert!(out.status.success(), "{out:?}");
}

fn text(out: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Runs `hltd args`, killed if it takes over 60 s (a refused argument must end at once; a
/// FIFO opened for writing, for one, would wait for a reader forever).
pub(crate) fn hltd_bounded(args: &[&str]) -> Output {
    let child = Command::new(env!("CARGO_BIN_EXE_hltd"))
        .env("XDG_DATA_HOME", crate::data_home())
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("hltd runs");
    net::netns::wait_bounded(child, Duration::from_secs(60))
        .unwrap_or_else(|err| panic!("{args:?} {err}"))
}

/// Exit 2, the reason and the usage line of `usage` on stderr, nothing on stdout, no panic.
fn refused(args: &[&str], says: &str, usage: &str) {
    let out = hltd_bounded(args);
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
    assert!(
        stderr.contains(says),
        "{args:?} should say {says:?}: {stderr}"
    );
    // clap's own value errors end with a pointer to --help and no usage; ours, and clap's
    // others, show the usage of the right subcommand.
    let shown = stderr.contains(&format!("Usage: hltd {usage} "))
        || (!stderr.contains("Usage:") && stderr.contains("For more information, try '--help'."));
    assert!(
        shown,
        "{args:?} should show the usage of `hltd {usage}`: {stderr}"
    );
    assert!(stdout.is_empty(), "{args:?} wrote to stdout: {stdout:?}");
    assert!(
        !stderr.contains("panicked") && !stdout.contains("panicked"),
        "{args:?}: {stderr}"
    );
}

/// `replay play FILE --speed 99x` used to panic (exit 101) after playing the file through:
/// now clap refuses it, naming the speeds, before the file is even opened (a file that does
/// not exist is not what it complains about).
#[test]
fn a_bad_speed_is_refused_before_the_file_is_read() {
    let file = temp("speed.hltr");
    recorded(&file);
    let path = file.to_str().expect("utf-8");
    for speed in ["99x", "0x", "", "1/3x"] {
        refused(
            &["replay", "play", path, "--speed", speed],
            "[possible values: 1/4x, 1/2x, 1x, 2x, 4x, 8x, 16x]",
            "replay play",
        );
    }
    let out = hltd_bounded(&[
        "replay",
        "play",
        "/nonexistent-hltd/none.hltr",
        "--speed",
        "99x",
    ]);
    let (_, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("'99x'") && !stderr.contains("none.hltr"),
        "{stderr}"
    );
    let _ = std::fs::remove_file(&file);
}

/// Without a terminal `replay play` says it needs one (exit 2) and writes nothing to stdout:
/// no stray escape codes such as the alternate screen's ESC[?1049l. A `--from` past the end
/// is refused with the replay's range before the pre-pass.
#[test]
fn replay_play_without_a_terminal_writes_nothing_to_stdout() {
    let file = temp("noterm.hltr");
    recorded(&file);
    let path = file.to_str().expect("utf-8");
    refused(
        &["replay", "play", path],
        "the replay plays on a terminal, and standard output is not one",
        "replay play",
    );
    refused(
        &["replay", "play", path, "--from", "601"],
        &format!("--from 601: {path} holds frames 0 to 600"),
        "replay play",
    );
    let _ = std::fs::remove_file(&file);
}

/// `demo --loss 1` used to be taken and stall for 25 s before exit 3: a loss at which no
/// match synchronizes is refused at once, with the range; so are injections at seats or
/// frames the match does not have, and the other out-of-range numbers.
#[test]
fn demo_refuses_settings_a_match_cannot_run_with() {
    for (args, says) in [
        (
            &["demo", "--headless", "--loss", "1"][..],
            "--loss 1: a match cannot synchronize",
        ),
        (
            &["demo", "--headless", "--loss", "0.9"][..],
            "give a probability from 0 to 0.5",
        ),
        (
            &["demo", "--headless", "--loss", "1.5"][..],
            "expected a probability from 0 to 1",
        ),
        (
            &["demo", "--headless", "--loss=-0.1"][..],
            "expected a probability",
        ),
        (
            &["demo", "--headless", "--latency", "3600000"][..],
            "0..=1000",
        ),
        (
            &["demo", "--headless", "--latency", "1000"][..],
            "--latency 1000: with --input-delay 2 and --max-prediction 8 a match runs slower \
             than real time above 100 ms",
        ),
        (
            &[
                "demo",
                "--headless",
                "--latency",
                "60",
                "--input-delay",
                "0",
                "--max-prediction",
                "4",
            ][..],
            "give 0 to 40",
        ),
        (&["demo", "--headless", "--frames", "0"][..], "1..=1000000"),
        (&["demo", "--headless", "--peers", "5"][..], "2..=4"),
        (&["demo", "--headless", "--input-delay", "9"][..], "0..=8"),
        (
            &["demo", "--headless", "--max-prediction", "1"][..],
            "2..=8",
        ),
        (
            &["demo", "--headless", "--inject-desync", "2@600"][..],
            "--inject-desync 2@600: peers are seats 0 to 1",
        ),
        (
            &["demo", "--headless", "--inject-desync", "1@0"][..],
            "the frame must be 1 to 3600",
        ),
        (
            &[
                "demo",
                "--headless",
                "--frames",
                "600",
                "--inject-desync",
                "1@601",
            ][..],
            "the frame must be 1 to 600",
        ),
        (
            &["demo", "--headless", "--inject-desync", "1"][..],
            "expected PEER@FRAME",
        ),
        (
            &["demo", "--headless", "--transport", "carrier-pigeon"][..],
            "possible values",
        ),
    ] {
        refused(args, says, "demo");
    }
}

/// Every subcommand's bad-argument paths found after parsing (and a few of clap's own):
/// each exits 2 with its own usage, nothing panics, nothing starts.
#[test]
fn every_subcommand_refuses_bad_arguments_with_its_usage() {
    let dir = temp("dir");
    std::fs::create_dir_all(&dir).expect("dir");
    let fifo = temp("fifo");
    let _ = std::fs::remove_file(&fifo);
    let made = Command::new("mkfifo").arg(&fifo).status().expect("mkfifo");
    assert!(made.success());
    let (dir_s, fifo_s) = (
        dir.to_str().expect("utf-8").to_string(),
        fifo.to_str().expect("utf-8").to_string(),
    );
    let max = u64::MAX.to_string();
    let cases: Vec<(Vec<&str>, String, &str)> = vec![
        (
            vec!["demo", "--headless", "--record", &dir_s],
            format!("--record {dir_s}: is a directory"),
            "demo",
        ),
        (
            vec!["demo", "--headless", "--record", &fifo_s],
            format!("--record {fifo_s}: is a FIFO"),
            "demo",
        ),
        (
            vec!["host", "--headless", "--udp", "0.0.0.0:0"],
            "--udp needs an address players can reach".into(),
            "host",
        ),
        (
            vec!["host", "--headless", "--record", &fifo_s],
            "is a FIFO".into(),
            "host",
        ),
        (
            vec![
                "host",
                "--headless",
                "--webrtc",
                "--ice-config",
                "/nonexistent-hltd/ice.json",
            ],
            "--ice-config: cannot read /nonexistent-hltd/ice.json".into(),
            "host",
        ),
        (
            vec![
                "host",
                "--headless",
                "--webrtc",
                "--ice",
                "http://example.invalid",
            ],
            "http://example.invalid".into(),
            "host",
        ),
        (
            vec!["host", "--headless", "--webrtc", "--signal", "not a url"],
            "not a url".into(),
            "host",
        ),
        (vec!["host", "--players", "1"], "2..=4".into(), "host"),
        (vec!["host", "--ttl-min", "0"], "1..=1440".into(), "host"),
        (
            vec!["join", "--headless", "not-a-code"],
            "invite".into(),
            "join",
        ),
        (
            vec!["spectate", "--headless", "not-a-code"],
            "invite".into(),
            "spectate",
        ),
        (
            vec!["join", "--headless", "not-a-code", "--record", &dir_s],
            "is a directory".into(),
            "join",
        ),
        (vec!["sim", "--players", "5"], "1..=4".into(), "sim"),
        (
            vec!["sim", "--creeps", "10"],
            "--creeps only applies to --scenario swarm".into(),
            "sim",
        ),
        (
            vec!["sim", "--record", &fifo_s],
            format!("--record {fifo_s}: is a FIFO"),
            "sim",
        ),
        (
            vec!["sim", "--record", "/nonexistent-hltd/x.hltr"],
            "the directory /nonexistent-hltd does not exist".into(),
            "sim",
        ),
        (
            vec!["fuzz", "synctest", "--creeps", "10"],
            "--creeps needs --scenario swarm".into(),
            "fuzz synctest",
        ),
        (
            vec!["fuzz", "synctest", "--first-seed", &max, "--seeds", "2"],
            "the seeds would run past".into(),
            "fuzz synctest",
        ),
        (
            vec!["fuzz", "net", "--first-seed", &max, "--seeds", "2"],
            "the seeds would run past".into(),
            "fuzz net",
        ),
        (
            vec!["fuzz", "net", "--loss", "1"],
            "--loss 1: a match cannot synchronize".into(),
            "fuzz net",
        ),
        (
            vec!["fuzz", "net", "--peers", "1"],
            "2..=4".into(),
            "fuzz net",
        ),
        (
            vec!["fuzz", "net", "--latency", "99999"],
            "0..=2000".into(),
            "fuzz net",
        ),
        (
            vec!["fuzz", "net", "--jobs", "0"],
            "1..=64".into(),
            "fuzz net",
        ),
        (
            vec!["fuzz", "synctest", "--seeds", "0"],
            "1..=1000000".into(),
            "fuzz synctest",
        ),
        (vec!["bench", "--creeps", "0"], "1..=100000".into(), "bench"),
        (
            vec!["desync", "diff", "a"],
            "required".into(),
            "desync diff",
        ),
        (vec!["replay", "verify"], "required".into(), "replay verify"),
        (vec!["replay", "info"], "required".into(), "replay info"),
    ];
    for (args, says, usage) in &cases {
        refused(args, says, usage);
    }
    // The refused FIFO was not opened (that would have waited for a reader), nor replaced.
    let kind = std::fs::symlink_metadata(&fifo)
        .expect("the FIFO")
        .file_type();
    assert!(std::os::unix::fs::FileTypeExt::is_fifo(&kind));
    let _ = std::fs::remove_file(&fifo);
    let _ = std::fs::remove_dir_all(&dir);
}
