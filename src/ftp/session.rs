//! One FTP session's state: command/reply pairing, login, working directory, data-channel
//! setups and the transfers tied to its commands; replies are paired in
//! [`Session::on_reply`], and the session's phases change only through [`super::phase`].

use super::parse::{self, Line, ReplyAssembler, ReplyEvent, Verb};
use super::phase::{self, Input, Output, Phase};
use super::tls::{self, Fed, RecordStream};
use crate::capture::Timestamp;
use crate::model::{
    self, Anomaly, Close, DataCapture, DataMatch, Direction, Endpoint, Event, EventKind, Mode,
    Reply, Side, Time, TransferStatus,
};
use crate::model::{AnomalyKind, Conn, Limit, SetupKind};
use std::borrow::Cow;
use std::collections::VecDeque;
use std::net::SocketAddr;

/// Most commands awaiting a reply (the pipelining queue); beyond it the oldest loses its
/// pairing, never its entry (`dropped.pending`, a `too_many_pending_commands` anomaly).
pub const MAX_PENDING: usize = 64;
/// Most timeline events kept per session; later ones are counted (`dropped.events`, a
/// `limit_reached` anomaly), not kept.
pub const MAX_EVENTS: usize = 100_000;
/// Most commands (with their replies) kept per session; later ones are counted
/// (`dropped.commands`, a `limit_reached` anomaly), not kept. Their replies still pair
/// with them and login replies still count, but nothing else of theirs is followed.
pub const MAX_COMMANDS: usize = 20_000;
/// Marks a pending command that was counted but not kept (beyond [`MAX_COMMANDS`]).
const NOT_KEPT: usize = usize::MAX;
/// Most anomalies kept per session; later ones are counted (`dropped.anomalies`), not kept.
pub const MAX_ANOMALIES: usize = 10_000;
/// Most file sizes remembered per session (from SIZE replies and listings) for the
/// `expected_bytes` of a later RETR; the oldest is forgotten first.
pub const MAX_KNOWN_SIZES: usize = 4096;
/// Most transfers kept per session (data connections and transfers recorded from the
/// dialogue alone); later ones are counted (`dropped.transfers`, a `limit_reached`
/// anomaly), not kept.
pub const MAX_TRANSFERS: usize = 100_000;

/// The per-session bounds (flags `--max-commands`, `--max-events`, `--max-pending`,
/// `--max-transfers`); the defaults are the constants above.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    pub commands: usize,
    pub events: usize,
    pub pending: usize,
    pub transfers: usize,
    pub anomalies: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            commands: MAX_COMMANDS,
            events: MAX_EVENTS,
            pending: MAX_PENDING,
            transfers: MAX_TRANSFERS,
            anomalies: MAX_ANOMALIES,
        }
    }
}

/// A data-channel setup: what a PORT/EPRT command or a 227/229 reply announced.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Setup {
    pub kind: SetupKind,
    pub mode: Mode,
    /// The endpoint as announced on the wire.
    pub announced: SocketAddr,
    /// The endpoint the data connection's listener is expected at (differs from
    /// `announced` when a PASV reply names a NATed address).
    pub listener: SocketAddr,
    pub ts: Timestamp,
}

impl Setup {
    /// An active setup (PORT/EPRT/LPRT) naming a host other than the session's client.
    pub fn names_other_host(&self, client: SocketAddr) -> bool {
        self.mode == Mode::Active && self.announced.ip() != client.ip()
    }

    /// The setup a command or its reply makes (`Unknown` for a verb that makes none).
    pub fn kind_of(verb: Verb) -> SetupKind {
        match verb {
            Verb::Port => SetupKind::Port,
            Verb::Pasv => SetupKind::Pasv,
            Verb::Eprt => SetupKind::Eprt,
            Verb::Epsv => SetupKind::Epsv,
            Verb::Lprt => SetupKind::Lprt,
            Verb::Lpsv => SetupKind::Lpsv,
            _ => SetupKind::Unknown,
        }
    }
}

/// A transfer under construction (one per data connection).
#[derive(Debug)]
struct TransferState {
    t: model::Transfer,
    /// Index of the command that used this data connection.
    command: Option<usize>,
    closed: bool,
    /// The data connection's TCP client is the FTP client (passive mode).
    connector_is_client: bool,
    bytes_by_dir: [u64; 2],
    /// How the data connection ended (set by the analyzer; tells the status of a transfer
    /// whose command is not known, e.g. inside TLS).
    close: Option<Close>,
    /// Application-data bytes by side [client, server] of a connection carrying TLS: they,
    /// not the handshake, tell the direction of an encrypted transfer.
    tls_app_bytes: Option<[u64; 2]>,
}

/// The control connection's TLS, once AUTH was accepted or the first bytes were a
/// ClientHello: each direction followed record by record until cleartext resumes (CCC).
#[derive(Debug, Default)]
struct ControlTls {
    implicit: bool,
    streams: [RecordStream; 2],
    /// What each side's handshake showed [client, server]: the server name from the
    /// client's, the version and certificate from the server's (a client certificate is
    /// never taken for the server's).
    facts: [tls::Facts; 2],
    /// Bytes left encrypted, per direction.
    bytes: [u64; 2],
}

#[derive(Debug)]
struct CmdState {
    verb: Verb,
    /// An ABOR was sent while this command was running.
    aborted: bool,
    rest: Option<u64>,
    expected: Option<u64>,
    final_code: Option<u16>,
    /// A path the server named (STOU).
    path: Option<String>,
    /// When the first preliminary reply (125/150) came: the transfer started.
    started: Option<Timestamp>,
    /// A transfer is tied to this command.
    bound: bool,
}

/// The event currently collecting data segments (a "run").
#[derive(Debug, Clone, Copy)]
struct Run {
    event: usize,
    conn: usize,
    from: Side,
    bytes: u64,
    segments: u64,
}

pub struct Session {
    id: u64,
    client: SocketAddr,
    server: SocketAddr,
    start: Timestamp,
    end: Timestamp,
    digits: u8,
    show_passwords: bool,
    lines: [parse::LineAssembler; 2],
    replies: ReplyAssembler,
    user: Option<String>,
    password: Option<String>,
    /// Greeting, login, the control channel's TLS, its end: changed only by
    /// [`Session::step`].
    phase: Phase,
    /// The control connection's TLS state (None: cleartext FTP so far).
    tls_ctl: Option<Box<ControlTls>>,
    /// Whether each direction of the control connection has sent bytes yet.
    spoke: [bool; 2],
    commands: Vec<model::Command>,
    cmd_state: Vec<CmdState>,
    /// Commands awaiting their final reply: index in `commands` ([`NOT_KEPT`] beyond
    /// [`MAX_COMMANDS`]) and verb.
    pending: VecDeque<(usize, Verb)>,
    cwd: Option<String>,
    transfer_type: Option<String>,
    rest: Option<u64>,
    /// SIZE answers: (resolved path or arg, size), newest last, bounded.
    sizes: VecDeque<(String, u64)>,
    /// Setups announced since the analyzer last looked.
    new_setups: Vec<Setup>,
    transfers: Vec<TransferState>,
    /// Data commands still waiting for their data connection.
    waiting_cmds: VecDeque<usize>,
    /// Transfers (data connections) still waiting for their command.
    waiting_data: VecDeque<usize>,
    open_data: usize,
    timeline: Vec<Event>,
    run: Option<Run>,
    anomalies: Vec<Anomaly>,
    cleartext_flagged: bool,
    /// The server's stream had a gap since the last reply: replies may be lost.
    server_gap: bool,
    /// Time of the packet that carried the server's last line (a multi-line reply cut by
    /// a gap is stamped with it, not with the packet after the gap).
    last_server_line: Timestamp,
    /// The newest data-channel setup (for a transfer whose data connection is not in the
    /// capture).
    last_setup: Option<Setup>,
    /// Failed login attempts (for brute-force detection across sessions).
    failed_logins: u32,
    /// Data commands (RETR, LIST, ...) sent so far: an announcement made before the
    /// latest one was used by it (see `analyzer::expect`).
    data_commands: u64,
    /// What was dropped at the limits.
    dropped: model::Dropped,
    limits: Limits,
    /// Anomalies reported once per distinct cause: hash of (kind, detail without the
    /// digits after a colon) → index of the first in `anomalies`.
    causes: std::collections::HashMap<u64, usize, crate::net::fasthash::FastState>,
}

impl Session {
    pub fn new(
        id: u64,
        client: SocketAddr,
        server: SocketAddr,
        start: Timestamp,
        digits: u8,
        show_passwords: bool,
    ) -> Self {
        Session {
            id,
            client,
            server,
            start,
            end: start,
            digits,
            show_passwords,
            lines: [parse::LineAssembler::new(), parse::LineAssembler::new()],
            replies: ReplyAssembler::new(),
            user: None,
            password: None,
            phase: Phase::START,
            tls_ctl: None,
            spoke: [false; 2],
            commands: Vec::new(),
            cmd_state: Vec::new(),
            pending: VecDeque::new(),
            cwd: None,
            transfer_type: None,
            rest: None,
            sizes: VecDeque::new(),
            new_setups: Vec::new(),
            transfers: Vec::new(),
            waiting_cmds: VecDeque::new(),
            waiting_data: VecDeque::new(),
            open_data: 0,
            timeline: Vec::new(),
            run: None,
            anomalies: Vec::new(),
            cleartext_flagged: false,
            server_gap: false,
            last_server_line: start,
            last_setup: None,
            failed_logins: 0,
            data_commands: 0,
            dropped: model::Dropped::default(),
            limits: Limits::default(),
            causes: Default::default(),
        }
    }

    /// Data commands (RETR, STOR, LIST, ...) sent so far.
    pub fn data_commands(&self) -> u64 {
        self.data_commands
    }

    // ----- queries (what the analyzer may know of the session) -----------------------

    /// The session's id (reserved when it was recognised).
    pub fn id(&self) -> u64 {
        self.id
    }

    /// The FTP client's end of the control connection.
    pub fn client(&self) -> SocketAddr {
        self.client
    }

    /// The FTP server's end of the control connection.
    pub fn server(&self) -> SocketAddr {
        self.server
    }

    /// When the control connection began.
    pub fn start(&self) -> Timestamp {
        self.start
    }

    /// The time of the control connection's last packet so far.
    pub fn end(&self) -> Timestamp {
        self.end
    }

    /// Whether the session negotiated TLS on its control connection (AUTH or implicit).
    pub fn tls(&self) -> bool {
        self.phase.tls()
    }

    /// Failed login attempts so far (for brute-force detection across sessions).
    pub fn failed_logins(&self) -> u32 {
        self.failed_logins
    }

    /// Whether the control connection has ended.
    pub fn control_closed(&self) -> bool {
        self.phase.closed()
    }

    /// Whether the session can be finished: its control connection ended and so did
    /// every data connection (`force`: whatever data connections are still open).
    pub fn ready_to_finish(&self, force: bool) -> bool {
        self.phase.closed() && (self.open_data == 0 || force)
    }

    /// Whether data-channel setups were announced since [`Session::take_new_setups`].
    pub fn has_new_setups(&self) -> bool {
        !self.new_setups.is_empty()
    }

    /// The data-channel setups announced since the last call (for the expectation table).
    pub fn take_new_setups(&mut self) -> Vec<Setup> {
        std::mem::take(&mut self.new_setups)
    }

    /// Number of transfers kept so far (the newest is this less one).
    pub fn transfer_count(&self) -> usize {
        self.transfers.len()
    }

    /// Whether transfer `t`'s data connection was opened by the FTP client (passive).
    pub fn connector_is_client(&self, t: usize) -> bool {
        self.transfers.get(t).is_some_and(|t| t.connector_is_client)
    }

    /// The command (verb) transfer `t` is tied to ("" while it is not tied).
    pub fn transfer_command(&self, t: usize) -> &str {
        self.transfers.get(t).map_or("", |t| t.t.command.as_str())
    }

    /// Where transfer `t`'s first byte belongs in the file: a `REST n` download starts
    /// at `n`, anything else at 0.
    pub fn transfer_file_offset(&self, t: usize) -> u64 {
        match self.transfers.get(t).map(|t| &t.t) {
            Some(t) if t.direction == Direction::Download => t.rest.unwrap_or(0),
            _ => 0,
        }
    }

    // ----- commands from the analyzer ---------------------------------------------------

    /// The control connection ended at `end` (`close`: how): a last line without newline
    /// still counts, and the session's end is at least `end`.
    pub fn end_control(&mut self, end: Timestamp, close: Close) {
        self.control_end(end);
        if self.end < end {
            self.end = end;
        }
        self.step(Input::Closed(close));
    }

    /// The capture ended with the control connection still open.
    pub fn capture_ended(&mut self) {
        self.step(Input::CaptureEnded);
    }

    /// Keep this TLS session open for late data connections until `until`; false when it
    /// is not a TLS session or already lingered once.
    pub fn linger(&mut self, until: Timestamp) -> bool {
        self.control_encrypted() && self.step(Input::Linger(until)) == Some(Output::Lingers)
    }

    /// The session's phase now.
    pub fn phase(&self) -> Phase {
        self.phase
    }

    /// Every change of the session's phase: [`phase::transition`], then what it asks for
    /// that needs nothing but the session (the rest is left to the caller). Inlined, so
    /// that each call site keeps only the transitions its input can take.
    #[inline(always)]
    fn step(&mut self, input: Input) -> Option<Output> {
        let (next, out) = phase::transition(self.phase, input);
        self.phase = next;
        match out {
            Some(Output::StartTls { implicit }) => self.start_tls(implicit),
            Some(Output::LoginFailed) => self.failed_logins += 1,
            Some(Output::LoginReset) => {
                self.user = None;
                self.password = None;
            }
            Some(Output::LeftTls | Output::Lingers) | None => {}
        }
        out
    }

    /// The listing transfer `t` carried, read: kept with the transfer, and the sizes of
    /// the files it names remembered (for a later RETR's `expected_bytes`).
    pub fn data_listing(&mut self, t: usize, read: model::Listing) {
        let Some(tr) = self.transfers.get(t) else {
            return;
        };
        let dir = tr.t.path.clone();
        self.learn_listing_sizes(
            dir.as_deref(),
            read.entries
                .iter()
                .filter(|e| e.kind == model::EntryKind::File)
                .filter_map(|e| Some((e.name.as_str(), e.size?))),
        );
        if let Some(tr) = self.transfers.get_mut(t) {
            tr.t.listing = Some(read);
        }
    }

    /// The SHA-256 of transfer `t`'s payload (kept only when no byte of it is missing).
    pub fn data_digest(&mut self, t: usize, sha256: String) {
        if let Some(tr) = self.transfers.get_mut(t) {
            if tr.t.missing_bytes == Some(0) {
                tr.t.sha256 = Some(sha256);
            }
        }
    }

    /// The same session with other per-session bounds (each at least 1).
    pub fn with_limits(mut self, l: Limits) -> Self {
        self.limits = Limits {
            commands: l.commands.max(1),
            events: l.events.max(1),
            pending: l.pending.max(1),
            transfers: l.transfers.max(1),
            anomalies: l.anomalies.max(1),
        };
        self
    }

    pub fn time(&self, ts: Timestamp) -> Time {
        Time::new(ts, self.digits)
    }

    fn touch(&mut self, ts: Timestamp) {
        if ts > self.end {
            self.end = ts;
        }
    }

    /// Append a timeline event (closing any open data run).
    pub fn event(
        &mut self,
        ts: Timestamp,
        conn: usize,
        from: Side,
        kind: EventKind,
        what: impl Into<Cow<'static, str>>,
    ) {
        self.event_note(ts, conn, from, kind, what, None);
    }

    pub fn event_note(
        &mut self,
        ts: Timestamp,
        conn: usize,
        from: Side,
        kind: EventKind,
        what: impl Into<Cow<'static, str>>,
        note: Option<String>,
    ) {
        self.close_run();
        self.touch_conn(ts, conn);
        if self.timeline.len() >= self.limits.events {
            self.dropped.events += 1;
            if self.dropped.events == 1 {
                self.limit_reached(ts, Limit::MaxEvents, self.limits.events, "timeline events");
            }
            return;
        }
        self.timeline.push(Event {
            ts: self.time(ts),
            conn: conn_name(conn),
            from,
            kind,
            what: what.into(),
            note,
        });
    }

    fn touch_conn(&mut self, ts: Timestamp, conn: usize) {
        if conn == 0 {
            self.touch(ts);
        }
    }

    fn close_run(&mut self) {
        if let Some(run) = self.run.take() {
            // Encrypted connections carry TLS records, not the file: say so (the control
            // connection has data runs only while it is encrypted).
            let tls = match run.conn.checked_sub(1) {
                None => true,
                Some(t) => self
                    .transfers
                    .get(t)
                    .is_some_and(|t| t.t.data == DataCapture::Encrypted),
            };
            if let Some(ev) = self.timeline.get_mut(run.event) {
                ev.what = format!(
                    "{} bytes{} in {} segment{}",
                    run.bytes,
                    if tls { " of TLS records" } else { "" },
                    run.segments,
                    if run.segments == 1 { "" } else { "s" }
                )
                .into();
            }
        }
    }

    /// Count data bytes into the current run of data segments (one event per run).
    pub fn data_run(&mut self, ts: Timestamp, conn: usize, from: Side, bytes: u64, new_seg: bool) {
        if let Some(run) = self.run.as_mut() {
            if run.conn == conn && run.from == from {
                run.bytes += bytes;
                run.segments += new_seg as u64;
                return;
            }
        }
        self.event(ts, conn, from, EventKind::Data, String::new());
        if self.timeline.len() < self.limits.events || self.run.is_none() {
            self.run = Some(Run {
                event: self.timeline.len().saturating_sub(1),
                conn,
                from,
                bytes,
                segments: 1,
            });
        }
    }

    pub fn anomaly(&mut self, ts: Timestamp, kind: AnomalyKind, detail: String) {
        // Findings that repeat with every command are reported once per distinct cause:
        // one hashed lookup, no allocation (a hash collision only keeps a repeat).
        if kind.once_per_cause() {
            let h = cause_hash(self.causes.hasher(), kind.as_str(), &detail);
            match self.causes.get(&h) {
                Some(&i)
                    if self
                        .anomalies
                        .get(i)
                        .is_some_and(|a| a.kind == kind && same_cause(&a.detail, &detail)) =>
                {
                    return;
                }
                Some(_) => {}
                None if self.anomalies.len() < self.limits.anomalies => {
                    self.causes.insert(h, self.anomalies.len());
                }
                None => {}
            }
        }
        if self.anomalies.len() >= self.limits.anomalies {
            self.dropped.anomalies += 1;
            return;
        }
        self.anomalies.push(Anomaly {
            ts: self.time(ts),
            kind,
            detail,
            sessions: Vec::new(),
            finding: None,
        });
    }

    /// A transfer beyond the session's limit: counted, not kept (said once).
    fn transfer_dropped(&mut self, ts: Timestamp) {
        self.dropped.transfers += 1;
        if self.dropped.transfers == 1 {
            self.limit_reached(ts, Limit::MaxTransfers, self.limits.transfers, "transfers");
        }
    }

    /// Whether a new data connection would still be kept as a transfer; when not, it is
    /// counted (`dropped.transfers`, a `limit_reached` anomaly once) and the caller leaves
    /// it out of the session.
    pub fn room_for_transfer(&mut self, ts: Timestamp) -> bool {
        if self.transfers.len() < self.limits.transfers {
            return true;
        }
        self.transfer_dropped(ts);
        // The data command waiting for it had its transfer counted here: its final reply
        // does not count it again as one seen from the dialogue alone.
        if let Some(st) = self
            .waiting_cmds
            .pop_front()
            .and_then(|c| self.cmd_state.get_mut(c))
        {
            st.bound = true;
        }
        false
    }

    /// The analyzer's expectation table forgot one of this session's announced data
    /// ports before its data connection came: its cap (`max_expectations`, `limit` per
    /// session) or its expiry (`expectation_timeout`, after `limit` seconds). Counted in
    /// `dropped`; a `limit_reached` anomaly the first time for each.
    pub fn expectation_forgotten(&mut self, ts: Timestamp, expired: bool, limit: u64) {
        if expired {
            self.dropped.expired_expectations += 1;
            if self.dropped.expired_expectations == 1 {
                self.anomaly(
                    ts,
                    AnomalyKind::LimitReached,
                    format!(
                        "expectation_timeout: a data port announced in this session saw no connection within {limit} s: forgotten (a later connection to it is not tied by its announcement)"
                    ),
                );
            }
        } else {
            self.dropped.expectations += 1;
            if self.dropped.expectations == 1 {
                self.anomaly(
                    ts,
                    AnomalyKind::LimitReached,
                    format!(
                        "max_expectations: more than {limit} announced data ports waiting in this session: the oldest are forgotten (a later connection to one is not tied by its announcement)"
                    ),
                );
            }
        }
    }

    /// A per-session limit was hit (said once per limit; the counts are in `dropped`).
    fn limit_reached(&mut self, ts: Timestamp, name: Limit, limit: usize, what: &str) {
        self.anomaly(
            ts,
            AnomalyKind::LimitReached,
            format!(
                "{name}: more than {limit} {what} in this session: the rest are counted, not kept"
            ),
        );
    }

    /// An anomaly also shown in the timeline.
    fn anomaly_event(
        &mut self,
        ts: Timestamp,
        conn: usize,
        from: Side,
        kind: AnomalyKind,
        what: String,
    ) {
        self.anomaly(ts, kind, what.clone());
        self.event_note(
            ts,
            conn,
            from,
            EventKind::Anomaly,
            what,
            Some(kind.to_string()),
        );
    }

    // ----- control connection bytes -------------------------------------------------

    /// Reassembled control-connection bytes from one side.
    pub fn control_data(&mut self, ts: Timestamp, from: Side, mut data: &[u8]) {
        let d = side_idx(from);
        let first = !std::mem::replace(&mut self.spoke[d], true);
        if first && self.tls_ctl.is_none() && self.commands.is_empty() {
            // TLS from the first byte: implicit FTPS (a ClientHello, or the server's
            // handshake records when the client's are missing), or a capture that began
            // after AUTH (other records). No FTP line starts with a record's first byte.
            if let Some(h) = tls::record_header(data) {
                let implicit = h.content_type == tls::ContentType::Handshake;
                self.step(Input::TlsFromStart { implicit });
            }
        }
        if let Some(t) = self.tls_ctl.as_mut() {
            if !t.streams[d].is_cleartext() {
                let records = t.streams[d].records;
                match t.streams[d].feed(data, &mut t.facts[d]) {
                    Fed::Records => {
                        t.bytes[d] += data.len() as u64;
                        self.data_run(ts, 0, from, data.len() as u64, true);
                        return;
                    }
                    Fed::ClearFrom(off) => {
                        t.bytes[d] += off as u64;
                        if off > 0 {
                            self.data_run(ts, 0, from, off as u64, true);
                        }
                        let ccc = records > 0 || off > 0;
                        data = &data[off..];
                        if ccc {
                            self.tls_cleared(ts, from);
                        }
                    }
                }
            }
        }
        // Each line is handled as the assembler hands it out (borrowed from the chunk when
        // it lies whole in it: no copy); the assembler is taken out of the session meanwhile.
        let mut asm = std::mem::take(&mut self.lines[d]);
        let was_tls = self.tls_ctl.is_some();
        let mut tls_started = false;
        asm.feed(data, |line: Line<'_>| {
            if !tls_started {
                self.line(ts, from, line.bytes, LineFlags::of(&line));
                tls_started = !was_tls && self.tls_ctl.is_some();
            }
        });
        if tls_started {
            // Everything after AUTH's 234 is encrypted: the rest of this chunk is no lines.
            self.lines[0] = parse::LineAssembler::new();
            self.lines[1] = parse::LineAssembler::new();
        } else {
            self.lines[d] = asm;
        }
    }

    /// TLS starts on the control connection (AUTH accepted, or implicit FTPS); again after
    /// a CCC, keeping what the first handshake showed until a new one shows more.
    fn start_tls(&mut self, implicit: bool) {
        match self.tls_ctl.as_mut() {
            Some(t) => t.streams = Default::default(),
            None => {
                self.tls_ctl = Some(Box::new(ControlTls {
                    implicit,
                    ..ControlTls::default()
                }))
            }
        }
    }

    /// Whether `from`'s side of the control connection is inside TLS now.
    fn encrypted(&self, from: Side) -> bool {
        self.tls_ctl
            .as_ref()
            .is_some_and(|t| !t.streams[side_idx(from)].is_cleartext())
    }

    /// Whether the control connection carried TLS records (commands may be hidden).
    pub fn control_encrypted(&self) -> bool {
        self.tls_ctl
            .as_ref()
            .is_some_and(|t| t.streams.iter().any(|s| !s.is_cleartext()))
    }

    /// One side of the control connection left TLS for cleartext (CCC, RFC 2228).
    fn tls_cleared(&mut self, ts: Timestamp, from: Side) {
        if self.tls_ctl.is_none() {
            return;
        }
        let first = self.step(Input::Ccc) == Some(Output::LeftTls);
        // This side's lines start afresh after the last record.
        self.lines[side_idx(from)] = parse::LineAssembler::new();
        if let Some(t) = self.tls_ctl.as_ref().filter(|_| first) {
            let alerts = t.streams[side_idx(from)].alerts;
            self.anomaly_event(
                ts,
                0,
                from,
                AnomalyKind::TlsCleared,
                format!(
                    "the {} left TLS{} and the control connection continues in cleartext (CCC)",
                    side_name(from),
                    if alerts > 0 {
                        " after a TLS alert (close_notify)"
                    } else {
                        ""
                    }
                ),
            );
        }
    }

    /// Bytes the capture lost on the control connection.
    pub fn control_gap(&mut self, ts: Timestamp, from: Side, offset: u64, len: u64) {
        if self.encrypted(from) {
            if let Some(t) = self.tls_ctl.as_mut() {
                t.streams[side_idx(from)].gap();
            }
            return;
        }
        self.lines[side_idx(from)].gap(len);
        if from == Side::Server {
            // A multi-line reply the gap cut is closed now, stamped with the packet that
            // carried its last line; the lines after the gap start afresh.
            if let Some(r) = self.replies.gap() {
                let (t, latin1) = parse::decode_text(&r.text);
                let at = self.last_server_line;
                self.anomaly(
                    at,
                    AnomalyKind::ReplyCutByGap,
                    format!(
                        "multi-line {} reply cut after {} line{} by {len} missing bytes",
                        r.code,
                        r.lines,
                        if r.lines == 1 { "" } else { "s" }
                    ),
                );
                self.on_reply(at, r.code, &t, latin1);
            }
            self.server_gap = true;
        }
        self.anomaly_event(
            ts,
            0,
            from,
            AnomalyKind::CaptureGap,
            format!(
                "{len} bytes missing from the {} at offset {offset}",
                side_name(from)
            ),
        );
    }

    /// End of the control stream: a last line without newline still counts.
    pub fn control_end(&mut self, ts: Timestamp) {
        for from in [Side::Client, Side::Server] {
            let d = side_idx(from);
            let mut last: Option<(Vec<u8>, LineFlags)> = None;
            let mut asm = std::mem::take(&mut self.lines[d]);
            asm.finish(&mut |line: Line<'_>| {
                last = Some((line.bytes.to_vec(), LineFlags::of(&line)))
            });
            self.lines[d] = asm;
            if let Some((bytes, flags)) = last {
                if !self.encrypted(from) {
                    self.line(ts, from, &bytes, flags);
                }
            }
        }
        // A multi-line reply the capture ended inside still counts.
        if let Some(r) = self.replies.finish() {
            let (t, latin1) = parse::decode_text(&r.text);
            self.on_reply(ts, r.code, &t, latin1);
        }
    }

    fn line(&mut self, ts: Timestamp, from: Side, bytes: &[u8], flags: LineFlags) {
        if flags.too_long {
            self.anomaly(
                ts,
                AnomalyKind::LineTooLong,
                format!(
                    "{} line of {} bytes (kept the first {})",
                    side_name(from),
                    flags.orig_len,
                    bytes.len()
                ),
            );
        }
        match from {
            Side::Client => self.command_line(ts, bytes),
            Side::Server => self.server_line(ts, bytes),
        }
    }

    // ----- commands --------------------------------------------------------------

    fn command_line(&mut self, ts: Timestamp, bytes: &[u8]) {
        let cl = parse::parse_command(bytes);
        let verb = Verb::from_bytes(cl.verb);
        self.step(Input::Command(verb));
        if verb == Verb::Pass {
            if !self.control_encrypted() && !self.cleartext_flagged {
                self.cleartext_flagged = true;
                self.anomaly(
                    ts,
                    AnomalyKind::CleartextCredentials,
                    format!(
                        "password for user {} sent in cleartext",
                        self.user.as_deref().unwrap_or("(none)")
                    ),
                );
            }
            self.password = Some(parse::decode_text(cl.arg).0.into_owned());
        }
        if self.commands.len() >= self.limits.commands {
            self.dropped.commands += 1;
            if self.dropped.commands == 1 {
                self.limit_reached(ts, Limit::MaxCommands, self.limits.commands, "commands");
            }
            self.pending.push_back((NOT_KEPT, verb));
            if self.pending.len() > self.limits.pending {
                self.pending.pop_front();
                self.dropped.pending += 1;
            }
            return;
        }
        // A kept command: its strings are made only now (one past the cap allocates nothing).
        let (arg_text, latin1) = parse::decode_text(cl.arg);
        let command = parse::uppercase_verb(cl.verb);
        let mut arg = arg_text.into_owned();
        let mut shown = if latin1 {
            parse::decode_text(bytes).0.into_owned()
        } else {
            String::from_utf8_lossy(bytes).into_owned()
        };
        if verb == Verb::Pass && !self.show_passwords {
            arg = "<hidden>".to_string();
            shown = format!("{} <hidden>", command);
        }
        let idx = self.commands.len();
        // The strings move into the model; what follows reads them there.
        self.commands.push(model::Command {
            ts: self.time(ts),
            command,
            arg,
            replies: Vec::new(),
            cwd: self.cwd.clone(),
            encoding: latin1.then_some(model::TextEncoding::Latin1),
        });
        let mut note = None;
        match verb {
            Verb::User => {
                self.user = Some(self.commands[idx].arg.clone());
            }
            Verb::Port | Verb::Eprt | Verb::Lprt => {
                let raw_arg = self.commands[idx].arg.as_bytes();
                let addr = match verb {
                    Verb::Port => parse::parse_port(raw_arg).map(SocketAddr::V4),
                    Verb::Eprt => parse::parse_eprt(raw_arg),
                    _ => parse::parse_lprt(raw_arg),
                };
                match addr {
                    Some(a) => {
                        note = Some(a.to_string());
                        // Naming another host is a bounce or FXP: the analyzer, which
                        // sees every session, tells which ([`Session::foreign_port`]).
                        self.announce(Setup {
                            kind: Setup::kind_of(verb),
                            mode: Mode::Active,
                            announced: a,
                            listener: a,
                            ts,
                        });
                    }
                    None => {
                        let c = &self.commands[idx];
                        let detail = format!("cannot parse {} {}", c.command, c.arg);
                        self.anomaly(ts, AnomalyKind::BadDataAddress, detail);
                    }
                }
            }
            v if v.uses_data_channel() => {
                self.data_commands += 1;
                self.waiting_cmds.push_back(idx);
                if self.waiting_cmds.len() > MAX_PENDING {
                    self.waiting_cmds.pop_front();
                }
            }
            Verb::Abor => {
                // The running data command (if any) is being aborted.
                for st in self.cmd_state.iter_mut().rev().take(MAX_PENDING) {
                    if st.verb.uses_data_channel() && st.final_code.is_none() {
                        st.aborted = true;
                        break;
                    }
                }
            }
            _ => {}
        }
        let rest = if verb.uses_data_channel() {
            self.rest.take()
        } else {
            None
        };
        self.cmd_state.push(CmdState {
            verb,
            aborted: false,
            rest,
            expected: None,
            final_code: None,
            path: None,
            started: None,
            bound: false,
        });
        self.pending.push_back((idx, verb));
        if self.pending.len() > self.limits.pending {
            self.pending.pop_front();
            self.dropped.pending += 1;
            let n = self.limits.pending;
            self.anomaly(
                ts,
                AnomalyKind::TooManyPendingCommands,
                format!("more than {n} commands without a reply"),
            );
        }
        self.event_note(ts, 0, Side::Client, EventKind::Command, shown, note);
        if verb.uses_data_channel() {
            self.bind_waiting();
        }
    }

    /// After a gap in the server's stream, replies may have been lost: when `code` can only
    /// answer a command further down the pending queue, the commands before it lost theirs.
    fn skip_lost_replies(&mut self, code: u16) {
        let fits = |v: Verb| -> Option<bool> {
            Some(match code {
                221 => matches!(v, Verb::Quit),
                227 => matches!(v, Verb::Pasv | Verb::Epsv | Verb::Lpsv),
                228 => matches!(v, Verb::Lpsv),
                229 => matches!(v, Verb::Epsv | Verb::Pasv | Verb::Lpsv),
                257 => matches!(v, Verb::Pwd | Verb::Xpwd | Verb::Mkd | Verb::Xmkd),
                331 | 332 => matches!(v, Verb::User | Verb::Pass),
                350 => matches!(v, Verb::Rest | Verb::Rnfr),
                226 | 125 | 150 => v.uses_data_channel() || v == Verb::Abor,
                _ => return None,
            })
        };
        let verbs: Vec<Verb> = self.pending.iter().map(|&(_, v)| v).collect();
        if fits(verbs.first().copied().unwrap_or(Verb::Other)) != Some(false) {
            return;
        }
        if let Some(k) = verbs.iter().position(|&v| fits(v) == Some(true)) {
            self.pending.drain(..k);
        }
    }

    fn announce(&mut self, s: Setup) {
        self.last_setup = Some(s);
        self.new_setups.push(s);
    }

    // ----- replies ---------------------------------------------------------------

    fn server_line(&mut self, ts: Timestamp, bytes: &[u8]) {
        self.last_server_line = ts;
        match self.replies.feed(bytes) {
            ReplyEvent::Pending => {}
            ReplyEvent::Malformed(line) => {
                let text = parse::decode_text(line).0.into_owned();
                self.anomaly_event(ts, 0, Side::Server, AnomalyKind::MalformedReply, text);
            }
            ReplyEvent::Reply(r) => {
                let (t, latin1) = parse::decode_text(&r.text);
                self.on_reply(ts, r.code, &t, latin1);
            }
        }
    }

    /// The session state machine: a complete reply, paired with the command it answers.
    fn on_reply(&mut self, ts: Timestamp, code: u16, text: &str, latin1: bool) {
        let preliminary = (100..200).contains(&code);
        if std::mem::take(&mut self.server_gap) {
            self.skip_lost_replies(code);
        }
        let idx = if preliminary {
            self.pending.front().copied()
        } else {
            self.pending.pop_front()
        };
        let idx = match idx {
            Some((NOT_KEPT, verb)) => {
                // A command beyond MAX_COMMANDS: only its login outcome is followed.
                if !preliminary {
                    self.step(Input::UnkeptReply { verb, code });
                }
                return;
            }
            Some((i, _)) => i,
            None if self.commands.len() >= self.limits.commands => {
                self.dropped.commands += 1;
                return;
            }
            None => {
                // Greeting or unsolicited reply: a command with an empty verb.
                let i = self.commands.len();
                self.commands.push(model::Command {
                    ts: self.time(ts),
                    command: String::new(),
                    arg: String::new(),
                    replies: Vec::new(),
                    cwd: self.cwd.clone(),
                    encoding: None,
                });
                self.cmd_state.push(CmdState {
                    verb: Verb::Other,
                    aborted: false,
                    rest: None,
                    expected: None,
                    final_code: None,
                    path: None,
                    started: None,
                    bound: false,
                });
                i
            }
        };
        // "{code} {text}", continuation lines indented (built without the formatting
        // machinery: once per reply).
        let mut shown = String::with_capacity(text.len() + 8);
        shown.push_str(itoa::Buffer::new().format(code));
        shown.push(' ');
        if text.contains('\n') {
            shown.push_str(&text.replace('\n', "\n    "));
        } else {
            shown.push_str(text);
        }
        let rts = self.time(ts);
        self.commands[idx].replies.push(Reply {
            ts: rts,
            code,
            text: text.to_owned(),
            encoding: latin1.then_some(model::TextEncoding::Latin1),
        });
        let verb = self.cmd_state[idx].verb;
        if !preliminary {
            self.cmd_state[idx].final_code = Some(code);
        } else if verb.uses_data_channel() && self.cmd_state[idx].started.is_none() {
            self.cmd_state[idx].started = Some(ts);
        }
        // Borrowed out of the command while its reply is handled (put back below: nothing
        // in between reads it there), not copied.
        let arg = std::mem::take(&mut self.commands[idx].arg);
        let mut note = None;
        // Greeting, login, AUTH, REIN, QUIT: the phase.
        let encrypted = self.control_encrypted();
        self.step(Input::Reply {
            verb,
            code,
            encrypted,
        });
        match (verb, code) {
            (Verb::Cwd | Verb::Xcwd, 200..=299) => {
                self.cwd = resolve(self.cwd.as_deref(), &arg);
            }
            (Verb::Cdup | Verb::Xcup, 200..=299) => {
                self.cwd = resolve(self.cwd.as_deref(), "..");
            }
            (Verb::Pwd | Verb::Xpwd, 257) => {
                if let Some(p) = parse::parse_257_path(text.as_bytes()) {
                    self.cwd = Some(p);
                }
            }
            (Verb::Pasv | Verb::Epsv | Verb::Lpsv, 227..=229) => {
                let kind = Setup::kind_of(verb);
                let announced = match code {
                    227 => parse::parse_pasv_reply(text.as_bytes()).map(SocketAddr::V4),
                    228 => parse::parse_lpsv_reply(text.as_bytes()),
                    _ => parse::parse_epsv_reply(text.as_bytes())
                        .map(|p| SocketAddr::new(self.server.ip(), p)),
                };
                match announced {
                    Some(a) => {
                        note = Some(a.to_string());
                        let mut listener = a;
                        if a.ip() != self.server.ip() {
                            self.anomaly(
                                ts,
                                AnomalyKind::PasvNat,
                                format!(
                                    "{code} names {} but the server is {}",
                                    a.ip(),
                                    self.server.ip()
                                ),
                            );
                            listener = SocketAddr::new(self.server.ip(), a.port());
                        }
                        self.announce(Setup {
                            kind,
                            mode: Mode::Passive,
                            announced: a,
                            listener,
                            ts,
                        });
                    }
                    None => self.anomaly(
                        ts,
                        AnomalyKind::BadDataAddress,
                        format!("cannot parse {code} {text}"),
                    ),
                }
            }
            (Verb::Rest, 350) => {
                self.rest = arg.trim().parse::<u64>().ok();
            }
            (Verb::Size, 213) => {
                if let Some(n) = parse::parse_size_reply(text.as_bytes()) {
                    let key = resolve(self.cwd.as_deref(), &arg).unwrap_or(arg.clone());
                    self.learn_size(key, n);
                }
            }
            (Verb::Type, 200..=299) => {
                self.transfer_type = Some(arg.trim().to_ascii_uppercase());
            }
            (Verb::Stou, 125 | 150 | 226 | 250) if stou_name(text).is_some() => {
                // STOU: the server names the file it created ("150 FILE: name").
                let name = stou_name(text).unwrap_or_default();
                let path = resolve(self.commands[idx].cwd.as_deref(), &name);
                self.cmd_state[idx].path = path.clone();
                for t in self.transfers.iter_mut().filter(|t| t.command == Some(idx)) {
                    t.t.path = path.clone();
                }
            }
            (v, 125 | 150) if v.uses_data_channel() => {
                if let Some(n) = parse::parse_transfer_size(text.as_bytes()) {
                    self.cmd_state[idx].expected = Some(n);
                    for t in self.transfers.iter_mut().filter(|t| t.command == Some(idx)) {
                        t.t.expected_bytes = Some(n);
                    }
                }
            }
            (v, 200..=599) if v.uses_data_channel() && !preliminary => {
                // Final reply: a command that never got its data connection stops waiting.
                self.waiting_cmds.retain(|&c| c != idx);
            }
            _ => {}
        }
        self.commands[idx].arg = arg;
        if !preliminary && (400..600).contains(&code) && verb.uses_data_channel() {
            self.waiting_cmds.retain(|&c| c != idx);
        }
        if !preliminary && verb.uses_data_channel() {
            if let Some(t) = self.not_captured(idx, ts) {
                note = Some(format!(
                    "{}: data connection not in capture",
                    conn_name(t + 1)
                ));
            }
        }
        self.event_note(ts, 0, Side::Server, EventKind::Reply, shown, note);
    }

    // ----- data connections --------------------------------------------------------

    /// An active setup naming a host other than the client: a `port_bounce`, or, when
    /// `fxp` names the session (id, server) of the same client whose passive listener it
    /// is, a server-to-server transfer (`fxp`).
    pub fn foreign_port(&mut self, s: &Setup, fxp: Option<(u64, SocketAddr)>) {
        match fxp {
            None => self.anomaly(
                s.ts,
                AnomalyKind::PortBounce,
                format!(
                    "{} names {} but the client is {}",
                    s.kind,
                    s.announced,
                    self.client.ip()
                ),
            ),
            Some((id, server)) => self.anomaly(
                s.ts,
                AnomalyKind::Fxp,
                format!(
                    "{} names {}, the passive listener that session {id} of the same client \
                     opened on {}: a server-to-server transfer",
                    s.kind,
                    s.announced,
                    server.ip()
                ),
            ),
        }
    }

    /// A host other than the client connected to this session's passive listener.
    pub fn hijack(&mut self, ts: Timestamp, connector: SocketAddr, listener: SocketAddr) {
        self.anomaly(
            ts,
            AnomalyKind::DataPortHijack,
            format!(
                "{connector} connected to the passive listener {listener}, but the client is {}",
                self.client.ip()
            ),
        );
    }

    /// A new data connection for this session; returns its transfer index (0-based).
    pub fn open_data(
        &mut self,
        ts: Timestamp,
        connector: SocketAddr,
        listener: SocketAddr,
        setup: Option<Setup>,
    ) -> usize {
        self.open_data_tied(ts, connector, listener, setup, false)
    }

    /// A data connection of this TLS session found by hosts and time (its PASV/PORT was
    /// encrypted): `match: "timing"`; mode and direction are inferred.
    pub fn open_data_timing(
        &mut self,
        ts: Timestamp,
        connector: SocketAddr,
        listener: SocketAddr,
    ) -> usize {
        self.open_data_tied(ts, connector, listener, None, true)
    }

    fn open_data_tied(
        &mut self,
        ts: Timestamp,
        connector: SocketAddr,
        listener: SocketAddr,
        setup: Option<Setup>,
        timing: bool,
    ) -> usize {
        // Without an announced setup, who connected tells the mode.
        let mode = setup
            .map(|s| s.mode)
            .unwrap_or(if connector.ip() == self.client.ip() {
                Mode::Passive
            } else {
                Mode::Active
            });
        let kind = setup.map(|s| s.kind).unwrap_or(match mode {
            Mode::Passive => SetupKind::Pasv,
            Mode::Active => SetupKind::Port,
        });
        // A data connection that shows up after its command's final reply (captures merged
        // from two interfaces, say) fills the transfer the dialogue already recorded.
        if let Some(i) = setup.and_then(|_| {
            // Only the newest transfers: a bounded look, whatever the session's length.
            let n = self.transfers.len();
            self.transfers
                .iter()
                .rev()
                .take(MAX_PENDING)
                .position(|t| {
                    t.t.data == DataCapture::NotCaptured && t.t.data_server == ep(listener)
                })
                .map(|k| n - 1 - k)
        }) {
            let tr = &mut self.transfers[i];
            tr.t.data = DataCapture::Captured;
            tr.t.data_client = ep(connector);
            tr.t.match_ = match setup {
                Some(s) if s.listener == s.announced => DataMatch::Announced,
                _ => DataMatch::Nat,
            };
            tr.t.matched = true;
            (tr.t.bytes, tr.t.captured_bytes, tr.t.missing_bytes) = (Some(0), Some(0), Some(0));
            tr.closed = false;
            self.open_data += 1;
            return i;
        }
        let i = self.transfers.len();
        self.transfers.push(TransferState {
            t: model::Transfer {
                command: String::new(),
                arg: String::new(),
                path: None,
                direction: Direction::Download,
                mode,
                setup: kind,
                data_client: ep(connector),
                data_server: ep(listener),
                start: self.time(ts),
                end: self.time(ts),
                data: DataCapture::Captured,
                match_: match setup {
                    Some(s) if s.listener == s.announced => DataMatch::Announced,
                    Some(_) => DataMatch::Nat,
                    None if timing => DataMatch::Timing,
                    None => DataMatch::None,
                },
                bytes: Some(0),
                captured_bytes: Some(0),
                missing_bytes: Some(0),
                expected_bytes: None,
                rest: None,
                status: TransferStatus::Incomplete,
                reply_code: None,
                sha256: None,
                segments: 0,
                announced: setup.map(|s| ep(s.announced)),
                extracted: None,
                joined: None,
                listing: None,
                matched: setup.is_some() || timing,
            },
            command: None,
            closed: false,
            connector_is_client: mode == Mode::Passive,
            bytes_by_dir: [0; 2],
            close: None,
            tls_app_bytes: None,
        });
        self.open_data += 1;
        if timing && self.control_encrypted() {
            // Its command is inside TLS: never tie it to a command seen later in clear.
            return i;
        }
        if setup.is_none() && !timing {
            self.anomaly(
                ts,
                AnomalyKind::UnmatchedDataConnection,
                format!(
                    "data connection {} -> {} matches no PORT/PASV/EPRT/EPSV",
                    connector, listener
                ),
            );
        }
        self.waiting_data.push_back(i);
        self.bind_waiting();
        i
    }

    /// A data command's final reply came after a preliminary one (the server opened or
    /// accepted its data connection), but no data connection in the capture is tied to it:
    /// the transfer is recorded from the dialogue alone (`data: "not_captured"`, byte
    /// fields null). Returns its transfer index.
    fn not_captured(&mut self, c: usize, end: Timestamp) -> Option<usize> {
        let start = self.cmd_state[c].started?;
        if self.cmd_state[c].bound {
            return None;
        }
        if self.transfers.len() >= self.limits.transfers {
            self.transfer_dropped(end);
            return None;
        }
        let setup = self.last_setup.filter(|s| s.ts <= start);
        // Endpoints from the announcement; the connector's port is never announced (0).
        let (mode, kind, connector, listener) = match setup {
            Some(s) if s.mode == Mode::Passive => (
                Mode::Passive,
                s.kind,
                SocketAddr::new(self.client.ip(), 0),
                s.listener,
            ),
            Some(s) => (
                Mode::Active,
                s.kind,
                SocketAddr::new(self.server.ip(), 0),
                s.listener,
            ),
            None => (
                Mode::Passive,
                SetupKind::Unknown,
                SocketAddr::new(self.client.ip(), 0),
                SocketAddr::new(self.server.ip(), 0),
            ),
        };
        let i = self.transfers.len();
        self.transfers.push(TransferState {
            t: model::Transfer {
                command: String::new(),
                arg: String::new(),
                path: None,
                direction: Direction::Download,
                mode,
                setup: kind,
                data_client: ep(connector),
                data_server: ep(listener),
                start: self.time(start),
                end: self.time(end),
                data: DataCapture::NotCaptured,
                match_: DataMatch::None,
                bytes: None,
                captured_bytes: None,
                missing_bytes: None,
                expected_bytes: None,
                rest: None,
                status: TransferStatus::Incomplete,
                reply_code: None,
                sha256: None,
                segments: 0,
                announced: setup.map(|s| ep(s.announced)),
                extracted: None,
                joined: None,
                listing: None,
                matched: false,
            },
            command: None,
            closed: true,
            connector_is_client: mode == Mode::Passive,
            bytes_by_dir: [0; 2],
            close: None,
            tls_app_bytes: None,
        });
        self.bind(i, c);
        Some(i)
    }

    /// Tie waiting data connections to waiting data commands, oldest first.
    fn bind_waiting(&mut self) {
        while let (Some(&t), Some(&c)) = (self.waiting_data.front(), self.waiting_cmds.front()) {
            self.waiting_data.pop_front();
            self.waiting_cmds.pop_front();
            self.bind(t, c);
        }
    }

    fn bind(&mut self, t: usize, c: usize) {
        self.cmd_state[c].bound = true;
        let cmd = &self.commands[c];
        let st = &self.cmd_state[c];
        let path = resolve(cmd.cwd.as_deref(), parse::strip_list_options(&cmd.arg));
        let tr = &mut self.transfers[t];
        tr.command = Some(c);
        tr.t.command = cmd.command.clone();
        tr.t.arg = cmd.arg.clone();
        tr.t.direction = match st.verb.direction() {
            Some(parse::Direction::Download) => Direction::Download,
            Some(parse::Direction::Upload) => Direction::Upload,
            _ => Direction::Listing,
        };
        tr.t.path = st.path.clone().or(path);
        tr.t.rest = st.rest;
        tr.t.expected_bytes = st.expected.or_else(|| {
            let key = tr.t.path.clone().unwrap_or_else(|| cmd.arg.clone());
            self.sizes
                .iter()
                .rev()
                .find(|(p, _)| *p == key || *p == cmd.arg)
                .map(|(_, n)| *n)
        });
    }

    fn learn_size(&mut self, path: String, size: u64) {
        if self.sizes.len() >= MAX_KNOWN_SIZES {
            self.sizes.pop_front();
        }
        self.sizes.push_back((path, size));
    }

    /// A listing of `dir` (None: the login directory) named these files and sizes: a later
    /// RETR of one of them expects that many bytes.
    fn learn_listing_sizes<'n>(
        &mut self,
        dir: Option<&str>,
        files: impl Iterator<Item = (&'n str, u64)>,
    ) {
        for (name, size) in files {
            if name.contains('/') && !name.starts_with('/') {
                continue;
            }
            if let Some(path) = resolve(dir.or(self.cwd.as_deref()), name) {
                self.learn_size(path, size);
            }
        }
    }

    /// Per-direction byte accounting of a data connection as it runs.
    pub fn data_bytes(&mut self, ts: Timestamp, t: usize, from: Side, bytes: u64, new_seg: bool) {
        if let Some(tr) = self.transfers.get_mut(t) {
            tr.bytes_by_dir[side_idx(from)] += bytes;
            tr.t.segments += new_seg as u64;
            tr.t.end = Time::new(ts, self.digits);
        }
        self.data_run(ts, t + 1, from, bytes, new_seg);
    }

    /// The data connection ended: final byte counts from TCP. `ended`: its FIN or RST is
    /// in the capture; without one, bytes the server announced (150 `(N bytes)`, SIZE, less
    /// REST) beyond what the capture holds are missing too (`truncated_in_capture`).
    pub fn close_data(
        &mut self,
        t: usize,
        end: Timestamp,
        seq_bytes: u64,
        captured: u64,
        ended: bool,
    ) {
        let digits = self.digits;
        let Some(tr) = self.transfers.get_mut(t) else {
            return;
        };
        if tr.closed {
            return;
        }
        tr.closed = true;
        tr.t.bytes = Some(seq_bytes);
        tr.t.captured_bytes = Some(captured.min(seq_bytes));
        let mut missing = seq_bytes.saturating_sub(captured);
        if end > tr.t.end.ts {
            tr.t.end = Time::new(end, digits);
        }
        self.open_data = self.open_data.saturating_sub(1);
        let announced =
            tr.t.expected_bytes
                .map(|n| n.saturating_sub(tr.t.rest.unwrap_or(0)));
        let remainder = match announced {
            Some(n) if !ended && tr.t.direction == Direction::Download => {
                n.saturating_sub(seq_bytes)
            }
            _ => 0,
        };
        missing = missing.saturating_add(remainder);
        tr.t.missing_bytes = Some(missing);
        if remainder > 0 {
            let detail = format!(
                "{}: {} {}: the server announced {} bytes, the capture holds {} and not the \
                 data connection's end; {remainder} bytes missing",
                conn_name(t + 1),
                tr.t.command,
                tr.t.arg,
                announced.unwrap_or(0),
                captured.min(seq_bytes),
            );
            self.anomaly(end, AnomalyKind::TruncatedInCapture, detail);
        }
    }

    /// The data connection's first bytes are TLS records (PROT P): nothing in it is the file.
    pub fn data_encrypted(&mut self, t: usize) {
        if let Some(tr) = self.transfers.get_mut(t) {
            tr.t.data = DataCapture::Encrypted;
            tr.t.sha256 = None;
        }
    }

    /// The data connection of a TLS session carries cleartext (PROT C, or after CCC).
    pub fn data_cleartext_after_tls(&mut self, ts: Timestamp, t: usize) {
        let Some(tr) = self.transfers.get(t) else {
            return;
        };
        let detail = format!(
            "data:{} {}:{} -> {}:{} carries cleartext {}",
            t + 1,
            tr.t.data_client.ip,
            tr.t.data_client.port,
            tr.t.data_server.ip,
            tr.t.data_server.port,
            if self.control_encrypted() {
                "while the control connection is encrypted (PROT C)"
            } else {
                "after the control connection left TLS (CCC)"
            }
        );
        self.anomaly(ts, AnomalyKind::CleartextDataAfterTls, detail);
    }

    /// Application-data bytes the client and the server sent on an encrypted data connection.
    pub fn data_tls_app_bytes(&mut self, t: usize, from_client: u64, from_server: u64) {
        if let Some(tr) = self.transfers.get_mut(t) {
            tr.tls_app_bytes = Some([from_client, from_server]);
        }
    }

    /// How the data connection ended.
    pub fn data_close_kind(&mut self, t: usize, close: Close) {
        if let Some(tr) = self.transfers.get_mut(t) {
            tr.close = Some(close);
        }
    }

    /// The TLS facts for the JSON (None for a session without TLS).
    fn tls_info(&self) -> Option<model::TlsInfo> {
        let t = self.tls_ctl.as_ref()?;
        let [client, server] = &t.facts;
        let cert = server.cert.as_ref();
        Some(model::TlsInfo {
            implicit: t.implicit,
            version: server.version.map(model::TlsVersion::from_wire),
            sni: client.sni.clone(),
            cert_subject: cert.map(|c| c.subject.clone()),
            cert_issuer: cert.map(|c| c.issuer.clone()),
            cert_not_before: cert.map(|c| c.not_before.clone()),
            cert_not_after: cert.map(|c| c.not_after.clone()),
            cleared: self.phase.cleared(),
        })
    }

    /// Whether this session is still waiting for a data connection (for unmatched ones).
    pub fn wants_data(&self) -> bool {
        !self.waiting_cmds.is_empty()
    }

    // ----- output ------------------------------------------------------------------

    /// Build the model Session (consumes the state).
    pub fn into_model(mut self) -> model::Session {
        self.close_run();
        // A connection classified late (a probe) replays its earlier events: keep time order.
        if !self.timeline.is_sorted_by_key(|e| e.ts) {
            self.timeline.sort_by_key(|e| e.ts);
        }
        let tls_bytes = self.tls_ctl.as_ref().map(|t| t.bytes).unwrap_or_default();
        let oversized: u64 = self
            .tls_ctl
            .as_ref()
            .map(|t| t.streams.iter().map(|s| s.oversized).sum())
            .unwrap_or(0);
        if oversized > 0 {
            let ts = self.end;
            self.anomaly(
                ts,
                AnomalyKind::TlsHandshakeTooLarge,
                format!(
                    "{oversized} TLS handshake message(s) over {} bytes were not read",
                    tls::MAX_HANDSHAKE_BYTES
                ),
            );
        }
        if tls_bytes[0] > 0 || tls_bytes[1] > 0 {
            let ts = self.end;
            let (a, b) = (tls_bytes[0], tls_bytes[1]);
            self.anomaly(
                ts,
                AnomalyKind::TlsUnparsed,
                format!(
                    "{}: {a} bytes from the client and {b} from the server left encrypted",
                    if self.tls_ctl.as_ref().is_some_and(|t| t.implicit) {
                        "implicit TLS"
                    } else {
                        "after AUTH"
                    }
                ),
            );
        }
        let mut transfers = Vec::with_capacity(self.transfers.len());
        for tr in std::mem::take(&mut self.transfers) {
            let mut t = tr.t;
            if let Some(c) = tr.command {
                let st = &self.cmd_state[c];
                t.reply_code = st.final_code;
                t.status = status_of(st.final_code, st.aborted);
            } else {
                // No command: the direction is which side sent the bytes (the payload's
                // records when it is TLS).
                let [from_client, from_server] = tr.tls_app_bytes.unwrap_or(tr.bytes_by_dir);
                t.direction = if from_client > from_server {
                    Direction::Upload
                } else {
                    Direction::Download
                };
                if t.match_ == DataMatch::Timing {
                    // The replies are encrypted: how the data connection ended tells.
                    t.status = match tr.close {
                        Some(Close::Fin) => TransferStatus::Complete,
                        Some(Close::Rst) => TransferStatus::Aborted,
                        _ => TransferStatus::Incomplete,
                    };
                }
            }
            if t.missing_bytes != Some(0) {
                t.sha256 = None;
            }
            transfers.push(t);
        }
        let tls_info = self.tls_info();
        let password = self.password.as_ref().map(|p| {
            if self.show_passwords {
                p.clone()
            } else {
                "<hidden>".to_string()
            }
        });
        let login_attempts = super::logins::attempts(&self.commands);
        model::Session {
            dropped: (self.dropped != model::Dropped::default()).then_some(self.dropped),
            id: self.id,
            client: ep(self.client),
            server: ep(self.server),
            server_name: None,
            start: Time::new(self.start, self.digits),
            end: Time::new(self.end, self.digits),
            user: self.user,
            password,
            login: self.phase.login,
            login_attempts,
            tls: self.phase.tls(),
            close: self.phase.close(),
            commands: self.commands,
            transfers,
            timeline: self.timeline,
            anomalies: self.anomalies,
            transfer_type: self.transfer_type,
            segment: None,
            tls_info,
        }
    }
}

/// The file name in a STOU reply: "150 FILE: name" (RFC 1123 4.1.2.9).
fn stou_name(text: &str) -> Option<String> {
    let i = text.find("FILE:")?;
    let name = text[i + 5..].trim().trim_end_matches('.').trim();
    (!name.is_empty() && !name.contains('\n')).then(|| name.to_string())
}

/// `arg` resolved against the working directory. Until a PWD (257) names it, the login
/// directory is unknown: paths are then kept relative to it ("pub/readme.txt"), and the
/// login directory itself is `None`.
fn resolve(cwd: Option<&str>, arg: &str) -> Option<String> {
    parse::resolve_path(Some(cwd.unwrap_or(".")), arg).filter(|p| p != ".")
}

/// Two details of a repeating finding name the same cause: equal up to the first number
/// that follows a ':' (ports), e.g. "PORT names 10.0.0.200:20001 …" and "…:20002 …".
fn same_cause(a: &str, b: &str) -> bool {
    cause_chars(a).eq(cause_chars(b))
}

/// A detail's characters without the digits right after a colon (ports, counts): what
/// tells one cause from another. No allocation.
fn cause_chars(s: &str) -> impl Iterator<Item = char> + '_ {
    let mut after_colon = false;
    s.chars().filter(move |&ch| {
        if after_colon && ch.is_ascii_digit() {
            return false;
        }
        after_colon = ch == ':';
        true
    })
}

/// Hash of an anomaly's kind and cause ([`cause_chars`]), streamed through `b`'s hasher.
fn cause_hash(b: &impl std::hash::BuildHasher, kind: &str, detail: &str) -> u64 {
    use std::hash::Hasher;
    let mut h = b.build_hasher();
    h.write(kind.as_bytes());
    h.write_u8(0xff);
    let mut buf = [0u8; 4];
    for ch in cause_chars(detail) {
        h.write(ch.encode_utf8(&mut buf).as_bytes());
    }
    h.finish()
}

/// What the session keeps of a line's flags.
#[derive(Debug, Clone, Copy)]
struct LineFlags {
    too_long: bool,
    orig_len: usize,
}

impl LineFlags {
    fn of(l: &Line<'_>) -> Self {
        LineFlags {
            too_long: l.too_long,
            orig_len: l.orig_len,
        }
    }
}

/// Transfer status from the final reply of its command (SPEC.md).
pub fn status_of(code: Option<u16>, aborted: bool) -> TransferStatus {
    match code {
        _ if aborted => TransferStatus::Aborted,
        Some(426) => TransferStatus::Aborted,
        Some(226 | 250) => TransferStatus::Complete,
        Some(425 | 450 | 451 | 452 | 550 | 551 | 552 | 553) => TransferStatus::Failed,
        Some(c) if c >= 400 => TransferStatus::Failed,
        Some(c) if (200..300).contains(&c) => TransferStatus::Complete,
        _ => TransferStatus::Incomplete,
    }
}

pub fn ep(a: SocketAddr) -> Endpoint {
    Endpoint {
        ip: a.ip(),
        port: a.port(),
    }
}

pub fn conn_name(conn: usize) -> Conn {
    match conn.checked_sub(1) {
        None => Conn::Control,
        Some(t) => Conn::transfer(t),
    }
}

fn side_idx(s: Side) -> usize {
    match s {
        Side::Client => 0,
        Side::Server => 1,
    }
}

fn side_name(s: Side) -> &'static str {
    match s {
        Side::Client => "client",
        Side::Server => "server",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const C: &str = "10.0.0.2:40000";
    const S: &str = "10.0.0.1:21";

    fn session() -> Session {
        let mut s = Session::new(
            1,
            C.parse().unwrap(),
            S.parse().unwrap(),
            Timestamp(0),
            6,
            false,
        );
        s.control_data(Timestamp(1), Side::Server, b"220 ready\r\n");
        s.control_data(Timestamp(2), Side::Client, b"USER u\r\n");
        s.control_data(Timestamp(3), Side::Server, b"230 ok\r\n");
        s
    }

    fn say(s: &mut Session, t: i64, from: Side, line: &[u8]) {
        s.control_data(Timestamp(t), from, line);
    }

    #[test]
    fn commands_beyond_the_limit_are_counted_not_kept() {
        let mut s = session();
        // session() kept 2: the greeting (empty verb) and USER.
        let extra = 5;
        let mut flood = Vec::new();
        for _ in 0..MAX_COMMANDS - 2 + extra {
            flood.extend_from_slice(b"NOOP\r\n");
        }
        say(&mut s, 10, Side::Client, &flood);
        let mut replies = Vec::new();
        for _ in 0..MAX_PENDING {
            replies.extend_from_slice(b"200 OK\r\n");
        }
        say(&mut s, 11, Side::Server, &replies);
        // A failed login beyond the limit still counts (brute force in one session).
        say(&mut s, 12, Side::Client, b"PASS x\r\n");
        say(&mut s, 13, Side::Server, b"530 no\r\n");
        assert_eq!(s.failed_logins, 1);
        let m = s.into_model();
        assert_eq!(m.commands.len(), MAX_COMMANDS);
        let d = m.dropped.expect("dropped");
        assert_eq!((d.commands, d.events), (extra as u64 + 1, 0));
        let limits: Vec<&str> = m
            .anomalies
            .iter()
            .filter(|a| a.kind == AnomalyKind::LimitReached)
            .map(|a| a.detail.as_str())
            .collect();
        assert_eq!(
            limits,
            ["max_commands: more than 20000 commands in this session: the rest are counted, not kept"]
        );
    }

    #[test]
    fn a_password_beyond_the_command_limit_still_counts() {
        let mut s = limited(Limits {
            commands: 2,
            ..Limits::default()
        });
        say(&mut s, 10, Side::Client, b"USER bob\r\nPASS secret\r\n");
        say(&mut s, 11, Side::Server, b"331 pw\r\n530 no\r\n");
        assert_eq!(s.password.as_deref(), Some("secret"));
        assert_eq!(s.failed_logins, 1);
        let m = s.into_model();
        assert_eq!(m.commands.len(), 2);
        assert_eq!(m.commands[1].command, "USER");
        assert!(m
            .anomalies
            .iter()
            .any(|a| a.kind == AnomalyKind::CleartextCredentials));
    }

    #[test]
    fn events_beyond_the_limit_are_counted_not_kept() {
        let mut s = session();
        let kept = s.timeline.len();
        for i in 0..MAX_EVENTS - kept + 3 {
            s.event(
                Timestamp(10 + i as i64),
                0,
                Side::Client,
                EventKind::Tcp,
                String::new(),
            );
        }
        let m = s.into_model();
        assert_eq!(m.timeline.len(), MAX_EVENTS);
        assert_eq!(
            m.dropped,
            Some(model::Dropped {
                events: 3,
                ..Default::default()
            })
        );
        assert_eq!(
            m.anomalies
                .iter()
                .filter(|a| a.kind == AnomalyKind::LimitReached)
                .count(),
            1
        );
    }

    fn limited(l: Limits) -> Session {
        let mut s = Session::new(
            1,
            C.parse().unwrap(),
            S.parse().unwrap(),
            Timestamp(0),
            6,
            false,
        )
        .with_limits(l);
        s.control_data(Timestamp(1), Side::Server, b"220 ready\r\n");
        s
    }

    fn limit_details(m: &model::Session) -> Vec<&str> {
        m.anomalies
            .iter()
            .filter(|a| a.kind == AnomalyKind::LimitReached)
            .map(|a| a.detail.as_str())
            .collect()
    }

    #[test]
    fn commands_beyond_a_chosen_limit_are_counted() {
        let mut s = limited(Limits {
            commands: 3,
            ..Limits::default()
        });
        for t in 0..5 {
            say(&mut s, 10 + 2 * t, Side::Client, b"NOOP\r\n");
            say(&mut s, 11 + 2 * t, Side::Server, b"200 OK\r\n");
        }
        let m = s.into_model();
        // The greeting's entry and two NOOPs are kept.
        assert_eq!(m.commands.len(), 3);
        assert_eq!(m.dropped.map(|d| d.commands), Some(3));
        assert_eq!(
            limit_details(&m),
            ["max_commands: more than 3 commands in this session: the rest are counted, not kept"]
        );
    }

    #[test]
    fn pending_commands_beyond_the_limit_lose_their_pairing_counted() {
        let mut s = limited(Limits {
            pending: 2,
            ..Limits::default()
        });
        for t in 0..5 {
            say(&mut s, 10 + t, Side::Client, b"NOOP\r\n");
        }
        let m = s.into_model();
        assert_eq!(m.commands.len(), 6);
        assert_eq!(
            m.dropped,
            Some(model::Dropped {
                pending: 3,
                ..Default::default()
            })
        );
        let found: Vec<&str> = m
            .anomalies
            .iter()
            .filter(|a| a.kind == AnomalyKind::TooManyPendingCommands)
            .map(|a| a.detail.as_str())
            .collect();
        assert_eq!(found, ["more than 2 commands without a reply"]);
    }

    #[test]
    fn transfers_beyond_the_limit_are_counted() {
        let mut s = limited(Limits {
            transfers: 2,
            ..Limits::default()
        });
        let (c, l): (SocketAddr, SocketAddr) = (
            "10.0.0.2:50000".parse().unwrap(),
            "10.0.0.1:6000".parse().unwrap(),
        );
        for t in 0..4 {
            if s.room_for_transfer(Timestamp(10 + t)) {
                s.open_data(Timestamp(10 + t), c, l, None);
            }
        }
        let m = s.into_model();
        assert_eq!(m.transfers.len(), 2);
        assert_eq!(m.dropped.map(|d| d.transfers), Some(2));
        assert_eq!(
            limit_details(&m),
            ["max_transfers: more than 2 transfers in this session: the rest are counted, not kept"]
        );
    }

    #[test]
    fn anomalies_beyond_the_limit_are_counted() {
        let mut s = limited(Limits {
            anomalies: 2,
            ..Limits::default()
        });
        for i in 0..5 {
            s.anomaly(
                Timestamp(10),
                AnomalyKind::MalformedReply,
                format!("line {i}"),
            );
        }
        let m = s.into_model();
        assert_eq!(m.anomalies.len(), 2);
        assert_eq!(m.dropped.map(|d| d.anomalies), Some(3));
    }

    #[test]
    fn repeated_causes_are_reported_once_digits_after_a_colon_aside() {
        let mut s = session();
        for p in 0..100 {
            s.anomaly(
                Timestamp(10),
                AnomalyKind::PortBounce,
                format!("PORT names 10.9.9.9:{p} not the client"),
            );
        }
        s.anomaly(
            Timestamp(11),
            AnomalyKind::PortBounce,
            "PORT names 10.9.9.8:1 not the client".into(),
        );
        // Another kind with the same detail is another cause.
        s.anomaly(
            Timestamp(12),
            AnomalyKind::PasvNat,
            "PORT names 10.9.9.9:1 not the client".into(),
        );
        let kinds: Vec<(AnomalyKind, &str)> = s
            .anomalies
            .iter()
            .map(|a| (a.kind, a.detail.as_str()))
            .collect();
        assert_eq!(
            kinds,
            [
                (
                    AnomalyKind::PortBounce,
                    "PORT names 10.9.9.9:0 not the client"
                ),
                (
                    AnomalyKind::PortBounce,
                    "PORT names 10.9.9.8:1 not the client"
                ),
                (AnomalyKind::PasvNat, "PORT names 10.9.9.9:1 not the client"),
            ]
        );
        assert!(same_cause("a:123 b", "a:9 b"));
        assert!(!same_cause("a:123 b", "a:9 c"));
        assert!(!same_cause("a 123", "a 9"));
    }

    #[test]
    fn forgotten_expectations_are_counted_and_said_once_each() {
        let mut s = session();
        for _ in 0..3 {
            s.expectation_forgotten(Timestamp(10), false, 64);
            s.expectation_forgotten(Timestamp(11), true, 300);
        }
        let m = s.into_model();
        let d = m.dropped.expect("dropped");
        assert_eq!((d.expectations, d.expired_expectations), (3, 3));
        assert_eq!(
            limit_details(&m),
            [
                "max_expectations: more than 64 announced data ports waiting in this session: the oldest are forgotten (a later connection to one is not tied by its announcement)",
                "expectation_timeout: a data port announced in this session saw no connection within 300 s: forgotten (a later connection to it is not tied by its announcement)",
            ]
        );
    }

    #[test]
    fn nothing_dropped_says_nothing() {
        assert_eq!(session().into_model().dropped, None);
    }

    #[test]
    fn a_transfer_from_the_dialogue_alone() {
        let mut s = session();
        say(&mut s, 10, Side::Client, b"EPSV\r\n");
        say(
            &mut s,
            11,
            Side::Server,
            b"229 Entering Extended Passive Mode (|||5001|)\r\n",
        );
        say(&mut s, 12, Side::Client, b"RETR f\r\n");
        say(
            &mut s,
            13,
            Side::Server,
            b"150 Opening BINARY mode data connection for f (99 bytes).\r\n",
        );
        assert!(s.transfers.is_empty(), "not before the final reply");
        say(&mut s, 14, Side::Server, b"226 done\r\n");
        let m = s.into_model();
        let t = &m.transfers[0];
        assert_eq!(
            (t.data, t.match_, t.bytes),
            (DataCapture::NotCaptured, DataMatch::None, None)
        );
        assert_eq!((t.start.ts, t.end.ts), (Timestamp(13), Timestamp(14)));
        assert_eq!(
            (t.expected_bytes, t.status),
            (Some(99), TransferStatus::Complete)
        );
        assert_eq!((t.setup, t.data_server.port), (SetupKind::Epsv, 5001));
    }

    #[test]
    fn a_late_data_connection_fills_the_transfer() {
        let mut s = session();
        say(&mut s, 10, Side::Client, b"PASV\r\n");
        say(
            &mut s,
            11,
            Side::Server,
            b"227 Entering Passive Mode (10,0,0,1,19,137)\r\n",
        );
        let setup = s.new_setups.pop().unwrap();
        say(&mut s, 12, Side::Client, b"LIST\r\n");
        say(&mut s, 13, Side::Server, b"150 here\r\n226 done\r\n");
        let t = s.open_data(
            Timestamp(15),
            "10.0.0.2:40001".parse().unwrap(),
            setup.listener,
            Some(setup),
        );
        assert_eq!(t, 0);
        s.close_data(t, Timestamp(16), 10, 10, true);
        let m = s.into_model();
        assert_eq!(m.transfers.len(), 1, "never two transfers for one");
        assert_eq!(
            (m.transfers[0].data, m.transfers[0].bytes),
            (DataCapture::Captured, Some(10))
        );
    }

    #[test]
    fn a_refused_command_is_no_transfer() {
        let mut s = session();
        say(&mut s, 12, Side::Client, b"RETR f\r\n");
        say(&mut s, 13, Side::Server, b"550 no\r\n");
        assert!(s.into_model().transfers.is_empty());
    }

    #[test]
    fn a_data_connection_without_its_end_is_truncated() {
        let mut s = session();
        say(&mut s, 10, Side::Client, b"REST 100\r\n");
        say(&mut s, 11, Side::Server, b"350 ok\r\n");
        say(&mut s, 12, Side::Client, b"LPSV\r\n");
        say(
            &mut s,
            13,
            Side::Server,
            b"228 Entering Long Passive Mode (4,4,10,0,0,1,2,19,137)\r\n",
        );
        let setup = s.new_setups.pop().unwrap();
        assert_eq!((setup.kind, setup.listener.port()), (SetupKind::Lpsv, 5001));
        let t = s.open_data(
            Timestamp(14),
            "10.0.0.2:40001".parse().unwrap(),
            setup.listener,
            Some(setup),
        );
        say(&mut s, 15, Side::Client, b"RETR f\r\n");
        say(
            &mut s,
            16,
            Side::Server,
            b"150 Opening BINARY mode data connection for f (1000 bytes).\r\n",
        );
        say(&mut s, 17, Side::Server, b"226 done\r\n");
        // 1000 announced, REST 100: 900 to come; 400 seen, no FIN/RST.
        s.close_data(t, Timestamp(18), 400, 400, false);
        let m = s.into_model();
        let x = &m.transfers[0];
        assert_eq!(
            (x.bytes, x.captured_bytes, x.missing_bytes),
            (Some(400), Some(400), Some(500))
        );
        assert!(m
            .anomalies
            .iter()
            .any(|a| a.kind == AnomalyKind::TruncatedInCapture));
    }

    #[test]
    fn a_data_connection_with_its_fin_is_not_truncated() {
        let mut s = session();
        say(&mut s, 12, Side::Client, b"PASV\r\n");
        say(
            &mut s,
            13,
            Side::Server,
            b"227 Entering Passive Mode (10,0,0,1,19,137)\r\n",
        );
        let setup = s.new_setups.pop().unwrap();
        let t = s.open_data(
            Timestamp(14),
            "10.0.0.2:40001".parse().unwrap(),
            setup.listener,
            Some(setup),
        );
        say(&mut s, 15, Side::Client, b"RETR f\r\n");
        say(
            &mut s,
            16,
            Side::Server,
            b"150 Opening BINARY mode data connection for f (1000 bytes).\r\n",
        );
        s.close_data(t, Timestamp(18), 400, 400, true);
        let m = s.into_model();
        assert_eq!(m.transfers[0].missing_bytes, Some(0));
        assert!(!m
            .anomalies
            .iter()
            .any(|a| a.kind == AnomalyKind::TruncatedInCapture));
    }

    #[test]
    fn a_reply_cut_by_a_gap_keeps_its_own_time() {
        let mut s = session();
        say(&mut s, 10, Side::Client, b"FEAT\r\n");
        say(&mut s, 11, Side::Server, b"211-Features:\r\n EPSV\r\n");
        s.control_gap(Timestamp(20), Side::Server, 100, 9);
        say(&mut s, 21, Side::Client, b"PWD\r\n");
        say(&mut s, 22, Side::Server, b"257 \"/\"\r\n");
        let m = s.into_model();
        let feat = m.commands.iter().find(|c| c.command == "FEAT").unwrap();
        assert_eq!(
            (feat.replies[0].code, feat.replies[0].ts.ts),
            (211, Timestamp(11))
        );
        let pwd = m.commands.iter().find(|c| c.command == "PWD").unwrap();
        assert_eq!(pwd.replies[0].code, 257);
        assert!(m
            .anomalies
            .iter()
            .any(|a| a.kind == AnomalyKind::ReplyCutByGap));
    }

    #[test]
    fn lprt_announces_an_active_setup() {
        let mut s = session();
        say(
            &mut s,
            10,
            Side::Client,
            b"LPRT 6,16,32,1,13,184,0,0,0,0,0,0,0,0,0,0,0,2,2,23,112\r\n",
        );
        let setup = s.new_setups.pop().unwrap();
        assert_eq!((setup.kind, setup.mode), (SetupKind::Lprt, Mode::Active));
        assert_eq!(setup.announced, "[2001:db8::2]:6000".parse().unwrap());
        // Naming another host is left to the analyzer (bounce or FXP).
        assert!(setup.names_other_host(s.client));
    }
}

#[cfg(test)]
mod tls_tests {
    //! The control connection's TLS phases, driven directly: AUTH → records → CCC → clear.
    use super::*;

    const CLIENT_HELLO_12: &[u8] = include_bytes!("testdata/tls12-client-hello.bin");
    const SERVER_FLIGHT_12: &[u8] = include_bytes!("testdata/tls12-server-flight.bin");
    const CLIENT_HELLO_13: &[u8] = include_bytes!("testdata/tls13-client-hello.bin");
    /// lftp's encrypted close_notify alert under TLS 1.2 (ftps-prot-p-tls12.pcap frame 96).
    const ALERT: &[u8] = &[
        0x15, 0x03, 0x03, 0x00, 0x1a, 0, 0, 0, 0, 0, 0, 0, 1, 0xe8, 0x86, 0x2b, 0x6d, 0x45, 0x7d,
        0x0e, 0x5b, 0x3c, 0x39, 0x53, 0x1c, 0x8e, 0x35, 0x49, 0xd1, 0x88, 0x9a,
    ];

    fn session() -> Session {
        let c: SocketAddr = "10.0.0.2:40000".parse().unwrap();
        let s: SocketAddr = "10.0.0.1:21".parse().unwrap();
        Session::new(1, c, s, Timestamp(0), 6, false)
    }

    fn lines(s: &Session) -> Vec<String> {
        s.commands
            .iter()
            .filter(|c| !c.command.is_empty())
            .map(|c| c.command.clone())
            .collect()
    }

    #[test]
    fn auth_tls_records_then_ccc_resumes_the_dialogue() {
        let mut s = session();
        let t = Timestamp(1);
        s.control_data(t, Side::Server, b"220 hi\r\n");
        s.control_data(t, Side::Client, b"AUTH TLS\r\n");
        s.control_data(t, Side::Server, b"234 go\r\n");
        assert!(s.tls() && s.control_encrypted());
        s.control_data(t, Side::Client, CLIENT_HELLO_12);
        s.control_data(t, Side::Server, SERVER_FLIGHT_12);
        // Encrypted application data: nothing is parsed out of it.
        s.control_data(t, Side::Client, &[0x17, 3, 3, 0, 4, b'P', b'A', b'S', b'V']);
        assert_eq!(lines(&s), ["AUTH"]);
        s.control_data(t, Side::Client, ALERT);
        s.control_data(t, Side::Client, b"PASV\r\n");
        s.control_data(
            t,
            Side::Server,
            b"227 Entering Passive Mode (10,0,0,1,4,1).\r\n",
        );
        assert_eq!(lines(&s), ["AUTH", "PASV"]);
        assert_eq!(s.new_setups.len(), 1, "data ports are learnt again");
        assert_eq!(s.new_setups[0].listener, "10.0.0.1:1025".parse().unwrap());
        assert!(!s.control_encrypted());
        // A new AUTH after CCC encrypts the dialogue again.
        s.control_data(t, Side::Client, b"AUTH TLS\r\n");
        s.control_data(t, Side::Server, b"234 again\r\n");
        assert!(s.control_encrypted());
        s.control_data(t, Side::Client, &[0x17, 3, 3, 0, 4, b'Q', b'U', b'I', b'T']);
        assert_eq!(lines(&s), ["AUTH", "PASV", "AUTH"]);
        let m = s.into_model();
        let info = m.tls_info.unwrap();
        assert!(info.cleared && !info.implicit);
        assert_eq!(info.version, Some(model::TlsVersion::Tls12));
        assert_eq!(
            info.cert_subject.as_deref(),
            Some("CN=ftptrace-test-server")
        );
        assert!(m
            .anomalies
            .iter()
            .any(|a| a.kind == AnomalyKind::TlsCleared));
    }

    #[test]
    fn lines_after_auth_234_in_the_same_chunk_are_not_parsed() {
        let mut s = session();
        let t = Timestamp(1);
        s.control_data(t, Side::Server, b"220 hi\r\n");
        s.control_data(t, Side::Client, b"AUTH TLS\r\n");
        // The 234 and, in the same chunk, what would be a reply if it were cleartext.
        s.control_data(t, Side::Server, b"234 go\r\n230 in\r\n");
        assert!(s.control_encrypted());
        assert_eq!(s.phase().login, model::Login::None);
        assert_eq!(lines(&s), ["AUTH"]);
    }

    #[test]
    fn implicit_tls_from_the_first_byte() {
        let mut s = session();
        s.control_data(Timestamp(1), Side::Client, CLIENT_HELLO_13);
        s.control_data(Timestamp(2), Side::Server, b"\x17\x03\x03\x00\x02ab");
        assert!(s.tls() && s.control_encrypted());
        let m = s.into_model();
        assert!(m.commands.is_empty());
        let info = m.tls_info.unwrap();
        assert!(info.implicit && !info.cleared);
        assert_eq!(info.sni.as_deref(), Some("10.99.0.1"));
        assert!(m
            .anomalies
            .iter()
            .any(|a| a.kind == AnomalyKind::TlsUnparsed));
    }

    #[test]
    fn a_capture_that_begins_inside_tls_is_encrypted_not_implicit() {
        let mut s = session();
        s.control_data(Timestamp(1), Side::Server, b"\x17\x03\x03\x00\x02ab");
        s.control_data(Timestamp(2), Side::Client, b"\x17\x03\x03\x00\x01a");
        assert!(s.control_encrypted());
        let m = s.into_model();
        assert!(m.commands.is_empty(), "no malformed replies out of records");
        assert!(!m.tls_info.unwrap().implicit);
    }

    #[test]
    fn a_client_hello_after_the_greeting_without_auth_is_not_tls() {
        let mut s = session();
        s.control_data(Timestamp(1), Side::Server, b"220 hi\r\n");
        s.control_data(Timestamp(2), Side::Client, CLIENT_HELLO_13);
        assert!(!s.tls());
    }

    #[test]
    fn tls_never_started_after_234_resumes_without_a_finding() {
        let mut s = session();
        let t = Timestamp(1);
        s.control_data(t, Side::Client, b"AUTH TLS\r\n");
        s.control_data(t, Side::Server, b"234 go\r\n");
        s.control_data(t, Side::Client, b"USER x\r\n");
        assert_eq!(lines(&s), ["AUTH", "USER"]);
        let m = s.into_model();
        assert!(!m
            .anomalies
            .iter()
            .any(|a| a.kind == AnomalyKind::TlsCleared));
    }

    #[test]
    fn encrypted_transfer_status_and_direction_from_the_connection() {
        let mut s = session();
        s.control_data(Timestamp(1), Side::Client, CLIENT_HELLO_13);
        let c: SocketAddr = "10.0.0.2:50000".parse().unwrap();
        let l: SocketAddr = "10.0.0.1:40000".parse().unwrap();
        let t = s.open_data_timing(Timestamp(2), c, l);
        s.data_encrypted(t);
        // The client's handshake is larger than the payload it sends...
        s.data_bytes(Timestamp(3), t, Side::Client, 600, true);
        s.data_bytes(Timestamp(4), t, Side::Server, 300, true);
        // ...but the server sent the application data: a download.
        s.data_tls_app_bytes(t, 30, 250);
        s.close_data(t, Timestamp(5), 900, 900, true);
        s.data_close_kind(t, Close::Fin);
        let m = s.into_model();
        let tr = &m.transfers[0];
        assert_eq!(tr.data, DataCapture::Encrypted);
        assert_eq!(tr.match_, DataMatch::Timing);
        assert!(tr.matched);
        assert_eq!(tr.direction, Direction::Download);
        assert_eq!(tr.mode, Mode::Passive);
        assert_eq!(tr.status, TransferStatus::Complete);
        assert!(!m
            .anomalies
            .iter()
            .any(|a| a.kind == AnomalyKind::UnmatchedDataConnection));
        let ev = m.timeline.iter().find(|e| e.conn == Conn::Data(1)).unwrap();
        assert_eq!(ev.what, "600 bytes of TLS records in 1 segment");
    }
}
