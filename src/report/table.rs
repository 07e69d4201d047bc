//! The default output: a sessions table, a transfers table and a one-line summary (comfy-table).

use comfy_table::{presets, Attribute, Cell, CellAlignment, Color, ContentArrangement, Table};
use std::io::{self, Write};

use super::human;
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
    /// Fit the tables in this many columns, wrapping cell text.
    pub width: Option<u16>,
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

fn new_table(o: &TableOptions) -> Table {
    let mut t = Table::new();
    t.load_preset(presets::UTF8_FULL_CONDENSED);
    t.force_no_tty();
    if o.color {
        t.enforce_styling();
    }
    match o.width {
        Some(w) => {
            t.set_content_arrangement(ContentArrangement::Dynamic);
            t.set_width(w);
        }
        None => {
            t.set_content_arrangement(ContentArrangement::Disabled);
        }
    }
    t
}

fn header(t: &mut Table, names: &[&str], o: &TableOptions) {
    t.set_header(names.iter().map(|n| {
        let c = Cell::new(n);
        if o.color {
            c.add_attribute(Attribute::Bold)
        } else {
            c
        }
    }));
}

fn colored(text: String, color: Option<Color>, o: &TableOptions) -> Cell {
    match (o.color, color) {
        (true, Some(c)) => Cell::new(text).fg(c),
        _ => Cell::new(text),
    }
}

fn right(text: String) -> Cell {
    Cell::new(text).set_alignment(CellAlignment::Right)
}

fn login_cell(s: &Session, o: &TableOptions) -> Cell {
    let (word, color) = match s.login {
        Login::Success => ("success", Some(Color::Green)),
        Login::Failed => ("failed", Some(Color::Red)),
        Login::None => ("none", Some(Color::Yellow)),
    };
    let text = if s.tls {
        format!("{word} +TLS")
    } else {
        word.to_string()
    };
    colored(text, color, o)
}

fn status_cell(t: &Transfer, o: &TableOptions) -> Cell {
    let (word, color) = match t.status {
        TransferStatus::Complete => ("complete", Color::Green),
        TransferStatus::Aborted => ("aborted", Color::Red),
        TransferStatus::Failed => ("failed", Color::Red),
        TransferStatus::Incomplete => ("incomplete", Color::Yellow),
    };
    let text = match t.reply_code {
        Some(code) => format!("{word} {code}"),
        None => word.to_string(),
    };
    colored(text, Some(color), o)
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

fn sessions_table(r: &Report, o: &TableOptions) -> Table {
    let mut t = new_table(o);
    header(
        &mut t,
        &[
            "#",
            "client",
            "server",
            "user",
            "login",
            "cmds",
            "transfers",
            "duration",
            "anomalies",
        ],
        o,
    );
    for s in &r.sessions {
        let (n_cmds, transfers) = super::session_counts(s);
        let anomalies = s.anomalies.len();
        t.add_row(vec![
            right(s.id.to_string()),
            Cell::new(human::endpoint(&s.client)),
            Cell::new(super::server_label(s)),
            Cell::new(s.user.as_deref().map(wire).unwrap_or_else(|| "-".into())),
            login_cell(s, o),
            right(n_cmds.to_string()),
            right(transfers),
            right(human::duration(s.end.secs_since(s.start))),
            colored(
                anomalies.to_string(),
                (anomalies > 0).then_some(Color::Yellow),
                o,
            )
            .set_alignment(CellAlignment::Right),
        ]);
    }
    t
}

/// Narrowest terminal that gets the sha256 and file columns (a file or pipe always does).
const WIDE_COLUMNS: u16 = 160;

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

fn transfers_table(r: &Report, o: &TableOptions) -> Table {
    let mut t = new_table(o);
    let all = || r.sessions.iter().flat_map(|s| s.transfers.iter());
    let wide = o.width.is_none_or(|w| w >= WIDE_COLUMNS);
    let hashes = wide && all().any(|x| x.sha256.is_some());
    let files = wide && all().any(|x| x.extracted.is_some());
    let mut names = vec![
        "session",
        "#",
        "command",
        "path",
        "direction",
        "mode",
        "bytes",
        "rate",
        "status",
    ];
    if hashes {
        names.push("sha256");
    }
    if files {
        names.push("file");
    }
    header(&mut t, &names, o);
    for s in &r.sessions {
        for (i, x) in s.transfers.iter().enumerate() {
            let mut row = vec![
                right(s.id.to_string()),
                right((i + 1).to_string()),
                Cell::new(wire(transfer_command(x))),
                Cell::new(wire(transfer_path(x))),
                Cell::new(direction_word(x.direction)),
                Cell::new(mode_word(x)),
                right(transfer_bytes(x)),
                right(transfer_rate(x)),
                status_cell(x, o),
            ];
            if hashes {
                row.push(Cell::new(transfer_hash(x, o.width.is_some())));
            }
            if files {
                row.push(Cell::new(wire(&transfer_file(x))));
            }
            t.add_row(row);
        }
    }
    t
}

/// Data connections tied to no session (`Report::untied_transfers`).
fn untied_table(r: &Report, o: &TableOptions) -> Table {
    let mut t = new_table(o);
    header(
        &mut t,
        &[
            "#",
            "data client",
            "data server",
            "direction",
            "bytes",
            "sha256",
        ],
        o,
    );
    for (i, x) in r.untied_transfers.iter().enumerate() {
        t.add_row(vec![
            right((i + 1).to_string()),
            Cell::new(human::endpoint(&x.data_client)),
            Cell::new(human::endpoint(&x.data_server)),
            Cell::new(direction_word(x.direction)),
            right(transfer_bytes(x)),
            Cell::new(x.sha256.as_deref().unwrap_or("-")),
        ]);
    }
    t
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
    writeln!(out, "{}", super::summary_line(r))
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

    #[test]
    fn empty() {
        let s = render(
            &empty_report(),
            &TableOptions {
                color: true,
                width: Some(80),
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
