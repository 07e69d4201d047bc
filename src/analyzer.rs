//! The pipeline: packets → decode → TCP tracking → FTP sessions and data connections → Report.

use crate::capture::{Packet, PacketSource, Timestamp};
use crate::carve::{self, Carver, Piece};
use crate::digest::{Hasher, Job};
use crate::ftp::ids::IdBook;
use crate::ftp::names::{NameBook, Resolution};
use crate::ftp::probes::ProbeBook;
use crate::ftp::session::{ep, Session, Setup};
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
}

/// Where finished sessions go as soon as they end (JSONL); `None` keeps them for the Report.
pub type SessionSink<'a> = Box<dyn FnMut(model::Session) + 'a>;

/// Most bytes a connection's first lines are looked at to recognise FTP on any port.
const PROBE_BYTES: usize = 1024;
/// Most TCP events kept for a connection not yet recognised.
const PROBE_EVENTS: usize = 16;
/// Most TCP connections listed in the report (all are counted).
const MAX_CONN_LIST: usize = 100_000;
/// Most connections recorded while [`Analyzer::collect_connections`] is on (every FTP
/// connection is kept until the final session ids are known; beyond it, an input error).
pub const MAX_COLLECTED_CONNECTIONS: usize = 1_000_000;
/// Failed logins from one client to one server that make a brute-force finding.
const BRUTEFORCE_FAILURES: u32 = 5;
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
const MAX_HELD_SESSIONS: usize = 4096;
/// Longest (capture time) a finished session is held back for an older undecided
/// connection on an FTP port (a SYN nobody answered); then that one is taken for a probe,
/// so that JSONL from a live capture is never stalled for long.
const MAX_HOLD_NS: i64 = 30 * 1_000_000_000;
/// Most data-channel listeners remembered after their session ended (to recognise a
/// data connection to an announced port that no live session expects any more).
const MAX_ANNOUNCED_HISTORY: usize = 4096;
/// Most host pairs remembered as having had an FTP session (to place untied data
/// connections in the session of their hosts).
const MAX_SESSION_HOSTS: usize = 65_536;
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
}

/// Failed logins from one client to one server: their count, the sessions involved and
/// the index of their `login_bruteforce` finding once there is one.
type Failures = (u32, Vec<u64>, Option<usize>);

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
    /// sessions by reserved id until the end). One entry per session, like the report.
    final_ids: HashMap<u64, u64, FastState>,
    /// Latest end of a closed connection (when findings about limits are dated).
    last_close: Timestamp,
    /// Sessions whose reserved id had been given up early (a hold bound was hit).
    late_sessions: u64,
    roles: HashMap<ConnId, Role, FastState>,
    /// Announced data-channel listeners (in the control connection's segment) →
    /// (session, setup).
    expect: HashMap<(Zone, SocketAddr), (u64, Setup), FastState>,
    done: Vec<model::Session>,
    sink: Option<SessionSink<'a>>,
    /// With `--hash`: the SHA-256 of data connections, on a thread beside parsing.
    hasher: Option<Hasher>,
    conn_list: Vec<model::TcpConnection>,
    stats: Stats,
    /// Failed logins per (client ip, server ip) and the sessions involved.
    failures: HashMap<(IpAddr, IpAddr), Failures>,
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
    /// Untied data connections not (yet) placed in a session, and candidates.
    untied: Vec<Untied>,
    /// Candidates in `untied` that did not look like FTP data when they ended.
    undecided: usize,
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
        let sess = Session::new(id, c, s, meta.start, self.digits, self.opts.show_passwords);
        if meta.zone != Zone::default() {
            self.session_zones.insert(id, meta.zone);
        }
        if let Some(r) = self.names.lookup(c.ip(), s.ip(), meta.start) {
            self.session_names.insert(id, r.clone());
        }
        self.sessions.insert(id, sess);
        if self.session_hosts.len() < MAX_SESSION_HOSTS {
            self.session_hosts
                .entry(host_pair(c.ip(), s.ip()))
                .or_insert(id);
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

    /// A UDP datagram to or from port 53: remember what its DNS answer resolved.
    fn dns(&mut self, ts: Timestamp, d: &crate::net::DnsDatagram<'_>) {
        if let Some(msg) = crate::net::dns::parse(d.payload) {
            self.names.datagram(ts, d, &msg);
            self.stats.dns_messages += 1;
        }
    }

    /// Look up an expectation for a connection to `listener`.
    fn expectation(&self, zone: Zone, listener: SocketAddr) -> Option<(u64, Setup)> {
        self.expect
            .get(&(zone, listener))
            .copied()
            .filter(|(s, _)| self.sessions.contains_key(s))
    }

    fn new_data(&mut self, meta: &ConnMeta, session: u64, setup: Option<Setup>, swap: bool) {
        self.new_data_tied(meta, session, setup, swap, false);
    }

    /// A data connection of `session`; `timing`: tied by hosts and time (TLS session).
    fn new_data_tied(
        &mut self,
        meta: &ConnMeta,
        session: u64,
        setup: Option<Setup>,
        swap: bool,
        timing: bool,
    ) {
        let (connector, listener) = if swap {
            (meta.server, meta.client)
        } else {
            (meta.client, meta.server)
        };
        let Some(sess) = self.sessions.get_mut(&session) else {
            return;
        };
        let transfer = if timing {
            sess.open_data_timing(meta.start, connector, listener)
        } else {
            sess.open_data(meta.start, connector, listener, setup)
        };
        let connector_is_client = sess.transfers[transfer].connector_is_client;
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
            let (c, v) = (s.client.ip(), s.server.ip());
            if ((c == a && v == b) || (c == b && v == a))
                && s.control_encrypted()
                && s.start <= ts
                && ts.0 <= s.end.0.saturating_add(TLS_DATA_GRACE_NS)
            {
                let open = !s.control_closed;
                n[open as usize] += 1;
                let key = (open, s.end, std::cmp::Reverse(s.id));
                if best.is_none_or(|b| key > b) {
                    best = Some(key);
                }
            }
        }
        best.map(|(open, _, std::cmp::Reverse(id))| (id, n[open as usize]))
    }

    /// Whether a probe's bytes say "not FTP control" clearly enough to tie it to a TLS
    /// session now: TLS records from either side, a whole line that is not FTP, or a full
    /// probe buffer.
    fn probe_is_data(p: &Probe) -> bool {
        p.buf.iter().any(|b| {
            tls::record_header(b).is_some()
                || b.len() >= PROBE_BYTES
                || b.iter().position(|&c| c == b'\n').is_some_and(|end| {
                    let line = &b[..end];
                    !parse::looks_like_greeting(line) && !parse::looks_like_client_opening(line)
                })
        })
    }

    /// Give a probed connection the data role in a TLS session and replay what the probe held.
    fn probe_to_tls_data(
        &mut self,
        meta: &ConnMeta,
        ts: Timestamp,
        (sid, candidates): (u64, usize),
    ) {
        let Some(Role::Probe(p)) = self.roles.remove(&meta.id) else {
            return;
        };
        // Who connected tells the mode (Session::open_data).
        self.new_data_tied(meta, sid, None, false, true);
        if candidates > 1 {
            if let Some(s) = self.sessions.get_mut(&sid) {
                let t = s.transfers.len();
                s.anomaly(
                    meta.start,
                    "tls_data_ambiguous",
                    format!(
                        "data:{t} {} -> {} tied by time to the most recently active of {candidates} TLS sessions between these hosts",
                        meta.client, meta.server
                    ),
                );
            }
        }
        self.replay_probe(meta, ts, *p);
    }

    /// Replay what a probe held through the role its connection has now: its TCP events,
    /// then its bytes, the client's side first.
    fn replay_probe(&mut self, meta: &ConnMeta, ts: Timestamp, p: Probe) {
        for (ts, dir, ev) in p.events {
            self.tcp_event(meta, ts, dir, ev);
        }
        for (bytes, dir) in p.buf.iter().zip([Dir::ToServer, Dir::ToClient]) {
            if !bytes.is_empty() {
                let chunk = Chunk::Data {
                    offset: 0,
                    bytes,
                    ts,
                    new_segment: true,
                };
                self.on_data(meta, ts, dir, chunk, true);
            }
        }
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

    /// The live session between these two hosts a data connection nobody announced
    /// belongs to: the oldest one waiting for a data connection, else the oldest one.
    fn session_for_data(&self, a: IpAddr, b: IpAddr) -> Option<u64> {
        self.session_wanting_data(a, b).or_else(|| {
            self.sessions
                .values()
                .filter(|s| {
                    let (c, v) = (s.client.ip(), s.server.ip());
                    (c == a && v == b) || (c == b && v == a)
                })
                .map(|s| s.id)
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

    /// A connection with payload that no session took ended: a candidate untied transfer,
    /// kept when at the end of the capture it looks like FTP data (and then placed in its
    /// hosts' session when there is one). Returns false when the candidates are full.
    fn untied_transfer(
        &mut self,
        meta: &ConnMeta,
        sum: &ConnSummary,
        hash: Option<String>,
        segments: u64,
    ) -> bool {
        let now = self.looks_like_data(meta.client, meta.server);
        if self.untied.len() >= MAX_UNTIED_TRANSFERS && now {
            // Counted, not listed.
            self.stats.untied_data_connections += 1;
            self.stats.unmatched_data_connections += 1;
            self.stats.data_connections += 1;
            return true;
        }
        if self.untied.len() >= MAX_UNTIED_TRANSFERS || (!now && self.undecided >= MAX_UNDECIDED) {
            return false;
        }
        self.undecided += usize::from(!now);
        let bytes = sum.seq_bytes[0] + sum.seq_bytes[1];
        let captured = (sum.captured_bytes[0] + sum.captured_bytes[1]).min(bytes);
        let missing = bytes - captured;
        // The side that listened on port 20 connected actively (RFC 959's default data port).
        let active = meta.client.port() == 20;
        let t = model::Transfer {
            command: String::new(),
            arg: String::new(),
            path: None,
            direction: if sum.seq_bytes[0] > sum.seq_bytes[1] {
                model::Direction::Upload
            } else {
                model::Direction::Download
            },
            mode: if active {
                model::Mode::Active
            } else {
                model::Mode::Passive
            },
            setup: "unknown",
            data_client: ep(meta.client),
            data_server: ep(meta.server),
            start: Time::new(meta.start, self.digits),
            end: Time::new(sum.end, self.digits),
            data: model::DataCapture::Captured,
            match_: model::DataMatch::None,
            bytes: Some(bytes),
            captured_bytes: Some(captured),
            missing_bytes: Some(missing),
            expected_bytes: None,
            rest: None,
            status: model::TransferStatus::Incomplete,
            reply_code: None,
            sha256: hash.filter(|_| missing == 0),
            segments,
            announced: None,
            extracted: None,
            joined: None,
            listing: None,
            matched: false,
        };
        self.untied.push(Untied {
            conn: meta.id,
            saw_syn: meta.saw_syn,
            seq_bytes: sum.seq_bytes,
            hosts: host_pair(meta.client.ip(), meta.server.ip()),
            ends: (meta.client, meta.server),
            t,
        });
        true
    }

    /// A connection becomes [`Role::Loose`]; returns the interest in its payload (only
    /// needed for hashing).
    fn make_loose(&mut self, meta: &ConnMeta) -> Interest {
        let hash = self.hasher.as_mut().and_then(Hasher::start);
        let interest = if hash.is_some() {
            Interest::Data
        } else {
            Interest::Ignore
        };
        self.roles
            .insert(meta.id, Role::Loose(Box::new(Loose { hash, segments: 0 })));
        interest
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
        // Not FTP control, between the hosts of a TLS session: its data. A cleartext
        // session waiting for a data connection between the same hosts keeps cleartext ones.
        let tls_records = p.buf.iter().any(|b| tls::record_header(b).is_some());
        if client_is_tcp_client.is_none()
            && Self::probe_is_data(p)
            && (tls_records
                || self
                    .session_wanting_data(meta.client.ip(), meta.server.ip())
                    .is_none())
        {
            if let Some(tie) = self.tls_session_for(meta) {
                self.probe_to_tls_data(meta, ts, tie);
                return Interest::Data;
            }
        }
        // A side that sent PROBE_BYTES without a line is not speaking FTP control.
        let full = p.buf.iter().any(|b| b.len() >= PROBE_BYTES);
        let undecided = !full
            && ((p.buf[0].len() < PROBE_BYTES && verdicts[0].0.is_none())
                || (p.buf[1].len() < PROBE_BYTES && verdicts[1].0.is_none()));
        if client_is_tcp_client.is_none() && undecided {
            return Interest::Data;
        }
        let Some(Role::Probe(p)) = self.roles.remove(&meta.id) else {
            unreachable!("checked above")
        };
        match client_is_tcp_client {
            Some(orient) => {
                let id = self.ids.take();
                self.new_session(meta, orient, id);
            }
            // Not FTP control: maybe a data connection whose setup we missed.
            // (Not a well-known service between the hosts: HTTPS or SSH is not FTP data.)
            None => match self
                .session_for_data(meta.client.ip(), meta.server.ip())
                .filter(|_| could_be_data(meta))
            {
                Some(sid) => self.new_data(meta, sid, None, false),
                None => {
                    self.make_loose(meta);
                }
            },
        }
        // Replay what the probe held through the role the connection has now, the
        // client's side first.
        self.replay_probe(meta, ts, *p);
        match self.roles.get(&meta.id) {
            Some(Role::Loose(l)) if l.hash.is_none() => Interest::Ignore,
            _ => Interest::Data,
        }
    }

    /// A connection on an FTP port, not yet known to be a session: it becomes one with its
    /// first byte ([`Ftp::promote`]), or is a probe when it closes without one.
    fn pending_control(&mut self, meta: &ConnMeta, client_is_tcp_client: bool) {
        let id = self.ids.reserve();
        self.roles.insert(
            meta.id,
            Role::Probe(Box::new(Probe {
                buf: [Vec::new(), Vec::new()],
                events: Vec::new(),
                reserved: Some(Reserved {
                    id,
                    client_is_tcp_client,
                }),
            })),
        );
    }

    /// A pending connection on an FTP port carried its first byte: it is a session, with
    /// the TCP events it had so far.
    fn promote(&mut self, meta: &ConnMeta) {
        let Some(Role::Probe(p)) = self.roles.remove(&meta.id) else {
            return;
        };
        let Some(r) = p.reserved else {
            return;
        };
        let id = if self.ids.is_undecided(r.id) {
            self.ids.confirm(r.id);
            r.id
        } else {
            // Its reservation was given up early (a bound was hit): a new id, after
            // those of sessions that started later.
            self.late_sessions += 1;
            self.ids.take()
        };
        self.new_session(meta, r.client_is_tcp_client, id);
        for (ts, dir, ev) in p.events {
            self.tcp_event(meta, ts, dir, ev);
        }
        self.release_held();
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
                self.final_ids.insert(id, fid);
                m.id = fid;
                for a in m.anomalies.iter_mut() {
                    for x in a.sessions.iter_mut() {
                        *x = self.final_ids.get(x).copied().unwrap_or(*x);
                    }
                }
                // Carved files are named with the id every format gives the session.
                self.carve(&mut m, id);
                match self.sink.as_mut() {
                    Some(sink) => sink(m),
                    None => self.done.push(m),
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
        let client = s.client;
        let setups = std::mem::take(&mut s.new_setups);
        for setup in setups {
            if self.announced.len() >= MAX_ANNOUNCED_HISTORY {
                self.announced.pop_front();
            }
            self.announced.push_back(setup.listener);
            if setup.names_other_host(client) {
                // FXP: the passive listener another session of this client opened there.
                let fxp = self
                    .expectation(zone, setup.listener)
                    .filter(|(sid, other)| *sid != id && other.mode == model::Mode::Passive)
                    .and_then(|(sid, _)| self.sessions.get(&sid))
                    .filter(|o| o.client.ip() == client.ip())
                    .map(|o| (o.id, o.server));
                if let Some(s) = self.sessions.get_mut(&id) {
                    s.foreign_port(&setup, fxp);
                }
                if let Some((other, _)) = fxp {
                    let server = self.sessions.get(&id).map(|s| s.server);
                    if let (Some(o), Some(server)) = (self.sessions.get_mut(&other), server) {
                        o.anomaly(
                            setup.ts,
                            "fxp",
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
            self.expect.insert((zone, setup.listener), (id, setup));
            if setup.listener != setup.announced {
                self.expect.insert((zone, setup.announced), (id, setup));
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
        if !d.tls_checked {
            if let Chunk::Data { bytes, .. } = chunk {
                // The first payload: TLS records (PROT P) or the file in clear? Only a
                // session that negotiated TLS has TLS data connections: elsewhere bytes
                // that look like a record are a file's.
                d.tls_checked = true;
                if s.tls && tls::record_header(bytes).is_some() {
                    d.encrypted = true;
                    d.records = Some(Box::default());
                    if let (Some(j), Some(h)) = (d.hash.take(), self.hasher.as_mut()) {
                        h.discard(j);
                    }
                    s.data_encrypted(d.transfer);
                    self.stats.encrypted_data_connections += 1;
                } else if s.tls {
                    s.data_cleartext_after_tls(ts, d.transfer);
                }
            }
        }
        match chunk {
            Chunk::Data { bytes, ts: at, .. } => {
                s.data_bytes(at, d.transfer, side, bytes.len() as u64, new_seg);
                if let Some(r) = d.records.as_mut() {
                    r[dir.idx()].feed(bytes, &mut tls::Facts::default());
                }
                if !d.listing_checked && side == Side::Server {
                    d.listing_checked = true;
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
                if let (Some(j), Some(h)) = (d.hash.as_ref(), self.hasher.as_mut()) {
                    h.update(j, dir.idx(), bytes);
                }
                if let Some(c) = self.carver.as_mut().filter(|_| !d.encrypted) {
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
                if let Some(r) = d.records.as_mut() {
                    r[dir.idx()].gap();
                }
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
        if !force && self.linger(id) {
            return;
        }
        let s = self.sessions.remove(&id).expect("present");
        self.expect.retain(|_, (sid, _)| *sid != id);
        let mut m = s.into_model();
        if let Some(d) = m.dropped {
            for (name, n) in [("max_commands", d.commands), ("max_events", d.events)] {
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
        if self.sink.is_some() {
            m.set_time_digits(self.digits);
            // Cross-session findings known by now that involve this session.
            // (a reference: the finding with its sessions stands once at top level).
            for (i, a) in self.anomalies.iter().enumerate() {
                if a.sessions.contains(&m.id) {
                    m.anomalies.push(a.reference(i));
                }
            }
        }
        self.held.insert(m.id, (m.end.ts, m));
        self.release_held();
    }

    /// Keep a TLS session whose control connection ended open for late data connections
    /// (until TLS_DATA_GRACE_NS after its last control packet); true if it stays open.
    fn linger(&mut self, id: u64) -> bool {
        let Some(s) = self.sessions.get_mut(&id) else {
            return false;
        };
        if !s.control_encrypted() || s.linger_until.is_some() {
            return false;
        }
        let until = Timestamp(s.end.0.saturating_add(TLS_DATA_GRACE_NS));
        s.linger_until = Some(until);
        self.lingering.push_back((until, id));
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

    /// With `--extract`: name the session's carved payloads now that their outcome is
    /// known, join resumed (REST) and appended (APPE) pieces to the stored start of their
    /// file, and write the manifest lines.
    fn carve(&mut self, m: &mut model::Session, reserved: u64) {
        let Some(c) = self.carver.as_mut() else {
            return;
        };
        let server = m.server.ip.to_string();
        let mut findings = Vec::new();
        for (i, t) in m.transfers.iter_mut().enumerate() {
            let piece = self.carved.remove(&(reserved, i));
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
                finding: None,
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
        let new_session = !e.1.contains(&id);
        if new_session {
            e.1.push(id);
        }
        if e.0 >= BRUTEFORCE_FAILURES {
            let detail = format!("{} failed logins from {} to {}", e.0, key.0, key.1);
            // The finding's index is kept with the tally: no scan, no copy per failure.
            match e.2.and_then(|i| self.anomalies.get_mut(i)) {
                Some(a) => {
                    a.detail = detail;
                    if new_session {
                        a.sessions.push(id);
                    }
                }
                None => {
                    e.2 = Some(self.anomalies.len());
                    self.anomalies.push(Anomaly {
                        ts: Time::new(ts, self.digits),
                        kind: "login_bruteforce",
                        detail,
                        sessions: e.1.clone(),
                        finding: None,
                    });
                }
            }
        }
    }
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

impl<'a> TcpHandler for Ftp<'a> {
    fn on_open(&mut self, meta: &ConnMeta) -> (Interest, bool) {
        // A data connection some session announced?
        if let Some((sid, setup)) = self.expectation(meta.zone, meta.server) {
            if setup.mode == model::Mode::Passive && !self.fxp_listeners.contains(&meta.server) {
                if let Some(s) = self.sessions.get_mut(&sid) {
                    if meta.client.ip() != s.client.ip() {
                        s.hijack(meta.start, meta.client, meta.server);
                    }
                }
            }
            self.new_data(meta, sid, Some(setup), false);
            return (Interest::Data, false);
        }
        if !meta.saw_syn {
            if let Some((sid, setup)) = self.expectation(meta.zone, meta.client) {
                self.new_data(meta, sid, Some(setup), true);
                return (Interest::Data, true);
            }
        }
        if self.is_ftp_port(meta.server.port()) {
            self.pending_control(meta, true);
            return (Interest::Data, false);
        }
        if !meta.saw_syn && self.is_ftp_port(meta.client.port()) {
            self.pending_control(meta, false);
            return (Interest::Data, false);
        }
        self.roles.insert(
            meta.id,
            Role::Probe(Box::new(Probe {
                buf: [Vec::new(), Vec::new()],
                events: Vec::new(),
                reserved: None,
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
                        // Each line keeps the time of its own packet.
                        Chunk::Data { bytes, ts: at, .. } => s.control_data(at, side, bytes),
                        Chunk::Gap { offset, len } => {
                            self.stats.capture_gaps += 1;
                            s.control_gap(ts, side, offset, len);
                        }
                    }
                    if !s.new_setups.is_empty() {
                        self.drain_setups(id, meta.zone);
                    }
                }
                Interest::Data
            }
            Some(Role::Data(_)) => {
                self.data_chunk(meta, ts, dir, chunk, new_segment);
                Interest::Data
            }
            Some(Role::Probe(p)) if p.reserved.is_some() => {
                // Any byte (or a gap: bytes the capture missed) makes it a session.
                if matches!(chunk, Chunk::Data { bytes, .. } if bytes.is_empty()) {
                    return Interest::Data;
                }
                self.promote(meta);
                self.on_data(meta, ts, dir, chunk, new_segment)
            }
            Some(Role::Probe(p)) => {
                let Chunk::Data { offset, bytes, .. } = chunk else {
                    // A gap before we knew what this is: not FTP control.
                    self.roles.remove(&meta.id);
                    return self.make_loose(meta);
                };
                let b = &mut p.buf[dir.idx()];
                let room = PROBE_BYTES.saturating_sub(b.len());
                let taken = bytes.len().min(room);
                b.extend_from_slice(&bytes[..taken]);
                let interest = self.classify(meta, ts);
                // What the probe could not hold goes to the role the connection has now.
                if taken < bytes.len() && !matches!(self.roles.get(&meta.id), Some(Role::Probe(_)))
                {
                    let rest = Chunk::Data {
                        offset: offset + taken as u64,
                        bytes: &bytes[taken..],
                        ts,
                        new_segment: false,
                    };
                    return self.on_data(meta, ts, dir, rest, false);
                }
                interest
            }
            Some(Role::Loose(l)) => {
                if let Chunk::Data { bytes, .. } = chunk {
                    l.segments += new_segment as u64;
                    if let (Some(j), Some(h)) = (l.hash.as_ref(), self.hasher.as_mut()) {
                        h.update(j, dir.idx(), bytes);
                    }
                }
                if l.hash.is_some() {
                    Interest::Data
                } else {
                    Interest::Ignore
                }
            }
            None => Interest::Ignore,
        }
    }

    fn on_close(&mut self, meta: &ConnMeta, sum: &ConnSummary) {
        self.last_close = self.last_close.max(sum.end);
        if let Some(Role::Probe(p)) = self.roles.get(&meta.id) {
            // Never classified: a short data connection of a TLS session between these hosts?
            // (Unless a cleartext session between them waits for one and this is not TLS.)
            let tls_records = p.buf.iter().any(|b| tls::record_header(b).is_some());
            let tie = if tls_records
                || self
                    .session_wanting_data(meta.client.ip(), meta.server.ip())
                    .is_none()
            {
                self.tls_session_for(meta)
            } else {
                None
            };
            if let Some(tie) = tie {
                if !self.is_ftp_port(meta.server.port()) {
                    self.probe_to_tls_data(meta, sum.end, tie);
                }
            }
        }
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
                self.stats.control_connections += 1;
                owner = Some((session, true));
                if let Some(s) = self.sessions.get_mut(&session) {
                    s.control_end(sum.end);
                    if s.end < sum.end {
                        s.end = sum.end;
                    }
                    s.close = close;
                    s.control_closed = true;
                }
                self.drain_setups(session, meta.zone);
                self.login_failures(session);
                self.maybe_finish(session, false);
            }
            Some(Role::Data(mut d)) => {
                role_name = Some("ftp-data");
                if d.tied {
                    self.stats.tied_data_connections += 1;
                } else {
                    self.stats.untied_data_connections += 1;
                }
                owner = Some((d.session, false));
                if let Some(s) = self.sessions.get_mut(&d.session) {
                    let bytes = sum.seq_bytes[0] + sum.seq_bytes[1];
                    let captured = sum.captured_bytes[0] + sum.captured_bytes[1];
                    let ended = sum.close != CloseKind::Open;
                    s.close_data(d.transfer, sum.end, bytes, captured, ended);
                    s.data_close_kind(d.transfer, close);
                    if let Some(r) = d.records.as_ref() {
                        let (to_server, to_client) = (r[0].app_bytes, r[1].app_bytes);
                        let (from_client, from_server) = if d.connector_is_client {
                            (to_server, to_client)
                        } else {
                            (to_client, to_server)
                        };
                        s.data_tls_app_bytes(d.transfer, from_client, from_server);
                    }
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
                    let digests = d.hash.take().and_then(|j| self.hasher.as_mut()?.finish(j));
                    if let Some(dg) = digests {
                        let t = &mut s.transfers[d.transfer].t;
                        if t.missing_bytes == Some(0) {
                            t.sha256 = Some(hex(&dg[main]));
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
            Some(Role::Probe(p)) if p.reserved.is_some() => {
                // Never carried a byte: a probe of the FTP port, not a session.
                self.stats.empty_connections += 1;
                let r = p.reserved.expect("checked");
                self.ids.give_up(r.id);
                let (client, server) = if r.client_is_tcp_client {
                    (meta.client, meta.server)
                } else {
                    (meta.server, meta.client)
                };
                self.probes
                    .probe(client.ip(), server, meta.start, sum.end, true);
                self.release_held();
            }
            Some(Role::Probe(p)) => {
                // Never spoke a full line: an (almost) empty data connection of a session?
                let payload = sum.seq_bytes[0] + sum.seq_bytes[1] > 0;
                let no_payload = !payload;
                let sid = self.session_for_data(meta.client.ip(), meta.server.ip());
                let wants = sid
                    .and_then(|id| self.sessions.get(&id))
                    .is_some_and(|s| s.wants_data());
                match sid {
                    Some(sid)
                        if (payload || wants)
                            && !self.is_ftp_port(meta.server.port())
                            && could_be_data(meta) =>
                    {
                        self.new_data(meta, sid, None, false);
                        self.stats.untied_data_connections += 1;
                        if let Some(s) = self.sessions.get_mut(&sid) {
                            let t = s.transfers.len() - 1;
                            s.close_data(
                                t,
                                sum.end,
                                sum.seq_bytes[0] + sum.seq_bytes[1],
                                sum.captured_bytes[0] + sum.captured_bytes[1],
                                sum.close != CloseKind::Open,
                            );
                        }
                        self.roles.remove(&meta.id);
                        role_name = Some("ftp-data");
                        owner = Some((sid, false));
                    }
                    _ if payload => {
                        // The probe held the whole payload (it never reached its limit).
                        let main = if sum.seq_bytes[0] > sum.seq_bytes[1] {
                            0
                        } else {
                            1
                        };
                        let whole = sum.captured_bytes[main] == p.buf[main].len() as u64;
                        let mut h = (self.opts.hash && whole).then(Sha256::new);
                        if let Some(h) = h.as_mut() {
                            h.update(&p.buf[main]);
                        }
                        let segs = p.buf.iter().filter(|b| !b.is_empty()).count() as u64;
                        role_name = Some("other");
                        if !self.untied_transfer(meta, sum, h.map(|h| hex(&h.finalize())), segs) {
                            self.stats.other_connections += 1;
                        }
                    }
                    _ => self.stats.empty_connections += 1,
                }
                if role_name.is_none() && no_payload && meta.saw_syn {
                    self.probes
                        .probe(meta.client.ip(), meta.server, meta.start, sum.end, false);
                }
            }
            Some(Role::Loose(l)) => {
                let payload = sum.seq_bytes[0] + sum.seq_bytes[1] > 0;
                if payload {
                    let main = if sum.seq_bytes[0] > sum.seq_bytes[1] {
                        0
                    } else {
                        1
                    };
                    let hash = l
                        .hash
                        .and_then(|j| self.hasher.as_mut()?.finish(j))
                        .map(|dg| hex(&dg[main]));
                    role_name = Some("other");
                    if !self.untied_transfer(meta, sum, hash, l.segments) {
                        self.stats.other_connections += 1;
                    }
                } else {
                    self.stats.empty_connections += 1;
                }
            }
            None => self.stats.empty_connections += 1,
        }
        // Sessions are known here by their reserved ids: every session's connections are
        // kept while collecting, and the chosen ones picked by final id at the end.
        if let Some((session, control)) = owner.filter(|_| !self.collect.is_empty()) {
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
            conn: "dns".into(),
            from: Side::Client,
            kind: EventKind::Dns,
            what: format!("DNS query {} {}", r.qtype, r.name),
            note: Some(format!("resolver {resolver}")),
        });
    }
    evs.push(model::Event {
        ts: Time::new(r.answer_ts, digits),
        conn: "dns".into(),
        from: Side::Server,
        kind: EventKind::Dns,
        what: format!("DNS answer {answer}"),
        note: Some(format!("resolver {resolver}")),
    });
    m.timeline.splice(0..0, evs);
    m.server_name = Some(r.name.clone());
}

fn port_scan_finding(sc: &model::PortScan) -> Anomaly {
    let targets: Vec<String> = sc.targets.iter().map(|t| t.to_string()).collect();
    Anomaly {
        ts: sc.first,
        kind: "port_scan",
        detail: format!(
            "port scan from {}: {} connection attempts without payload ({} to FTP ports) to {} over {:.3} s",
            sc.source,
            sc.probes,
            sc.ftp_port_probes,
            targets.join(", "),
            sc.last.secs_since(sc.first),
        ),
        sessions: Vec::new(), finding: None }
}

/// Put an untied data connection into its hosts' session: it fills a transfer the dialogue
/// showed without its data connection when their times overlap (never two transfers for
/// one), or stands as a transfer of its own (`unmatched_data_connection`).
fn place_untied(s: &mut model::Session, u: Untied) {
    let mut t = u.t;
    // Which host sent the payload tells the direction.
    let sender = if u.seq_bytes[0] > u.seq_bytes[1] {
        t.data_client.ip
    } else {
        t.data_server.ip
    };
    t.direction = if sender == s.server.ip {
        model::Direction::Download
    } else {
        model::Direction::Upload
    };
    // Without its SYN, the connector is who used port 20 (active), else the FTP client.
    if !u.saw_syn {
        let swap = if t.data_client.port == 20 || t.data_server.port == 20 {
            t.data_server.port == 20
        } else {
            t.data_client.ip != s.client.ip
        };
        if swap {
            std::mem::swap(&mut t.data_client, &mut t.data_server);
        }
    }
    t.mode = if t.data_client.ip == s.client.ip {
        model::Mode::Passive
    } else {
        model::Mode::Active
    };
    let overlapping = s.transfers.iter_mut().find(|x| {
        x.data == model::DataCapture::NotCaptured && x.start <= t.end && t.start <= x.end
    });
    match overlapping {
        Some(x) => {
            x.data = model::DataCapture::Captured;
            x.data_client = t.data_client;
            x.data_server = t.data_server;
            x.start = x.start.min(t.start);
            x.end = x.end.max(t.end);
            x.bytes = t.bytes;
            x.captured_bytes = t.captured_bytes;
            x.missing_bytes = t.missing_bytes;
            x.sha256 = t.sha256;
            x.segments = t.segments;
        }
        None => {
            s.anomalies.push(Anomaly {
                ts: t.start,
                kind: "unmatched_data_connection",
                detail: format!(
                    "data connection {}:{} -> {}:{} matches no PORT/PASV/EPRT/EPSV",
                    t.data_client.ip, t.data_client.port, t.data_server.ip, t.data_server.port
                ),
                sessions: Vec::new(),
                finding: None,
            });
            s.transfers.push(t);
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
                final_ids: HashMap::default(),
                last_close: Timestamp(0),
                late_sessions: 0,
                roles: HashMap::default(),
                expect: HashMap::default(),
                done: Vec::new(),
                sink,
                hasher,
                conn_list: Vec::new(),
                stats: Stats::default(),
                failures: HashMap::new(),
                anomalies: Vec::new(),
                errors: Vec::new(),
                lingering: VecDeque::new(),
                carver,
                carve_errors,
                carved: HashMap::default(),
                announced: std::collections::VecDeque::new(),
                session_hosts: HashMap::default(),
                untied: Vec::new(),
                undecided: 0,
                fxp_listeners: std::collections::VecDeque::new(),
                zone_names: ZoneNames::default(),
                session_zones: HashMap::default(),
                collect: Vec::new(),
                spans: Vec::new(),
                names: NameBook::default(),
                session_names: HashMap::default(),
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
        if !self.ftp.held.is_empty() {
            self.ftp.release_stale(pkt.ts);
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
        // Every reservation is decided by now; whatever still waits goes out.
        while !self.ftp.held.is_empty() {
            self.ftp.release_held();
            if !self.ftp.held.is_empty() && self.ftp.ids.force_oldest().is_none() {
                break;
            }
        }
        let ds = self.decoder.stats();
        let mut f = self.ftp;
        f.stats.tcp_connections = self.tcp.connections_seen();
        let evicted = self.tcp.evictions();
        if evicted > 0 {
            f.stats.limits.insert("max_connections", evicted);
            f.anomalies.push(Anomaly {
                ts: Time::new(f.last_close, 0),
                kind: "limit_reached",
                detail: format!(
                    "max_connections: {evicted} TCP connections finished early, the least recently active, to keep at most {} tracked",
                    self.tcp.max_connections()
                ),
                sessions: Vec::new(),
                finding: None,
            });
        }

        f.stats.reordered_segments = self.tcp.reordered_segments();
        f.stats.reorder_window_expiries = self.tcp.reorder_expiries();
        f.stats.reassembly_buffer_giveups = self.tcp.buffer_giveups();
        f.stats.ip_fragments = ds.fragments;
        f.stats.ip_reassembled = ds.reassembled;
        let dups = self.tcp.duplicates();
        f.stats.duplicate_syns = dups.syns;
        f.stats.duplicate_segments = dups.segments;
        let (ftp_probes, scans, limits) = std::mem::take(&mut f.probes).finish();
        f.stats.ftp_port_probes = ftp_probes;
        for sc in &scans {
            f.anomalies.push(port_scan_finding(sc));
        }
        f.stats.port_scans = scans;
        let late = f.late_sessions;
        for detail in limits.into_iter().chain((late > 0).then(|| {
            format!(
                "{late} sessions on FTP ports recognised after their id was given up (a bound on held sessions): numbered after later sessions in JSONL"
            )
        })) {
            f.anomalies.push(Anomaly {
                ts: Time::new(f.last_close, 0),
                kind: "probe_limit",
                detail,
                sessions: Vec::new(), finding: None });
        }
        f.stats.undecoded_packets = ds.undecoded;
        f.stats.undecoded = self
            .decoder
            .undecoded()
            .by_count()
            .into_iter()
            .map(|(cause, packets)| model::UndecodedCause {
                cause: cause.to_string(),
                packets,
            })
            .collect();
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
        for sc in f.stats.port_scans.iter_mut() {
            sc.first.digits = digits;
            sc.last.digits = digits;
        }
        for s in sessions.iter_mut() {
            s.set_time_digits(digits);
        }
        // Top-level findings name sessions by their final ids.
        for a in f.anomalies.iter_mut() {
            for x in a.sessions.iter_mut() {
                *x = f.final_ids.get(x).copied().unwrap_or(*x);
            }
        }
        for s in sessions.iter_mut() {
            for a in s.anomalies.iter_mut() {
                for x in a.sessions.iter_mut() {
                    *x = f.final_ids.get(x).copied().unwrap_or(*x);
                }
            }
        }
        // Cross-session findings stand once at top level; every session they involve
        // refers to them by index (`ref`), never with a copy of their session list.
        let by_id: HashMap<u64, usize, FastState> = sessions
            .iter()
            .enumerate()
            .map(|(i, s)| (s.id, i))
            .collect();
        for (i, a) in f.anomalies.iter().enumerate() {
            for id in &a.sessions {
                let Some(s) = by_id.get(id).map(|&k| &mut sessions[k]) else {
                    continue;
                };
                match s
                    .anomalies
                    .iter_mut()
                    .find(|x| x.finding == Some(i) || (x.kind == a.kind && x.detail == a.detail))
                {
                    // A reference written early (JSONL) says the finding's final detail.
                    Some(x) => *x = a.reference(i),
                    None => s.anomalies.push(a.reference(i)),
                }
            }
        }
        // Ids were given once, when each session was recognised (every format agrees).
        sessions.sort_by_key(|s| s.id);
        // Connections with payload no session took: untied data connections when they look
        // like FTP data, standing in the session of their hosts when there is one.
        let mut untied_transfers = Vec::new();
        for mut u in std::mem::take(&mut f.untied) {
            if !f.looks_like_data(u.ends.0, u.ends.1) {
                f.stats.other_connections += 1;
                continue;
            }
            f.stats.untied_data_connections += 1;
            f.stats.unmatched_data_connections += 1;
            f.stats.data_connections += 1;
            if let Some(c) = f.conn_list.iter_mut().find(|c| c.id == u.conn) {
                c.role = Some("ftp-data");
            }
            u.t.start.digits = digits;
            u.t.end.digits = digits;
            let id = f
                .session_hosts
                .get(&u.hosts)
                .and_then(|old| f.final_ids.get(old))
                .copied();
            match id.and_then(|id| sessions.iter_mut().find(|s| s.id == id)) {
                Some(s) => place_untied(s, u),
                None => untied_transfers.push(u.t),
            }
        }
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
        for c in spans.iter_mut() {
            c.session = f.final_ids.get(&c.session).copied().unwrap_or(c.session);
        }
        spans.retain(|c| f.collect.contains(&c.session));
        spans.truncate(MAX_COLLECTED_CONNECTIONS);
        let report = Report {
            extract,
            schema: "ftptrace/1",
            sessions,
            anomalies: f.anomalies,
            stats: f.stats,
            tcp_connections: f.conn_list,
            errors: f.errors,
            untied_transfers,
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
