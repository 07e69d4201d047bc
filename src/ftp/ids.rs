//! Session ids: reserved at a connection's first packet on an FTP port, confirmed when it
//! carries FTP bytes, given up when it turns out to be a probe. The sessions that remain
//! get final ids 1..n in reservation order, settled as soon as every older reservation is
//! decided, so that a session written as it ends (JSONL) has the id the whole report
//! gives it.

use std::collections::{BTreeMap, HashMap};

/// Most decisions kept waiting behind the oldest undecided reservation (a scan going by
/// while one connection stays undecided); beyond it that reservation is given up early.
pub const MAX_DECIDED_AHEAD: usize = 65_536;

/// The book of session ids.
#[derive(Debug)]
pub struct IdBook {
    next: u64,
    /// Oldest reservation not settled yet: everything below it has its final id (or none).
    cursor: u64,
    /// Next final id to hand out.
    next_final: u64,
    /// Decisions at or above `cursor`: true for a session, false for a given-up id.
    decided: HashMap<u64, bool>,
    /// Final ids of settled sessions, until [`IdBook::forget`].
    finals: HashMap<u64, u64>,
    /// Reservations given up early because a bound was hit.
    forced: u64,
}

impl Default for IdBook {
    fn default() -> Self {
        IdBook {
            next: 1,
            cursor: 1,
            next_final: 1,
            decided: HashMap::new(),
            finals: HashMap::new(),
            forced: 0,
        }
    }
}

impl IdBook {
    /// An id for a connection not yet known to be FTP.
    pub fn reserve(&mut self) -> u64 {
        let id = self.next;
        self.next += 1;
        id
    }

    /// An id for a session recognised now (no reservation).
    pub fn take(&mut self) -> u64 {
        let id = self.reserve();
        self.decide(id, true);
        id
    }

    /// Whether `id` is reserved and neither confirmed nor given up.
    pub fn is_undecided(&self, id: u64) -> bool {
        id >= self.cursor && id < self.next && !self.decided.contains_key(&id)
    }

    /// The reservation became a session.
    pub fn confirm(&mut self, id: u64) {
        self.decide(id, true);
    }

    /// The reservation was not a session: its id is given up.
    pub fn give_up(&mut self, id: u64) {
        self.decide(id, false);
    }

    /// The final id of session `id`, once every older reservation is decided.
    pub fn final_id(&self, id: u64) -> Option<u64> {
        self.finals.get(&id).copied()
    }

    /// Session `id` was written out: its final id is no longer needed.
    pub fn forget(&mut self, id: u64) {
        self.finals.remove(&id);
    }

    /// Give up the oldest undecided reservation (a bound was hit); returns it.
    pub fn force_oldest(&mut self) -> Option<u64> {
        let id = self.cursor;
        if !self.is_undecided(id) {
            return None;
        }
        self.forced += 1;
        self.give_up(id);
        Some(id)
    }

    /// Reservations given up early because a bound was hit.
    pub fn forced(&self) -> u64 {
        self.forced
    }

    fn decide(&mut self, id: u64, session: bool) {
        if !self.is_undecided(id) {
            return;
        }
        self.decided.insert(id, session);
        while let Some(s) = self.decided.remove(&self.cursor) {
            if s {
                self.finals.insert(self.cursor, self.next_final);
                self.next_final += 1;
            }
            self.cursor += 1;
        }
        if self.decided.len() > MAX_DECIDED_AHEAD {
            self.force_oldest();
        }
    }
}

/// The final id of every written session by its reserved id, kept as runs: a run starts
/// at a reserved id and gives the ids from there to the next run's start the same offset.
/// Final ids follow reservation order, so a run ends only where a reservation was given up
/// (a probe) between two sessions: a capture without probes needs one entry, whatever the
/// number of sessions (a map of every session took ~35 MB at a million). Asking for an id
/// never settled as a session answers for its run: callers ask only for sessions' ids.
#[derive(Debug, Default)]
pub struct FinalIds {
    runs: BTreeMap<u64, i64>,
    /// The largest reserved id written.
    last: u64,
}

impl FinalIds {
    /// Session `reserved` was written with id `fin`.
    pub fn insert(&mut self, reserved: u64, fin: u64) {
        let off = fin as i64 - reserved as i64;
        let had = self.offset(reserved);
        let last = self.last;
        self.last = self.last.max(reserved);
        if had == Some(off) {
            return;
        }
        // Ids already written after this one keep the offset their run had.
        if let Some(next) = reserved.checked_add(1).filter(|&n| n <= last) {
            if let (Some(h), false) = (had, self.runs.contains_key(&next)) {
                self.runs.insert(next, h);
            }
            if self.runs.get(&next) == Some(&off) {
                self.runs.remove(&next);
            }
        }
        let before = self.runs.range(..reserved).next_back().map(|(_, &o)| o);
        if before == Some(off) {
            self.runs.remove(&reserved);
        } else {
            self.runs.insert(reserved, off);
        }
    }

    fn offset(&self, reserved: u64) -> Option<i64> {
        self.runs.range(..=reserved).next_back().map(|(_, &o)| o)
    }

    /// The final id of session `reserved` (see the type's note).
    pub fn get(&self, reserved: u64) -> Option<u64> {
        self.offset(reserved).map(|o| (reserved as i64 + o) as u64)
    }

    /// Runs kept (one for a capture without probes).
    pub fn runs(&self) -> usize {
        self.runs.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn given_up_ids_close_the_numbering() {
        let mut b = IdBook::default();
        let (a, p, c) = (b.reserve(), b.reserve(), b.reserve());
        b.confirm(a);
        b.give_up(p);
        b.confirm(c);
        assert_eq!(b.final_id(a), Some(1));
        assert_eq!(b.final_id(c), Some(2));
        let d = b.take();
        assert_eq!(b.final_id(d), Some(3));
    }

    #[test]
    fn a_session_waits_for_an_older_undecided_reservation() {
        let mut b = IdBook::default();
        let (old, probe, s) = (b.reserve(), b.reserve(), b.reserve());
        b.give_up(probe);
        b.confirm(s);
        assert_eq!(b.final_id(s), None, "the oldest may still become a session");
        b.give_up(old);
        assert_eq!(b.final_id(s), Some(1));
    }

    #[test]
    fn an_older_session_counts_when_confirmed_later() {
        let mut b = IdBook::default();
        let (old, probe, s) = (b.reserve(), b.reserve(), b.reserve());
        b.give_up(probe);
        b.confirm(s);
        b.confirm(old);
        assert_eq!(b.final_id(old), Some(1));
        assert_eq!(b.final_id(s), Some(2));
        // Later probes change nothing already settled.
        let p2 = b.reserve();
        b.give_up(p2);
        assert_eq!(b.final_id(old), Some(1));
    }

    #[test]
    fn forcing_the_oldest_releases_the_rest() {
        let mut b = IdBook::default();
        let (old, s) = (b.reserve(), b.reserve());
        b.confirm(s);
        assert_eq!(b.force_oldest(), Some(old));
        assert_eq!(b.final_id(s), Some(1));
        assert_eq!(b.forced(), 1);
        assert!(!b.is_undecided(old));
        // A late confirmation of a given-up id changes nothing.
        b.confirm(old);
        assert_eq!(b.final_id(old), None);
    }

    #[test]
    fn decisions_behind_an_undecided_reservation_are_bounded() {
        let mut b = IdBook::default();
        let old = b.reserve();
        for _ in 0..=MAX_DECIDED_AHEAD {
            let p = b.reserve();
            b.give_up(p);
        }
        assert!(!b.is_undecided(old));
        assert!(b.decided.is_empty());
        assert_eq!(b.forced(), 1);
    }

    #[test]
    fn final_ids_are_runs() {
        let mut f = FinalIds::default();
        // Sessions 1..=1000 keep their ids: one run.
        for id in 1..=1000 {
            f.insert(id, id);
        }
        assert_eq!(f.runs(), 1);
        assert_eq!(f.get(1), Some(1));
        assert_eq!(f.get(1000), Some(1000));
        // Reservations 1001..=1003 were probes: 1004.. are sessions 1001...
        for id in 1004..=2000 {
            f.insert(id, id - 3);
        }
        assert_eq!(f.runs(), 2);
        assert_eq!(f.get(1000), Some(1000));
        assert_eq!(f.get(1004), Some(1001));
        assert_eq!(f.get(2000), Some(1997));
        // Out of order (a split run numbers by key): each insert adds at most two runs and
        // leaves every other answer as it was.
        let mut g = FinalIds::default();
        let pairs = [
            (50u64, 7u64),
            (10, 3),
            (11, 4),
            (60, 8),
            (30, 5),
            (12, 5),
            (31, 6),
        ];
        for (i, &(r, fin)) in pairs.iter().enumerate() {
            g.insert(r, fin);
            for &(r2, f2) in &pairs[..=i] {
                assert_eq!(g.get(r2), Some(f2), "after {i}: {r2}");
            }
        }
        assert!(g.runs() <= 2 * pairs.len());
        assert_eq!(FinalIds::default().get(5), None);
    }

    proptest::proptest! {
        /// Any order of writes: every id written answers its final id, and a run of
        /// sessions written in order with no probe between them costs one entry.
        #[test]
        fn final_ids_answer_every_written_id(
            ids in proptest::collection::hash_set(1u64..400, 1..120),
            shuffle in proptest::collection::vec(proptest::prelude::any::<u32>(), 120),
        ) {
            let mut ids: Vec<u64> = ids.into_iter().collect();
            ids.sort_unstable();
            // Final ids 1..n in reserved order (given-up ids between them are skipped)...
            let pairs: Vec<(u64, u64)> = ids.iter().enumerate().map(|(i, &r)| (r, i as u64 + 1)).collect();
            // ... written in order, or shuffled (as a split run may).
            let mut order = pairs.clone();
            for (i, k) in shuffle.iter().enumerate().take(order.len()) {
                let j = *k as usize % order.len();
                order.swap(i, j);
            }
            for seq in [&pairs, &order] {
                let mut f = FinalIds::default();
                for (i, &(r, fin)) in seq.iter().enumerate() {
                    f.insert(r, fin);
                    for &(r2, f2) in &seq[..=i] {
                        proptest::prop_assert_eq!(f.get(r2), Some(f2));
                    }
                }
            }
            let mut f = FinalIds::default();
            for &(r, fin) in &pairs {
                f.insert(r, fin);
            }
            let gaps = pairs.windows(2).filter(|w| w[1].0 != w[0].0 + 1).count();
            proptest::prop_assert!(f.runs() <= 1 + gaps);
        }
    }
}
