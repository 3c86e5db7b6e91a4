//! The live terminal client, driven through tmux as a user would: keys in, screen out.
//! Needs `tmux` (CI installs it). The match runs over loopback UDP.

use std::process::Command;
use std::time::{Duration, Instant};

/// Runs tmux on a server of this test's own.
fn tmux(socket: &str, args: &[&str]) -> String {
    let out = Command::new("tmux")
        .arg("-L")
        .arg(socket)
        .args(args)
        .output()
        .unwrap_or_else(|err| panic!("tmux is needed for this test (apt install tmux): {err}"));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Captures the pane until `done` holds, for at most 20 seconds.
fn capture_until(socket: &str, what: &str, done: impl Fn(&str) -> bool) -> String {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let pane = tmux(socket, &["capture-pane", "-p", "-t", "hltd"]);
        if done(&pane) {
            return pane;
        }
        assert!(Instant::now() < deadline, "{what}; the pane shows:\n{pane}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// `hltd demo --peers 2 --seed 3` in a 120x40 window: move the cursor, build a tower, see the
/// HUD, the grid with the tower and the network panel; quit with q then y; the process exits
/// 0 and the terminal is back to normal.
#[test]
fn play_and_quit_in_tmux() {
    let socket = format!("hltd-test-{}", std::process::id());
    let status = std::env::temp_dir().join(format!("{socket}.status"));
    let _ = std::fs::remove_file(&status);
    let command = format!(
        "{} demo --peers 2 --seed 3; echo $? > {}; sleep 60",
        env!("CARGO_BIN_EXE_hltd"),
        status.display()
    );
    tmux(
        &socket,
        &[
            "new-session",
            "-d",
            "-s",
            "hltd",
            "-x",
            "120",
            "-y",
            "40",
            &command,
        ],
    );
    // Keep the pane (and what the process left on it) after the process ends.
    tmux(
        &socket,
        &["set-option", "-t", "hltd", "remain-on-exit", "on"],
    );
    struct Server(String);
    impl Drop for Server {
        fn drop(&mut self) {
            let _ = Command::new("tmux")
                .args(["-L", &self.0, "kill-server"])
                .output();
        }
    }
    let _server = Server(socket.clone());

    capture_until(&socket, "the match screen never showed", |p| {
        p.contains("Healer TD") && p.contains("agreed up to frame")
    });
    // From (0,0): right twice and down once is (2,1), off the path; 1 builds an arrow.
    tmux(
        &socket,
        &["send-keys", "-t", "hltd", "Right", "Right", "Down"],
    );
    std::thread::sleep(Duration::from_millis(300));
    tmux(&socket, &["send-keys", "-t", "hltd", "1"]);
    let pane = capture_until(&socket, "no tower under the cursor", |p| {
        p.contains("cursor (2,1): arrow level 1")
    });
    let lines: Vec<&str> = pane.lines().collect();
    assert!(
        lines[0].contains("wave") && lines[0].contains("gold"),
        "{pane}"
    );
    // The grid: row y=1 of lane P1 holds the tower at x=2 (2 columns per cell).
    let row: Vec<char> = lines[4].chars().collect();
    assert_eq!(row[0], '│', "{pane}");
    assert_eq!(&row[5..7], &['A', '1'], "{pane}");
    assert!(pane.contains("P1 (you)") && pane.contains("P2"), "{pane}");
    assert!(pane.contains("network") && pane.contains("ping"), "{pane}");
    assert!(pane.contains("kbps") && pane.contains("rb/s"), "{pane}");

    tmux(&socket, &["send-keys", "-t", "hltd", "q"]);
    capture_until(&socket, "no quit question", |p| {
        p.contains("Leave the match?")
    });
    tmux(&socket, &["send-keys", "-t", "hltd", "y"]);
    let deadline = Instant::now() + Duration::from_secs(20);
    let code = loop {
        if let Ok(text) = std::fs::read_to_string(&status) {
            if !text.trim().is_empty() {
                break text.trim().to_string();
            }
        }
        assert!(Instant::now() < deadline, "hltd did not exit after q, y");
        std::thread::sleep(Duration::from_millis(100));
    };
    let _ = std::fs::remove_file(&status);
    assert_eq!(code, "0", "exit status");
    // Restored: the shell's screen again, with the summary, no match screen, cursor shown.
    // tmux may still be reading the last bytes the process wrote: give it a moment.
    let pane = capture_until(&socket, "the summary never showed", |p| {
        p.contains("left the match at frame") && !p.contains("P1 (you)")
    });
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let flags = tmux(
            &socket,
            &[
                "display-message",
                "-p",
                "-t",
                "hltd",
                "#{alternate_on} #{cursor_flag}",
            ],
        );
        if flags.trim() == "0 1" {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "alternate screen and cursor flags are {flags:?}, not \"0 1\":\n{pane}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}
