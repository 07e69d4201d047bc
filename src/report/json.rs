//! JSON and JSONL output of the model (SPEC.md `ftptrace/1`).
//!
//! Everything is serialized into a reused buffer with static dispatch and handed to the
//! output in one `write_all` per session (serde_json writing token by token through a
//! `&mut dyn Write` was a fifth of the time of a report of many short sessions).

use crate::model::{Report, Session};
use serde::Serialize;
use serde_json::ser::Formatter;
use std::cell::RefCell;
use std::io::{self, Write};

/// Largest buffer kept for reuse between sessions (a larger one is freed after use).
const MAX_KEPT_BUFFER: usize = 4 << 20;

thread_local! {
    static BUF: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
}

/// Run `f` with this thread's reusable buffer (empty), then write what it holds to `out`.
pub(crate) fn buffered(
    out: &mut dyn Write,
    f: impl FnOnce(&mut Vec<u8>) -> io::Result<()>,
) -> io::Result<()> {
    BUF.with(|b| {
        let mut taken = b.try_borrow_mut().ok();
        let mut own = Vec::new();
        let buf = taken.as_deref_mut().unwrap_or(&mut own);
        buf.clear();
        let r = f(buf).and_then(|_| out.write_all(buf));
        if buf.capacity() > MAX_KEPT_BUFFER {
            *buf = Vec::new();
        }
        r
    })
}

/// serde_json's `PrettyFormatter` (two spaces) starting at a given depth, so that a part
/// of a pretty document can be serialized on its own, byte for byte as in the whole.
pub(crate) struct Indented {
    level: usize,
    has_value: bool,
}

impl Indented {
    pub(crate) fn at(level: usize) -> Self {
        Indented {
            level,
            has_value: false,
        }
    }
}

fn indent<W: ?Sized + Write>(w: &mut W, n: usize) -> io::Result<()> {
    const SPACES: &[u8] = &[b' '; 64];
    let mut left = n * 2;
    while left > 0 {
        let k = left.min(SPACES.len());
        w.write_all(&SPACES[..k])?;
        left -= k;
    }
    Ok(())
}

impl Formatter for Indented {
    fn begin_array<W: ?Sized + Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.level += 1;
        self.has_value = false;
        w.write_all(b"[")
    }
    fn end_array<W: ?Sized + Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.level -= 1;
        if self.has_value {
            w.write_all(b"\n")?;
            indent(w, self.level)?;
        }
        w.write_all(b"]")
    }
    fn begin_array_value<W: ?Sized + Write>(&mut self, w: &mut W, first: bool) -> io::Result<()> {
        w.write_all(if first { b"\n" } else { b",\n" })?;
        indent(w, self.level)
    }
    fn end_array_value<W: ?Sized + Write>(&mut self, _w: &mut W) -> io::Result<()> {
        self.has_value = true;
        Ok(())
    }
    fn begin_object<W: ?Sized + Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.level += 1;
        self.has_value = false;
        w.write_all(b"{")
    }
    fn end_object<W: ?Sized + Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.level -= 1;
        if self.has_value {
            w.write_all(b"\n")?;
            indent(w, self.level)?;
        }
        w.write_all(b"}")
    }
    fn begin_object_key<W: ?Sized + Write>(&mut self, w: &mut W, first: bool) -> io::Result<()> {
        w.write_all(if first { b"\n" } else { b",\n" })?;
        indent(w, self.level)
    }
    fn begin_object_value<W: ?Sized + Write>(&mut self, w: &mut W) -> io::Result<()> {
        w.write_all(b": ")
    }
    fn end_object_value<W: ?Sized + Write>(&mut self, _w: &mut W) -> io::Result<()> {
        self.has_value = true;
        Ok(())
    }
}

/// `v` pretty-printed as if it stood at depth `level` of a document.
pub(crate) fn pretty_at<T: Serialize + ?Sized>(
    v: &T,
    level: usize,
    buf: &mut Vec<u8>,
) -> io::Result<()> {
    let mut ser = serde_json::Serializer::with_formatter(buf, Indented::at(level));
    v.serialize(&mut ser).map_err(io::Error::from)
}

/// The whole report as one JSON document written a session at a time: [`JsonDoc::begin`],
/// [`JsonDoc::session`] for each session in order, [`JsonDoc::end`] with the rest of the
/// report (its `sessions` are written too, after those given one by one). The bytes are
/// those of `serde_json::to_writer_pretty` of the whole report.
#[derive(Default)]
pub struct JsonDoc {
    sessions: u64,
}

/// How the pretty document of a report starts, up to its first session.
const HEAD: &[u8] = b"{\n  \"schema\": ";
const SESSIONS_KEY: &[u8] = b",\n  \"sessions\": [";

impl JsonDoc {
    /// The document's opening, up to its list of sessions.
    pub fn begin(&mut self, schema: &str, out: &mut dyn Write) -> io::Result<()> {
        buffered(out, |b| {
            b.extend_from_slice(HEAD);
            serde_json::to_writer(&mut *b, schema).map_err(io::Error::from)?;
            b.extend_from_slice(SESSIONS_KEY);
            Ok(())
        })
    }

    /// The next session of the list.
    pub fn session(&mut self, s: &Session, out: &mut dyn Write) -> io::Result<()> {
        let first = self.sessions == 0;
        self.sessions += 1;
        buffered(out, |b| {
            b.extend_from_slice(if first { b"\n    " } else { b",\n    " });
            pretty_at(s, 2, b)
        })
    }

    /// The rest of the document after the sessions written one by one: the report's own
    /// `sessions` (if any) follow them; then everything else, and a newline.
    pub fn end(mut self, r: &Report, out: &mut dyn Write) -> io::Result<()> {
        for s in &r.sessions {
            self.session(s, out)?;
        }
        out.write_all(if self.sessions > 0 { b"\n  ]" } else { b"]" })?;
        // The report's pretty form without its opening up to `"sessions": [`, `]`.
        let rest = r.without_sessions();
        let mut skip = Vec::with_capacity(64);
        skip.extend_from_slice(HEAD);
        serde_json::to_writer(&mut skip, r.schema).map_err(io::Error::from)?;
        skip.extend_from_slice(SESSIONS_KEY);
        skip.push(b']');
        let mut w = Chunked::new(out);
        w.skip = skip;
        serde_json::to_writer_pretty(&mut w, &rest).map_err(io::Error::from)?;
        w.buf.push(b'\n');
        w.flush_buf()
    }
}

/// Bytes gathered before they go to the output.
const CHUNK: usize = 64 << 10;

/// A writer that gathers serde_json's small writes (static dispatch) and hands them to
/// the output in chunks; it can first drop an expected prefix.
struct Chunked<'a> {
    out: &'a mut dyn Write,
    buf: Vec<u8>,
    /// A prefix still to be dropped (checked: the bytes must be these).
    skip: Vec<u8>,
    skipped: usize,
}

impl<'a> Chunked<'a> {
    fn new(out: &'a mut dyn Write) -> Self {
        Chunked {
            out,
            buf: Vec::with_capacity(CHUNK + 1024),
            skip: Vec::new(),
            skipped: 0,
        }
    }
    fn flush_buf(&mut self) -> io::Result<()> {
        let r = self.out.write_all(&self.buf);
        self.buf.clear();
        r
    }
}

impl Write for Chunked<'_> {
    #[inline]
    fn write(&mut self, b: &[u8]) -> io::Result<usize> {
        self.write_all(b)?;
        Ok(b.len())
    }
    #[inline]
    fn write_all(&mut self, mut b: &[u8]) -> io::Result<()> {
        if self.skipped < self.skip.len() {
            let n = b.len().min(self.skip.len() - self.skipped);
            if b[..n] != self.skip[self.skipped..self.skipped + n] {
                return Err(io::Error::other("JSON document: unexpected opening"));
            }
            self.skipped += n;
            b = &b[n..];
        }
        self.buf.extend_from_slice(b);
        if self.buf.len() >= CHUNK {
            self.flush_buf()?;
        }
        Ok(())
    }
    fn flush(&mut self) -> io::Result<()> {
        self.flush_buf()?;
        self.out.flush()
    }
}

/// The whole report as one JSON document (pretty-printed), followed by a newline.
pub fn write_json(r: &Report, out: &mut dyn Write) -> io::Result<()> {
    let mut doc = JsonDoc::default();
    doc.begin(r.schema, out)?;
    doc.end(r, out)
}

/// One session as one line (JSONL).
pub fn write_session_line(s: &Session, out: &mut dyn Write) -> io::Result<()> {
    buffered(out, |b| {
        serde_json::to_writer(&mut *b, s).map_err(io::Error::from)?;
        b.push(b'\n');
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn document_matches_serde_pretty() {
        for r in [
            crate::report::testdata::documented_report(),
            crate::report::testdata::example_report(),
            crate::report::testdata::empty_report(),
        ] {
            let mut want = Vec::new();
            serde_json::to_writer_pretty(&mut want, &r).unwrap();
            want.push(b'\n');
            let mut got = Vec::new();
            write_json(&r, &mut got).unwrap();
            assert_eq!(
                String::from_utf8(got).unwrap(),
                String::from_utf8(want.clone()).unwrap()
            );
            // Streamed: some sessions one by one, the rest with the report.
            let mut got = Vec::new();
            let mut doc = JsonDoc::default();
            doc.begin(r.schema, &mut got).unwrap();
            let k = r.sessions.len() / 2;
            for s in &r.sessions[..k] {
                doc.session(s, &mut got).unwrap();
            }
            let mut rest = r.without_sessions();
            rest.sessions = r.sessions[k..].to_vec();
            doc.end(&rest, &mut got).unwrap();
            assert_eq!(got, want);
            let mut got = Vec::new();
            let mut doc = JsonDoc::default();
            doc.begin(r.schema, &mut got).unwrap();
            for s in &r.sessions {
                doc.session(s, &mut got).unwrap();
            }
            doc.end(&r.without_sessions(), &mut got).unwrap();
            let mut want = Vec::new();
            serde_json::to_writer_pretty(&mut want, &r).unwrap();
            want.push(b'\n');
            assert_eq!(got, want);
        }
    }
}
