//! Test support: fresh Linux network namespaces, so that network tests (WebRTC above all,
//! whose ICE and mDNS reach for every interface) never touch this machine's own interfaces.
//!
//! A namespace lives as long as a holder process (`unshare --net`) that the [`Netns`] value
//! owns: dropping the value, or the test process dying, ends the holder and with it the
//! namespace. Commands run inside with `nsenter`. Creating a namespace needs root (or
//! CAP_SYS_ADMIN); CI runs as root. Nothing here is used by the game itself.

use std::ffi::OsStr;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// Environment variable set on a test process that [`rerun_inside`] started in a namespace.
pub const INSIDE: &str = "HLTD_INSIDE_NETNS";

/// A network namespace with loopback up.
pub struct Netns {
    holder: Child,
}

impl Netns {
    /// A fresh namespace with only loopback, up; with `multicast`, also the route to
    /// 224.0.0.0/4 over loopback that webrtc-rs's mDNS socket needs (no packet leaves).
    ///
    /// # Errors
    /// When the namespace cannot be made (not root, no `unshare` or `ip`): the message says
    /// what the shell said.
    pub fn new(multicast: bool) -> Result<Netns, String> {
        let route = if multicast {
            " && ip route add 224.0.0.0/4 dev lo"
        } else {
            ""
        };
        // The holder ends when its stdin closes: when this value drops or the test dies.
        let script = format!("ip link set lo up{route} && echo ready && read _ignored");
        let mut holder = Command::new("unshare")
            .args(["--net", "--", "sh", "-c", &script])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|err| format!("cannot run unshare: {err}"))?;
        let stdout = holder.stdout.take().ok_or("no stdout")?;
        let mut line = String::new();
        let _ = BufReader::new(stdout).read_line(&mut line);
        if line.trim() != "ready" {
            let _ = holder.kill();
            let out = holder.wait_with_output().map_err(|e| e.to_string())?;
            return Err(format!(
                "cannot create a network namespace (tests that use one need root): {}",
                String::from_utf8_lossy(&out.stderr).trim()
            ));
        }
        Ok(Netns { holder })
    }

    /// The holder's process id, which names the namespace (`/proc/PID/ns/net`).
    pub fn pid(&self) -> u32 {
        self.holder.id()
    }

    /// A command that runs `program` inside the namespace.
    pub fn command(&self, program: impl AsRef<OsStr>) -> Command {
        let mut command = Command::new("nsenter");
        command
            .arg("--target")
            .arg(self.pid().to_string())
            .args(["--net", "--"])
            .arg(program);
        command
    }

    /// Runs `ip ARGS` inside the namespace.
    ///
    /// # Errors
    /// When `ip` fails: its message.
    pub fn ip(&self, args: &[&str]) -> Result<(), String> {
        let out = self
            .command("ip")
            .args(args)
            .output()
            .map_err(|e| e.to_string())?;
        if out.status.success() {
            Ok(())
        } else {
            Err(format!(
                "ip {}: {}",
                args.join(" "),
                String::from_utf8_lossy(&out.stderr).trim()
            ))
        }
    }

    /// Joins this namespace to `other` with a veth pair: `here` (an address with prefix, such
    /// as `192.0.2.1/24`) on this side, `there` on the other, both up, each with the
    /// multicast route on its veth end.
    ///
    /// # Errors
    /// When `ip` fails: its message.
    pub fn link(&self, other: &Netns, here: &str, there: &str) -> Result<(), String> {
        let peer_ns = other.pid().to_string();
        self.ip(&[
            "link", "add", "hltd0", "type", "veth", "peer", "name", "hltd1", "netns", &peer_ns,
        ])?;
        self.ip(&["addr", "add", here, "dev", "hltd0"])?;
        self.ip(&["link", "set", "hltd0", "up"])?;
        other.ip(&["addr", "add", there, "dev", "hltd1"])?;
        other.ip(&["link", "set", "hltd1", "up"])?;
        let _ = self.ip(&["route", "del", "224.0.0.0/4"]);
        let _ = other.ip(&["route", "del", "224.0.0.0/4"]);
        self.ip(&["route", "add", "224.0.0.0/4", "dev", "hltd0"])?;
        other.ip(&["route", "add", "224.0.0.0/4", "dev", "hltd1"])
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = self.holder.kill();
        let _ = self.holder.wait();
    }
}

/// Waits for `child` up to `limit`, killing it (by its id) if it overstays.
///
/// # Errors
/// When it overstayed: what it printed until then.
pub fn wait_bounded(mut child: Child, limit: Duration) -> Result<Output, String> {
    let deadline = Instant::now() + limit;
    loop {
        match child.try_wait() {
            Ok(Some(_)) => return child.wait_with_output().map_err(|e| e.to_string()),
            Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(20)),
            _ => {
                let _ = child.kill();
                let out = child.wait_with_output().map_err(|e| e.to_string())?;
                return Err(format!(
                    "did not finish within {limit:?}: {}{}",
                    String::from_utf8_lossy(&out.stdout),
                    String::from_utf8_lossy(&out.stderr)
                ));
            }
        }
    }
}

/// Makes the calling test run inside a fresh namespace (loopback and the multicast route):
/// outside one, it runs the test binary again for just `test` (its full name, such as
/// `webrtc::two_peers`) inside a namespace, bounded by `limit`, panics unless that run passed,
/// and returns `false`; inside, it returns `true` and the test goes on.
///
/// # Panics
/// When the namespace cannot be made, or the run inside fails or overstays.
pub fn rerun_inside(test: &str, limit: Duration) -> bool {
    if std::env::var_os(INSIDE).is_some() {
        return true;
    }
    let ns = Netns::new(true).unwrap_or_else(|err| panic!("{test}: {err}"));
    let exe = std::env::current_exe().unwrap_or_else(|err| panic!("{test}: {err}"));
    let child = ns
        .command(exe)
        .args([test, "--exact", "--nocapture", "--test-threads=1"])
        .env(INSIDE, "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|err| panic!("{test}: cannot start nsenter: {err}"));
    let out = wait_bounded(child, limit).unwrap_or_else(|err| panic!("{test}: {err}"));
    let stdout = String::from_utf8_lossy(&out.stdout);
    print!("{stdout}");
    eprint!("{}", String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "{test} failed inside its namespace");
    assert!(
        stdout.contains("1 passed"),
        "{test} did not run inside its namespace (wrong name?)"
    );
    false
}
