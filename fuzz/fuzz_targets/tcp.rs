//! Fuzz target: the TCP connection tracker fed an arbitrary sequence of segments between a
//! few endpoints (handshakes, data in any order, acks, FIN, RST, port reuse, replays),
//! with a small connection table and buffer budget. A handler checks the contract: one
//! open before anything else, chunks tiling each direction from 0, one close, nothing
//! after it, and the summary's sequence space equal to what was handed out.
#![no_main]

use arbitrary::Arbitrary;
use ftptrace::capture::Timestamp;
use ftptrace::net::reassembly::Chunk;
use ftptrace::net::reorder::ReorderWindow;
use ftptrace::net::tcp::{
    CloseKind, ConnMeta, ConnSummary, Dir, Interest, TcpEvent, TcpHandler, TcpLimits, TcpTracker,
};
use ftptrace::net::zone::Zone;
use ftptrace::net::{TcpFlags, TcpSegment};
use ftptrace_fuzz::Tiling;
use libfuzzer_sys::fuzz_target;
use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr};

const PORTS: [u16; 4] = [21, 2121, 40000, 40001];

#[derive(Arbitrary, Debug)]
struct Seg {
    /// Hosts (of 3) and ports (of 4), two bits each.
    ends: u8,
    /// Sequence number: `None` continues the direction, `Some(d)` moves it by `d`.
    seq: Option<i16>,
    /// Ack: `None` acknowledges what the peer sent, `Some(d)` is off by `d`.
    ack: Option<i16>,
    flags: u8,
    len: u16,
    cut: u8,
    dt_ms: u16,
}

#[derive(Arbitrary, Debug)]
struct Input {
    max_connections: u8,
    max_buffered: u16,
    window: bool,
    /// Bit i: ignore the i-th connection opened (mod 8).
    ignore: u8,
    segs: Vec<Seg>,
}

#[derive(Default)]
struct State {
    closed: bool,
    ignored: bool,
    tiles: [Tiling; 2],
}

#[derive(Default)]
struct Checker {
    conns: HashMap<u64, State>,
    ignore: u8,
}

impl Checker {
    fn live(&mut self, meta: &ConnMeta) -> &mut State {
        let s = self
            .conns
            .get_mut(&meta.id)
            .expect("a call for a connection never opened");
        assert!(
            !s.closed,
            "a call for connection {} after its close",
            meta.id
        );
        s
    }
}

impl TcpHandler for Checker {
    fn on_open(&mut self, meta: &ConnMeta) -> (Interest, bool) {
        let ignored = self.ignore & (1 << (meta.id % 8)) != 0;
        let prev = self.conns.insert(
            meta.id,
            State {
                ignored,
                ..State::default()
            },
        );
        assert!(prev.is_none(), "connection {} opened twice", meta.id);
        let interest = if ignored {
            Interest::Ignore
        } else {
            Interest::Data
        };
        (interest, meta.id.is_multiple_of(3))
    }
    fn on_event(&mut self, meta: &ConnMeta, _: Timestamp, _: Dir, _: TcpEvent) -> Interest {
        let s = self.live(meta);
        assert!(!s.ignored, "an event for an ignored connection");
        Interest::Data
    }
    fn on_data(
        &mut self,
        meta: &ConnMeta,
        _: Timestamp,
        dir: Dir,
        c: Chunk<'_>,
        _: bool,
    ) -> Interest {
        let s = self.live(meta);
        assert!(!s.ignored, "data for an ignored connection");
        match c {
            Chunk::Data { offset, bytes, .. } => {
                s.tiles[dir.idx()].chunk(offset, bytes.len() as u64)
            }
            Chunk::Gap { offset, len } => s.tiles[dir.idx()].chunk(offset, len),
        }
        Interest::Data
    }
    fn on_close(&mut self, meta: &ConnMeta, sum: &ConnSummary) {
        let s = self.live(meta);
        s.closed = true;
        if !s.ignored {
            for d in 0..2 {
                assert!(sum.captured_bytes[d] <= sum.seq_bytes[d]);
                assert_eq!(
                    s.tiles[d].next, sum.seq_bytes[d],
                    "connection {} direction {d}: handed out {} of {} bytes",
                    meta.id, s.tiles[d].next, sum.seq_bytes[d]
                );
            }
        }
        let _ = matches!(sum.close, CloseKind::Open);
    }
}

fuzz_target!(|inp: Input| {
    let limits = TcpLimits {
        max_connections: usize::from(inp.max_connections % 6) + 1,
        // 1 to 16 finished connections waiting: the bound's batch goes often.
        max_lingering: usize::from(inp.max_connections >> 4) + 1,
        // 1 to 8 connections gone with their ISN remembered: forgotten often.
        max_closed_isns: usize::from(inp.max_buffered % 8) + 1,
        max_buffered: usize::from(inp.max_buffered),
        idle_timeout_ns: 30_000_000_000,
        reorder: if inp.window {
            ReorderWindow::default()
        } else {
            ReorderWindow::OFF
        },
    };
    let mut t = TcpTracker::new(limits, vec![21, 2121]);
    let mut h = Checker {
        ignore: inp.ignore,
        ..Checker::default()
    };
    // Next sequence number per (src host, src port, dst host, dst port).
    let mut next: HashMap<(u8, u8, u8, u8), u32> = HashMap::new();
    let mut ts = 1_000_000_000i64;
    let payload = vec![b'x'; 4096];
    for s in inp.segs.iter().take(1000) {
        ts += i64::from(s.dt_ms) * 1_000_000;
        let (sh, sp, dh, dp) = (
            (s.ends & 3) % 3,
            (s.ends >> 2) & 3,
            ((s.ends >> 4) & 3) % 3,
            s.ends >> 6,
        );
        let k = (sh, sp, dh, dp);
        let n = next
            .entry(k)
            .or_insert(u32::from(s.ends).wrapping_mul(0x0101_0101));
        let seq = match s.seq {
            None => *n,
            Some(d) => n.wrapping_add(d as i32 as u32),
        };
        let flags = TcpFlags(s.flags & 0x1f);
        let len = usize::from(s.len % 2048);
        let cut = usize::from(s.cut).min(len);
        let adv = len as u32 + u32::from(flags.syn()) + u32::from(flags.fin());
        *n = seq.wrapping_add(adv);
        let peer = next.get(&(dh, dp, sh, sp)).copied().unwrap_or(0);
        let ack = match s.ack {
            None => peer,
            Some(d) => peer.wrapping_add(d as i32 as u32),
        };
        let host = |i: u8| IpAddr::V4(Ipv4Addr::new(10, 0, 0, i + 1));
        let seg = TcpSegment {
            src: host(sh),
            dst: host(dh),
            sport: PORTS[usize::from(sp)],
            dport: PORTS[usize::from(dp)],
            seq,
            ack,
            flags,
            window: 512,
            payload: &payload[..len - cut],
            wire_len: len as u32,
            zone: Zone::default(),
        };
        t.segment(Timestamp(ts), &seg, &mut h);
        assert!(
            t.buffered() <= limits.max_buffered,
            "buffered {} over the budget",
            t.buffered()
        );
    }
    t.finish_all(&mut h);
    for (id, s) in &h.conns {
        assert!(s.closed, "connection {id} never closed");
    }
    assert_eq!(t.connections_seen(), h.conns.len() as u64);
});
