//! Splitting a capture by the unordered pair of addresses (`--shard K/N`, `--threads N`):
//! the shard of a packet, and the record ([`Trace`]) a partial analysis keeps of when it
//! decided what, so that the parts can be put back into the order one whole run has.

use crate::capture::{Packet, Timestamp};
use crate::net::decode::{Decoded, Decoder};
use crate::net::tcp::ConnId;
use crate::net::zone::Zone;
use std::collections::HashSet;
use std::net::{IpAddr, SocketAddr};

/// Most shards (`--shard K/N`: N) and worker threads (`--threads`).
pub const MAX_SHARDS: u32 = 1024;

/// Shard K of N (0-based K).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ShardSpec {
    pub k: u32,
    pub n: u32,
}

impl std::str::FromStr for ShardSpec {
    type Err = String;
    /// "K/N" with 0 <= K < N <= [`MAX_SHARDS`].
    fn from_str(s: &str) -> Result<Self, String> {
        let (k, n) = s
            .split_once('/')
            .ok_or_else(|| format!("{s:?}: expected K/N, e.g. 0/4"))?;
        let k: u32 = k
            .trim()
            .parse()
            .map_err(|_| format!("{s:?}: K is not a number"))?;
        let n: u32 = n
            .trim()
            .parse()
            .map_err(|_| format!("{s:?}: N is not a number"))?;
        if n == 0 || n > MAX_SHARDS {
            return Err(format!("{s:?}: N must be 1 to {MAX_SHARDS}"));
        }
        if k >= n {
            return Err(format!("{s:?}: K must be below N (shards are 0 to N-1)"));
        }
        Ok(ShardSpec { k, n })
    }
}

/// The shard of the unordered address pair {a, b} in segment `zone`, of `n`: the lower
/// address, the higher one (IPv4 as IPv4-mapped IPv6, as 128-bit numbers) and the zone
/// folded by multiply-xorshift, so that it is the same on every machine and in every
/// version that keeps this function (shards of one archive may run different builds).
pub fn pair_shard(a: IpAddr, b: IpAddr, zone: Zone, n: u32) -> u32 {
    let v6 = |ip: IpAddr| match ip {
        IpAddr::V4(v) => u128::from(v.to_ipv6_mapped()),
        IpAddr::V6(v) => u128::from(v),
    };
    let (x, y) = (v6(a), v6(b));
    let (lo, hi) = if x <= y { (x, y) } else { (y, x) };
    const K: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut h: u64 = u64::from(zone.0);
    for w in [(lo >> 64) as u64, lo as u64, (hi >> 64) as u64, hi as u64] {
        h = (h ^ w).wrapping_mul(K);
        h ^= h >> 29;
    }
    h = h.wrapping_mul(K);
    h ^= h >> 32;
    (h % u64::from(n.max(1))) as u32
}

/// Where a packet goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    /// TCP: the shard of its address pair.
    Shard(u32),
    /// DNS: every shard (a session's server name comes from a lookup between other hosts).
    All,
    /// An IP fragment of a datagram not complete yet: its pair is not known.
    Fragment,
    /// Anything else (not TCP, undecodable): shard 0 counts it.
    First,
}

/// Decodes packets just far enough to route them (the same decoder the analysis runs, so
/// that outer tunnel identities and VLANs count as they do in the flow key).
pub struct Router {
    decoder: Decoder,
    n: u32,
}

impl Router {
    pub fn new(n: u32, ignore_tunnel_ids: bool) -> Self {
        let mut decoder = Decoder::new();
        decoder.set_zones(!ignore_tunnel_ids);
        Router { decoder, n }
    }

    pub fn route(&mut self, pkt: &Packet<'_>) -> Route {
        let n = self.n;
        match self.decoder.decode(pkt) {
            Decoded::Tcp(seg) => Route::Shard(pair_shard(seg.src, seg.dst, seg.zone, n)),
            Decoded::Dns(_) => Route::All,
            Decoded::Fragment => Route::Fragment,
            Decoded::NotTcp | Decoded::Undecodable => Route::First,
        }
    }

    /// IP fragments seen (a reassembled datagram's pair was not known at its first ones).
    pub fn fragments(&self) -> u64 {
        self.decoder.stats().fragments
    }
}

/// What a partial analysis records (when it has a trace) to be merged in whole-run order.
///
/// Times of decisions are *keys*: the 1-based number of the packet being processed, over
/// the whole input; at the end of the input (when every open connection is finished, in
/// the order of their first packets) the total number of packets plus the key of the
/// connection's first packet. Keys of one whole run are ordered as its decisions were.
#[derive(Debug)]
pub struct Trace {
    /// Key of the packet being processed.
    pub now: u64,
    /// At the end of the input: the number of packets.
    pub end_base: Option<u64>,
    /// Key of each connection's first packet, by its (local) id − 1.
    pub conn_keys: Vec<u64>,
    /// Key at which each session id was reserved (or taken), by its reserved id.
    pub reserved_at: std::collections::HashMap<u64, u64>,
    /// Key of the connection event being handled (set at each close).
    pub cur: u64,
    /// Probes of [`crate::ftp::probes::ProbeBook::probe`] in order, with their keys.
    pub probes: Vec<(u64, IpAddr, SocketAddr, Timestamp, Timestamp, bool)>,
    /// Key of each top-level finding made while packets were read (in report order).
    pub findings: Vec<u64>,
    /// Closes in order: (local connection id, key).
    pub closes: Vec<(ConnId, u64)>,
    /// Whether the endpoints below are recorded (`--threads`: the merge checks them;
    /// `--shard` does not).
    pub endpoints: bool,
    /// Data-channel listeners announced (expectations registered), as [`endpoint_hash`]es.
    pub announced: HashSet<u64>,
    /// Listeners looked up among the expectations, and the ends of connections no session
    /// took, as [`endpoint_hash`]es (a collision can only make a split run fall back).
    pub lookups: HashSet<u64>,
    /// Connections with payload that no session took when they closed (looked at against
    /// the bounded history of announcements).
    pub untied_calls: u64,
    /// TLS sessions kept open after their control connection ended.
    pub lingered: u64,
    /// Set at the end of the analysis: id reservations given up early, sessions numbered
    /// late, host pairs remembered, announcements made, the latest close.
    pub forced_ids: u64,
    pub late_sessions: u64,
    pub session_hosts: usize,
    pub announcements: u64,
    pub last_close: Timestamp,
    /// The latest capture time of the whole input so far (set with each packet).
    pub max_ts: i64,
    /// Longest wait of a reservation on an FTP port for its first byte: in packets of the
    /// whole input, and from its first packet to the latest time seen then (ns).
    pub promote_wait_packets: u64,
    pub promote_wait_ns: i64,
    /// Most TCP connections tracked at once, out-of-order bytes buffered at once, and
    /// announced data ports waiting at once (sampled after each packet of this part),
    /// and the whole-run caps on them (set at the end).
    pub peak_connections: usize,
    pub peak_buffered: usize,
    pub peak_expectations: usize,
    pub max_connections: usize,
    /// Most finished TCP connections waiting out their minute at once, and their cap.
    pub peak_lingering: usize,
    pub max_lingering: usize,
    /// Most connections gone with their ISN remembered at once, and their cap.
    pub peak_closed_isns: usize,
    pub max_closed_isns: usize,
    pub max_buffered: usize,
    pub max_expectations: usize,
    /// Most (client, server) pairs with failed logins tallied at once (seen as each
    /// session's failures are counted), how many sessions' failures were counted, and
    /// the cap on pairs (set at the end).
    pub failure_pairs_peak: usize,
    pub failure_calls: u64,
    pub max_failure_pairs: usize,
    /// Earliest and latest capture time at which failed logins were counted (ns; `i64::MAX`
    /// and `i64::MIN` when none were), and how long a pair's tally is kept (set at the end).
    pub failure_first: i64,
    pub failure_last: i64,
    pub failure_timeout_ns: i64,
    /// Connections that became DNS over TCP (their answers name sessions of other parts).
    pub dns_over_tcp: u64,
}

impl Default for Trace {
    fn default() -> Self {
        Trace {
            now: 0,
            end_base: None,
            conn_keys: Vec::new(),
            reserved_at: Default::default(),
            cur: 0,
            probes: Vec::new(),
            findings: Vec::new(),
            closes: Vec::new(),
            endpoints: false,
            announced: HashSet::new(),
            lookups: HashSet::new(),
            untied_calls: 0,
            lingered: 0,
            forced_ids: 0,
            late_sessions: 0,
            session_hosts: 0,
            announcements: 0,
            last_close: Timestamp(0),
            max_ts: 0,
            promote_wait_packets: 0,
            promote_wait_ns: 0,
            peak_connections: 0,
            peak_buffered: 0,
            peak_expectations: 0,
            max_connections: 0,
            peak_lingering: 0,
            max_lingering: 0,
            peak_closed_isns: 0,
            max_closed_isns: 0,
            max_buffered: 0,
            max_expectations: 0,
            failure_pairs_peak: 0,
            failure_calls: 0,
            max_failure_pairs: 0,
            failure_first: i64::MAX,
            failure_last: i64::MIN,
            failure_timeout_ns: 0,
            dns_over_tcp: 0,
        }
    }
}

/// A 64-bit digest of an endpoint in a zone (8 bytes a connection instead of 36).
pub fn endpoint_hash(zone: Zone, e: SocketAddr) -> u64 {
    let ip = match e.ip() {
        IpAddr::V4(v) => u128::from(v.to_ipv6_mapped()),
        IpAddr::V6(v) => u128::from(v),
    };
    const K: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut h = (u64::from(zone.0) << 16) | u64::from(e.port());
    for w in [(ip >> 64) as u64, ip as u64] {
        h = (h ^ w).wrapping_mul(K);
        h ^= h >> 31;
    }
    h
}

impl Trace {
    /// Record an endpoint announced (with [`Trace::endpoints`]).
    pub fn announce(&mut self, zone: Zone, e: SocketAddr) {
        if self.endpoints {
            self.announced.insert(endpoint_hash(zone, e));
        }
    }

    /// Record an endpoint looked up (with [`Trace::endpoints`]).
    pub fn look_up(&mut self, zone: Zone, e: SocketAddr) {
        if self.endpoints {
            self.lookups.insert(endpoint_hash(zone, e));
        }
    }

    /// The key of an event of connection `conn` now.
    pub fn key(&self, conn: ConnId) -> u64 {
        match self.end_base {
            Some(p) => {
                let first = conn
                    .checked_sub(1)
                    .and_then(|i| self.conn_keys.get(i as usize))
                    .copied()
                    .unwrap_or(0);
                p + first
            }
            None => self.now,
        }
    }

    /// A connection opened (ids are handed out 1, 2, … in this order).
    pub fn opened(&mut self, id: ConnId) {
        let i = id.saturating_sub(1) as usize;
        if self.conn_keys.len() <= i {
            self.conn_keys.resize(i + 1, 0);
        }
        self.conn_keys[i] = self.now;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_k_of_n() {
        assert_eq!("1/3".parse::<ShardSpec>(), Ok(ShardSpec { k: 1, n: 3 }));
        assert!("3/3".parse::<ShardSpec>().is_err());
        assert!("0/0".parse::<ShardSpec>().is_err());
        assert!("x".parse::<ShardSpec>().is_err());
        assert!("1/x".parse::<ShardSpec>().is_err());
    }

    const FIXED: [u32; 2] = [98, 725];

    #[test]
    fn pair_shard_ignores_the_order_and_spreads() {
        let a: IpAddr = "10.0.0.1".parse().unwrap();
        let b: IpAddr = "192.168.7.9".parse().unwrap();
        for n in 1..8 {
            assert_eq!(pair_shard(a, b, Zone(0), n), pair_shard(b, a, Zone(0), n));
        }
        let mut seen = [0u32; 4];
        for i in 0..400u32 {
            let c = IpAddr::from([10, 1, (i >> 8) as u8, i as u8]);
            seen[pair_shard(c, a, Zone(0), 4) as usize] += 1;
        }
        assert!(seen.iter().all(|&n| n > 50), "{seen:?}");
        // Fixed values: the partition must not change between versions.
        assert_eq!(pair_shard(a, b, Zone(0), 1000), FIXED[0]);
        assert_eq!(pair_shard(a, b, Zone(7), 1000), FIXED[1]);
    }
}
