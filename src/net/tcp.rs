//! TCP connection tracking: connections keyed by 4-tuple, handshake/teardown events,
//! per-direction reassembly, handed to an application [`TcpHandler`].

use super::fasthash::FastState;
use super::reassembly::{Chunk, HalfStream, MemBudget};
use super::zone::Zone;
use super::TcpSegment;
use crate::capture::Timestamp;
use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::net::SocketAddr;

/// Index of a connection in the tracker (stable for the whole run, never reused).
pub type ConnId = u64;

/// Direction of a segment relative to the connection's orientation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Dir {
    /// From the connection's client (the SYN sender) to its server.
    ToServer,
    /// From the server to the client.
    ToClient,
}

impl Dir {
    pub fn idx(self) -> usize {
        match self {
            Dir::ToServer => 0,
            Dir::ToClient => 1,
        }
    }
    pub fn flip(self) -> Dir {
        match self {
            Dir::ToServer => Dir::ToClient,
            Dir::ToClient => Dir::ToServer,
        }
    }
}

/// TCP control events worth showing in a sequence diagram.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TcpEvent {
    Syn,
    SynAck,
    /// The ACK that completes the three-way handshake.
    HandshakeAck,
    /// FIN without ACK.
    Fin,
    FinAck,
    Rst,
    /// The ACK that acknowledges the peer's FIN.
    FinAcked,
}

impl TcpEvent {
    pub fn as_str(self) -> &'static str {
        match self {
            TcpEvent::Syn => "SYN",
            TcpEvent::SynAck => "SYN+ACK",
            TcpEvent::HandshakeAck => "ACK",
            TcpEvent::Fin => "FIN",
            TcpEvent::FinAck => "FIN+ACK",
            TcpEvent::Rst => "RST",
            TcpEvent::FinAcked => "ACK",
        }
    }
}

/// What the tracker knows about a connection, handed to the handler by reference.
#[derive(Debug, Clone, Copy)]
pub struct ConnMeta {
    pub id: ConnId,
    pub client: SocketAddr,
    pub server: SocketAddr,
    /// True when the connection's start (SYN) was seen.
    pub saw_syn: bool,
    pub start: Timestamp,
    /// The segment (VLAN IDs, tunnel identities) the connection was seen in.
    pub zone: Zone,
}

/// What the application wants from a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Interest {
    /// Reassemble and deliver payload.
    Data,
    /// Only count; do not reassemble or deliver payload or events.
    Ignore,
}

/// How a connection ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CloseKind {
    Fin,
    Rst,
    /// Still open at the end of the capture (or evicted).
    Open,
}

/// Totals for a connection when it is closed or the capture ends.
#[derive(Debug, Clone, Copy)]
pub struct ConnSummary {
    pub packets: u64,
    pub end: Timestamp,
    /// Bytes by sequence space per direction (index by [`Dir::idx`]).
    pub seq_bytes: [u64; 2],
    pub captured_bytes: [u64; 2],
    pub gaps: [u64; 2],
    pub close: CloseKind,
}

/// The application on top of TCP.
pub trait TcpHandler {
    /// A connection was seen for the first time. `meta.client/server` is the tracker's
    /// guess when no SYN was seen; return `swap = true` to turn it around.
    fn on_open(&mut self, meta: &ConnMeta) -> (Interest, bool);
    /// A handshake or teardown event.
    fn on_event(&mut self, meta: &ConnMeta, ts: Timestamp, dir: Dir, ev: TcpEvent) -> Interest;
    /// Reassembled payload or a gap, in stream order. `new_segment` is true for the
    /// first chunk a segment delivered.
    fn on_data(
        &mut self,
        meta: &ConnMeta,
        ts: Timestamp,
        dir: Dir,
        chunk: Chunk<'_>,
        new_segment: bool,
    ) -> Interest;
    /// The connection is finished (closed and drained, evicted, or the capture ended).
    fn on_close(&mut self, meta: &ConnMeta, summary: &ConnSummary);
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct FlowKey {
    a: SocketAddr,
    b: SocketAddr,
    /// Segment identity: equal addresses in different VLANs or tunnels are different flows.
    zone: Zone,
}

/// Hashed once per packet: IPv4 pairs go in as two words instead of field by field.
impl Hash for FlowKey {
    fn hash<H: Hasher>(&self, h: &mut H) {
        match (self.a, self.b) {
            (SocketAddr::V4(a), SocketAddr::V4(b)) => {
                h.write_u64((u32::from(*a.ip()) as u64) << 32 | u32::from(*b.ip()) as u64);
                h.write_u64(((a.port() as u64) << 16 | b.port() as u64) << 32 | self.zone.0 as u64);
            }
            (a, b) => {
                a.hash(h);
                b.hash(h);
                self.zone.hash(h);
            }
        }
    }
}

impl FlowKey {
    fn new(x: SocketAddr, y: SocketAddr, zone: Zone) -> Self {
        if (x.ip(), x.port()) <= (y.ip(), y.port()) {
            FlowKey { a: x, b: y, zone }
        } else {
            FlowKey { a: y, b: x, zone }
        }
    }
}

#[derive(Debug)]
struct Half {
    stream: HalfStream,
    isn: Option<u32>,
    /// Sequence number of this side's FIN, once sent.
    fin_seq: Option<u32>,
    fin_acked: bool,
    /// Last flag event emitted with its seq (to drop exact duplicates).
    last_event: Option<(TcpEvent, u32)>,
}

impl Half {
    fn new(isn: Option<u32>) -> Self {
        Half {
            stream: HalfStream::new(isn),
            isn,
            fin_seq: None,
            fin_acked: false,
            last_event: None,
        }
    }
}

#[derive(Debug)]
struct Conn {
    meta: ConnMeta,
    interest: Interest,
    half: [Option<Half>; 2],
    handshake_done: bool,
    synack_seen: bool,
    rst: bool,
    packets: u64,
    last: Timestamp,
    /// Closed and reported; kept a while so stray late packets are not a new connection.
    finished: bool,
}

impl Conn {
    fn closed(&self) -> bool {
        self.rst
            || self
                .half
                .iter()
                .all(|h| h.as_ref().is_some_and(|h| h.fin_seq.is_some()))
    }
}

/// Bounds for the tracker.
#[derive(Debug, Clone, Copy)]
pub struct TcpLimits {
    /// Most connections tracked at once; beyond it the least recently active are evicted.
    pub max_connections: usize,
    /// Global cap on out-of-order bytes buffered by all connections.
    pub max_buffered: usize,
    /// Connections idle this long (capture time) are finished.
    pub idle_timeout_ns: i64,
}

impl Default for TcpLimits {
    fn default() -> Self {
        TcpLimits {
            max_connections: 1_000_000,
            max_buffered: 256 << 20,
            idle_timeout_ns: 2 * 3600 * 1_000_000_000,
        }
    }
}

/// The connection table.
pub struct TcpTracker {
    conns: HashMap<FlowKey, Conn, FastState>,
    budget: MemBudget,
    limits: TcpLimits,
    next_id: ConnId,
    last_sweep: Timestamp,
    /// Well-known server ports used to orient connections picked up mid-stream.
    server_ports: Vec<u16>,
}

impl TcpTracker {
    pub fn new(limits: TcpLimits, server_ports: Vec<u16>) -> Self {
        TcpTracker {
            conns: HashMap::default(),
            budget: MemBudget::new(limits.max_buffered),
            limits,
            next_id: 1,
            last_sweep: Timestamp(i64::MIN),
            server_ports,
        }
    }

    /// Connections seen so far.
    pub fn connections_seen(&self) -> u64 {
        self.next_id - 1
    }

    /// Process one segment.
    pub fn segment(&mut self, ts: Timestamp, seg: &TcpSegment<'_>, h: &mut dyn TcpHandler) {
        let src = SocketAddr::new(seg.src, seg.sport);
        let dst = SocketAddr::new(seg.dst, seg.dport);
        let key = FlowKey::new(src, dst, seg.zone);
        let f = seg.flags;
        let pure_syn = f.syn() && !f.ack();

        // Port reuse: a fresh SYN on a finished connection (or with a new ISN) starts anew.
        if pure_syn {
            if let Some(c) = self.conns.get(&key) {
                let same_isn = c.meta.client == src
                    && c.half[0].as_ref().and_then(|x| x.isn) == Some(seg.seq)
                    && !c.closed();
                if !same_isn && (c.closed() || c.meta.saw_syn || c.packets > 0) {
                    let mut c = self.conns.remove(&key).expect("present");
                    self.finish(&mut c, h);
                }
            }
        }

        if !self.conns.contains_key(&key) {
            if self.conns.len() >= self.limits.max_connections {
                self.evict_oldest(h);
            }
            let (client, server, saw_syn) = if f.syn() {
                if f.ack() {
                    (dst, src, true)
                } else {
                    (src, dst, true)
                }
            } else {
                let (c, s) = self.orient(src, dst);
                (c, s, false)
            };
            let mut meta = ConnMeta {
                id: self.next_id,
                client,
                server,
                saw_syn,
                start: ts,
                zone: seg.zone,
            };
            self.next_id += 1;
            let (interest, swap) = h.on_open(&meta);
            if swap && !saw_syn {
                std::mem::swap(&mut meta.client, &mut meta.server);
            }
            self.conns.insert(
                key,
                Conn {
                    meta,
                    interest,
                    half: [None, None],
                    handshake_done: false,
                    synack_seen: false,
                    rst: false,
                    packets: 0,
                    last: ts,
                    finished: false,
                },
            );
        }
        let conn = self.conns.get_mut(&key).expect("inserted");
        conn.packets += 1;
        if ts > conn.last {
            conn.last = ts;
        }
        if conn.finished {
            return;
        }
        let dir = if src == conn.meta.client {
            Dir::ToServer
        } else {
            Dir::ToClient
        };
        let d = dir.idx();
        let o = dir.flip().idx();
        let meta = conn.meta;
        let interested = conn.interest == Interest::Data;

        // Create this direction's state.
        if conn.half[d].is_none() {
            let isn = if f.syn() { Some(seg.seq) } else { None };
            conn.half[d] = Some(Half::new(isn));
        } else if f.syn() {
            // A SYN after the half was created mid-stream: re-anchor if nothing was delivered.
            let half = conn.half[d].as_mut().expect("some");
            if half.isn.is_none() && half.stream.seq_bytes() == 0 {
                *half = Half::new(Some(seg.seq));
            }
        }

        // Flag events.
        let mut events: [Option<TcpEvent>; 3] = [None; 3];
        if f.rst() {
            conn.rst = true;
            events[0] = Some(TcpEvent::Rst);
        } else if f.syn() {
            events[0] = Some(if f.ack() {
                TcpEvent::SynAck
            } else {
                TcpEvent::Syn
            });
            if f.ack() {
                conn.synack_seen = true;
            }
        } else if f.ack() && !conn.handshake_done && conn.synack_seen && dir == Dir::ToServer {
            let server_isn = conn.half[1].as_ref().and_then(|x| x.isn);
            if server_isn.map(|i| i.wrapping_add(1)) == Some(seg.ack) {
                conn.handshake_done = true;
                events[0] = Some(TcpEvent::HandshakeAck);
            }
        }
        if conn.meta.saw_syn && !conn.handshake_done && !f.syn() && !f.rst() && dir == Dir::ToServer
        {
            // Handshake ACK never seen (lost) but traffic flows: consider it done.
            if !seg.payload.is_empty() || f.fin() {
                conn.handshake_done = true;
            }
        }
        // ACK of the peer's FIN.
        if f.ack() && !f.rst() {
            if let Some(peer) = conn.half[o].as_mut() {
                if let Some(fs) = peer.fin_seq {
                    if !peer.fin_acked && seg.ack == fs.wrapping_add(1) {
                        peer.fin_acked = true;
                        if !f.fin() {
                            events[1] = Some(TcpEvent::FinAcked);
                        }
                    }
                }
            }
        }
        let fin_event = if f.fin() && !f.rst() {
            let half = conn.half[d].as_mut().expect("some");
            let fin_seq = seg.seq.wrapping_add(seg.wire_len);
            if half.fin_seq.is_none() {
                half.fin_seq = Some(fin_seq);
            }
            Some(if f.ack() {
                TcpEvent::FinAck
            } else {
                TcpEvent::Fin
            })
        } else {
            None
        };

        let mut interest = conn.interest;
        for ev in events.iter().flatten() {
            let half = conn.half[d].as_mut().expect("some");
            if half.last_event == Some((*ev, seg.seq)) && *ev != TcpEvent::FinAcked {
                continue;
            }
            half.last_event = Some((*ev, seg.seq));
            if interested {
                interest = h.on_event(&meta, ts, dir, *ev);
            }
        }

        // Payload.
        if interested && interest == Interest::Data {
            // The peer's ACK tells us which holes in our reverse stream will never fill.
            if f.ack() && !f.syn() {
                if let Some(peer) = conn.half[o].as_mut() {
                    let mut first = true;
                    peer.stream.acked(seg.ack, &mut self.budget, &mut |chunk| {
                        interest = h.on_data(&meta, ts, dir.flip(), chunk, first);
                        first = false;
                    });
                }
            }
            if seg.wire_len > 0 || !seg.payload.is_empty() || f.fin() {
                let half = conn.half[d].as_mut().expect("some");
                let mut first = true;
                half.stream.segment(
                    seg.seq.wrapping_add(f.syn() as u32),
                    seg.payload,
                    seg.wire_len.max(seg.payload.len() as u32),
                    f.fin(),
                    &mut self.budget,
                    &mut |chunk| {
                        interest = h.on_data(&meta, ts, dir, chunk, first);
                        first = false;
                    },
                );
            }
        }
        if let Some(ev) = fin_event {
            let half = conn.half[d].as_mut().expect("some");
            if half.last_event != Some((ev, seg.seq)) {
                half.last_event = Some((ev, seg.seq));
                if interested {
                    interest = h.on_event(&meta, ts, dir, ev);
                }
            }
        }
        if interest == Interest::Ignore && conn.interest == Interest::Data {
            conn.interest = Interest::Ignore;
            for half in conn.half.iter_mut().flatten() {
                half.stream.flush(&mut self.budget, &mut |_| {});
            }
        }

        // A connection that is fully closed (both FINs acked, or RST) is finished now.
        let done = conn.rst
            || conn.half.iter().all(|x| {
                x.as_ref()
                    .is_some_and(|x| x.fin_seq.is_some() && x.fin_acked)
            });
        if done {
            let mut c = self.conns.remove(&key).expect("present");
            self.finish(&mut c, h);
            self.conns.insert(key, c);
        }

        if ts.0.saturating_sub(self.last_sweep.0) > 60_000_000_000 {
            self.last_sweep = ts;
            self.sweep(ts, h);
        }
    }

    /// Orientation guess for a connection picked up mid-stream.
    fn orient(&self, src: SocketAddr, dst: SocketAddr) -> (SocketAddr, SocketAddr) {
        let known = |p: u16| self.server_ports.contains(&p);
        if known(dst.port()) && !known(src.port()) {
            (src, dst)
        } else if known(src.port()) && !known(dst.port()) {
            (dst, src)
        } else if src.port() >= dst.port() {
            (src, dst)
        } else {
            (dst, src)
        }
    }

    /// Flush and report a connection (once).
    fn finish(&mut self, c: &mut Conn, h: &mut dyn TcpHandler) {
        if c.finished {
            return;
        }
        c.finished = true;
        let meta = c.meta;
        let mut summary = ConnSummary {
            packets: c.packets,
            end: c.last,
            seq_bytes: [0; 2],
            captured_bytes: [0; 2],
            gaps: [0; 2],
            close: if c.rst {
                CloseKind::Rst
            } else if c
                .half
                .iter()
                .all(|x| x.as_ref().is_some_and(|x| x.fin_seq.is_some()))
            {
                CloseKind::Fin
            } else {
                CloseKind::Open
            },
        };
        let interested = c.interest == Interest::Data;
        for (i, half) in c.half.iter_mut().enumerate() {
            if let Some(half) = half {
                let dir = if i == 0 { Dir::ToServer } else { Dir::ToClient };
                let mut first = true;
                half.stream.flush(&mut self.budget, &mut |chunk| {
                    if interested {
                        h.on_data(&meta, c.last, dir, chunk, first);
                    }
                    first = false;
                });
                summary.seq_bytes[i] = half.stream.seq_bytes();
                summary.captured_bytes[i] = half.stream.captured_bytes();
                summary.gaps[i] = half.stream.gaps();
            }
        }
        h.on_close(&meta, &summary);
    }

    fn evict_oldest(&mut self, h: &mut dyn TcpHandler) {
        if let Some(key) = self
            .conns
            .iter()
            .min_by_key(|(_, c)| c.last)
            .map(|(k, _)| *k)
        {
            let mut c = self.conns.remove(&key).expect("present");
            self.finish(&mut c, h);
        }
    }

    /// Finish connections idle past the timeout, and closed ones idle for a minute.
    fn sweep(&mut self, now: Timestamp, h: &mut dyn TcpHandler) {
        let idle = self.limits.idle_timeout_ns;
        let stale: Vec<FlowKey> = self
            .conns
            .iter()
            .filter(|(_, c)| {
                let age = now.0.saturating_sub(c.last.0);
                age > idle || ((c.finished || c.closed()) && age > 60_000_000_000)
            })
            .map(|(k, _)| *k)
            .collect();
        for key in stale {
            if let Some(mut c) = self.conns.remove(&key) {
                self.finish(&mut c, h);
            }
        }
    }

    /// End of capture: finish every connection in order of first packet.
    pub fn finish_all(&mut self, h: &mut dyn TcpHandler) {
        let mut all: Vec<Conn> = self.conns.drain().map(|(_, c)| c).collect();
        all.sort_by_key(|c| c.meta.id);
        for mut c in all {
            self.finish(&mut c, h);
        }
    }

    /// Bytes buffered out of order across all connections.
    pub fn buffered(&self) -> usize {
        self.budget.used
    }
}
