//! Serializable results: sessions, commands, transfers, events, anomalies, stats (SPEC.md JSON).

use serde::Serialize;
use std::net::IpAddr;

mod kinds;
pub use kinds::{
    AnomalyKind, Conn, ConnRole, EntryKind, Limit, SetupKind, Severity, TextEncoding, TlsVersion,
};

use crate::capture::Timestamp;

/// A capture time; serializes as an RFC 3339 UTC string with the capture's
/// precision (`digits` sub-second digits), e.g. `2012-09-01T10:20:30.123456Z`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Time {
    pub ts: Timestamp,
    pub digits: u8,
}

impl Time {
    pub fn new(ts: Timestamp, digits: u8) -> Self {
        Time { ts, digits }
    }
    /// Seconds (with fraction) since `earlier`.
    /// Saturates: a capture's timestamps can be anything (a pcapng `if_tsoffset`).
    pub fn secs_since(self, earlier: Time) -> f64 {
        self.ts.0.saturating_sub(earlier.ts.0) as f64 / 1e9
    }
}

impl Time {
    /// The RFC 3339 form (`YYYY-MM-DDTHH:MM:SS[.fff…]Z`) into `buf`, without allocating
    /// (hand-written: chrono's strftime was a sixth of the time of a report of many
    /// short sessions). Every `i64` of nanoseconds is a year between 1677 and 2262.
    pub fn rfc3339<'b>(&self, buf: &'b mut [u8; RFC3339_MAX]) -> &'b str {
        // Only ASCII digits and punctuation are written.
        std::str::from_utf8(self.rfc3339_bytes(buf)).unwrap_or("")
    }

    /// [`Time::rfc3339`] as bytes.
    pub fn rfc3339_bytes<'b>(&self, buf: &'b mut [u8; RFC3339_MAX]) -> &'b [u8] {
        buf[..19].copy_from_slice(&date_time(self.ts.secs()));
        let mut n = 19;
        let mut itoa = itoa::Buffer::new();
        if let Some((zeros, frac)) = self.fraction(&mut itoa) {
            for part in [".", zeros, frac] {
                buf[n..n + part.len()].copy_from_slice(part.as_bytes());
                n += part.len();
            }
        }
        buf[n] = b'Z';
        &buf[..n + 1]
    }

    /// Call `f` with [`Time::rfc3339`] (in a string kept per thread: a second's date and
    /// time of day written once, no UTF-8 check of every time written).
    pub fn with_rfc3339<R>(&self, f: impl FnOnce(&str) -> R) -> R {
        TEXT.with(|t| match t.try_borrow_mut() {
            Ok(mut t) => {
                let (second, text) = &mut *t;
                self.text_into(second, text);
                f(text)
            }
            // A call inside `f` (no caller does that): a string of its own.
            Err(_) => {
                let (mut second, mut text) = (i64::MIN, String::with_capacity(RFC3339_MAX));
                self.text_into(&mut second, &mut text);
                f(&text)
            }
        })
    }

    /// The form into `text`, which holds the form of a time within `second` (or
    /// `second` is `i64::MIN`).
    fn text_into(&self, second: &mut i64, text: &mut String) {
        let secs = self.ts.secs();
        if *second == secs && text.len() >= 19 {
            text.truncate(19);
        } else {
            text.clear();
            text.extend(date_time(secs).iter().map(|&b| char::from(b)));
            *second = secs;
        }
        let mut itoa = itoa::Buffer::new();
        if let Some((zeros, frac)) = self.fraction(&mut itoa) {
            text.push('.');
            text.push_str(zeros);
            text.push_str(frac);
        }
        text.push('Z');
    }

    /// The sub-second digits (none at precision 0): the leading zeros, then the rest in
    /// `itoa`.
    #[inline]
    fn fraction<'i>(&self, itoa: &'i mut itoa::Buffer) -> Option<(&'static str, &'i str)> {
        let digits = self.digits.min(9) as usize;
        if digits == 0 {
            return None;
        }
        let frac = itoa.format(self.ts.subsec_nanos() / SCALE[digits]);
        Some((&"000000000"[frac.len().min(digits)..digits], frac))
    }
}

/// The divisor of a time's nanoseconds for `digits` sub-second digits (index).
const SCALE: [u32; 10] = [
    1_000_000_000,
    100_000_000,
    10_000_000,
    1_000_000,
    100_000,
    10_000,
    1_000,
    100,
    10,
    1,
];

thread_local! {
    /// The second of the last [`Time::with_rfc3339`], and its text.
    static TEXT: std::cell::RefCell<(i64, String)> =
        const { std::cell::RefCell::new((i64::MIN, String::new())) };
    /// The whole second [`date_time`] wrote last, and what it wrote: a capture's times
    /// come in runs within one second.
    static LAST_SECOND: std::cell::Cell<(i64, [u8; 19])> =
        const { std::cell::Cell::new((i64::MIN, [0; 19])) };
}

/// `YYYY-MM-DDTHH:MM:SS` of a second since the epoch.
fn date_time(secs: i64) -> [u8; 19] {
    let (last, text) = LAST_SECOND.get();
    if last == secs {
        return text;
    }
    let mut buf = [0u8; 19];
    let days = secs.div_euclid(86_400);
    let sod = secs.rem_euclid(86_400) as u32;
    let (y, m, d) = civil_from_days(days);
    let two = |b: &mut [u8], v: u32| {
        b[0] = b'0' + (v / 10) as u8;
        b[1] = b'0' + (v % 10) as u8;
    };
    let y = y as u32; // 1677..=2262
    buf[0] = b'0' + (y / 1000 % 10) as u8;
    buf[1] = b'0' + (y / 100 % 10) as u8;
    two(&mut buf[2..4], y % 100);
    buf[4] = b'-';
    two(&mut buf[5..7], m);
    buf[7] = b'-';
    two(&mut buf[8..10], d);
    buf[10] = b'T';
    two(&mut buf[11..13], sod / 3600);
    buf[13] = b':';
    two(&mut buf[14..16], sod / 60 % 60);
    buf[16] = b':';
    two(&mut buf[17..19], sod % 60);
    LAST_SECOND.set((secs, buf));
    buf
}

/// Longest [`Time::rfc3339`] form: `YYYY-MM-DDTHH:MM:SS.nnnnnnnnnZ`.
pub const RFC3339_MAX: usize = 30;

/// (year, month, day) of a day count since 1970-01-01 in the proleptic Gregorian
/// calendar (H. Hinnant's `civil_from_days`).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097); // [0, 146096]
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365; // [0, 399]
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100); // [0, 365]
    let mp = (5 * doy + 2) / 153; // [0, 11]
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32; // [1, 31]
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32; // [1, 12]
    (if m <= 2 { y + 1 } else { y }, m, d)
}

impl std::fmt::Display for Time {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.with_rfc3339(|t| f.write_str(t))
    }
}

impl Serialize for Time {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.with_rfc3339(|t| s.serialize_str(t))
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Endpoint {
    pub ip: IpAddr,
    pub port: u16,
}

#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub schema: &'static str,
    pub sessions: Vec<Session>,
    pub anomalies: Vec<Anomaly>,
    pub stats: Stats,
    /// TCP connections seen (every one, FTP or not), in order of first packet.
    pub tcp_connections: Vec<TcpConnection>,
    /// Input problems (one line each, as printed on stderr).
    pub errors: Vec<String>,
    /// Data connections tied to no session (`matched: false`, `match: "none"`): from or
    /// to port 20 or an announced port, with no session of their hosts in the capture.
    pub untied_transfers: Vec<Transfer>,
    /// With `--extract`: what was written.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub extract: Option<ExtractSummary>,
}

/// What `--extract` wrote.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ExtractSummary {
    pub dir: String,
    /// `DIR/manifest.jsonl`, null when it could not be created.
    pub manifest: Option<String>,
    pub files: u64,
    pub bytes: u64,
    /// Write errors, one line each naming the file (exit status 3).
    pub errors: Vec<String>,
}

/// Packets not decoded for one cause.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UndecodedCause {
    /// "link type 147", "ethertype 0x88e5", "IP protocol 50", "GRE protocol 0x88bf",
    /// "truncated", ...
    pub cause: crate::net::undecoded::Cause,
    pub packets: u64,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct Stats {
    pub packets: u64,
    pub bytes: u64,
    pub tcp_connections: u64,
    pub ftp_sessions: u64,
    pub data_connections: u64,
    pub unmatched_data_connections: u64,
    pub capture_gaps: u64,
    /// Packets that were not IPv4/IPv6 TCP (ARP, UDP, ...).
    pub non_tcp_packets: u64,
    /// DNS messages (UDP port 53, or cut from a TCP port 53 stream) parsed, whose answers
    /// may name a session's server.
    pub dns_messages: u64,
    /// Packets whose headers were cut by the snap length or malformed.
    pub undecodable_packets: u64,
    /// IP fragments seen / datagrams reassembled from them.
    pub ip_fragments: u64,
    pub ip_reassembled: u64,
    /// Data connections tied to a TLS session by hosts and time (`match: "timing"`).
    pub timing_data_connections: u64,
    /// Data connections that carried TLS records (`data: "encrypted"`).
    pub encrypted_data_connections: u64,
    /// TLS sessions finished before their grace for late data connections ran out, because
    /// more than `analyzer::MAX_LINGERING_TLS_SESSIONS` were waiting.
    pub tls_linger_evictions: u64,
    /// Limits reached, by name ([`Limit`]): how many times each bound turned something
    /// away (each also a finding: `limit_reached`, or `too_many_pending_commands` for
    /// `max_pending`).
    #[serde(skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub limits: std::collections::BTreeMap<Limit, u64>,
    /// SYNs with the client and ISN of a connection already seen (a retransmission, or
    /// the capture holding the connection twice): not new connections.
    pub duplicate_syns: u64,
    /// Segments that carried nothing new: the rest of a replayed connection, and payload
    /// already delivered. Never delivered again; not in any byte count.
    pub duplicate_segments: u64,
    /// Connections to an FTP control port that never carried a byte: not sessions.
    pub ftp_port_probes: FtpPortProbes,
    /// Sources that sent many payload-less connection attempts (`port_scan` findings).
    pub port_scans: Vec<PortScan>,
    /// Every TCP connection by what it was: FTP control connections; data connections tied
    /// to their session by an announced port; data connections not tied (between the
    /// hosts of a session, from port 20, or to an announced port, without an announcement
    /// that fits: also counted in `unmatched_data_connections`); connections with payload
    /// that are none of these; connections without payload. They add up to
    /// `tcp_connections`.
    pub control_connections: u64,
    pub tied_data_connections: u64,
    pub untied_data_connections: u64,
    pub other_connections: u64,
    pub empty_connections: u64,
    /// Data segments the capture showed after the receiver's ACK that covered them,
    /// filled into their hole by the reorder window.
    pub reordered_segments: u64,
    /// Acknowledged holes that no late segment filled within the reorder window
    /// (they became capture gaps).
    pub reorder_window_expiries: u64,
    /// Holes given up as capture gaps because the out-of-order buffer of a connection
    /// (or the global reassembly budget) was full: a memory bound was hit.
    #[serde(skip_serializing_if = "is_zero")]
    pub reassembly_buffer_giveups: u64,
    /// Packets that may hold TCP but were not decoded (an unknown link type, ethertype,
    /// IP or tunnel protocol, cut headers): the capture is partly blind.
    #[serde(skip_serializing_if = "is_zero")]
    pub undecoded_packets: u64,
    /// Those packets by cause, most first (at most `net::undecoded::MAX_UNDECODED_CAUSES`
    /// causes, then "other causes").
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub undecoded: Vec<UndecodedCause>,
}

/// Probes of FTP control ports: connection attempts that never carried a byte.
#[derive(Debug, Clone, Default, Serialize)]
pub struct FtpPortProbes {
    pub total: u64,
    /// Per server, most probed first (a bounded list; `total` counts all).
    pub servers: Vec<ServerProbes>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ServerProbes {
    pub server: Endpoint,
    pub probes: u64,
}

/// Many payload-less connection attempts from one source.
#[derive(Debug, Clone, Serialize)]
pub struct PortScan {
    pub source: IpAddr,
    /// Hosts probed (a bounded list).
    pub targets: Vec<IpAddr>,
    /// Connections from the source that carried no payload, to any port.
    pub probes: u64,
    /// Those of them to an FTP control port.
    pub ftp_port_probes: u64,
    pub first: Time,
    pub last: Time,
}

#[derive(Debug, Clone, Serialize)]
pub struct TcpConnection {
    pub id: u64,
    pub client: Endpoint,
    pub server: Endpoint,
    pub start: Time,
    pub end: Time,
    pub packets: u64,
    /// Payload bytes by sequence space, client→server and server→client.
    pub bytes_to_server: u64,
    pub bytes_to_client: u64,
    pub captured_to_server: u64,
    pub captured_to_client: u64,
    pub close: Close,
    /// `"ftp"`, `"ftp-data"`, `"dns"`, `"other"` (payload, not FTP) or `null` (no payload).
    pub role: Option<ConnRole>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Close {
    Fin,
    Rst,
    Open,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Login {
    Success,
    Failed,
    None,
}

#[derive(Debug, Clone, Serialize)]
pub struct Session {
    pub id: u64,
    pub client: Endpoint,
    pub server: Endpoint,
    /// The name a DNS answer in the capture resolved to the server's address before the
    /// session (null when none did).
    pub server_name: Option<String>,
    pub start: Time,
    pub end: Time,
    pub user: Option<String>,
    pub password: Option<String>,
    pub login: Login,
    /// Every login attempt in order (USER/PASS/ACCT and the reply that decided it);
    /// `password` is the last one, `login` the last outcome.
    pub login_attempts: Vec<LoginAttempt>,
    pub tls: bool,
    pub close: Close,
    pub commands: Vec<Command>,
    pub transfers: Vec<Transfer>,
    pub timeline: Vec<Event>,
    pub anomalies: Vec<Anomaly>,
    /// Last TYPE argument in force at the end ("A", "I", ...), if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub transfer_type: Option<String>,
    /// The VLAN IDs and tunnel identities the control connection travelled in, outer
    /// first ("vlan 100, vni 5000"); absent when none (or `--ignore-tunnel-ids`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub segment: Option<String>,
    /// What the control connection's TLS handshake showed in clear (TLS sessions only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tls_info: Option<TlsInfo>,
    /// What this session did not keep because a per-session limit was reached (counted,
    /// not kept; a `limit_reached` anomaly says which limit).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dropped: Option<Dropped>,
}

/// Counts of what a session dropped at its limits.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Dropped {
    /// Commands beyond `ftp::session::MAX_COMMANDS` (and the replies to them): counted, not kept.
    pub commands: u64,
    /// Timeline events beyond `ftp::session::MAX_EVENTS`.
    pub events: u64,
    /// Commands that lost their reply pairing: more than `ftp::session::MAX_PENDING` were
    /// waiting for a reply (they stay in `commands`).
    #[serde(skip_serializing_if = "is_zero")]
    pub pending: u64,
    /// Transfers beyond `ftp::session::MAX_TRANSFERS`.
    #[serde(skip_serializing_if = "is_zero")]
    pub transfers: u64,
    /// Anomalies beyond `ftp::session::MAX_ANOMALIES`.
    #[serde(skip_serializing_if = "is_zero")]
    pub anomalies: u64,
    /// Announced data ports forgotten at `analyzer::expect::MAX_EXPECTATIONS_PER_SESSION`.
    #[serde(skip_serializing_if = "is_zero")]
    pub expectations: u64,
    /// Announced data ports forgotten unused after `analyzer::expect::EXPECTATION_TIMEOUT_NS`.
    #[serde(skip_serializing_if = "is_zero")]
    pub expired_expectations: u64,
}

impl Dropped {
    /// Each count with the name of its limit in `stats.limits`.
    pub fn by_limit(&self) -> [(Limit, u64); 7] {
        [
            (Limit::MaxCommands, self.commands),
            (Limit::MaxEvents, self.events),
            (Limit::MaxPending, self.pending),
            (Limit::MaxTransfers, self.transfers),
            (Limit::MaxAnomalies, self.anomalies),
            (Limit::MaxExpectations, self.expectations),
            (Limit::ExpectationTimeout, self.expired_expectations),
        ]
    }
}

/// The control connection's TLS: how it started and ended, and what its handshake showed in
/// clear (the certificate only up to TLS 1.2; TLS 1.3 encrypts it).
#[derive(Debug, Clone, Default, Serialize)]
pub struct TlsInfo {
    /// TLS from the first byte (implicit FTPS, port 990) rather than after AUTH.
    pub implicit: bool,
    /// The version the server chose ("TLSv1.2", "TLSv1.3"), when its ServerHello was seen.
    pub version: Option<TlsVersion>,
    /// The server name the client asked for (ClientHello server_name).
    pub sni: Option<String>,
    pub cert_subject: Option<String>,
    pub cert_issuer: Option<String>,
    /// The certificate's validity, RFC 3339 UTC.
    pub cert_not_before: Option<String>,
    pub cert_not_after: Option<String>,
    /// TLS ended and cleartext FTP followed (CCC, RFC 2228).
    pub cleared: bool,
}

impl Session {
    /// Write every time of this session with `digits` sub-second digits: the capture's
    /// precision is final only once its headers (pcapng interface blocks) have been read.
    pub fn set_time_digits(&mut self, digits: u8) {
        self.start.digits = digits;
        self.end.digits = digits;
        for c in &mut self.commands {
            c.ts.digits = digits;
            for r in &mut c.replies {
                r.ts.digits = digits;
            }
        }
        for t in &mut self.transfers {
            t.start.digits = digits;
            t.end.digits = digits;
        }
        for e in &mut self.timeline {
            e.ts.digits = digits;
        }
        for a in &mut self.anomalies {
            a.ts.digits = digits;
        }
    }
}

/// One login attempt: the user and password sent, and the reply that decided it.
#[derive(Debug, Clone, Serialize)]
pub struct LoginAttempt {
    /// Time of the deciding reply (of the USER command while none came).
    pub ts: Time,
    /// USER's argument; null for a PASS sent without a USER before it.
    pub user: Option<String>,
    /// PASS's argument, `"<hidden>"` unless `--show-passwords`; null when none was sent.
    pub password: Option<String>,
    /// The deciding reply (230, 530, ...); null when the capture holds none.
    pub code: Option<u16>,
    /// `success` (2xx), `failed` (4xx/5xx), `none` (undecided in the capture).
    pub outcome: Login,
}

#[derive(Debug, Clone, Serialize)]
pub struct Command {
    pub ts: Time,
    pub command: String,
    pub arg: String,
    pub replies: Vec<Reply>,
    pub cwd: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub encoding: Option<TextEncoding>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Reply {
    pub ts: Time,
    pub code: u16,
    pub text: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub encoding: Option<TextEncoding>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    Download,
    Upload,
    Listing,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    Active,
    Passive,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum TransferStatus {
    Complete,
    Aborted,
    Failed,
    Incomplete,
}

/// Whether a transfer's data connection is in the capture (SPEC.md `data`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DataCapture {
    /// The data connection is in the capture.
    Captured,
    /// The dialogue shows a transfer but its data connection is not in the capture
    /// (a capture filtered to the control port, say); byte fields are null.
    NotCaptured,
    /// The data connection carries TLS (PROT P).
    Encrypted,
}

/// How a data connection was tied to its session (SPEC.md `match`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DataMatch {
    /// The connection's listener is the announced address and port.
    Announced,
    /// The announced port with another address (NAT).
    Nat,
    /// Hosts and time only (the announcement was not seen, e.g. encrypted).
    Timing,
    /// Not tied to an announcement (`matched: false`).
    None,
}

#[derive(Debug, Clone, Serialize)]
pub struct Transfer {
    pub command: String,
    pub arg: String,
    pub path: Option<String>,
    pub direction: Direction,
    pub mode: Mode,
    /// "PORT", "PASV", "EPRT", "EPSV", "LPRT", "LPSV", or "unknown" for a transfer whose
    /// data connection is not in the capture and whose announcement was not seen either.
    pub setup: SetupKind,
    pub data_client: Endpoint,
    pub data_server: Endpoint,
    pub start: Time,
    pub end: Time,
    /// Whether the data connection is in the capture.
    pub data: DataCapture,
    /// How the data connection was tied.
    #[serde(rename = "match")]
    pub match_: DataMatch,
    /// Payload bytes by TCP sequence numbers; `None` when the data connection is not captured.
    pub bytes: Option<u64>,
    /// Payload bytes present in the capture; `None` when not captured.
    pub captured_bytes: Option<u64>,
    /// Capture loss inside the transfer; `None` when not captured.
    pub missing_bytes: Option<u64>,
    pub expected_bytes: Option<u64>,
    pub rest: Option<u64>,
    pub status: TransferStatus,
    pub reply_code: Option<u16>,
    pub sha256: Option<String>,
    /// Data segments that carried payload.
    pub segments: u64,
    /// The address and port the setup command/reply announced (may differ under NAT).
    pub announced: Option<Endpoint>,
    /// Whether an announced PORT/PASV/EPRT/EPSV endpoint fits this connection (false: an
    /// `unmatched_data_connection`, with mode and setup inferred from who connected).
    pub matched: bool,
    /// With `--extract`: the file written, relative to the directory (null otherwise).
    pub extracted: Option<String>,
    /// With `--extract`: the file this transfer's piece was joined into with the earlier
    /// pieces of the same file (a download resumed with REST, an APPE), relative to DIR.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub joined: Option<String>,
    /// A listing's entries (LIST, NLST, MLSD), as far as the capture holds them.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub listing: Option<Listing>,
}

/// What a listing transfer listed.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Listing {
    pub entries: Vec<ListingEntry>,
    /// Lines that were not entries (headers such as `total 12`, unknown formats).
    pub other_lines: u64,
    /// Entries or bytes beyond the bounds, not listed.
    pub truncated: bool,
}

/// One entry of a listing.
#[derive(Debug, Clone, Serialize)]
pub struct ListingEntry {
    pub name: String,
    /// `file`, `dir`, `link`, `other` or `unknown` (NLST).
    #[serde(rename = "type")]
    pub kind: EntryKind,
    pub size: Option<u64>,
    /// The time as the listing wrote it.
    pub time: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Side {
    Client,
    Server,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum EventKind {
    Tcp,
    Command,
    Reply,
    Data,
    /// A gap, malformed line or other anomaly placed in the timeline.
    Anomaly,
    /// The DNS query or answer that named the server (`conn: "dns"`).
    Dns,
}

impl EventKind {
    /// The kind as it is spelled in JSON (and in the HTML's `data-kind`).
    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::Tcp => "tcp",
            EventKind::Command => "command",
            EventKind::Reply => "reply",
            EventKind::Data => "data",
            EventKind::Anomaly => "anomaly",
            EventKind::Dns => "dns",
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Event {
    pub ts: Time,
    /// "control", "data:N" (N = index in transfers, from 1) or "dns".
    pub conn: Conn,
    pub from: Side,
    pub kind: EventKind,
    /// Fixed texts ("SYN", "FIN+ACK", ...) are borrowed, not allocated per event.
    pub what: std::borrow::Cow<'static, str>,
    /// A decoded explanation, e.g. the endpoint a PORT/PASV/EPRT/EPSV announced
    /// (`"192.168.0.2:5001"`), or the anomaly kind for `kind: "anomaly"`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Anomaly {
    pub ts: Time,
    pub kind: AnomalyKind,
    pub detail: String,
    /// Sessions (ids) this finding involves; empty for a single-session finding inside a session.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub sessions: Vec<u64>,
    /// In a session: the index of the top-level finding (in `Report.anomalies`) this entry
    /// refers to; the finding, with its session ids, stands once at top level.
    #[serde(rename = "ref", skip_serializing_if = "Option::is_none")]
    pub finding: Option<usize>,
}

impl Anomaly {
    /// A session's reference to top-level finding `index` (its kind, time and detail, not
    /// its list of sessions).
    pub fn reference(&self, index: usize) -> Anomaly {
        Anomaly {
            ts: self.ts,
            kind: self.kind,
            detail: self.detail.clone(),
            sessions: Vec::new(),
            finding: Some(index),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::EventKind;

    /// The form chrono's strftime gave (what every output held before).
    fn chrono_form(t: super::Time) -> String {
        use chrono::{DateTime, Utc};
        let dt =
            DateTime::<Utc>::from_timestamp(t.ts.secs(), t.ts.subsec_nanos()).unwrap_or_default();
        let mut s = dt.format("%Y-%m-%dT%H:%M:%S").to_string();
        let d = t.digits.min(9) as u32;
        if d > 0 {
            let frac = t.ts.subsec_nanos() / 10u32.pow(9 - d);
            s.push_str(&format!(".{:0width$}", frac, width = d as usize));
        }
        s.push('Z');
        s
    }

    #[test]
    fn rfc3339_matches_chrono() {
        use super::Time;
        use crate::capture::Timestamp;
        const DAY: i64 = 86_400 * 1_000_000_000;
        let mut ts: Vec<i64> = vec![
            0,
            1,
            -1,
            999_999_999,
            -999_999_999,
            1_000_000_000,
            -1_000_000_000,
            i64::MAX,
            i64::MIN,
            i64::MAX - 1,
            i64::MIN + 1,
            // Leap days and the turns of centuries (2000 leap, 2100 and 1900 not).
            951_782_400 * 1_000_000_000,                 // 2000-02-29
            951_868_800 * 1_000_000_000 - 1,             // 2000-02-29T23:59:59.999999999
            4_107_542_400 * 1_000_000_000,               // 2100-03-01
            -2_203_891_200 * 1_000_000_000,              // 1900-03-01
            1_709_164_800 * 1_000_000_000,               // 2024-02-29
            1_346_494_830 * 1_000_000_000 + 123_456_789, // 2012-09-01T10:20:30.123456789
        ];
        // Every day from 1968 to 2032, at a varying time of day, and a stride over the range.
        let mut x: i64 = -2 * 366 * DAY;
        while x < 63 * 366 * DAY {
            ts.push(x);
            ts.push(x - 1);
            x += DAY + 3_599_000_000_123;
        }
        let mut r: u64 = 0x9e37_79b9_7f4a_7c15;
        for _ in 0..200_000 {
            r ^= r << 13;
            r ^= r >> 7;
            r ^= r << 17;
            ts.push(r as i64);
        }
        for t in ts {
            for digits in [0u8, 1, 3, 6, 9, 12] {
                let time = Time::new(Timestamp(t), digits);
                // Through the per-thread text (the same second again and again here)
                // and through a buffer.
                assert_eq!(
                    time.to_string(),
                    chrono_form(time),
                    "{t} ns, {digits} digits"
                );
                assert_eq!(
                    time.rfc3339(&mut [0; super::RFC3339_MAX]),
                    chrono_form(time),
                    "{t} ns, {digits} digits"
                );
            }
        }
    }

    #[test]
    fn secs_since_saturates_on_far_apart_times() {
        use super::Time;
        use crate::capture::Timestamp;
        // A pcapng `if_tsoffset` can put packets anywhere in i64 nanoseconds.
        let late = Time::new(Timestamp(i64::MAX), 9);
        let early = Time::new(Timestamp(i64::MIN), 9);
        assert_eq!(late.secs_since(early), i64::MAX as f64 / 1e9);
        assert_eq!(early.secs_since(late), i64::MIN as f64 / 1e9);
    }

    #[test]
    fn event_kind_names_match_json() {
        for k in [
            EventKind::Tcp,
            EventKind::Command,
            EventKind::Reply,
            EventKind::Data,
            EventKind::Anomaly,
        ] {
            assert_eq!(serde_json::to_value(k).unwrap(), k.as_str());
        }
    }
}
