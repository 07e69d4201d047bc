//! Zeek's `ftp.log`, as Zeek writes it: the TSV log with its `#fields`/`#types` header
//! (`--format zeek`) and Zeek's JSON log lines (`--format zeek-json`).
//!
//! One row per logged command with Zeek's default `FTP::logged_commands` (APPE, DELE,
//! RETR, STOR, STOU, ACCT, PORT, PASV, EPRT, EPSV), its `arg` conventions (a URL
//! `ftp://host/cwd/arg` for the file commands, with Zeek's own working directory that
//! starts at "." and follows CWD/CDUP), and the data channel of PORT/PASV/EPRT/EPSV.
//! Where ftptrace deliberately differs from Zeek: passwords follow ftptrace's rule
//! (`<hidden>` unless `--show-passwords`, anonymous ones included), `mime_type` is not
//! guessed (`-`), and `uid`/`fuid` are derived from the session, not random.

use super::{push_decimal, push_ip};
use crate::ftp::parse;
use crate::model::{Command, Report, Session, Time, Transfer};
use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};
use std::io::{self, Write};
use std::net::{IpAddr, SocketAddr};

/// Zeek's default `FTP::logged_commands`.
pub const LOGGED_COMMANDS: [&str; 10] = [
    "APPE", "DELE", "RETR", "STOR", "STOU", "ACCT", "PORT", "PASV", "EPRT", "EPSV",
];
/// Commands whose `arg` Zeek logs as a URL (`FTP::file_cmds`).
const FILE_COMMANDS: [&str; 4] = ["APPE", "RETR", "STOR", "STOU"];

const FIELDS: [&str; 19] = [
    "ts",
    "uid",
    "id.orig_h",
    "id.orig_p",
    "id.resp_h",
    "id.resp_p",
    "user",
    "password",
    "command",
    "arg",
    "mime_type",
    "file_size",
    "reply_code",
    "reply_msg",
    "data_channel.passive",
    "data_channel.orig_h",
    "data_channel.resp_h",
    "data_channel.resp_p",
    "fuid",
];
const TYPES: [&str; 19] = [
    "time", "string", "addr", "port", "addr", "port", "string", "string", "string", "string",
    "string", "count", "count", "string", "bool", "addr", "addr", "port", "string",
];

/// A field value of one row.
#[derive(Debug, Clone, PartialEq)]
pub enum Field {
    Unset,
    Str(String),
    Count(u64),
    Bool(bool),
    Addr(IpAddr),
    Time(Time),
}

/// One `ftp.log` row, fields in [`FIELDS`] order.
pub type Row = Vec<Field>;

/// Zeek's `compress_path`: `//` and `/./` collapse, `x/..` goes; a leading `./` stays.
pub fn compress_path(p: &str) -> String {
    let absolute = p.starts_with('/');
    let mut out: Vec<&str> = Vec::new();
    for (i, seg) in p.split('/').enumerate() {
        match seg {
            "" => {}
            "." if i == 0 => out.push("."),
            "." => {}
            ".." => match out.last() {
                Some(&last) if last != ".." && last != "." => {
                    out.pop();
                }
                _ if absolute => {}
                _ => out.push(".."),
            },
            s => out.push(s),
        }
    }
    let joined = out.join("/");
    if absolute {
        format!("/{joined}")
    } else {
        joined
    }
}

/// Zeek's `build_path_compressed(dir, file)`.
pub fn build_path_compressed(dir: &str, file: &str) -> String {
    if file.starts_with('/') || dir.is_empty() {
        compress_path(file)
    } else {
        compress_path(&format!("{dir}/{file}"))
    }
}

fn url(server: IpAddr, cwd: &str, arg: &str) -> String {
    let mut path = build_path_compressed(cwd, arg);
    if !path.starts_with('/') {
        path.insert(0, '/');
    }
    let mut url = String::with_capacity(path.len() + 48);
    url.push_str("ftp://");
    match server {
        IpAddr::V6(_) => {
            url.push('[');
            push_ip(&mut url, server);
            url.push(']');
        }
        IpAddr::V4(_) => push_ip(&mut url, server),
    }
    url.push_str(&path);
    url
}

/// A short id like Zeek's (`C` + 17 base62 characters), derived from `seed`.
fn zeek_id(prefix: char, seed: &str) -> String {
    const B62: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    let d = Sha256::digest(seed.as_bytes());
    let mut n = u128::from_be_bytes(d[..16].try_into().unwrap_or([0; 16]));
    let mut s = String::with_capacity(18);
    s.push(prefix);
    for _ in 0..17 {
        s.push(B62[(n % 62) as usize] as char);
        n /= 62;
    }
    s
}

/// The connection uid of a session.
pub fn session_uid(s: &Session) -> String {
    // "{id}|{client ip}|{client port}|{server ip}|{server port}"
    let mut seed = String::with_capacity(96);
    push_decimal(&mut seed, s.id, 1);
    for e in [&s.client, &s.server] {
        seed.push('|');
        push_ip(&mut seed, e.ip);
        seed.push('|');
        push_decimal(&mut seed, e.port.into(), 1);
    }
    zeek_id('C', &seed)
}

fn last_line(text: &str) -> &str {
    text.rsplit('\n').next().unwrap_or(text)
}

/// The data channel a PORT/PASV/EPRT/EPSV row announces: (passive, orig_h, resp_h, resp_p).
fn data_channel(s: &Session, c: &Command) -> Option<(bool, IpAddr, IpAddr, u16)> {
    let reply = c.replies.last()?;
    let (client, server) = (s.client.ip, s.server.ip);
    let arg = c.arg.as_bytes();
    let text = reply.text.as_bytes();
    match c.command.as_str() {
        "PORT" if (200..300).contains(&reply.code) => {
            let a = parse::parse_port(arg)?;
            Some((false, server, IpAddr::V4(*a.ip()), a.port()))
        }
        "EPRT" if (200..300).contains(&reply.code) => {
            let a: SocketAddr = parse::parse_eprt(arg)?;
            Some((false, server, a.ip(), a.port()))
        }
        "PASV" | "EPSV" => {
            if let Some(a) = parse::parse_pasv_reply(text).filter(|_| reply.code == 227) {
                return Some((true, client, IpAddr::V4(*a.ip()), a.port()));
            }
            let p = parse::parse_epsv_reply(text).filter(|_| reply.code == 229)?;
            Some((true, client, server, p))
        }
        _ => None,
    }
}

/// The rows of one session, in command order.
pub fn session_rows(s: &Session) -> Vec<Row> {
    let uid = session_uid(s);
    let mut rows = Vec::new();
    let mut cwd = ".".to_string();
    let mut user: Option<&str> = None;
    let mut password: Option<&str> = None;
    // Data commands take the session's transfers in order.
    let mut transfers: Vec<(usize, &Transfer)> = s.transfers.iter().enumerate().collect();
    for c in &s.commands {
        let reply = c.replies.last();
        let code = reply.map(|r| r.code);
        match c.command.as_str() {
            "USER" => user = Some(&c.arg),
            "PASS" => password = Some(&c.arg),
            _ => {}
        }
        let transfer = if FILE_COMMANDS.contains(&c.command.as_str()) || c.command == "LIST" {
            transfers
                .iter()
                .position(|(_, t)| t.command == c.command && t.arg == c.arg)
                .map(|i| transfers.remove(i))
        } else {
            None
        };
        if LOGGED_COMMANDS.contains(&c.command.as_str()) && reply.is_some() {
            let arg = if FILE_COMMANDS.contains(&c.command.as_str()) {
                Field::Str(url(s.server.ip, &cwd, &c.arg))
            } else if c.arg.is_empty() {
                Field::Unset
            } else {
                Field::Str(c.arg.clone())
            };
            // What the server announced (150 "(N bytes)"), else what moved.
            let announced = c
                .replies
                .iter()
                .find(|r| r.code == 150 || r.code == 125)
                .and_then(|r| parse::parse_transfer_size(r.text.as_bytes()));
            let file_size = announced
                .or(transfer.and_then(|(_, t)| t.expected_bytes.or(t.bytes)))
                .filter(|_| FILE_COMMANDS.contains(&c.command.as_str()))
                .map_or(Field::Unset, Field::Count);
            let fuid = match transfer {
                Some((i, t)) if t.bytes.is_some_and(|b| b > 0) => {
                    let mut seed = String::with_capacity(uid.len() + 8);
                    seed.push_str(&uid);
                    seed.push('|');
                    push_decimal(&mut seed, i as u64, 1);
                    Field::Str(zeek_id('F', &seed))
                }
                _ => Field::Unset,
            };
            let dc = data_channel(s, c);
            let opt = |v: Option<&str>| v.map_or(Field::Unset, |x| Field::Str(x.to_string()));
            rows.push(vec![
                Field::Time(c.ts),
                Field::Str(uid.clone()),
                Field::Addr(s.client.ip),
                Field::Count(s.client.port.into()),
                Field::Addr(s.server.ip),
                Field::Count(s.server.port.into()),
                opt(user),
                opt(password),
                Field::Str(c.command.clone()),
                arg,
                Field::Unset,
                file_size,
                code.map_or(Field::Unset, |c| Field::Count(c.into())),
                reply.map_or(Field::Unset, |r| Field::Str(last_line(&r.text).to_string())),
                dc.map_or(Field::Unset, |d| Field::Bool(d.0)),
                dc.map_or(Field::Unset, |d| Field::Addr(d.1)),
                dc.map_or(Field::Unset, |d| Field::Addr(d.2)),
                dc.map_or(Field::Unset, |d| Field::Count(d.3.into())),
                fuid,
            ]);
        }
        // Zeek's working directory: the path a 257 names, CWD with a 250, CDUP with a 2xx.
        match (c.command.as_str(), code) {
            ("PWD" | "XPWD", Some(257)) => {
                if let Some(p) = reply.and_then(|r| parse::parse_257_path(r.text.as_bytes())) {
                    cwd = p;
                }
            }
            ("CWD", Some(250)) => cwd = build_path_compressed(&cwd, &c.arg),
            ("CDUP", Some(200..=299)) => cwd = build_path_compressed(&cwd, ".."),
            _ => {}
        }
    }
    rows
}

fn epoch_into(t: Time, out: &mut String) {
    let n = t.ts.0;
    let secs = n.div_euclid(1_000_000_000);
    if secs < 0 {
        out.push('-');
    }
    push_decimal(out, secs.unsigned_abs(), 1);
    out.push('.');
    push_decimal(out, (n.rem_euclid(1_000_000_000) / 1000) as u64, 6);
}

#[cfg(test)]
fn tsv(s: &str) -> String {
    let mut out = String::new();
    tsv_into(s, &mut out);
    out
}

/// Zeek's TSV escaping, appended to `out`: the separator, `\` and non-printable bytes
/// as `\xNN`; the empty string as `(empty)`.
fn tsv_into(s: &str, out: &mut String) {
    use std::fmt::Write as _;
    if s.is_empty() {
        out.push_str("(empty)");
        return;
    }
    // Nothing to escape (no tab, `\`, C0/DEL, nor a C1 control, which starts with 0xC2):
    // the text as it is.
    if !s
        .bytes()
        .any(|b| b < 0x20 || b == 0x7f || b == b'\\' || b == 0xc2)
    {
        out.push_str(s);
        return;
    }
    for ch in s.chars() {
        match ch {
            '\t' | '\\' => {
                let _ = write!(out, "\\x{:02x}", ch as u32);
            }
            c if c.is_control() => {
                let mut b = [0u8; 4];
                for byte in c.encode_utf8(&mut b).bytes() {
                    let _ = write!(out, "\\x{byte:02x}");
                }
            }
            c => out.push(c),
        }
    }
}

fn tsv_field_into(f: &Field, out: &mut String) {
    match f {
        Field::Unset => out.push('-'),
        Field::Str(s) => tsv_into(s, out),
        Field::Count(n) => push_decimal(out, *n, 1),
        Field::Bool(b) => out.push(if *b { 'T' } else { 'F' }),
        Field::Addr(a) => push_ip(out, *a),
        Field::Time(t) => epoch_into(*t, out),
    }
}

fn open_stamp(r: &Report) -> String {
    stamp_of(r.sessions.iter().map(|s| s.start).min().unwrap_or_default())
}

fn stamp_of(first: Time) -> String {
    let s = first.to_string();
    // 2012-09-01T10:20:30.123Z → 2012-09-01-10-20-30
    s.get(..19).unwrap_or("").replace(['T', ':'], "-")
}

fn write_header(stamp: &str, out: &mut dyn Write) -> io::Result<()> {
    writeln!(out, "#separator \\x09")?;
    writeln!(out, "#set_separator\t,")?;
    writeln!(out, "#empty_field\t(empty)")?;
    writeln!(out, "#unset_field\t-")?;
    writeln!(out, "#path\tftp")?;
    writeln!(out, "#open\t{stamp}")?;
    writeln!(out, "#fields\t{}", FIELDS.join("\t"))?;
    writeln!(out, "#types\t{}", TYPES.join("\t"))
}

fn row_time(row: &Row) -> Time {
    match row.first() {
        Some(Field::Time(t)) => *t,
        _ => Time::default(),
    }
}

fn row_line(row: &Row) -> String {
    let mut line = String::with_capacity(256);
    for (i, f) in row.iter().enumerate() {
        if i > 0 {
            line.push('\t');
        }
        tsv_field_into(f, &mut line);
    }
    line
}

/// Write `ftp.log` (TSV) for the report's sessions.
pub fn write_zeek(r: &Report, out: &mut dyn Write) -> io::Result<()> {
    let stamp = open_stamp(r);
    write_header(&stamp, out)?;
    let mut rows: Vec<Row> = r.sessions.iter().flat_map(session_rows).collect();
    rows.sort_by_key(row_time);
    for row in rows {
        writeln!(out, "{}", row_line(&row))?;
    }
    writeln!(out, "#close\t{stamp}")
}

/// Most rows [`ZeekStream`] holds back for time order; beyond it the earliest is written
/// at once, before an earlier row may still come (counted: [`ZeekStream::forced`]).
pub const MAX_HELD_ROWS: usize = 65_536;

/// `ftp.log` (TSV) written as sessions come (in id order, each with a floor: a time no
/// later session starts before): rows are held until no session still to come can have
/// an earlier one, so the log is [`write_zeek`]'s, row for row, in bounded memory.
#[derive(Debug, Default)]
pub struct ZeekStream {
    /// The header is written (with the stamp known then).
    started: bool,
    /// The earliest session start seen.
    first: Option<Time>,
    /// Rows by (time, session id, row of the session): the whole log's order.
    rows: std::collections::BTreeMap<(Time, u64, usize), String>,
    /// The key of the last row written.
    last: Option<(Time, u64, usize)>,
    forced: u64,
}

impl ZeekStream {
    pub fn new() -> Self {
        Self::default()
    }

    /// Rows written at the bound before an earlier row could still come, and rows that
    /// came after a later one was written.
    pub fn forced(&self) -> u64 {
        self.forced
    }

    /// The next session (ids ascending); no session after it starts before `floor`.
    pub fn session(
        &mut self,
        s: &Session,
        floor: crate::capture::Timestamp,
        out: &mut dyn Write,
    ) -> io::Result<()> {
        self.add(s);
        self.flush(Some(floor), out)
    }

    fn add(&mut self, s: &Session) {
        if self.first.is_none_or(|f| s.start < f) {
            self.first = Some(s.start);
        }
        for (i, row) in session_rows(s).iter().enumerate() {
            let key = (row_time(row), s.id, i);
            if self.last.is_some_and(|l| key < l) {
                self.forced += 1;
            }
            self.rows.insert(key, row_line(row));
        }
    }

    /// Write the rows earlier than `floor` (all of them: `None`), and beyond the bound the
    /// earliest.
    fn flush(
        &mut self,
        floor: Option<crate::capture::Timestamp>,
        out: &mut dyn Write,
    ) -> io::Result<()> {
        let mut buf = Vec::new();
        loop {
            let held = self.rows.len();
            let Some(e) = self.rows.first_entry() else {
                break;
            };
            let ready = floor.is_none_or(|f| e.key().0.ts < f);
            if !ready && held <= MAX_HELD_ROWS {
                break;
            }
            if !ready {
                self.forced += 1;
            }
            if !self.started {
                self.started = true;
                write_header(&stamp_of(self.first.unwrap_or_default()), &mut buf)?;
            }
            self.last = Some(*e.key());
            buf.extend_from_slice(e.remove().as_bytes());
            buf.push(b'\n');
        }
        out.write_all(&buf)
    }

    /// The sessions the report still holds, the rows held, and the log's close.
    pub fn finish(&mut self, r: &Report, out: &mut dyn Write) -> io::Result<()> {
        for s in &r.sessions {
            self.add(s);
        }
        self.flush(None, out)?;
        let stamp = stamp_of(self.first.unwrap_or_default());
        if !self.started {
            self.started = true;
            write_header(&stamp, out)?;
        }
        writeln!(out, "#close\t{stamp}")
    }
}

/// One session's rows as Zeek's JSON log lines (unset fields left out, `ts` in epoch seconds).
pub fn write_zeek_json_session(s: &Session, out: &mut dyn Write) -> io::Result<()> {
    super::json::buffered(out, |b| write_zeek_json_rows(s, b))
}

fn write_zeek_json_rows(s: &Session, out: &mut Vec<u8>) -> io::Result<()> {
    for row in session_rows(s) {
        let mut m = Map::new();
        for (name, f) in FIELDS.iter().zip(row) {
            let v = match f {
                Field::Unset => continue,
                Field::Str(s) => Value::String(s),
                Field::Count(n) => json!(n),
                Field::Bool(b) => json!(b),
                Field::Addr(a) => Value::String(a.to_string()),
                Field::Time(t) => json!(t.ts.0 as f64 / 1e9),
            };
            m.insert((*name).to_string(), v);
        }
        serde_json::to_writer(&mut *out, &Value::Object(m))?;
        out.write_all(b"\n")?;
    }
    Ok(())
}

/// Zeek's JSON `ftp.log` for the report's sessions.
pub fn write_zeek_json(r: &Report, out: &mut dyn Write) -> io::Result<()> {
    for s in &r.sessions {
        write_zeek_json_session(s, out)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Three copies of the documented session, 1 ms apart: their rows interleave.
    fn overlapping() -> Report {
        let mut r = crate::report::testdata::documented_report();
        let one = r.sessions[0].clone();
        r.sessions.clear();
        for i in 0..3u64 {
            let mut s = one.clone();
            s.id = i + 1;
            s.client.port += i as u16;
            let shift = i as i64 * 1_000_000;
            s.start.ts.0 += shift;
            s.end.ts.0 += shift;
            for c in s.commands.iter_mut() {
                c.ts.ts.0 += shift;
            }
            r.sessions.push(s);
        }
        r
    }

    fn streamed(r: &Report, floor: impl Fn(usize) -> crate::capture::Timestamp) -> (String, u64) {
        let mut z = ZeekStream::new();
        let mut out = Vec::new();
        for (i, s) in r.sessions.iter().enumerate() {
            z.session(s, floor(i), &mut out).unwrap();
        }
        let mut rest = r.clone();
        rest.sessions.clear();
        z.finish(&rest, &mut out).unwrap();
        (String::from_utf8(out).unwrap(), z.forced())
    }

    #[test]
    fn the_stream_holds_rows_until_no_later_session_can_come_before_them() {
        let r = overlapping();
        let mut whole = Vec::new();
        write_zeek(&r, &mut whole).unwrap();
        let whole = String::from_utf8(whole).unwrap();
        // The floor: the start of the next session (none after the last).
        let starts: Vec<_> = r.sessions.iter().map(|s| s.start.ts).collect();
        let floor = |i: usize| {
            starts
                .get(i + 1)
                .copied()
                .unwrap_or(crate::capture::Timestamp(i64::MAX))
        };
        assert_eq!(streamed(&r, floor), (whole.clone(), 0));
        // Nothing known of later sessions: everything waits for the end.
        let none = |_| crate::capture::Timestamp(i64::MIN);
        assert_eq!(streamed(&r, none), (whole.clone(), 0));
        // A floor that was wrong: rows out of order, counted, never silent.
        let wrong = |_| crate::capture::Timestamp(i64::MAX);
        let (text, forced) = streamed(&r, wrong);
        assert_ne!(text, whole);
        assert!(forced > 0);
    }

    #[test]
    fn paths_compress_like_zeek() {
        assert_eq!(build_path_compressed(".", "robots.txt"), "./robots.txt");
        assert_eq!(build_path_compressed(".", "pub"), "./pub");
        assert_eq!(build_path_compressed("./pub", "../etc//x"), "./etc/x");
        assert_eq!(build_path_compressed("./pub", "/abs/./f"), "/abs/f");
        assert_eq!(build_path_compressed(".", ".."), "./..");
        assert_eq!(build_path_compressed("/", ".."), "/");
        assert_eq!(
            url("10.0.0.1".parse().unwrap(), ".", "robots.txt"),
            "ftp://10.0.0.1/./robots.txt"
        );
        assert_eq!(
            url("2001:db8::21".parse().unwrap(), "/", "robots.txt"),
            "ftp://[2001:db8::21]/robots.txt"
        );
    }

    #[test]
    fn ids_look_like_zeeks() {
        let a = zeek_id('C', "x");
        assert_eq!(a.len(), 18);
        assert!(a.starts_with('C') && a[1..].chars().all(|c| c.is_ascii_alphanumeric()));
        assert_eq!(a, zeek_id('C', "x"));
        assert_ne!(a, zeek_id('C', "y"));
    }

    #[test]
    fn tsv_escapes() {
        assert_eq!(tsv("a\tb\\c"), "a\\x09b\\x5cc");
        assert_eq!(tsv(""), "(empty)");
    }
}
