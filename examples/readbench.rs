//! Reader throughput: count the packets and bytes of capture files with `FileSource`.
//!
//! `cargo run --release --example readbench -- FILE...` prints packets, captured bytes,
//! seconds and GB/s (file bytes read per second; the compressed size for gzip).
//! With `--dump` first, it prints `secs.nanos linktype caplen origlen` per packet instead.

use ftptrace::capture::{open_all, PacketSource};
use std::time::Instant;

fn main() {
    let mut paths: Vec<String> = std::env::args().skip(1).collect();
    let dump = paths.first().is_some_and(|a| a == "--dump");
    if dump {
        paths.remove(0);
    }
    if paths.is_empty() {
        eprintln!("usage: readbench FILE...");
        std::process::exit(2);
    }
    let t0 = Instant::now();
    let (mut src, errs) = open_all(&paths);
    for e in &errs {
        eprintln!("{e}");
    }
    let (mut packets, mut bytes, mut check) = (0u64, 0u64, 0u8);
    loop {
        match src.next_packet() {
            Ok(Some(p)) => {
                packets += 1;
                if dump {
                    println!(
                        "{}.{:09} {} {} {}",
                        p.ts.secs(),
                        p.ts.subsec_nanos(),
                        p.linktype.0,
                        p.data.len(),
                        p.orig_len
                    );
                }
                bytes += p.data.len() as u64;
                // touch the data like a decoder would
                check ^= p.data.first().copied().unwrap_or(0);
            }
            Ok(None) => break,
            Err(e) => eprintln!("{e}"),
        }
    }
    let secs = t0.elapsed().as_secs_f64();
    let (read, _) = src.progress();
    println!(
        "packets {packets} bytes {bytes} seconds {secs:.3} GB/s {:.2} (check {check})",
        read as f64 / secs / 1e9
    );
}
