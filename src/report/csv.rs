//! `--format csv`: one row per transfer with a header (RFC 4180: comma-separated, fields
//! quoted when they hold a comma, quote, CR or LF, quotes doubled, CRLF line ends).

use crate::model::{Report, Session, Transfer};
use serde::Serialize;
use std::io::{self, Write};

/// The columns, in order.
pub const COLUMNS: [&str; 27] = [
    "session",
    "transfer",
    "client",
    "server",
    "user",
    "command",
    "arg",
    "path",
    "direction",
    "mode",
    "setup",
    "data_client",
    "data_server",
    "start",
    "end",
    "data",
    "match",
    "bytes",
    "captured_bytes",
    "missing_bytes",
    "expected_bytes",
    "rest",
    "status",
    "reply_code",
    "sha256",
    "extracted",
    "matched",
];

/// One field, quoted when it must be.
fn field(s: &str) -> String {
    if s.contains([',', '"', '\r', '\n']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

fn opt<T: ToString>(v: Option<T>) -> String {
    v.map(|x| x.to_string()).unwrap_or_default()
}

/// A serde enum's wire name (`"not_captured"`), as in the JSON.
fn name<T: Serialize>(v: &T) -> String {
    serde_json::to_value(v)
        .ok()
        .and_then(|v| v.as_str().map(String::from))
        .unwrap_or_default()
}

fn endpoint(e: &crate::model::Endpoint) -> String {
    super::human::endpoint(e)
}

fn row(s: &Session, i: usize, t: &Transfer) -> Vec<String> {
    vec![
        s.id.to_string(),
        (i + 1).to_string(),
        endpoint(&s.client),
        endpoint(&s.server),
        s.user.clone().unwrap_or_default(),
        t.command.clone(),
        t.arg.clone(),
        t.path.clone().unwrap_or_default(),
        name(&t.direction),
        name(&t.mode),
        t.setup.to_string(),
        endpoint(&t.data_client),
        endpoint(&t.data_server),
        t.start.to_string(),
        t.end.to_string(),
        name(&t.data),
        name(&t.match_),
        opt(t.bytes),
        opt(t.captured_bytes),
        opt(t.missing_bytes),
        opt(t.expected_bytes),
        opt(t.rest),
        name(&t.status),
        opt(t.reply_code),
        t.sha256.clone().unwrap_or_default(),
        t.extracted.clone().unwrap_or_default(),
        t.matched.to_string(),
    ]
}

fn write_row(cells: &[String], out: &mut dyn Write) -> io::Result<()> {
    let line: Vec<String> = cells.iter().map(|c| field(c)).collect();
    out.write_all(line.join(",").as_bytes())?;
    out.write_all(b"\r\n")
}

/// The header line.
pub fn write_header(out: &mut dyn Write) -> io::Result<()> {
    let h: Vec<String> = COLUMNS.iter().map(|c| c.to_string()).collect();
    write_row(&h, out)
}

/// One session's rows.
pub fn write_session(s: &Session, out: &mut dyn Write) -> io::Result<()> {
    for (i, t) in s.transfers.iter().enumerate() {
        write_row(&row(s, i, t), out)?;
    }
    Ok(())
}

/// The header and every transfer of the report.
pub fn write_csv(r: &Report, out: &mut dyn Write) -> io::Result<()> {
    write_header(out)?;
    for s in &r.sessions {
        write_session(s, out)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::testdata::{documented_report, example_report};

    #[test]
    fn quoting() {
        assert_eq!(field("plain"), "plain");
        assert_eq!(field("a,b"), "\"a,b\"");
        assert_eq!(field("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(field("two\r\nlines"), "\"two\r\nlines\"");
    }

    #[test]
    fn one_row_per_transfer_with_a_header() {
        let r = documented_report();
        let mut buf = Vec::new();
        write_csv(&r, &mut buf).unwrap();
        let text = String::from_utf8(buf).unwrap();
        let lines: Vec<&str> = text.split("\r\n").filter(|l| !l.is_empty()).collect();
        let n: usize = r.sessions.iter().map(|s| s.transfers.len()).sum();
        assert_eq!(lines.len(), n + 1);
        assert!(lines[0].starts_with("session,transfer,client,server,user,command"));
        assert_eq!(lines[1].split(',').count(), COLUMNS.len());
        // A hostile wire string stays one field.
        let mut buf = Vec::new();
        write_csv(&example_report(), &mut buf).unwrap();
        let text = String::from_utf8(buf).unwrap();
        for l in text
            .split("\r\n")
            .filter(|l| !l.is_empty() && !l.contains('"'))
        {
            assert_eq!(l.split(',').count(), COLUMNS.len(), "{l}");
        }
    }
}
