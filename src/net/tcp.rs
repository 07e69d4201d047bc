//! TCP connection tracking: connections keyed by 4-tuple, handshake/teardown events,
//! per-direction reassembly, handed to an application [`TcpHandler`]; duplicates (a SYN
//! seen before, a replayed copy of a connection, repeated segments) counted, not handed on.

use super::fasthash::FastState;
use super::linger::{Linger, LingerTable, MAX_LINGERING_CONNECTIONS};
use super::reassembly::{Chunk, HalfStream, MemBudget};
use super::reorder::{Clock, ReorderWindow};
use super::replay::{ClosedIsns, CLOSED_ISN_EXPIRY_NS, MAX_CLOSED_ISNS};
use super::tcpstate::{self, ConnState, Seg};
use super::zone::Zone;
use super::TcpSegment;
use crate::capture::Timestamp;
use std::collections::{BTreeMap, HashMap};
use std::hash::{Hash, Hasher};
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};

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
    /// Reassembled payload or a gap, in stream order. `new_segment` is true for data
    /// that begins what one captured segment brought (see [`Chunk::Data`]), whenever
    /// it is delivered: counting it counts segments.
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
    #[inline]
    fn hash<H: Hasher>(&self, h: &mut H) {
        match (&self.a, &self.b) {
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

/// An IPv4 flow key in 16 bytes (addresses, ports, zone) for the table of finished
/// connections; other keys are kept whole.
type Key4 = [u32; 4];

/// A flow key in the memory of connections gone (their ISNs): IPv4 packed in 16 bytes
/// (24 with the tag), others boxed.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum GoneKey {
    V4(Key4),
    Other(Box<FlowKey>),
}

impl GoneKey {
    fn of(key: &FlowKey) -> Self {
        match key.pack4() {
            Some(k) => GoneKey::V4(k),
            None => GoneKey::Other(Box::new(*key)),
        }
    }
}

impl FlowKey {
    /// The key in 16 bytes, when both ends are IPv4.
    #[inline]
    fn pack4(&self) -> Option<Key4> {
        match (&self.a, &self.b) {
            (SocketAddr::V4(a), SocketAddr::V4(b)) => Some([
                u32::from(*a.ip()),
                u32::from(*b.ip()),
                u32::from(a.port()) << 16 | u32::from(b.port()),
                self.zone.0,
            ]),
            _ => None,
        }
    }

    fn unpack4(k: &Key4) -> Self {
        let end =
            |ip: u32, port: u32| SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::from(ip), port as u16));
        FlowKey {
            a: end(k[0], k[2] >> 16),
            b: end(k[1], k[2] & 0xffff),
            zone: Zone(k[3]),
        }
    }

    /// The client's address, for a finished connection's entry.
    fn client(&self, l: &Linger) -> SocketAddr {
        if l.client_b() {
            self.b
        } else {
            self.a
        }
    }

    #[inline]
    fn new(x: SocketAddr, y: SocketAddr, zone: Zone) -> Self {
        // IPv4 (the common case): address and port packed in one word, compared at once.
        let le = match (&x, &y) {
            (SocketAddr::V4(a), SocketAddr::V4(b)) => {
                let pack = |s: &std::net::SocketAddrV4| {
                    (u64::from(u32::from(*s.ip())) << 16) | u64::from(s.port())
                };
                pack(a) <= pack(b)
            }
            _ => (x.ip(), x.port()) <= (y.ip(), y.port()),
        };
        if le {
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
    /// Last flag event emitted with its seq (to drop exact duplicates).
    last_event: Option<(TcpEvent, u32)>,
}

impl Half {
    fn new(isn: Option<u32>, window: ReorderWindow) -> Self {
        let mut stream = HalfStream::new(isn);
        stream.set_reorder_window(window);
        Half {
            stream,
            isn,
            last_event: None,
        }
    }
}

#[derive(Debug)]
struct Conn {
    meta: ConnMeta,
    interest: Interest,
    /// Boxed: a connection that never got past its SYN (a flood) stays small.
    half: [Option<Box<Half>>; 2],
    /// Handshake, FINs, reset, finished, replayed: changed only through
    /// [`tcpstate::transition`] ([`Conn::step`]).
    state: ConnState,
    packets: u64,
    /// Payload bytes on the wire, both directions (the reorder window's byte clock).
    bytes: u64,
    last: Timestamp,
    /// Listed in the tracker's `holding` (a hole waits in the reorder window).
    holding: bool,
    /// Its key in the tracker's `lru` (the activity time it was queued with, and a
    /// sequence number that makes the key unique).
    queued: (Timestamp, u64),
}

impl Conn {
    /// The client's initial sequence number, when its SYN was seen.
    fn client_isn(&self) -> Option<u32> {
        self.half[0].as_ref().and_then(|x| x.isn)
    }

    /// Reset, or both sides sent their FIN.
    fn closed(&self) -> bool {
        self.state.closed()
    }

    /// Closed and reported; kept a while so stray late packets are not a new connection.
    #[inline]
    fn finished(&self) -> bool {
        self.state.finished()
    }

    /// Every change of the connection's state.
    #[inline(always)]
    fn step(&mut self, input: tcpstate::Input) -> tcpstate::Output {
        let (next, out) = tcpstate::transition(self.state, input);
        self.state = next;
        out
    }
}

/// Capture time between sweeps of connections gone idle (and of finished ones).
const SWEEP_NS: i64 = 60_000_000_000;
/// How long a finished connection waits for late packets (capture time).
const LINGER_NS: i64 = 60_000_000_000;
/// Capture time between sweeps of finished connections alone.
const LINGER_SWEEP_NS: i64 = 5_000_000_000;

/// Default of [`TcpLimits::max_connections`] (`--max-connections`).
/// 2^18: a SYN flood stays near 512 MB; an FTP capture rarely has that many live at once.
pub const MAX_CONNECTIONS: usize = 262_144;

/// Bounds for the tracker.
#[derive(Debug, Clone, Copy)]
pub struct TcpLimits {
    /// Most connections tracked at once; beyond it the least recently active are evicted.
    pub max_connections: usize,
    /// Most finished connections waiting out their minute (to absorb late packets and
    /// know their SYN); beyond it the least recently active are forgotten.
    pub max_lingering: usize,
    /// Most connections gone whose client ISN is remembered (to know a replay of them).
    pub max_closed_isns: usize,
    /// Global cap on out-of-order bytes buffered by all connections.
    pub max_buffered: usize,
    /// Connections idle this long (capture time) are finished.
    pub idle_timeout_ns: i64,
    /// How long a hole the peer acknowledged waits for a segment the capture reordered.
    pub reorder: ReorderWindow,
}

impl Default for TcpLimits {
    fn default() -> Self {
        TcpLimits {
            max_connections: MAX_CONNECTIONS,
            max_lingering: MAX_LINGERING_CONNECTIONS,
            max_closed_isns: MAX_CLOSED_ISNS,
            max_buffered: 256 << 20,
            idle_timeout_ns: 2 * 3600 * 1_000_000_000,
            reorder: ReorderWindow::default(),
        }
    }
}

/// Finished connections waiting out their minute, apart from the live ones: IPv4 keys
/// packed in 16 bytes, other keys whole.
#[derive(Debug, Default)]
struct Lingering {
    v4: LingerTable<Key4>,
    v6: LingerTable<FlowKey>,
}

impl Lingering {
    fn len(&self) -> usize {
        self.v4.len() + self.v6.len()
    }

    fn clear(&mut self) {
        self.v4.clear();
        self.v6.clear();
    }

    /// The finished connection of `key`.
    #[inline]
    fn get(&self, key: &FlowKey) -> Option<Linger> {
        match key.pack4() {
            Some(k) => self.v4.get(&k),
            None => self.v6.get(key),
        }
    }

    /// A packet of the finished connection of `key` (see [`LingerTable::touch`]).
    #[inline]
    fn touch(&mut self, key: &FlowKey, ts: Timestamp, replayed: bool) -> Option<Linger> {
        match key.pack4() {
            Some(k) => self.v4.touch(&k, ts, replayed),
            None => self.v6.touch(key, ts, replayed),
        }
    }

    fn remove(&mut self, key: &FlowKey) -> Option<Linger> {
        match key.pack4() {
            Some(k) => self.v4.remove(&k),
            None => self.v6.remove(key),
        }
    }

    fn insert(&mut self, key: FlowKey, l: Linger) {
        match key.pack4() {
            Some(k) => self.v4.insert(k, l),
            None => self.v6.insert(key, l),
        }
    }

    fn age_keys(&self) -> impl Iterator<Item = (Timestamp, ConnId)> + '_ {
        self.v4.age_keys().chain(self.v6.age_keys())
    }

    /// Take out every entry for which `f` is true, in the order of `order` (ties: IPv4
    /// first); keys are unpacked one at a time as the entries are handed out.
    fn take_in_order<O: Ord>(
        &mut self,
        f: impl Fn(&Linger) -> bool,
        order: impl Fn(&Linger) -> O + Copy,
    ) -> (usize, impl Iterator<Item = (FlowKey, Linger)>) {
        let mut v4 = self.v4.take_where(&f);
        let mut v6 = self.v6.take_where(&f);
        v4.sort_unstable_by_key(|(_, l)| order(l));
        v6.sort_unstable_by_key(|(_, l)| order(l));
        let n = v4.len() + v6.len();
        let v4 = v4.into_iter().map(|(k, l)| (FlowKey::unpack4(&k), l));
        (n, merge_by(v4, v6, move |x, y| order(&x.1) <= order(&y.1)))
    }
}

/// Whether a connection last active at `last` is done with at `now`: idle past the
/// timeout, or closed (finished) and past its minute.
fn expired(now: Timestamp, last: Timestamp, closed: bool, idle_ns: i64) -> bool {
    let age = now.0.saturating_sub(last.0);
    age > idle_ns || (closed && age > LINGER_NS)
}

/// Two sequences, each in order, as one in order (`first(x, y)`: x goes before y).
fn merge_by<T>(
    a: impl IntoIterator<Item = T>,
    b: impl IntoIterator<Item = T>,
    first: impl Fn(&T, &T) -> bool,
) -> impl Iterator<Item = T> {
    let (mut a, mut b) = (a.into_iter().peekable(), b.into_iter().peekable());
    std::iter::from_fn(move || match (a.peek(), b.peek()) {
        (Some(x), Some(y)) => {
            if first(x, y) {
                a.next()
            } else {
                b.next()
            }
        }
        (Some(_), None) => a.next(),
        _ => b.next(),
    })
}

/// Whether a chunk begins what one captured segment brought.
fn starts_segment(chunk: &Chunk<'_>) -> bool {
    matches!(
        chunk,
        Chunk::Data {
            new_segment: true,
            ..
        }
    )
}

/// The connection table.
pub struct TcpTracker {
    conns: HashMap<FlowKey, Conn, FastState>,
    /// Every connection of `conns` by the activity time it was queued with (a lower
    /// bound of its `last`): eviction takes the first entry whose connection has been
    /// idle since, re-queueing the others with their real `last` — O(log n) per
    /// connection opened, nothing per packet, exact least-recently-active order.
    lru: BTreeMap<(Timestamp, u64), FlowKey>,
    lru_seq: u64,
    /// Connections finished early because the table was full.
    evictions: u64,
    budget: MemBudget,
    limits: TcpLimits,
    next_id: ConnId,
    last_sweep: Timestamp,
    /// Capture time of the last [`TcpTracker::sweep_lingering`] (or sweep).
    last_linger_sweep: Timestamp,
    /// Well-known server ports used to orient connections picked up mid-stream.
    server_ports: Vec<u16>,
    /// Connections finished in the last minute (or so), out of `conns`: what their late
    /// packets need. A key is in `conns` or here.
    lingering: Lingering,
    /// Finished connections forgotten before their minute was out (`max_lingering`).
    lingering_forgotten: u64,
    /// ISNs of connections no longer in `conns`, to recognise their replayed SYNs.
    closed_isns: ClosedIsns<GoneKey>,
    dups: DuplicateStats,
    /// Late segments that filled acknowledged holes, over finished connections.
    reordered_segments: u64,
    /// Acknowledged holes the reorder window closed as gaps, over finished connections.
    reorder_expiries: u64,
    /// Holes given up because a connection's out-of-order buffer or the global
    /// reassembly budget was full.
    buffer_giveups: u64,
    /// Connections with a hole waiting in the reorder window, so that the window's
    /// time bound closes it even when the connection falls silent (at most one entry
    /// per tracked connection).
    holding: Vec<FlowKey>,
    /// Capture time `holding` was last checked.
    last_hold_check: Timestamp,
}

/// Segments that repeated what was already seen (a capture holding traffic twice,
/// retransmissions).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DuplicateStats {
    /// SYNs with the client and ISN of a connection already seen (open or closed).
    pub syns: u64,
    /// Other segments that carried nothing new: every segment of a replayed connection,
    /// and payload segments whose bytes had all been delivered already.
    pub segments: u64,
}

impl TcpTracker {
    pub fn new(limits: TcpLimits, server_ports: Vec<u16>) -> Self {
        TcpTracker {
            conns: HashMap::default(),
            lru: BTreeMap::new(),
            lru_seq: 0,
            evictions: 0,
            budget: MemBudget::new(limits.max_buffered),
            limits,
            next_id: 1,
            last_sweep: Timestamp(i64::MIN),
            last_linger_sweep: Timestamp(i64::MIN),
            server_ports,
            lingering: Lingering::default(),
            lingering_forgotten: 0,
            closed_isns: ClosedIsns::new(limits.max_closed_isns, CLOSED_ISN_EXPIRY_NS),
            dups: DuplicateStats::default(),
            reordered_segments: 0,
            reorder_expiries: 0,
            buffer_giveups: 0,
            holding: Vec::new(),
            last_hold_check: Timestamp(i64::MIN),
        }
    }

    /// Most connections tracked at once.
    pub fn max_connections(&self) -> usize {
        self.limits.max_connections
    }

    /// Global cap on out-of-order bytes buffered by all connections.
    pub fn max_buffered(&self) -> usize {
        self.limits.max_buffered
    }

    /// Connections tracked now (finished ones waiting out their minute are not).
    pub fn live(&self) -> usize {
        self.conns.len()
    }

    /// Finished connections waiting out their minute now.
    pub fn lingering(&self) -> usize {
        self.lingering.len()
    }

    /// Most finished connections waiting out their minute at once.
    pub fn max_lingering(&self) -> usize {
        self.limits.max_lingering
    }

    /// Finished connections forgotten before their minute was out because
    /// `max_lingering` were waiting.
    pub fn lingering_forgotten(&self) -> u64 {
        self.lingering_forgotten
    }

    /// Connections gone whose client ISN is remembered (to know a replay of them), the
    /// most remembered at once, and how many were forgotten before their expiry because
    /// that many were.
    pub fn closed_isns(&self) -> usize {
        self.closed_isns.len()
    }

    pub fn max_closed_isns(&self) -> usize {
        self.closed_isns.max()
    }

    pub fn closed_isns_forgotten(&self) -> u64 {
        self.closed_isns.forgotten_full()
    }

    /// Connections finished early because `max_connections` were tracked.
    pub fn evictions(&self) -> u64 {
        self.evictions
    }

    /// Duplicate SYNs and segments seen so far.
    pub fn duplicates(&self) -> DuplicateStats {
        self.dups
    }

    /// Put a connection in the table (and in the eviction order).
    fn insert_conn(&mut self, key: FlowKey, mut c: Conn) {
        self.lru_seq += 1;
        c.queued = (c.last, self.lru_seq);
        self.lru.insert(c.queued, key);
        if let Some(old) = self.conns.insert(key, c) {
            self.lru.remove(&old.queued);
        }
    }

    /// Take a connection out of the table (and out of the eviction order).
    fn remove_conn(&mut self, key: &FlowKey) -> Option<Conn> {
        let c = self.conns.remove(key)?;
        self.lru.remove(&c.queued);
        Some(c)
    }

    /// A connection leaves the table: remember its ISN so that a replay is recognised.
    fn retire(&mut self, key: FlowKey, c: &Conn) {
        self.retire_lingering(key, &Self::linger_entry(&key, c));
    }

    /// A finished connection's minute is over (or a connection leaves the table, its
    /// entry made by [`Self::linger_entry`]): remember its client's ISN.
    fn retire_lingering(&mut self, key: FlowKey, l: &Linger) {
        if let Some(isn) = l.isn() {
            self.closed_isns
                .remember(GoneKey::of(&key), l.client_b(), isn, l.last);
        }
    }

    /// A finished connection waits out its minute. At the bound, the least recently
    /// active eighth of those waiting goes at once (amortised O(1) a connection), least
    /// recently active first, each ISN remembered like any retired connection's.
    fn linger(&mut self, key: FlowKey, l: Linger) {
        if self.lingering() >= self.limits.max_lingering.max(1)
            && self.lingering.get(&key).is_none()
        {
            let mut ages: Vec<(Timestamp, ConnId)> = self.lingering.age_keys().collect();
            let nth = ages.len() / 8;
            let (_, &mut cut, _) = ages.select_nth_unstable(nth);
            drop(ages);
            let (n, gone) = self
                .lingering
                .take_in_order(|l| l.age_key() <= cut, Linger::age_key);
            self.lingering_forgotten += n as u64;
            for (k, old) in gone {
                self.retire_lingering(k, &old);
            }
        }
        self.lingering.insert(key, l);
    }

    /// What waits of a connection that just finished.
    fn linger_entry(key: &FlowKey, c: &Conn) -> Linger {
        Linger::new(
            c.meta.id,
            c.last,
            c.client_isn(),
            c.meta.client != key.a,
            c.state.replay(),
        )
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

        // A SYN with the client and ISN of a connection already seen is a duplicate (a
        // retransmission, or a replay of a closed one); a SYN with another ISN on a
        // finished connection is a port reuse and starts anew.
        if pure_syn {
            if let Some(c) = self.conns.get_mut(&key) {
                if c.meta.client == src && c.client_isn() == Some(seg.seq) {
                    self.dups.syns += 1;
                    c.step(tcpstate::Input::DuplicateSyn);
                    if !c.state.replay() {
                        c.packets += 1;
                    }
                    if ts > c.last {
                        c.last = ts;
                    }
                    return;
                }
                if c.closed() || c.finished() || c.meta.saw_syn || c.packets > 0 {
                    let mut c = self.remove_conn(&key).expect("present");
                    self.finish(&mut c, h);
                    self.retire(key, &c);
                }
            } else if let Some(l) = self.lingering.get(&key) {
                if key.client(&l) == src && l.isn() == Some(seg.seq) {
                    // Its SYN again: a replayed copy of it follows.
                    self.dups.syns += 1;
                    self.lingering.touch(&key, ts, true);
                    return;
                }
                // A port reuse: the finished connection's minute is over.
                let l = self.lingering.remove(&key).expect("present");
                self.retire_lingering(key, &l);
            } else if self
                .closed_isns
                .is_replay(&GoneKey::of(&key), src != key.a, seg.seq, ts)
            {
                // The replay of a connection that already left the table: a stand-in that
                // absorbs the rest of the copy, never reported.
                self.dups.syns += 1;
                let client_b = src != key.a;
                self.linger(key, Linger::new(0, ts, Some(seg.seq), client_b, true));
                return;
            }
        }

        // One lookup for a connection already in the table (nearly every packet).
        let conn = if let Some(conn) = self.conns.get_mut(&key) {
            conn
        } else {
            // A late packet of a finished connection: counted, not a new connection.
            if let Some(l) = self.lingering.touch(&key, ts, false) {
                if l.replayed() {
                    self.dups.segments += 1;
                }
                return;
            }
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
            self.insert_conn(
                key,
                Conn {
                    meta,
                    interest,
                    half: [None, None],
                    state: ConnState::new(saw_syn),
                    packets: 0,
                    bytes: 0,
                    last: ts,
                    holding: false,
                    queued: (ts, 0),
                },
            );
            self.conns.get_mut(&key).expect("inserted")
        };
        conn.bytes = conn
            .bytes
            .saturating_add(u64::from(seg.wire_len.max(seg.payload.len() as u32)));
        if ts > conn.last {
            conn.last = ts;
        }
        debug_assert!(!conn.finished(), "finished connections wait in `lingering`");
        conn.packets += 1;
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
            conn.half[d] = Some(Box::new(Half::new(isn, self.limits.reorder)));
        } else if f.syn() {
            // A SYN after the half was created mid-stream: re-anchor if nothing was delivered.
            let half = conn.half[d].as_mut().expect("some");
            if half.isn.is_none() && half.stream.seq_bytes() == 0 {
                **half = Half::new(Some(seg.seq), self.limits.reorder);
                conn.step(tcpstate::Input::Reanchor(dir));
            }
        }

        // Flag events: the state machine (not even asked in the common case).
        let step = if conn.state.unchanged_by(f, dir) {
            tcpstate::Output::default()
        } else {
            conn.step(tcpstate::Input::Segment(Seg {
                dir,
                flags: f,
                seq: seg.seq,
                ack: seg.ack,
                wire_len: seg.wire_len,
                payload: !seg.payload.is_empty(),
                saw_syn: conn.meta.saw_syn,
                own_isn: conn.half[d].as_ref().and_then(|x| x.isn),
                server_isn: conn.half[1].as_ref().and_then(|x| x.isn),
            }))
        };
        self.dups.segments += u64::from(step.duplicates);
        let events = step.events;
        let fin_event = step.fin;

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

        // A payload segment whose bytes were all delivered already repeats them.
        let repeated = !f.syn()
            && !f.fin()
            && !f.rst()
            && seg.wire_len > 0
            && conn.half[d]
                .as_ref()
                .is_some_and(|x| x.stream.all_delivered(seg.seq, seg.wire_len));
        if repeated {
            self.dups.segments += 1;
        }

        // Payload.
        if interested && interest == Interest::Data {
            // Acknowledged holes that waited past the reorder window become gaps.
            let now = Clock {
                packets: conn.packets,
                bytes: conn.bytes,
                ts_ns: ts.0,
            };
            if conn.holding {
                for (half, hd) in conn.half.iter_mut().zip([Dir::ToServer, Dir::ToClient]) {
                    if let Some(half) = half {
                        half.stream.tick(now, &mut self.budget, &mut |chunk| {
                            let ns = starts_segment(&chunk);
                            interest = h.on_data(&meta, ts, hd, chunk, ns);
                        });
                    }
                }
            }
            // The peer's ACK tells us which holes in our reverse stream will never fill:
            // at once when it answers with data, else once the reorder window has passed.
            if f.ack() && !f.syn() {
                if let Some(peer) = conn.half[o].as_mut() {
                    let answered = !seg.payload.is_empty() || seg.wire_len > 0;
                    peer.stream
                        .acked(seg.ack, answered, now, &mut self.budget, &mut |chunk| {
                            let ns = starts_segment(&chunk);
                            interest = h.on_data(&meta, ts, dir.flip(), chunk, ns);
                        });
                }
            }
            if !repeated && (seg.wire_len > 0 || !seg.payload.is_empty() || f.fin()) {
                let half = conn.half[d].as_mut().expect("some");
                half.stream.set_time(ts);
                half.stream.segment(
                    seg.seq.wrapping_add(f.syn() as u32),
                    seg.payload,
                    seg.wire_len.max(seg.payload.len() as u32),
                    f.fin(),
                    &mut self.budget,
                    &mut |chunk| {
                        let ns = starts_segment(&chunk);
                        interest = h.on_data(&meta, ts, dir, chunk, ns);
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

        if !conn.holding && conn.half.iter().flatten().any(|x| x.stream.holding()) {
            conn.holding = true;
            self.holding.push(key);
        }

        // A connection that is fully closed (both FINs acked, or RST) is finished now.
        if step.done {
            let mut c = self.remove_conn(&key).expect("present");
            self.finish(&mut c, h);
            self.linger(key, Self::linger_entry(&key, &c));
        }

        if !self.holding.is_empty()
            && ts.0.saturating_sub(self.last_hold_check.0) > self.limits.reorder.time_ns / 4
        {
            self.last_hold_check = ts;
            self.expire_holds(ts, h);
        }

        if ts.0.saturating_sub(self.last_sweep.0) > SWEEP_NS {
            self.last_sweep = ts;
            self.last_linger_sweep = ts;
            self.sweep(ts, h);
        } else if ts.0.saturating_sub(self.last_linger_sweep.0) > LINGER_SWEEP_NS {
            self.last_linger_sweep = ts;
            self.sweep_lingering(ts);
        }
    }

    /// Finished connections whose minute is out leave (their ISNs remembered), between
    /// the sweeps of live connections: the table then holds a minute of them and a bit,
    /// not up to two (at a session every 350 µs, 400,000 entries instead of 680,000).
    fn sweep_lingering(&mut self, now: Timestamp) {
        for (key, l) in self.lingering_out(now) {
            self.retire_lingering(key, &l);
        }
    }

    /// Take out the finished connections whose minute is out, in order of first packet
    /// (their keys unpacked one at a time).
    fn lingering_out(&mut self, now: Timestamp) -> impl Iterator<Item = (FlowKey, Linger)> {
        let idle = self.limits.idle_timeout_ns;
        self.lingering
            .take_in_order(
                move |l| expired(now, l.last, true, idle),
                |l| (l.id, l.last),
            )
            .1
    }

    /// Let the reorder window's time bound close the holes of connections that fell
    /// silent (the other bounds only move with a connection's own packets).
    fn expire_holds(&mut self, ts: Timestamp, h: &mut dyn TcpHandler) {
        let mut keys = std::mem::take(&mut self.holding);
        keys.retain(|key| {
            let Some(conn) = self.conns.get_mut(key) else {
                return false;
            };
            let now = Clock {
                packets: conn.packets,
                bytes: conn.bytes,
                ts_ns: ts.0,
            };
            let meta = conn.meta;
            let interested = !conn.finished() && conn.interest == Interest::Data;
            // What a silent connection releases was captured by its last packet.
            let seen = conn.last;
            for (half, hd) in conn.half.iter_mut().zip([Dir::ToServer, Dir::ToClient]) {
                if let Some(half) = half {
                    half.stream.tick(now, &mut self.budget, &mut |chunk| {
                        if interested {
                            let ns = starts_segment(&chunk);
                            h.on_data(&meta, seen, hd, chunk, ns);
                        }
                    });
                }
            }
            conn.holding = conn.half.iter().flatten().any(|x| x.stream.holding());
            conn.holding
        });
        keys.append(&mut self.holding);
        self.holding = keys;
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
        let Some(close) = c.step(tcpstate::Input::Finish).close else {
            return;
        };
        let meta = c.meta;
        let mut summary = ConnSummary {
            packets: c.packets,
            end: c.last,
            seq_bytes: [0; 2],
            captured_bytes: [0; 2],
            gaps: [0; 2],
            close,
        };
        let interested = c.interest == Interest::Data;
        for (i, half) in c.half.iter_mut().enumerate() {
            if let Some(half) = half {
                let dir = if i == 0 { Dir::ToServer } else { Dir::ToClient };
                half.stream.flush(&mut self.budget, &mut |chunk| {
                    if interested {
                        let ns = starts_segment(&chunk);
                        h.on_data(&meta, c.last, dir, chunk, ns);
                    }
                });
                summary.seq_bytes[i] = half.stream.seq_bytes();
                summary.captured_bytes[i] = half.stream.captured_bytes();
                summary.gaps[i] = half.stream.gaps();
                self.reordered_segments += half.stream.reordered_segments();
                self.reorder_expiries += half.stream.window_expiries();
                self.buffer_giveups += half.stream.buffer_giveups();
            }
        }
        h.on_close(&meta, &summary);
    }

    /// Finish the least recently active connection (amortised O(log n): an entry is
    /// re-queued at most once per packet-active period of its connection).
    fn evict_oldest(&mut self, h: &mut dyn TcpHandler) {
        while let Some((queued, key)) = self.lru.pop_first() {
            let Some(c) = self.conns.get_mut(&key) else {
                continue;
            };
            if c.last > queued.0 {
                // Active since it was queued: queue it again with its real time.
                self.lru_seq += 1;
                c.queued = (c.last, self.lru_seq);
                self.lru.insert(c.queued, key);
                continue;
            }
            let mut c = self.conns.remove(&key).expect("present");
            self.evictions += 1;
            self.finish(&mut c, h);
            self.retire(key, &c);
            return;
        }
    }

    /// Finish connections idle past the timeout, and closed ones idle for a minute; let
    /// finished ones go after their minute.
    fn sweep(&mut self, now: Timestamp, h: &mut dyn TcpHandler) {
        let idle = self.limits.idle_timeout_ns;
        let mut stale: Vec<(ConnId, FlowKey)> = self
            .conns
            .iter()
            .filter(|(_, c)| expired(now, c.last, c.finished() || c.closed(), idle))
            .map(|(k, c)| (c.meta.id, *k))
            .collect();
        // In order of first packet, not of the table's (per-run seeded) hash: the
        // sessions these connections finish are written in this order (JSONL).
        stale.sort_unstable_by_key(|&(id, _)| id);
        // Finished ones waiting out their minute leave their tables at once (nothing
        // else sees them meanwhile) and go in the same order among the others.
        let done = self.lingering_out(now).map(|(k, l)| (l.id, k, Some(l)));
        let live = stale.into_iter().map(|(id, k)| (id, k, None));
        for (_, key, finished) in merge_by(live, done, |x, y| x.0 <= y.0) {
            if let Some(l) = finished {
                self.retire_lingering(key, &l);
            } else if let Some(mut c) = self.remove_conn(&key) {
                self.finish(&mut c, h);
                self.retire(key, &c);
            }
        }
    }

    /// End of capture: finish every connection in order of first packet.
    pub fn finish_all(&mut self, h: &mut dyn TcpHandler) {
        self.lru.clear();
        self.lingering.clear();
        // Sort the (id, key) pairs, not the connections (large structs moved around); ids
        // are unique.
        let mut order: Vec<(u64, FlowKey)> =
            self.conns.iter().map(|(k, c)| (c.meta.id, *k)).collect();
        order.sort_unstable_by_key(|&(id, _)| id);
        let mut all = std::mem::take(&mut self.conns);
        for (_, key) in order {
            if let Some(mut c) = all.remove(&key) {
                self.finish(&mut c, h);
            }
        }
    }

    /// Late segments that filled holes their receiver had already acknowledged (capture
    /// reordering absorbed by the window), over finished connections.
    pub fn reordered_segments(&self) -> u64 {
        self.reordered_segments
    }

    /// Acknowledged holes closed as gaps because the reorder window passed (or the
    /// per-direction hold list was full), over finished connections.
    pub fn reorder_expiries(&self) -> u64 {
        self.reorder_expiries
    }

    /// Holes given up as gaps because reassembly memory was full (per connection
    /// direction [`HalfStream::MAX_BUFFERED`], or the global budget).
    pub fn buffer_giveups(&self) -> u64 {
        self.buffer_giveups
    }

    /// Bytes buffered out of order across all connections.
    pub fn buffered(&self) -> usize {
        self.budget.used
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::net::TcpFlags;
    use std::net::IpAddr;

    /// Records what the tracker hands up.
    #[derive(Default)]
    struct Rec {
        opened: Vec<ConnId>,
        events: Vec<(ConnId, TcpEvent)>,
        bytes: Vec<(ConnId, Vec<u8>)>,
        closed: Vec<(ConnId, u64)>,
        /// What `on_open` saw, and how each connection ended.
        metas: Vec<ConnMeta>,
        kinds: Vec<(ConnId, CloseKind)>,
    }

    impl TcpHandler for Rec {
        fn on_open(&mut self, meta: &ConnMeta) -> (Interest, bool) {
            self.opened.push(meta.id);
            self.metas.push(*meta);
            (Interest::Data, false)
        }
        fn on_event(&mut self, m: &ConnMeta, _: Timestamp, _: Dir, ev: TcpEvent) -> Interest {
            self.events.push((m.id, ev));
            Interest::Data
        }
        fn on_data(
            &mut self,
            m: &ConnMeta,
            _: Timestamp,
            _: Dir,
            chunk: Chunk<'_>,
            _: bool,
        ) -> Interest {
            if let Chunk::Data { bytes, .. } = chunk {
                self.bytes.push((m.id, bytes.to_vec()));
            }
            Interest::Data
        }
        fn on_close(&mut self, m: &ConnMeta, s: &ConnSummary) {
            self.closed.push((m.id, s.seq_bytes[0] + s.seq_bytes[1]));
            self.kinds.push((m.id, s.close));
        }
    }

    const C: &str = "10.0.0.2";
    const S: &str = "10.0.0.1";
    const SEC: i64 = 1_000_000_000;

    fn seg<'a>(
        from_client: bool,
        flags: u8,
        seq: u32,
        ack: u32,
        payload: &'a [u8],
    ) -> TcpSegment<'a> {
        let (c, s): (IpAddr, IpAddr) = (C.parse().unwrap(), S.parse().unwrap());
        let (src, dst, sport, dport) = if from_client {
            (c, s, 40000, 21)
        } else {
            (s, c, 21, 40000)
        };
        TcpSegment {
            src,
            dst,
            sport,
            dport,
            seq,
            ack,
            flags: TcpFlags(flags),
            window: 1000,
            payload,
            wire_len: payload.len() as u32,
            zone: Zone::default(),
        }
    }

    const SYN: u8 = TcpFlags::SYN;
    const SA: u8 = TcpFlags::SYN | TcpFlags::ACK;
    const A: u8 = TcpFlags::ACK;
    const PA: u8 = TcpFlags::ACK | TcpFlags::PSH;
    const FA: u8 = TcpFlags::FIN | TcpFlags::ACK;

    /// One whole connection: handshake, 220 greeting, FIN teardown, from `t0` seconds.
    fn connection(isn: u32, t0: i64) -> Vec<(Timestamp, TcpSegment<'static>)> {
        let (c, s) = (isn, 5000u32);
        let t = |n: i64| Timestamp(t0 * SEC + n);
        vec![
            (t(0), seg(true, SYN, c, 0, b"")),
            (t(1), seg(false, SA, s, c + 1, b"")),
            (t(2), seg(true, A, c + 1, s + 1, b"")),
            (t(3), seg(false, PA, s + 1, c + 1, b"220 hi\r\n")),
            (t(4), seg(true, A, c + 1, s + 9, b"")),
            (t(5), seg(false, FA, s + 9, c + 1, b"")),
            (t(6), seg(true, FA, c + 1, s + 10, b"")),
            (t(7), seg(false, A, s + 10, c + 2, b"")),
        ]
    }

    fn run(tr: &mut TcpTracker, h: &mut Rec, segs: &[(Timestamp, TcpSegment<'_>)]) {
        for (ts, s) in segs {
            tr.segment(*ts, s, h);
        }
    }

    #[test]
    fn a_full_table_evicts_the_least_recently_active_connection() {
        let limits = TcpLimits {
            max_connections: 2,
            ..TcpLimits::default()
        };
        let mut t = TcpTracker::new(limits, vec![21]);
        let mut h = Rec::default();
        let from = |port: u16, flags: u8| {
            let mut s = seg(true, flags, 1000, 0, b"");
            s.sport = port;
            s
        };
        t.segment(Timestamp(SEC), &from(40001, SYN), &mut h); // conn 1
        t.segment(Timestamp(2 * SEC), &from(40002, SYN), &mut h); // conn 2
                                                                  // Conn 1 is active again: conn 2 is now the least recently active.
        t.segment(Timestamp(3 * SEC), &from(40001, SYN), &mut h);
        t.segment(Timestamp(4 * SEC), &from(40003, SYN), &mut h); // conn 3 evicts conn 2
        assert_eq!(h.closed, [(2, 0)]);
        assert_eq!(t.evictions(), 1);
        t.segment(Timestamp(5 * SEC), &from(40004, SYN), &mut h); // conn 4 evicts conn 1
        assert_eq!(h.closed, [(2, 0), (1, 0)]);
        assert_eq!(t.evictions(), 2);
        t.finish_all(&mut h);
        assert_eq!(h.closed, [(2, 0), (1, 0), (3, 0), (4, 0)]);
    }

    fn tracker() -> TcpTracker {
        TcpTracker::new(TcpLimits::default(), vec![21])
    }

    /// The same segments between the client port shifted by `i` and the server port 21.
    fn on_port(segs: &mut [(Timestamp, TcpSegment<'static>)], i: u16) {
        for (_, s) in segs.iter_mut() {
            if s.sport == 21 {
                s.dport += i;
            } else {
                s.sport += i;
            }
        }
    }

    /// The whole of connection `isn` starting at `t0` seconds, its client port moved by
    /// `port`.
    fn run_connection(tr: &mut TcpTracker, h: &mut Rec, isn: u32, t0: i64, port: u16) {
        let mut segs = connection(isn, t0);
        on_port(&mut segs, port);
        run(tr, h, &segs);
    }

    /// A late ACK of connection `isn` (its last one again) at `t` seconds.
    fn late_ack(isn: u32, t: i64) -> (Timestamp, TcpSegment<'static>) {
        (Timestamp(t * SEC), seg(false, A, 5010, isn + 2, b""))
    }

    #[test]
    fn finished_connections_wait_apart_and_do_not_count_against_max_connections() {
        let limits = TcpLimits {
            max_connections: 1,
            ..TcpLimits::default()
        };
        let (mut tr, mut h) = (TcpTracker::new(limits, vec![21]), Rec::default());
        for (i, isn) in [1000u32, 2000, 3000].into_iter().enumerate() {
            run_connection(&mut tr, &mut h, isn, i as i64, i as u16);
        }
        assert_eq!((tr.live(), tr.lingering(), tr.evictions()), (0, 3, 0));
        // A late packet of a finished connection is absorbed, not a new connection.
        run(&mut tr, &mut h, &[late_ack(1000, 30)]);
        assert_eq!(h.opened, [1, 2, 3]);
        assert_eq!(tr.lingering(), 3);
    }

    #[test]
    fn the_bound_on_finished_connections_forgets_the_least_recently_active() {
        let limits = TcpLimits {
            max_lingering: 2,
            ..TcpLimits::default()
        };
        let (mut tr, mut h) = (TcpTracker::new(limits, vec![21]), Rec::default());
        for i in 0..3u16 {
            run_connection(&mut tr, &mut h, 1000, i64::from(i), i);
            if i == 1 {
                // The first is active again: the second is now the least recently active.
                let mut late = vec![late_ack(1000, 2)];
                on_port(&mut late, 0);
                run(&mut tr, &mut h, &late);
            }
        }
        assert_eq!((tr.lingering(), tr.lingering_forgotten()), (2, 1));
        // A late packet of the forgotten one is a new connection; of the others, not.
        for port in [0, 2, 1] {
            let mut late = vec![late_ack(1000, 10)];
            on_port(&mut late, port);
            run(&mut tr, &mut h, &late);
        }
        assert_eq!(h.opened, [1, 2, 3, 4]);
        assert_eq!(h.metas[3].client.port(), 40001);
        // Its ISN was remembered as it went: a replay of it is still recognised.
        let mut again = connection(1000, 20)[..1].to_vec();
        on_port(&mut again, 1);
        tr.finish_all(&mut h);
        run(&mut tr, &mut h, &again);
        assert_eq!(h.opened.len(), 4);
        assert_eq!(tr.duplicates().syns, 1);
    }

    #[test]
    fn a_finished_connection_leaves_when_its_minute_is_out_between_sweeps() {
        let (mut tr, mut h) = (tracker(), Rec::default());
        // Finished at 0 s and at 5 s; the sweep of 61 s lets the first go, the check of
        // finished ones at 67 s the second (not the next sweep, at 121 s).
        for (port, t0) in [(0u16, 0i64), (1, 5), (2, 61)] {
            run_connection(&mut tr, &mut h, 1000, t0, port);
        }
        assert_eq!((tr.lingering(), tr.closed_isns()), (2, 1));
        run_connection(&mut tr, &mut h, 1000, 67, 3);
        assert_eq!((tr.lingering(), tr.closed_isns()), (2, 2));
        // Its late packet now opens a new connection; the others' are still absorbed.
        let mut late = vec![late_ack(1000, 68)];
        on_port(&mut late, 1);
        run(&mut tr, &mut h, &late);
        assert_eq!(h.opened.len(), 5);
    }

    #[test]
    fn the_bound_on_remembered_isns_forgets_the_oldest_and_counts_them() {
        let limits = TcpLimits {
            max_lingering: 2,
            max_closed_isns: 3,
            ..TcpLimits::default()
        };
        let (mut tr, mut h) = (TcpTracker::new(limits, vec![21]), Rec::default());
        for i in 0..10u16 {
            run_connection(&mut tr, &mut h, 1000, i64::from(i), i);
        }
        // Ten finished: two wait out their minute, eight went on to the ISN memory, which
        // keeps three: five forgotten, counted.
        assert_eq!(tr.lingering(), 2);
        assert_eq!(tr.closed_isns(), 3);
        assert_eq!(tr.closed_isns_forgotten(), 5);
        assert_eq!(tr.max_closed_isns(), 3);
        // A replay of one remembered is recognised; of the first, it is a new connection.
        for (port, opened) in [(9, 10), (7, 10), (0, 11)] {
            let mut again = connection(1000, 20)[..1].to_vec();
            on_port(&mut again, port);
            run(&mut tr, &mut h, &again);
            assert_eq!(h.opened.len(), opened, "port {port}");
        }
    }

    #[test]
    fn at_the_bound_the_least_recently_active_eighth_goes_at_once() {
        let limits = TcpLimits {
            max_lingering: 16,
            ..TcpLimits::default()
        };
        let (mut tr, mut h) = (TcpTracker::new(limits, vec![21]), Rec::default());
        for i in 0..40u16 {
            run_connection(&mut tr, &mut h, 1000, i64::from(i), i);
            assert!(tr.lingering() <= 16);
        }
        assert_eq!(tr.lingering() as u64 + tr.lingering_forgotten(), 40);
        // What waits is the most recently finished.
        let mut left: Vec<ConnId> = tr.lingering.age_keys().map(|(_, id)| id).collect();
        left.sort_unstable();
        let n = left.len() as u64;
        assert_eq!(left, (41 - n..=40).collect::<Vec<_>>());
    }

    #[test]
    fn a_finished_connection_absorbs_late_packets_for_a_minute_then_leaves() {
        let (mut tr, mut h) = (tracker(), Rec::default());
        run(&mut tr, &mut h, &connection(1000, 0));
        // Late packets within the minute are absorbed (and keep it a minute longer).
        run(&mut tr, &mut h, &[late_ack(1000, 50), late_ack(1000, 100)]);
        assert_eq!(h.opened, [1]);
        // Traffic elsewhere sweeps the table: 100 s after its last packet it has left.
        let mut other = seg(true, A, 1, 1, b"");
        other.sport = 50000;
        tr.segment(Timestamp(150 * SEC), &other, &mut h);
        assert_eq!(tr.lingering(), 1, "its last packet was 50 s ago");
        tr.segment(Timestamp(220 * SEC), &other, &mut h);
        assert_eq!(tr.lingering(), 0);
        run(&mut tr, &mut h, &[late_ack(1000, 230)]);
        assert_eq!(h.opened, [1, 2, 3], "now a new connection");
        assert_eq!(tr.duplicates(), DuplicateStats::default());
    }

    #[test]
    fn replayed_connection_right_after_close_is_one_connection() {
        let (mut tr, mut h) = (tracker(), Rec::default());
        run(&mut tr, &mut h, &connection(1000, 0));
        run(&mut tr, &mut h, &connection(1000, 10));
        tr.finish_all(&mut h);
        assert_eq!(h.opened, vec![1]);
        assert_eq!(tr.connections_seen(), 1);
        assert_eq!(h.bytes, vec![(1, b"220 hi\r\n".to_vec())]);
        assert_eq!(h.events.len(), 6, "{:?}", h.events);
        assert_eq!(h.closed, vec![(1, 8)]);
        assert_eq!(
            tr.duplicates(),
            DuplicateStats {
                syns: 1,
                segments: 7
            }
        );
    }

    #[test]
    fn replayed_connection_after_it_left_the_table_is_one_connection() {
        let (mut tr, mut h) = (tracker(), Rec::default());
        run(&mut tr, &mut h, &connection(1000, 0));
        // Other traffic long after: the sweep retires the closed connection.
        let mut other = seg(true, A, 1, 1, b"");
        other.sport = 50000;
        tr.segment(Timestamp(600 * SEC), &other, &mut h);
        tr.segment(Timestamp(700 * SEC), &other, &mut h);
        assert!(
            !tr.closed_isns.is_empty(),
            "the closed connection was retired"
        );
        run(&mut tr, &mut h, &connection(1000, 900));
        tr.finish_all(&mut h);
        assert_eq!(h.opened, vec![1, 2], "the second is the other traffic");
        assert_eq!(h.bytes.len(), 1);
        assert_eq!(
            tr.duplicates(),
            DuplicateStats {
                syns: 1,
                segments: 7
            }
        );
    }

    #[test]
    fn port_reuse_with_another_isn_is_a_new_connection() {
        let (mut tr, mut h) = (tracker(), Rec::default());
        run(&mut tr, &mut h, &connection(1000, 0));
        run(&mut tr, &mut h, &connection(777_777, 10));
        tr.finish_all(&mut h);
        assert_eq!(h.opened, vec![1, 2]);
        assert_eq!(h.closed, vec![(1, 8), (2, 8)]);
        assert_eq!(tr.duplicates(), DuplicateStats::default());
    }

    #[test]
    fn port_reuse_after_a_replay_is_still_a_new_connection() {
        let (mut tr, mut h) = (tracker(), Rec::default());
        run(&mut tr, &mut h, &connection(1000, 0));
        run(&mut tr, &mut h, &connection(1000, 10));
        run(&mut tr, &mut h, &connection(2000, 20));
        tr.finish_all(&mut h);
        assert_eq!(h.opened, vec![1, 2]);
        assert_eq!(h.bytes.len(), 2);
    }

    #[test]
    fn every_packet_twice_gives_each_event_and_byte_once() {
        let (mut tr, mut h) = (tracker(), Rec::default());
        // A span port repeating every packet one packet late.
        let segs = connection(1000, 0);
        let mut doubled = vec![segs[0]];
        for w in segs.windows(2) {
            doubled.extend([w[1], w[0]]);
        }
        doubled.push(*segs.last().unwrap());
        run(&mut tr, &mut h, &doubled);
        tr.finish_all(&mut h);
        let (mut tr1, mut h1) = (tracker(), Rec::default());
        run(&mut tr1, &mut h1, &connection(1000, 0));
        tr1.finish_all(&mut h1);
        assert_eq!(h.events, h1.events);
        assert_eq!(h.bytes, h1.bytes);
        // SYN; SYN+ACK, greeting, the server's FIN: repeated (pure ACKs are not counted,
        // and the client's FIN comes again only after the connection finished).
        assert_eq!(
            tr.duplicates(),
            DuplicateStats {
                syns: 1,
                segments: 3
            }
        );
    }

    proptest::proptest! {
        #![proptest_config(crate::testing::prop_config(100))]
        /// Connections on one 4-tuple, each with its ISN, each appearing 1..4 times later
        /// in the capture (gaps of 1 s to 2 h): one connection per distinct ISN in a row,
        /// its greeting delivered once.
        #[test]
        fn copies_are_one_connection_reuses_are_new(
            conns in proptest::collection::vec((0u32..4, 1usize..4, 1i64..7200), 1..6)
        ) {
            let (mut tr, mut h) = (tracker(), Rec::default());
            let mut t = 0;
            let mut expected = 0;
            let mut last_isn = None;
            for (isn, copies, gap) in conns {
                let isn = 1000 + isn * 100_000;
                if last_isn != Some(isn) {
                    expected += 1;
                }
                last_isn = Some(isn);
                for _ in 0..copies {
                    t += gap;
                    run(&mut tr, &mut h, &connection(isn, t));
                }
            }
            tr.finish_all(&mut h);
            proptest::prop_assert_eq!(h.opened.len(), expected);
            proptest::prop_assert_eq!(h.bytes.len(), expected);
        }
    }

    #[test]
    fn retransmitted_syn_and_repeated_segments_are_counted_not_redelivered() {
        let (mut tr, mut h) = (tracker(), Rec::default());
        let segs = connection(1000, 0);
        // SYN twice, the greeting twice (a span port duplicating packets).
        let doubled: Vec<_> = segs
            .iter()
            .enumerate()
            .flat_map(|(i, s)| {
                if i == 0 || i == 3 {
                    vec![*s, *s]
                } else {
                    vec![*s]
                }
            })
            .collect();
        run(&mut tr, &mut h, &doubled);
        tr.finish_all(&mut h);
        assert_eq!(h.opened, vec![1]);
        assert_eq!(h.bytes, vec![(1, b"220 hi\r\n".to_vec())]);
        assert_eq!(h.events.iter().filter(|e| e.1 == TcpEvent::Syn).count(), 1);
        assert_eq!(
            tr.duplicates(),
            DuplicateStats {
                syns: 1,
                segments: 1
            }
        );
    }

    fn events_of(h: &Rec) -> Vec<TcpEvent> {
        h.events.iter().map(|e| e.1).collect()
    }

    #[test]
    fn handshake_and_teardown_events_in_order_closed_on_the_last_ack() {
        use TcpEvent::*;
        let (mut tr, mut h) = (tracker(), Rec::default());
        let segs = connection(1000, 0);
        run(&mut tr, &mut h, &segs[..3]);
        let key = tr.conns.keys().next().copied().expect("tracked");
        assert!(matches!(
            tr.conns[&key].state,
            ConnState::Open {
                handshake: tcpstate::Handshake::Established { synack: true },
                ..
            }
        ));
        run(&mut tr, &mut h, &segs[3..7]);
        assert!(
            h.closed.is_empty(),
            "the client's FIN is not acknowledged yet"
        );
        assert!(tr.conns[&key].closed());
        run(&mut tr, &mut h, &segs[7..]);
        assert_eq!(
            events_of(&h),
            [Syn, SynAck, HandshakeAck, FinAck, FinAck, FinAcked]
        );
        assert_eq!(h.kinds, [(1, CloseKind::Fin)], "finished on the last ACK");
        // It waits out its minute apart, without its reassembly state, still knowing its
        // SYN and its client.
        assert!(tr.conns.is_empty());
        let l = tr.lingering.get(&key).expect("lingering");
        assert_eq!((l.id, l.isn(), l.replayed()), (1, Some(1000), false));
        assert_eq!(key.client(&l), h.metas[0].client);
        assert_eq!(l.last, segs[7].0);
        tr.finish_all(&mut h);
        assert_eq!(h.kinds.len(), 1, "reported once");
    }

    #[test]
    fn simultaneous_close_finishes_when_both_fins_are_acknowledged() {
        use TcpEvent::*;
        let (mut tr, mut h) = (tracker(), Rec::default());
        let (c, s) = (1000u32, 5000u32);
        let mut segs = connection(c, 0)[..4].to_vec();
        let t = |n: i64| Timestamp(n);
        // Both FINs cross: neither acknowledges the other's.
        segs.extend([
            (t(5), seg(false, FA, s + 9, c + 1, b"")),
            (t(6), seg(true, FA, c + 1, s + 9, b"")),
            (t(7), seg(false, A, s + 10, c + 2, b"")),
        ]);
        run(&mut tr, &mut h, &segs);
        assert!(
            h.kinds.is_empty(),
            "the server's FIN is not acknowledged yet"
        );
        run(&mut tr, &mut h, &[(t(8), seg(true, A, c + 2, s + 10, b""))]);
        assert_eq!(
            events_of(&h),
            [
                Syn,
                SynAck,
                HandshakeAck,
                FinAck,
                FinAck,
                FinAcked,
                FinAcked
            ]
        );
        assert_eq!(h.kinds, [(1, CloseKind::Fin)]);
    }

    #[test]
    fn a_reset_finishes_the_connection_at_once() {
        use TcpEvent::*;
        let (mut tr, mut h) = (tracker(), Rec::default());
        run(
            &mut tr,
            &mut h,
            &[
                (Timestamp(0), seg(true, SYN, 1000, 0, b"")),
                (Timestamp(1), seg(false, TcpFlags::RST | A, 0, 1001, b"")),
            ],
        );
        assert_eq!(events_of(&h), [Syn, Rst]);
        assert_eq!(h.kinds, [(1, CloseKind::Rst)]);
        // A late segment of it is counted, not a new connection.
        run(
            &mut tr,
            &mut h,
            &[(Timestamp(2), seg(true, A, 1001, 1, b""))],
        );
        tr.finish_all(&mut h);
        assert_eq!(h.opened, [1]);
        assert_eq!(h.kinds.len(), 1);
    }

    #[test]
    fn a_connection_picked_up_mid_stream_is_oriented_by_the_server_port() {
        let (mut tr, mut h) = (tracker(), Rec::default());
        run(
            &mut tr,
            &mut h,
            &[
                (Timestamp(0), seg(false, PA, 7000, 3000, b"226 done\r\n")),
                (Timestamp(1), seg(true, PA, 3000, 7010, b"QUIT\r\n")),
            ],
        );
        assert_eq!(h.metas.len(), 1);
        let m = h.metas[0];
        assert!(!m.saw_syn);
        assert_eq!(m.server.port(), 21);
        assert_eq!(m.client.port(), 40000);
        assert!(h.events.is_empty(), "no handshake seen");
        let key = tr.conns.keys().next().copied().expect("tracked");
        assert!(matches!(
            tr.conns[&key].state,
            ConnState::Open {
                handshake: tcpstate::Handshake::MidStream,
                ..
            }
        ));
        assert_eq!(
            h.bytes,
            [(1, b"226 done\r\n".to_vec()), (1, b"QUIT\r\n".to_vec())]
        );
        tr.finish_all(&mut h);
        assert_eq!(h.kinds, [(1, CloseKind::Open)], "no FIN or RST seen");
    }

    #[test]
    fn a_reused_port_with_a_new_isn_opens_anew_a_replayed_syn_does_not() {
        let (mut tr, mut h) = (tracker(), Rec::default());
        run(&mut tr, &mut h, &connection(1000, 0));
        // The SYN of the finished connection again: a replay, absorbed.
        run(&mut tr, &mut h, &connection(1000, 5)[..1]);
        assert_eq!(h.opened, [1]);
        assert!(tr.conns.is_empty());
        let key = FlowKey::new(h.metas[0].client, h.metas[0].server, Zone::default());
        assert!(tr.lingering.get(&key).expect("lingering").replayed());
        // A SYN with another ISN on the same ports: a new connection.
        run(&mut tr, &mut h, &connection(90_000, 10)[..1]);
        assert_eq!(h.opened, [1, 2]);
        assert_eq!(tr.conns[&key].state, ConnState::new(true));
        assert_eq!(tr.lingering(), 0);
        // The first one's ISN is remembered as it left.
        assert!(!tr.closed_isns.is_empty());
        tr.finish_all(&mut h);
        assert_eq!(h.kinds, [(1, CloseKind::Fin), (2, CloseKind::Open)]);
    }
}
