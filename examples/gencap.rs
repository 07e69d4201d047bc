//! Write a large synthetic FTP capture for benchmarks (see `benches/support/ftpgen.rs`).
//!
//! `cargo run --release --example gencap -- [--size 1G] [--file-size 8M] [--concurrent 4]
//! [--sessions N] OUT.pcap` (OUT `-` is stdout). Prints sessions, packets and bytes to stderr.

#[path = "../benches/support/ftpgen.rs"]
#[allow(dead_code)] // each includer uses a part
mod ftpgen;

use std::io::{BufWriter, Write};
use std::time::Instant;

fn usage() -> ! {
    eprintln!(
        "usage: gencap [--size 1G] [--file-size 8M] [--concurrent 4] [--sessions N] OUT.pcap"
    );
    std::process::exit(2)
}

fn main() {
    let mut size = 1u64 << 30;
    let mut file_size = 8u64 << 20;
    let mut concurrent = 4u32;
    let mut sessions = None;
    let mut out = None;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut val = || args.next().unwrap_or_else(|| usage());
        match a.as_str() {
            "--size" => size = ftpgen::parse_size(&val()).unwrap_or_else(|| usage()),
            "--file-size" => file_size = ftpgen::parse_size(&val()).unwrap_or_else(|| usage()),
            "--concurrent" => concurrent = val().parse().unwrap_or_else(|_| usage()),
            "--sessions" => sessions = Some(val().parse().unwrap_or_else(|_| usage())),
            "-h" | "--help" => usage(),
            _ if out.is_none() => out = Some(a),
            _ => usage(),
        }
    }
    let out = out.unwrap_or_else(|| usage());
    let mut cfg = ftpgen::Config::for_size(size, file_size.max(1), concurrent);
    if let Some(n) = sessions {
        cfg.sessions = n;
    }
    let t0 = Instant::now();
    let w: Box<dyn Write> = if out == "-" {
        Box::new(std::io::stdout().lock())
    } else {
        Box::new(std::fs::File::create(&out).unwrap_or_else(|e| {
            eprintln!("gencap: {out}: {e}");
            std::process::exit(2)
        }))
    };
    let sum = ftpgen::generate(&cfg, BufWriter::with_capacity(4 << 20, w)).unwrap_or_else(|e| {
        eprintln!("gencap: {out}: {e}");
        std::process::exit(1)
    });
    eprintln!(
        "gencap: {out}: {} sessions x {} bytes, {} packets, {} bytes, {:.1} s",
        cfg.sessions,
        cfg.file_size,
        sum.packets,
        sum.bytes,
        t0.elapsed().as_secs_f64()
    );
}
