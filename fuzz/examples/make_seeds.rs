//! Writes the seed corpora of the cargo-fuzz targets (`fuzz/targets/corpus/<target>`) from
//! `fuzz::decoders::seeds`, valid examples of every decoder's input:
//!
//! ```sh
//! cargo run -p fuzz --example make_seeds
//! ```

fn main() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("targets/corpus");
    let mut counts = std::collections::BTreeMap::new();
    for (target, bytes) in fuzz::decoders::seeds() {
        let dir = root.join(target);
        std::fs::create_dir_all(&dir).expect("corpus directory");
        let n = counts.entry(target).or_insert(0);
        *n += 1;
        std::fs::write(dir.join(format!("seed-{n}")), bytes).expect("write a seed");
    }
    for (target, n) in counts {
        println!("{target}: {n} seeds");
    }
}
