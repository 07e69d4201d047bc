//! Each session as the documented FTP traces tell it: one line per event, in time order.

use std::io::{self, Write};

use super::human;
use super::table::{
    direction_word, mode_word, transfer_bytes, transfer_command, transfer_file, transfer_hash,
    transfer_path,
};
use super::text::escape_terminal;
use crate::model::{Anomaly, Conn, Event, EventKind, Login, Mode, Report, Session, Side, Transfer};

/// What to print. The CLI decides `color` (stdout is a terminal and
/// `NO_COLOR` is unset), `compact` and `width`; nothing here looks at the terminal.
#[derive(Debug, Clone, Default)]
pub struct TimelineOptions {
    pub color: bool,
    /// Only this session (by id).
    pub session: Option<u64>,
    /// The compact line prefix (`  +11.204 d2  C←S  `, [`COMPACT_PREFIX`] characters
    /// at most for times below 1000 s) instead of the full one (relative and wall-clock
    /// time, connection and ports, about 48).
    pub compact: bool,
    /// Wrap the session headers' fields (never inside one) to this many columns.
    pub width: Option<u16>,
    /// Merge the sessions' events into one list in capture order, each line marked with
    /// its session (`#2`).
    pub interleave: bool,
}

/// Width of the compact prefix for a relative time below 1000 s: two spaces, `+999.999`,
/// the connection (`ctl`, `dns`, `d12`), the arrow (`C→S`) and the spaces between.
pub const COMPACT_PREFIX: usize = 2 + 8 + 1 + 3 + 1 + 3 + 1;

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
pub(crate) fn conn_transfer(s: &Session, conn: Conn) -> Option<&Transfer> {
    s.transfers.get(conn.transfer_index()?)
}

/// `"control"` or `"data:1 5001↔20"` (client port ↔ server port).
fn conn_label(s: &Session, conn: Conn) -> String {
    match conn_transfer(s, conn) {
        Some(t) => {
            let (c, sv) = data_ports(t);
            format!("{conn} {c}↔{sv}")
        }
        None => conn.to_string(),
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

/// Fields of a header line, two spaces apart; with a width, a field that would pass it
/// starts a new line (indented by `indent`; the first by `lead`), so no field is ever broken. Each field is
/// `(visible text length, painted text)`.
fn write_fields(
    fields: &[(usize, String)],
    width: Option<u16>,
    lead: usize,
    indent: usize,
    out: &mut dyn Write,
) -> io::Result<()> {
    write!(out, "{:lead$}", "")?;
    let mut col = lead;
    for (i, (len, text)) in fields.iter().enumerate() {
        if i > 0 {
            match width {
                Some(w) if col + 2 + len > w as usize => {
                    writeln!(out)?;
                    write!(out, "{:indent$}", "")?;
                    col = indent;
                }
                _ => {
                    write!(out, "  ")?;
                    col += 2;
                }
            }
        }
        write!(out, "{text}")?;
        col += len;
    }
    writeln!(out)
}

/// A field: its visible length and its text, painted.
fn field(p: Paint, code: Option<&str>, text: String) -> (usize, String) {
    let len = text.chars().count();
    match code {
        Some(c) => (len, p.wrap(c, &text)),
        None => (len, text),
    }
}

fn write_header(s: &Session, p: Paint, width: Option<u16>, out: &mut dyn Write) -> io::Result<()> {
    let user = s.user.as_deref().map(escape_terminal);
    let login_color = match s.login {
        Login::Success => GREEN,
        Login::Failed => RED,
        Login::None => YELLOW,
    };
    let mut fields = vec![
        field(p, Some(BOLD), format!("Session {}", s.id)),
        field(
            p,
            None,
            format!(
                "{} → {}",
                human::endpoint(&s.client),
                super::server_label(s)
            ),
        ),
        field(p, None, format!("user {}", user.as_deref().unwrap_or("-"))),
        {
            let w = login_word(s.login);
            (6 + w.len(), format!("login {}", p.wrap(login_color, w)))
        },
        field(p, None, format!("tls {}", if s.tls { "yes" } else { "no" })),
        field(
            p,
            None,
            format!(
                "close {}",
                match s.close {
                    crate::model::Close::Fin => "fin",
                    crate::model::Close::Rst => "rst",
                    crate::model::Close::Open => "open",
                }
            ),
        ),
    ];
    if let Some(seg) = &s.segment {
        // Numbers and fixed words only: nothing to escape.
        fields.push(field(p, None, format!("in {seg}")));
    }
    write_fields(&fields, width, 0, 4, out)?;
    let n_cmds = s.commands.iter().filter(|c| !c.command.is_empty()).count() as u64;
    write_fields(
        &[
            field(p, None, format!("start {}", s.start)),
            field(
                p,
                None,
                format!("duration {}", human::duration(s.end.secs_since(s.start))),
            ),
            field(p, None, human::plural(n_cmds, "command", "commands")),
            field(
                p,
                None,
                format!(
                    "{} ({})",
                    human::plural(s.transfers.len() as u64, "transfer", "transfers"),
                    human::bytes(super::session_bytes(s)),
                ),
            ),
        ],
        width,
        2,
        4,
        out,
    )?;
    for (i, t) in s.transfers.iter().enumerate() {
        let status = format!("{:?}", t.status).to_lowercase();
        write_fields(
            &[
                field(p, Some(MAGENTA), Conn::transfer(i).to_string()),
                field(
                    p,
                    None,
                    format!(
                        "{} → {}",
                        human::endpoint(&t.data_client),
                        human::endpoint(&t.data_server)
                    ),
                ),
                field(
                    p,
                    None,
                    format!(
                        "{} {}",
                        escape_terminal(transfer_command(t)),
                        escape_terminal(transfer_path(t))
                    ),
                ),
                field(
                    p,
                    None,
                    format!(
                        "{}, {}, {}, {}{}",
                        direction_word(t.direction),
                        mode_word(t),
                        transfer_bytes(t),
                        status,
                        t.reply_code.map(|c| format!(" {c}")).unwrap_or_default(),
                    ),
                ),
            ],
            width,
            2,
            10,
            out,
        )?;
        if t.sha256.is_some() || t.extracted.is_some() {
            write_fields(
                &[
                    field(p, None, format!("sha256 {}", transfer_hash(t, false))),
                    field(
                        p,
                        None,
                        format!("file {}", escape_terminal(&transfer_file(t))),
                    ),
                ],
                width,
                10,
                10,
                out,
            )?;
        }
    }
    Ok(())
}

fn write_anomalies(
    title: &str,
    list: &[Anomaly],
    p: Paint,
    width: Option<u16>,
    out: &mut dyn Write,
) -> io::Result<()> {
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
        let ts = a.ts.to_string();
        let kind = a.kind.as_str();
        let text = format!("{}{}", escape_terminal(&a.detail), sessions);
        match width {
            // The time on a line of its own, the finding wrapped between words under it.
            Some(w)
                if 2 + ts.len() + 2 + kind.chars().count() + 2 + text.chars().count()
                    > w as usize =>
            {
                writeln!(out, "  {}", p.wrap(DIM, &ts))?;
                let line = format!("{kind}: {text}");
                for (i, l) in wrap_words(&line, (w as usize).saturating_sub(4))
                    .iter()
                    .enumerate()
                {
                    let l = if i == 0 {
                        format!("{}{}", p.wrap(RED_BOLD, kind), &l[kind.len()..])
                    } else {
                        l.clone()
                    };
                    writeln!(out, "    {l}")?;
                }
            }
            _ => writeln!(
                out,
                "  {}  {}: {}",
                p.wrap(DIM, &ts),
                p.wrap(RED_BOLD, kind),
                text
            )?,
        }
    }
    Ok(())
}

/// `line` in lines of at most `room` characters, broken at spaces only (a word longer
/// than `room` stays whole on a line of its own).
fn wrap_words(line: &str, room: usize) -> Vec<String> {
    if line.chars().count() <= room || room == 0 {
        return vec![line.to_string()];
    }
    let mut out: Vec<String> = Vec::new();
    for word in line.split(' ') {
        match out.last_mut() {
            Some(l) if l.chars().count() + 1 + word.chars().count() <= room => {
                l.push(' ');
                l.push_str(word);
            }
            _ => out.push(word.to_string()),
        }
    }
    out
}

/// `control` → `ctl`, `data:2` → `d2`, `dns` → `dns`: the compact prefix's connection.
fn compact_conn(conn: Conn) -> String {
    match conn {
        Conn::Control => "ctl".to_string(),
        Conn::Data(n) => format!("d{n}"),
        Conn::Dns => "dns".to_string(),
    }
}

fn arrow(e: &Event, compact: bool) -> &'static str {
    match (e.from, e.conn == Conn::Dns, compact) {
        (Side::Client, false, false) => "C → S",
        (Side::Server, false, false) => "C ← S",
        (Side::Client, true, false) => "C → N",
        (Side::Server, true, false) => "C ← N",
        (Side::Client, false, true) => "C→S",
        (Side::Server, false, true) => "C←S",
        (Side::Client, true, true) => "C→N",
        (Side::Server, true, true) => "C←N",
    }
}

/// Event lines of one or several sessions: `items` in the order to print, times relative
/// to `origin`; `marker`: each line names its session (`--interleave`).
fn write_events(
    items: &[(&Session, &Event)],
    origin: crate::model::Time,
    compact: bool,
    marker: bool,
    width: Option<u16>,
    p: Paint,
    out: &mut dyn Write,
) -> io::Result<()> {
    let rels: Vec<String> = items
        .iter()
        .map(|(_, e)| {
            if compact {
                let t = crate::model::Time::new(e.ts.ts, e.ts.digits.min(3));
                human::relative(t, origin)
            } else {
                format!("{} s", human::relative(e.ts, origin))
            }
        })
        .collect();
    let rel_w = rels.iter().map(|r| r.chars().count()).max().unwrap_or(0);
    let labels: Vec<String> = items
        .iter()
        .map(|(s, e)| {
            if compact {
                compact_conn(e.conn)
            } else {
                conn_label(s, e.conn)
            }
        })
        .collect();
    let conn_w = labels.iter().map(|l| l.chars().count()).max().unwrap_or(0);
    let marks: Vec<String> = items.iter().map(|(s, _)| format!("#{}", s.id)).collect();
    let mark_w = if marker {
        marks.iter().map(|m| m.chars().count()).max().unwrap_or(0)
    } else {
        0
    };
    let sep = if compact { " " } else { "  " };
    for (((s, e), rel), (label, mark)) in items.iter().zip(&rels).zip(labels.iter().zip(&marks)) {
        let _ = s;
        let mut lead = 2 + rel_w + sep.len();
        write!(out, "  {}{sep}", p.wrap(DIM, &format!("{rel:>rel_w$}")))?;
        if !compact {
            let tod = human::time_of_day(e.ts);
            lead += tod.chars().count() + 2;
            write!(out, "{}  ", p.wrap(DIM, &tod))?;
        }
        if marker {
            lead += mark_w + sep.len();
            write!(out, "{}{sep}", p.wrap(BOLD, &format!("{mark:<mark_w$}")))?;
        }
        let is_data = e.conn.is_data();
        let pad_conn = format!("{label:<conn_w$}");
        let conn_text = if is_data {
            p.wrap(MAGENTA, &pad_conn)
        } else {
            p.wrap(BLUE, &pad_conn)
        };
        let arrow = arrow(e, compact);
        lead += conn_w + sep.len() + arrow.chars().count() + sep.len();
        // Data connections' events are indented under the control dialogue.
        let indent = if is_data { "  " } else { "" };
        let mut lines = event_lines(e);
        if let Some(w) = width.filter(|_| compact) {
            let room = (w as usize).saturating_sub(lead + indent.len());
            lines = lines.iter().flat_map(|l| wrap_words(l, room)).collect();
        }
        let first = lines.first().map(String::as_str).unwrap_or("");
        writeln!(
            out,
            "{conn_text}{sep}{arrow}{sep}{indent}{}",
            p.wrap(event_color(e, first), first),
        )?;
        for more in lines.iter().skip(1) {
            writeln!(
                out,
                "{:lead$}{indent}{}",
                "",
                p.wrap(event_color(e, more), more)
            )?;
        }
    }
    Ok(())
}

/// One session: header, then one line per timeline event (the full prefix).
pub fn write_session(s: &Session, color: bool, out: &mut dyn Write) -> io::Result<()> {
    write_session_with(
        s,
        &TimelineOptions {
            color,
            ..TimelineOptions::default()
        },
        out,
    )
}

fn write_session_with(s: &Session, o: &TimelineOptions, out: &mut dyn Write) -> io::Result<()> {
    let p = Paint(o.color);
    write_header(s, p, o.width, out)?;
    writeln!(out)?;
    let items: Vec<(&Session, &Event)> = s.timeline.iter().map(|e| (s, e)).collect();
    write_events(&items, s.start, o.compact, false, o.width, p, out)?;
    write_anomalies("  anomalies:", &s.anomalies, p, o.width, out)
}

/// `--interleave`: every header, then all the sessions' events merged in capture order
/// (a stable merge: same-time events keep their session order), then each session's
/// anomalies.
fn write_interleaved(
    sessions: &[&Session],
    o: &TimelineOptions,
    out: &mut dyn Write,
) -> io::Result<()> {
    let p = Paint(o.color);
    for s in sessions {
        write_header(s, p, o.width, out)?;
    }
    writeln!(out)?;
    let mut items: Vec<(&Session, &Event)> = sessions
        .iter()
        .flat_map(|s| s.timeline.iter().map(move |e| (*s, e)))
        .collect();
    items.sort_by_key(|(_, e)| e.ts.ts);
    let origin = sessions
        .iter()
        .map(|s| s.start)
        .min_by_key(|t| t.ts)
        .unwrap_or(sessions[0].start);
    write_events(&items, origin, o.compact, true, o.width, p, out)?;
    for s in sessions {
        write_anomalies(
            &format!("  session {} anomalies:", s.id),
            &s.anomalies,
            p,
            o.width,
            out,
        )?;
    }
    Ok(())
}

/// Every session (or only `o.session`) as a timeline, sessions separated by a blank line
/// (or merged, with `o.interleave`).
pub fn write_timeline(r: &Report, o: &TimelineOptions, out: &mut dyn Write) -> io::Result<()> {
    let p = Paint(o.color);
    let chosen: Vec<&Session> = super::selected(r, o.session).collect();
    if o.interleave && !chosen.is_empty() {
        write_interleaved(&chosen, o, out)?;
    } else {
        for (i, s) in chosen.iter().enumerate() {
            if i > 0 {
                writeln!(out)?;
            }
            write_session_with(s, o, out)?;
        }
    }
    let any = !chosen.is_empty();
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
        write_anomalies("capture anomalies:", &r.anomalies, p, o.width, out)?;
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
                ..TimelineOptions::default()
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
                ..TimelineOptions::default()
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
                ..TimelineOptions::default()
            },
        );
        assert!(colored.contains("\x1b[1;31m!! malformed_reply"));
        assert!(!colored.contains("\x1b[2J"));
    }

    fn compact80() -> TimelineOptions {
        TimelineOptions {
            compact: true,
            width: Some(80),
            ..TimelineOptions::default()
        }
    }

    #[test]
    fn compact_prefix_fits_80_columns() {
        let out = render(&documented_report(), &compact80());
        for l in out.lines() {
            assert!(
                l.chars().count() <= 80,
                "{} > 80: {l}\n{out}",
                l.chars().count()
            );
        }
        assert!(out.contains("\n   +0.000 ctl C→S TCP SYN\n"), "{out}");
        assert!(
            out.contains("  +11.203 d2  C←S   DATA 1715 bytes in 2 segments\n"),
            "{out}"
        );
        assert!(
            out.contains("\n                  230 Anonymous user logged in.\n"),
            "{out}"
        );
        // A reply longer than the line is wrapped between words, under its text.
        assert!(out.contains("C←S 331 Anonymous access allowed, send identity (e-mail name) as\n                  password.\n"), "{out}");
        // Every reply is one line, and the prefix is well under the full one's 48.
        let reply = out
            .lines()
            .find(|l| l.contains("150 Opening ASCII mode data connection for readme.txt"))
            .unwrap();
        let prefix = reply[..reply.find("150").unwrap()].chars().count();
        const _: () = assert!(COMPACT_PREFIX < 48);
        assert!(prefix <= COMPACT_PREFIX, "{prefix}: {reply}");
        // Same events, same order as the full prefix.
        let full = render(&documented_report(), &TimelineOptions::default());
        let events = |s: &str| {
            s.lines()
                .filter(|l| {
                    l.contains("C→S")
                        || l.contains("C←S")
                        || l.contains("C → S")
                        || l.contains("C ← S")
                })
                .count()
        };
        assert_eq!(events(&out), events(&full));
    }

    #[test]
    fn header_wraps_between_fields_at_80() {
        let mut r = example_report();
        r.sessions[0].server_name = Some("ftp.any-domain.example.com".into());
        let out = render(&r, &compact80());
        for l in out.lines() {
            assert!(l.chars().count() <= 80, "{l}\n{out}");
        }
        assert!(
            out.contains("192.168.0.2:1175 → ftp.any-domain.example.com (192.168.0.1:21)"),
            "{out}"
        );
        assert!(
            out.contains("\n    user ftp  login success  tls no  close fin\n"),
            "{out}"
        );
    }

    #[test]
    fn interleave_merges_in_time_order_with_markers() {
        let mut r = example_report();
        // Make sessions 1 and 2 overlap in time.
        let shift = r.sessions[1].start.ts.0 - r.sessions[0].start.ts.0 - 1_000_000_000;
        let s2 = &mut r.sessions[1];
        s2.start.ts.0 -= shift;
        s2.end.ts.0 -= shift;
        for e in &mut s2.timeline {
            e.ts.ts.0 -= shift;
        }
        let out = render(
            &r,
            &TimelineOptions {
                interleave: true,
                ..compact80()
            },
        );
        let headers = out
            .lines()
            .take_while(|l| !l.is_empty())
            .filter(|l| l.starts_with("Session "))
            .count();
        assert_eq!(headers, 3, "{out}");
        let events: Vec<&str> = out
            .lines()
            .filter(|l| l.contains(" #1 ") || l.contains(" #2 ") || l.contains(" #3 "))
            .collect();
        let total: usize = r.sessions.iter().map(|s| s.timeline.len()).sum();
        assert!(events.len() >= total, "{} < {total}\n{out}", events.len());
        // Times never go back, and the sessions alternate somewhere.
        let secs: Vec<f64> = events
            .iter()
            .filter_map(|l| {
                l.split_whitespace()
                    .next()?
                    .trim_start_matches('+')
                    .parse()
                    .ok()
            })
            .collect();
        assert!(secs.windows(2).all(|w| w[0] <= w[1]), "{out}");
        let marks: Vec<&str> = events
            .iter()
            .filter_map(|l| l.split_whitespace().nth(1))
            .collect();
        let switches = marks.windows(2).filter(|w| w[0] != w[1]).count();
        assert!(switches > 2, "sessions 1 and 2 interleave:\n{out}");
        assert!(out.contains("  session 2 anomalies:"), "{out}");
        // The full prefix interleaves too.
        let full = render(
            &r,
            &TimelineOptions {
                interleave: true,
                ..TimelineOptions::default()
            },
        );
        assert!(full.contains(" #2  control"), "{full}");
    }

    #[test]
    fn stable() {
        let r = example_report();
        let o = TimelineOptions::default();
        assert_eq!(render(&r, &o), render(&r, &o));
    }
}
