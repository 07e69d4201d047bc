//! Session ids: reserved at a connection's first packet on an FTP port, confirmed when it
//! carries FTP bytes, given up when it turns out to be a probe. The sessions that remain
//! get final ids 1..n in reservation order, settled as soon as every older reservation is
//! decided, so that a session written as it ends (JSONL) has the id the whole report
//! gives it.

use std::collections::HashMap;

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
}
