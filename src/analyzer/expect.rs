//! The expectation table: data-channel listeners that PORT/EPRT/PASV/EPSV announced, by
//! (zone, endpoint), with a cap per session, a cap on the whole table and an expiry in
//! capture time (Zeek's `max_expected_data_channels` and 5-minute expiry).

use crate::capture::Timestamp;
use crate::ftp::session::Setup;
use crate::net::fasthash::FastState;
use crate::net::zone::Zone;
use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;

/// Most announcements a session keeps waiting for their data connection at once; beyond
/// it its oldest one is forgotten (`stats.limits.max_expectations`, a `limit_reached`
/// finding in the session). An announcement whose listener differs from the announced
/// address (PASV behind NAT) is one expectation.
pub const MAX_EXPECTATIONS_PER_SESSION: usize = 64;
/// Most announcements waiting in the whole table; beyond it the oldest is forgotten
/// (`stats.limits.max_expectations_total`, a top-level `limit_reached` finding).
pub const MAX_EXPECTATIONS: usize = 65_536;
/// How long (capture time) an announcement waits for its data connection before it is
/// forgotten (`stats.limits.expectation_timeout`, a `limit_reached` finding in the session).
pub const EXPECTATION_TIMEOUT_NS: i64 = 300 * 1_000_000_000;

/// The table's bounds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    pub per_session: usize,
    pub total: usize,
    pub timeout_ns: i64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            per_session: MAX_EXPECTATIONS_PER_SESSION,
            total: MAX_EXPECTATIONS,
            timeout_ns: EXPECTATION_TIMEOUT_NS,
        }
    }
}

type Key = (Zone, SocketAddr);

/// One announcement: its session and setup, and the keys it answers to.
#[derive(Debug, Clone, Copy)]
struct Entry {
    seq: u64,
    session: u64,
    setup: Setup,
    keys: [Key; 2],
    /// `keys[1]` is a second key (NAT: the announced address beside the listener).
    two: bool,
    /// A data connection came to it (it then expires without a finding).
    used: bool,
    /// The session's count of data commands when it was announced: a later data
    /// command used it (from the dialogue's point of view) even when its data
    /// connection is not in the capture.
    epoch: u64,
}

/// Why an announcement was forgotten before its session ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Forgotten {
    /// Its session had [`Limits::per_session`] newer ones.
    SessionCap,
    /// The table held [`Limits::total`] newer ones.
    TableCap,
    /// Nothing connected within [`Limits::timeout_ns`].
    Expired,
}

/// Counts of announcements forgotten, by cause.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    pub session_cap: u64,
    pub table_cap: u64,
    pub expired: u64,
}

/// Announced data-channel listeners → (session, setup).
#[derive(Debug, Default)]
pub struct Expectations {
    limits: Limits,
    /// Key → sequence number of the live entry it belongs to.
    keys: HashMap<Key, u64, FastState>,
    /// Live entries by sequence number, oldest first (a sequence number is the entry's
    /// announcement order, so the front is the oldest: the one to expire or evict).
    entries: std::collections::BTreeMap<u64, Entry>,
    /// Live entries of each session, oldest first (at most `limits.per_session`).
    by_session: HashMap<u64, VecDeque<u64>, FastState>,
    next: u64,
    counts: Counts,
}

impl Expectations {
    pub fn new(limits: Limits) -> Self {
        Expectations {
            limits: Limits {
                per_session: limits.per_session.max(1),
                total: limits.total.max(1),
                timeout_ns: limits.timeout_ns.max(0),
            },
            ..Expectations::default()
        }
    }

    pub fn limits(&self) -> Limits {
        self.limits
    }

    /// What was forgotten so far, by cause.
    pub fn counts(&self) -> Counts {
        self.counts
    }

    /// Live announcements.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The session and setup expecting a connection to `listener` in `zone`.
    pub fn get(&self, zone: Zone, listener: SocketAddr) -> Option<(u64, Setup)> {
        let seq = self.keys.get(&(zone, listener))?;
        self.entries.get(seq).map(|e| (e.session, e.setup))
    }

    /// Session `session` announced `setup` (at `setup.ts`): a connection to its listener,
    /// or to the announced address, is its data connection. A key announced before (by
    /// this session or another) now answers to this announcement. Beyond a cap the oldest
    /// goes; returns those of them no data connection had come to: (session, cause) for
    /// each (one a connection came to, or that a data command of its session came after,
    /// goes quietly: a client that uses each PASV in turn never hits the cap).
    /// `epoch`: the session's count of data commands so far.
    pub fn announce(
        &mut self,
        zone: Zone,
        session: u64,
        setup: Setup,
        epoch: u64,
    ) -> Vec<(u64, Forgotten)> {
        let mut forgotten = Vec::new();
        let first = (zone, setup.listener);
        let second = (zone, setup.announced);
        let two = second != first;
        // Keys taken over from older entries: those entries lose them.
        for k in [Some(first), two.then_some(second)].into_iter().flatten() {
            if let Some(old) = self.keys.get(&k).copied() {
                self.release_key(old, k);
            }
        }
        let seq = self.next;
        self.next += 1;
        self.entries.insert(
            seq,
            Entry {
                seq,
                session,
                setup,
                keys: [first, second],
                two,
                used: false,
                epoch,
            },
        );
        self.keys.insert(first, seq);
        if two {
            self.keys.insert(second, seq);
        }
        let q = self.by_session.entry(session).or_default();
        q.push_back(seq);
        if q.len() > self.limits.per_session {
            if let Some(old) = q.pop_front() {
                // One a data command came after was spent: it goes quietly.
                if self
                    .remove_entry(old, false)
                    .is_some_and(|e| !e.used && e.epoch >= epoch)
                {
                    self.counts.session_cap += 1;
                    forgotten.push((session, Forgotten::SessionCap));
                }
            }
        }
        while self.entries.len() > self.limits.total {
            let Some((&old, _)) = self.entries.first_key_value() else {
                break;
            };
            if let Some(e) = self.remove_entry(old, true).filter(|e| !e.used) {
                self.counts.table_cap += 1;
                forgotten.push((e.session, Forgotten::TableCap));
            }
        }
        forgotten
    }

    /// A data connection came to the announcement that `listener` answers to.
    pub fn used(&mut self, zone: Zone, listener: SocketAddr) {
        if let Some(e) = self
            .keys
            .get(&(zone, listener))
            .and_then(|seq| self.entries.get_mut(seq))
        {
            e.used = true;
        }
    }

    /// Forget announcements older than the timeout at `now`; returns the sessions and
    /// setups of those nothing used (counted as expired): no data connection came to
    /// them and their session sent no data command after them (`epoch_of`: a session's
    /// count of data commands now). One compare when none is due.
    pub fn expire(&mut self, now: Timestamp, epoch_of: impl Fn(u64) -> u64) -> Vec<(u64, Setup)> {
        let mut out = Vec::new();
        while let Some((&seq, e)) = self.entries.first_key_value() {
            if now.0.saturating_sub(e.setup.ts.0) <= self.limits.timeout_ns {
                break;
            }
            if !e.used && epoch_of(e.session) <= e.epoch {
                out.push((e.session, e.setup));
                self.counts.expired += 1;
            }
            self.remove_entry(seq, true);
        }
        out
    }

    /// When the oldest live announcement expires (None: the table is empty). Entries
    /// are kept in announcement order, and setups' times only grow within a capture, so
    /// this is the next expiry; a capture whose times go back merely expires late.
    pub fn next_expiry(&self) -> Option<Timestamp> {
        self.entries
            .first_key_value()
            .map(|(_, e)| Timestamp(e.setup.ts.0.saturating_add(self.limits.timeout_ns)))
    }

    /// A session ended: forget its announcements (in time proportional to their number).
    pub fn end_session(&mut self, session: u64) {
        if let Some(q) = self.by_session.remove(&session) {
            for seq in q {
                self.remove_entry(seq, false);
            }
        }
    }

    /// Drop entry `seq` and its keys; `from_session`: also take it out of its session's list.
    fn remove_entry(&mut self, seq: u64, from_session: bool) -> Option<Entry> {
        let e = self.entries.remove(&seq)?;
        for k in &e.keys[..1 + usize::from(e.two)] {
            if self.keys.get(k) == Some(&seq) {
                self.keys.remove(k);
            }
        }
        if from_session {
            if let Some(q) = self.by_session.get_mut(&e.session) {
                // At most `per_session` entries: bounded work.
                q.retain(|&s| s != seq);
                if q.is_empty() {
                    self.by_session.remove(&e.session);
                }
            }
        }
        debug_assert_eq!(e.seq, seq);
        Some(e)
    }

    /// A newer announcement took key `k` from entry `seq`: the entry goes when it has no
    /// key left.
    fn release_key(&mut self, seq: u64, k: Key) {
        self.keys.remove(&k);
        let Some(e) = self.entries.get(&seq) else {
            return;
        };
        let left = e.keys[..1 + usize::from(e.two)]
            .iter()
            .any(|x| self.keys.get(x) == Some(&seq));
        if !left {
            self.remove_entry(seq, true);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Mode;

    const S: i64 = 1_000_000_000;

    fn addr(p: u16) -> SocketAddr {
        SocketAddr::from(([10, 0, 0, 2], p))
    }

    fn setup(port: u16, t: i64) -> Setup {
        Setup {
            kind: crate::model::SetupKind::Pasv,
            mode: Mode::Passive,
            announced: addr(port),
            listener: addr(port),
            ts: Timestamp(t * S),
        }
    }

    fn nat(port: u16, t: i64) -> Setup {
        Setup {
            announced: SocketAddr::from(([192, 168, 1, 1], port)),
            ..setup(port, t)
        }
    }

    fn limits(per_session: usize, total: usize) -> Limits {
        Limits {
            per_session,
            total,
            timeout_ns: 300 * S,
        }
    }

    const Z: Zone = Zone(0);

    #[test]
    fn announced_listeners_are_found_by_either_address() {
        let mut e = Expectations::new(Limits::default());
        assert!(e.announce(Z, 1, nat(5000, 0), 0).is_empty());
        assert_eq!(e.get(Z, addr(5000)).map(|x| x.0), Some(1));
        let announced = SocketAddr::from(([192, 168, 1, 1], 5000));
        assert_eq!(e.get(Z, announced).map(|x| x.0), Some(1));
        assert_eq!(e.get(Zone(7), addr(5000)), None);
        assert_eq!(e.len(), 1);
    }

    #[test]
    fn a_session_keeps_at_most_its_cap_the_oldest_goes() {
        let mut e = Expectations::new(limits(3, 100));
        for p in 0..3 {
            assert!(e.announce(Z, 1, setup(5000 + p, 0), 0).is_empty());
        }
        assert_eq!(
            e.announce(Z, 1, setup(5003, 1), 0),
            vec![(1, Forgotten::SessionCap)]
        );
        assert_eq!(e.get(Z, addr(5000)), None);
        assert!(e.get(Z, addr(5003)).is_some());
        assert_eq!(e.len(), 3);
        // Another session is not affected by the first one's cap.
        assert!(e.announce(Z, 2, setup(6000, 1), 0).is_empty());
        // One a data connection came to goes quietly.
        e.used(Z, addr(5001));
        assert!(e.announce(Z, 1, setup(5004, 2), 0).is_empty());
        assert_eq!(e.get(Z, addr(5001)), None);
        // So does one a data command of the session came after (its data connection
        // not in the capture).
        assert!(e.announce(Z, 1, setup(5005, 2), 1).is_empty());
        assert_eq!(e.counts().session_cap, 1);
        assert_eq!(
            e.counts(),
            Counts {
                session_cap: 1,
                ..Counts::default()
            }
        );
    }

    #[test]
    fn the_table_keeps_at_most_its_cap_the_oldest_goes() {
        let mut e = Expectations::new(limits(10, 2));
        assert!(e.announce(Z, 1, setup(5000, 0), 0).is_empty());
        assert!(e.announce(Z, 2, setup(5001, 0), 0).is_empty());
        assert_eq!(
            e.announce(Z, 3, setup(5002, 0), 0),
            vec![(1, Forgotten::TableCap)]
        );
        assert_eq!(e.get(Z, addr(5000)), None);
        assert_eq!(e.len(), 2);
        assert_eq!(e.counts().table_cap, 1);
        // Session 1's list no longer holds the evicted entry.
        e.end_session(1);
        assert_eq!(e.len(), 2);
    }

    #[test]
    fn announcements_expire_after_the_timeout_in_capture_time() {
        let mut e = Expectations::new(limits(10, 10));
        e.announce(Z, 1, setup(5000, 0), 0);
        e.announce(Z, 1, setup(5001, 100), 0);
        assert_eq!(e.next_expiry(), Some(Timestamp(300 * S)));
        assert!(e.expire(Timestamp(300 * S), |_| 0).is_empty());
        let gone = e.expire(Timestamp(300 * S + 1), |_| 0);
        assert_eq!(gone.len(), 1);
        assert_eq!(gone[0].0, 1);
        assert_eq!(gone[0].1.listener, addr(5000));
        assert_eq!(e.get(Z, addr(5000)), None);
        assert!(e.get(Z, addr(5001)).is_some());
        assert_eq!(e.counts().expired, 1);
        assert_eq!(e.next_expiry(), Some(Timestamp(400 * S)));
        // One a data connection came to goes quietly.
        e.used(Z, addr(5001));
        assert!(e.expire(Timestamp(401 * S), |_| 0).is_empty());
        assert!(e.is_empty());
        assert_eq!(e.counts().expired, 1);
        // So does one its session sent a data command after.
        e.announce(Z, 1, setup(5002, 500), 0);
        assert!(e.expire(Timestamp(801 * S), |_| 1).is_empty());
        assert!(e.is_empty());
        assert_eq!(e.counts().expired, 1);
    }

    #[test]
    fn reannouncing_a_port_refreshes_it_and_takes_it_over() {
        let mut e = Expectations::new(limits(2, 10));
        e.announce(Z, 1, setup(5000, 0), 0);
        // The same port again, later: one entry, with the new time.
        e.announce(Z, 1, setup(5000, 200), 0);
        assert_eq!(e.len(), 1);
        assert!(e.expire(Timestamp(301 * S), |_| 0).is_empty());
        // Another session announcing the same port takes it.
        e.announce(Z, 2, setup(5000, 250), 0);
        assert_eq!(e.get(Z, addr(5000)).map(|x| x.0), Some(2));
        assert_eq!(e.len(), 1);
        // Session 1 ending does not take session 2's key with it.
        e.end_session(1);
        assert_eq!(e.get(Z, addr(5000)).map(|x| x.0), Some(2));
        // Re-announcing never counts as hitting the cap.
        for _ in 0..10 {
            e.announce(Z, 2, setup(5000, 260), 0);
        }
        assert_eq!(e.counts(), Counts::default());
    }

    #[test]
    fn a_nat_entry_lives_while_either_key_does() {
        let mut e = Expectations::new(limits(10, 10));
        e.announce(Z, 1, nat(5000, 0), 0);
        // Another announcement takes the listener key; the announced one still ties.
        e.announce(Z, 2, setup(5000, 1), 0);
        let announced = SocketAddr::from(([192, 168, 1, 1], 5000));
        assert_eq!(e.get(Z, announced).map(|x| x.0), Some(1));
        assert_eq!(e.len(), 2);
        e.end_session(1);
        assert_eq!(e.get(Z, announced), None);
        assert_eq!(e.len(), 1);
    }

    #[test]
    fn ending_a_session_forgets_only_its_own() {
        let mut e = Expectations::new(Limits::default());
        for p in 0..50 {
            e.announce(Z, 1, setup(5000 + p, 0), 0);
            e.announce(Z, 2, setup(6000 + p, 0), 0);
        }
        e.end_session(1);
        assert_eq!(e.len(), 50);
        assert_eq!(e.get(Z, addr(5000)), None);
        assert!(e.get(Z, addr(6049)).is_some());
        e.end_session(2);
        assert!(e.is_empty());
        assert_eq!(e.next_expiry(), None);
    }
}
