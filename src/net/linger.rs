//! Finished TCP connections waiting out their minute: per connection only what its late
//! packets need (which side is the client, the client's ISN, the time of its last packet,
//! whether a replayed copy is going by), apart from the live connections, in a compact
//! table (40 bytes an entry for an IPv4 flow).

use super::fasthash::FastState;
use super::tcp::ConnId;
use crate::capture::Timestamp;
use std::collections::HashMap;
use std::hash::Hash;

/// Default of the bound on finished connections waiting out their minute
/// (`stats.limits.max_lingering_connections`). Finished connections are checked every
/// 5 s of capture time, so one waits 60 to 65 s: 2^20 is room for ~16,000 connections
/// finishing a second (a capture of a session every 350 µs finishes ~5,700), in about
/// 40 MB (80 MB at most).
pub const MAX_LINGERING_CONNECTIONS: usize = 1 << 20;

const HAS_ISN: u8 = 1;
/// The client is the flow key's second address.
const CLIENT_B: u8 = 2;
const REPLAYED: u8 = 4;

/// What is kept of a finished connection (24 bytes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Linger {
    /// The connection's id (0 for the stand-in of a replayed copy): the order in which
    /// the sweep lets connections go.
    pub id: ConnId,
    /// Its last packet (a lower bound of its end in capture time, like a live one's).
    pub last: Timestamp,
    isn: u32,
    flags: u8,
}

impl Linger {
    /// `client_b`: the client is the flow key's second address.
    pub fn new(
        id: ConnId,
        last: Timestamp,
        isn: Option<u32>,
        client_b: bool,
        replayed: bool,
    ) -> Self {
        let flags = if isn.is_some() { HAS_ISN } else { 0 }
            | if client_b { CLIENT_B } else { 0 }
            | if replayed { REPLAYED } else { 0 };
        Linger {
            id,
            last,
            isn: isn.unwrap_or(0),
            flags,
        }
    }

    /// The client's ISN, when its SYN was seen.
    pub fn isn(&self) -> Option<u32> {
        (self.flags & HAS_ISN != 0).then_some(self.isn)
    }

    /// The client is the flow key's second address.
    pub fn client_b(&self) -> bool {
        self.flags & CLIENT_B != 0
    }

    /// A replayed copy of the connection is going by: its segments are duplicates.
    pub fn replayed(&self) -> bool {
        self.flags & REPLAYED != 0
    }

    /// The order in which entries go at the bound: least recently active first.
    pub fn age_key(&self) -> (Timestamp, ConnId) {
        (self.last, self.id)
    }
}

/// Finished connections by flow key. Nothing else is kept per entry: the sweep and the
/// bound go over the table (once a minute of capture time, and an eighth of it at a
/// time), which costs less than a queue in order of activity would in memory.
#[derive(Debug)]
pub struct LingerTable<K> {
    by_key: HashMap<K, Linger, FastState>,
}

impl<K> Default for LingerTable<K> {
    fn default() -> Self {
        LingerTable {
            by_key: HashMap::default(),
        }
    }
}

impl<K: Hash + Eq + Copy> LingerTable<K> {
    /// Entries now.
    pub fn len(&self) -> usize {
        self.by_key.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_key.is_empty()
    }

    /// The entry of `key`.
    #[inline]
    pub fn get(&self, key: &K) -> Option<Linger> {
        self.by_key.get(key).copied()
    }

    /// Put an entry in (replacing the key's entry, if any).
    pub fn insert(&mut self, key: K, l: Linger) {
        self.by_key.insert(key, l);
    }

    /// A packet of the connection at `ts`: its last activity is the latest of the two,
    /// and with `replayed` a replayed copy of it is going by. `None` when `key` has no
    /// entry.
    #[inline]
    pub fn touch(&mut self, key: &K, ts: Timestamp, replayed: bool) -> Option<Linger> {
        let l = self.by_key.get_mut(key)?;
        if ts > l.last {
            l.last = ts;
        }
        if replayed {
            l.flags |= REPLAYED;
        }
        Some(*l)
    }

    /// Take the entry of `key` out.
    pub fn remove(&mut self, key: &K) -> Option<Linger> {
        self.by_key.remove(key)
    }

    /// Take out every entry for which `f` is true (in no particular order).
    pub fn take_where(&mut self, mut f: impl FnMut(&Linger) -> bool) -> Vec<(K, Linger)> {
        // Counted first: the sweep takes out up to half the table at once.
        let n = self.by_key.values().filter(|l| f(l)).count();
        if n == 0 {
            return Vec::new();
        }
        let mut out = Vec::with_capacity(n);
        self.by_key.retain(|k, l| {
            if f(l) {
                out.push((*k, *l));
                false
            } else {
                true
            }
        });
        out
    }

    /// Every entry's [`Linger::age_key`].
    pub fn age_keys(&self) -> impl Iterator<Item = (Timestamp, ConnId)> + '_ {
        self.by_key.values().map(Linger::age_key)
    }

    /// Forget everything.
    pub fn clear(&mut self) {
        self.by_key.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_entry_keeps_what_late_packets_need_in_24_bytes() {
        let x = Linger::new(7, Timestamp(5), Some(0), true, false);
        assert_eq!(
            (x.id, x.last, x.isn(), x.client_b(), x.replayed()),
            (7, Timestamp(5), Some(0), true, false)
        );
        let y = Linger::new(8, Timestamp(5), None, false, true);
        assert_eq!((y.isn(), y.client_b(), y.replayed()), (None, false, true));
        assert_eq!(std::mem::size_of::<Linger>(), 24);
        assert_eq!(std::mem::size_of::<([u32; 4], Linger)>(), 40);
    }

    #[test]
    fn touch_keeps_the_latest_time_and_marks_a_replay() {
        let mut t = LingerTable::<u32>::default();
        t.insert(1, Linger::new(1, Timestamp(10), Some(5), false, false));
        let got = t.touch(&1, Timestamp(20), false).expect("there");
        assert_eq!((got.last, got.replayed()), (Timestamp(20), false));
        let got = t.touch(&1, Timestamp(15), true).expect("there");
        assert_eq!((got.last, got.replayed()), (Timestamp(20), true));
        assert_eq!(t.get(&1), Some(got));
        assert!(t.touch(&2, Timestamp(15), true).is_none());
        assert!(t.get(&2).is_none());
    }

    #[test]
    fn take_where_takes_exactly_the_matching_entries() {
        let mut t = LingerTable::<u32>::default();
        for k in 0..100u32 {
            t.insert(
                k,
                Linger::new(u64::from(k), Timestamp(i64::from(k)), None, false, false),
            );
        }
        let mut gone: Vec<u32> = t
            .take_where(|l| l.last < Timestamp(30))
            .into_iter()
            .map(|(k, _)| k)
            .collect();
        gone.sort_unstable();
        assert_eq!(gone, (0..30).collect::<Vec<_>>());
        assert_eq!(t.len(), 70);
        assert_eq!(t.age_keys().min(), Some((Timestamp(30), 30)));
        assert_eq!(t.remove(&30).map(|l| l.id), Some(30));
        t.clear();
        assert!(t.is_empty());
    }
}
