//! The fuzzers' oracles fire on a game whose determinism is broken, and stay quiet otherwise.

use fuzz::synctest::{Case, Options};

fn options(broken: bool) -> Options {
    Options {
        frames: 300,
        broken,
        ..Options::default()
    }
}

/// Sync-test: with the rules reading state outside the snapshot, every seed whose check
/// distance is 2 or more fails, and shrinks to a shorter case that still fails; the same
/// seeds pass with the rules intact. (At check distance 1, GGRS 0.13 saves a frame only after
/// re-simulating it, so it compares nothing: such seeds cannot catch this bug.)
#[test]
fn synctest_oracle_fires_only_on_broken_rules() {
    let mut checked = 0;
    for seed in 0..24 {
        let case = Case::new(seed, &options(true));
        let broken = case.run(true);
        let intact = case.run(false);
        assert!(
            intact.is_ok(),
            "seed {seed}: intact rules failed: {intact:?}"
        );
        if case.check_distance < 2 {
            continue;
        }
        checked += 1;
        assert!(
            matches!(broken, Err(net::SyncTestError::Mismatch { .. })),
            "seed {seed} ({}): the broken rules passed",
            case.command()
        );
        let short = case
            .shrink(true)
            .unwrap_or_else(|| panic!("seed {seed}: no shrink"));
        assert!(short.frames < case.frames, "seed {seed}: {short:?}");
        assert!(
            short.run(true).is_err() && short.run(false).is_ok(),
            "seed {seed}"
        );
    }
    assert!(
        checked >= 12,
        "only {checked} seeds had check distance 2 or more"
    );
}

/// A case is a function of its seed and options; its rerun command names every choice.
#[test]
fn cases_are_reproducible_from_their_command() {
    let case = Case::new(7, &options(false));
    assert_eq!(case, Case::new(7, &options(false)));
    let command = case.command();
    assert!(
        command.starts_with("hltd fuzz synctest --seed 7 --players "),
        "{command}"
    );
    let fixed = Options {
        players: Some(u32::from(case.settings.players())),
        check_distance: Some(case.check_distance),
        scenario: Some(case.settings.scenario()),
        creeps: (case.settings.creeps() > 0).then_some(case.settings.creeps()),
        ..options(false)
    };
    assert_eq!(Case::new(7, &fixed), case, "{command}");
}

fn net_options(broken: bool) -> fuzz::netfuzz::NetOptions {
    fuzz::netfuzz::NetOptions {
        peers: Some(3),
        frames: 300,
        faults: net::simnet::SimFaults {
            loss_ppm: 100_000,
            dup_ppm: 20_000,
            reorder_ppm: 50_000,
            latency_us: 40_000,
            jitter_us: 20_000,
            partition_us: 300_000,
        },
        broken,
        leave_ppm: 0,
    }
}

/// Network: over a lossy, laggy, partitioned simulated network, intact rules pass (with
/// rollbacks); with the rules reading state outside the snapshot, peers that rolled back
/// different amounts diverge and the oracle names the frame, with evidence from the peers.
#[test]
fn net_oracle_fires_only_on_broken_rules() {
    for seed in 0..2 {
        let case = fuzz::netfuzz::NetCase::new(seed, &net_options(false));
        let (outcome, run) = case.run(false);
        assert!(
            outcome.is_ok(),
            "seed {seed} ({}): {outcome:?}",
            case.command()
        );
        assert!(run.confirmed.iter().all(|c| c.len() >= 300), "seed {seed}");
        let rollbacks: u64 = run.work.iter().map(|w| w.rollbacks).sum();
        assert!(rollbacks > 0, "seed {seed}: the faults caused no rollbacks");
        assert!(
            run.stats.lost > 0 && run.stats.sent > 300,
            "seed {seed}: {:?}",
            run.stats
        );

        let (outcome, run) = case.run(true);
        match outcome {
            Err(fuzz::netfuzz::NetFailure::HashesDiffer { .. })
            | Err(fuzz::netfuzz::NetFailure::Verdict { .. }) => {}
            other => panic!(
                "seed {seed} ({}): broken rules gave {other:?}",
                case.command()
            ),
        }
        assert!(!run.evidence.is_empty(), "seed {seed}: no evidence");
    }
}

/// Every file of every cargo-fuzz target's corpus (`fuzz/targets/corpus/<target>`: the seeds,
/// and any input a fuzzing run found and someone committed) runs clean on stable.
#[test]
fn corpus_files_run_clean() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("targets/corpus");
    let mut files = 0;
    for (name, target) in fuzz::decoders::TARGETS {
        let dir = root.join(name);
        let entries =
            std::fs::read_dir(&dir).unwrap_or_else(|err| panic!("{}: {err}", dir.display()));
        let mut here = 0;
        for entry in entries {
            let path = entry.expect("entry").path();
            target(&std::fs::read(&path).expect("read"));
            here += 1;
        }
        assert!(here > 0, "{name}: an empty corpus");
        files += here;
    }
    assert!(files >= 7, "{files}");
}
