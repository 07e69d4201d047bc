//! IPv4 and IPv6 fragment reassembly under strict memory bounds (first data wins on overlap).
//!
//! Fragments are keyed by (source, destination, protocol, identification). Each datagram
//! in flight owns a buffer sized to the highest byte seen so far (at most
//! [`DefragLimits::max_datagram`]), and a sorted list of the byte ranges received. The
//! whole defragmenter holds at most [`DefragLimits::max_memory`] bytes of buffers and
//! [`DefragLimits::max_datagrams`] datagrams; when either is full the oldest datagram is
//! evicted. Datagrams still incomplete [`DefragLimits::timeout`] nanoseconds of capture
//! time after their first fragment are expired.
//!
//! When the last missing fragment arrives, the reassembled payload (the IPv4 payload, or
//! the IPv6 fragmentable part) moves into a single "completed" buffer that callers borrow
//! through [`Defragmenter::completed`] until the next insertion.

use std::collections::HashMap;
use std::net::IpAddr;

use crate::capture::Timestamp;

/// Identifies one fragmented datagram.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct FragKey {
    pub src: IpAddr,
    pub dst: IpAddr,
    /// IPv4 protocol, or the Next Header of the IPv6 fragment header.
    pub proto: u8,
    /// IPv4 identification (16 bits) or IPv6 fragment identification (32 bits).
    pub id: u32,
}

/// Memory and time bounds of the defragmenter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DefragLimits {
    /// Largest reassembled payload accepted (bytes after the IP header).
    pub max_datagram: usize,
    /// Total bytes of reassembly buffers across all datagrams in flight.
    pub max_memory: usize,
    /// Datagrams in flight.
    pub max_datagrams: usize,
    /// Distinct byte ranges (holes between fragments) tracked per datagram.
    pub max_ranges: usize,
    /// Incomplete datagrams are dropped this many nanoseconds (capture time) after their
    /// first fragment.
    pub timeout: i64,
}

impl Default for DefragLimits {
    fn default() -> Self {
        DefragLimits {
            max_datagram: 65_535,
            max_memory: 8 << 20,
            max_datagrams: 1024,
            max_ranges: 256,
            timeout: 60_000_000_000,
        }
    }
}

/// Counters kept by the defragmenter.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DefragStats {
    /// Fragments handed to [`Defragmenter::insert`].
    pub fragments: u64,
    /// Datagrams completely reassembled.
    pub reassembled: u64,
    /// Incomplete datagrams evicted to respect the memory / count bounds, or dropped
    /// because they grew past the per-datagram bound.
    pub dropped: u64,
    /// Incomplete datagrams dropped after the timeout.
    pub expired: u64,
    /// Fragments that overlapped data already received (the earlier data was kept).
    pub overlaps: u64,
    /// Fragments ignored as inconsistent (past the announced end, conflicting last
    /// fragment, empty fragment).
    pub invalid: u64,
}

/// What happened to an inserted fragment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FragOutcome {
    /// Stored; the datagram is still incomplete.
    Pending,
    /// The datagram is complete: its payload is in [`Defragmenter::completed`].
    Complete,
    /// The fragment was discarded (inconsistent or over a bound).
    Discarded,
}

#[derive(Debug)]
struct Datagram {
    buf: Vec<u8>,
    /// Sorted, disjoint, non-adjacent half-open byte ranges received.
    ranges: Vec<(u32, u32)>,
    /// Payload length, once the last fragment (MF clear) is seen.
    total: Option<u32>,
    first_ts: i64,
    /// Insertion order, for "evict the oldest".
    seq: u64,
}

impl Datagram {
    fn mem(&self) -> usize {
        self.buf.capacity() + self.ranges.capacity() * std::mem::size_of::<(u32, u32)>()
    }
    fn max_end(&self) -> u32 {
        self.ranges.last().map_or(0, |r| r.1)
    }
    fn is_complete(&self) -> bool {
        match self.total {
            Some(t) => self.ranges.len() == 1 && self.ranges.first() == Some(&(0, t)),
            None => false,
        }
    }
}

/// Bounded IPv4/IPv6 reassembler.
#[derive(Debug)]
pub struct Defragmenter {
    limits: DefragLimits,
    map: HashMap<FragKey, Datagram>,
    /// Bytes held by the datagrams in `map` (buffer and range capacities).
    mem: usize,
    seq: u64,
    /// Capture time of the next expiry sweep.
    next_sweep: i64,
    /// Payload of the datagram completed last.
    done: Vec<u8>,
    stats: DefragStats,
}

impl Default for Defragmenter {
    fn default() -> Self {
        Self::new()
    }
}

/// Interval (capture time) between expiry sweeps.
const SWEEP_INTERVAL: i64 = 1_000_000_000;

impl Defragmenter {
    pub fn new() -> Self {
        Self::with_limits(DefragLimits::default())
    }

    pub fn with_limits(limits: DefragLimits) -> Self {
        Defragmenter {
            limits,
            map: HashMap::new(),
            mem: 0,
            seq: 0,
            next_sweep: i64::MIN,
            done: Vec::new(),
            stats: DefragStats::default(),
        }
    }

    pub fn limits(&self) -> DefragLimits {
        self.limits
    }

    pub fn stats(&self) -> DefragStats {
        self.stats
    }

    /// Datagrams currently waiting for fragments.
    pub fn in_flight(&self) -> usize {
        self.map.len()
    }

    /// Bytes currently held by incomplete datagrams.
    pub fn memory(&self) -> usize {
        self.mem
    }

    /// Payload of the datagram most recently reported [`FragOutcome::Complete`].
    pub fn completed(&self) -> &[u8] {
        &self.done
    }

    /// Cheap per-packet hook: expires old datagrams at most once per second of capture time.
    #[inline]
    pub fn tick(&mut self, now: Timestamp) {
        if !self.map.is_empty() && now.0 >= self.next_sweep {
            self.expire(now);
        }
    }

    /// Drops every datagram whose first fragment is older than the timeout.
    pub fn expire(&mut self, now: Timestamp) {
        self.next_sweep = now.0.saturating_add(SWEEP_INTERVAL);
        let timeout = self.limits.timeout;
        let mut freed = 0usize;
        let mut expired = 0u64;
        self.map.retain(|_, d| {
            let keep = now.0.saturating_sub(d.first_ts) <= timeout;
            if !keep {
                freed += d.mem();
                expired += 1;
            }
            keep
        });
        self.mem = self.mem.saturating_sub(freed);
        self.stats.expired += expired;
    }

    /// Drops every datagram in flight (counted as expired), e.g. at the end of input.
    pub fn clear(&mut self) {
        self.stats.expired += self.map.len() as u64;
        self.map.clear();
        self.mem = 0;
    }

    fn remove(&mut self, key: &FragKey) -> Option<Datagram> {
        let d = self.map.remove(key)?;
        self.mem = self.mem.saturating_sub(d.mem());
        Some(d)
    }

    /// Evicts the oldest datagram other than `keep`; false when there is none.
    fn evict_oldest(&mut self, keep: &FragKey) -> bool {
        let oldest = self
            .map
            .iter()
            .filter(|(k, _)| *k != keep)
            .min_by_key(|(_, d)| d.seq)
            .map(|(k, _)| *k);
        match oldest {
            Some(k) => {
                self.remove(&k);
                self.stats.dropped += 1;
                true
            }
            None => false,
        }
    }

    /// Adds one fragment: `offset` is its byte offset in the payload, `more` the
    /// more-fragments flag, `data` its complete payload (a fragment cut by the snap
    /// length must not be inserted).
    pub fn insert(
        &mut self,
        ts: Timestamp,
        key: FragKey,
        offset: u32,
        more: bool,
        data: &[u8],
    ) -> FragOutcome {
        self.stats.fragments += 1;
        self.tick(ts);

        let end = match u32::try_from(data.len())
            .ok()
            .and_then(|l| offset.checked_add(l))
        {
            Some(e) if (e as usize) <= self.limits.max_datagram => e,
            _ => {
                // Past the per-datagram bound: the whole datagram is bogus.
                if self.remove(&key).is_some() {
                    self.stats.dropped += 1;
                }
                self.stats.invalid += 1;
                return FragOutcome::Discarded;
            }
        };
        if data.is_empty() && more {
            self.stats.invalid += 1;
            return FragOutcome::Discarded;
        }

        // An entry left over from long ago is a different datagram reusing the id.
        if let Some(d) = self.map.get(&key) {
            if ts.0.saturating_sub(d.first_ts) > self.limits.timeout {
                self.remove(&key);
                self.stats.expired += 1;
            }
        }

        if !self.map.contains_key(&key) {
            while self.map.len() >= self.limits.max_datagrams.max(1) {
                if !self.evict_oldest(&key) {
                    break;
                }
            }
            self.seq += 1;
            self.map.insert(
                key,
                Datagram {
                    buf: Vec::new(),
                    ranges: Vec::new(),
                    total: None,
                    first_ts: ts.0,
                    seq: self.seq,
                },
            );
        }

        // Consistency with what is known of the datagram's length.
        let (cur_len, growth) = {
            let Some(d) = self.map.get(&key) else {
                return FragOutcome::Discarded;
            };
            if let Some(t) = d.total {
                if end > t || (!more && end != t) {
                    self.stats.invalid += 1;
                    return FragOutcome::Discarded;
                }
            } else if !more && end < d.max_end() {
                self.stats.invalid += 1;
                return FragOutcome::Discarded;
            }
            let want = if more { end } else { end.max(d.max_end()) } as usize;
            (d.buf.len(), want.saturating_sub(d.buf.capacity()))
        };

        // Make room for the buffer growth (plus a range slot) under the global bound.
        let need = growth + 2 * std::mem::size_of::<(u32, u32)>();
        while self.mem + need > self.limits.max_memory {
            if !self.evict_oldest(&key) {
                if self.remove(&key).is_some() {
                    self.stats.dropped += 1;
                }
                return FragOutcome::Discarded;
            }
        }

        let max_ranges = self.limits.max_ranges.max(1);
        let Some(d) = self.map.get_mut(&key) else {
            return FragOutcome::Discarded;
        };
        let before = d.mem();
        if (end as usize) > cur_len {
            d.buf.reserve_exact(end as usize - cur_len);
            d.buf.resize(end as usize, 0);
        }
        if !more {
            d.total = Some(end);
        }
        // The range list grows by at most one slot (the one `need` counted): an amortized
        // doubling would take the memory past the bound.
        if d.ranges.len() == d.ranges.capacity() {
            d.ranges.reserve_exact(1);
        }
        let overlapped = merge(&mut d.buf, &mut d.ranges, offset, data);
        let too_many = d.ranges.len() > max_ranges;
        let complete = d.is_complete();
        let after = d.mem();
        self.mem = (self.mem + after).saturating_sub(before);
        if overlapped {
            self.stats.overlaps += 1;
        }
        if too_many {
            self.remove(&key);
            self.stats.dropped += 1;
            return FragOutcome::Discarded;
        }
        if complete {
            if let Some(mut d) = self.remove(&key) {
                d.buf.truncate(d.total.unwrap_or(0) as usize);
                self.done = d.buf;
                self.stats.reassembled += 1;
                return FragOutcome::Complete;
            }
        }
        FragOutcome::Pending
    }
}

/// Copies the parts of `data` (at `offset`) not yet covered by `ranges` into `buf`, and
/// records the new range. `buf` must already be at least `offset + data.len()` long.
/// Returns true when some of `data` overlapped bytes already received.
fn merge(buf: &mut [u8], ranges: &mut Vec<(u32, u32)>, offset: u32, data: &[u8]) -> bool {
    let start = offset;
    let end = offset.saturating_add(data.len() as u32);
    if start >= end {
        return false;
    }
    let mut overlapped = false;
    // Fill the gaps of [start, end) between existing ranges.
    let mut pos = start;
    for &(rs, re) in ranges.iter() {
        if re <= pos {
            continue;
        }
        if rs >= end {
            break;
        }
        if rs > pos {
            copy(buf, data, offset, pos, rs);
        }
        overlapped = true;
        pos = pos.max(re);
        if pos >= end {
            break;
        }
    }
    if pos < end {
        copy(buf, data, offset, pos, end);
    }
    // Insert [start, end) and coalesce touching/overlapping ranges.
    let idx = ranges.partition_point(|r| r.1 < start);
    let mut new = (start, end);
    let mut j = idx;
    while let Some(&(rs, re)) = ranges.get(j) {
        if rs > new.1 {
            break;
        }
        new = (new.0.min(rs), new.1.max(re));
        j += 1;
    }
    ranges.splice(idx..j, std::iter::once(new));
    overlapped
}

/// Copies bytes [from, to) of the datagram, taken from `data` placed at `offset`.
fn copy(buf: &mut [u8], data: &[u8], offset: u32, from: u32, to: u32) {
    let (Some(src_from), Some(src_to)) = (from.checked_sub(offset), to.checked_sub(offset)) else {
        return;
    };
    if let (Some(dst), Some(src)) = (
        buf.get_mut(from as usize..to as usize),
        data.get(src_from as usize..src_to as usize),
    ) {
        dst.copy_from_slice(src);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;

    fn key(id: u32) -> FragKey {
        FragKey {
            src: IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1)),
            dst: IpAddr::V4(Ipv4Addr::new(10, 0, 0, 2)),
            proto: 6,
            id,
        }
    }

    fn ts(s: i64) -> Timestamp {
        Timestamp::from_parts(s, 0)
    }

    fn payload(n: usize) -> Vec<u8> {
        (0..n).map(|i| (i * 7 + 3) as u8).collect()
    }

    #[test]
    fn in_order() {
        let mut d = Defragmenter::new();
        let p = payload(3000);
        assert_eq!(
            d.insert(ts(0), key(1), 0, true, &p[..1480]),
            FragOutcome::Pending
        );
        assert_eq!(
            d.insert(ts(0), key(1), 1480, true, &p[1480..2960]),
            FragOutcome::Pending
        );
        assert_eq!(
            d.insert(ts(0), key(1), 2960, false, &p[2960..]),
            FragOutcome::Complete
        );
        assert_eq!(d.completed(), &p[..]);
        assert_eq!(d.in_flight(), 0);
        assert_eq!(d.memory(), 0);
        assert_eq!(d.stats().reassembled, 1);
        assert_eq!(d.stats().fragments, 3);
    }

    #[test]
    fn reverse_order() {
        let mut d = Defragmenter::new();
        let p = payload(100);
        assert_eq!(
            d.insert(ts(0), key(1), 80, false, &p[80..]),
            FragOutcome::Pending
        );
        assert_eq!(
            d.insert(ts(0), key(1), 40, true, &p[40..80]),
            FragOutcome::Pending
        );
        assert_eq!(
            d.insert(ts(0), key(1), 0, true, &p[..40]),
            FragOutcome::Complete
        );
        assert_eq!(d.completed(), &p[..]);
    }

    #[test]
    fn overlap_first_wins() {
        let mut d = Defragmenter::new();
        let p = payload(48);
        let mut q = p.clone();
        for b in &mut q {
            *b ^= 0xff;
        }
        assert_eq!(
            d.insert(ts(0), key(1), 8, true, &p[8..24]),
            FragOutcome::Pending
        );
        // Overlaps [8,24) on both ends with different data.
        assert_eq!(
            d.insert(ts(0), key(1), 0, true, &q[..32]),
            FragOutcome::Pending
        );
        assert_eq!(
            d.insert(ts(0), key(1), 32, false, &p[32..]),
            FragOutcome::Complete
        );
        let mut want = q[..8].to_vec();
        want.extend_from_slice(&p[8..24]);
        want.extend_from_slice(&q[24..32]);
        want.extend_from_slice(&p[32..]);
        assert_eq!(d.completed(), &want[..]);
        assert_eq!(d.stats().overlaps, 1);
    }

    #[test]
    fn duplicates() {
        let mut d = Defragmenter::new();
        let p = payload(16);
        assert_eq!(
            d.insert(ts(0), key(1), 0, true, &p[..8]),
            FragOutcome::Pending
        );
        assert_eq!(
            d.insert(ts(0), key(1), 0, true, &p[..8]),
            FragOutcome::Pending
        );
        assert_eq!(
            d.insert(ts(0), key(1), 8, false, &p[8..]),
            FragOutcome::Complete
        );
        assert_eq!(d.completed(), &p[..]);
        assert_eq!(d.stats().overlaps, 1);
    }

    #[test]
    fn inconsistent_last_fragment() {
        let mut d = Defragmenter::new();
        let p = payload(64);
        assert_eq!(
            d.insert(ts(0), key(1), 32, false, &p[32..]),
            FragOutcome::Pending
        );
        // A second "last" fragment ending elsewhere, and data past the end.
        assert_eq!(
            d.insert(ts(0), key(1), 0, false, &p[..16]),
            FragOutcome::Discarded
        );
        assert_eq!(
            d.insert(ts(0), key(1), 56, true, &p[..16]),
            FragOutcome::Discarded
        );
        assert_eq!(d.stats().invalid, 2);
        assert_eq!(
            d.insert(ts(0), key(1), 0, true, &p[..32]),
            FragOutcome::Complete
        );
        assert_eq!(d.completed(), &p[..]);
    }

    #[test]
    fn too_big() {
        let mut d = Defragmenter::new();
        let p = payload(1000);
        assert_eq!(d.insert(ts(0), key(1), 0, true, &p), FragOutcome::Pending);
        assert_eq!(
            d.insert(ts(0), key(1), 65_000, true, &p),
            FragOutcome::Discarded
        );
        assert_eq!(d.in_flight(), 0);
        assert_eq!(d.stats().dropped, 1);
    }

    #[test]
    fn count_bound_evicts_oldest() {
        let limits = DefragLimits {
            max_datagrams: 4,
            ..DefragLimits::default()
        };
        let mut d = Defragmenter::with_limits(limits);
        let p = payload(16);
        for id in 0..10 {
            assert_eq!(
                d.insert(ts(0), key(id), 0, true, &p[..8]),
                FragOutcome::Pending
            );
            assert!(d.in_flight() <= 4);
        }
        assert_eq!(d.stats().dropped, 6);
        // The newest survive, the oldest were evicted.
        assert_eq!(
            d.insert(ts(0), key(9), 8, false, &p[8..]),
            FragOutcome::Complete
        );
        assert_eq!(
            d.insert(ts(0), key(0), 8, false, &p[8..]),
            FragOutcome::Pending
        );
    }

    #[test]
    fn memory_bound_evicts_oldest() {
        let limits = DefragLimits {
            max_memory: 200_000,
            ..DefragLimits::default()
        };
        let mut d = Defragmenter::with_limits(limits);
        let p = payload(60_000);
        for id in 0..10 {
            // Last fragment first: the buffer is sized to the whole datagram at once.
            let o = d.insert(ts(0), key(id), 1000, false, &p[1000..]);
            assert_eq!(o, FragOutcome::Pending);
            assert!(d.memory() <= 200_000, "memory {}", d.memory());
        }
        assert_eq!(d.in_flight(), 3);
        assert_eq!(d.stats().dropped, 7);
        assert_eq!(
            d.insert(ts(0), key(9), 0, true, &p[..1000]),
            FragOutcome::Complete
        );
        assert_eq!(d.completed(), &p[..]);
    }

    #[test]
    fn expiry() {
        let mut d = Defragmenter::new();
        let p = payload(16);
        assert_eq!(
            d.insert(ts(100), key(1), 0, true, &p[..8]),
            FragOutcome::Pending
        );
        assert_eq!(
            d.insert(ts(120), key(2), 0, true, &p[..8]),
            FragOutcome::Pending
        );
        d.tick(ts(150));
        assert_eq!(d.in_flight(), 2);
        d.tick(ts(161));
        assert_eq!(d.in_flight(), 1);
        assert_eq!(d.stats().expired, 1);
        // key(1)'s tail arrives too late: it starts a new datagram.
        assert_eq!(
            d.insert(ts(161), key(1), 8, false, &p[8..]),
            FragOutcome::Pending
        );
        assert_eq!(
            d.insert(ts(170), key(2), 8, false, &p[8..]),
            FragOutcome::Complete
        );
        d.clear();
        assert_eq!(d.memory(), 0);
        assert_eq!(d.stats().expired, 2);
    }

    #[test]
    fn range_bound() {
        let limits = DefragLimits {
            max_ranges: 4,
            ..DefragLimits::default()
        };
        let mut d = Defragmenter::with_limits(limits);
        let p = payload(8);
        for i in 0..4u32 {
            assert_eq!(
                d.insert(ts(0), key(1), i * 16, true, &p),
                FragOutcome::Pending
            );
        }
        assert_eq!(d.insert(ts(0), key(1), 56, true, &p), FragOutcome::Pending); // touches: merged
        assert_eq!(
            d.insert(ts(0), key(1), 96, true, &p),
            FragOutcome::Discarded
        );
        assert_eq!(d.in_flight(), 0);
    }

    #[test]
    fn merge_ranges() {
        let mut buf = vec![0u8; 64];
        let mut r = Vec::new();
        assert!(!merge(&mut buf, &mut r, 8, &[1; 8]));
        assert!(!merge(&mut buf, &mut r, 32, &[2; 8]));
        assert_eq!(r, vec![(8, 16), (32, 40)]);
        assert!(!merge(&mut buf, &mut r, 16, &[3; 16]));
        assert_eq!(r, vec![(8, 40)]);
        assert!(merge(&mut buf, &mut r, 0, &[4; 64]));
        assert_eq!(r, vec![(0, 64)]);
        assert_eq!(&buf[..8], &[4; 8]);
        assert_eq!(&buf[8..16], &[1; 8]);
        assert_eq!(&buf[16..32], &[3; 16]);
        assert_eq!(&buf[32..40], &[2; 8]);
        assert_eq!(&buf[40..], &[4; 24]);
    }

    /// Found by the `ipfrag` fuzz target: the first fragment's range list was allocated
    /// with the vector's default growth (4 slots), 14 bytes past a bound that had room
    /// for the buffer and one range.
    #[test]
    fn memory_bound_counts_the_range_list_exactly() {
        let limits = DefragLimits {
            max_memory: 2561,
            ..DefragLimits::default()
        };
        let mut d = Defragmenter::with_limits(limits);
        let p = payload(2535);
        assert_eq!(d.insert(ts(0), key(1), 8, true, &p), FragOutcome::Pending);
        assert!(d.memory() <= 2561, "memory {} over the bound", d.memory());
        // More ranges, each within the bound, or the datagram is dropped.
        for i in 0..8u32 {
            let _ = d.insert(ts(0), key(1), 4096 + i * 16, true, &p[..8]);
            assert!(d.memory() <= 2561, "memory {} over the bound", d.memory());
        }
    }
}
