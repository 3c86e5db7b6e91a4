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
