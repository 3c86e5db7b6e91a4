//! `hltd demo`, `host`, `join` and `spectate` as separate processes over loopback UDP. Every
//! process is bounded in time and killed by its id if it overstays.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

const LIMIT: Duration = Duration::from_secs(60);

fn hltd(args: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_hltd"));
    command
        .env("XDG_DATA_HOME", super::data_home())
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    command
}

/// Waits for `child` up to [`LIMIT`], killing it (by its id) if it overstays.
fn wait_bounded(mut child: Child, what: &str) -> Output {
    let deadline = Instant::now() + LIMIT;
    loop {
        match child.try_wait() {
            Ok(Some(_)) => return child.wait_with_output().expect("collect output"),
            Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(20)),
            _ => {
                let _ = child.kill();
                let out = child.wait_with_output().expect("collect output");
                panic!(
                    "{what} did not finish within {LIMIT:?}: {}{}",
                    String::from_utf8_lossy(&out.stdout),
                    String::from_utf8_lossy(&out.stderr)
                );
            }
        }
    }
}

fn result_line(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .rfind(|l| l.starts_with("result: "))
        .unwrap_or_default()
        .to_string()
}

/// Starts a host and returns it with the invite code it printed.
fn start_host(players: u32, frames: u32) -> (Child, String) {
    let mut host = hltd(&[
        "host",
        "--udp",
        "127.0.0.1:0",
        "--players",
        &players.to_string(),
        "--frames",
        &frames.to_string(),
        "--seed",
        "5",
    ])
    .spawn()
    .expect("start host");
    let stdout = host.stdout.take().expect("piped");
    let mut lines = BufReader::new(stdout).lines();
    let first = lines.next().expect("a line").expect("utf-8");
    let code = first
        .strip_prefix("invite code: ")
        .unwrap_or_else(|| panic!("the host's first line is its code, got {first:?}"))
        .to_string();
    // Keep draining the host's output so it never blocks on a full pipe.
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let sink = seen.clone();
    let rest = std::thread::spawn(move || {
        for line in lines.map_while(Result::ok) {
            sink.lock().expect("lines").push(line);
        }
    });
    HOST_OUTPUT.with(|h| *h.borrow_mut() = Some((rest, seen)));
    (host, code)
}

type HostOutput = (
    std::thread::JoinHandle<()>,
    std::sync::Arc<std::sync::Mutex<Vec<String>>>,
);

thread_local! {
    static HOST_OUTPUT: std::cell::RefCell<Option<HostOutput>> =
        const { std::cell::RefCell::new(None) };
}

/// Waits (up to [`LIMIT`]) until the host printed a line containing `text`.
fn host_said(text: &str) {
    let deadline = Instant::now() + LIMIT;
    loop {
        let said = HOST_OUTPUT.with(|h| {
            h.borrow().as_ref().is_some_and(|(_, seen)| {
                seen.lock().expect("lines").iter().any(|l| l.contains(text))
            })
        });
        if said {
            return;
        }
        assert!(Instant::now() < deadline, "the host never said {text:?}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn host_lines() -> Vec<String> {
    HOST_OUTPUT
        .with(|h| h.borrow_mut().take())
        .map(|(thread, seen)| {
            thread.join().expect("reader thread");
            let lines = seen.lock().expect("lines").clone();
            lines
        })
        .unwrap_or_default()
}

/// 2 and 4 peers as separate processes, plus a spectator with 2, 600 frames at 60 Hz: every
/// process ends with the same `result:` line, agreed, exit 0.
#[test]
fn host_join_spectate_as_processes() {
    for (players, spectate) in [(2u32, true), (4, false)] {
        let (host, code) = start_host(players, 600);
        let spectator = spectate.then(|| hltd(&["spectate", &code]).spawn().expect("spectate"));
        if spectate {
            // Spectators must be in before the match starts.
            host_said("spectator joined");
        }
        let joiners: Vec<Child> = (1..players)
            .map(|_| hltd(&["join", &code]).spawn().expect("join"))
            .collect();
        let mut results = Vec::new();
        let mut replays = Vec::new();
        for (i, joiner) in joiners.into_iter().enumerate() {
            let out = wait_bounded(joiner, "join");
            assert!(
                out.status.success(),
                "joiner {i}: {}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
            results.push(result_line(&out));
            replays.push(replay_of(&String::from_utf8_lossy(&out.stdout)));
        }
        if let Some(spectator) = spectator {
            let out = wait_bounded(spectator, "spectate");
            assert!(
                out.status.success(),
                "spectator: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            results.push(result_line(&out));
            replays.push(replay_of(&String::from_utf8_lossy(&out.stdout)));
        }
        let out = wait_bounded(host, "host");
        let lines = host_lines();
        assert!(
            out.status.success(),
            "host: {lines:?} {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let host_result = lines
            .iter()
            .rev()
            .find(|l| l.starts_with("result: "))
            .cloned()
            .unwrap_or_default();
        assert!(
            host_result.starts_with(&format!(
                "result: frames=600 peers={players} agreed=yes hash="
            )),
            "{host_result}"
        );
        for r in results {
            assert_eq!(r, host_result, "{players} players");
        }
        // Every process recorded the match from its side; every recording re-simulates to
        // the hash of the result line.
        replays.push(replay_of(&lines.join("\n")));
        let hash = host_result.split("hash=").nth(1).unwrap_or_default();
        for path in replays {
            let verify = super::hltd(&["replay", "verify", &path]);
            assert_eq!(
                String::from_utf8_lossy(&verify.stdout),
                format!("ok: frames=600 hash={hash}\n"),
                "{path}: {verify:?}"
            );
            let _ = std::fs::remove_file(&path);
        }
    }
}

/// The replay a match's output names.
fn replay_of(stdout: &str) -> String {
    stdout
        .lines()
        .find_map(|l| l.strip_prefix("replay: "))
        .and_then(|l| l.strip_suffix(" (600 frames)"))
        .unwrap_or_else(|| panic!("no replay line of 600 frames in {stdout}"))
        .to_string()
}

/// The headless demo: 4 peers agree and exit 0; an injected desync is named and exits 1.
#[test]
fn demo_headless_agrees_and_names_desyncs() {
    let out = wait_bounded(
        hltd(&["demo", "--headless", "--peers", "4", "--frames", "1200"])
            .spawn()
            .expect("demo"),
        "demo",
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert!(result_line(&out).starts_with("result: frames=1200 peers=4 agreed=yes hash="));

    let out = wait_bounded(
        hltd(&[
            "demo",
            "--headless",
            "--peers",
            "3",
            "--frames",
            "900",
            "--inject-desync",
            "2@600",
        ])
        .spawn()
        .expect("demo"),
        "demo",
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    let lines: Vec<&str> = stdout.lines().collect();
    let n = lines
        .iter()
        .position(|l| l.starts_with("result: "))
        .unwrap_or_else(|| panic!("no result line: {stdout}"));
    assert!(
        lines[n].starts_with("result: frames=900 peers=3 agreed=no hash="),
        "{stdout}"
    );
    assert_eq!(lines[n - 1], "verdict: frame=600 diverged=2", "{stdout}");
}

/// Bad invite codes exit 2 with a reason: malformed, mistyped, expired.
#[test]
fn bad_codes_exit_2() {
    let expired = net::invite::Invite {
        host: "127.0.0.1:9".parse().expect("addr"),
        secret: net::invite::Secret([1; 12]),
        expires_min: 1,
    }
    .encode();
    for (code, says) in [
        ("NOT-A-CODE", "invalid invite code"),
        ("", "invalid invite code"),
        (expired.as_str(), "expired"),
    ] {
        let out = wait_bounded(hltd(&["join", code]).spawn().expect("join"), "join");
        assert_eq!(out.status.code(), Some(2), "{code}");
        assert!(
            String::from_utf8_lossy(&out.stderr).contains(says),
            "{code}"
        );
    }
    let out = wait_bounded(
        hltd(&["demo", "--peers", "5"]).spawn().expect("demo"),
        "demo",
    );
    assert_eq!(out.status.code(), Some(2));
    let out = wait_bounded(
        hltd(&["demo", "--loss", "1.5"]).spawn().expect("demo"),
        "demo",
    );
    assert_eq!(out.status.code(), Some(2));
    let out = wait_bounded(
        hltd(&["demo", "--peers", "2", "--inject-desync", "3@10"])
            .spawn()
            .expect("demo"),
        "demo",
    );
    assert_eq!(out.status.code(), Some(2));
}
