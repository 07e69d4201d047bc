//! The default output: a sessions table, a transfers table and a one-line summary (comfy-table).

use comfy_table::Color;
use std::io::{self, Write};

use super::human;
use super::layout::{self, Column, Piece};
use super::text::escape_terminal;
use crate::model::{
    DataCapture, DataMatch, Direction, Login, Mode, Report, Session, Transfer, TransferStatus,
};

/// How to draw the tables. The CLI decides `color` (stdout is a terminal and
/// `NO_COLOR` is unset) and `width` (the terminal's); nothing here looks at
/// the environment.
#[derive(Debug, Clone, Default)]
pub struct TableOptions {
    /// Colour status and login cells with ANSI escapes.
    pub color: bool,
    /// Fit the tables in this many columns: up to [`NARROW_COLUMNS`] the narrow layout,
    /// beyond it (or `None`: a file or pipe, no limit) the wide one.
    pub width: Option<u16>,
    /// Show a password column (`--show-passwords`; the report already holds them).
    pub show_passwords: bool,
}

/// Longest wire string put in a cell before it is cut with "…".
const MAX_CELL: usize = 200;

/// A wire string made safe for a terminal and cut to a sane length.
fn wire(s: &str) -> String {
    let e = escape_terminal(s);
    if e.chars().count() > MAX_CELL {
        let mut cut: String = e.chars().take(MAX_CELL - 1).collect();
        cut.push('…');
        cut
    } else {
        e.into_owned()
    }
}

fn login_cell(s: &Session) -> Piece {
    let (word, color) = match s.login {
        Login::Success => ("success", Color::Green),
        Login::Failed => ("failed", Color::Red),
        Login::None => ("none", Color::Yellow),
    };
    let mut pieces = vec![word.to_string()];
    if s.tls {
        pieces.push("+TLS".into());
    }
    Piece::of(pieces).color(Some(color))
}

fn status_cell(t: &Transfer) -> Piece {
    let (word, color) = match t.status {
        TransferStatus::Complete => ("complete", Color::Green),
        TransferStatus::Aborted => ("aborted", Color::Red),
        TransferStatus::Failed => ("failed", Color::Red),
        TransferStatus::Incomplete => ("incomplete", Color::Yellow),
    };
    let mut pieces = vec![word.to_string()];
    if let Some(code) = t.reply_code {
        pieces.push(code.to_string());
    }
    Piece::of(pieces).color(Some(color))
}

pub(crate) fn direction_word(d: Direction) -> &'static str {
    match d {
        Direction::Download => "download",
        Direction::Upload => "upload",
        Direction::Listing => "listing",
    }
}

pub(crate) fn mode_word(t: &Transfer) -> String {
    let m = match t.mode {
        Mode::Active => "active",
        Mode::Passive => "passive",
    };
    format!("{m} {}", t.setup)
}

/// `"1.7 KiB"`, plus what the capture lost: `"4.1 MiB (4.2 KiB missing)"`; a transfer
/// whose data connection is not in the capture says so.
pub(crate) fn transfer_bytes(t: &Transfer) -> String {
    let Some(bytes) = t.bytes else {
        return match t.data {
            DataCapture::Encrypted => "encrypted".to_string(),
            _ => "data connection not in capture".to_string(),
        };
    };
    let mut s = human::bytes(bytes);
    if let Some(m) = t.missing_bytes.filter(|&m| m > 0) {
        s.push_str(&format!(" ({} missing)", human::bytes(m)));
    }
    if t.data == DataCapture::Encrypted {
        s.push_str(" encrypted");
    }
    s
}

pub(crate) fn transfer_rate(t: &Transfer) -> String {
    match t.bytes {
        Some(b) => human::rate(b, t.end.secs_since(t.start)),
        None => "-".to_string(),
    }
}

/// The transfer's command; "(TLS)" when it was sent inside TLS (a data connection tied to
/// its encrypted session by hosts and time).
pub(crate) fn transfer_command(t: &Transfer) -> &str {
    if t.command.is_empty() && t.match_ == DataMatch::Timing {
        "(TLS)"
    } else {
        &t.command
    }
}

/// The transfer's file: its resolved path, else its argument, else "-".
pub(crate) fn transfer_path(t: &Transfer) -> &str {
    match &t.path {
        Some(p) if !p.is_empty() => p,
        _ if !t.arg.is_empty() => &t.arg,
        _ => "-",
    }
}

/// Widest terminal that gets the narrow layout; a wider one (or a file or pipe) gets the
/// wide layout: start times, data endpoints, sha256 and extracted file.
pub const NARROW_COLUMNS: u16 = 100;

/// Longest user name or path shown whole in the narrow layout (longer ones end in "…").
const NARROW_TEXT: usize = 16;

/// `s` cut to `max` characters, ending in "…" when cut (keeping its end when `tail`).
fn cut(s: &str, max: usize, tail: bool) -> String {
    let n = s.chars().count();
    if n <= max {
        return s.to_string();
    }
    if tail {
        let rest: String = s.chars().skip(n - (max - 1)).collect();
        format!("…{rest}")
    } else {
        let mut c: String = s.chars().take(max - 1).collect();
        c.push('…');
        c
    }
}

fn wide(o: &TableOptions) -> bool {
    o.width.is_none_or(|w| w > NARROW_COLUMNS)
}

/// A free-text token (user name, path): whole, with a cut form for narrow layouts.
fn text_cell(s: &str, tail: bool) -> Piece {
    let w = wire(s);
    let short = cut(&w, NARROW_TEXT, tail);
    Piece::token(w).short(vec![short])
}

/// `ftp.example.test (10.99.0.1:21)`, breakable between the name and the address.
fn server_cell(s: &Session) -> Piece {
    let ep = human::endpoint(&s.server);
    match &s.server_name {
        Some(n) => {
            let name = wire(n);
            Piece::of(vec![cut(&name, 64, false), format!("({ep})")])
                .short(vec![cut(&name, NARROW_TEXT, false), format!("({ep})")])
        }
        None => Piece::token(ep),
    }
}

/// Capture time to the second: `2013-04-15T09:30:00Z`.
fn start_cell(t: crate::model::Time) -> Piece {
    let s = crate::model::Time::new(t.ts, 0).to_string();
    match s.split_once('T') {
        Some((d, rest)) => Piece::of(vec![d.to_string(), rest.to_string()])
            .short(vec![rest.trim_end_matches('Z').to_string()]),
        None => Piece::token(s),
    }
}

/// `"2 (1.8 KiB)"`, breakable before the bytes.
fn transfers_cell(s: &Session) -> Piece {
    let (_, text) = super::session_counts(s);
    match text.split_once(' ') {
        Some((n, b)) => Piece::of(vec![n.to_string(), b.to_string()]).short(vec![n.to_string()]),
        None => Piece::token(text),
    }
}

fn sessions_table(r: &Report, o: &TableOptions) -> comfy_table::Table {
    let wide = wide(o);
    let mut id = Column::new("#", 0).right();
    let mut start = Column::new("start", 2);
    let mut client = Column::new("client", 0);
    let mut server = Column::new("server", 0);
    let mut user = Column::new("user", 9);
    let mut password = Column::new("password", 9).short_header("pass");
    let mut login = Column::new("login", 10);
    let mut cmds = Column::new("cmds", 3).right();
    let mut transfers = Column::new("transfers", 8).short_header("xfers").right();
    let mut duration = Column::new("duration", 5).short_header("dur").right();
    let mut anomalies = Column::new("anomalies", 7).short_header("anom").right();
    for s in &r.sessions {
        let (n_cmds, _) = super::session_counts(s);
        let n_anom = s.anomalies.len();
        id.cells.push(Piece::token(s.id.to_string()));
        start.cells.push(start_cell(s.start));
        client.cells.push(Piece::token(human::endpoint(&s.client)));
        server.cells.push(server_cell(s));
        user.cells.push(match &s.user {
            Some(u) => text_cell(u, false),
            None => Piece::token("-"),
        });
        password.cells.push(match &s.password {
            Some(p) => text_cell(p, false),
            None => Piece::token("-"),
        });
        login.cells.push(login_cell(s));
        cmds.cells.push(Piece::token(n_cmds.to_string()));
        transfers.cells.push(transfers_cell(s));
        duration
            .cells
            .push(Piece::token(human::duration(s.end.secs_since(s.start))));
        anomalies
            .cells
            .push(Piece::token(n_anom.to_string()).color((n_anom > 0).then_some(Color::Yellow)));
    }
    let mut cols = vec![id];
    if wide {
        cols.push(start);
    }
    cols.extend([client, server, user]);
    if o.show_passwords {
        cols.push(password);
    }
    cols.extend([login, cmds, transfers, duration, anomalies]);
    layout::build(cols, o.width, o.color)
}

/// The sha256 (shortened to 16 digits on a terminal) and the `--extract` file of a transfer.
pub(crate) fn transfer_hash(t: &Transfer, short: bool) -> String {
    match &t.sha256 {
        Some(h) if short => format!("{}…", &h[..16.min(h.len())]),
        Some(h) => h.clone(),
        None => "-".to_string(),
    }
}

pub(crate) fn transfer_file(t: &Transfer) -> String {
    match (&t.extracted, &t.joined) {
        (Some(f), Some(j)) => format!("{f} (joined: {j})"),
        (Some(f), None) => f.clone(),
        _ => "-".to_string(),
    }
}

fn direction_cell(d: Direction) -> Piece {
    let short = match d {
        Direction::Download => "down",
        Direction::Upload => "up",
        Direction::Listing => "list",
    };
    Piece::token(direction_word(d)).short(vec![short.into()])
}

fn bytes_cell(t: &Transfer) -> Piece {
    let text = transfer_bytes(t);
    if t.bytes.is_none() {
        let short = match t.data {
            DataCapture::Encrypted => "encrypted",
            _ => "not captured",
        };
        return Piece::words(&text).short(vec![short.into()]);
    }
    // "4.1 MiB (4.2 KiB missing) encrypted": breakable between the size and the notes.
    let mut pieces = Vec::new();
    let mut rest = text.as_str();
    if let Some(i) = rest.find(" (") {
        pieces.push(rest[..i].to_string());
        rest = &rest[i + 1..];
        match rest.find(')') {
            Some(j) => {
                pieces.push(rest[..=j].to_string());
                rest = rest[j + 1..].trim_start();
            }
            None => {
                pieces.push(rest.to_string());
                rest = "";
            }
        }
    } else if let Some(i) = rest.find(" encrypted") {
        pieces.push(rest[..i].to_string());
        rest = &rest[i + 1..];
    } else {
        pieces.push(rest.to_string());
        rest = "";
    }
    if !rest.is_empty() {
        pieces.push(rest.to_string());
    }
    Piece::of(pieces)
}

fn data_cell(t: &Transfer) -> Piece {
    Piece::of(vec![
        human::endpoint(&t.data_client),
        "→".into(),
        human::endpoint(&t.data_server),
    ])
}

fn transfers_table(r: &Report, o: &TableOptions) -> comfy_table::Table {
    let wide = wide(o);
    let all = || r.sessions.iter().flat_map(|s| s.transfers.iter());
    let hashes = wide && all().any(|x| x.sha256.is_some());
    let files = wide && all().any(|x| x.extracted.is_some());
    let mut session = Column::new("session", 0).short_header("s").right();
    let mut n = Column::new("#", 0).right();
    let mut command = Column::new("command", 0).short_header("cmd");
    let mut path = Column::new("path", 7);
    let mut data = Column::new("data client → server", 4).short_header("data");
    let mut direction = Column::new("direction", 6).short_header("dir");
    let mut mode = Column::new("mode", 3);
    let mut bytes = Column::new("bytes", 9).right();
    let mut rate = Column::new("rate", 2).right();
    let mut status = Column::new("status", 8);
    let mut sha = Column::new("sha256", 5);
    let mut file = Column::new("file", 1);
    for s in &r.sessions {
        for (i, x) in s.transfers.iter().enumerate() {
            session.cells.push(Piece::token(s.id.to_string()));
            n.cells.push(Piece::token((i + 1).to_string()));
            command.cells.push(Piece::token(wire(transfer_command(x))));
            path.cells.push(text_cell(transfer_path(x), true));
            data.cells.push(data_cell(x));
            direction.cells.push(direction_cell(x.direction));
            mode.cells
                .push(Piece::words(&mode_word(x)).short(vec![x.setup.to_string()]));
            bytes.cells.push(bytes_cell(x));
            rate.cells.push(Piece::token(transfer_rate(x)));
            status.cells.push(status_cell(x));
            sha.cells
                .push(Piece::token(transfer_hash(x, false)).short(vec![transfer_hash(x, true)]));
            file.cells.push(text_cell(&transfer_file(x), true));
        }
    }
    let mut cols = vec![session, n, command, path];
    if wide {
        cols.push(data);
    }
    cols.extend([direction, mode, bytes, rate, status]);
    if hashes {
        cols.push(sha);
    }
    if files {
        cols.push(file);
    }
    layout::build(cols, o.width, o.color)
}

/// Data connections tied to no session (`Report::untied_transfers`).
fn untied_table(r: &Report, o: &TableOptions) -> comfy_table::Table {
    let mut n = Column::new("#", 0).right();
    let mut client = Column::new("data client", 0);
    let mut server = Column::new("data server", 0);
    let mut direction = Column::new("direction", 3).short_header("dir");
    let mut bytes = Column::new("bytes", 4).right();
    let mut sha = Column::new("sha256", 2);
    for (i, x) in r.untied_transfers.iter().enumerate() {
        n.cells.push(Piece::token((i + 1).to_string()));
        client
            .cells
            .push(Piece::token(human::endpoint(&x.data_client)));
        server
            .cells
            .push(Piece::token(human::endpoint(&x.data_server)));
        direction.cells.push(direction_cell(x.direction));
        bytes.cells.push(bytes_cell(x));
        sha.cells.push(
            Piece::token(x.sha256.clone().unwrap_or_else(|| "-".into()))
                .short(vec![transfer_hash(x, true)]),
        );
    }
    layout::build(
        vec![n, client, server, direction, bytes, sha],
        o.width,
        o.color,
    )
}

/// Write the sessions table, the transfers table (when there are transfers)
/// and the summary line. Wire strings are escaped ([`escape_terminal`]); with
/// `color: false` the output holds no escape sequence at all.
pub fn write_table(r: &Report, o: &TableOptions, out: &mut dyn Write) -> io::Result<()> {
    if r.sessions.is_empty() {
        writeln!(out, "no FTP sessions found")?;
    } else {
        writeln!(out, "{}", sessions_table(r, o))?;
        if r.sessions.iter().any(|s| !s.transfers.is_empty()) {
            writeln!(out)?;
            writeln!(out, "{}", transfers_table(r, o))?;
        } else {
            writeln!(out, "no data transfers")?;
        }
    }
    if !r.untied_transfers.is_empty() {
        writeln!(out)?;
        writeln!(out, "data connections tied to no session:")?;
        writeln!(out, "{}", untied_table(r, o))?;
    }
    write_summary(&super::summary_line(r), o.width, out)
}

/// The summary line; with a width, broken after its commas into lines that fit.
fn write_summary(line: &str, width: Option<u16>, out: &mut dyn Write) -> io::Result<()> {
    let Some(w) = width.map(usize::from).filter(|&w| line.chars().count() > w) else {
        return writeln!(out, "{line}");
    };
    let mut cur = String::new();
    for part in line.split(", ") {
        if !cur.is_empty() && cur.chars().count() + 2 + part.chars().count() + 1 > w {
            writeln!(out, "{cur},")?;
            cur.clear();
        }
        if !cur.is_empty() {
            cur.push_str(", ");
        }
        cur.push_str(part);
    }
    writeln!(out, "{cur}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::testdata::{empty_report, example_report};

    fn render(r: &Report, o: &TableOptions) -> String {
        let mut v = Vec::new();
        write_table(r, o, &mut v).unwrap();
        String::from_utf8(v).unwrap()
    }

    #[test]
    fn a_transfer_whose_command_was_inside_tls_says_so() {
        let mut r = example_report();
        let t = &mut r.sessions[0].transfers[0];
        assert_eq!(transfer_command(t), t.command.as_str());
        t.command.clear();
        assert_eq!(transfer_command(t), "", "unknown for another reason");
        t.match_ = DataMatch::Timing;
        assert_eq!(transfer_command(t), "(TLS)");
    }

    #[test]
    fn no_escapes_without_color() {
        let s = render(
            &example_report(),
            &TableOptions {
                color: false,
                width: None,
                ..TableOptions::default()
            },
        );
        assert!(!s.contains('\x1b'), "{s}");
        assert!(!s.chars().any(|c| c.is_control() && c != '\n'), "{s}");
        // The hostile user name is shown escaped.
        assert!(s.contains("\\x1b[2J\\x1b[31mroot"), "{s}");
    }

    #[test]
    fn color_only_when_asked() {
        let s = render(
            &example_report(),
            &TableOptions {
                color: true,
                width: None,
                ..TableOptions::default()
            },
        );
        assert!(s.contains("\x1b["), "{s}");
        // ... and never the wire's own escapes.
        assert!(!s.contains("\x1b[2J"), "{s}");
    }

    #[test]
    fn hash_and_file_columns_when_wide() {
        let mut r = example_report();
        let t = &mut r.sessions[0].transfers[0];
        t.sha256 = Some("ab".repeat(32));
        t.extracted = Some("s1-d1-readme.txt".into());
        let wide = render(&r, &TableOptions::default());
        assert!(wide.contains(&"ab".repeat(32)), "{wide}");
        assert!(wide.contains("s1-d1-readme.txt"), "{wide}");
        let narrow = render(
            &r,
            &TableOptions {
                color: false,
                width: Some(80),
                ..TableOptions::default()
            },
        );
        assert!(!narrow.contains("sha256"), "{narrow}");
        let plain = render(&example_report(), &TableOptions::default());
        assert!(!plain.contains("sha256"), "{plain}");
    }

    #[test]
    fn content() {
        let s = render(&example_report(), &TableOptions::default());
        for want in [
            "192.168.0.2:1175",
            "192.168.0.1:21",
            "[2001:db8::2]:50312",
            "success",
            "failed",
            "2 (1.8 KiB)",
            "14.801 s",
            "/pub/readme.txt",
            "1.7 KiB",
            "download",
            "listing",
            "active PORT",
            "passive EPSV",
            "complete 226",
            "incomplete",
            "4.1 MiB (4.2 KiB missing)",
            "2.8 MiB/s",
        ] {
            assert!(s.contains(want), "missing {want:?} in\n{s}");
        }
        let last = s.lines().last().unwrap();
        assert_eq!(
            last,
            "3187 packets, 3 FTP sessions, 3 transfers (4.1 MiB), 4 anomalies, 1 capture gap"
        );
    }

    #[test]
    fn fits_width_80() {
        for color in [false, true] {
            let s = render(
                &example_report(),
                &TableOptions {
                    color,
                    width: Some(80),
                    ..TableOptions::default()
                },
            );
            for line in s.lines() {
                let visible = strip_ansi(line);
                assert!(
                    visible.chars().count() <= 80,
                    "too wide ({}): {visible}",
                    visible.chars().count()
                );
            }
        }
    }

    /// A report with long tokens: IPv6 endpoints, a server name, a long user name, a
    /// password, hashes and extracted files.
    fn crowded() -> Report {
        let mut r = example_report();
        r.sessions[0].server_name = Some("ftp.any-domain.example.com".into());
        r.sessions[2].user = Some("anonymous".into());
        r.sessions[2].password = Some("mozilla@example.com".into());
        for s in &mut r.sessions {
            for (i, t) in s.transfers.iter_mut().enumerate() {
                t.sha256 = Some(format!("{i:x}").repeat(64));
                t.extracted = Some(format!("s{}-d{}-file.bin", s.id, i + 1));
            }
        }
        r
    }

    /// Tokens a table must never break across lines (nor cut).
    fn tokens(r: &Report) -> Vec<String> {
        let mut v = Vec::new();
        for s in &r.sessions {
            v.push(human::endpoint(&s.client));
            v.push(human::endpoint(&s.server));
            if let Some(u) = &s.user {
                v.push(wire(u));
            }
        }
        v
    }

    #[test]
    fn fits_80_100_160_without_splitting_tokens() {
        for r in [example_report(), crowded()] {
            for width in [80u16, 100, 160] {
                for show_passwords in [false, true] {
                    let s = render(
                        &r,
                        &TableOptions {
                            color: false,
                            width: Some(width),
                            show_passwords,
                        },
                    );
                    for line in s.lines() {
                        let n = line.chars().count();
                        assert!(n <= width as usize, "{n} > {width}: {line}\n{s}");
                    }
                    for t in tokens(&r) {
                        // Whole, or cut with "…" (never broken across lines).
                        let short = cut(&t, NARROW_TEXT, false);
                        assert!(
                            s.lines().any(|l| l.contains(&t) || l.contains(&short)),
                            "{t:?} split or lost at {width}:\n{s}"
                        );
                    }
                    for h in ["client", "server", "login", "status"] {
                        assert!(s.contains(h), "header {h} at {width}:\n{s}");
                    }
                    assert!(s.contains("┆ cmd ") || s.contains("┆ command "), "{s}");
                    let wide = width > NARROW_COLUMNS;
                    assert_eq!(s.contains("start"), wide, "start column at {width}:\n{s}");
                    if show_passwords
                        && width >= 100
                        && r.sessions[2].password.as_deref() != Some("<hidden>")
                    {
                        assert!(s.contains("mozilla@example.com"), "{s}");
                    }
                }
            }
        }
    }

    #[test]
    fn wide_layout_has_start_data_hash_and_file() {
        let r = crowded();
        let s = render(&r, &TableOptions::default());
        for want in [
            "2013-04-15 09:30:00Z",
            "192.168.0.1:20 → 192.168.0.2:5002",
            &"1".repeat(64),
            "s1-d2-file.bin",
            "ftp.any-domain.example.com (192.168.0.1:21)",
        ] {
            assert!(s.contains(want), "missing {want:?}:\n{s}");
        }
        assert!(!s.contains("password"), "only with --show-passwords");
        let s = render(
            &r,
            &TableOptions {
                show_passwords: true,
                ..TableOptions::default()
            },
        );
        assert!(
            s.contains("password") && s.contains("mozilla@example.com"),
            "{s}"
        );
        let s = render(
            &r,
            &TableOptions {
                width: Some(160),
                ..TableOptions::default()
            },
        );
        assert!(s.contains("sha256"), "hashes at 160 columns:\n{s}");
    }

    #[test]
    fn empty() {
        let s = render(
            &empty_report(),
            &TableOptions {
                color: true,
                width: Some(80),
                ..TableOptions::default()
            },
        );
        assert_eq!(
            s,
            "no FTP sessions found\n42 packets, 0 FTP sessions, 0 transfers (0 B), 0 anomalies, 0 capture gaps\n"
        );
    }

    fn strip_ansi(s: &str) -> String {
        let mut out = String::new();
        let mut it = s.chars().peekable();
        while let Some(c) = it.next() {
            if c == '\x1b' {
                for d in it.by_ref() {
                    if d.is_ascii_alphabetic() {
                        break;
                    }
                }
            } else {
                out.push(c);
            }
        }
        out
    }
}
