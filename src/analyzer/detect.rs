//! Cross-session detection: failed logins tallied per (client, server) host pair, with a
//! cap on the pairs tracked and an expiry in capture time, making `login_bruteforce`
//! findings that stand once at top level with the sessions they involve.

use crate::capture::Timestamp;
use crate::net::fasthash::FastState;
use std::collections::{BTreeMap, HashMap};
use std::net::IpAddr;

/// Failed logins from one client to one server that make a brute-force finding.
pub const BRUTEFORCE_FAILURES: u32 = 5;
/// Most (client, server) pairs whose failed logins are tallied at once; beyond it the
/// least recently seen pair is forgotten (`stats.limits.max_failure_pairs`, a top-level
/// `limit_reached` finding).
pub const MAX_FAILURE_PAIRS: usize = 65_536;
/// How long (capture time) a pair's tally is kept after its last failed login; a pair
/// quiet for longer starts again from zero (as Zeek's `guessing_timeout`).
pub const FAILURE_TIMEOUT_NS: i64 = 30 * 60 * 1_000_000_000;

/// The tally's bounds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    pub pairs: usize,
    pub timeout_ns: i64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            pairs: MAX_FAILURE_PAIRS,
            timeout_ns: FAILURE_TIMEOUT_NS,
        }
    }
}

type Pair = (IpAddr, IpAddr);

/// One pair's failed logins.
#[derive(Debug)]
struct Tally {
    failures: u32,
    /// Sessions with failures before the finding was made (fewer than
    /// [`BRUTEFORCE_FAILURES`]); once it is, the finding holds them.
    sessions: Vec<u64>,
    /// The last session counted (a session is counted once).
    last_session: u64,
    /// Index of the pair's `login_bruteforce` finding among the top-level findings.
    finding: Option<usize>,
    /// Key of this pair in `Detector::order`.
    at: (Timestamp, u64),
    /// Sequence number the tally was started with (a pair tallied again after it expired
    /// or was evicted is another tally).
    gen: u64,
}

/// Which tally a session's failed logins went into: its pair and the tally's generation
/// (see [`Detector::tally_of`], [`Detector::last_failure`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TallyRef {
    pub client: IpAddr,
    pub server: IpAddr,
    pub gen: u64,
}

/// What the caller does with the top-level findings after a session's failures counted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Finding {
    /// Push a new `login_bruteforce` finding (it gets the index passed to
    /// [`Detector::failed_logins`]) with this detail and these sessions.
    New { detail: String, sessions: Vec<u64> },
    /// Finding `index` now says `detail`; `add`: a session to append to its list.
    Update {
        index: usize,
        detail: String,
        add: Option<u64>,
    },
}

/// Failed logins per (client ip, server ip).
#[derive(Debug, Default)]
pub struct Detector {
    limits: Limits,
    pairs: HashMap<Pair, Tally, FastState>,
    /// Pairs by (last failure, sequence), oldest first: the next to expire or evict.
    order: BTreeMap<(Timestamp, u64), Pair>,
    next: u64,
    evicted: u64,
}

impl Detector {
    pub fn new(limits: Limits) -> Self {
        Detector {
            limits: Limits {
                pairs: limits.pairs.max(1),
                timeout_ns: limits.timeout_ns.max(0),
            },
            ..Detector::default()
        }
    }

    pub fn limits(&self) -> Limits {
        self.limits
    }

    /// Pairs forgotten at the cap so far.
    pub fn evicted(&self) -> u64 {
        self.evicted
    }

    /// Pairs tallied now.
    pub fn len(&self) -> usize {
        self.pairs.len()
    }

    pub fn is_empty(&self) -> bool {
        self.pairs.is_empty()
    }

    /// Session `session` from `client` to `server` ended at `ts` with `n` failed logins.
    /// `next_index` is the index a new top-level finding would get. O(log pairs).
    pub fn failed_logins(
        &mut self,
        ts: Timestamp,
        client: IpAddr,
        server: IpAddr,
        session: u64,
        n: u32,
        next_index: usize,
    ) -> Option<Finding> {
        if n == 0 {
            return None;
        }
        self.expire(ts);
        let key = (client, server);
        if !self.pairs.contains_key(&key) {
            while self.pairs.len() >= self.limits.pairs {
                let Some((_, old)) = self.order.pop_first() else {
                    break;
                };
                self.pairs.remove(&old);
                self.evicted += 1;
            }
        }
        let seq = self.next;
        self.next += 1;
        let at = (ts.max(self.latest()), seq);
        let t = self.pairs.entry(key).or_insert_with(|| Tally {
            failures: 0,
            sessions: Vec::new(),
            last_session: session,
            finding: None,
            at,
            gen: seq,
        });
        self.order.remove(&t.at);
        t.at = at;
        self.order.insert(at, key);
        let new_session = t.failures == 0 || t.last_session != session;
        t.failures = t.failures.saturating_add(n);
        t.last_session = session;
        let detail = format!("{} failed logins from {client} to {server}", t.failures);
        match t.finding {
            Some(index) => Some(Finding::Update {
                index,
                detail,
                add: new_session.then_some(session),
            }),
            None => {
                if new_session {
                    t.sessions.push(session);
                }
                if t.failures < BRUTEFORCE_FAILURES {
                    return None;
                }
                t.finding = Some(next_index);
                Some(Finding::New {
                    detail,
                    sessions: std::mem::take(&mut t.sessions),
                })
            }
        }
    }

    /// The tally failed logins from `client` to `server` go into now, if there is one.
    pub fn tally_of(&self, client: IpAddr, server: IpAddr) -> Option<TallyRef> {
        self.pairs.get(&(client, server)).map(|t| TallyRef {
            client,
            server,
            gen: t.gen,
        })
    }

    /// The time of the last failed login counted in tally `r` (the time its expiry counts
    /// from), or `None` when that tally is gone (expired, evicted): then no later failed
    /// login can change its finding.
    pub fn last_failure(&self, r: TallyRef) -> Option<Timestamp> {
        self.pairs
            .get(&(r.client, r.server))
            .filter(|t| t.gen == r.gen)
            .map(|t| t.at.0)
    }

    /// The latest time in the order (a capture whose times go back keeps its order).
    fn latest(&self) -> Timestamp {
        self.order
            .last_key_value()
            .map(|(&(t, _), _)| t)
            .unwrap_or(Timestamp(i64::MIN))
    }

    /// Forget pairs whose last failure is older than the timeout at `now`.
    fn expire(&mut self, now: Timestamp) {
        while let Some((&(t, seq), &pair)) = self.order.first_key_value() {
            if now.0.saturating_sub(t.0) <= self.limits.timeout_ns {
                break;
            }
            self.order.remove(&(t, seq));
            self.pairs.remove(&pair);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: i64 = 1_000_000_000;

    fn ip(last: u8) -> IpAddr {
        IpAddr::from([10, 0, 0, last])
    }

    #[test]
    fn five_failures_make_one_finding_that_grows() {
        let mut d = Detector::new(Limits::default());
        for id in 1..=4 {
            assert_eq!(
                d.failed_logins(Timestamp(id), ip(2), ip(1), id as u64, 1, 0),
                None
            );
        }
        assert_eq!(
            d.failed_logins(Timestamp(5), ip(2), ip(1), 5, 1, 7),
            Some(Finding::New {
                detail: "5 failed logins from 10.0.0.2 to 10.0.0.1".into(),
                sessions: vec![1, 2, 3, 4, 5],
            })
        );
        assert_eq!(
            d.failed_logins(Timestamp(6), ip(2), ip(1), 6, 2, 8),
            Some(Finding::Update {
                index: 7,
                detail: "7 failed logins from 10.0.0.2 to 10.0.0.1".into(),
                add: Some(6),
            })
        );
        // Another server: another tally.
        assert_eq!(d.failed_logins(Timestamp(7), ip(2), ip(9), 7, 1, 8), None);
        assert_eq!(d.len(), 2);
        // No failures: nothing.
        assert_eq!(d.failed_logins(Timestamp(8), ip(2), ip(1), 8, 0, 8), None);
    }

    #[test]
    fn one_session_with_many_failures_is_listed_once() {
        let mut d = Detector::new(Limits::default());
        assert_eq!(
            d.failed_logins(Timestamp(1), ip(2), ip(1), 1, 9, 0),
            Some(Finding::New {
                detail: "9 failed logins from 10.0.0.2 to 10.0.0.1".into(),
                sessions: vec![1],
            })
        );
    }

    #[test]
    fn the_pair_cap_forgets_the_least_recently_seen() {
        let mut d = Detector::new(Limits {
            pairs: 2,
            timeout_ns: FAILURE_TIMEOUT_NS,
        });
        d.failed_logins(Timestamp(1), ip(2), ip(1), 1, 4, 0);
        d.failed_logins(Timestamp(2), ip(3), ip(1), 2, 1, 0);
        // Pair 2 is seen again (its finding): pair 3 is now the least recent.
        assert!(matches!(
            d.failed_logins(Timestamp(3), ip(2), ip(1), 3, 1, 0),
            Some(Finding::New { .. })
        ));
        d.failed_logins(Timestamp(4), ip(4), ip(1), 4, 1, 0);
        assert_eq!(d.len(), 2);
        assert_eq!(d.evicted(), 1);
        // Pair 2 kept its tally and finding.
        assert!(matches!(
            d.failed_logins(Timestamp(5), ip(2), ip(1), 5, 1, 0),
            Some(Finding::Update {
                index: 0,
                add: Some(5),
                ..
            })
        ));
        // Pair 3 starts again from zero; pair 4 (least recent) goes.
        assert_eq!(d.failed_logins(Timestamp(6), ip(3), ip(1), 6, 1, 0), None);
        assert_eq!(d.evicted(), 2);
    }

    #[test]
    fn a_quiet_pair_expires_and_starts_again() {
        let mut d = Detector::new(Limits::default());
        d.failed_logins(Timestamp(0), ip(2), ip(1), 1, 4, 0);
        assert_eq!(
            d.failed_logins(Timestamp(31 * 60 * S), ip(2), ip(1), 2, 1, 0),
            None
        );
        assert_eq!(d.len(), 1);
        assert_eq!(d.evicted(), 0);
        // The first tally is gone; the pair's new one is another.
        let r = d.tally_of(ip(2), ip(1)).unwrap();
        assert_eq!(d.last_failure(r), Some(Timestamp(31 * 60 * S)));
        assert_eq!(
            d.last_failure(TallyRef {
                gen: r.gen + 1,
                ..r
            }),
            None,
            "another generation"
        );
        // Within the timeout the tally goes on.
        assert!(matches!(
            d.failed_logins(Timestamp(40 * 60 * S), ip(2), ip(1), 3, 4, 0),
            Some(Finding::New { .. })
        ));
    }
}
