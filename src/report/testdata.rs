//! Hand-built reports for reporter tests, modelled on the documented FTP session (seeds 000–002).

use crate::capture::Timestamp;
use crate::model::*;
use std::net::IpAddr;

fn ep(ip: &str, port: u16) -> Endpoint {
    Endpoint {
        ip: ip.parse::<IpAddr>().expect("test address"),
        port,
    }
}

/// Microsecond-precision time `micros` after `base` (Unix seconds).
fn at(base: i64, micros: i64) -> Time {
    Time::new(Timestamp(base * 1_000_000_000 + micros * 1_000), 6)
}

/// Builds a session's timeline and commands event by event.
struct Builder {
    base: i64,
    timeline: Vec<Event>,
    commands: Vec<Command>,
}

impl Builder {
    fn new(base: i64) -> Self {
        Builder {
            base,
            timeline: Vec::new(),
            commands: Vec::new(),
        }
    }
    fn ev(
        &mut self,
        us: i64,
        conn: Conn,
        from: Side,
        kind: EventKind,
        what: &str,
        note: Option<&str>,
    ) {
        self.timeline.push(Event {
            ts: at(self.base, us),
            conn,
            from,
            kind,
            what: what.to_string().into(),
            note: note.map(str::to_string),
        });
    }
    fn tcp(&mut self, us: i64, conn: Conn, from: Side, flags: &str) {
        self.ev(us, conn, from, EventKind::Tcp, flags, None);
    }
    fn data(&mut self, us: i64, conn: Conn, from: Side, what: &str) {
        self.ev(us, conn, from, EventKind::Data, what, None);
    }
    fn anomaly(&mut self, us: i64, conn: Conn, from: Side, kind: AnomalyKind, detail: &str) {
        self.ev(
            us,
            conn,
            from,
            EventKind::Anomaly,
            detail,
            Some(kind.as_str()),
        );
    }
    /// A command line (`VERB arg`), with an optional note (announced address).
    fn cmd(&mut self, us: i64, verb: &str, arg: &str, cwd: Option<&str>, note: Option<&str>) {
        let line = if arg.is_empty() {
            verb.to_string()
        } else {
            format!("{verb} {arg}")
        };
        self.ev(
            us,
            Conn::Control,
            Side::Client,
            EventKind::Command,
            &line,
            note,
        );
        self.commands.push(Command {
            ts: at(self.base, us),
            command: verb.to_string(),
            arg: arg.to_string(),
            replies: Vec::new(),
            cwd: cwd.map(str::to_string),
            encoding: None,
        });
    }
    /// A reply to the last command; `lines` are the wire lines (multi-line replies
    /// keep their `DDD-` first line). A reply before any command opens an
    /// unsolicited pseudo-command (`command: ""`), as the greeting does.
    fn reply(&mut self, us: i64, code: u16, lines: &[&str], note: Option<&str>) {
        let what = lines.join("\n");
        self.ev(
            us,
            Conn::Control,
            Side::Server,
            EventKind::Reply,
            &what,
            note,
        );
        let text = lines
            .iter()
            .map(|l| l.get(4..).unwrap_or(""))
            .collect::<Vec<_>>()
            .join("\n");
        if self.commands.is_empty() {
            self.commands.push(Command {
                ts: at(self.base, us),
                command: String::new(),
                arg: String::new(),
                replies: Vec::new(),
                cwd: None,
                encoding: None,
            });
        }
        let last = self.commands.last_mut().expect("a command");
        last.replies.push(Reply {
            ts: at(self.base, us),
            code,
            text,
            encoding: None,
        });
    }
}

/// Session 1: the documented anonymous session — LIST on data port 5001 and
/// RETR readme.txt (1715 bytes) on 5002, both active mode from server port 20.
fn documented_session(base: i64) -> Session {
    use Side::{Client as C, Server as S};
    let client = ep("192.168.0.2", 1175);
    let server = ep("192.168.0.1", 21);
    let mut b = Builder::new(base);
    b.tcp(0, Conn::Control, C, "SYN");
    b.tcp(352, Conn::Control, S, "SYN+ACK");
    b.tcp(411, Conn::Control, C, "ACK");
    b.reply(12_104, 220, &["220 ANY-DOMAIN.COM FTP Service"], None);
    b.cmd(2_104_500, "USER", "ftp", None, None);
    b.reply(
        2_105_210,
        331,
        &["331 Anonymous access allowed, send identity (e-mail name) as password."],
        None,
    );
    b.cmd(5_008_000, "PASS", "<hidden>", None, None);
    b.reply(
        5_020_331,
        230,
        &[
            "230-Welcome to ftp.any-domain.com",
            "230 Anonymous user logged in.",
        ],
        None,
    );
    b.cmd(
        7_000_120,
        "PORT",
        "192,168,0,2,19,137",
        Some("/"),
        Some("192.168.0.2:5001"),
    );
    b.reply(7_000_904, 200, &["200 PORT command successful."], None);
    b.cmd(7_001_230, "LIST", "", Some("/"), None);
    b.tcp(7_003_010, Conn::Data(1), S, "SYN");
    b.tcp(7_003_290, Conn::Data(1), C, "SYN+ACK");
    b.tcp(7_003_350, Conn::Data(1), S, "ACK");
    b.reply(
        7_003_602,
        150,
        &["150 Opening ASCII mode data connection for /bin/ls."],
        None,
    );
    b.data(7_004_110, Conn::Data(1), S, "120 bytes in 1 segment");
    b.tcp(7_004_180, Conn::Data(1), S, "FIN+ACK");
    b.tcp(7_004_390, Conn::Data(1), C, "ACK");
    b.tcp(7_004_420, Conn::Data(1), C, "FIN+ACK");
    b.tcp(7_004_640, Conn::Data(1), S, "ACK");
    b.reply(7_005_011, 226, &["226 Transfer complete."], None);
    b.cmd(9_300_000, "CWD", "pub", Some("/"), None);
    b.reply(9_300_812, 250, &["250 CWD command successful."], None);
    b.cmd(
        11_200_050,
        "PORT",
        "192,168,0,2,19,138",
        Some("/pub"),
        Some("192.168.0.2:5002"),
    );
    b.reply(11_200_733, 200, &["200 PORT command successful."], None);
    b.cmd(11_201_400, "RETR", "readme.txt", Some("/pub"), None);
    b.reply(
        11_202_150,
        150,
        &["150 Opening ASCII mode data connection for readme.txt (1715 bytes)."],
        None,
    );
    b.tcp(11_202_990, Conn::Data(2), S, "SYN");
    b.tcp(11_203_270, Conn::Data(2), C, "SYN+ACK");
    b.tcp(11_203_330, Conn::Data(2), S, "ACK");
    b.data(11_203_600, Conn::Data(2), S, "1715 bytes in 2 segments");
    b.tcp(11_204_010, Conn::Data(2), S, "FIN+ACK");
    b.tcp(11_204_230, Conn::Data(2), C, "ACK");
    b.tcp(11_204_260, Conn::Data(2), C, "FIN+ACK");
    b.tcp(11_204_480, Conn::Data(2), S, "ACK");
    b.reply(11_204_900, 226, &["226 Transfer complete."], None);
    b.cmd(14_800_000, "QUIT", "", Some("/pub"), None);
    b.reply(
        14_800_621,
        221,
        &["221 Thank you for visiting ftp.any-domain.com."],
        None,
    );
    b.tcp(14_800_700, Conn::Control, S, "FIN+ACK");
    b.tcp(14_800_950, Conn::Control, C, "ACK");
    b.tcp(14_801_020, Conn::Control, C, "FIN+ACK");
    b.tcp(14_801_240, Conn::Control, S, "ACK");

    let transfers = vec![
        Transfer {
            command: "LIST".into(),
            arg: String::new(),
            path: Some("/".into()),
            direction: Direction::Listing,
            mode: Mode::Active,
            setup: SetupKind::Port,
            data_client: ep("192.168.0.1", 20),
            data_server: ep("192.168.0.2", 5001),
            start: at(base, 7_003_010),
            end: at(base, 7_004_640),
            data: DataCapture::Captured,
            match_: DataMatch::Announced,
            bytes: Some(120),
            captured_bytes: Some(120),
            missing_bytes: Some(0),
            expected_bytes: None,
            rest: None,
            status: TransferStatus::Complete,
            reply_code: Some(226),
            sha256: None,
            segments: 1,
            announced: Some(ep("192.168.0.2", 5001)),
            matched: true,
            extracted: None,
            joined: None,
            listing: None,
        },
        Transfer {
            command: "RETR".into(),
            arg: "readme.txt".into(),
            path: Some("/pub/readme.txt".into()),
            direction: Direction::Download,
            mode: Mode::Active,
            setup: SetupKind::Port,
            data_client: ep("192.168.0.1", 20),
            data_server: ep("192.168.0.2", 5002),
            start: at(base, 11_202_990),
            end: at(base, 11_204_480),
            data: DataCapture::Captured,
            match_: DataMatch::Announced,
            bytes: Some(1715),
            captured_bytes: Some(1715),
            missing_bytes: Some(0),
            expected_bytes: Some(1715),
            rest: None,
            status: TransferStatus::Complete,
            reply_code: Some(226),
            sha256: None,
            segments: 2,
            announced: Some(ep("192.168.0.2", 5002)),
            matched: true,
            extracted: None,
            joined: None,
            listing: None,
        },
    ];
    Session {
        server_name: None,
        dropped: None,
        id: 1,
        client,
        server,
        start: at(base, 0),
        end: at(base, 14_801_240),
        user: Some("ftp".into()),
        password: Some("<hidden>".into()),
        login: Login::Success,
        tls: false,
        close: Close::Fin,
        commands: b.commands,
        transfers,
        timeline: b.timeline,
        anomalies: vec![Anomaly {
            ts: at(base, 5_008_000),
            kind: AnomalyKind::CleartextCredentials,
            detail: "USER/PASS sent without TLS".into(),
            sessions: Vec::new(),
            finding: None,
        }],
        transfer_type: Some("A".into()),
        segment: None,
        tls_info: None,
        login_attempts: Vec::new(),
    }
}

/// Session 2: a failed login from a hostile client (terminal escapes in USER),
/// a server line that is not a reply, and a reset at the end.
fn failed_login_session(base: i64) -> Session {
    use Side::{Client as C, Server as S};
    let mut b = Builder::new(base);
    b.tcp(0, Conn::Control, C, "SYN");
    b.tcp(201, Conn::Control, S, "SYN+ACK");
    b.tcp(260, Conn::Control, C, "ACK");
    b.reply(3_512, 220, &["220 (vsFTPd 3.0.3)"], None);
    b.cmd(40_003, "USER", "\x1b[2J\x1b[31mroot", None, None);
    b.reply(40_512, 331, &["331 Please specify the password."], None);
    b.cmd(80_250, "PASS", "<hidden>", None, None);
    b.reply(3_081_004, 530, &["530 Login incorrect."], None);
    b.anomaly(
        3_081_100,
        Conn::Control,
        S,
        AnomalyKind::MalformedReply,
        "not an FTP reply: \"<script>alert(1)</script>\x07\"",
    );
    b.cmd(3_200_000, "PASV", "", None, None);
    b.reply(
        3_200_400,
        530,
        &["530 Please login with USER and PASS."],
        None,
    );
    b.tcp(3_300_000, Conn::Control, S, "RST");
    Session {
        dropped: None,
        id: 2,
        client: ep("10.0.0.66", 40022),
        server: ep("10.0.0.1", 21),
        server_name: None,
        start: at(base, 0),
        end: at(base, 3_300_000),
        user: Some("\x1b[2J\x1b[31mroot".into()),
        password: Some("<hidden>".into()),
        login: Login::Failed,
        tls: false,
        close: Close::Rst,
        commands: b.commands,
        transfers: Vec::new(),
        timeline: b.timeline,
        anomalies: vec![
            Anomaly {
                ts: at(base, 80_250),
                kind: AnomalyKind::CleartextCredentials,
                detail: "USER/PASS sent without TLS".into(),
                sessions: Vec::new(),
                finding: None,
            },
            Anomaly {
                ts: at(base, 3_081_100),
                kind: AnomalyKind::MalformedReply,
                detail: "not an FTP reply: \"<script>alert(1)</script>\x07\"".into(),
                sessions: Vec::new(),
                finding: None,
            },
        ],
        transfer_type: None,
        segment: None,
        tls_info: None,
        login_attempts: Vec::new(),
    }
}

/// Session 3: IPv6, EPSV passive upload that the capture cuts short after a gap.
fn passive_upload_session(base: i64) -> Session {
    use Side::{Client as C, Server as S};
    let mut b = Builder::new(base);
    b.tcp(0, Conn::Control, C, "SYN");
    b.tcp(120, Conn::Control, S, "SYN+ACK");
    b.tcp(150, Conn::Control, C, "ACK");
    b.reply(2_010, 220, &["220 backup.example.net FTP ready"], None);
    b.cmd(30_000, "USER", "alice", None, None);
    b.reply(30_300, 331, &["331 Password required for alice"], None);
    b.cmd(31_000, "PASS", "<hidden>", None, None);
    b.reply(52_000, 230, &["230 User alice logged in"], None);
    b.cmd(60_000, "TYPE", "I", Some("/home/alice"), None);
    b.reply(60_200, 200, &["200 Type set to I"], None);
    b.cmd(61_000, "EPSV", "", Some("/home/alice"), None);
    b.reply(
        61_300,
        229,
        &["229 Entering Extended Passive Mode (|||50000|)"],
        Some("[2001:db8::1]:50000"),
    );
    b.cmd(
        61_900,
        "STOR",
        "backup;#1.tar.gz",
        Some("/home/alice"),
        None,
    );
    b.tcp(62_100, Conn::Data(1), C, "SYN");
    b.tcp(62_200, Conn::Data(1), S, "SYN+ACK");
    b.tcp(62_260, Conn::Data(1), C, "ACK");
    b.reply(62_500, 150, &["150 Ok to send data."], None);
    b.data(63_000, Conn::Data(1), C, "2896000 bytes in 2000 segments");
    b.anomaly(
        1_563_000,
        Conn::Data(1),
        C,
        AnomalyKind::CaptureGap,
        "4344 bytes missing from the capture",
    );
    b.data(
        1_563_100,
        Conn::Data(1),
        C,
        "1448000 bytes in 1000 segments",
    );
    Session {
        dropped: None,
        id: 3,
        client: ep("2001:db8::2", 50312),
        server: ep("2001:db8::1", 21),
        server_name: None,
        start: at(base, 0),
        end: at(base, 1_563_100),
        user: Some("alice".into()),
        password: Some("<hidden>".into()),
        login: Login::Success,
        tls: false,
        close: Close::Open,
        commands: b.commands,
        transfers: vec![Transfer {
            command: "STOR".into(),
            arg: "backup;#1.tar.gz".into(),
            path: Some("/home/alice/backup;#1.tar.gz".into()),
            direction: Direction::Upload,
            mode: Mode::Passive,
            setup: SetupKind::Epsv,
            data_client: ep("2001:db8::2", 50313),
            data_server: ep("2001:db8::1", 50000),
            start: at(base, 62_100),
            end: at(base, 1_563_100),
            data: DataCapture::Captured,
            match_: DataMatch::Announced,
            bytes: Some(4_348_344),
            captured_bytes: Some(4_344_000),
            missing_bytes: Some(4344),
            expected_bytes: None,
            rest: None,
            status: TransferStatus::Incomplete,
            reply_code: None,
            sha256: None,
            segments: 3000,
            announced: Some(ep("2001:db8::1", 50000)),
            matched: true,
            extracted: None,
            joined: None,
            listing: None,
        }],
        timeline: b.timeline,
        anomalies: vec![Anomaly {
            ts: at(base, 1_563_000),
            kind: AnomalyKind::CaptureGap,
            detail: "4344 bytes missing from the capture".into(),
            sessions: Vec::new(),
            finding: None,
        }],
        transfer_type: Some("I".into()),
        segment: None,
        tls_info: None,
        login_attempts: Vec::new(),
    }
}

/// The documented session alone (session 1).
pub fn documented_report() -> Report {
    let mut r = example_report();
    r.sessions.truncate(1);
    r.anomalies.clear();
    r.stats.ftp_sessions = 1;
    r.stats.data_connections = 2;
    r.stats.capture_gaps = 0;
    r
}

/// Three sessions: the documented one, a failed login with anomalies, and an
/// IPv6 passive upload cut short by a capture gap.
pub fn example_report() -> Report {
    // 2013-04-15T09:30:00Z
    let s1 = documented_session(1_366_018_200);
    let s2 = failed_login_session(1_366_018_260);
    let s3 = passive_upload_session(1_366_018_300);
    let tcp_connections = Vec::new();
    Report {
        schema: "ftptrace/1",
        anomalies: Vec::new(),
        stats: Stats {
            packets: 3187,
            bytes: 4_712_935,
            tcp_connections: 6,
            ftp_sessions: 3,
            data_connections: 3,
            unmatched_data_connections: 0,
            capture_gaps: 1,
            ..Stats::default()
        },
        sessions: vec![s1, s2, s3],
        tcp_connections,
        errors: Vec::new(),
        extract: None,
        untied_transfers: Vec::new(),
    }
}

/// A report with no sessions at all.
pub fn empty_report() -> Report {
    Report {
        schema: "ftptrace/1",
        sessions: Vec::new(),
        anomalies: Vec::new(),
        stats: Stats {
            packets: 42,
            bytes: 5120,
            tcp_connections: 1,
            ..Stats::default()
        },
        tcp_connections: Vec::new(),
        errors: Vec::new(),
        extract: None,
        untied_transfers: Vec::new(),
    }
}

/// The documented session with `k` copies of its RETR data connection, started 0.1 ms
/// apart (all open at once) or 10 ms apart (one after the other).
pub fn with_data_connections(k: usize, overlap: bool) -> Report {
    let mut r = documented_report();
    let s = &mut r.sessions[0];
    let t = s.transfers[1].clone();
    let evs: Vec<crate::model::Event> = s
        .timeline
        .iter()
        .filter(|e| e.conn == Conn::Data(2))
        .cloned()
        .collect();
    s.timeline.retain(|e| !e.conn.is_data());
    s.transfers.clear();
    for i in 0..k {
        s.transfers.push(t.clone());
        let shift = i as i64 * if overlap { 100_000 } else { 10_000_000 };
        for e in &evs {
            let mut e = e.clone();
            e.conn = Conn::transfer(i);
            e.ts.ts.0 += shift;
            s.timeline.push(e);
        }
    }
    s.timeline.sort_by_key(|e| e.ts.ts.0);
    r
}

/// The documented session, then `n` copies of the failed-login session (ids 2…, one
/// client port each): a brute force.
pub fn brute_force_report(n: u64) -> Report {
    let mut r = example_report();
    let failed = r.sessions[1].clone();
    r.sessions.truncate(1);
    for i in 0..n {
        let mut s = failed.clone();
        s.id = i + 2;
        s.client.port = 40000 + i as u16;
        r.sessions.push(s);
    }
    r.stats.ftp_sessions = n + 1;
    r
}
