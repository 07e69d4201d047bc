//! The pipeline: packets → decode → TCP tracking → FTP sessions and data connections → Report.

use crate::capture::{Packet, PacketSource, Timestamp};
use crate::carve::{self, Carver, Piece};
use crate::ftp::session::{ep, Session, Setup};
use crate::ftp::{listing, parse};
use crate::model::{self, Anomaly, Close, EventKind, Report, Side, Stats, Time};
use crate::net::decode::{Decoded, Decoder};
use crate::net::fasthash::FastState;
use crate::net::reassembly::Chunk;
use crate::net::tcp::{
    CloseKind, ConnId, ConnMeta, ConnSummary, Dir, Interest, TcpEvent, TcpHandler, TcpLimits,
    TcpTracker,
};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;

/// What the analysis should do.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Extra TCP ports treated as FTP control (21 always is).
    pub ports: Vec<u16>,
    pub show_passwords: bool,
    pub hash: bool,
    pub extract: Option<PathBuf>,
    /// Bounds of `--extract`.
    pub extract_limits: carve::Limits,
}

/// Where finished sessions go as soon as they end (JSONL); `None` keeps them for the Report.
pub type SessionSink<'a> = Box<dyn FnMut(model::Session) + 'a>;

/// Most bytes a connection's first lines are looked at to recognise FTP on any port.
const PROBE_BYTES: usize = 1024;
/// Most TCP events kept for a connection not yet recognised.
const PROBE_EVENTS: usize = 16;
/// Most TCP connections listed in the report (all are counted).
const MAX_CONN_LIST: usize = 100_000;
/// Most connections [`Analyzer::collect_connections`] records (beyond it, an input error).
pub const MAX_COLLECTED_CONNECTIONS: usize = 1_000_000;
/// Failed logins from one client to one server that make a brute-force finding.
const BRUTEFORCE_FAILURES: u32 = 5;

/// One TCP connection that the analysis tied to a session: its control connection or one
/// of its data connections, with the times of its first and last packets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnSpan {
    pub session: u64,
    /// True for the control connection.
    pub control: bool,
    pub client: SocketAddr,
    pub server: SocketAddr,
    pub start: Timestamp,
    pub end: Timestamp,
}

struct Probe {
    buf: [Vec<u8>; 2],
    events: Vec<(Timestamp, Dir, TcpEvent)>,
}

struct DataConn {
    session: u64,
    transfer: usize,
    /// TCP client of the data connection is the FTP client.
    connector_is_client: bool,
    hash: Option<[Sha256; 2]>,
    /// With `--extract`: each direction's payload until the end tells which one it is.
    pieces: [Option<Piece>; 2],
    /// A listing's payload (bounded by `listing::MAX_LISTING_BYTES`), read at the end.
    listing: Option<ListingBuf>,
}

struct ListingBuf {
    style: parse::ListingStyle,
    /// The direction its bytes come in.
    dir: Dir,
    bytes: Vec<u8>,
    cut: bool,
}

enum Role {
    Control {
        session: u64,
        client_is_tcp_client: bool,
    },
    Data(Box<DataConn>),
    Probe(Box<Probe>),
    Other,
}

/// The FTP layer on top of TCP.
struct Ftp<'a> {
    opts: Options,
    digits: u8,
    sessions: HashMap<u64, Session, FastState>,
    next_session: u64,
    roles: HashMap<ConnId, Role, FastState>,
    /// Announced data-channel listeners → (session, setup).
    expect: HashMap<SocketAddr, (u64, Setup), FastState>,
    done: Vec<model::Session>,
    sink: Option<SessionSink<'a>>,
    conn_list: Vec<model::TcpConnection>,
    stats: Stats,
    /// Failed logins per (client ip, server ip) and the sessions involved.
    failures: HashMap<(IpAddr, IpAddr), (u32, Vec<u64>)>,
    anomalies: Vec<Anomaly>,
    errors: Vec<String>,
    /// With `--extract`: the directory's writer.
    carver: Option<Carver>,
    /// `--extract` problems found before any payload (the directory is unusable).
    carve_errors: Vec<String>,
    /// Payloads of ended data connections, named when their session ends.
    carved: HashMap<(u64, usize), Piece, FastState>,
    /// Sessions whose connections are recorded in `spans`.
    collect: Vec<u64>,
    spans: Vec<ConnSpan>,
}

impl<'a> Ftp<'a> {
    fn is_ftp_port(&self, p: u16) -> bool {
        p == 21 || self.opts.ports.contains(&p)
    }

    fn side(client_is_tcp_client: bool, dir: Dir) -> Side {
        match (client_is_tcp_client, dir) {
            (true, Dir::ToServer) | (false, Dir::ToClient) => Side::Client,
            _ => Side::Server,
        }
    }

    fn new_session(&mut self, meta: &ConnMeta, client_is_tcp_client: bool) -> u64 {
        let id = self.next_session;
        self.next_session += 1;
        self.stats.ftp_sessions += 1;
        let (c, s) = if client_is_tcp_client {
            (meta.client, meta.server)
        } else {
            (meta.server, meta.client)
        };
        let sess = Session::new(id, c, s, meta.start, self.digits, self.opts.show_passwords);
        self.sessions.insert(id, sess);
        self.roles.insert(
            meta.id,
            Role::Control {
                session: id,
                client_is_tcp_client,
            },
        );
        id
    }

    /// Look up an expectation for a connection to `listener`.
    fn expectation(&self, listener: SocketAddr) -> Option<(u64, Setup)> {
        self.expect
            .get(&listener)
            .copied()
            .filter(|(s, _)| self.sessions.contains_key(s))
    }

    fn new_data(&mut self, meta: &ConnMeta, session: u64, setup: Option<Setup>, swap: bool) {
        let (connector, listener) = if swap {
            (meta.server, meta.client)
        } else {
            (meta.client, meta.server)
        };
        let Some(sess) = self.sessions.get_mut(&session) else {
            return;
        };
        let transfer = sess.open_data(meta.start, connector, listener, setup);
        let connector_is_client = sess.transfers[transfer].connector_is_client;
        self.stats.data_connections += 1;
        if setup.is_none() {
            self.stats.unmatched_data_connections += 1;
        }
        let hash = self.opts.hash.then(|| [Sha256::new(), Sha256::new()]);
        self.roles.insert(
            meta.id,
            Role::Data(Box::new(DataConn {
                session,
                transfer,
                connector_is_client,
                hash,
                pieces: [None, None],
                listing: None,
            })),
        );
    }

    /// A live session between these two hosts that is waiting for a data connection.
    fn session_wanting_data(&self, a: IpAddr, b: IpAddr) -> Option<u64> {
        self.sessions
            .values()
            .filter(|s| {
                let (c, v) = (s.client.ip(), s.server.ip());
                ((c == a && v == b) || (c == b && v == a)) && s.wants_data()
            })
            .map(|s| s.id)
            .min()
    }

    fn tcp_event(&mut self, meta: &ConnMeta, ts: Timestamp, dir: Dir, ev: TcpEvent) {
        match self.roles.get_mut(&meta.id) {
            Some(Role::Control {
                session,
                client_is_tcp_client,
            }) => {
                let side = Self::side(*client_is_tcp_client, dir);
                if let Some(s) = self.sessions.get_mut(session) {
                    s.event(ts, 0, side, EventKind::Tcp, ev.as_str().to_string());
                }
            }
            Some(Role::Data(d)) => {
                let side = Self::side(d.connector_is_client, dir);
                if let Some(s) = self.sessions.get_mut(&d.session) {
                    s.event(
                        ts,
                        d.transfer + 1,
                        side,
                        EventKind::Tcp,
                        ev.as_str().to_string(),
                    );
                }
            }
            Some(Role::Probe(p)) if p.events.len() < PROBE_EVENTS => {
                p.events.push((ts, dir, ev));
            }
            _ => {}
        }
    }

    /// Decide from a connection's first bytes whether it speaks FTP control.
    fn classify(&mut self, meta: &ConnMeta, ts: Timestamp) -> Interest {
        let Some(Role::Probe(p)) = self.roles.get(&meta.id) else {
            return Interest::Data;
        };
        let looks = |buf: &[u8], from_server: bool| -> Option<bool> {
            let end = buf.iter().position(|&b| b == b'\n')?;
            let line = &buf[..end];
            Some(if from_server {
                parse::looks_like_greeting(line)
            } else {
                parse::looks_like_client_opening(line)
            })
        };
        // [ToServer, ToClient]: which TCP side speaks like an FTP server or client?
        let verdicts = [
            (looks(&p.buf[0], false), looks(&p.buf[0], true)),
            (looks(&p.buf[1], false), looks(&p.buf[1], true)),
        ];
        let client_is_tcp_client = match verdicts {
            [(_, _), (_, Some(true))] | [(Some(true), _), _] => Some(true),
            [(_, Some(true)), _] | [_, (Some(true), _)] => Some(false),
            _ => None,
        };
        let undecided = (p.buf[0].len() < PROBE_BYTES && verdicts[0].0.is_none())
            || (p.buf[1].len() < PROBE_BYTES && verdicts[1].0.is_none());
        if client_is_tcp_client.is_none() && undecided {
            return Interest::Data;
        }
        let Some(Role::Probe(p)) = self.roles.remove(&meta.id) else {
            unreachable!("checked above")
        };
        match client_is_tcp_client {
            Some(orient) => {
                self.new_session(meta, orient);
            }
            // Not FTP control: maybe a data connection whose setup we missed.
            None => match self.session_wanting_data(meta.client.ip(), meta.server.ip()) {
                Some(sid) => self.new_data(meta, sid, None, false),
                None => {
                    self.roles.insert(meta.id, Role::Other);
                    return Interest::Ignore;
                }
            },
        }
        // Replay what the probe held through the role the connection has now, the
        // client's side first.
        for (ts, dir, ev) in p.events {
            self.tcp_event(meta, ts, dir, ev);
        }
        for (bytes, dir) in p.buf.iter().zip([Dir::ToServer, Dir::ToClient]) {
            if !bytes.is_empty() {
                self.on_data(meta, ts, dir, Chunk::Data { offset: 0, bytes }, true);
            }
        }
        Interest::Data
    }

    /// Register the setups a session announced since last time.
    fn drain_setups(&mut self, id: u64) {
        let Some(s) = self.sessions.get_mut(&id) else {
            return;
        };
        for setup in s.new_setups.drain(..) {
            self.expect.insert(setup.listener, (id, setup));
            if setup.listener != setup.announced {
                self.expect.insert(setup.announced, (id, setup));
            }
        }
    }

    fn data_chunk(
        &mut self,
        meta: &ConnMeta,
        ts: Timestamp,
        dir: Dir,
        chunk: Chunk<'_>,
        new_seg: bool,
    ) {
        let Some(Role::Data(d)) = self.roles.get_mut(&meta.id) else {
            return;
        };
        let side = Self::side(d.connector_is_client, dir);
        let Some(s) = self.sessions.get_mut(&d.session) else {
            return;
        };
        match chunk {
            Chunk::Data { bytes, .. } => {
                s.data_bytes(ts, d.transfer, side, bytes.len() as u64, new_seg);
                if d.listing.is_none() && side == Side::Server {
                    if let Some(style) = listing::style_of(&s.transfers[d.transfer].t.command) {
                        d.listing = Some(ListingBuf {
                            style,
                            dir,
                            bytes: Vec::new(),
                            cut: false,
                        });
                    }
                }
                if let Some(l) = d.listing.as_mut().filter(|l| l.dir == dir) {
                    let room = listing::MAX_LISTING_BYTES - l.bytes.len();
                    l.cut |= bytes.len() > room;
                    l.bytes.extend_from_slice(&bytes[..bytes.len().min(room)]);
                }
                if let Some(h) = d.hash.as_mut() {
                    h[dir.idx()].update(bytes);
                }
                if let Some(c) = self.carver.as_mut() {
                    let piece = &mut d.pieces[dir.idx()];
                    if piece.is_none() {
                        // A `REST n` download is written at offset n.
                        let t = &s.transfers[d.transfer].t;
                        let at = match t.direction {
                            model::Direction::Download => t.rest.unwrap_or(0),
                            _ => 0,
                        };
                        *piece = Some(c.open_at(at));
                    }
                    if let Some(p) = piece.as_mut() {
                        c.write(p, bytes);
                    }
                }
            }
            Chunk::Gap { offset, len } => {
                self.stats.capture_gaps += 1;
                s.anomaly(
                    ts,
                    "capture_gap",
                    format!(
                        "data:{}: {len} bytes missing at offset {offset}",
                        d.transfer + 1
                    ),
                );
                if let (Some(c), Some(p)) = (self.carver.as_mut(), d.pieces[dir.idx()].as_mut()) {
                    c.hole(p, len);
                }
            }
        }
    }

    /// Finish a session if its control connection and all its data connections ended.
    fn maybe_finish(&mut self, id: u64, force: bool) {
        let ready = self
            .sessions
            .get(&id)
            .is_some_and(|s| s.control_closed && (s.open_data == 0 || force));
        if !ready {
            return;
        }
        let s = self.sessions.remove(&id).expect("present");
        self.expect.retain(|_, (sid, _)| *sid != id);
        let mut m = s.into_model();
        self.carve(&mut m);
        match self.sink.as_mut() {
            Some(sink) => {
                m.set_time_digits(self.digits);
                // Cross-session findings known by now that involve this session.
                for a in &self.anomalies {
                    if a.sessions.contains(&m.id) {
                        m.anomalies.push(a.clone());
                    }
                }
                sink(m)
            }
            None => self.done.push(m),
        }
    }

    /// With `--extract`: name the session's carved payloads now that their outcome is
    /// known, join resumed (REST) and appended (APPE) pieces to the stored start of their
    /// file, and write the manifest lines.
    fn carve(&mut self, m: &mut model::Session) {
        let Some(c) = self.carver.as_mut() else {
            return;
        };
        let server = m.server.ip.to_string();
        let mut findings = Vec::new();
        for (i, t) in m.transfers.iter_mut().enumerate() {
            let piece = self.carved.remove(&(m.id, i));
            let (holes, holes_total, cut, extent) = piece
                .as_ref()
                .map(|p| {
                    (
                        p.holes().to_vec(),
                        p.holes_total(),
                        p.cut_bytes(),
                        p.extent(),
                    )
                })
                .unwrap_or_default();
            let mut joined = None;
            let fallback = if t.command.is_empty() {
                "data".to_string()
            } else {
                t.command.to_ascii_lowercase()
            };
            let named = t.path.as_deref().unwrap_or(&t.arg);
            let stem = carve::file_stem(m.id, i + 1, named, &fallback);
            if let Some(p) = piece {
                let rest = t.rest.unwrap_or(0);
                // Fewer bytes than the server announced for this command: not the whole file.
                let short = t.expected_bytes.is_some_and(|e| {
                    t.direction == model::Direction::Download
                        && t.bytes.is_some_and(|b| b < e.saturating_sub(rest))
                });
                // A REST piece lacks the file's start.
                let partial = t.missing_bytes != Some(0)
                    || t.status != model::TransferStatus::Complete
                    || short
                    || cut > 0
                    || (rest > 0 && t.direction == model::Direction::Download);
                t.extracted = c.keep(p, &stem, partial);
                if let (Some(file), Some(path), true) = (
                    t.extracted.as_deref(),
                    t.path.as_deref(),
                    t.direction != model::Direction::Listing,
                ) {
                    let key = (server.clone(), path.to_string());
                    let at = match t.command.as_str() {
                        "APPE" => c.stored_end(&key),
                        _ if rest > 0 => Some(rest),
                        _ => None,
                    };
                    let base = named.rsplit('/').next().unwrap_or("");
                    let joined_stem =
                        carve::file_stem(m.id, i + 1, &format!("joined-{base}"), "joined");
                    let kept = carve::Kept {
                        key,
                        file,
                        extent,
                        at,
                        id: (m.id, i),
                    };
                    joined = c.join(kept, &joined_stem, t.expected_bytes);
                }
            }
            c.record(&carve::Entry {
                session: m.id,
                transfer: i + 1,
                command: &t.command,
                arg: &t.arg,
                path: t.path.as_deref(),
                direction: t.direction,
                bytes: t.bytes,
                captured: t.captured_bytes,
                missing: t.missing_bytes,
                holes_listed: holes.len(),
                holes: holes.iter().map(|&(o, l)| [o, l]).collect(),
                holes_total,
                sha256: t.sha256.as_deref(),
                status: t.status,
                partial: t
                    .extracted
                    .as_deref()
                    .is_some_and(|f| f.ends_with(".partial")),
                cut_by_limit: cut,
                file: t.extracted.clone(),
                joined: None,
                overlap_bytes: None,
                conflicting_bytes: None,
            });
            if let Some(j) = joined {
                if j.conflicts > 0 {
                    findings.push(format!(
                        "transfer {}: {} of {} overlapping bytes differ from the earlier piece of {}",
                        i + 1,
                        j.conflicts,
                        j.overlap,
                        t.path.as_deref().unwrap_or(&t.arg)
                    ));
                }
                c.record(&carve::Entry {
                    session: m.id,
                    transfer: i + 1,
                    command: &t.command,
                    arg: &t.arg,
                    path: t.path.as_deref(),
                    direction: t.direction,
                    bytes: Some(j.bytes),
                    captured: Some(j.bytes),
                    missing: Some(0),
                    holes: Vec::new(),
                    holes_listed: 0,
                    holes_total: 0,
                    sha256: Some(&j.sha256),
                    status: t.status,
                    partial: j.file.as_deref().is_some_and(|f| f.ends_with(".partial")),
                    cut_by_limit: 0,
                    file: j.file.clone(),
                    joined: Some(j.pieces.iter().map(|&(s, t)| [s, t as u64 + 1]).collect()),
                    overlap_bytes: Some(j.overlap),
                    conflicting_bytes: Some(j.conflicts),
                });
                t.joined = j.file;
            }
        }
        let ts = m.end;
        for detail in findings {
            m.anomalies.push(Anomaly {
                ts,
                kind: "resume_conflict",
                detail,
                sessions: Vec::new(),
            });
        }
    }

    fn login_failures(&mut self, id: u64) {
        let Some(s) = self.sessions.get(&id) else {
            return;
        };
        if s.failed_logins == 0 {
            return;
        }
        let key = (s.client.ip(), s.server.ip());
        let n = s.failed_logins;
        let ts = s.end;
        let e = self.failures.entry(key).or_default();
        e.0 += n;
        if !e.1.contains(&id) {
            e.1.push(id);
        }
        if e.0 >= BRUTEFORCE_FAILURES {
            let detail = format!("{} failed logins from {} to {}", e.0, key.0, key.1);
            let sessions = e.1.clone();
            if let Some(a) = self.anomalies.iter_mut().find(|a| {
                a.kind == "login_bruteforce"
                    && a.detail.ends_with(&format!("from {} to {}", key.0, key.1))
            }) {
                a.detail = detail;
                a.sessions = sessions;
            } else {
                self.anomalies.push(Anomaly {
                    ts: Time::new(ts, self.digits),
                    kind: "login_bruteforce",
                    detail,
                    sessions,
                });
            }
        }
    }
}

impl<'a> TcpHandler for Ftp<'a> {
    fn on_open(&mut self, meta: &ConnMeta) -> (Interest, bool) {
        // A data connection some session announced?
        if let Some((sid, setup)) = self.expectation(meta.server) {
            self.new_data(meta, sid, Some(setup), false);
            return (Interest::Data, false);
        }
        if !meta.saw_syn {
            if let Some((sid, setup)) = self.expectation(meta.client) {
                self.new_data(meta, sid, Some(setup), true);
                return (Interest::Data, true);
            }
        }
        if self.is_ftp_port(meta.server.port()) {
            self.new_session(meta, true);
            return (Interest::Data, false);
        }
        if !meta.saw_syn && self.is_ftp_port(meta.client.port()) {
            self.new_session(meta, false);
            return (Interest::Data, false);
        }
        self.roles.insert(
            meta.id,
            Role::Probe(Box::new(Probe {
                buf: [Vec::new(), Vec::new()],
                events: Vec::new(),
            })),
        );
        (Interest::Data, false)
    }

    fn on_event(&mut self, meta: &ConnMeta, ts: Timestamp, dir: Dir, ev: TcpEvent) -> Interest {
        self.tcp_event(meta, ts, dir, ev);
        Interest::Data
    }

    fn on_data(
        &mut self,
        meta: &ConnMeta,
        ts: Timestamp,
        dir: Dir,
        chunk: Chunk<'_>,
        new_segment: bool,
    ) -> Interest {
        match self.roles.get_mut(&meta.id) {
            Some(Role::Control {
                session,
                client_is_tcp_client,
            }) => {
                let side = Self::side(*client_is_tcp_client, dir);
                let id = *session;
                if let Some(s) = self.sessions.get_mut(&id) {
                    match chunk {
                        Chunk::Data { bytes, .. } => s.control_data(ts, side, bytes),
                        Chunk::Gap { offset, len } => {
                            self.stats.capture_gaps += 1;
                            s.control_gap(ts, side, offset, len);
                        }
                    }
                    if !s.new_setups.is_empty() {
                        self.drain_setups(id);
                    }
                }
                Interest::Data
            }
            Some(Role::Data(_)) => {
                self.data_chunk(meta, ts, dir, chunk, new_segment);
                Interest::Data
            }
            Some(Role::Probe(p)) => {
                if let Chunk::Data { bytes, .. } = chunk {
                    let b = &mut p.buf[dir.idx()];
                    let room = PROBE_BYTES.saturating_sub(b.len());
                    b.extend_from_slice(&bytes[..bytes.len().min(room)]);
                } else {
                    // A gap before we knew what this is: give up on it.
                    self.roles.insert(meta.id, Role::Other);
                    return Interest::Ignore;
                }
                self.classify(meta, ts)
            }
            _ => Interest::Ignore,
        }
    }

    fn on_close(&mut self, meta: &ConnMeta, sum: &ConnSummary) {
        let role = self.roles.remove(&meta.id);
        let close = match sum.close {
            CloseKind::Fin => Close::Fin,
            CloseKind::Rst => Close::Rst,
            CloseKind::Open => Close::Open,
        };
        let mut role_name = None;
        // (session, is control) when the connection belongs to a session.
        let mut owner = None;
        match role {
            Some(Role::Control { session, .. }) => {
                role_name = Some("ftp");
                owner = Some((session, true));
                if let Some(s) = self.sessions.get_mut(&session) {
                    s.control_end(sum.end);
                    if s.end < sum.end {
                        s.end = sum.end;
                    }
                    s.close = close;
                    s.control_closed = true;
                }
                self.drain_setups(session);
                self.login_failures(session);
                self.maybe_finish(session, false);
            }
            Some(Role::Data(mut d)) => {
                role_name = Some("ftp-data");
                owner = Some((d.session, false));
                if let Some(s) = self.sessions.get_mut(&d.session) {
                    let bytes = sum.seq_bytes[0] + sum.seq_bytes[1];
                    let captured = sum.captured_bytes[0] + sum.captured_bytes[1];
                    s.close_data(d.transfer, sum.end, bytes, captured);
                    if let Some(l) = d.listing.take() {
                        let read = listing::read(l.style, &l.bytes, l.cut);
                        let t = &s.transfers[d.transfer].t;
                        let dir = t.path.clone();
                        s.learn_listing_sizes(
                            dir.as_deref(),
                            read.entries
                                .iter()
                                .filter(|e| e.kind == "file")
                                .filter_map(|e| Some((e.name.as_str(), e.size?))),
                        );
                        s.transfers[d.transfer].t.listing = Some(read);
                    }
                    let main = if sum.seq_bytes[1] >= sum.seq_bytes[0] {
                        1
                    } else {
                        0
                    };
                    if let Some(h) = d.hash.take() {
                        let [a, b] = h;
                        let hx = if main == 0 { a } else { b };
                        let t = &mut s.transfers[d.transfer].t;
                        if t.missing_bytes == Some(0) {
                            t.sha256 = Some(hex(&hx.finalize()));
                        }
                    }
                    if let Some(c) = self.carver.as_mut() {
                        for (i, p) in d.pieces.iter_mut().enumerate() {
                            match p.take() {
                                Some(p) if i == main => {
                                    self.carved.insert((d.session, d.transfer), p);
                                }
                                Some(p) => c.discard(p),
                                None => {}
                            }
                        }
                    }
                }
                self.maybe_finish(d.session, false);
            }
            Some(Role::Probe(p)) => {
                // Never spoke a full line: an empty data connection of a waiting session?
                let _ = p;
                if let Some(sid) = self.session_wanting_data(meta.client.ip(), meta.server.ip()) {
                    if !self.is_ftp_port(meta.server.port()) {
                        self.new_data(meta, sid, None, false);
                        if let Some(s) = self.sessions.get_mut(&sid) {
                            let t = s.transfers.len() - 1;
                            s.close_data(
                                t,
                                sum.end,
                                sum.seq_bytes[0] + sum.seq_bytes[1],
                                sum.captured_bytes[0] + sum.captured_bytes[1],
                            );
                        }
                        self.roles.remove(&meta.id);
                        role_name = Some("ftp-data");
                        owner = Some((sid, false));
                    }
                }
            }
            _ => {}
        }
        if let Some((session, control)) = owner.filter(|(s, _)| self.collect.contains(s)) {
            if self.spans.len() == MAX_COLLECTED_CONNECTIONS {
                self.errors.push(format!(
                    "more than {MAX_COLLECTED_CONNECTIONS} connections in the chosen sessions; the rest are left out"
                ));
            }
            if self.spans.len() <= MAX_COLLECTED_CONNECTIONS {
                self.spans.push(ConnSpan {
                    session,
                    control,
                    client: meta.client,
                    server: meta.server,
                    start: meta.start,
                    end: sum.end,
                });
            }
        }
        if self.conn_list.len() < MAX_CONN_LIST {
            self.conn_list.push(model::TcpConnection {
                id: meta.id,
                client: ep(meta.client),
                server: ep(meta.server),
                start: Time::new(meta.start, self.digits),
                end: Time::new(sum.end, self.digits),
                packets: sum.packets,
                bytes_to_server: sum.seq_bytes[0],
                bytes_to_client: sum.seq_bytes[1],
                captured_to_server: sum.captured_bytes[0],
                captured_to_client: sum.captured_bytes[1],
                close,
                role: role_name,
            });
        }
    }
}

fn hex(b: &[u8]) -> String {
    use std::fmt::Write as _;
    let mut s = String::with_capacity(b.len() * 2);
    for x in b {
        let _ = write!(s, "{x:02x}");
    }
    s
}

/// The whole analysis: feed packets, then [`Analyzer::finish`].
pub struct Analyzer<'a> {
    decoder: Decoder,
    tcp: TcpTracker,
    ftp: Ftp<'a>,
}

impl<'a> Analyzer<'a> {
    pub fn new(opts: Options, sink: Option<SessionSink<'a>>) -> Self {
        let mut ports = vec![21];
        ports.extend(opts.ports.iter().copied());
        let mut carve_errors = Vec::new();
        let carver =
            opts.extract
                .as_ref()
                .and_then(|dir| match Carver::new(dir, opts.extract_limits) {
                    Ok(c) => Some(c),
                    Err(e) => {
                        carve_errors.push(e.to_string());
                        None
                    }
                });
        Analyzer {
            decoder: Decoder::new(),
            tcp: TcpTracker::new(TcpLimits::default(), ports),
            ftp: Ftp {
                opts,
                digits: 0,
                sessions: HashMap::default(),
                next_session: 1,
                roles: HashMap::default(),
                expect: HashMap::default(),
                done: Vec::new(),
                sink,
                conn_list: Vec::new(),
                stats: Stats::default(),
                failures: HashMap::new(),
                anomalies: Vec::new(),
                errors: Vec::new(),
                carver,
                carve_errors,
                carved: HashMap::default(),
                collect: Vec::new(),
                spans: Vec::new(),
            },
        }
    }

    /// Sub-second digits for times (the capture's precision).
    /// The capture's precision only grows (a pcapng interface block may come late); 0 means
    /// not known yet. Every time in the report is written with the final value.
    pub fn set_digits(&mut self, digits: u8) {
        if digits > self.ftp.digits {
            self.ftp.digits = digits;
        }
    }

    pub fn packet(&mut self, pkt: &Packet<'_>) {
        let st = &mut self.ftp.stats;
        st.packets += 1;
        st.bytes += pkt.orig_len as u64;
        match self.decoder.decode(pkt) {
            Decoded::Tcp(seg) => self.tcp.segment(pkt.ts, &seg, &mut self.ftp),
            Decoded::NotTcp => self.ftp.stats.non_tcp_packets += 1,
            Decoded::Fragment => {}
            Decoded::Undecodable => self.ftp.stats.undecodable_packets += 1,
        }
    }

    /// Read a whole source; input errors are returned (and analysis goes on past them).
    pub fn run(
        &mut self,
        src: &mut dyn PacketSource,
        on_error: impl FnMut(&crate::capture::CaptureError),
    ) {
        self.run_with(src, on_error, |_| true);
    }

    /// [`Analyzer::run`] that also calls `every` each 4096 records (progress, cancelling):
    /// reading stops early when it returns false.
    pub fn run_with(
        &mut self,
        src: &mut dyn PacketSource,
        mut on_error: impl FnMut(&crate::capture::CaptureError),
        mut every: impl FnMut(&dyn PacketSource) -> bool,
    ) {
        let mut n: u64 = 0;
        loop {
            // The capture's precision, known from its header before its packets (a
            // field read and a compare): times are written with it from the first one.
            self.set_digits(src.ts_digits());
            match src.next_packet() {
                Ok(Some(pkt)) => self.packet(&pkt),
                Ok(None) => break,
                Err(e) => {
                    on_error(&e);
                    self.ftp.errors.push(e.to_string());
                }
            }
            n += 1;
            if n & 0xfff == 0 && !every(src) {
                break;
            }
        }
    }

    /// Record the TCP connections of these sessions (control and data) as they end; they
    /// come back from [`Analyzer::finish_with_connections`]. Call before the first packet.
    pub fn collect_connections(&mut self, sessions: &[u64]) {
        self.ftp.collect = sessions.to_vec();
    }

    /// Record an input problem found outside `run` (e.g. an unopenable file).
    pub fn error(&mut self, msg: String) {
        self.ftp.errors.push(msg);
    }

    /// End of input: finish every connection and session, and build the report.
    pub fn finish(self) -> Report {
        self.finish_with_connections().0
    }

    /// [`Analyzer::finish`], and the connections of the sessions named in
    /// [`Analyzer::collect_connections`], in the order they ended.
    pub fn finish_with_connections(mut self) -> (Report, Vec<ConnSpan>) {
        self.decoder.finish();
        self.tcp.finish_all(&mut self.ftp);
        let ids: Vec<u64> = {
            let mut v: Vec<u64> = self.ftp.sessions.keys().copied().collect();
            v.sort_unstable();
            v
        };
        for id in ids {
            if let Some(s) = self.ftp.sessions.get_mut(&id) {
                s.control_closed = true;
            }
            self.ftp.maybe_finish(id, true);
        }
        let ds = self.decoder.stats();
        let mut f = self.ftp;
        f.stats.tcp_connections = self.tcp.connections_seen();
        f.stats.ip_fragments = ds.fragments;
        f.stats.ip_reassembled = ds.reassembled;
        let mut sessions = std::mem::take(&mut f.done);
        // Every time with the capture's final precision.
        let digits = f.digits;
        for a in f.anomalies.iter_mut() {
            a.ts.digits = digits;
        }
        for c in f.conn_list.iter_mut() {
            c.start.digits = digits;
            c.end.digits = digits;
        }
        for s in sessions.iter_mut() {
            s.set_time_digits(digits);
        }
        // Cross-session findings stand in every session they involve.
        for a in &f.anomalies {
            for s in sessions.iter_mut().filter(|s| a.sessions.contains(&s.id)) {
                if !s
                    .anomalies
                    .iter()
                    .any(|x| x.kind == a.kind && x.detail == a.detail)
                {
                    s.anomalies.push(a.clone());
                }
            }
        }
        // Ids were given once, when each session was recognised (every format agrees).
        sessions.sort_by_key(|s| s.id);
        f.conn_list.sort_by_key(|c| c.id);
        let extract = f.opts.extract.as_ref().map(|dir| {
            let mut sum = match f.carver.take() {
                Some(c) => c.finish(),
                None => carve::Summary::default(),
            };
            sum.errors.splice(0..0, f.carve_errors.drain(..));
            model::ExtractSummary {
                dir: dir.display().to_string(),
                manifest: (!sum.manifest.as_os_str().is_empty())
                    .then(|| sum.manifest.display().to_string()),
                files: sum.files,
                bytes: sum.bytes,
                errors: sum.errors,
            }
        });
        let mut spans = std::mem::take(&mut f.spans);
        spans.truncate(MAX_COLLECTED_CONNECTIONS);
        let report = Report {
            extract,
            schema: "ftptrace/1",
            sessions,
            anomalies: f.anomalies,
            stats: f.stats,
            tcp_connections: f.conn_list,
            errors: f.errors,
        };
        (report, spans)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::capture::FileSource;

    fn run(sample: &str, collect: &[u64]) -> (Report, Vec<ConnSpan>) {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/samples/").to_string() + sample;
        let mut src = FileSource::open(&path).unwrap();
        let mut an = Analyzer::new(Options::default(), None);
        an.collect_connections(collect);
        an.run(&mut src, |e| panic!("{e}"));
        an.finish_with_connections()
    }

    #[test]
    fn collects_the_control_and_data_connections_of_the_chosen_session() {
        let (r, spans) = run("documented-active.pcap", &[1]);
        let s = &r.sessions[0];
        assert_eq!(spans.len(), 1 + s.transfers.len());
        let control: Vec<&ConnSpan> = spans.iter().filter(|c| c.control).collect();
        assert_eq!(control.len(), 1);
        assert_eq!(control[0].server.port(), 21);
        assert_eq!(control[0].client.port(), s.client.port);
        for c in &spans {
            assert_eq!(c.session, 1);
            // the same connection, first and last packet, as the report lists it
            let listed = r
                .tcp_connections
                .iter()
                .find(|t| t.client.port == c.client.port() && t.server.port == c.server.port())
                .expect("listed");
            assert_eq!(listed.start.ts, c.start);
            assert_eq!(listed.end.ts, c.end);
        }
        for t in &s.transfers {
            assert!(spans.iter().any(|c| !c.control
                && c.client.port() == t.data_client.port
                && c.server.port() == t.data_server.port));
        }
    }

    #[test]
    fn collects_nothing_for_other_sessions_or_by_default() {
        assert!(run("documented-active.pcap", &[2]).1.is_empty());
        assert!(run("documented-active.pcap", &[]).1.is_empty());
        let (_, spans) = run("parallel-4.pcap", &[3]);
        assert_eq!(spans.len(), 3);
        assert!(spans.iter().all(|c| c.session == 3));
    }
}
