//! Fuzz target: one direction's TCP reassembly (`HalfStream`) fed an arbitrary sequence of
//! segments (in any order, overlapping, cut by the snap length, with FIN), acks and clock
//! ticks, under small buffer caps. Every segment carries the bytes of one true stream, so
//! the output can be checked exactly: chunks tile the stream from 0, each data byte is the
//! true byte at its offset, and captured + gap bytes add up to the sequence space.
#![no_main]

use arbitrary::Arbitrary;
use ftptrace::capture::Timestamp;
use ftptrace::net::reassembly::{Chunk, HalfStream, MemBudget};
use ftptrace::net::reorder::{Clock, ReorderWindow};
use ftptrace_fuzz::Tiling;
use libfuzzer_sys::fuzz_target;

#[derive(Arbitrary, Debug)]
enum Op {
    /// Bytes [off, off+len) of the true stream (relative to `base`), of which the
    /// last `cut` were cut by the snap length.
    Seg {
        off: u16,
        len: u16,
        cut: u16,
        fin: bool,
    },
    /// A segment far away in sequence space (wrap, old, bogus).
    Far {
        seq: u32,
        len: u8,
    },
    Ack {
        off: u16,
        answered: bool,
    },
    AckFar {
        ack: u32,
    },
    Tick {
        packets: u8,
        ms: u16,
    },
}

#[derive(Arbitrary, Debug)]
struct Input {
    /// The sequence number of the first byte; `syn`: it is known from a SYN.
    base: u32,
    syn: bool,
    window: Option<(u8, u16, u16)>,
    cap: u16,
    budget: u16,
    ops: Vec<Op>,
}

fn truth(pos: u64) -> u8 {
    (pos.wrapping_mul(131) ^ (pos >> 8)) as u8
}

/// What came out so far, checked chunk by chunk.
#[derive(Default)]
struct Out {
    tiling: Tiling,
    data_bytes: u64,
    gap_bytes: u64,
}

impl Out {
    /// `origin`: offset (from the base) of stream offset 0; `foreign`: bytes other than the
    /// true stream's were fed, so content is not checked.
    fn check(&mut self, c: Chunk<'_>, origin: Option<u64>, foreign: bool) {
        match c {
            Chunk::Data { offset, bytes, .. } => {
                self.tiling.chunk(offset, bytes.len() as u64);
                self.data_bytes += bytes.len() as u64;
                if !foreign {
                    let o = origin.expect("data before the origin is known");
                    for (i, &b) in bytes.iter().enumerate() {
                        let at = offset + i as u64;
                        assert_eq!(b, truth(o + at), "wrong byte at {at}");
                    }
                }
            }
            Chunk::Gap { offset, len } => {
                self.tiling.chunk(offset, len);
                self.gap_bytes += len;
            }
        }
    }
}

fuzz_target!(|inp: Input| {
    let mut h = HalfStream::new(inp.syn.then(|| inp.base.wrapping_sub(1)));
    if let Some((p, b, t)) = inp.window {
        h.set_reorder_window(ReorderWindow {
            packets: u64::from(p),
            bytes: u64::from(b),
            time_ns: i64::from(t) * 1_000_000,
        });
    } else {
        h.set_reorder_window(ReorderWindow::OFF);
    }
    h.set_max_buffered(usize::from(inp.cap));
    let mut budget = MemBudget::new(usize::from(inp.budget));
    let mut clock = Clock::default();
    // Offset (from `base`) of stream offset 0; set by the first segment of a mid-way stream.
    let mut origin: Option<u64> = inp.syn.then_some(0);
    // A far segment carries bytes that are not the true stream's.
    let mut foreign = false;
    let mut out = Out::default();

    for op in inp.ops.iter().take(2000) {
        clock.packets += 1;
        clock.ts_ns += 1_000;
        h.set_time(Timestamp(clock.ts_ns));
        match *op {
            Op::Seg { off, len, cut, fin } => {
                let (off, len) = (u64::from(off), u64::from(len % 4096));
                let cut = u64::from(cut).min(len);
                if origin.is_none() && (len > 0 || fin) {
                    origin = Some(off);
                }
                let payload: Vec<u8> = (off..off + len - cut).map(truth).collect();
                clock.bytes += len;
                let (o, f) = (origin, foreign);
                h.segment(
                    inp.base.wrapping_add(off as u32),
                    &payload,
                    len as u32,
                    fin,
                    &mut budget,
                    &mut |c| out.check(c, o, f),
                );
            }
            Op::Far { seq, len } => {
                if origin.is_none() && len > 0 {
                    origin = Some(0);
                }
                foreign = true;
                let payload = vec![0xAA; usize::from(len)];
                h.segment(
                    seq,
                    &payload,
                    u32::from(len),
                    false,
                    &mut budget,
                    &mut |c| out.check(c, None, true),
                );
            }
            Op::Ack { off, answered } => {
                let (o, f) = (origin, foreign);
                h.acked(
                    inp.base.wrapping_add(u32::from(off)),
                    answered,
                    clock,
                    &mut budget,
                    &mut |c| out.check(c, o, f),
                );
            }
            Op::AckFar { ack } => {
                let (o, f) = (origin, foreign);
                h.acked(ack, false, clock, &mut budget, &mut |c| out.check(c, o, f));
            }
            Op::Tick { packets, ms } => {
                clock.packets += u64::from(packets);
                clock.ts_ns += i64::from(ms) * 1_000_000;
                let (o, f) = (origin, foreign);
                h.tick(clock, &mut budget, &mut |c| out.check(c, o, f));
            }
        }
        assert_eq!(
            budget.used,
            h.buffered(),
            "the budget and the buffer disagree"
        );
        assert!(
            out.tiling.next == h.delivered(),
            "delivered {} but handed out {}",
            h.delivered(),
            out.tiling.next
        );
    }
    let (o, f) = (origin, foreign);
    h.flush(&mut budget, &mut |c| out.check(c, o, f));
    assert_eq!(budget.used, 0);
    assert_eq!(h.buffered(), 0);
    assert_eq!(
        out.tiling.next,
        h.seq_bytes(),
        "chunks do not reach the sequence space's end"
    );
    assert_eq!(out.data_bytes + out.gap_bytes, h.seq_bytes());
    assert_eq!(out.gap_bytes, h.gap_bytes());
    if !foreign {
        assert_eq!(h.captured_bytes() + h.gap_bytes(), h.seq_bytes());
    }
});
