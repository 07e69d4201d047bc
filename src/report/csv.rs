//! `--format csv`: one row per transfer with a header (RFC 4180: comma-separated, fields
//! quoted when they hold a comma, quote, CR or LF, quotes doubled, CRLF line ends).

use super::{push_decimal, push_ip, Text as _};
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
#[cfg(test)]
fn field(s: &str) -> String {
    let mut b = Vec::new();
    b.extend_from_slice(s.as_bytes());
    quote_from(&mut b, 0);
    String::from_utf8(b).unwrap_or_default()
}

/// Quote the field that starts at `start` (the end of `b`) when it must be: in quotes,
/// its quotes doubled.
fn quote_from(b: &mut Vec<u8>, start: usize) {
    if !b[start..]
        .iter()
        .any(|c| matches!(c, b',' | b'"' | b'\r' | b'\n'))
    {
        return;
    }
    let raw = b.split_off(start);
    b.push(b'"');
    for &c in &raw {
        if c == b'"' {
            b.push(b'"');
        }
        b.push(c);
    }
    b.push(b'"');
}

/// A row being written into one buffer, field by field.
struct Row<'a> {
    b: &'a mut Vec<u8>,
    first: bool,
}

impl Row<'_> {
    /// Write one field with `f`, then quote it when it must be.
    fn cell(&mut self, f: impl FnOnce(&mut Vec<u8>)) {
        if !std::mem::take(&mut self.first) {
            self.b.push(b',');
        }
        let start = self.b.len();
        f(self.b);
        quote_from(self.b, start);
    }
    fn str(&mut self, s: &str) {
        self.cell(|b| b.extend_from_slice(s.as_bytes()));
    }
    fn display(&mut self, v: impl std::fmt::Display) {
        self.cell(|b| {
            let _ = write!(b, "{v}");
        });
    }
    /// A serde enum's wire name (`not_captured`), as in the JSON.
    fn name<T: Serialize>(&mut self, v: &T) {
        self.cell(|b| {
            let start = b.len();
            if serde_json::to_writer(&mut *b, v).is_err() {
                b.truncate(start);
                return;
            }
            // A string in quotes: keep what is inside (wire names need no escapes).
            if b.len() - start >= 2 && b[start] == b'"' && b[b.len() - 1] == b'"' {
                b.pop();
                b.remove(start);
            } else {
                b.truncate(start);
            }
        });
    }
    fn endpoint(&mut self, e: &crate::model::Endpoint) {
        self.cell(|b| match e.ip {
            // `a.b.c.d:port`, as `SocketAddr`'s Display writes it, without its machinery.
            std::net::IpAddr::V4(_) => {
                push_ip(b, e.ip);
                b.push(b':');
                push_decimal(b, e.port.into(), 1);
            }
            std::net::IpAddr::V6(_) => b.put_display(std::net::SocketAddr::new(e.ip, e.port)),
        });
    }
    fn num(&mut self, n: u64) {
        self.cell(|b| push_decimal(b, n, 1));
    }
    fn opt_num(&mut self, n: Option<u64>) {
        self.cell(|b| {
            if let Some(n) = n {
                push_decimal(b, n, 1);
            }
        });
    }
    fn time(&mut self, t: crate::model::Time) {
        self.cell(|b| b.extend_from_slice(t.rfc3339_bytes(&mut [0; crate::model::RFC3339_MAX])));
    }
}

fn write_row(s: &Session, i: usize, t: &Transfer, b: &mut Vec<u8>) {
    let mut r = Row { b, first: true };
    r.num(s.id);
    r.num(i as u64 + 1);
    r.endpoint(&s.client);
    r.endpoint(&s.server);
    r.str(s.user.as_deref().unwrap_or_default());
    r.str(&t.command);
    r.str(&t.arg);
    r.str(t.path.as_deref().unwrap_or_default());
    r.name(&t.direction);
    r.name(&t.mode);
    r.display(t.setup);
    r.endpoint(&t.data_client);
    r.endpoint(&t.data_server);
    r.time(t.start);
    r.time(t.end);
    r.name(&t.data);
    r.name(&t.match_);
    r.opt_num(t.bytes);
    r.opt_num(t.captured_bytes);
    r.opt_num(t.missing_bytes);
    r.opt_num(t.expected_bytes);
    r.opt_num(t.rest);
    r.name(&t.status);
    r.opt_num(t.reply_code.map(u64::from));
    r.str(t.sha256.as_deref().unwrap_or_default());
    r.str(t.extracted.as_deref().unwrap_or_default());
    r.display(t.matched);
    r.b.extend_from_slice(b"\r\n");
}

/// The header line.
pub fn write_header(out: &mut dyn Write) -> io::Result<()> {
    let mut b = Vec::new();
    let mut r = Row {
        b: &mut b,
        first: true,
    };
    for c in COLUMNS {
        r.str(c);
    }
    b.extend_from_slice(b"\r\n");
    out.write_all(&b)
}

/// One session's rows.
pub fn write_session(s: &Session, out: &mut dyn Write) -> io::Result<()> {
    super::json::buffered(out, |b| {
        for (i, t) in s.transfers.iter().enumerate() {
            write_row(s, i, t, b);
        }
        Ok(())
    })
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
