//! The cost of the encryption layer per packet: seal and open of a typical GGRS batch.

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use net::secure::{respond, Initiator};

fn seal_open(c: &mut Criterion) {
    let psk = [3u8; 32];
    let digest = [4u8; 32];
    let (mut initiator, hello) = Initiator::start(&psk, &digest).expect("start");
    let (responder, welcome) = respond(&psk, &digest, &hello).expect("respond");
    let mut a = initiator.finish(&welcome).expect("finish").channel;
    let mut b = responder.channel;
    let mut group = c.benchmark_group("transport");
    for size in [64usize, 256] {
        let payload = vec![0x42u8; size];
        let mut wire = Vec::new();
        let mut plain = Vec::new();
        group.throughput(Throughput::Elements(1));
        group.bench_function(format!("seal_open_{size}b"), |bench| {
            bench.iter(|| {
                a.seal(black_box(&payload), &mut wire).expect("seal");
                b.open(black_box(&wire), &mut plain).expect("open");
            })
        });
    }
    group.finish();
}

criterion_group!(benches, seal_open);
criterion_main!(benches);
