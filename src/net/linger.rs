//! Finished TCP connections waiting out their minute: per connection only what its late
//! packets need (which side is the client, the client's ISN, the time of its last packet,
//! whether a replayed copy is going by), apart from the live connections, in a compact
//! table kept in order of last activity (least recently active first out at its bound).

use super::fasthash::FastState;
use super::tcp::ConnId;
use crate::capture::Timestamp;
use std::collections::{HashMap, VecDeque};
use std::hash::Hash;

/// Default of the bound on finished connections waiting out their minute
/// (`stats.limits.max_lingering_connections`). 2^19: a table of about 50 MB at most,
/// and room for the ~340,000 connections a capture of a session every 350 µs finishes
/// within a minute.
pub const MAX_LINGERING_CONNECTIONS: usize = 1 << 19;

const HAS_ISN: u8 = 1;
/// The client is the flow key's second address.
const CLIENT_B: u8 = 2;
const REPLAYED: u8 = 4;
/// The slot was left (its connection was touched again, or left the table).
const DEAD: u8 = 8;

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

    fn dead(&self) -> bool {
        self.flags & DEAD != 0
    }
}

#[derive(Debug, Clone, Copy)]
struct Slot<K> {
    key: K,
    l: Linger,
}

/// Finished connections by flow key, in order of last activity: `order` holds every
/// entry once (and the slots it left, marked dead, until they reach its front or the
/// queue is compacted); `by_key` gives an entry's position in it.
#[derive(Debug)]
pub struct LingerTable<K> {
    by_key: HashMap<K, u64, FastState>,
    order: VecDeque<Slot<K>>,
    /// Position of `order[0]` (positions are never reused).
    base: u64,
}

impl<K: Hash + Eq + Copy> Default for LingerTable<K> {
    fn default() -> Self {
        LingerTable {
            by_key: HashMap::default(),
            order: VecDeque::new(),
            base: 0,
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

    #[inline]
    fn slot(&self, pos: u64) -> &Slot<K> {
        &self.order[(pos - self.base) as usize]
    }

    #[inline]
    fn slot_mut(&mut self, pos: u64) -> &mut Slot<K> {
        &mut self.order[(pos - self.base) as usize]
    }

    /// The entry of `key`.
    #[inline]
    pub fn get(&self, key: &K) -> Option<Linger> {
        let &pos = self.by_key.get(key)?;
        Some(self.slot(pos).l)
    }

    /// Put an entry in (replacing the key's entry, if any), as the most recently active.
    pub fn insert(&mut self, key: K, l: Linger) {
        let pos = self.base + self.order.len() as u64;
        self.order.push_back(Slot { key, l });
        if let Some(old) = self.by_key.insert(key, pos) {
            self.slot_mut(old).l.flags |= DEAD;
        }
        self.tidy();
    }

    /// A packet of the connection at `ts`: its last activity is now the latest, and with
    /// `replayed` a replayed copy of it is going by. `None` when `key` has no entry.
    pub fn touch(&mut self, key: &K, ts: Timestamp, replayed: bool) -> Option<Linger> {
        let pos = *self.by_key.get(key)?;
        let back = self.base + self.order.len() as u64 - 1;
        let s = self.slot_mut(pos);
        if ts > s.l.last {
            s.l.last = ts;
        }
        if replayed {
            s.l.flags |= REPLAYED;
        }
        let l = s.l;
        if pos != back {
            // Move it to the back: the queue stays in order of activity.
            s.l.flags |= DEAD;
            let key = s.key;
            self.order.push_back(Slot { key, l });
            self.by_key.insert(key, back + 1);
            self.tidy();
        }
        Some(l)
    }

    /// Take the entry of `key` out.
    pub fn remove(&mut self, key: &K) -> Option<Linger> {
        let pos = self.by_key.remove(key)?;
        let s = self.slot_mut(pos);
        s.l.flags |= DEAD;
        let l = s.l;
        self.tidy();
        Some(l)
    }

    /// The least recently active entry, without taking it out.
    pub fn oldest(&self) -> Option<(K, Linger)> {
        self.order
            .iter()
            .find(|s| !s.l.dead())
            .map(|s| (s.key, s.l))
    }

    /// Take the least recently active entry out.
    pub fn pop_oldest(&mut self) -> Option<(K, Linger)> {
        while let Some(s) = self.order.pop_front() {
            self.base += 1;
            if !s.l.dead() {
                self.by_key.remove(&s.key);
                return Some((s.key, s.l));
            }
        }
        None
    }

    /// Every entry for which `f` is true (in order of activity).
    pub fn matching(&self, mut f: impl FnMut(&Linger) -> bool) -> Vec<(K, Linger)> {
        self.order
            .iter()
            .filter(|s| !s.l.dead() && f(&s.l))
            .map(|s| (s.key, s.l))
            .collect()
    }

    /// Forget everything.
    pub fn clear(&mut self) {
        self.base += self.order.len() as u64;
        self.order.clear();
        self.by_key.clear();
    }

    /// Drop dead slots from the front; when they still are most of the queue (entries
    /// left in its middle), rebuild it with the live ones only (amortised O(1)).
    fn tidy(&mut self) {
        while self.order.front().is_some_and(|s| s.l.dead()) {
            self.order.pop_front();
            self.base += 1;
        }
        if self.order.len() > 2 * self.by_key.len() + 64 {
            self.base += self.order.len() as u64;
            let old = std::mem::take(&mut self.order);
            for s in old.into_iter().filter(|s| !s.l.dead()) {
                let pos = self.base + self.order.len() as u64;
                self.by_key.insert(s.key, pos);
                self.order.push_back(s);
            }
            self.order.shrink_to(2 * self.order.len().max(32));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn l(id: ConnId, t: i64) -> Linger {
        Linger::new(id, Timestamp(t), Some(1000 + id as u32), id % 2 == 0, false)
    }

    #[test]
    fn an_entry_keeps_what_late_packets_need() {
        let x = Linger::new(7, Timestamp(5), Some(0), true, false);
        assert_eq!(
            (x.id, x.last, x.isn(), x.client_b(), x.replayed()),
            (7, Timestamp(5), Some(0), true, false)
        );
        let y = Linger::new(8, Timestamp(5), None, false, true);
        assert_eq!((y.isn(), y.client_b(), y.replayed()), (None, false, true));
        assert_eq!(std::mem::size_of::<Linger>(), 24);
        assert_eq!(std::mem::size_of::<Slot<[u32; 4]>>(), 40);
    }

    #[test]
    fn touched_entries_move_to_the_back_and_the_oldest_goes_first() {
        let mut t = LingerTable::<u32>::default();
        for k in 1..=3 {
            t.insert(k, l(k as u64, k as i64));
        }
        assert_eq!(t.oldest().map(|x| x.0), Some(1));
        let got = t.touch(&1, Timestamp(10), true).expect("there");
        assert_eq!((got.last, got.replayed()), (Timestamp(10), true));
        // An earlier time does not move its last packet back.
        assert_eq!(
            t.touch(&1, Timestamp(4), false).unwrap().last,
            Timestamp(10)
        );
        assert!(t.touch(&9, Timestamp(4), false).is_none());
        assert_eq!(t.pop_oldest().map(|x| x.0), Some(2));
        assert_eq!(t.remove(&3).map(|x| x.id), Some(3));
        assert_eq!(t.len(), 1);
        assert_eq!(t.pop_oldest().map(|x| x.0), Some(1));
        assert!(t.pop_oldest().is_none() && t.is_empty());
    }

    #[test]
    fn the_queue_stays_within_twice_the_table() {
        let mut t = LingerTable::<u32>::default();
        for k in 0..1000u32 {
            t.insert(k, l(u64::from(k), i64::from(k)));
        }
        // Entries left from the middle, and one touched over and over at the front.
        for k in (1..1000u32).filter(|k| k % 3 != 0) {
            t.remove(&k);
        }
        for i in 0..5000 {
            t.touch(&0, Timestamp(2000 + i), false);
            t.touch(&3, Timestamp(2000 + i), false);
        }
        assert!(t.order.len() <= 2 * t.len() + 64, "{}", t.order.len());
        let left: Vec<u32> = t.matching(|_| true).into_iter().map(|x| x.0).collect();
        assert_eq!(left.len(), t.len());
        assert_eq!(&left[left.len() - 2..], &[0, 3]);
        for k in (6..1000u32).step_by(3) {
            assert_eq!(t.get(&k).map(|x| x.id), Some(u64::from(k)));
        }
        t.insert(3, l(3, 9000));
        assert_eq!(t.get(&3).map(|x| x.last), Some(Timestamp(9000)));
        assert_eq!(t.len(), 334);
    }
}
