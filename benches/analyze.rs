//! Whole-pipeline throughput: `Analyzer` (decode, TCP tracking, reassembly, FTP, transfers)
//! over an in-memory synthetic FTP capture (`benches/support/ftpgen.rs`, the generator
//! `scripts/bench.sh` uses), with and without `--hash`, next to the reader alone.

#[path = "support/ftpgen.rs"]
#[allow(dead_code)]
mod ftpgen;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use ftptrace::analyzer::{Analyzer, Options};
use ftptrace::capture::{FileSource, PacketSource};
use std::io::Cursor;
use std::sync::Arc;
use std::time::Duration;

fn source(cap: &Arc<[u8]>) -> FileSource {
    FileSource::from_reader("bench.pcap", Box::new(Cursor::new(cap.clone()))).expect("pcap")
}

fn analyze(cap: &Arc<[u8]>, hash: bool) -> u64 {
    let mut an = Analyzer::new(
        Options {
            hash,
            ..Options::default()
        },
        None,
    );
    an.run(&mut source(cap), |e| panic!("{e}"));
    let report = an.finish();
    assert_eq!(report.stats.ftp_sessions, 8);
    report.stats.packets
}

fn read_only(cap: &Arc<[u8]>) -> u64 {
    let mut src = source(cap);
    let mut n = 0u64;
    while let Some(p) = src.next_packet().expect("record") {
        n += p.data.len() as u64;
    }
    n
}

fn bench(c: &mut Criterion) {
    // 8 sessions × 8 MiB RETR, 4 at a time: ~72 MB, ~69k packets.
    let cfg = ftpgen::Config {
        sessions: 8,
        file_size: 8 << 20,
        concurrent: 4,
    };
    let mut buf = Vec::new();
    ftpgen::generate(&cfg, &mut buf).expect("generate");
    let cap: Arc<[u8]> = buf.into();
    let mut g = c.benchmark_group("analyze");
    g.throughput(Throughput::Bytes(cap.len() as u64));
    g.sample_size(20);
    g.measurement_time(Duration::from_secs(5));
    g.bench_function("read_only", |b| b.iter(|| read_only(&cap)));
    g.bench_function("analyze", |b| b.iter(|| analyze(&cap, false)));
    g.bench_function("analyze_hash", |b| b.iter(|| analyze(&cap, true)));
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
