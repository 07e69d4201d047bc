//! Criterion benchmark of the capture reader over synthetic in-memory captures.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use ftptrace::capture::{FileSource, MergedSource, PacketSource};
use std::io::{Cursor, Write};
use std::sync::Arc;

/// A classic little-endian µs pcap of `n` frames of `len` bytes.
fn pcap(n: usize, len: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(24 + n * (16 + len));
    for v in [0xa1b2_c3d4u32, 0x0004_0002, 0, 0, 65535, 1] {
        out.extend_from_slice(&v.to_le_bytes());
    }
    let frame: Vec<u8> = (0..len).map(|i| i as u8).collect();
    for i in 0..n as u32 {
        for v in [
            1_600_000_000 + i / 1000,
            (i % 1000) * 1000,
            len as u32,
            len as u32,
        ] {
            out.extend_from_slice(&v.to_le_bytes());
        }
        out.extend_from_slice(&frame);
    }
    out
}

/// The same frames as pcapng enhanced packet blocks.
fn pcapng(n: usize, len: usize) -> Vec<u8> {
    let mut out = Vec::new();
    let word = |out: &mut Vec<u8>, v: u32| out.extend_from_slice(&v.to_le_bytes());
    for v in [
        0x0A0D_0D0A,
        28,
        0x1A2B_3C4D,
        1,
        0xffff_ffff,
        0xffff_ffff,
        28,
    ] {
        word(&mut out, v);
    }
    for v in [1, 20, 1, 0, 20] {
        word(&mut out, v);
    }
    let padded = (len + 3) & !3;
    let blen = (32 + padded) as u32;
    let frame: Vec<u8> = (0..padded)
        .map(|i| if i < len { i as u8 } else { 0 })
        .collect();
    for i in 0..n as u64 {
        let ts = 1_600_000_000_000_000 + i;
        for v in [
            6,
            blen,
            0,
            (ts >> 32) as u32,
            ts as u32,
            len as u32,
            len as u32,
        ] {
            word(&mut out, v);
        }
        out.extend_from_slice(&frame);
        word(&mut out, blen);
    }
    out
}

fn count(src: &mut impl PacketSource) -> u64 {
    let mut bytes = 0u64;
    while let Ok(Some(p)) = src.next_packet() {
        bytes += p.data.len() as u64 + p.data.first().copied().unwrap_or(0) as u64;
    }
    bytes
}

fn open(data: &Arc<[u8]>) -> FileSource {
    FileSource::from_reader("bench", Box::new(Cursor::new(Arc::clone(data)))).unwrap()
}

fn bench(c: &mut Criterion) {
    let n = 20_000; // ~30 MB
    let inputs: [(&str, Vec<u8>); 2] = [("pcap", pcap(n, 1500)), ("pcapng", pcapng(n, 1500))];
    let mut g = c.benchmark_group("reader");
    g.sample_size(20);
    for (name, bytes) in inputs {
        let data: Arc<[u8]> = bytes.into();
        g.throughput(Throughput::Bytes(data.len() as u64));
        g.bench_function(name, |b| b.iter(|| count(&mut open(&data))));
        if name == "pcap" {
            g.bench_function("pcap-merged-1", |b| {
                b.iter(|| count(&mut MergedSource::new(vec![open(&data)])))
            });
            let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
            e.write_all(&data).unwrap();
            let gz: Arc<[u8]> = e.finish().unwrap().into();
            g.bench_function("pcap-gzip", |b| b.iter(|| count(&mut open(&gz))));
        }
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
