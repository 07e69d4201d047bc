//! Throughput of `HalfStream`: in-order pass-through vs. pairwise-reordered segments.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use ftptrace::net::reassembly::{Chunk, HalfStream, MemBudget};

const MSS: usize = 1448;
const SEGMENTS: usize = 4096;

fn feed(order: &[usize], data: &[u8]) -> u64 {
    let isn = u32::MAX - 1_000_000; // crosses the 2^32 wrap
    let mut h = HalfStream::new(Some(isn));
    let mut budget = MemBudget::new(64 << 20);
    let mut total = 0u64;
    let mut out = |c: Chunk<'_>| {
        if let Chunk::Data { bytes, .. } = c {
            total += bytes.len() as u64;
        }
    };
    for &i in order {
        let seg = &data[i * MSS..(i + 1) * MSS];
        let seq = isn.wrapping_add(1).wrapping_add((i * MSS) as u32);
        h.segment(seq, seg, MSS as u32, false, &mut budget, &mut out);
    }
    h.flush(&mut budget, &mut out);
    total
}

fn bench(c: &mut Criterion) {
    let data: Vec<u8> = (0..SEGMENTS * MSS).map(|i| i as u8).collect();
    let in_order: Vec<usize> = (0..SEGMENTS).collect();
    let swapped: Vec<usize> = (0..SEGMENTS).map(|i| i ^ 1).collect();
    let mut g = c.benchmark_group("reassembly");
    g.throughput(Throughput::Bytes(data.len() as u64));
    g.bench_function("in_order", |b| b.iter(|| feed(&in_order, &data)));
    g.bench_function("pairwise_reordered", |b| b.iter(|| feed(&swapped, &data)));
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
