//! Replays round-trip, and any damage is detected: flipped bytes, random mutations, cuts.

use replay::{read, verify, Header, MatchKind, Recorder, Verdict};
use sim::{Game, Input, Scenario, Script, Settings, StateHash};

fn header(seed: u64, players: u8, keyframe_interval: u32) -> Header {
    Header {
        rules_version: sim::RULES_VERSION,
        seed,
        players,
        scenario: Scenario::Standard,
        creeps: 0,
        recorder: Some(0),
        input_delay: 2,
        max_prediction: 8,
        frames_planned: 0,
        keyframe_interval,
        kind: MatchKind::Offline,
    }
}

/// Records `frames` frames of scripted play; returns the file and the final hash.
fn record(seed: u64, players: u8, frames: u32, keyframe_interval: u32) -> (Vec<u8>, StateHash) {
    let mut game = Game::new(Settings::standard(seed, u32::from(players)));
    let mut recorder =
        Recorder::new(Vec::new(), header(seed, players, keyframe_interval)).expect("recorder");
    let mut inputs = vec![Input::IDLE; usize::from(players)];
    for _ in 0..frames {
        Script::Random.inputs(seed, game.frame(), &mut inputs);
        let hash = game.advance(&inputs);
        recorder.record(&inputs, Some(hash)).expect("record");
    }
    assert_eq!(recorder.mismatch(), None);
    (recorder.finish().expect("finish"), game.hash())
}

/// What `hltd replay verify` would conclude: Ok only for an intact, complete, matching file.
fn accepted(bytes: &[u8]) -> bool {
    match read(bytes) {
        Err(_) => false,
        Ok(r) => r.stopped.is_none() && r.end.is_some() && matches!(verify(&r), Verdict::Ok { .. }),
    }
}

#[test]
fn a_recording_verifies_with_the_games_hash() {
    let (bytes, hash) = record(3, 4, 1500, 600);
    let replay = read(&bytes).expect("read");
    assert!(replay.stopped.is_none(), "{:?}", replay.stopped);
    assert_eq!(replay.frames(), 1500);
    assert_eq!(
        replay.keyframes.iter().map(|k| k.frame).collect::<Vec<_>>(),
        vec![0, 600, 1200]
    );
    assert_eq!(replay.end.map(|e| e.hash), Some(hash));
    assert_eq!(verify(&replay), Verdict::Ok { frames: 1500, hash });
}

#[test]
fn edited_inputs_diverge_at_their_frame() {
    // An input edited with every checksum and the chain recomputed is still caught by
    // re-simulation: build such a file by recording different inputs with the old hashes.
    let seed = 4;
    let (bytes, _) = record(seed, 2, 300, 600);
    let honest = read(&bytes).expect("read");
    let mut game = Game::new(Settings::standard(seed, 2));
    let mut forged = Recorder::new(Vec::new(), header(seed, 2, 600)).expect("recorder");
    for (i, inputs) in honest.inputs.iter().enumerate() {
        let mut inputs = inputs.clone();
        if i == 100 {
            inputs[1] = Input::new(sim::action::BUILD, 0, 0, 0);
        }
        game.advance(&inputs);
        forged.record(&inputs, None).expect("record");
    }
    let forged = read(&forged.finish().expect("finish")).expect("read");
    // Same inputs but one: the forged file's own hashes are consistent, so compare the
    // honest hashes against the forged inputs.
    let mut mixed = forged.clone();
    mixed.hashes = honest.hashes.clone();
    match verify(&mixed) {
        Verdict::Diverged { frame, .. } => assert!(frame >= 101, "diverged at {frame}"),
        ok => panic!("an edited input went unnoticed: {ok:?}"),
    }
}

#[test]
fn every_flipped_byte_is_detected() {
    let (bytes, _) = record(5, 2, 130, 60);
    assert!(accepted(&bytes));
    for at in 0..bytes.len() {
        for bit in [0x01u8, 0x80] {
            let mut damaged = bytes.clone();
            damaged[at] ^= bit;
            assert!(
                !accepted(&damaged),
                "flipping bit {bit:#x} of byte {at} went unnoticed"
            );
        }
    }
}

#[test]
fn random_mutations_are_detected() {
    let (bytes, _) = record(6, 3, 2000, 600);
    for seed in 0..300u64 {
        let mut rng = oorandom::Rand64::new(u128::from(seed));
        let mut damaged = bytes.clone();
        let edits = 1 + rng.rand_range(0..4);
        for _ in 0..edits {
            let at = rng.rand_range(0..damaged.len() as u64) as usize;
            match rng.rand_range(0..3) {
                0 => damaged[at] ^= 1 << rng.rand_range(0..8),
                1 => damaged[at] = damaged[at].wrapping_add(1 + rng.rand_range(0..255) as u8),
                _ => {
                    damaged.remove(at);
                }
            }
        }
        assert!(
            damaged == bytes || !accepted(&damaged),
            "mutation seed {seed} went unnoticed"
        );
    }
}

#[test]
fn a_cut_recording_verifies_up_to_its_last_complete_chunk() {
    let (bytes, _) = record(7, 2, 1000, 300);
    let full = read(&bytes).expect("read");
    let seed = 7u64;
    let mut rng = oorandom::Rand64::new(u128::from(seed));
    for _ in 0..200 {
        let cut = rng.rand_range(0..bytes.len() as u64) as usize;
        let Ok(replay) = read(&bytes[..cut]) else {
            // Only a cut inside the prefix or the header chunk is unreadable.
            assert!(
                cut < 16 + 8 + 30 + 16,
                "seed {seed}: cut at {cut} unreadable"
            );
            continue;
        };
        assert!(replay.end.is_none(), "seed {seed}: cut at {cut}");
        assert!(replay.intact_bytes <= cut as u64);
        if replay.intact_bytes < cut as u64 {
            let stop = replay.stopped.as_ref().expect("says where it stops");
            assert_eq!(
                stop.offset, replay.intact_bytes,
                "seed {seed}: cut at {cut}"
            );
            assert!(stop.to_string().contains("truncated"), "{stop}");
        }
        // Complete chunks only, each a whole second of frames or up to a keyframe.
        let frames = replay.frames();
        assert_eq!(
            replay.hashes[..],
            full.hashes[..frames as usize],
            "seed {seed}: cut at {cut}"
        );
        match verify(&replay) {
            Verdict::Ok { frames: f, hash } => {
                assert_eq!(f, frames);
                if frames > 0 {
                    assert_eq!(hash, full.hashes[frames as usize - 1]);
                }
            }
            other => panic!("seed {seed}: cut at {cut}: {other:?}"),
        }
    }
}

#[test]
fn unreadable_files_say_what_and_where() {
    let (bytes, _) = record(8, 1, 120, 60);
    let err = read(b"not a replay at all").expect_err("magic");
    assert!(err.to_string().contains("bad magic"), "{err}");
    let mut v2 = bytes.clone();
    v2[8] = 2;
    assert!(read(&v2)
        .expect_err("version")
        .to_string()
        .contains("unknown format version 2"));
    let mut rules = bytes.clone();
    // The rules version is the header payload's first field; recompute the checksum so only
    // the version is wrong.
    let other = sim::RULES_VERSION + 1;
    rules[24..28].copy_from_slice(&other.to_le_bytes());
    let sum = blake3::Hasher::new()
        .update(&rules[16..24])
        .update(&rules[24..54])
        .finalize();
    rules[54..70].copy_from_slice(&sum.as_bytes()[..16]);
    let err = read(&rules).expect_err("rules");
    assert!(err.to_string().contains("from another build"), "{err}");
    let mut sum = bytes.clone();
    let last = sum.len() - 1;
    sum[last] ^= 1;
    let stop = read(&sum).expect("read").stopped.expect("stops");
    assert!(
        stop.to_string()
            .contains("checksum mismatch in a end chunk"),
        "{stop}"
    );
    assert_eq!(stop.offset as usize, bytes.len() - 8 - 37 - 16);
}

/// Seek: in a long 4-player replay, seeking to any frame (forward, back, across keyframes,
/// in a seeded random order) gives the same view and hash as playing from the start; an
/// untrusted keyframe (its state does not hash as recorded) is passed over, not used.
#[test]
fn seeking_anywhere_equals_playing_from_the_start() {
    let seed: u64 = std::env::var("SEEK_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(20_261_121);
    let frames = 4000;
    let (bytes, _) = record(8, 4, frames, 300);
    let replay = read(&bytes).expect("read");

    // Playing from the start: every frame's hash and view.
    let mut straight = replay::Player::new(replay.clone()).expect("player");
    let mut hashes = vec![straight.hash()];
    let mut views = vec![straight.game().view()];
    while straight.step() {
        hashes.push(straight.hash());
        views.push(straight.game().view());
        assert!(straight.matches_record());
    }
    assert_eq!(hashes.len(), frames as usize + 1);
    assert_eq!(straight.diverged(), None);

    let mut damaged = replay.clone();
    // Keyframe 5 (frame 1500) gets another frame's state: it must not be trusted.
    damaged.keyframes[5].snapshot = damaged.keyframes[4].snapshot.clone();
    // A forged file: keyframe 5 holds a state the match never was in (one kill more, a value
    // inside its range), and the recorded hash of frame 1500 is made to match it, as whoever
    // writes a file can do. (A state outside the ranges, such as a creep in lane 200, is
    // refused by decoding already.)
    let mut forged = replay.clone();
    let mut bytes = Vec::new();
    forged.keyframes[5].snapshot.encode(&mut bytes);
    let mut lane_200 = bytes.clone();
    lane_200[8 + std::mem::size_of::<sim::Globals>() + 4 + 21] = 200;
    let refused = sim::Snapshot::decode(&lane_200).expect_err("a creep in lane 200");
    assert!(
        refused
            .to_string()
            .starts_with("creep 0: lane 200 >= players"),
        "{refused}"
    );
    let kills = 8 + std::mem::offset_of!(sim::Globals, kills);
    bytes[kills] = bytes[kills].wrapping_add(1);
    let bad = sim::Snapshot::decode(&bytes).expect("decodes");
    assert_ne!(
        bad.globals().kills,
        replay.keyframes[5].snapshot.globals().kills
    );
    forged.hashes[1499] = bad.hash();
    forged.keyframes[5].snapshot = bad;
    // The play-through of the forged file stops at its divergence (frame 1500), so only the
    // 5 keyframes before it are trusted at first; the others are learnt as play passes them,
    // and from then on seeks are as short as in the damaged file.
    let cases = [
        ("intact", replay, 14, 300, 14),
        ("damaged", damaged, 13, 600, 13),
        ("forged", forged, 5, frames + 1, 13),
    ];
    for (name, r, trusted, first_most, learnt) in cases {
        let mut player = replay::Player::new(r).expect("player");
        assert_eq!(player.trusted_keyframes(), trusted, "{name}");
        let mut rng = oorandom::Rand32::new(seed);
        let mut most = first_most;
        let edges = [
            0,
            1,
            299,
            300,
            301,
            1499,
            1500,
            1501,
            1799,
            frames - 1,
            frames,
            0,
        ];
        let random: Vec<u32> = (0..300).map(|_| rng.rand_range(0..frames + 1)).collect();
        for (i, target) in edges.into_iter().chain(random).enumerate() {
            if i == edges.len() + 150 {
                // Everything was played through at least once by now.
                assert_eq!(player.trusted_keyframes(), learnt, "{name}");
                most = if name == "intact" { 300 } else { 600 };
            }
            let seek = player.seek(target);
            let at = target as usize;
            assert_eq!(player.frame(), target, "{name} seed {seed}");
            assert_eq!(
                player.hash(),
                hashes[at],
                "{name}: frame {target}, seed {seed}"
            );
            assert_eq!(
                player.game().view(),
                views[at],
                "{name}: frame {target}, seed {seed}"
            );
            assert!(seek.simulated < most, "{name}: {seek:?} to {target}");
        }
        // A seek past the end stops at the last frame.
        player.seek(frames + 50);
        assert_eq!(player.frame(), frames);
        let diverged = if name == "forged" { Some(1500) } else { None };
        assert_eq!(player.diverged(), diverged, "{name}");
    }
}

/// The cross-target corpus (`fuzz/corpus/replays`, checked on i686 and wasm32 by `.ci/run`)
/// still re-simulates natively to its recorded hashes and expected final hashes: a change of
/// the rules without regenerating it fails here first.
#[test]
fn the_cross_target_corpus_verifies_natively() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz/corpus/replays");
    let expected = std::fs::read_to_string(dir.join("EXPECTED")).expect("EXPECTED");
    let mut kinds = std::collections::BTreeSet::new();
    let mut count = 0;
    for line in expected
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
    {
        let fields: Vec<&str> = line.split_whitespace().collect();
        let [name, frames, hash] = fields[..] else {
            panic!("bad EXPECTED line {line:?}");
        };
        let replay = read(&std::fs::read(dir.join(name)).expect(name)).expect(name);
        kinds.insert((replay.header.players, replay.header.scenario as u8));
        match verify(&replay) {
            Verdict::Ok { frames: f, hash: h } => {
                assert_eq!(
                    (f.to_string(), h.to_hex()),
                    (frames.into(), hash.into()),
                    "{name}"
                );
            }
            other => panic!(
                "{name}: {other:?} (regenerate: cargo run --release -p fuzz --example make_corpus)"
            ),
        }
        count += 1;
    }
    assert!(count >= 20, "{count} replays");
    for players in 1..=4 {
        assert!(
            kinds.contains(&(players, Scenario::Standard as u8)),
            "{players} players"
        );
    }
    assert!(
        kinds.iter().any(|k| k.1 == Scenario::Swarm as u8),
        "a swarm"
    );
}

/// A chunk as the format frames it: kind, three zero bytes, length, payload, checksum.
fn chunk(kind: u8, payload: &[u8]) -> Vec<u8> {
    let mut out = vec![kind, 0, 0, 0];
    out.extend_from_slice(&(payload.len() as u32).to_le_bytes());
    let sum = blake3::Hasher::new()
        .update(&out)
        .update(payload)
        .finalize();
    out.extend_from_slice(payload);
    out.extend_from_slice(&sum.as_bytes()[..16]);
    out
}

/// The prefix, header and keyframe of frame 0 the recorder writes for `header` (the file of
/// a recording of no frames, without its end chunk).
fn opening(header: Header) -> Vec<u8> {
    let mut bytes = Recorder::new(Vec::new(), header)
        .expect("recorder")
        .finish()
        .expect("finish");
    bytes.truncate(bytes.len() - (8 + 37 + 16));
    bytes
}

/// A forged file: a valid opening, then `frames` idle frames whose hashes are made up, in
/// chunks of `per_chunk` frames with a correct hash chain (anyone can compute it).
fn forged(header: Header, frames: u32, per_chunk: u32) -> Vec<u8> {
    let mut bytes = opening(header);
    let header_payload = &bytes[24..54];
    let mut chain = *blake3::Hasher::new()
        .update(b"HLTDCHAIN")
        .update(header_payload)
        .finalize()
        .as_bytes();
    let idle = vec![0u8; 4 * usize::from(header.players)];
    let mut first = 0;
    while first < frames {
        let count = per_chunk.min(frames - first);
        let mut inputs = Vec::new();
        let mut left = count;
        while left > 0 {
            let run = left.min(128);
            inputs.push(0x80 | (run - 1) as u8);
            left -= run;
        }
        let mut payload = Vec::new();
        payload.extend_from_slice(&first.to_le_bytes());
        payload.extend_from_slice(&count.to_le_bytes());
        payload.extend_from_slice(&(inputs.len() as u32).to_le_bytes());
        payload.extend_from_slice(&inputs);
        for f in first..first + count {
            let hash = *blake3::hash(&f.to_le_bytes()).as_bytes();
            payload.extend_from_slice(&hash);
            chain = *blake3::Hasher::new()
                .update(&chain)
                .update(&f.to_le_bytes())
                .update(&idle)
                .update(&hash)
                .finalize()
                .as_bytes();
        }
        payload.extend_from_slice(&chain);
        bytes.extend_from_slice(&chunk(2, &payload));
        first += count;
    }
    bytes
}

/// Finding 5 of issue 15: a 100,000-creep swarm header and 100,000 idle frames with made-up
/// hashes in a valid chain. The reader takes it (the chain is right); the player's
/// play-through stops at frame 1, the first that does not reproduce its hash, instead of
/// simulating all 100,000 frames of 100,000 creeps (minutes).
#[test]
fn the_play_through_stops_at_the_first_frame_that_diverges() {
    let settings = Settings::swarm(1, 4, sim::rules::MAX_CREEPS);
    let bytes = forged(Header::offline(&settings, 100_000, 600), 100_000, 65_536);
    let replay = read(&bytes).expect("read");
    assert!(replay.stopped.is_none(), "{:?}", replay.stopped);
    assert_eq!(replay.frames(), 100_000);
    let started = std::time::Instant::now();
    let mut calls = 0u32;
    let player = replay::Player::with_progress(replay, |done, total| {
        calls += 1;
        assert_eq!(total, 100_000);
        assert!(done <= 1, "played frame {done}");
    })
    .expect("player");
    println!("play-through: {:?}", started.elapsed());
    assert_eq!(player.played_through(), 1);
    assert_eq!(player.diverged(), Some(1));
    assert_eq!(calls, 1);
    // The keyframe of frame 0 (the initial state) is still trusted: seeks start there.
    assert_eq!(player.trusted_keyframes(), 1);
}

/// The progress callback sees every frame of an honest replay's play-through.
#[test]
fn the_play_through_reports_its_progress() {
    let (bytes, _) = record(4, 2, 300, 100);
    let mut seen = Vec::new();
    let player = replay::Player::with_progress(read(&bytes).expect("read"), |done, total| {
        seen.push((done, total))
    })
    .expect("player");
    assert_eq!(player.played_through(), 300);
    assert_eq!(player.diverged(), None);
    assert_eq!(player.trusted_keyframes(), 4);
    assert_eq!(seen, (1..=300).map(|f| (f, 300)).collect::<Vec<_>>());
}

/// Finding 8 of issue 15: keyframes at frame 0 are checked like any other (the state of frame
/// 0 is the header's initial state), a keyframe comes at most once per frame and only on the
/// header's interval, and frames need the keyframe of frame 0 before them.
#[test]
fn keyframes_are_checked_once_each_and_on_the_interval() {
    let (bytes, _) = record(6, 2, 120, 60);
    let open = opening(header(6, 2, 60));
    let keyframe0 = &open[70..];
    let stop = |bytes: &[u8]| {
        read(bytes)
            .expect("header intact")
            .stopped
            .map(|s| s.to_string())
            .unwrap_or_default()
    };
    // A second keyframe of frame 0, right after the first.
    let mut twice = open.clone();
    twice.extend_from_slice(keyframe0);
    twice.extend_from_slice(&bytes[open.len()..]);
    let text = stop(&twice);
    assert!(text.contains("a second keyframe of frame 0"), "{text}");
    // Many of them: the reader stops at the second.
    let mut many = open.clone();
    for _ in 0..100 {
        many.extend_from_slice(keyframe0);
    }
    let replay = read(&many).expect("header intact");
    assert_eq!(replay.keyframes.len(), 1);
    assert!(replay.stopped.is_some());
    // A keyframe of frame 0 holding another match's initial state.
    let other = opening(header(7, 2, 60));
    let mut wrong = open[..70].to_vec();
    wrong.extend_from_slice(&other[70..]);
    wrong.extend_from_slice(&bytes[open.len()..]);
    let text = stop(&wrong);
    assert!(
        text.contains("not the initial state of the header's settings"),
        "{text}"
    );
    // No keyframe of frame 0: the frames are not taken.
    let mut none = open[..70].to_vec();
    none.extend_from_slice(&bytes[open.len()..]);
    let text = stop(&none);
    assert!(text.contains("no keyframe of frame 0"), "{text}");
    // A keyframe off the interval: after 30 frames of a file whose interval is 60, the true
    // state of frame 30.
    let (short, _) = record(6, 2, 30, 60);
    let mut off = short[..short.len() - (8 + 37 + 16)].to_vec();
    let mut game = Game::new(Settings::standard(6, 2));
    let mut inputs = vec![Input::IDLE; 2];
    for _ in 0..30 {
        Script::Random.inputs(6, game.frame(), &mut inputs);
        game.advance(&inputs);
    }
    let mut payload = 30u32.to_le_bytes().to_vec();
    game.save().encode(&mut payload);
    off.extend_from_slice(&chunk(3, &payload));
    let text = stop(&off);
    assert!(
        text.contains("of frame 30, not a multiple of the keyframe interval 60"),
        "{text}"
    );
}

/// Finding 4 of issue 15: a file that is damaged near its start is refused after reading
/// little; the reader reads a chunk at a time from any `Read`.
#[test]
fn a_stream_stops_at_its_first_bad_chunk() {
    let (bytes, _) = record(3, 1, 10, 600);
    let open = opening(header(3, 1, 600));
    let header_end = 70;
    // A valid header, then zeros without end.
    struct Zeros<'a> {
        start: &'a [u8],
        served: u64,
    }
    impl std::io::Read for Zeros<'_> {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            let n = buf.len().min(4096);
            let at = self.served as usize;
            for (i, b) in buf[..n].iter_mut().enumerate() {
                *b = self.start.get(at + i).copied().unwrap_or(0);
            }
            self.served += n as u64;
            Ok(n)
        }
    }
    let mut zeros = Zeros {
        start: &open[..header_end],
        served: 0,
    };
    let replay = replay::read_from(&mut zeros).expect("header intact");
    let stop = replay.stopped.expect("stops");
    assert_eq!((stop.chunk, stop.offset), (1, 70));
    assert!(stop.to_string().contains("checksum mismatch"), "{stop}");
    assert!(zeros.served < 64 << 10, "read {} bytes", zeros.served);
    // Reading from a slice and from a stream agree.
    let a = read(&bytes).expect("read");
    let b = replay::read_from(std::io::Cursor::new(&bytes)).expect("read");
    assert_eq!(
        (a.frames(), a.hashes, a.intact_bytes),
        (b.frames(), b.hashes, b.intact_bytes)
    );
}

/// A 2-player bundle of 20 frames, with states of frames 18 to 20 around the verdict at 20.
fn write_bundle(dir: &std::path::Path) -> replay::bundle::Meta {
    let settings = Settings::standard(9, 2);
    let mut game = Game::new(settings);
    let mut inputs = Vec::new();
    let mut hashes = Vec::new();
    let mut states = Vec::new();
    let mut frame = vec![Input::IDLE; 2];
    for _ in 0..20 {
        Script::Random.inputs(9, game.frame(), &mut frame);
        inputs.extend_from_slice(&frame);
        let hash = game.advance(&frame);
        hashes.push((game.frame() as i32, hash.0));
        if game.frame() >= 18 {
            states.push((game.frame() as i32, game.save()));
        }
    }
    let mut header = Header::offline(&settings, 20, 600);
    header.recorder = Some(1);
    let _ = std::fs::remove_dir_all(dir);
    replay::bundle::write(
        dir,
        &replay::bundle::Evidence {
            header,
            inputs: &inputs,
            frame: 20,
            diverged: vec![1],
            checksums: vec![(0, 1), (1, 2)],
            state: Some(&states[2].1),
            agreed: Some((19, Some(&states[1].1))),
            hashes: &hashes,
            around: &states,
        },
    )
    .expect("write the bundle")
}

fn temp_dir(name: &str) -> std::path::PathBuf {
    std::env::temp_dir().join(format!("replay-it-{}-{name}", std::process::id()))
}

/// Finding 7 of issue 15 (bundles): every field of bundle.json is checked against its range,
/// and the error names the field.
#[test]
fn bundle_fields_out_of_range_are_named() {
    let dir = temp_dir("fields");
    write_bundle(&dir);
    let meta_path = dir.join("bundle.json");
    let good: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&meta_path).expect("read")).expect("json");
    let opened = replay::bundle::open(&dir).expect("the written bundle opens");
    assert_eq!(
        opened.states.keys().copied().collect::<Vec<_>>(),
        vec![18, 19, 20]
    );
    type Edit = Box<dyn Fn(&mut serde_json::Value)>;
    let cases: Vec<(&str, Edit, &str)> = vec![
        (
            "bad hash",
            Box::new(|m| m["hashes"][3]["hash"] = "zz".into()),
            "hashes[3].hash",
        ),
        (
            "short hash",
            Box::new(|m| m["hashes"][0]["hash"] = "ab".repeat(31).into()),
            "hashes[0].hash",
        ),
        (
            "bad checksum",
            Box::new(|m| m["checksums"][1]["checksum"] = "0x12".into()),
            "checksums[1].checksum",
        ),
        (
            "seat 2^64-1",
            Box::new(|m| m["seat"] = u64::MAX.into()),
            "seat",
        ),
        ("seat 2", Box::new(|m| m["seat"] = 2.into()), "seat"),
        (
            "players 0",
            Box::new(|m| m["players"] = 0.into()),
            "players",
        ),
        (
            "players 255",
            Box::new(|m| m["players"] = 255.into()),
            "players",
        ),
        (
            "verdict frame 2^31",
            Box::new(|m| m["verdict_frame"] = (1u64 << 31).into()),
            "verdict_frame",
        ),
        (
            "verdict frame 2^40",
            Box::new(|m| m["verdict_frame"] = (1u64 << 40).into()),
            "verdict_frame",
        ),
        (
            "negative verdict frame",
            Box::new(|m| m["verdict_frame"] = (-1).into()),
            "verdict_frame",
        ),
        (
            "agreed frame 2^31",
            Box::new(|m| m["agreed_frame"] = (1u64 << 31).into()),
            "agreed_frame",
        ),
        (
            "hash frame 2^31",
            Box::new(|m| m["hashes"][2]["frame"] = (1u64 << 31).into()),
            "hashes[2].frame",
        ),
        (
            "around frame 2^32",
            Box::new(|m| m["around_files"][0]["frame"] = (1u64 << 32).into()),
            "around_files[0].frame",
        ),
        (
            "replay frames 2^32",
            Box::new(|m| m["replay_frames"] = (1u64 << 32).into()),
            "replay_frames",
        ),
        (
            "replay frames 19",
            Box::new(|m| m["replay_frames"] = 19.into()),
            "replay_frames",
        ),
        (
            "diverged seat 7",
            Box::new(|m| m["diverged"][0] = 7.into()),
            "diverged[0]",
        ),
        (
            "diverged twice",
            Box::new(|m| m["diverged"] = serde_json::json!([1, 1])),
            "diverged[1]",
        ),
        (
            "checksum seat 2^64-1",
            Box::new(|m| m["checksums"][0]["seat"] = u64::MAX.into()),
            "checksums[0].seat",
        ),
        (
            "hashes out of order",
            Box::new(|m| m["hashes"][1]["frame"] = 0.into()),
            "hashes[1].frame",
        ),
        (
            "a state of another frame",
            Box::new(|m| m["around_files"][0]["frame"] = 5.into()),
            "around_files[0]",
        ),
        ("another seed", Box::new(|m| m["seed"] = 10.into()), "seed"),
        (
            "a path",
            Box::new(|m| m["state_file"] = "../x.bin".into()),
            "state_file",
        ),
    ];
    for (name, edit, field) in cases {
        let mut meta = good.clone();
        edit(&mut meta);
        std::fs::write(&meta_path, meta.to_string()).expect("write");
        let Err(err) = replay::bundle::open(&dir) else {
            panic!("{name}: the bundle opened");
        };
        let text = err.to_string();
        assert!(
            text.contains(&format!("bundle.json: {field}: ")),
            "{name}: {text}"
        );
        assert!(!text.contains("panicked"), "{text}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// Finding 4 of issue 15: a state file named 1,500 times in around_files (under its own
/// frame) is decoded once, and a bundle cannot hold more than `STATE_FILES_MAX` state files.
#[test]
fn a_state_named_many_times_is_decoded_once() {
    let dir = temp_dir("many");
    write_bundle(&dir);
    let meta_path = dir.join("bundle.json");
    let mut meta: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&meta_path).expect("read")).expect("json");
    let entry = meta["around_files"][0].clone();
    meta["around_files"] = serde_json::Value::Array(vec![entry; 1500]);
    std::fs::write(&meta_path, meta.to_string()).expect("write");
    let bundle = replay::bundle::open(&dir).expect("opens");
    assert_eq!(
        bundle.states.keys().copied().collect::<Vec<_>>(),
        vec![18, 19, 20]
    );
    // Under another frame each, the same file is refused: it holds one frame's state.
    let files: Vec<serde_json::Value> = (0..1500)
        .map(|f| serde_json::json!({"frame": f, "file": "state-18.bin"}))
        .collect();
    meta["around_files"] = serde_json::Value::Array(files);
    std::fs::write(&meta_path, meta.to_string()).expect("write");
    let Err(err) = replay::bundle::open(&dir) else {
        panic!("the same file under 1,500 frames opened");
    };
    assert!(
        err.to_string()
            .contains("around_files[0]: state-18.bin holds the state of frame 18, not of frame 0"),
        "{err}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// A desync bundle exists to diagnose a peer whose rules went wrong, so a state outside the
/// rules' ranges in it is still read and diffed (never loaded), with a note saying so.
#[test]
fn a_bundle_state_out_of_the_rules_ranges_is_still_diffed() {
    let a = temp_dir("range-a");
    let b = temp_dir("range-b");
    write_bundle(&a);
    write_bundle(&b);
    // Seat 0's gold far above GOLD_MAX in B's state of frame 20: the canonical encoding is
    // b"HLTDSTAT", then the bytes of `Globals`.
    let path = b.join("state-20.bin");
    let mut bytes = std::fs::read(&path).expect("read the state");
    let at = 8 + std::mem::offset_of!(sim::Globals, gold);
    bytes[at..at + 4].copy_from_slice(&i32::MAX.to_le_bytes());
    std::fs::write(&path, &bytes).expect("write the state");
    assert!(
        sim::Snapshot::decode(&bytes).is_err(),
        "the edited state must be out of range"
    );

    let (a_bundle, b_bundle) = (
        replay::bundle::open(&a).expect("A opens"),
        replay::bundle::open(&b).expect("B opens although its state is out of range"),
    );
    let c = replay::bundle::compare(&a_bundle, &b_bundle);
    let (frame, differences) = c.state_difference.as_ref().expect("states compared");
    assert_eq!(*frame, 20);
    assert_eq!(differences.len(), 1, "{differences:?}");
    assert!(
        differences[0].to_string().contains("gold[0]"),
        "{}",
        differences[0]
    );
    assert!(
        c.notes.iter().any(|n| n
            .starts_with("B's state of frame 20 is one the rules cannot produce")
            && n.contains("gold")),
        "{:?}",
        c.notes
    );
    let _ = std::fs::remove_dir_all(&a);
    let _ = std::fs::remove_dir_all(&b);
}
