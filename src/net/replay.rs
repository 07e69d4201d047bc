//! Memory of closed connections' initial sequence numbers, so that a SYN replayed later in
//! the capture (a careless merge, a replaying span port) is known as a duplicate, not a
//! new connection. Bounded in entries and in capture time; O(1) amortised per call.

use crate::capture::Timestamp;
use std::collections::{HashMap, VecDeque};
use std::hash::Hash;

/// Most closed connections remembered at once; the oldest are forgotten first.
pub const MAX_CLOSED_ISNS: usize = 65_536;

/// How long (capture time) a closed connection's client ISN is remembered: a real port
/// reuse draws a new ISN, so a SYN with the same one within this window is a replay.
pub const CLOSED_ISN_EXPIRY_NS: i64 = 2 * 3600 * 1_000_000_000;

/// Which end of its flow key a closed connection's client was, its ISN, and when it was
/// last seen (16 bytes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Closed {
    last: Timestamp,
    isn: u32,
    client: bool,
}

/// Closed connections by flow key, with their order of closing for expiry.
#[derive(Debug)]
pub struct ClosedIsns<K> {
    by_key: HashMap<K, Closed>,
    /// Keys in order of remembering (capture time), with the entry they stood for: an
    /// entry overwritten later is skipped when its turn to expire comes.
    order: VecDeque<(K, Closed)>,
    max: usize,
    expiry_ns: i64,
    /// Entries forgotten because the table was full (before their expiry).
    forgotten_full: u64,
}

impl<K: Hash + Eq + Clone> ClosedIsns<K> {
    pub fn new(max: usize, expiry_ns: i64) -> Self {
        ClosedIsns {
            by_key: HashMap::new(),
            order: VecDeque::new(),
            max: max.max(1),
            expiry_ns,
            forgotten_full: 0,
        }
    }

    /// Remember that the connection `key` opened by `client` (which end of the key) with
    /// `isn` was last seen at `last`.
    pub fn remember(&mut self, key: K, client: bool, isn: u32, last: Timestamp) {
        self.expire(last);
        while self.by_key.len() >= self.max {
            if !self.pop_oldest() {
                break;
            }
            self.forgotten_full += 1;
        }
        let c = Closed { last, isn, client };
        self.by_key.insert(key.clone(), c);
        self.order.push_back((key, c));
        // Overwritten entries leave stale items in `order`: keep it within twice the table.
        while self.order.len() > 2 * self.max {
            self.pop_oldest();
        }
    }

    /// Whether a SYN from `client` (which end of the key) with `isn` at `now` repeats a
    /// remembered connection.
    pub fn is_replay(&mut self, key: &K, client: bool, isn: u32, now: Timestamp) -> bool {
        self.expire(now);
        self.by_key
            .get(key)
            .is_some_and(|c| c.client == client && c.isn == isn)
    }

    /// Entries remembered now.
    pub fn len(&self) -> usize {
        self.by_key.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_key.is_empty()
    }

    /// Most remembered at once.
    pub fn max(&self) -> usize {
        self.max
    }

    /// Entries dropped before their expiry because the table was full.
    pub fn forgotten_full(&self) -> u64 {
        self.forgotten_full
    }

    fn expire(&mut self, now: Timestamp) {
        while let Some((_, c)) = self.order.front() {
            if now.0.saturating_sub(c.last.0) <= self.expiry_ns {
                break;
            }
            self.pop_oldest();
        }
    }

    /// Drop the oldest item of `order` (and its entry, unless overwritten since).
    /// Returns false when there was nothing to drop.
    fn pop_oldest(&mut self) -> bool {
        let Some((k, c)) = self.order.pop_front() else {
            return false;
        };
        if self.by_key.get(&k) == Some(&c) {
            self.by_key.remove(&k);
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The client is the key's first end ([`CLIENT_B`]: its second).
    const CLIENT_A: bool = false;
    const CLIENT_B: bool = true;
    const S: i64 = 1_000_000_000;

    #[test]
    fn same_client_and_isn_is_a_replay_another_isn_is_not() {
        let mut t = ClosedIsns::new(8, 10 * S);
        t.remember(1u32, CLIENT_A, 1000, Timestamp(0));
        assert!(t.is_replay(&1, CLIENT_A, 1000, Timestamp(5 * S)));
        assert!(!t.is_replay(&1, CLIENT_A, 1001, Timestamp(5 * S)));
        assert!(!t.is_replay(&1, CLIENT_B, 1000, Timestamp(5 * S)));
        assert!(!t.is_replay(&2, CLIENT_A, 1000, Timestamp(5 * S)));
    }

    #[test]
    fn entries_expire_in_capture_time() {
        let mut t = ClosedIsns::new(8, 10 * S);
        t.remember(1u32, CLIENT_A, 1000, Timestamp(0));
        assert!(!t.is_replay(&1, CLIENT_A, 1000, Timestamp(11 * S)));
        assert!(t.is_empty());
    }

    #[test]
    fn a_full_table_forgets_the_oldest_and_counts_it() {
        let mut t = ClosedIsns::new(2, 100 * S);
        for k in 0..3u32 {
            t.remember(k, CLIENT_A, k, Timestamp(i64::from(k)));
        }
        assert_eq!(t.len(), 2);
        assert_eq!(t.forgotten_full(), 1);
        assert!(!t.is_replay(&0, CLIENT_A, 0, Timestamp(3)));
        assert!(t.is_replay(&2, CLIENT_A, 2, Timestamp(3)));
    }

    #[test]
    fn overwriting_a_key_keeps_the_newer_entry_when_the_older_expires() {
        let mut t = ClosedIsns::new(4, 10 * S);
        t.remember(1u32, CLIENT_A, 1, Timestamp(0));
        t.remember(1u32, CLIENT_A, 2, Timestamp(8 * S));
        // The first item expires at 10 s; the key's newer entry stays.
        assert!(t.is_replay(&1, CLIENT_A, 2, Timestamp(12 * S)));
        assert!(!t.is_replay(&1, CLIENT_A, 1, Timestamp(12 * S)));
        // Stale queue items never grow past twice the table.
        for i in 0..100 {
            t.remember(1u32, CLIENT_A, i, Timestamp(12 * S));
        }
        assert!(t.order.len() <= 8);
    }
}
