//! The closed sets of the JSON model as enums: anomaly kinds (with their severity and
//! handling), event connections, connection roles, data-channel setups, limit names,
//! listing entry types, text encodings; and TLS versions, an open set.
//!
//! Each serializes to exactly the string the JSON has always held (SPEC.md, the schema);
//! a kind or name added here is a compile error wherever it must be handled.

use serde::{Serialize, Serializer};
use std::cmp::Ordering;
use std::fmt;

/// Implements `Display` (the JSON spelling, `as_str`) and `Ord` by that spelling, so that
/// sorting by kind and the key order of a map of them stay those of the strings they
/// replaced. `Serialize` is serde's own (`rename_all`); a test holds it to `as_str`.
macro_rules! spelled {
    ($t:ty) => {
        impl fmt::Display for $t {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
        impl PartialOrd for $t {
            fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
                Some(self.cmp(other))
            }
        }
        impl Ord for $t {
            fn cmp(&self, other: &Self) -> Ordering {
                self.as_str().cmp(other.as_str())
            }
        }
    };
}

/// What a finding is (the schema's `$defs.anomaly_kind`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AnomalyKind {
    /// PORT/EPRT/LPRT or a 227/228/229 reply whose address does not parse.
    BadDataAddress,
    /// Bytes of a connection missing from the capture.
    CaptureGap,
    /// USER/PASS sent without TLS.
    CleartextCredentials,
    /// A data connection from a third host to a port announced in a session.
    DataPortHijack,
    /// A PORT naming another FTP server (server-to-server transfer).
    Fxp,
    /// A control line longer than the parser keeps.
    LineTooLong,
    /// Many failed logins from one client to one server (cross-session).
    LoginBruteforce,
    /// A reply line that is not `ddd text` / `ddd-text`.
    MalformedReply,
    /// A PASV/LPSV/EPSV reply naming another address than the server's.
    PasvNat,
    /// A PORT naming a host other than the client.
    PortBounce,
    /// A reply cut by a capture gap.
    ReplyCutByGap,
    /// TLS on the control connection that could not be followed.
    TlsUnparsed,
    /// More commands waiting for a reply than are paired (`max_pending`).
    TooManyPendingCommands,
    /// A transfer cut off by the end of the capture.
    TruncatedInCapture,
    /// A data connection that fits no announcement.
    UnmatchedDataConnection,
    /// Many payload-less connection attempts from one source (cross-session).
    PortScan,
    /// A bound of the probe book was reached.
    ProbeLimit,
    /// Pieces of one file (REST, APPE) that disagree.
    ResumeConflict,
    /// Cleartext data connection in a session protected with PROT P.
    CleartextDataAfterTls,
    /// TLS on the control connection ended and cleartext FTP followed (CCC).
    TlsCleared,
    /// A data connection tied by time to one of several TLS sessions.
    TlsDataAmbiguous,
    /// A TLS handshake larger than is buffered.
    TlsHandshakeTooLarge,
    /// A named bound (`stats.limits`) turned something away.
    LimitReached,
}

impl AnomalyKind {
    /// Every kind, in the schema's order.
    pub const ALL: &'static [AnomalyKind] = &[
        AnomalyKind::BadDataAddress,
        AnomalyKind::CaptureGap,
        AnomalyKind::CleartextCredentials,
        AnomalyKind::DataPortHijack,
        AnomalyKind::Fxp,
        AnomalyKind::LineTooLong,
        AnomalyKind::LoginBruteforce,
        AnomalyKind::MalformedReply,
        AnomalyKind::PasvNat,
        AnomalyKind::PortBounce,
        AnomalyKind::ReplyCutByGap,
        AnomalyKind::TlsUnparsed,
        AnomalyKind::TooManyPendingCommands,
        AnomalyKind::TruncatedInCapture,
        AnomalyKind::UnmatchedDataConnection,
        AnomalyKind::PortScan,
        AnomalyKind::ProbeLimit,
        AnomalyKind::ResumeConflict,
        AnomalyKind::CleartextDataAfterTls,
        AnomalyKind::TlsCleared,
        AnomalyKind::TlsDataAmbiguous,
        AnomalyKind::TlsHandshakeTooLarge,
        AnomalyKind::LimitReached,
    ];

    /// The kind as it is spelled in JSON (snake_case).
    pub fn as_str(self) -> &'static str {
        match self {
            AnomalyKind::BadDataAddress => "bad_data_address",
            AnomalyKind::CaptureGap => "capture_gap",
            AnomalyKind::CleartextCredentials => "cleartext_credentials",
            AnomalyKind::DataPortHijack => "data_port_hijack",
            AnomalyKind::Fxp => "fxp",
            AnomalyKind::LineTooLong => "line_too_long",
            AnomalyKind::LoginBruteforce => "login_bruteforce",
            AnomalyKind::MalformedReply => "malformed_reply",
            AnomalyKind::PasvNat => "pasv_nat",
            AnomalyKind::PortBounce => "port_bounce",
            AnomalyKind::ReplyCutByGap => "reply_cut_by_gap",
            AnomalyKind::TlsUnparsed => "tls_unparsed",
            AnomalyKind::TooManyPendingCommands => "too_many_pending_commands",
            AnomalyKind::TruncatedInCapture => "truncated_in_capture",
            AnomalyKind::UnmatchedDataConnection => "unmatched_data_connection",
            AnomalyKind::PortScan => "port_scan",
            AnomalyKind::ProbeLimit => "probe_limit",
            AnomalyKind::ResumeConflict => "resume_conflict",
            AnomalyKind::CleartextDataAfterTls => "cleartext_data_after_tls",
            AnomalyKind::TlsCleared => "tls_cleared",
            AnomalyKind::TlsDataAmbiguous => "tls_data_ambiguous",
            AnomalyKind::TlsHandshakeTooLarge => "tls_handshake_too_large",
            AnomalyKind::LimitReached => "limit_reached",
        }
    }

    /// How much a finding of this kind matters to an analyst (`--format alerts`).
    pub fn severity(self) -> Severity {
        use AnomalyKind::*;
        match self {
            LoginBruteforce | PortBounce | DataPortHijack | PortScan | Fxp => Severity::High,
            CleartextCredentials
            | CleartextDataAfterTls
            | ResumeConflict
            | TruncatedInCapture
            | UnmatchedDataConnection
            | PasvNat
            | TlsCleared => Severity::Medium,
            BadDataAddress
            | LineTooLong
            | MalformedReply
            | TooManyPendingCommands
            | ProbeLimit
            | TlsDataAmbiguous
            | TlsHandshakeTooLarge
            | LimitReached => Severity::Low,
            CaptureGap | ReplyCutByGap | TlsUnparsed => Severity::Info,
        }
    }

    /// Whether a session reports this kind once per distinct cause rather than every
    /// time: findings that would repeat with every command (a NAT, a bounce target).
    pub fn once_per_cause(self) -> bool {
        use AnomalyKind::*;
        match self {
            PasvNat | PortBounce | TooManyPendingCommands | BadDataAddress => true,
            CaptureGap
            | CleartextCredentials
            | DataPortHijack
            | Fxp
            | LineTooLong
            | LoginBruteforce
            | MalformedReply
            | ReplyCutByGap
            | TlsUnparsed
            | TruncatedInCapture
            | UnmatchedDataConnection
            | PortScan
            | ProbeLimit
            | ResumeConflict
            | CleartextDataAfterTls
            | TlsCleared
            | TlsDataAmbiguous
            | TlsHandshakeTooLarge
            | LimitReached => false,
        }
    }
}

spelled!(AnomalyKind);

/// How much a finding matters to an analyst, most first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    High,
    Medium,
    Low,
    Info,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::High => "HIGH",
            Severity::Medium => "MEDIUM",
            Severity::Low => "LOW",
            Severity::Info => "INFO",
        }
    }
}

/// The connection of a timeline event: `"control"`, `"data:N"` (N = index in the
/// session's transfers, from 1) or `"dns"` (the query and answer that named the server).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Conn {
    Control,
    /// Transfer N (from 1).
    Data(u32),
    Dns,
}

impl Conn {
    /// The data connection of transfer `index` (from 0): `"data:{index + 1}"`.
    pub fn transfer(index: usize) -> Conn {
        Conn::Data(u32::try_from(index.saturating_add(1)).unwrap_or(u32::MAX))
    }

    /// The index (from 0) in the session's transfers of a data connection.
    pub fn transfer_index(self) -> Option<usize> {
        match self {
            Conn::Data(n) => (n as usize).checked_sub(1),
            Conn::Control | Conn::Dns => None,
        }
    }

    pub fn is_data(self) -> bool {
        matches!(self, Conn::Data(_))
    }
}

impl fmt::Display for Conn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Conn::Control => f.write_str("control"),
            Conn::Data(n) => write!(f, "data:{n}"),
            Conn::Dns => f.write_str("dns"),
        }
    }
}

/// The spelling back: `"control"`, `"data:N"` (N from 1, digits only) or `"dns"`.
impl std::str::FromStr for Conn {
    type Err = ();
    fn from_str(s: &str) -> Result<Conn, ()> {
        match s {
            "control" => Ok(Conn::Control),
            "dns" => Ok(Conn::Dns),
            _ => {
                let n = s.strip_prefix("data:").ok_or(())?;
                if n.starts_with(['+', '0']) {
                    return Err(());
                }
                n.parse().map(Conn::Data).map_err(|_| ())
            }
        }
    }
}

impl Serialize for Conn {
    #[inline]
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Conn::Control => s.serialize_str("control"),
            Conn::Dns => s.serialize_str("dns"),
            Conn::Data(n) => serialize_data_conn(*n, s),
        }
    }
}

/// `"data:N"` from a buffer on the stack (no String, no formatting machinery).
fn serialize_data_conn<S: Serializer>(n: u32, s: S) -> Result<S::Ok, S::Error> {
    let mut itoa = itoa::Buffer::new();
    let digits = itoa.format(n).as_bytes();
    let mut buf = [0u8; 15];
    buf[..5].copy_from_slice(b"data:");
    let len = 5 + digits.len();
    buf[5..len].copy_from_slice(digits);
    s.serialize_str(std::str::from_utf8(&buf[..len]).unwrap_or("data:"))
}

/// What a TCP connection turned out to be (`tcp_connections[].role`; null: no payload).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ConnRole {
    /// An FTP control connection.
    Ftp,
    /// A data connection tied to a session.
    FtpData,
    /// DNS over TCP (port 53).
    Dns,
    /// Payload, not FTP.
    Other,
}

impl ConnRole {
    pub const ALL: &'static [ConnRole] = &[
        ConnRole::Ftp,
        ConnRole::FtpData,
        ConnRole::Dns,
        ConnRole::Other,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ConnRole::Ftp => "ftp",
            ConnRole::FtpData => "ftp-data",
            ConnRole::Dns => "dns",
            ConnRole::Other => "other",
        }
    }
}

spelled!(ConnRole);

/// How a transfer's data channel was set up (`transfers[].setup`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum SetupKind {
    Port,
    Pasv,
    Eprt,
    Epsv,
    Lprt,
    Lpsv,
    /// The data connection is not in the capture and its announcement was not seen.
    #[serde(rename = "unknown")]
    Unknown,
}

impl SetupKind {
    pub const ALL: &'static [SetupKind] = &[
        SetupKind::Port,
        SetupKind::Pasv,
        SetupKind::Eprt,
        SetupKind::Epsv,
        SetupKind::Lprt,
        SetupKind::Lpsv,
        SetupKind::Unknown,
    ];

    /// The command as on the wire, or `unknown`.
    pub fn as_str(self) -> &'static str {
        match self {
            SetupKind::Port => "PORT",
            SetupKind::Pasv => "PASV",
            SetupKind::Eprt => "EPRT",
            SetupKind::Epsv => "EPSV",
            SetupKind::Lprt => "LPRT",
            SetupKind::Lpsv => "LPSV",
            SetupKind::Unknown => "unknown",
        }
    }
}

spelled!(SetupKind);

/// A named bound (`stats.limits`, and the first word of a `limit_reached` finding).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Limit {
    /// TCP connections tracked at once.
    MaxConnections,
    /// Finished TCP connections waiting out their minute (for late packets and replays).
    MaxLingeringConnections,
    /// Connections gone whose client ISN is remembered for two hours (to know a replay).
    MaxClosedIsns,
    /// Commands kept per session.
    MaxCommands,
    /// Timeline events kept per session.
    MaxEvents,
    /// Commands waiting for a reply per session.
    MaxPending,
    /// Transfers kept per session.
    MaxTransfers,
    /// Anomalies kept per session.
    MaxAnomalies,
    /// Announced data ports waiting per session.
    MaxExpectations,
    /// Announced data ports waiting in all.
    MaxExpectationsTotal,
    /// How long an announced data port waits.
    ExpectationTimeout,
    /// (client, server) pairs whose failed logins are tallied.
    MaxFailurePairs,
    /// Finished sessions kept for the report.
    MaxSessions,
    /// Finished sessions waiting to be written to the streamed JSON document.
    MaxDocumentSessions,
    /// Host pairs remembered as having had a session (to place untied data connections).
    MaxSessionHosts,
    /// Untied data connections that ended after their hosts' session was written.
    UntiedAfterSession,
    /// Data connections hashed at once (`--hash`).
    MaxHashJobs,
}

impl Limit {
    pub const ALL: &'static [Limit] = &[
        Limit::MaxConnections,
        Limit::MaxLingeringConnections,
        Limit::MaxClosedIsns,
        Limit::MaxCommands,
        Limit::MaxEvents,
        Limit::MaxPending,
        Limit::MaxTransfers,
        Limit::MaxAnomalies,
        Limit::MaxExpectations,
        Limit::MaxExpectationsTotal,
        Limit::ExpectationTimeout,
        Limit::MaxFailurePairs,
        Limit::MaxSessions,
        Limit::MaxDocumentSessions,
        Limit::MaxSessionHosts,
        Limit::UntiedAfterSession,
        Limit::MaxHashJobs,
    ];

    /// The name in `stats.limits` (and of its flag, `--max-commands` …, with dashes).
    pub fn as_str(self) -> &'static str {
        match self {
            Limit::MaxConnections => "max_connections",
            Limit::MaxLingeringConnections => "max_lingering_connections",
            Limit::MaxClosedIsns => "max_closed_isns",
            Limit::MaxCommands => "max_commands",
            Limit::MaxEvents => "max_events",
            Limit::MaxPending => "max_pending",
            Limit::MaxTransfers => "max_transfers",
            Limit::MaxAnomalies => "max_anomalies",
            Limit::MaxExpectations => "max_expectations",
            Limit::MaxExpectationsTotal => "max_expectations_total",
            Limit::ExpectationTimeout => "expectation_timeout",
            Limit::MaxFailurePairs => "max_failure_pairs",
            Limit::MaxSessions => "max_sessions",
            Limit::MaxDocumentSessions => "max_document_sessions",
            Limit::MaxSessionHosts => "max_session_hosts",
            Limit::UntiedAfterSession => "untied_after_session",
            Limit::MaxHashJobs => "max_hash_jobs",
        }
    }
}

spelled!(Limit);

/// What a listing entry names (`listing.entries[].type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum EntryKind {
    File,
    Dir,
    Link,
    /// MLSD `cdir`/`pdir`, devices, sockets, ... .
    Other,
    /// NLST gives names only.
    Unknown,
}

impl EntryKind {
    pub const ALL: &'static [EntryKind] = &[
        EntryKind::File,
        EntryKind::Dir,
        EntryKind::Link,
        EntryKind::Other,
        EntryKind::Unknown,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            EntryKind::File => "file",
            EntryKind::Dir => "dir",
            EntryKind::Link => "link",
            EntryKind::Other => "other",
            EntryKind::Unknown => "unknown",
        }
    }
}

spelled!(EntryKind);

/// How a command's or reply's text was decoded when it was not UTF-8 (`encoding`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum TextEncoding {
    /// Each byte one character (ISO 8859-1): the exact bytes can be recovered.
    Latin1,
}

impl TextEncoding {
    pub const ALL: &'static [TextEncoding] = &[TextEncoding::Latin1];

    pub fn as_str(self) -> &'static str {
        match self {
            TextEncoding::Latin1 => "latin1",
        }
    }
}

spelled!(TextEncoding);

/// A TLS protocol version as on the wire (an open set: a version this list does not
/// name is kept by number).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TlsVersion {
    Ssl3,
    Tls10,
    Tls11,
    Tls12,
    Tls13,
    /// Any other version number, written `0x%04x`.
    Other(u16),
}

impl TlsVersion {
    pub fn from_wire(v: u16) -> TlsVersion {
        match v {
            0x0300 => TlsVersion::Ssl3,
            0x0301 => TlsVersion::Tls10,
            0x0302 => TlsVersion::Tls11,
            0x0303 => TlsVersion::Tls12,
            0x0304 => TlsVersion::Tls13,
            x => TlsVersion::Other(x),
        }
    }

    pub fn wire(self) -> u16 {
        match self {
            TlsVersion::Ssl3 => 0x0300,
            TlsVersion::Tls10 => 0x0301,
            TlsVersion::Tls11 => 0x0302,
            TlsVersion::Tls12 => 0x0303,
            TlsVersion::Tls13 => 0x0304,
            TlsVersion::Other(x) => x,
        }
    }
}

/// The protocol name as Wireshark spells it (`TLSv1.2`), or the number (`0x7f1c`).
impl fmt::Display for TlsVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TlsVersion::Ssl3 => f.write_str("SSLv3"),
            TlsVersion::Tls10 => f.write_str("TLSv1.0"),
            TlsVersion::Tls11 => f.write_str("TLSv1.1"),
            TlsVersion::Tls12 => f.write_str("TLSv1.2"),
            TlsVersion::Tls13 => f.write_str("TLSv1.3"),
            TlsVersion::Other(x) => write!(f, "0x{x:04x}"),
        }
    }
}

impl Serialize for TlsVersion {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    fn schema() -> Value {
        serde_json::from_str(include_str!("../../schema/ftptrace-1.schema.json")).unwrap()
    }

    /// The strings of a schema `enum` (nulls left out).
    fn schema_enum(v: &Value) -> Vec<String> {
        v["enum"]
            .as_array()
            .unwrap_or_else(|| panic!("not an enum: {v}"))
            .iter()
            .filter_map(|x| x.as_str().map(str::to_string))
            .collect()
    }

    /// `ours` and the schema's list hold the same names, each once; and each serializes
    /// (and displays) as its `as_str`.
    fn same_names<T: Serialize + fmt::Display + Copy>(
        what: &str,
        ours: &[T],
        name: impl Fn(T) -> &'static str,
        schema: &[String],
    ) {
        let names: Vec<&str> = ours.iter().map(|&k| name(k)).collect();
        for n in &names {
            assert!(
                schema.iter().any(|s| s == n),
                "{what}: {n:?} is not in the schema"
            );
            assert_eq!(names.iter().filter(|m| *m == n).count(), 1, "{what}: {n:?}");
        }
        for s in schema {
            assert!(
                names.contains(&s.as_str()),
                "{what}: the schema's {s:?} is not in ALL"
            );
        }
        assert_eq!(names.len(), schema.len(), "{what}: {names:?} vs {schema:?}");
        for &k in ours {
            assert_eq!(serde_json::to_value(k).unwrap(), name(k), "{what}");
            assert_eq!(k.to_string(), name(k), "{what}");
        }
    }

    #[test]
    fn anomaly_kinds_are_the_schemas() {
        let s = schema();
        let kinds = schema_enum(&s["$defs"]["anomaly_kind"]);
        same_names(
            "anomaly_kind",
            AnomalyKind::ALL,
            AnomalyKind::as_str,
            &kinds,
        );
        // In the schema's order too.
        let ours: Vec<&str> = AnomalyKind::ALL.iter().map(|k| k.as_str()).collect();
        assert_eq!(ours, kinds);
    }

    #[test]
    fn roles_setups_and_limits_are_the_schemas() {
        let s = schema();
        let conns = &s["properties"]["tcp_connections"]["items"]["properties"];
        same_names(
            "role",
            ConnRole::ALL,
            ConnRole::as_str,
            &schema_enum(&conns["role"]),
        );
        let setup = &s["$defs"]["transfer"]["properties"]["setup"];
        same_names(
            "setup",
            SetupKind::ALL,
            SetupKind::as_str,
            &schema_enum(setup),
        );
        let limits = &s["properties"]["stats"]["properties"]["limits"]["propertyNames"];
        same_names("limits", Limit::ALL, Limit::as_str, &schema_enum(limits));
        let entry = &s["$defs"]["transfer"]["properties"]["listing"]["properties"]["entries"]
            ["items"]["properties"]["type"];
        same_names(
            "listing entry type",
            EntryKind::ALL,
            EntryKind::as_str,
            &schema_enum(entry),
        );
        for def in ["command", "reply"] {
            let c = &s["$defs"][def]["properties"]["encoding"]["const"];
            let names: Vec<String> = c.as_str().into_iter().map(str::to_string).collect();
            same_names("encoding", TextEncoding::ALL, TextEncoding::as_str, &names);
        }
    }

    #[test]
    fn order_is_that_of_the_names() {
        // Sorting findings by kind, and the key order of `stats.limits`, stay what the
        // strings gave.
        let mut k = AnomalyKind::ALL.to_vec();
        k.sort();
        assert!(k.windows(2).all(|w| w[0].as_str() < w[1].as_str()));
        let mut l = Limit::ALL.to_vec();
        l.sort();
        assert!(l.windows(2).all(|w| w[0].as_str() < w[1].as_str()));
        let map: std::collections::BTreeMap<Limit, u64> =
            Limit::ALL.iter().map(|&l| (l, 1)).collect();
        let json = serde_json::to_string(&map).unwrap();
        let mut names: Vec<&str> = Limit::ALL.iter().map(|l| l.as_str()).collect();
        names.sort_unstable();
        let want: Vec<String> = names.iter().map(|n| format!("\"{n}\":1")).collect();
        assert_eq!(json, format!("{{{}}}", want.join(",")));
    }

    #[test]
    fn conn_spellings() {
        let s = schema();
        let pattern = s["$defs"]["event"]["properties"]["conn"]["pattern"]
            .as_str()
            .unwrap();
        assert_eq!(pattern, "^(control|data:[1-9][0-9]*|dns)$");
        for (c, want) in [
            (Conn::Control, "control"),
            (Conn::Dns, "dns"),
            (Conn::transfer(0), "data:1"),
            (Conn::transfer(41), "data:42"),
            (Conn::Data(u32::MAX), "data:4294967295"),
        ] {
            assert_eq!(c.to_string(), want);
            assert_eq!(serde_json::to_value(c).unwrap(), want);
        }
        assert_eq!(Conn::transfer(41).transfer_index(), Some(41));
        assert_eq!(Conn::Control.transfer_index(), None);
        assert_eq!(Conn::Dns.transfer_index(), None);
        assert_eq!(Conn::Data(0).transfer_index(), None);
        assert_eq!(Conn::transfer(usize::MAX), Conn::Data(u32::MAX));
        for c in [
            Conn::Control,
            Conn::Dns,
            Conn::Data(1),
            Conn::Data(u32::MAX),
        ] {
            assert_eq!(c.to_string().parse(), Ok(c));
        }
        for bad in [
            "",
            "data:",
            "data:0",
            "data:01",
            "data:+1",
            "data:x",
            "Control",
            "data:4294967296",
        ] {
            assert_eq!(bad.parse::<Conn>(), Err(()), "{bad}");
        }
    }

    #[test]
    fn tls_versions() {
        for (v, name) in [
            (0x0300, "SSLv3"),
            (0x0301, "TLSv1.0"),
            (0x0302, "TLSv1.1"),
            (0x0303, "TLSv1.2"),
            (0x0304, "TLSv1.3"),
            (0x7f1c, "0x7f1c"),
            (0x0001, "0x0001"),
        ] {
            let t = TlsVersion::from_wire(v);
            assert_eq!(t.wire(), v);
            assert_eq!(t.to_string(), name);
            assert_eq!(serde_json::to_value(t).unwrap(), name);
        }
        assert_eq!(TlsVersion::from_wire(0x0303), TlsVersion::Tls12);
    }

    #[test]
    fn severities() {
        assert!(
            AnomalyKind::LoginBruteforce.severity() < AnomalyKind::CleartextCredentials.severity()
        );
        assert!(AnomalyKind::CleartextCredentials.severity() < AnomalyKind::LineTooLong.severity());
        assert_eq!(AnomalyKind::CaptureGap.severity(), Severity::Info);
    }
}
