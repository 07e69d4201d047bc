//! The `--format json` document streamed in id order: a finished session waits here until
//! nothing can change it any more and every lower id is written, then goes to the sink in
//! the form the whole report would give it.
//!
//! What can change a session after it ended (and so what holds it here):
//! - its final id (settled by the id book before a session reaches this stage);
//! - a `login_bruteforce` finding: a session with failed logins can later be listed in its
//!   pair's finding (or the finding's detail grow) while the pair's tally lives: until 30
//!   minutes ([`super::detect::FAILURE_TIMEOUT_NS`]) after the pair's last failed login,
//!   with no live session of that pair that could still add one before then;
//! - an untied data connection, placed at the end into the first session of its hosts:
//!   the first session of a host pair is held while a connection between those hosts is
//!   undecided (a probe or loose connection that may end as an untied candidate).
//!   A candidate that ends after its session was written stands in `untied_transfers`
//!   (`stats.limits.untied_after_session`).
//!
//! Lingering TLS sessions (encrypted data tied by time) and FXP findings change live
//! sessions only; probes change ids only. Every time is written with the precision known
//! when the session is written (the capture's, from its header).
//!
//! Bound: at most [`MAX_DOCUMENT_HELD`] sessions wait; beyond it the lowest is written at
//! once, even before it is final or when a lower id is still open (that one is written out
//! of order when it ends): `stats.limits.max_document_sessions` counts such sessions.

use super::*;
use crate::analyzer::detect::TallyRef;
use std::cell::Cell;
use std::collections::HashSet;
use std::rc::Rc;

/// How far back (capture time) from the latest packet a session not recognised yet may
/// start, or stamp its first command (a connection still probed, reassembly holding
/// bytes back): the floor given with each session ([`Analyzer::document_floor`]) keeps
/// this margin.
pub const FLOOR_SLACK_NS: i64 = 1_000_000_000;

/// Sessions (open or waiting) looked at per write to move the floor on: with more, it
/// moves on every (sessions / this + 1) writes.
pub const FLOOR_SCAN_SESSIONS: usize = 256;

/// Most finished sessions held for the streamed JSON document (waiting for a lower id
/// still open, a brute-force tally to expire, or an undecided connection of their hosts).
pub const MAX_DOCUMENT_HELD: usize = 4096;

/// What the streamed document keeps.
pub(super) struct Document {
    /// Finished sessions with their final ids, waiting: final id → (reserved id, session).
    pending: BTreeMap<u64, (u64, model::Session)>,
    /// The lowest final id not written (nor given up by the bound).
    next: u64,
    /// Bound on `pending` (normally [`MAX_DOCUMENT_HELD`]).
    max_held: usize,
    /// The failed-login tally each session with failed logins went into, by reserved id.
    tallies: HashMap<u64, TallyRef, FastState>,
    /// The `login_bruteforce` finding (index in `anomalies`) a session is listed in, by
    /// reserved id.
    refs: HashMap<u64, usize, FastState>,
    /// Live connections that may still end as untied candidates (they opened as probes),
    /// and their count per host pair.
    loose_conns: HashSet<ConnId, FastState>,
    loose_pairs: HashMap<(IpAddr, IpAddr), u32, FastState>,
    /// Untied candidates in `Ftp::untied` per host pair.
    untied_pairs: HashMap<(IpAddr, IpAddr), u32, FastState>,
    /// Latest capture time seen.
    now: Timestamp,
    /// When the first waiting session waits for a tally to expire: when to look again.
    wake: Timestamp,
    /// Sessions written before they were final or out of id order (the bound).
    pub(super) forced: u64,
    /// Untied candidates whose session was already written (counted at the end).
    pub(super) untied_late: u64,
    /// Set before each session goes to the sink: no session given later starts earlier.
    pub(super) floor: Option<Rc<Cell<Timestamp>>>,
    /// Sessions given to the sink.
    writes: u64,
}

impl Document {
    pub(super) fn new(max_held: usize) -> Self {
        Document {
            pending: BTreeMap::new(),
            next: 1,
            max_held: max_held.max(1),
            tallies: HashMap::default(),
            refs: HashMap::default(),
            loose_conns: HashSet::default(),
            loose_pairs: HashMap::default(),
            untied_pairs: HashMap::default(),
            now: Timestamp(i64::MIN),
            wake: Timestamp(i64::MAX),
            forced: 0,
            untied_late: 0,
            floor: None,
            writes: 0,
        }
    }

    /// The sessions still waiting, in id order (at the end of the capture).
    pub(super) fn take_pending(&mut self) -> Vec<model::Session> {
        std::mem::take(&mut self.pending)
            .into_values()
            .map(|(_, m)| m)
            .collect()
    }

    /// The bound on waiting sessions.
    pub(super) fn max_held(&self) -> usize {
        self.max_held
    }

    /// Whether a packet at `ts` should look at the waiting sessions again.
    #[inline]
    pub(super) fn tick(&mut self, ts: Timestamp) -> bool {
        if ts > self.now {
            self.now = ts;
        }
        ts >= self.wake
    }
}

impl<'a> Ftp<'a> {
    /// A connection opened as a probe: it may end as an untied candidate.
    pub(super) fn doc_probe_opened(&mut self, meta: &ConnMeta) {
        if let Some(d) = self.doc.as_mut() {
            if d.loose_conns.insert(meta.id) {
                *d.loose_pairs
                    .entry(host_pair(meta.client.ip(), meta.server.ip()))
                    .or_default() += 1;
            }
        }
    }

    /// A connection closed (after everything its close did): the sessions waiting on it
    /// may go.
    pub(super) fn doc_conn_closed(&mut self, meta: &ConnMeta) {
        let Some(d) = self.doc.as_mut() else {
            return;
        };
        if d.loose_conns.remove(&meta.id) {
            let pair = host_pair(meta.client.ip(), meta.server.ip());
            if let Some(n) = d.loose_pairs.get_mut(&pair) {
                *n -= 1;
                if *n == 0 {
                    d.loose_pairs.remove(&pair);
                }
            }
        }
        if !d.pending.is_empty() {
            self.doc_flush();
        }
    }

    /// An untied candidate was kept.
    pub(super) fn doc_untied_added(&mut self, hosts: (IpAddr, IpAddr)) {
        if let Some(d) = self.doc.as_mut() {
            *d.untied_pairs.entry(hosts).or_default() += 1;
        }
    }

    /// Session `id` (reserved id) counted its failed logins (`failed` > 0) into a tally.
    pub(super) fn doc_failed_logins(&mut self, id: u64, client: IpAddr, server: IpAddr) {
        let Some(r) = self.failures.tally_of(client, server) else {
            return;
        };
        if let Some(d) = self.doc.as_mut() {
            d.tallies.insert(id, r);
        }
    }

    /// Session `x` (reserved id) is listed in finding `index`.
    pub(super) fn doc_listed(&mut self, x: u64, index: usize) {
        let waiting = self.sessions.contains_key(&x)
            || self.held.contains_key(&x)
            || self.doc.as_ref().is_some_and(|d| {
                self.final_ids
                    .get(x)
                    .is_some_and(|f| d.pending.contains_key(&f))
            });
        if let Some(d) = self.doc.as_mut().filter(|_| waiting) {
            d.refs.insert(x, index);
        }
    }

    /// A finished session with its final id (`m.id`; `reserved`: the id it had until now).
    pub(super) fn doc_push(&mut self, reserved: u64, m: model::Session) {
        if let Some(d) = self.doc.as_mut() {
            d.pending.insert(m.id, (reserved, m));
        }
        self.doc_flush();
    }

    /// Write the waiting sessions that can go: in id order, each once nothing can change
    /// it; beyond the bound, the lowest at once.
    pub(super) fn doc_flush(&mut self) {
        loop {
            let Some(d) = self.doc.as_mut() else {
                return;
            };
            d.wake = Timestamp(i64::MAX);
            let Some((&fid, &(reserved, _))) = d.pending.first_key_value() else {
                return;
            };
            let over = d.pending.len() > d.max_held;
            let next = d.next;
            if fid < next {
                // Its turn was given up at the bound while it was still open.
                d.forced += 1;
            } else if fid == next {
                match self.doc_waits_for(reserved, fid) {
                    None => {}
                    Some(_) if over => {
                        let d = self.doc.as_mut().expect("present");
                        d.forced += 1;
                    }
                    Some(wake) => {
                        let d = self.doc.as_mut().expect("present");
                        d.wake = wake;
                        return;
                    }
                }
                let d = self.doc.as_mut().expect("present");
                d.next = fid + 1;
            } else if over {
                // A lower id is still open: its turn is given up (written when it ends).
                d.next = fid;
                continue;
            } else {
                return;
            }
            let d = self.doc.as_mut().expect("present");
            let (reserved, m) = d.pending.pop_first().expect("present").1;
            self.doc_write(reserved, m);
        }
    }

    /// Why waiting session `fid` (reserved id `reserved`) may still change: `Some(when to look
    /// again)` (`i64::MAX`: when a connection closes), `None` when nothing can change it.
    fn doc_waits_for(&self, reserved: u64, fid: u64) -> Option<Timestamp> {
        let d = self.doc.as_ref()?;
        let (_, m) = d.pending.get(&fid)?;
        let pair = host_pair(m.client.ip, m.server.ip);
        if d.loose_pairs.contains_key(&pair) && self.session_hosts.get(&pair) == Some(&reserved) {
            return Some(Timestamp(i64::MAX));
        }
        let t = d.tallies.get(&reserved)?;
        let last = self.failures.last_failure(*t)?;
        let deadline = last.0.saturating_add(self.failures.limits().timeout_ns);
        if d.now.0 <= deadline {
            return Some(Timestamp(deadline.saturating_add(1)));
        }
        // A live session of the pair may still fail a login before the deadline.
        let live = self.sessions.values().any(|s| {
            s.client().ip() == t.client && s.server().ip() == t.server && s.end().0 <= deadline
        });
        live.then_some(Timestamp(i64::MAX))
    }

    /// Give session `m` the form the whole report would (times, its finding, the untied
    /// data connections of its hosts) and send it to the sink.
    fn doc_write(&mut self, reserved: u64, mut m: model::Session) {
        let digits = self.digits;
        m.set_time_digits(digits);
        let Some(d) = self.doc.as_mut() else {
            return;
        };
        d.tallies.remove(&reserved);
        let finding = d.refs.remove(&reserved);
        let pair = host_pair(m.client.ip, m.server.ip);
        let untied = d.untied_pairs.get(&pair).copied().unwrap_or(0);
        if let Some((i, a)) = finding.and_then(|i| Some((i, self.anomalies.get(i)?))) {
            let mut r = a.reference(i);
            r.ts.digits = digits;
            match m
                .anomalies
                .iter_mut()
                .find(|x| x.finding == Some(i) || (x.kind == a.kind && x.detail == a.detail))
            {
                Some(x) => *x = r,
                None => m.anomalies.push(r),
            }
        }
        if untied > 0 && self.session_hosts.get(&pair) == Some(&reserved) {
            let mut i = 0;
            while i < self.untied.len() {
                let u = &self.untied[i];
                if u.hosts != pair || !self.looks_like_data(u.ends.0, u.ends.1) {
                    i += 1;
                    continue;
                }
                let mut u = self.untied.remove(i);
                if let Some(d) = self.doc.as_mut() {
                    if let Some(n) = d.untied_pairs.get_mut(&pair) {
                        *n -= 1;
                        if *n == 0 {
                            d.untied_pairs.remove(&pair);
                        }
                    }
                }
                self.count_untied_data(&mut u);
                place_untied(&mut m, u);
            }
        }
        if let Some(d) = self.doc.as_mut().filter(|d| d.floor.is_some()) {
            d.writes += 1;
            // Scanning many open sessions at every write would cost their number each
            // time: then the floor moves on every so many writes (a floor kept from
            // before is lower, never wrong: rows only wait longer).
            let every =
                (self.sessions.len() + self.held.len() + d.pending.len()) / FLOOR_SCAN_SESSIONS + 1;
            if d.writes % every as u64 == 0 {
                let floor = self.doc_floor();
                if let Some(f) = self.doc.as_ref().and_then(|d| d.floor.as_ref()) {
                    f.set(floor);
                }
            }
        }
        if let Some(sink) = self.sink.as_mut() {
            sink(m);
        }
    }

    /// A time no session given to the sink from now on starts before: the earliest start
    /// of the sessions still open or waiting, and of those not recognised yet.
    fn doc_floor(&self) -> Timestamp {
        let Some(d) = self.doc.as_ref() else {
            return Timestamp(i64::MIN);
        };
        let mut f = d.now.0.saturating_sub(FLOOR_SLACK_NS);
        for s in self.sessions.values() {
            f = f.min(s.start().0);
        }
        for (_, m) in self.held.values() {
            f = f.min(m.start.ts.0);
        }
        for (_, m) in d.pending.values() {
            f = f.min(m.start.ts.0);
        }
        Timestamp(f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::net::tcp::TcpHandler;
    use std::cell::RefCell;

    const S: i64 = 1_000_000_000;
    const SERVER: [u8; 4] = [10, 0, 0, 1];

    fn meta(id: ConnId, client: [u8; 4], port: u16, server_port: u16, t: i64) -> ConnMeta {
        ConnMeta {
            id,
            client: SocketAddr::from((client, port)),
            server: SocketAddr::from((SERVER, server_port)),
            saw_syn: true,
            start: Timestamp(t),
            zone: Zone::default(),
        }
    }

    fn line(f: &mut Ftp<'_>, m: &ConnMeta, t: i64, dir: Dir, bytes: &[u8]) {
        let chunk = Chunk::Data {
            offset: 0,
            bytes,
            ts: Timestamp(t),
            new_segment: true,
        };
        f.on_data(m, Timestamp(t), dir, chunk, true);
    }

    fn close(f: &mut Ftp<'_>, m: &ConnMeta, t: i64, bytes: [u64; 2]) {
        f.on_close(
            m,
            &ConnSummary {
                packets: 4,
                end: Timestamp(t),
                seq_bytes: bytes,
                captured_bytes: bytes,
                gaps: [0, 0],
                close: CloseKind::Fin,
            },
        );
    }

    /// A control session from `client` at `t` (seconds): one failed login or none.
    fn session(f: &mut Ftp<'_>, id: ConnId, client: [u8; 4], t: i64, fail: bool) {
        let m = meta(id, client, 40000 + id as u16, 21, t * S);
        f.on_open(&m);
        line(f, &m, t * S + 1, Dir::ToClient, b"220 hi\r\n");
        line(f, &m, t * S + 2, Dir::ToServer, b"USER u\r\n");
        line(f, &m, t * S + 3, Dir::ToClient, b"331 pw\r\n");
        line(f, &m, t * S + 4, Dir::ToServer, b"PASS p\r\n");
        let reply: &[u8] = if fail { b"530 no\r\n" } else { b"230 ok\r\n" };
        line(f, &m, t * S + 5, Dir::ToClient, reply);
        close(f, &m, t * S + 6, [16, 24]);
    }

    /// Steps of a test, given a function that notes what the sink had by then.
    type Steps = dyn Fn(&mut Ftp<'_>, &dyn Fn(&mut Ftp<'_>));

    /// The same steps through a streamed document and through the whole report: the
    /// documents, and the ids the sink had before the end (after each step).
    fn both(steps: &Steps) -> (String, String, Vec<Vec<u64>>) {
        let whole = {
            let mut an = Analyzer::new(Options::default(), None);
            steps(&mut an.ftp, &|_| {});
            let mut out = Vec::new();
            crate::report::json::write_json(&an.finish(), &mut out).unwrap();
            String::from_utf8(out).unwrap()
        };
        let out = Rc::new(RefCell::new(Vec::new()));
        let seen = Rc::new(RefCell::new(Vec::new()));
        let doc = Rc::new(RefCell::new(crate::report::json::DocumentWriter::new()));
        let sink = {
            let (out, doc, seen) = (out.clone(), doc.clone(), seen.clone());
            Box::new(move |s: model::Session| {
                seen.borrow_mut().push(s.id);
                doc.borrow_mut()
                    .session(&s, &mut *out.borrow_mut())
                    .unwrap();
            })
        };
        let mut an = Analyzer::new(Options::default(), Some(sink)).document();
        let marks = Rc::new(RefCell::new(Vec::new()));
        {
            let (seen, marks) = (seen.clone(), marks.clone());
            steps(&mut an.ftp, &move |_| {
                marks.borrow_mut().push(seen.borrow().clone())
            });
        }
        let mut r = an.finish();
        doc.borrow_mut()
            .finish(&mut r, &mut *out.borrow_mut())
            .unwrap();
        let streamed = String::from_utf8(out.borrow().clone()).unwrap();
        let marks = marks.borrow().clone();
        (streamed, whole, marks)
    }

    /// Time goes by (a packet of other traffic at `t` seconds).
    fn at(f: &mut Ftp<'_>, t: i64) {
        if f.doc.as_mut().is_some_and(|d| d.tick(Timestamp(t * S))) {
            f.doc_flush();
        }
    }

    #[test]
    fn a_failed_login_holds_its_session_until_the_tally_expires() {
        let (streamed, whole, marks) = both(&|f, mark| {
            session(f, 1, [10, 0, 0, 2], 0, true);
            session(f, 2, [10, 0, 0, 3], 1, false);
            mark(f);
            // Four more failures from the same client: a finding that lists session 1.
            for i in 0..4 {
                session(f, 3 + i, [10, 0, 0, 2], 10 + i as i64, true);
            }
            mark(f);
            at(f, 10 * 60);
            mark(f);
            at(f, 13 + 31 * 60);
            mark(f);
        });
        assert_eq!(streamed, whole);
        assert!(whole.contains("login_bruteforce"));
        // Held while the tally lives (session 2 waits behind 1), written once it expired.
        assert_eq!(marks[0], Vec::<u64>::new());
        assert_eq!(marks[1], Vec::<u64>::new());
        assert_eq!(marks[2], Vec::<u64>::new());
        assert_eq!(marks[3], vec![1, 2, 3, 4, 5, 6]);
    }

    #[test]
    fn sessions_without_failed_logins_go_at_once_in_id_order() {
        let (streamed, whole, marks) = both(&|f, mark| {
            // Session 2 ends before session 1.
            let m1 = meta(1, [10, 0, 0, 2], 40001, 21, 0);
            f.on_open(&m1);
            line(f, &m1, 1, Dir::ToClient, b"220 hi\r\n");
            session(f, 2, [10, 0, 0, 3], 1, false);
            mark(f);
            close(f, &m1, 5 * S, [0, 8]);
            mark(f);
        });
        assert_eq!(streamed, whole);
        assert_eq!(marks[0], Vec::<u64>::new());
        assert_eq!(marks[1], vec![1, 2]);
    }

    /// An active-mode data connection from the server's port 20, tied to nothing.
    fn loose(id: ConnId, t: i64) -> ConnMeta {
        let d = meta(id, [10, 0, 0, 2], 50000, 20, t);
        ConnMeta {
            client: d.server,
            server: d.client,
            ..d
        }
    }

    #[test]
    fn an_undecided_connection_holds_its_hosts_first_session() {
        let (streamed, whole, marks) = both(&|f, mark| {
            // Opened while the session runs, closed with its payload after it ended: an
            // untied data connection, placed in the session of its hosts.
            let d = loose(2, 0);
            f.on_open(&d);
            session(f, 1, [10, 0, 0, 2], 0, false);
            mark(f);
            line(f, &d, 2 * S + 1, Dir::ToServer, &[0u8; 2000]);
            close(f, &d, 3 * S, [2000, 0]);
            mark(f);
        });
        assert_eq!(streamed, whole);
        assert!(whole.contains("unmatched_data_connection"), "{whole}");
        assert_eq!(marks[0], Vec::<u64>::new());
        assert_eq!(marks[1], vec![1]);
    }

    #[test]
    fn a_connection_after_its_hosts_session_was_written_is_counted() {
        let (streamed, whole, marks) = both(&|f, mark| {
            session(f, 1, [10, 0, 0, 2], 0, false);
            mark(f);
            let d = loose(2, 2 * S);
            f.on_open(&d);
            line(f, &d, 2 * S + 1, Dir::ToServer, &[0u8; 2000]);
            close(f, &d, 3 * S, [2000, 0]);
        });
        assert_eq!(marks[0], vec![1]);
        // The whole report places it in the session; the stream lists it apart, counted.
        let placed = r#""kind":"unmatched_data_connection""#;
        assert!(whole.contains(placed));
        assert!(!streamed.contains(placed));
        assert!(
            streamed.contains(r#""limits": {"untied_after_session":1}"#),
            "{streamed}"
        );
    }
}
