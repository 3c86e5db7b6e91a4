//! Desync fuzzing of Healer TD: random inputs and settings through GGRS sync-test sessions of
//! the real game ([`synctest`]), and in-process peers over a simulated faulty network
//! ([`netfuzz`]). Each case comes from one seed: the same seed gives the same settings, inputs
//! and fault decisions, so a failure reruns with `--seed`.

pub mod decoders;
pub mod netfuzz;
pub mod synctest;

/// Mixes a seed with two more numbers into a well-spread 64-bit value (splitmix64 steps), so
/// neighbouring seeds, frames and seats get unrelated random streams.
pub fn mix(seed: u64, a: u64, b: u64) -> u64 {
    let mut z = seed
        .wrapping_add(a.wrapping_mul(0x9E37_79B9_7F4A_7C15))
        .wrapping_add(b.wrapping_mul(0xD1B5_4A32_D192_ED03));
    for _ in 0..2 {
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
    }
    z
}

/// A random input for `seat` at `frame` of the case seeded `seed`: mostly real actions at
/// cells in and around the lane (out-of-range ones must be no-ops), now and then raw bytes.
pub fn input(seed: u64, frame: u32, seat: usize) -> sim::Input {
    let mut rng = oorandom::Rand32::new(mix(seed, u64::from(frame), seat as u64));
    if rng.rand_range(0..16) == 0 {
        let [action, arg, x, y] = rng.rand_u32().to_le_bytes();
        return sim::Input { action, arg, x, y };
    }
    sim::Input {
        action: rng.rand_range(0..8) as u8,
        arg: rng.rand_range(0..6) as u8,
        x: rng.rand_range(0..12) as u8,
        y: rng.rand_range(0..18) as u8,
    }
}

/// Records the inputs of `frames` frames of a case as a replay (offline kind) at `path`, and
/// gives the hash of the last state.
///
/// # Errors
/// When the settings are invalid or the file cannot be written.
pub fn record_inputs(
    path: &std::path::Path,
    settings: sim::Settings,
    frames: u32,
    mut input_of: impl FnMut(u32, usize) -> sim::Input,
) -> Result<sim::StateHash, replay::RecordError> {
    let header = replay::Header::offline(&settings, frames, 600);
    let file = std::fs::File::create(path)?;
    let mut recorder = replay::Recorder::new(std::io::BufWriter::new(file), header)?;
    let players = usize::from(settings.players());
    let mut inputs = vec![sim::Input::IDLE; players];
    for frame in 0..frames {
        for (seat, input) in inputs.iter_mut().enumerate() {
            *input = input_of(frame, seat);
        }
        recorder.record(&inputs, None)?;
    }
    let hash = recorder.game().hash();
    recorder.finish()?;
    Ok(hash)
}
