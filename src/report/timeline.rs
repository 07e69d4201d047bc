//! Each session as the documented FTP traces tell it: one line per event, in time order.

use std::io::{self, Write};

use super::human;
use super::table::{
    direction_word, mode_word, transfer_bytes, transfer_command, transfer_file, transfer_hash,
    transfer_path,
};
use super::text::escape_terminal;
use crate::model::{Anomaly, Event, EventKind, Login, Mode, Report, Session, Side, Transfer};

/// What to print. The CLI decides `color` (stdout is a terminal and
/// `NO_COLOR` is unset). The output never depends on the terminal's width.
#[derive(Debug, Clone, Default)]
pub struct TimelineOptions {
    pub color: bool,
    /// Only this session (by id).
    pub session: Option<u64>,
}

/// ANSI styling, or nothing at all when colour is off.
#[derive(Clone, Copy)]
struct Paint(bool);

impl Paint {
    fn wrap(self, code: &str, s: &str) -> String {
        if self.0 {
            format!("\x1b[{code}m{s}\x1b[0m")
        } else {
            s.to_string()
        }
    }
}

const BOLD: &str = "1";
const DIM: &str = "2";
const RED: &str = "31";
const RED_BOLD: &str = "1;31";
const GREEN: &str = "32";
const YELLOW: &str = "33";
const BLUE: &str = "34";
const MAGENTA: &str = "35";
const CYAN: &str = "36";

/// The ports a data connection uses, client side first: `(5001, 20)`.
pub(crate) fn data_ports(t: &Transfer) -> (u16, u16) {
    match t.mode {
        Mode::Active => (t.data_server.port, t.data_client.port),
        Mode::Passive => (t.data_client.port, t.data_server.port),
    }
}

/// The transfer a `"data:N"` connection names.
pub(crate) fn conn_transfer<'a>(s: &'a Session, conn: &str) -> Option<&'a Transfer> {
    let n: usize = conn.strip_prefix("data:")?.parse().ok()?;
    s.transfers.get(n.checked_sub(1)?)
}

/// `"control"` or `"data:1 5001↔20"` (client port ↔ server port).
fn conn_label(s: &Session, conn: &str) -> String {
    match conn_transfer(s, conn) {
        Some(t) => {
            let (c, sv) = data_ports(t);
            format!("{conn} {c}↔{sv}")
        }
        None => escape_terminal(conn).into_owned(),
    }
}

fn login_word(l: Login) -> &'static str {
    match l {
        Login::Success => "success",
        Login::Failed => "failed",
        Login::None => "none",
    }
}

fn reply_color(line: &str) -> &'static str {
    match line.as_bytes().first() {
        Some(b'1') => BLUE,
        Some(b'2') => GREEN,
        Some(b'3') => CYAN,
        Some(b'4') | Some(b'5') => RED,
        _ => YELLOW,
    }
}

/// The event's text lines (a multi-line reply gives several), uncoloured.
fn event_lines(e: &Event) -> Vec<String> {
    let mut lines: Vec<String> = match e.kind {
        EventKind::Tcp => vec![format!("TCP {}", escape_terminal(&e.what))],
        EventKind::Command => vec![escape_terminal(&e.what).into_owned()],
        EventKind::Reply => e
            .what
            .split('\n')
            .map(|l| escape_terminal(l.strip_suffix('\r').unwrap_or(l)).into_owned())
            .collect(),
        EventKind::Data => vec![format!("DATA {}", escape_terminal(&e.what))],
        EventKind::Dns => vec![escape_terminal(&e.what).into_owned()],
        EventKind::Anomaly => vec![format!(
            "!! {}: {}",
            escape_terminal(e.note.as_deref().unwrap_or("anomaly")),
            escape_terminal(&e.what)
        )],
    };
    if e.kind != EventKind::Anomaly && e.kind != EventKind::Dns {
        if let (Some(note), Some(first)) = (&e.note, lines.first_mut()) {
            first.push_str(&format!("  ({})", escape_terminal(note)));
        }
    }
    lines
}

fn event_color(e: &Event, line: &str) -> &'static str {
    match e.kind {
        EventKind::Tcp => DIM,
        EventKind::Command => BOLD,
        EventKind::Reply => reply_color(line),
        EventKind::Data => MAGENTA,
        EventKind::Dns => CYAN,
        EventKind::Anomaly => RED_BOLD,
    }
}

fn write_header(s: &Session, p: Paint, out: &mut dyn Write) -> io::Result<()> {
    let user = s.user.as_deref().map(escape_terminal);
    let login_color = match s.login {
        Login::Success => GREEN,
        Login::Failed => RED,
        Login::None => YELLOW,
    };
    write!(
        out,
        "{}  {} → {}  user {}  login {}  tls {}  close {}",
        p.wrap(BOLD, &format!("Session {}", s.id)),
        human::endpoint(&s.client),
        super::server_label(s),
        user.as_deref().unwrap_or("-"),
        p.wrap(login_color, login_word(s.login)),
        if s.tls { "yes" } else { "no" },
        match s.close {
            crate::model::Close::Fin => "fin",
            crate::model::Close::Rst => "rst",
            crate::model::Close::Open => "open",
        },
    )?;
    if let Some(seg) = &s.segment {
        // Numbers and fixed words only: nothing to escape.
        write!(out, "  in {seg}")?;
    }
    writeln!(out)?;
    let n_cmds = s.commands.iter().filter(|c| !c.command.is_empty()).count() as u64;
    writeln!(
        out,
        "  start {}  duration {}  {}  {} ({})",
        s.start,
        human::duration(s.end.secs_since(s.start)),
        human::plural(n_cmds, "command", "commands"),
        human::plural(s.transfers.len() as u64, "transfer", "transfers"),
        human::bytes(super::session_bytes(s)),
    )?;
    for (i, t) in s.transfers.iter().enumerate() {
        let status = format!("{:?}", t.status).to_lowercase();
        writeln!(
            out,
            "  {}  {} → {}  {} {}  {}, {}, {}, {}{}",
            p.wrap(MAGENTA, &format!("data:{}", i + 1)),
            human::endpoint(&t.data_client),
            human::endpoint(&t.data_server),
            escape_terminal(transfer_command(t)),
            escape_terminal(transfer_path(t)),
            direction_word(t.direction),
            mode_word(t),
            transfer_bytes(t),
            status,
            t.reply_code.map(|c| format!(" {c}")).unwrap_or_default(),
        )?;
        if t.sha256.is_some() || t.extracted.is_some() {
            writeln!(
                out,
                "          sha256 {}  file {}",
                transfer_hash(t, false),
                escape_terminal(&transfer_file(t))
            )?;
        }
    }
    Ok(())
}

fn write_anomalies(title: &str, list: &[Anomaly], p: Paint, out: &mut dyn Write) -> io::Result<()> {
    if list.is_empty() {
        return Ok(());
    }
    writeln!(out, "{title}")?;
    for a in list {
        let sessions = if a.sessions.is_empty() {
            String::new()
        } else {
            let ids: Vec<String> = a.sessions.iter().map(u64::to_string).collect();
            format!(" (sessions {})", ids.join(", "))
        };
        writeln!(
            out,
            "  {}  {}: {}{}",
            p.wrap(DIM, &a.ts.to_string()),
            p.wrap(RED_BOLD, &escape_terminal(a.kind)),
            escape_terminal(&a.detail),
            sessions
        )?;
    }
    Ok(())
}

/// One session: header, then one line per timeline event.
pub fn write_session(s: &Session, color: bool, out: &mut dyn Write) -> io::Result<()> {
    let p = Paint(color);
    write_header(s, p, out)?;
    writeln!(out)?;
    let rels: Vec<String> = s
        .timeline
        .iter()
        .map(|e| human::relative(e.ts, s.start))
        .collect();
    let rel_w = rels.iter().map(|r| r.chars().count()).max().unwrap_or(0);
    let labels: Vec<String> = s.timeline.iter().map(|e| conn_label(s, &e.conn)).collect();
    let conn_w = labels.iter().map(|l| l.chars().count()).max().unwrap_or(0);
    for ((e, rel), label) in s.timeline.iter().zip(&rels).zip(&labels) {
        let tod = human::time_of_day(e.ts);
        // The DNS lane: the client asks the name server (N).
        let arrow = match (e.from, e.conn == "dns") {
            (Side::Client, false) => "C → S",
            (Side::Server, false) => "C ← S",
            (Side::Client, true) => "C → N",
            (Side::Server, true) => "C ← N",
        };
        let is_data = e.conn.starts_with("data:");
        let lines = event_lines(e);
        let pad_conn = format!("{label:<conn_w$}");
        let conn_text = if is_data {
            p.wrap(MAGENTA, &pad_conn)
        } else {
            p.wrap(BLUE, &pad_conn)
        };
        // Data connections' events are indented under the control dialogue.
        let indent = if is_data { "  " } else { "" };
        let first = lines.first().map(String::as_str).unwrap_or("");
        writeln!(
            out,
            "  {}  {}  {}  {}  {indent}{}",
            p.wrap(DIM, &format!("{rel:>rel_w$} s")),
            p.wrap(DIM, &tod),
            conn_text,
            arrow,
            p.wrap(event_color(e, first), first),
        )?;
        let lead =
            2 + rel_w + 2 + 2 + tod.chars().count() + 2 + conn_w + 2 + arrow.chars().count() + 2;
        for more in lines.iter().skip(1) {
            writeln!(
                out,
                "{:lead$}{indent}{}",
                "",
                p.wrap(event_color(e, more), more)
            )?;
        }
    }
    write_anomalies("  anomalies:", &s.anomalies, p, out)
}

/// Every session (or only `o.session`) as a timeline, sessions separated by a blank line.
pub fn write_timeline(r: &Report, o: &TimelineOptions, out: &mut dyn Write) -> io::Result<()> {
    let p = Paint(o.color);
    let mut any = false;
    for s in super::selected(r, o.session) {
        if any {
            writeln!(out)?;
        }
        any = true;
        write_session(s, o.color, out)?;
    }
    if !any {
        match o.session {
            Some(id) => writeln!(
                out,
                "no FTP session {id} (the capture has {})",
                r.sessions.len()
            )?,
            None => writeln!(out, "no FTP sessions found")?,
        }
    }
    if o.session.is_none() && !r.untied_transfers.is_empty() {
        writeln!(out)?;
        writeln!(out, "data connections tied to no session:")?;
        for t in &r.untied_transfers {
            writeln!(
                out,
                "  {}  {} → {}  {}, {}, {}",
                t.start,
                super::human::endpoint(&t.data_client),
                super::human::endpoint(&t.data_server),
                super::table::direction_word(t.direction),
                super::table::transfer_bytes(t),
                t.sha256.as_deref().unwrap_or("no sha256"),
            )?;
        }
    }
    if o.session.is_none() && !r.anomalies.is_empty() {
        writeln!(out)?;
        write_anomalies("capture anomalies:", &r.anomalies, p, out)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::testdata::{documented_report, empty_report, example_report};

    fn render(r: &Report, o: &TimelineOptions) -> String {
        let mut v = Vec::new();
        write_timeline(r, o, &mut v).unwrap();
        String::from_utf8(v).unwrap()
    }

    /// The documented session, event by event (seeds 000–002).
    const DOCUMENTED: &[&str] = &[
        "control         C → S  TCP SYN",
        "control         C ← S  TCP SYN+ACK",
        "control         C → S  TCP ACK",
        "C ← S  220 ANY-DOMAIN.COM FTP Service",
        "C → S  USER ftp",
        "C ← S  331 Anonymous access allowed",
        "C → S  PASS <hidden>",
        "C ← S  230-Welcome to ftp.any-domain.com",
        "230 Anonymous user logged in.",
        "C → S  PORT 192,168,0,2,19,137  (192.168.0.2:5001)",
        "C ← S  200 PORT command successful.",
        "C → S  LIST",
        "data:1 5001↔20  C ← S    TCP SYN",
        "data:1 5001↔20  C → S    TCP SYN+ACK",
        "data:1 5001↔20  C ← S    TCP ACK",
        "C ← S  150 Opening ASCII mode data connection for /bin/ls.",
        "data:1 5001↔20  C ← S    DATA 120 bytes in 1 segment",
        "data:1 5001↔20  C ← S    TCP FIN+ACK",
        "data:1 5001↔20  C → S    TCP ACK",
        "data:1 5001↔20  C → S    TCP FIN+ACK",
        "data:1 5001↔20  C ← S    TCP ACK",
        "C ← S  226 Transfer complete.",
        "C → S  CWD pub",
        "C ← S  250 CWD command successful.",
        "C → S  PORT 192,168,0,2,19,138  (192.168.0.2:5002)",
        "C ← S  200 PORT command successful.",
        "C → S  RETR readme.txt",
        "C ← S  150 Opening ASCII mode data connection for readme.txt (1715 bytes).",
        "data:2 5002↔20  C ← S    TCP SYN",
        "data:2 5002↔20  C → S    TCP SYN+ACK",
        "data:2 5002↔20  C ← S    TCP ACK",
        "data:2 5002↔20  C ← S    DATA 1715 bytes in 2 segments",
        "data:2 5002↔20  C ← S    TCP FIN+ACK",
        "data:2 5002↔20  C → S    TCP ACK",
        "data:2 5002↔20  C → S    TCP FIN+ACK",
        "data:2 5002↔20  C ← S    TCP ACK",
        "C ← S  226 Transfer complete.",
        "C → S  QUIT",
        "C ← S  221 Thank you for visiting ftp.any-domain.com.",
        "control         C ← S  TCP FIN+ACK",
        "control         C → S  TCP ACK",
        "control         C → S  TCP FIN+ACK",
        "control         C ← S  TCP ACK",
    ];

    #[test]
    fn documented_session_in_order() {
        let out = render(&documented_report(), &TimelineOptions::default());
        let body: Vec<&str> = out.lines().skip_while(|l| !l.is_empty()).skip(1).collect();
        let mut i = 0;
        for want in DOCUMENTED {
            let at = body[i..]
                .iter()
                .position(|l| l.contains(want))
                .unwrap_or_else(|| panic!("{want:?} not found after line {i} in\n{out}"));
            i += at + 1;
        }
        // One line per event, plus the 230's continuation line.
        let events = body.iter().filter(|l| l.contains(" s  09:30:")).count();
        assert_eq!(events, documented_report().sessions[0].timeline.len());
    }

    #[test]
    fn header_and_times() {
        let out = render(&documented_report(), &TimelineOptions::default());
        let mut lines = out.lines();
        assert_eq!(
            lines.next().unwrap(),
            "Session 1  192.168.0.2:1175 → 192.168.0.1:21  user ftp  login success  tls no  close fin"
        );
        assert!(out.contains("  start 2013-04-15T09:30:00.000000Z  duration 14.801 s  8 commands  2 transfers (1.8 KiB)"));
        assert!(out.contains("data:2  192.168.0.1:20 → 192.168.0.2:5002  RETR /pub/readme.txt  download, active PORT, 1.7 KiB, complete 226"));
        assert!(out.contains("   +0.000000 s  09:30:00.000000  control         C → S  TCP SYN\n"));
        assert!(out.contains("  +11.203600 s  09:30:11.203600  data:2 5002↔20  C ← S    DATA 1715 bytes in 2 segments\n"));
        assert!(out.contains("  anomalies:\n  2013-04-15T09:30:05.008000Z  cleartext_credentials: USER/PASS sent without TLS\n"));
    }

    #[test]
    fn session_filter() {
        let r = example_report();
        let out = render(
            &r,
            &TimelineOptions {
                color: false,
                session: Some(2),
            },
        );
        assert!(out.starts_with("Session 2  10.0.0.66:40022 → 10.0.0.1:21"));
        assert!(!out.contains("Session 1") && !out.contains("Session 3"));
        let all = render(&r, &TimelineOptions::default());
        for id in 1..=3 {
            assert!(all.contains(&format!("Session {id}  ")));
        }
        let none = render(
            &r,
            &TimelineOptions {
                color: false,
                session: Some(9),
            },
        );
        assert_eq!(none, "no FTP session 9 (the capture has 3)\n");
        assert_eq!(
            render(&empty_report(), &TimelineOptions::default()),
            "no FTP sessions found\n"
        );
    }

    #[test]
    fn wire_strings_escaped_and_no_color() {
        let out = render(&example_report(), &TimelineOptions::default());
        assert!(!out.chars().any(|c| c.is_control() && c != '\n'), "{out}");
        assert!(out.contains("C → S  USER \\x1b[2J\\x1b[31mroot"));
        assert!(out
            .contains("!! malformed_reply: not an FTP reply: \"<script>alert(1)</script>\\x07\""));
        assert!(out.contains(
            "C ← S  229 Entering Extended Passive Mode (|||50000|)  ([2001:db8::1]:50000)"
        ));
        let colored = render(
            &example_report(),
            &TimelineOptions {
                color: true,
                session: None,
            },
        );
        assert!(colored.contains("\x1b[1;31m!! malformed_reply"));
        assert!(!colored.contains("\x1b[2J"));
    }

    #[test]
    fn stable() {
        let r = example_report();
        let o = TimelineOptions::default();
        assert_eq!(render(&r, &o), render(&r, &o));
    }
}
