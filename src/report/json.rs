//! JSON and JSONL output of the model (SPEC.md `ftptrace/1`).

use crate::model::{Report, Session};
use std::cell::RefCell;
use std::io::{self, Write};

/// Largest buffer kept for reuse between sessions (a larger one is freed after use).
const MAX_KEPT_BUFFER: usize = 4 << 20;

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

/// The whole report as one JSON document, followed by a newline: the top level and its
/// direct members laid out one per line, and each element of a top-level list (a
/// session, a finding, a connection) compact on its own line, so that the document reads
/// and diffs line by line while growing like JSONL (pretty-printing every field took
/// 43% of the document in indentation: 4.9x the size of a brute-force capture; this is
/// 2.8x).
pub fn write_json(r: &Report, out: &mut dyn Write) -> io::Result<()> {
    super::compact::to_writer_laid_out(out, r, PRETTY_LEVELS)?;
    out.write_all(b"\n")
}

/// Levels of containers laid out one member a line: the document and its direct members.
const PRETTY_LEVELS: u32 = 2;

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
            out: &mut *out,
        };
        super::compact::to_writer_laid_out(&mut w, r, PRETTY_LEVELS)?;
        out.write_all(b"\n")
    }
}

/// A writer that checks a document opens with [`HEAD`] and `]` (no sessions), and
/// passes on the rest after closing the sessions already written on their own line.
struct AfterHead<'a> {
    /// Bytes of the head (and its `]`) seen so far.
    seen: usize,
    out: &'a mut dyn Write,
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

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn layout(v: &serde_json::Value) -> String {
        let mut out = Vec::new();
        super::super::compact::to_writer_laid_out(&mut out, v, PRETTY_LEVELS).unwrap();
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
