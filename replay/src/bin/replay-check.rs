//! `replay-check DIR`: verifies every replay listed in `DIR/EXPECTED` (lines `NAME FRAMES
//! HASH`) by re-simulating it, on whatever target this was built for: the cross-target
//! determinism check runs it natively, on i686 and on wasm32-wasip1 (under node's WASI).
//! Prints one line per replay; exits 0 when every replay re-simulates to its recorded hash
//! stream and to the expected final hash, 1 at the first that does not (naming the frame), 2
//! when the corpus cannot be read.

use std::path::Path;
use std::process::ExitCode;

/// The corpus's `EXPECTED` list: a line per replay.
const EXPECTED: replay::file::Limit = replay::file::Limit {
    what: "an EXPECTED list",
    name: "EXPECTED_MAX",
    max: 1 << 20,
};

fn main() -> ExitCode {
    let Some(dir) = std::env::args().nth(1) else {
        eprintln!("usage: replay-check DIR (a directory with an EXPECTED file)");
        return ExitCode::from(2);
    };
    let dir = Path::new(&dir);
    // A list of names, hashes and frame counts: the cap of a bundle.json is plenty.
    let expected = match replay::file::read_to_string(&dir.join("EXPECTED"), EXPECTED) {
        Ok(text) => text,
        Err(err) => {
            eprintln!("replay-check: {err}");
            return ExitCode::from(2);
        }
    };
    let target = if cfg!(target_arch = "wasm32") {
        "wasm32"
    } else if cfg!(target_pointer_width = "32") {
        "32-bit"
    } else {
        "64-bit"
    };
    let mut checked = 0;
    for (n, line) in expected.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let fields: Vec<&str> = line.split_whitespace().collect();
        let [name, frames, hash] = fields[..] else {
            eprintln!(
                "replay-check: EXPECTED line {}: expected NAME FRAMES HASH",
                n + 1
            );
            return ExitCode::from(2);
        };
        let replay = match replay::read_file(&dir.join(name)) {
            Ok(replay) if replay.stopped.is_none() => replay,
            Ok(replay) => {
                let stop = replay.stopped.map(|s| s.to_string()).unwrap_or_default();
                eprintln!("replay-check: {name}: {stop}");
                return ExitCode::from(2);
            }
            Err(err) => {
                eprintln!("replay-check: {err}");
                return ExitCode::from(2);
            }
        };
        match replay::verify(&replay) {
            replay::Verdict::Ok { frames: f, hash: h }
                if f.to_string() == frames && h.to_hex() == hash =>
            {
                println!("{name}: ok frames={f} hash={h} ({target})");
                checked += 1;
            }
            replay::Verdict::Ok { frames: f, hash: h } => {
                println!(
                    "{name}: DIFFERS ({target}): re-simulated frames={f} hash={h}, expected \
                     frames={frames} hash={hash}"
                );
                return ExitCode::from(1);
            }
            replay::Verdict::Diverged {
                frame,
                expected,
                got,
            } => {
                println!(
                    "{name}: DIVERGED ({target}) at frame {frame}: recorded {expected}, \
                     re-simulated {got}"
                );
                return ExitCode::from(1);
            }
        }
    }
    println!("replay-check: {checked} replays, every hash as recorded ({target})");
    ExitCode::SUCCESS
}
