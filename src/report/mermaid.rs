//! Mermaid `sequenceDiagram`s of the sessions, for Markdown viewers (GitHub renders them).

use std::io::{self, Write};

use super::human;
use super::text::escape_terminal;
use super::timeline::{conn_transfer, data_ports};
use crate::model::{Conn, Event, EventKind, Report, Session, Side};

/// Longest message text before it is cut with "…" (a 64 KiB line would make
/// the diagram unreadable).
const MAX_TEXT: usize = 120;

/// Make text safe inside a Mermaid sequence diagram: control characters are
/// shown escaped (as in the terminal), and the characters Mermaid's parser
/// chokes on become entity codes (`;` → `#59;`, `#` → `#35;`, `"` → `#34;`,
/// `<` → `#60;`, `>` → `#62;`, `&` → `#38;`, `%` → `#37;`).
pub fn escape_mermaid(s: &str) -> String {
    let shown = escape_terminal(s);
    let mut out = String::with_capacity(shown.len() + 8);
    for (i, c) in shown.chars().enumerate() {
        if i == MAX_TEXT {
            out.push('…');
            break;
        }
        match c {
            ';' | '#' | '"' | '<' | '>' | '&' | '%' => out.push_str(&format!("#{};", c as u32)),
            c => out.push(c),
        }
    }
    out
}

/// Participant ids of one connection: (client side, server side).
fn ids(s: &Session, conn: Conn) -> (String, String) {
    match (conn, conn_transfer(s, conn)) {
        (Conn::Dns, _) => ("C".to_string(), "N".to_string()),
        (Conn::Data(n), Some(_)) => (format!("D{n}C"), format!("D{n}S")),
        _ => ("C".to_string(), "S".to_string()),
    }
}

fn message(e: &Event) -> String {
    match e.kind {
        EventKind::Tcp => escape_mermaid(&e.what),
        EventKind::Command => escape_mermaid(&e.what),
        EventKind::Reply => e
            .what
            .split('\n')
            .map(|l| escape_mermaid(l.strip_suffix('\r').unwrap_or(l)))
            .collect::<Vec<_>>()
            .join("<br/>"),
        EventKind::Data => format!("DATA {}", escape_mermaid(&e.what)),
        EventKind::Dns => escape_mermaid(&e.what),
        EventKind::Anomaly => format!(
            "⚠ {}: {}",
            escape_mermaid(e.note.as_deref().unwrap_or("anomaly")),
            escape_mermaid(&e.what)
        ),
    }
}

/// One session as a bare Mermaid diagram (starts with `sequenceDiagram`).
pub fn write_mermaid_session(s: &Session, out: &mut dyn Write) -> io::Result<()> {
    writeln!(out, "sequenceDiagram")?;
    writeln!(
        out,
        "    title FTP session {} {} → {}",
        s.id,
        escape_mermaid(&human::endpoint(&s.client)),
        escape_mermaid(&super::server_label(s))
    )?;
    // The DNS lane, leftmost as in the classic diagrams, when a lookup named the server.
    if let Some(e) = s.timeline.iter().find(|e| e.conn == Conn::Dns) {
        let resolver = e
            .note
            .as_deref()
            .and_then(|n| n.strip_prefix("resolver "))
            .unwrap_or("");
        writeln!(out, "    participant N as DNS {}", escape_mermaid(resolver))?;
    }
    writeln!(
        out,
        "    box rgb(232,240,254) client {}",
        escape_mermaid(&s.client.ip.to_string())
    )?;
    writeln!(
        out,
        "    participant C as Client {}",
        escape_mermaid(&human::endpoint(&s.client))
    )?;
    // Only data connections with events get participants (not one whose data connection
    // is not in the capture).
    let mut lane = vec![false; s.transfers.len()];
    for e in &s.timeline {
        if let Some(h) = e.conn.transfer_index().and_then(|i| lane.get_mut(i)) {
            *h = true;
        }
    }
    for (i, t) in s.transfers.iter().enumerate().filter(|(i, _)| lane[*i]) {
        let (cp, _) = data_ports(t);
        writeln!(
            out,
            "    participant D{}C as Client:{cp} (data:{})",
            i + 1,
            i + 1
        )?;
    }
    writeln!(out, "    end")?;
    writeln!(
        out,
        "    box rgb(254,243,230) server {}",
        escape_mermaid(&s.server.ip.to_string())
    )?;
    for (i, t) in s
        .transfers
        .iter()
        .enumerate()
        .rev()
        .filter(|(i, _)| lane[*i])
    {
        let (_, sp) = data_ports(t);
        writeln!(
            out,
            "    participant D{}S as Server:{sp} (data:{})",
            i + 1,
            i + 1
        )?;
    }
    writeln!(
        out,
        "    participant S as Server {}",
        escape_mermaid(&human::endpoint(&s.server))
    )?;
    writeln!(out, "    end")?;
    for e in &s.timeline {
        let (c, sv) = ids(s, e.conn);
        let (from, to) = match e.from {
            Side::Client => (&c, &sv),
            Side::Server => (&sv, &c),
        };
        let arrow = match e.kind {
            EventKind::Tcp => "-)",
            EventKind::Command | EventKind::Data | EventKind::Dns => "->>",
            EventKind::Reply => "-->>",
            EventKind::Anomaly => {
                writeln!(out, "    Note over {c},{sv}: {}", message(e))?;
                continue;
            }
        };
        writeln!(out, "    {from}{arrow}{to}: {}", message(e))?;
        if let Some(note) = e.note.as_ref().filter(|_| e.kind != EventKind::Dns) {
            writeln!(out, "    Note over {from}: {}", escape_mermaid(note))?;
        }
    }
    Ok(())
}

/// The sessions (or only `session`) as Mermaid, in one shape whatever their number: a
/// Markdown document with, per session, a `## FTP session N: client → server` heading and
/// a fenced ```` ```mermaid ```` block holding one `sequenceDiagram`, blocks separated by a
/// blank line. Markdown viewers (GitHub, GitLab) draw it as is, and a script feeds each
/// fenced block to a renderer, or the whole file to `mmdc -i out.md` (one SVG per block).
/// No session: one such block with a note saying so.
pub fn write_mermaid(r: &Report, session: Option<u64>, out: &mut dyn Write) -> io::Result<()> {
    let sessions: Vec<&Session> = super::selected(r, session).collect();
    if sessions.is_empty() {
        writeln!(out, "## ftptrace\n\n```mermaid\nsequenceDiagram")?;
        writeln!(out, "    participant ftptrace")?;
        match session {
            Some(id) => writeln!(out, "    Note over ftptrace: no FTP session {id}")?,
            None => writeln!(out, "    Note over ftptrace: no FTP sessions found")?,
        }
        return writeln!(out, "```");
    }
    for (i, s) in sessions.iter().enumerate() {
        if i > 0 {
            writeln!(out)?;
        }
        writeln!(
            out,
            "## FTP session {}: {} → {}\n\n```mermaid",
            s.id,
            human::endpoint(&s.client),
            super::server_label(s)
        )?;
        write_mermaid_session(s, out)?;
        writeln!(out, "```")?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::testdata::{documented_report, empty_report, example_report};

    fn render(r: &Report, session: Option<u64>) -> String {
        let mut v = Vec::new();
        write_mermaid(r, session, &mut v).unwrap();
        String::from_utf8(v).unwrap()
    }

    fn is_arrow(l: &str) -> bool {
        let l = l.trim_start();
        !l.starts_with("Note") && ["-)", "->>", "-->>"].iter().any(|a| l.contains(a))
    }

    #[test]
    fn documented_session() {
        let r = documented_report();
        let out = render(&r, None);
        assert!(
            out.starts_with(
                "## FTP session 1: 192.168.0.2:1175 → 192.168.0.1:21\n\n```mermaid\nsequenceDiagram\n"
            ),
            "{out}"
        );
        assert!(out.ends_with("\n```\n"), "{out}");
        for want in [
            "    participant C as Client 192.168.0.2:1175\n",
            "    participant D1C as Client:5001 (data:1)\n",
            "    participant D2C as Client:5002 (data:2)\n",
            "    participant D2S as Server:20 (data:2)\n",
            "    participant D1S as Server:20 (data:1)\n",
            "    participant S as Server 192.168.0.1:21\n",
            "    C-)S: SYN\n",
            "    S-)C: SYN+ACK\n",
            "    S-->>C: 220 ANY-DOMAIN.COM FTP Service\n",
            "    C->>S: USER ftp\n",
            "    C->>S: PASS #60;hidden#62;\n",
            "    S-->>C: 230-Welcome to ftp.any-domain.com<br/>230 Anonymous user logged in.\n",
            "    C->>S: PORT 192,168,0,2,19,137\n    Note over C: 192.168.0.2:5001\n",
            "    D1S-)D1C: SYN\n",
            "    D1C-)D1S: SYN+ACK\n",
            "    D2S->>D2C: DATA 1715 bytes in 2 segments\n",
            "    C->>S: RETR readme.txt\n",
            "    S-)C: FIN+ACK\n",
        ] {
            assert!(out.contains(want), "missing {want:?} in\n{out}");
        }
        // One arrow per event, in order.
        let arrows: Vec<&str> = out.lines().filter(|l| is_arrow(l)).collect();
        let events = &r.sessions[0].timeline;
        assert_eq!(arrows.len(), events.len());
        for (a, e) in arrows.iter().zip(events) {
            let first = e
                .what
                .split('\n')
                .next()
                .unwrap()
                .replace('<', "#60;")
                .replace('>', "#62;");
            assert!(a.contains(&first), "{a} vs {}", e.what);
        }
    }

    #[test]
    fn no_lane_for_a_data_connection_not_in_the_capture() {
        let mut r = documented_report();
        let mut t = r.sessions[0].transfers[1].clone();
        t.data = crate::model::DataCapture::NotCaptured;
        t.data_server.port = 6001;
        r.sessions[0].transfers.push(t);
        let out = render(&r, None);
        assert!(out.contains("(data:2)"), "{out}");
        assert!(!out.contains("(data:3)"), "{out}");
    }

    #[test]
    fn escaping() {
        assert_eq!(
            escape_mermaid("a;b#c\"d<e>f&g%h"),
            "a#59;b#35;c#34;d#60;e#62;f#38;g#37;h"
        );
        assert_eq!(escape_mermaid("\x1b[2J\r"), "\\x1b[2J\\r");
        assert_eq!(
            escape_mermaid(&"x".repeat(500)).chars().count(),
            MAX_TEXT + 1
        );
        let out = render(&example_report(), Some(2));
        assert!(
            out.contains("    C->>S: USER \\x1b[2J\\x1b[31mroot\n"),
            "{out}"
        );
        assert!(out.contains(
            "    Note over C,S: ⚠ malformed_reply: not an FTP reply: #34;#60;script#62;alert(1)#60;/script#62;\\x07#34;\n"
        ));
        let out3 = render(&example_report(), Some(3));
        assert!(
            out3.contains("    C->>S: STOR backup#59;#35;1.tar.gz\n"),
            "{out3}"
        );
        assert!(
            out3.contains("    Note over S: [2001:db8::1]:50000\n"),
            "{out3}"
        );
        // Nothing raw that Mermaid's line parser would stop at.
        for l in out.lines().chain(out3.lines()).skip(1) {
            let text = l.split_once(": ").map_or(l, |x| x.1);
            let body = strip_entities(&text.replace("<br/>", ""));
            assert!(!body.contains(['"', '<', '>', ';', '#']), "{l}");
        }
    }

    /// Remove `#123;` entity codes.
    fn strip_entities(s: &str) -> String {
        let mut out = String::new();
        let mut rest = s;
        while let Some(i) = rest.find('#') {
            out.push_str(&rest[..i]);
            let after = &rest[i + 1..];
            let digits = after.chars().take_while(char::is_ascii_digit).count();
            if digits > 0 && after[digits..].starts_with(';') {
                rest = &after[digits + 1..];
            } else {
                out.push('#');
                rest = after;
            }
        }
        out.push_str(rest);
        out
    }

    /// One, several or no sessions: the same shape (heading, blank line, fenced block).
    #[test]
    fn one_shape_whatever_the_number_of_sessions() {
        fn blocks(out: &str) -> usize {
            assert!(out.starts_with("## "), "{out}");
            assert!(out.ends_with("\n```\n"), "{out}");
            let n = out.matches("\n\n```mermaid\nsequenceDiagram\n").count();
            assert_eq!(out.matches("\n```\n").count(), n, "{out}");
            assert_eq!(out.matches("sequenceDiagram").count(), n, "{out}");
            assert_eq!(out.lines().filter(|l| l.starts_with("## ")).count(), n);
            n
        }
        let several = render(&example_report(), None);
        assert!(several.starts_with(
            "## FTP session 1: 192.168.0.2:1175 → 192.168.0.1:21\n\n```mermaid\nsequenceDiagram\n"
        ));
        assert_eq!(blocks(&several), 3);
        assert_eq!(blocks(&render(&example_report(), Some(2))), 1);
        assert_eq!(blocks(&render(&documented_report(), None)), 1);
        let empty = render(&empty_report(), None);
        assert_eq!(blocks(&empty), 1);
        assert!(empty.contains("no FTP sessions found"));
    }
}
