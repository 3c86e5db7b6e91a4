//! The live terminal client, driven through tmux as a user would: keys in, screen out.
//! Needs `tmux` (CI installs it). The match runs over loopback UDP.

use std::io::Read;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// A tmux server of this test's own, killed (with what runs in it) on drop.
struct Tmux {
    socket: String,
    /// Whether the session exists (the first window creates it).
    started: std::cell::Cell<bool>,
}

impl Tmux {
    fn new(name: &str) -> Tmux {
        Tmux {
            socket: format!("hltd-{name}-{}", std::process::id()),
            started: std::cell::Cell::new(false),
        }
    }

    fn run(&self, args: &[&str]) -> String {
        let out = Command::new("tmux")
            .arg("-L")
            .arg(&self.socket)
            .args(args)
            .output()
            .unwrap_or_else(|err| panic!("tmux is needed for this test (apt install tmux): {err}"));
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Runs `command` in a new 120x40 window `name`, whose exit status goes to a file read
    /// by [`Tmux::exit_status`]; the pane stays after the command ends.
    fn start(&self, name: &str, command: &str) -> std::path::PathBuf {
        let status = std::env::temp_dir().join(format!("{}-{name}.status", self.socket));
        let _ = std::fs::remove_file(&status);
        let shell = format!(
            "XDG_DATA_HOME={} {command}; echo $? > {}; sleep 60",
            super::data_home().display(),
            status.display()
        );
        let first = !self.started.replace(true);
        if first {
            self.run(&[
                "new-session",
                "-d",
                "-s",
                "hltd",
                "-n",
                name,
                "-x",
                "120",
                "-y",
                "40",
                &shell,
            ]);
            self.run(&["set-option", "-g", "remain-on-exit", "on"]);
        } else {
            self.run(&["new-window", "-d", "-t", "hltd", "-n", name, &shell]);
        }
        status
    }

    fn pane(&self, name: &str) -> String {
        self.run(&["capture-pane", "-p", "-t", &format!("hltd:{name}")])
    }

    fn keys(&self, name: &str, keys: &[&str]) {
        let target = format!("hltd:{name}");
        let mut args = vec!["send-keys", "-t", target.as_str()];
        args.extend_from_slice(keys);
        self.run(&args);
    }

    /// Captures the pane until `done` holds, for at most `limit`.
    fn wait(&self, name: &str, what: &str, limit: Duration, done: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + limit;
        loop {
            let pane = self.pane(name);
            if done(&pane) {
                return pane;
            }
            assert!(
                Instant::now() < deadline,
                "{name}: {what}; the pane shows:\n{pane}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// The exit status the command in `name` wrote, waiting up to 20 seconds for it.
    fn exit_status(&self, name: &str, status: &std::path::Path) -> String {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Ok(text) = std::fs::read_to_string(status) {
                if !text.trim().is_empty() {
                    let _ = std::fs::remove_file(status);
                    return text.trim().to_string();
                }
            }
            assert!(
                Instant::now() < deadline,
                "{name} did not exit; the pane shows:\n{}",
                self.pane(name)
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Whether the pane is back on the normal screen with the cursor shown, waiting up to 5 s
    /// (tmux may still be reading the process's last bytes).
    fn assert_restored(&self, name: &str) {
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            let flags = self.run(&[
                "display-message",
                "-p",
                "-t",
                &format!("hltd:{name}"),
                "#{alternate_on} #{cursor_flag}",
            ]);
            if flags.trim() == "0 1" {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "{name}: alternate screen and cursor flags are {flags:?}, not \"0 1\":\n{}",
                self.pane(name)
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = Command::new("tmux")
            .args(["-L", &self.socket, "kill-server"])
            .output();
    }
}

const SHOW: Duration = Duration::from_secs(20);

/// `hltd demo --peers 2 --seed 3` in a 120x40 window: move the cursor, build a tower, see the
/// HUD, the grid with the tower and the network panel; quit with q then y; the process exits
/// 0 and the terminal is back to normal.
#[test]
fn play_and_quit_in_tmux() {
    let tmux = Tmux::new("demo");
    let command = format!("{} demo --peers 2 --seed 3", env!("CARGO_BIN_EXE_hltd"));
    let status = tmux.start("demo", &command);
    tmux.wait("demo", "the match screen never showed", SHOW, |p| {
        p.contains("Healer TD") && p.contains("agreed up to frame")
    });
    // From (0,0): right twice and down once is (2,1), off the path; 1 builds an arrow.
    tmux.keys("demo", &["Right", "Right", "Down"]);
    std::thread::sleep(Duration::from_millis(300));
    tmux.keys("demo", &["1"]);
    let pane = tmux.wait("demo", "no tower under the cursor", SHOW, |p| {
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

    tmux.keys("demo", &["q"]);
    tmux.wait("demo", "no quit question", SHOW, |p| {
        p.contains("Leave the match?")
    });
    tmux.keys("demo", &["y"]);
    assert_eq!(tmux.exit_status("demo", &status), "0", "exit status");
    // Restored: the shell's screen again, with the summary, no match screen, cursor shown.
    let pane = tmux.wait("demo", "the summary never showed", SHOW, |p| {
        p.contains("left the match at frame") && !p.contains("P1 (you)")
    });
    tmux.assert_restored("demo");
    // The match so far was recorded, with the tower built by hand; it verifies.
    let replay = pane
        .lines()
        .find_map(|l| l.strip_prefix("replay: "))
        .and_then(|l| l.rsplit_once(" ("))
        .map(|(path, _)| path.to_string())
        .unwrap_or_else(|| panic!("no replay line:\n{pane}"));
    let verify = Command::new(env!("CARGO_BIN_EXE_hltd"))
        .args(["replay", "verify", &replay])
        .output()
        .expect("verify");
    assert_eq!(verify.status.code(), Some(0), "{verify:?}");
    let built = replay::read(&std::fs::read(&replay).expect("read"))
        .expect("a replay")
        .inputs
        .iter()
        .any(|frame| frame[0].action == sim::action::BUILD);
    assert!(built, "the recorded inputs hold the build");
    let _ = std::fs::remove_file(&replay);
}

/// `hltd replay play FILE --paused`: go to frame 900 with g, step back, play at 16x to the
/// end; the panel shows each frame's hash, the one the library computes; q leaves with the
/// last frame's hash printed.
#[test]
fn replay_play_in_tmux() {
    let file = std::env::temp_dir().join(format!("hltd-play-{}.hltr", std::process::id()));
    let file = file.to_str().expect("utf-8").to_string();
    let hltd = env!("CARGO_BIN_EXE_hltd");
    let sim = Command::new(hltd)
        .args([
            "sim",
            "--seed",
            "9",
            "--players",
            "2",
            "--frames",
            "1200",
            "--record",
            &file,
        ])
        .output()
        .expect("sim");
    assert!(sim.status.success(), "{sim:?}");
    let last = String::from_utf8_lossy(&sim.stdout)
        .trim()
        .replace("frame=1200 hash=", "");
    let mut player =
        replay::Player::new(replay::read(&std::fs::read(&file).expect("read")).expect("replay"))
            .expect("player");
    let hash_at = |player: &mut replay::Player, frame| {
        player.seek(frame);
        player.hash().to_hex()
    };

    let tmux = Tmux::new("play");
    let status = tmux.start("play", &format!("{hltd} replay play {file} --paused"));
    tmux.wait("play", "the replay screen never showed", SHOW, |p| {
        p.contains("frame 0 of 1200") && p.contains("speed 1x  paused")
    });
    tmux.keys("play", &["g", "9", "0", "0", "Enter"]);
    let pane = tmux.wait("play", "g 900 did not seek", SHOW, |p| {
        p.contains("frame 900 of 1200")
    });
    let hash = hash_at(&mut player, 900);
    assert!(
        pane.contains(&hash[..28]) && pane.contains(&hash[28..56]),
        "{hash}\n{pane}"
    );
    assert!(pane.contains("as recorded"), "{pane}");
    assert!(pane.contains("] 900/1200  0:15/0:20  1x  paused"), "{pane}");
    tmux.keys("play", &["Left"]);
    let pane = tmux.wait("play", "Left did not step back", SHOW, |p| {
        p.contains("frame 899 of 1200")
    });
    let hash = hash_at(&mut player, 899);
    assert!(pane.contains(&hash[..28]), "{hash}\n{pane}");
    tmux.keys("play", &["+", "+", "+", "+", "Space"]);
    tmux.wait("play", "16x did not play to the end", SHOW, |p| {
        p.contains("frame 1200 of 1200") && p.contains("speed 16x  paused")
    });
    tmux.keys("play", &["q"]);
    assert_eq!(tmux.exit_status("play", &status), "0");
    tmux.wait("play", "no closing line", SHOW, |p| {
        p.contains(&format!(
            "left the replay at frame 1200 of 1200 hash={}",
            &last[..20]
        ))
    });
    tmux.assert_restored("play");
    let _ = std::fs::remove_file(&file);
}

/// The first 32 hex digits of the hash on a `result:` line.
fn result_hash(text: &str) -> Option<String> {
    let line = text.lines().find(|l| l.starts_with("result: "))?;
    let hash = line.split("hash=").nth(1)?;
    Some(hash.chars().take(32).collect())
}

/// `hltd host` and `hltd spectate` on their terminal screens, a headless `hltd join` playing
/// seat 2 by bot: the lobby shows the invite code and the seats, the match screen follows,
/// the summary overlay ends it with the same hash everywhere, and q leaves with exit 0.
#[test]
fn host_and_spectate_on_screen_with_a_joiner() {
    let hltd = env!("CARGO_BIN_EXE_hltd");
    let tmux = Tmux::new("host");
    let host_status = tmux.start("host", &format!("{hltd} host --players 2 --frames 300"));
    let lobby = tmux.wait("host", "no lobby screen", SHOW, |p| {
        p.contains("invite code") && p.contains("players 1/2")
    });
    assert!(
        lobby.contains("seat 0 (P1)  ready      you (host)"),
        "{lobby}"
    );
    assert!(
        lobby.contains("seat 1 (P2)  open       waiting for a player"),
        "{lobby}"
    );
    let code = lobby
        .lines()
        .find_map(|l| l.trim().strip_prefix("players:     hltd join "))
        .expect("the join command on the lobby screen")
        .trim()
        .to_string();

    let spec_status = tmux.start("spec", &format!("{hltd} spectate {code}"));
    tmux.wait(
        "spec",
        "the spectator's lobby never showed the host",
        SHOW,
        |p| p.contains("watching the match at") && p.contains("(host)"),
    );
    tmux.wait("host", "the host never saw the spectator", SHOW, |p| {
        p.contains("spectators: 1")
    });

    let mut joiner = Command::new(hltd)
        .env("XDG_DATA_HOME", super::data_home())
        .args(["join", &code])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start hltd join");
    struct Kill(u32);
    impl Drop for Kill {
        fn drop(&mut self) {
            let _ = Command::new("kill").arg(self.0.to_string()).output();
        }
    }
    let _kill = Kill(joiner.id());

    let playing = tmux.wait("host", "the match screen never showed", SHOW, |p| {
        p.contains("you: seat 0 (P1)") && p.contains("network")
    });
    assert!(playing.contains("P2"), "{playing}");
    let spectating = tmux.wait(
        "spec",
        "the spectator's match screen never showed",
        SHOW,
        |p| p.contains("spectating") && p.contains("watching: hashes not compared"),
    );
    assert!(!spectating.contains("(you)"), "{spectating}");

    let over = |p: &str| p.contains("match over") && p.contains("press q to leave");
    let host_over = tmux.wait("host", "no summary", Duration::from_secs(40), |p| {
        over(p) && p.contains("agreed: all 2 players, same hash")
    });
    let spec_over = tmux.wait("spec", "no summary", Duration::from_secs(40), over);
    assert!(host_over.contains("frames     300"), "{host_over}");

    let deadline = Instant::now() + Duration::from_secs(30);
    let joined = loop {
        if let Some(status) = joiner.try_wait().expect("wait for the joiner") {
            let mut out = String::new();
            let _ = joiner
                .stdout
                .take()
                .expect("piped")
                .read_to_string(&mut out);
            assert!(status.success(), "the joiner failed: {out}");
            break out;
        }
        assert!(Instant::now() < deadline, "the joiner did not finish");
        std::thread::sleep(Duration::from_millis(100));
    };
    let hash = result_hash(&joined).expect("the joiner's result line");
    assert!(host_over.contains(&hash), "{hash}: {host_over}");
    assert!(spec_over.contains(&hash), "{hash}: {spec_over}");

    tmux.keys("host", &["q"]);
    tmux.keys("spec", &["q"]);
    assert_eq!(tmux.exit_status("host", &host_status), "0");
    assert_eq!(tmux.exit_status("spec", &spec_status), "0");
    for name in ["host", "spec"] {
        let pane = tmux.wait(name, "no result line after leaving", SHOW, |p| {
            result_hash(p).is_some()
        });
        assert_eq!(result_hash(&pane).as_deref(), Some(hash.as_str()), "{pane}");
        assert!(pane.contains("agreed=yes"), "{pane}");
        tmux.assert_restored(name);
    }
}

/// The live demo over WebRTC, inside a network namespace of this test's own (WebRTC reaches
/// for every interface): the match screen, the summary when every peer confirmed the last
/// frame, and q to leave with exit 0.
#[test]
fn live_demo_over_webrtc_in_a_namespace() {
    let ns = net::netns::Netns::new(true).unwrap_or_else(|err| panic!("{err}"));
    let tmux = Tmux::new("rtc");
    let command = format!(
        "nsenter --target {} --net -- {} demo --transport webrtc --frames 300 --seed 5",
        ns.pid(),
        env!("CARGO_BIN_EXE_hltd")
    );
    let status = tmux.start("rtc", &command);
    let playing = tmux.wait("rtc", "the match screen never showed", SHOW, |p| {
        p.contains("you: seat 0 (P1)") && p.contains("agreed up to frame")
    });
    assert!(playing.contains("ping"), "{playing}");
    tmux.wait("rtc", "no summary", Duration::from_secs(40), |p| {
        p.contains("match over") && p.contains("agreed: all 2 peers, same hash")
    });
    tmux.keys("rtc", &["q"]);
    assert_eq!(tmux.exit_status("rtc", &status), "0");
    let pane = tmux.wait("rtc", "no result line", SHOW, |p| result_hash(p).is_some());
    assert!(pane.contains("agreed=yes"), "{pane}");
    tmux.assert_restored("rtc");
}

/// Resizing below 80x24 shows the too-small notice and back shows the match again; Ctrl-C
/// leaves at once, exit 0, with the terminal restored.
#[test]
fn resize_and_ctrl_c_in_tmux() {
    let tmux = Tmux::new("resize");
    let command = format!(
        "{} demo --peers 3 --frames 100000",
        env!("CARGO_BIN_EXE_hltd")
    );
    let status = tmux.start("demo", &command);
    tmux.wait("demo", "the match screen never showed", SHOW, |p| {
        p.contains("you: seat 0 (P1)") && p.contains("P3")
    });
    tmux.run(&["resize-window", "-t", "hltd:demo", "-x", "70", "-y", "20"]);
    tmux.wait("demo", "no too-small notice", SHOW, |p| {
        p.contains("The window is too small.") && p.contains("this one is 70x20")
    });
    tmux.run(&["resize-window", "-t", "hltd:demo", "-x", "80", "-y", "24"]);
    let pane = tmux.wait("demo", "the match did not come back at 80x24", SHOW, |p| {
        p.contains("you: seat 0 (P1)") && p.contains("network")
    });
    assert!(!pane.contains("too small"), "{pane}");
    tmux.keys("demo", &["C-c"]);
    assert_eq!(tmux.exit_status("demo", &status), "0");
    tmux.wait("demo", "no summary after Ctrl-C", SHOW, |p| {
        p.contains("left the match at frame")
    });
    tmux.assert_restored("demo");
}
