//! JSON and JSONL output of the model (SPEC.md `ftptrace/1`).

use crate::model::{Report, Session};
use serde::Serialize;
use std::cell::RefCell;
use std::io::{self, Write};

/// Largest buffer kept for reuse between sessions (a larger one is freed after use).
const MAX_KEPT_BUFFER: usize = 4 << 20;

/// Bytes gathered before they go to the output.
const CHUNK: usize = 64 << 10;

thread_local! {
    static BUF: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
}

/// Run `f` with this thread's reusable buffer (empty), then write what it holds to `out`
/// in one call: serde_json's many small writes go to a `Vec` (static dispatch), not
/// through `&mut dyn Write`.
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

/// A writer that gathers serde_json's small writes and hands them to the output in
/// chunks of [`CHUNK`] bytes.
struct Chunked<'a> {
    out: &'a mut dyn Write,
    buf: Vec<u8>,
}

impl Chunked<'_> {
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
    fn write_all(&mut self, b: &[u8]) -> io::Result<()> {
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

/// The whole report as one JSON document, followed by a newline: the top level and its
/// direct members laid out one per line, and each element of a top-level list (a
/// session, a finding, a connection) compact on its own line, so that the document reads
/// and diffs line by line while growing like JSONL (pretty-printing every field took
/// 43% of the document in indentation: 4.9x the size of a brute-force capture; this is
/// 2.8x).
pub fn write_json(r: &Report, out: &mut dyn Write) -> io::Result<()> {
    let mut w = Chunked {
        out,
        buf: Vec::with_capacity(CHUNK + 1024),
    };
    let mut ser = serde_json::Serializer::with_formatter(&mut w, RecordLines::default());
    r.serialize(&mut ser).map_err(io::Error::from)?;
    w.buf.push(b'\n');
    w.flush_buf()
}

/// The JSON document of [`write_json`] written as it goes: the head and each session as
/// it comes (in id order), then the rest of the report. The same bytes as `write_json`
/// of the whole report, so long as the sessions come in id order.
#[derive(Debug, Default)]
pub struct DocumentWriter {
    /// Sessions written so far.
    written: u64,
}

/// The document up to the opening of its `sessions` list (`schema` is fixed, and
/// `sessions` comes next: see [`Report`]).
const HEAD: &[u8] = b"{\n  \"schema\": \"ftptrace/1\",\n  \"sessions\": [";

impl DocumentWriter {
    pub fn new() -> Self {
        Self::default()
    }

    /// Sessions written so far.
    pub fn written(&self) -> u64 {
        self.written
    }

    /// The next session of the document.
    pub fn session(&mut self, s: &Session, out: &mut dyn Write) -> io::Result<()> {
        let first = self.written == 0;
        self.written += 1;
        buffered(out, |b| {
            if first {
                b.extend_from_slice(HEAD);
                b.extend_from_slice(b"\n    ");
            } else {
                b.extend_from_slice(b",\n    ");
            }
            super::compact::to_vec(b, s).map_err(io::Error::from)
        })
    }

    /// The rest of the document: the sessions `r` holds (after those written), then every
    /// other member of `r`.
    pub fn finish(&mut self, r: &mut Report, out: &mut dyn Write) -> io::Result<()> {
        if self.written == 0 {
            return write_json(r, out);
        }
        let sessions = std::mem::take(&mut r.sessions);
        let mut res = sessions.iter().try_for_each(|s| self.session(s, out));
        if res.is_ok() {
            res = self.tail(r, out);
        }
        r.sessions = sessions;
        res
    }

    /// What follows the sessions: `r` without them, from the close of its list.
    fn tail(&mut self, r: &Report, out: &mut dyn Write) -> io::Result<()> {
        let mut w = AfterHead {
            seen: 0,
            out: Chunked {
                out,
                buf: Vec::with_capacity(CHUNK + 1024),
            },
        };
        let mut ser = serde_json::Serializer::with_formatter(&mut w, RecordLines::default());
        r.serialize(&mut ser).map_err(io::Error::from)?;
        w.out.buf.push(b'\n');
        w.out.flush_buf()
    }
}

/// A writer that checks a document opens with [`HEAD`] and `]` (no sessions), and
/// passes on the rest after closing the sessions already written on their own line.
struct AfterHead<'a> {
    /// Bytes of the head (and its `]`) seen so far.
    seen: usize,
    out: Chunked<'a>,
}

impl Write for AfterHead<'_> {
    fn write(&mut self, b: &[u8]) -> io::Result<usize> {
        self.write_all(b)?;
        Ok(b.len())
    }

    #[inline]
    fn write_all(&mut self, b: &[u8]) -> io::Result<()> {
        if self.seen == HEAD.len() + 1 {
            return self.out.write_all(b);
        }
        self.head(b)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }
}

impl AfterHead<'_> {
    /// A write while the head is still being checked.
    #[cold]
    fn head(&mut self, mut b: &[u8]) -> io::Result<()> {
        let want = HEAD.len() + 1;
        if self.seen < want {
            let n = b.len().min(want - self.seen);
            let expected = HEAD.iter().chain(b"]").skip(self.seen).take(n);
            if !b[..n].iter().eq(expected) {
                return Err(io::Error::other(
                    "the JSON document does not open as expected",
                ));
            }
            self.seen += n;
            b = &b[n..];
            if self.seen == want {
                self.out.write_all(b"\n  ]")?;
            }
        }
        self.out.write_all(b)
    }
}

/// One session as one line (JSONL).
pub fn write_session_line(s: &Session, out: &mut dyn Write) -> io::Result<()> {
    buffered(out, |b| {
        super::compact::to_vec(b, s).map_err(io::Error::from)?;
        b.push(b'\n');
        Ok(())
    })
}

/// A JSON layout: containers at the top two levels are pretty-printed (two spaces a
/// level), everything inside them compact.
#[derive(Default)]
struct RecordLines {
    /// For each open container, whether it is pretty-printed.
    open: Vec<bool>,
    /// The innermost container written so far has a member.
    has_value: bool,
}

impl RecordLines {
    /// Levels of containers pretty-printed: the document and its direct members.
    const PRETTY_LEVELS: usize = 2;

    fn begin<W: ?Sized + Write>(&mut self, w: &mut W, open: &[u8]) -> io::Result<()> {
        self.open.push(self.open.len() < Self::PRETTY_LEVELS);
        self.has_value = false;
        w.write_all(open)
    }

    fn end<W: ?Sized + Write>(&mut self, w: &mut W, close: &[u8]) -> io::Result<()> {
        let pretty = self.open.pop().unwrap_or(false);
        if pretty && self.has_value {
            w.write_all(b"\n")?;
            indent(w, self.open.len())?;
        }
        w.write_all(close)
    }

    fn member<W: ?Sized + Write>(&mut self, w: &mut W, first: bool) -> io::Result<()> {
        if !first {
            w.write_all(b",")?;
        }
        if self.open.last().copied().unwrap_or(false) {
            w.write_all(b"\n")?;
            indent(w, self.open.len())?;
        }
        Ok(())
    }
}

fn indent<W: ?Sized + Write>(w: &mut W, levels: usize) -> io::Result<()> {
    for _ in 0..levels {
        w.write_all(b"  ")?;
    }
    Ok(())
}

impl serde_json::ser::Formatter for RecordLines {
    fn begin_array<W: ?Sized + Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.begin(w, b"[")
    }

    fn end_array<W: ?Sized + Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.end(w, b"]")
    }

    fn begin_array_value<W: ?Sized + Write>(&mut self, w: &mut W, first: bool) -> io::Result<()> {
        self.member(w, first)
    }

    fn end_array_value<W: ?Sized + Write>(&mut self, _w: &mut W) -> io::Result<()> {
        self.has_value = true;
        Ok(())
    }

    fn begin_object<W: ?Sized + Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.begin(w, b"{")
    }

    fn end_object<W: ?Sized + Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.end(w, b"}")
    }

    fn begin_object_key<W: ?Sized + Write>(&mut self, w: &mut W, first: bool) -> io::Result<()> {
        self.member(w, first)
    }

    fn begin_object_value<W: ?Sized + Write>(&mut self, w: &mut W) -> io::Result<()> {
        if self.open.last().copied().unwrap_or(false) {
            w.write_all(b": ")
        } else {
            w.write_all(b":")
        }
    }

    fn end_object_value<W: ?Sized + Write>(&mut self, _w: &mut W) -> io::Result<()> {
        self.has_value = true;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn layout(v: &serde_json::Value) -> String {
        let mut out = Vec::new();
        let mut ser = serde_json::Serializer::with_formatter(&mut out, RecordLines::default());
        v.serialize(&mut ser).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn top_levels_pretty_records_compact_one_a_line() {
        // (serde_json's maps sort their keys: "anomalies", "schema", "sessions", "stats".)
        let v = json!({
            "schema": "ftptrace/1",
            "sessions": [{"id": 1, "client": {"ip": "10.0.0.2", "port": 1}, "commands": []},
                         {"id": 2, "timeline": [{"what": "SYN"}]}],
            "anomalies": [],
            "stats": {"packets": 3, "limits": {"max_events": 1}, "port_scans": []}
        });
        let text = layout(&v);
        assert_eq!(
            text,
            r#"{
  "anomalies": [],
  "schema": "ftptrace/1",
  "sessions": [
    {"client":{"ip":"10.0.0.2","port":1},"commands":[],"id":1},
    {"id":2,"timeline":[{"what":"SYN"}]}
  ],
  "stats": {
    "limits": {"max_events":1},
    "packets": 3,
    "port_scans": []
  }
}"#
        );
        // The same document.
        assert_eq!(serde_json::from_str::<serde_json::Value>(&text).unwrap(), v);
    }
}
