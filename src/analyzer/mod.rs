//! The pipeline: packets → decode → TCP tracking → FTP sessions and data connections → Report.
//!
//! Its rooms: `dispatch` (TCP callbacks → connection roles), `probe` (connections not yet
//! known to be FTP), `expect` (the table of announced data ports, capped and expiring),
//! `transfer` (data payload: TLS check, listings, hashes, carving; untied connections),
//! `detect` (cross-session findings: failed logins), `finish` (the report at the end); this
//! file holds the state they share and the session lifecycle (ids, holding, lingering TLS).

pub mod detect;
mod dispatch;
pub mod document;
pub mod expect;
mod finish;
mod probe;
mod transfer;

pub(crate) use finish::port_scan_finding;
use transfer::{hex, place_untied};

use crate::capture::{Packet, PacketSource, Timestamp};
use crate::carve::{self, Carver, Piece};
use crate::digest::{Hasher, Job};
use crate::ftp::ids::{FinalIds, IdBook};
use crate::ftp::names::{NameBook, Resolution};
use crate::ftp::probes::ProbeBook;
use crate::ftp::session::{self, ep, Session, Setup};
use crate::ftp::tls;
use crate::ftp::{listing, parse};
use crate::model::{self, Anomaly, Close, EventKind, Report, Side, Stats, Time};
use crate::net::decode::{Decoded, Decoder};
use crate::net::fasthash::FastState;
use crate::net::reassembly::Chunk;
use crate::net::reorder::ReorderWindow;
use crate::net::tcp::{
    CloseKind, ConnId, ConnMeta, ConnSummary, Dir, Interest, TcpEvent, TcpHandler, TcpLimits,
    TcpTracker,
};
use crate::net::zone::{Zone, ZoneNames};
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, HashMap, VecDeque};
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
    /// How long a hole the receiver acknowledged waits for a reordered segment.
    pub reorder: ReorderWindow,
    /// Ignore VLAN IDs and tunnel identities (VNI, GRE key, ERSPAN session) in flow keys:
    /// for span setups that tag each direction of a connection differently.
    pub ignore_tunnel_ids: bool,
    /// Most TCP connections tracked at once (0: [`crate::net::tcp::MAX_CONNECTIONS`]).
    pub max_connections: usize,
    /// Per-session bounds (commands, events, pending commands, transfers, anomalies).
    pub session_limits: session::Limits,
    /// Bounds of the table of announced data ports.
    pub expect_limits: expect::Limits,
    /// Bounds of the failed-login tally.
    pub detect_limits: detect::Limits,
    /// Most finished sessions kept for the report when there is no sink (0: all);
    /// `sniff` keeps [`MAX_SNIFF_SESSIONS`] for its final table or HTML.
    pub max_sessions: usize,
    /// Leave the report's `tcp_connections` list empty (formats that do not print it):
    /// up to [`MAX_CONN_LIST`] entries, ~17 MB, not kept.
    pub skip_tcp_connections: bool,
}

/// Most finished sessions `sniff` keeps for its final table/HTML/JSON (a live capture has
/// no end); beyond it the oldest is left out (`stats.limits.max_sessions`, a top-level
/// `limit_reached` finding). The streaming formats keep none.
pub const MAX_SNIFF_SESSIONS: usize = 100_000;

/// Where finished sessions go as soon as they end (JSONL); `None` keeps them for the Report.
pub type SessionSink<'a> = Box<dyn FnMut(model::Session) + 'a>;

/// Most bytes a connection's first lines are looked at to recognise FTP on any port.
const PROBE_BYTES: usize = 1024;
/// Most TCP events kept for a connection not yet recognised.
const PROBE_EVENTS: usize = 16;
/// Most TCP connections listed in the report (all are counted).
pub const MAX_CONN_LIST: usize = 100_000;
/// Most connections recorded while [`Analyzer::collect_connections`] is on (every FTP
/// connection is kept until the final session ids are known; beyond it, an input error).
pub const MAX_COLLECTED_CONNECTIONS: usize = 1_000_000;
/// The implicit FTPS control port (RFC 4217 section 11 / IANA "ftps"): TLS from the first byte.
pub const IMPLICIT_FTPS_PORT: u16 = 990;
/// How long after a TLS session's last control packet a new data connection between its
/// hosts may still be tied to it by hosts and time (its PASV/PORT was encrypted). This also
/// keeps a TLS session open that long after its control connection ended.
pub const TLS_DATA_GRACE_NS: i64 = 10_000_000_000;
/// Most TLS sessions kept open after their control connection ended, waiting out
/// [`TLS_DATA_GRACE_NS`]; beyond it the oldest is finished at once (`stats.tls_linger_evictions`).
pub const MAX_LINGERING_TLS_SESSIONS: usize = 256;
/// Most finished sessions held back from the JSONL sink while an older connection on an
/// FTP port is still undecided (session or probe); beyond it that one is taken for a probe.
pub const MAX_HELD_SESSIONS: usize = 4096;
/// Longest (capture time) a finished session is held back for an older undecided
/// connection on an FTP port (a SYN nobody answered); then that one is taken for a probe,
/// so that JSONL from a live capture is never stalled for long.
pub const MAX_HOLD_NS: i64 = 30 * 1_000_000_000;
/// Most data-channel listeners remembered after their session ended (to recognise a
/// data connection to an announced port that no live session expects any more).
pub const MAX_ANNOUNCED_HISTORY: usize = 4096;
/// Most host pairs remembered as having had an FTP session (to place untied data
/// connections in the session of their hosts).
pub const MAX_SESSION_HOSTS: usize = 65_536;
/// Most untied data connections kept as transfers (all are counted).
const MAX_UNTIED_TRANSFERS: usize = 100_000;
/// Most connections with payload kept undecided until the end of the capture (nothing yet
/// says they are FTP data, but a session or an announcement seen later may); beyond it,
/// such a connection counts as `other` at once.
const MAX_UNDECIDED: usize = 4096;

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

/// A connection not yet known to be FTP: its first bytes and TCP events, kept until it is.
struct Probe {
    buf: [Vec<u8>; 2],
    events: Vec<(Timestamp, Dir, TcpEvent)>,
    /// On an FTP port: the session id reserved at its first packet and its orientation;
    /// it becomes a session with its first byte, or a probe if it never carries one.
    reserved: Option<Reserved>,
}

#[derive(Clone, Copy)]
struct Reserved {
    id: u64,
    client_is_tcp_client: bool,
}

struct DataConn {
    session: u64,
    transfer: usize,
    /// Tied by an announcement (PORT/PASV/EPRT/EPSV/LPRT/LPSV), not by hosts alone.
    tied: bool,
    /// TCP client of the data connection is the FTP client.
    connector_is_client: bool,
    hash: Option<Job>,
    /// Its first payload bytes were looked at for TLS records.
    tls_checked: bool,
    /// It carries TLS records: no hash, nothing extracted; its records are followed per
    /// direction [to server, to client] to count the payload apart from the handshake.
    encrypted: bool,
    records: Option<Box<[tls::RecordStream; 2]>>,
    /// With `--extract`: each direction's payload until the end tells which one it is.
    pieces: [Option<Piece>; 2],
    /// A listing's payload (bounded by `listing::MAX_LISTING_BYTES`), read at the end.
    listing: Option<ListingBuf>,
    /// Whether the transfer's command was looked at for a listing (once, at its first byte).
    listing_checked: bool,
}

struct ListingBuf {
    style: parse::ListingStyle,
    /// The direction its bytes come in.
    dir: Dir,
    bytes: Vec<u8>,
    cut: bool,
}

/// A connection with payload that is not FTP control and that no session took as its
/// data connection when it was classified: hashed as it runs so that at its end, if it
/// looks like FTP data (port 20, an announced port, the hosts of a session), it can stand
/// as an untied transfer.
struct Loose {
    hash: Option<Job>,
    segments: u64,
}

/// An untied data connection seen outside any session, with the host pair that may
/// place it in a session at the end.
struct Untied {
    conn: ConnId,
    /// The connection's SYN was seen: its client is the data connection's connector.
    saw_syn: bool,
    /// Payload bytes towards the TCP server and towards the TCP client.
    seq_bytes: [u64; 2],
    hosts: (IpAddr, IpAddr),
    /// Client and server ends (for [`Ftp::looks_like_data`] at the end of the capture).
    ends: (SocketAddr, SocketAddr),
    t: model::Transfer,
}

enum Role {
    Control {
        session: u64,
        client_is_tcp_client: bool,
    },
    Data(Box<DataConn>),
    Probe(Box<Probe>),
    Loose(Box<Loose>),
    /// A DNS-over-TCP connection (port 53): its messages feed the server names like UDP
    /// ones. One stream per direction.
    Dns(Box<[crate::net::dns::TcpStream; 2]>),
}

/// The FTP layer on top of TCP.
struct Ftp<'a> {
    opts: Options,
    digits: u8,
    sessions: HashMap<u64, Session, FastState>,
    ids: IdBook,
    /// Connections that never carried a byte, and port scans.
    probes: ProbeBook,
    /// Finished sessions waiting for their final id before going to the sink (or the report).
    held: BTreeMap<u64, (Timestamp, model::Session)>,
    /// Final id of every written session by its reserved id (top-level findings name
    /// sessions by reserved id until the end), as runs: one for a capture without probes.
    final_ids: FinalIds,
    /// Latest end of a closed connection (when findings about limits are dated).
    last_close: Timestamp,
    /// Sessions whose reserved id had been given up early (a hold bound was hit).
    late_sessions: u64,
    roles: HashMap<ConnId, Role, FastState>,
    /// Announced data-channel listeners (in the control connection's segment) →
    /// (session, setup), bounded and expiring.
    expect: expect::Expectations,
    /// Finished sessions kept for the report (bounded by `opts.max_sessions`, oldest out).
    done: VecDeque<model::Session>,
    /// Finished sessions left out of `done` at its bound.
    sessions_left_out: u64,
    sink: Option<SessionSink<'a>>,
    /// With `--hash`: the SHA-256 of data connections, on a thread beside parsing.
    hasher: Option<Hasher>,
    conn_list: Vec<model::TcpConnection>,
    stats: Stats,
    /// Failed logins per (client ip, server ip), bounded and expiring.
    failures: detect::Detector,
    /// The `login_bruteforce` finding each live session is part of (by index in
    /// `anomalies`), for the reference a JSONL session carries.
    session_findings: HashMap<u64, usize, FastState>,
    anomalies: Vec<Anomaly>,
    errors: Vec<String>,
    /// TLS sessions whose control connection ended, waiting for late data connections until
    /// their deadline (oldest first; bounded by MAX_LINGERING_TLS_SESSIONS).
    lingering: VecDeque<(Timestamp, u64)>,
    /// With `--extract`: the directory's writer.
    carver: Option<Carver>,
    /// `--extract` problems found before any payload (the directory is unusable).
    carve_errors: Vec<String>,
    /// Payloads of ended data connections, named when their session ends.
    carved: HashMap<(u64, usize), Piece, FastState>,
    /// Data-channel listeners announced, newest last (bounded by [`MAX_ANNOUNCED_HISTORY`]).
    announced: std::collections::VecDeque<SocketAddr>,
    /// Host pairs (ordered low, high) that had a session, with the first session's id.
    session_hosts: HashMap<(IpAddr, IpAddr), u64, FastState>,
    /// Most host pairs in `session_hosts` ([`MAX_SESSION_HOSTS`]), and the sessions whose
    /// new pair found it full (`stats.limits.max_session_hosts`).
    max_session_hosts: usize,
    session_hosts_full: u64,
    /// Untied data connections not (yet) placed in a session, and candidates.
    untied: Vec<Untied>,
    /// Candidates in `untied` that did not look like FTP data when they ended.
    undecided: usize,
    /// Candidates taken out of `untied` early (placed in a session of the streamed
    /// document): they count against [`MAX_UNTIED_TRANSFERS`] as if still there.
    untied_placed: usize,
    /// The `--format json` document streamed in id order ([`Analyzer::document`]).
    doc: Option<Box<document::Document>>,
    /// Passive listeners an FXP transfer was set up to (bounded by
    /// [`MAX_ANNOUNCED_HISTORY`]): another host connecting there is no hijack.
    fxp_listeners: std::collections::VecDeque<SocketAddr>,
    /// Names of the VLAN / tunnel zones seen, filled by the decoder.
    zone_names: ZoneNames,
    /// Zone of each session whose control connection is in one (not the plain zone 0).
    session_zones: HashMap<u64, Zone, FastState>,
    /// Sessions whose connections are recorded in `spans`.
    collect: Vec<u64>,
    spans: Vec<ConnSpan>,
    /// Recent DNS answers in the capture.
    names: NameBook,
    /// The lookup that named each live session's server (when one did).
    session_names: HashMap<u64, Resolution, FastState>,
    /// A part of a split analysis (`--shard`, `--threads`): when it decided what, and
    /// session ids that are keys of the whole input (see [`crate::shard::Trace`]).
    trace: Option<Box<crate::shard::Trace>>,
}

/// A host pair in a fixed order (lower address first).
fn host_pair(a: IpAddr, b: IpAddr) -> (IpAddr, IpAddr) {
    if a <= b {
        (a, b)
    } else {
        (b, a)
    }
}

impl<'a> Ftp<'a> {
    /// With a trace: remember the key at which session id `id` was reserved or taken.
    fn id_key(&mut self, id: u64, conn: ConnId) {
        if let Some(t) = self.trace.as_mut() {
            let k = t.key(conn);
            t.reserved_at.insert(id, k);
        }
    }

    fn is_ftp_port(&self, p: u16) -> bool {
        p == 21 || p == IMPLICIT_FTPS_PORT || self.opts.ports.contains(&p)
    }

    fn side(client_is_tcp_client: bool, dir: Dir) -> Side {
        match (client_is_tcp_client, dir) {
            (true, Dir::ToServer) | (false, Dir::ToClient) => Side::Client,
            _ => Side::Server,
        }
    }

    fn new_session(&mut self, meta: &ConnMeta, client_is_tcp_client: bool, id: u64) -> u64 {
        self.stats.ftp_sessions += 1;
        let (c, s) = if client_is_tcp_client {
            (meta.client, meta.server)
        } else {
            (meta.server, meta.client)
        };
        let sess = Session::new(id, c, s, meta.start, self.digits, self.opts.show_passwords)
            .with_limits(self.opts.session_limits);
        if meta.zone != Zone::default() {
            self.session_zones.insert(id, meta.zone);
        }
        if let Some(r) = self.names.lookup(c.ip(), s.ip(), meta.start) {
            self.session_names.insert(id, r.clone());
        }
        self.sessions.insert(id, sess);
        let pair = host_pair(c.ip(), s.ip());
        if self.session_hosts.len() < self.max_session_hosts {
            self.session_hosts.entry(pair).or_insert(id);
        } else if !self.session_hosts.contains_key(&pair) {
            self.session_hosts_full += 1;
        }
        self.roles.insert(
            meta.id,
            Role::Control {
                session: id,
                client_is_tcp_client,
            },
        );
        id
    }

    /// A DNS message (a UDP datagram, or one cut from a TCP stream) to or from port 53:
    /// remember what its answer resolved.
    fn dns(&mut self, ts: Timestamp, d: &crate::net::DnsDatagram<'_>) {
        if let Some(msg) = crate::net::dns::parse(d.payload) {
            self.names.datagram(ts, d, &msg);
            self.stats.dns_messages += 1;
        }
    }

    /// Look up an expectation for a connection to `listener`.
    fn expectation(&self, zone: Zone, listener: SocketAddr) -> Option<(u64, Setup)> {
        self.expect
            .get(zone, listener)
            .filter(|(s, _)| self.sessions.contains_key(s))
    }

    fn new_data(
        &mut self,
        meta: &ConnMeta,
        session: u64,
        setup: Option<Setup>,
        swap: bool,
    ) -> bool {
        self.new_data_tied(meta, session, setup, swap, false)
    }

    /// A data connection of `session`; `timing`: tied by hosts and time (TLS session).
    /// False when the session keeps no more transfers (counted there): the connection
    /// is then followed no further.
    fn new_data_tied(
        &mut self,
        meta: &ConnMeta,
        session: u64,
        setup: Option<Setup>,
        swap: bool,
        timing: bool,
    ) -> bool {
        let (connector, listener) = if swap {
            (meta.server, meta.client)
        } else {
            (meta.client, meta.server)
        };
        let Some(sess) = self.sessions.get_mut(&session) else {
            return false;
        };
        if !sess.room_for_transfer(meta.start) {
            self.roles.remove(&meta.id);
            return false;
        }
        let transfer = if timing {
            sess.open_data_timing(meta.start, connector, listener)
        } else {
            sess.open_data(meta.start, connector, listener, setup)
        };
        let connector_is_client = sess.connector_is_client(transfer);
        self.stats.data_connections += 1;
        if timing {
            self.stats.timing_data_connections += 1;
        } else if setup.is_none() {
            self.stats.unmatched_data_connections += 1;
        }
        let hash = self.hasher.as_mut().and_then(Hasher::start);
        self.roles.insert(
            meta.id,
            Role::Data(Box::new(DataConn {
                session,
                transfer,
                tied: setup.is_some(),
                connector_is_client,
                hash,
                tls_checked: false,
                encrypted: false,
                records: None,
                pieces: [None, None],
                listing: None,
                listing_checked: false,
            })),
        );
        true
    }

    /// The TLS session a new connection between hosts `a` and `b` at `ts` belongs to: one
    /// whose control connection is encrypted, between the same hosts, started before `ts`
    /// and active within TLS_DATA_GRACE_NS of it. Several: the most recently active one.
    /// Also returns how many TLS sessions qualified (more than one: the tie is a guess).
    /// Sessions whose control connection is still open come before those lingering after
    /// its end; among them, the most recently active control connection wins.
    fn tls_session_for(&self, meta: &ConnMeta) -> Option<(u64, usize)> {
        if !could_be_data(meta) {
            return None;
        }
        let (a, b, ts) = (meta.client.ip(), meta.server.ip(), meta.start);
        let mut best: Option<(bool, Timestamp, std::cmp::Reverse<u64>)> = None;
        let mut n = [0usize; 2];
        for s in self.sessions.values() {
            let (c, v) = (s.client().ip(), s.server().ip());
            if ((c == a && v == b) || (c == b && v == a))
                && s.control_encrypted()
                && s.start() <= ts
                && ts.0 <= s.end().0.saturating_add(TLS_DATA_GRACE_NS)
            {
                let open = !s.control_closed();
                n[open as usize] += 1;
                let key = (open, s.end(), std::cmp::Reverse(s.id()));
                if best.is_none_or(|b| key > b) {
                    best = Some(key);
                }
            }
        }
        best.map(|(open, _, std::cmp::Reverse(id))| (id, n[open as usize]))
    }

    /// A live session between these two hosts that is waiting for a data connection.
    fn session_wanting_data(&self, a: IpAddr, b: IpAddr) -> Option<u64> {
        self.sessions
            .values()
            .filter(|s| {
                let (c, v) = (s.client().ip(), s.server().ip());
                ((c == a && v == b) || (c == b && v == a)) && s.wants_data()
            })
            .map(|s| s.id())
            .min()
    }

    /// The live session between these two hosts a data connection nobody announced
    /// belongs to: the oldest one waiting for a data connection, else the oldest one.
    fn session_for_data(&self, a: IpAddr, b: IpAddr) -> Option<u64> {
        self.session_wanting_data(a, b).or_else(|| {
            self.sessions
                .values()
                .filter(|s| {
                    let (c, v) = (s.client().ip(), s.server().ip());
                    (c == a && v == b) || (c == b && v == a)
                })
                .map(|s| s.id())
                .min()
        })
    }

    /// Whether a connection no session took looks like FTP data: from or to port 20, to
    /// a port a PORT/PASV/EPRT/EPSV announced, or between the hosts of a session (decided
    /// at the end of the capture, so that a session or an announcement seen later counts).
    /// A connection to a well-known service port (HTTPS, SSH: below 1024, but for 20 and
    /// 989) between a session's hosts is that service, not FTP data.
    fn looks_like_data(&self, client: SocketAddr, server: SocketAddr) -> bool {
        client.port() == 20
            || server.port() == 20
            || self.announced.contains(&server)
            || self.announced.contains(&client)
            || (ports_could_be_data(client.port(), server.port())
                && self
                    .session_hosts
                    .contains_key(&host_pair(client.ip(), server.ip())))
    }

    fn tcp_event(&mut self, meta: &ConnMeta, ts: Timestamp, dir: Dir, ev: TcpEvent) {
        match self.roles.get_mut(&meta.id) {
            Some(Role::Control {
                session,
                client_is_tcp_client,
            }) => {
                let side = Self::side(*client_is_tcp_client, dir);
                if let Some(s) = self.sessions.get_mut(session) {
                    s.event(ts, 0, side, EventKind::Tcp, ev.as_str());
                }
            }
            Some(Role::Data(d)) => {
                let side = Self::side(d.connector_is_client, dir);
                if let Some(s) = self.sessions.get_mut(&d.session) {
                    s.event(ts, d.transfer + 1, side, EventKind::Tcp, ev.as_str());
                }
            }
            Some(Role::Probe(p)) if p.events.len() < PROBE_EVENTS => {
                p.events.push((ts, dir, ev));
            }
            _ => {}
        }
    }

    /// Hand held sessions to the sink once their final ids are settled.
    fn release_held(&mut self) {
        loop {
            while let Some((&id, _)) = self.held.first_key_value() {
                let Some(fid) = self.ids.final_id(id) else {
                    break;
                };
                let (_, mut m) = self.held.pop_first().expect("present").1;
                self.ids.forget(id);
                // A part of a split analysis numbers sessions by the key of their id.
                let fid = match self.trace.as_mut() {
                    Some(t) => t.reserved_at.remove(&id).unwrap_or(fid),
                    None => fid,
                };
                self.final_ids.insert(id, fid);
                m.id = fid;
                for a in m.anomalies.iter_mut() {
                    for x in a.sessions.iter_mut() {
                        *x = self.final_ids.get(*x).unwrap_or(*x);
                    }
                }
                // Carved files are named with the id every format gives the session.
                self.carve(&mut m, id);
                if self.doc.is_some() {
                    self.doc_push(id, m);
                    continue;
                }
                match self.sink.as_mut() {
                    Some(sink) => sink(m),
                    None => {
                        if self.opts.max_sessions > 0 && self.done.len() >= self.opts.max_sessions {
                            self.done.pop_front();
                            self.sessions_left_out += 1;
                        }
                        self.done.push_back(m);
                    }
                }
            }
            if self.held.len() <= MAX_HELD_SESSIONS || self.ids.force_oldest().is_none() {
                break;
            }
        }
    }

    /// Sessions held back longer than [`MAX_HOLD_NS`] at `now`: give up the reservations
    /// that hold them.
    fn release_stale(&mut self, now: Timestamp) {
        while let Some((_, (since, _))) = self.held.first_key_value() {
            if now.0.saturating_sub(since.0) <= MAX_HOLD_NS || self.ids.force_oldest().is_none() {
                break;
            }
            self.release_held();
        }
    }

    /// Register the setups a session announced since last time.
    fn drain_setups(&mut self, id: u64, zone: Zone) {
        let Some(s) = self.sessions.get_mut(&id) else {
            return;
        };
        let client = s.client();
        let setups = s.take_new_setups();
        for setup in setups {
            if self.announced.len() >= MAX_ANNOUNCED_HISTORY {
                self.announced.pop_front();
            }
            self.announced.push_back(setup.listener);
            if let Some(t) = self.trace.as_mut() {
                t.announcements += 1;
            }
            if setup.names_other_host(client) {
                // FXP: the passive listener another session of this client opened there.
                if let Some(t) = self.trace.as_mut() {
                    t.look_up(zone, setup.listener);
                }
                let fxp = self
                    .expectation(zone, setup.listener)
                    .filter(|(sid, other)| *sid != id && other.mode == model::Mode::Passive)
                    .and_then(|(sid, _)| self.sessions.get(&sid))
                    .filter(|o| o.client().ip() == client.ip())
                    .map(|o| (o.id(), o.server()));
                if let Some(s) = self.sessions.get_mut(&id) {
                    s.foreign_port(&setup, fxp);
                }
                if let Some((other, _)) = fxp {
                    let server = self.sessions.get(&id).map(|s| s.server());
                    if let (Some(o), Some(server)) = (self.sessions.get_mut(&other), server) {
                        o.anomaly(
                            setup.ts,
                            model::AnomalyKind::Fxp,
                            format!(
                                "session {id} of the same client has {} send to this \
                                 session's passive listener {}: a server-to-server transfer",
                                server.ip(),
                                setup.listener
                            ),
                        );
                    }
                    if self.fxp_listeners.len() >= MAX_ANNOUNCED_HISTORY {
                        self.fxp_listeners.pop_front();
                    }
                    self.fxp_listeners.push_back(setup.listener);
                    // The data connection is tied to the passive side's session.
                    continue;
                }
            }
            if let Some(t) = self.trace.as_mut() {
                t.announce(zone, setup.listener);
                t.announce(zone, setup.announced);
            }
            let limit = self.expect.limits().per_session as u64;
            let epoch = self.sessions.get(&id).map_or(0, |s| s.data_commands());
            for (sid, why) in self.expect.announce(zone, id, setup, epoch) {
                match why {
                    expect::Forgotten::TableCap => {
                        *self
                            .stats
                            .limits
                            .entry(model::Limit::MaxExpectationsTotal)
                            .or_default() += 1;
                    }
                    _ => {
                        if let Some(s) = self.sessions.get_mut(&sid) {
                            s.expectation_forgotten(setup.ts, false, limit);
                        }
                    }
                }
            }
        }
    }

    /// Forget the announced data ports that waited longer than their timeout at `now`.
    fn expire_expectations(&mut self, now: Timestamp) {
        let secs = (self.expect.limits().timeout_ns / 1_000_000_000) as u64;
        let sessions = &self.sessions;
        let epoch_of = |sid| sessions.get(&sid).map_or(0, Session::data_commands);
        for (sid, _) in self.expect.expire(now, epoch_of) {
            if let Some(s) = self.sessions.get_mut(&sid) {
                s.expectation_forgotten(now, true, secs);
            }
        }
    }

    /// Finish a session if its control connection and all its data connections ended.
    fn maybe_finish(&mut self, id: u64, force: bool) {
        let ready = self
            .sessions
            .get(&id)
            .is_some_and(|s| s.ready_to_finish(force));
        if !ready {
            return;
        }
        if !force && self.linger(id) {
            return;
        }
        let s = self.sessions.remove(&id).expect("present");
        self.expect.end_session(id);
        let mut m = s.into_model();
        if let Some(d) = m.dropped {
            for (name, n) in d.by_limit() {
                if n > 0 {
                    *self.stats.limits.entry(name).or_default() += n;
                }
            }
        }
        if let Some(z) = self.session_zones.remove(&id) {
            m.segment = self.zone_names.get(z).map(str::to_string);
        }
        if let Some(r) = self.session_names.remove(&id) {
            dns_step(&mut m, &r, self.digits);
        }
        if self.sink.is_some() && self.doc.is_none() {
            m.set_time_digits(self.digits);
            // The cross-session finding known by now that involves this session
            // (a reference: the finding with its sessions stands once at top level).
            if let Some(a) = self
                .session_findings
                .get(&id)
                .and_then(|&i| self.anomalies.get(i).map(|a| a.reference(i)))
            {
                m.anomalies.push(a);
            }
        }
        self.session_findings.remove(&id);
        self.held.insert(m.id, (m.end.ts, m));
        self.release_held();
    }

    /// Keep a TLS session whose control connection ended open for late data connections
    /// (until TLS_DATA_GRACE_NS after its last control packet); true if it stays open.
    fn linger(&mut self, id: u64) -> bool {
        let Some(s) = self.sessions.get_mut(&id) else {
            return false;
        };
        let until = Timestamp(s.end().0.saturating_add(TLS_DATA_GRACE_NS));
        if !s.linger(until) {
            return false;
        }
        self.lingering.push_back((until, id));
        if let Some(t) = self.trace.as_mut() {
            t.lingered += 1;
        }
        if self.lingering.len() > MAX_LINGERING_TLS_SESSIONS {
            if let Some((_, old)) = self.lingering.pop_front() {
                self.stats.tls_linger_evictions += 1;
                self.maybe_finish(old, false);
            }
        }
        true
    }

    /// Finish the lingering TLS sessions whose grace ended before `now` (one compare when
    /// none did).
    fn expire_lingering(&mut self, now: Timestamp) {
        while let Some(&(until, id)) = self.lingering.front() {
            if until >= now {
                break;
            }
            self.lingering.pop_front();
            self.maybe_finish(id, false);
        }
    }

    fn login_failures(&mut self, id: u64) {
        let Some(s) = self.sessions.get(&id) else {
            return;
        };
        let next = self.anomalies.len();
        let failed = s.failed_logins();
        let found = self.failures.failed_logins(
            s.end(),
            s.client().ip(),
            s.server().ip(),
            id,
            failed,
            next,
        );
        let ts = s.end();
        if let Some(t) = self.trace.as_mut() {
            t.failure_pairs_peak = t.failure_pairs_peak.max(self.failures.len());
            if failed > 0 {
                t.failure_calls += 1;
                t.failure_first = t.failure_first.min(ts.0);
                t.failure_last = t.failure_last.max(ts.0);
            }
        }
        if failed > 0 && self.doc.is_some() {
            let (c, v) = (s.client().ip(), s.server().ip());
            self.doc_failed_logins(id, c, v);
        }
        match found {
            None => {}
            Some(detect::Finding::New { detail, sessions }) => {
                // Every session it names that has not ended yet refers to it.
                for x in &sessions {
                    if self.sessions.contains_key(x) {
                        self.session_findings.insert(*x, next);
                    }
                    if self.doc.is_some() {
                        self.doc_listed(*x, next);
                    }
                }
                if let Some(t) = self.trace.as_mut() {
                    t.findings.push(t.cur);
                }
                self.anomalies.push(Anomaly {
                    ts: Time::new(ts, self.digits),
                    kind: model::AnomalyKind::LoginBruteforce,
                    detail,
                    sessions,
                    finding: None,
                });
            }
            Some(detect::Finding::Update { index, detail, add }) => {
                if let Some(a) = self.anomalies.get_mut(index) {
                    a.detail = detail;
                    if let Some(x) = add {
                        a.sessions.push(x);
                    }
                    self.session_findings.insert(id, index);
                    if self.doc.is_some() {
                        self.doc_listed(id, index);
                    }
                }
            }
        }
    }
}

/// A connection to the DNS port (or, its start unseen, from it).
fn is_dns(meta: &ConnMeta) -> bool {
    let dns = crate::net::dns::DNS_PORT;
    meta.server.port() == dns || (!meta.saw_syn && meta.client.port() == dns)
}

/// Whether a connection's ports fit an FTP data connection: a passive listener on an
/// unprivileged port, or an active one from the server's data port (20; 989 for implicit
/// FTPS) — not SSH, HTTPS or other services between the same two hosts.
fn could_be_data(meta: &ConnMeta) -> bool {
    ports_could_be_data(meta.client.port(), meta.server.port())
}

/// A data connection's listener is on a port from 1024 up, or one end uses 20 or 989 (the
/// FTP and FTPS data ports).
fn ports_could_be_data(client: u16, server: u16) -> bool {
    server >= 1024 || [client, server].iter().any(|p| matches!(p, 20 | 989))
}

/// The top-level finding for a port scan: source, count, targets and time span.
/// Name the session's server after the lookup `r` and open its timeline with the query
/// and the answer (`conn: "dns"`).
fn dns_step(m: &mut model::Session, r: &Resolution, digits: u8) {
    let mut names = vec![r.name.as_str()];
    names.extend(r.chain.iter().map(String::as_str));
    let answer = format!("{} → {}", names.join(" → "), m.server.ip);
    let resolver = r.resolver.to_string();
    let mut evs = Vec::with_capacity(2);
    if let Some(q) = r.query_ts {
        evs.push(model::Event {
            ts: Time::new(q, digits),
            conn: model::Conn::Dns,
            from: Side::Client,
            kind: EventKind::Dns,
            what: format!("DNS query {} {}", r.qtype, r.name).into(),
            note: Some(format!("resolver {resolver}")),
        });
    }
    evs.push(model::Event {
        ts: Time::new(r.answer_ts, digits),
        conn: model::Conn::Dns,
        from: Side::Server,
        kind: EventKind::Dns,
        what: format!("DNS answer {answer}").into(),
        note: Some(format!("resolver {resolver}")),
    });
    m.timeline.splice(0..0, evs);
    m.server_name = Some(r.name.clone());
}

/// The whole analysis: feed packets, then [`Analyzer::finish`].
pub struct Analyzer<'a> {
    decoder: Decoder,
    tcp: TcpTracker,
    ftp: Ftp<'a>,
}

impl<'a> Analyzer<'a> {
    pub fn new(opts: Options, sink: Option<SessionSink<'a>>) -> Self {
        let mut ports = vec![21, IMPLICIT_FTPS_PORT];
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
        let hasher = opts.hash.then(Hasher::new);
        let mut decoder = Decoder::new();
        decoder.set_zones(!opts.ignore_tunnel_ids);
        let expect_limits = opts.expect_limits;
        let detect_limits = opts.detect_limits;
        Analyzer {
            decoder,
            tcp: TcpTracker::new(
                TcpLimits {
                    reorder: opts.reorder,
                    max_connections: match opts.max_connections {
                        0 => TcpLimits::default().max_connections,
                        n => n,
                    },
                    ..TcpLimits::default()
                },
                ports,
            ),
            ftp: Ftp {
                opts,
                digits: 0,
                sessions: HashMap::default(),
                ids: IdBook::default(),
                probes: ProbeBook::default(),
                held: BTreeMap::new(),
                final_ids: FinalIds::default(),
                last_close: Timestamp(0),
                late_sessions: 0,
                roles: HashMap::default(),
                expect: expect::Expectations::new(expect_limits),
                done: VecDeque::new(),
                sessions_left_out: 0,
                sink,
                hasher,
                conn_list: Vec::new(),
                stats: Stats::default(),
                failures: detect::Detector::new(detect_limits),
                session_findings: HashMap::default(),
                anomalies: Vec::new(),
                errors: Vec::new(),
                lingering: VecDeque::new(),
                carver,
                carve_errors,
                carved: HashMap::default(),
                announced: std::collections::VecDeque::new(),
                session_hosts: HashMap::default(),
                max_session_hosts: MAX_SESSION_HOSTS,
                session_hosts_full: 0,
                untied: Vec::new(),
                undecided: 0,
                untied_placed: 0,
                doc: None,
                fxp_listeners: std::collections::VecDeque::new(),
                zone_names: ZoneNames::default(),
                session_zones: HashMap::default(),
                collect: Vec::new(),
                spans: Vec::new(),
                names: NameBook::default(),
                session_names: HashMap::default(),
                trace: None,
            },
        }
    }

    /// Make this analysis a part of a split one (`--shard`, `--threads`): it records what
    /// it decided when, and numbers sessions by the key at which they were recognised
    /// (see [`crate::shard::Trace`]); [`Analyzer::set_stamp`] before each packet.
    /// `endpoints`: also record the data-channel endpoints announced and looked up (what
    /// the merge of `--threads` checks to see that no data connection crossed parts).
    pub fn traced(mut self, endpoints: bool) -> Self {
        self.ftp.trace = Some(Box::new(crate::shard::Trace {
            endpoints,
            ..Default::default()
        }));
        self
    }

    /// The 1-based number, over the whole input, of the packet given next (with a trace).
    /// `max_ts`: the latest capture time of the whole input so far.
    pub fn set_stamp(&mut self, n: u64, max_ts: i64) {
        if let Some(t) = self.ftp.trace.as_mut() {
            t.now = n;
            t.max_ts = max_ts;
        }
    }

    /// A packet of the input that another part analyses went by at `ts` (with a trace):
    /// lingering TLS sessions and announced data ports expire as they would have in a
    /// whole run (both in capture time, at every packet).
    pub fn tick(&mut self, ts: Timestamp) {
        if !self.ftp.lingering.is_empty() {
            self.ftp.expire_lingering(ts);
        }
        if self.ftp.expect.next_expiry().is_some_and(|t| ts > t) {
            self.ftp.expire_expectations(ts);
        }
    }

    /// [`Analyzer::finish`] of a traced part, after `packets` packets of the whole input.
    pub fn finish_traced(mut self, packets: u64) -> (Report, crate::shard::Trace) {
        if let Some(t) = self.ftp.trace.as_mut() {
            t.end_base = Some(packets);
        }
        let (report, _, trace) = self.finish_all_parts();
        (report, trace.map(|t| *t).unwrap_or_default())
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
        if !self.ftp.held.is_empty() {
            self.ftp.release_stale(pkt.ts);
        }
        if self.ftp.doc.as_mut().is_some_and(|d| d.tick(pkt.ts)) {
            self.ftp.doc_flush();
        }
        let st = &mut self.ftp.stats;
        st.packets += 1;
        st.bytes += pkt.orig_len as u64;
        match self
            .decoder
            .decode_named(pkt, Some(&mut self.ftp.zone_names))
        {
            Decoded::Tcp(seg) => self.tcp.segment(pkt.ts, &seg, &mut self.ftp),
            Decoded::Dns(d) => {
                self.ftp.stats.non_tcp_packets += 1;
                self.ftp.dns(pkt.ts, &d);
            }
            Decoded::NotTcp => self.ftp.stats.non_tcp_packets += 1,
            Decoded::Fragment => {}
            Decoded::Undecodable => self.ftp.stats.undecodable_packets += 1,
        }
        if !self.ftp.lingering.is_empty() {
            self.ftp.expire_lingering(pkt.ts);
        }
        if self.ftp.expect.next_expiry().is_some_and(|t| pkt.ts > t) {
            self.ftp.expire_expectations(pkt.ts);
        }
        if let Some(t) = self.ftp.trace.as_mut() {
            // What bounds over the whole run see of this part (their sums over the parts
            // bound what one whole run would have held).
            t.peak_connections = t.peak_connections.max(self.tcp.live());
            t.peak_lingering = t.peak_lingering.max(self.tcp.lingering());
            t.peak_closed_isns = t.peak_closed_isns.max(self.tcp.closed_isns());
            t.peak_buffered = t.peak_buffered.max(self.tcp.buffered());
            t.peak_expectations = t.peak_expectations.max(self.ftp.expect.len());
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

    /// Stream the `--format json` document: the sink gets each session in id order, in
    /// its final form, once nothing can change it any more (see [`document`]); the report
    /// from [`Analyzer::finish`] holds the sessions still waiting then. Needs a sink; call
    /// before the first packet.
    pub fn document(self) -> Self {
        self.document_bounded(document::MAX_DOCUMENT_HELD)
    }

    /// [`Analyzer::document`] that also sets `floor`, before each session goes to the sink,
    /// to a time that no session given later starts before (for outputs ordered by time:
    /// what is earlier than the floor can be written).
    pub fn document_floor(mut self, floor: std::rc::Rc<std::cell::Cell<Timestamp>>) -> Self {
        self = self.document();
        if let Some(d) = self.ftp.doc.as_mut() {
            d.floor = Some(floor);
        }
        self
    }

    /// [`Analyzer::document`] holding at most `max_held` finished sessions.
    pub fn document_bounded(mut self, max_held: usize) -> Self {
        if self.ftp.sink.is_some() {
            self.ftp.doc = Some(Box::new(document::Document::new(max_held)));
        }
        self
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
    fn the_connection_list_can_be_left_out_and_the_count_stays() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/samples/parallel-4.pcap");
        let report = |skip: bool| {
            let mut src = FileSource::open(path).unwrap();
            let opts = Options {
                skip_tcp_connections: skip,
                ..Options::default()
            };
            let mut an = Analyzer::new(opts, None);
            an.run(&mut src, |e| panic!("{e}"));
            an.finish()
        };
        let (kept, skipped) = (report(false), report(true));
        assert!(kept.tcp_connections.len() >= 8);
        assert!(skipped.tcp_connections.is_empty());
        assert_eq!(kept.stats.tcp_connections, skipped.stats.tcp_connections);
        assert_eq!(
            serde_json::to_string(&kept.sessions).unwrap(),
            serde_json::to_string(&skipped.sessions).unwrap()
        );
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
