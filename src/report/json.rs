//! JSON and JSONL output of the model (SPEC.md `ftptrace/1`).

use crate::model::{Report, Session};
use std::io::{self, Write};

/// The whole report as one JSON document (pretty-printed), followed by a newline.
pub fn write_json(r: &Report, out: &mut dyn Write) -> io::Result<()> {
    serde_json::to_writer_pretty(&mut *out, r).map_err(io::Error::from)?;
    out.write_all(b"\n")
}

/// One session as one line (JSONL).
pub fn write_session_line(s: &Session, out: &mut dyn Write) -> io::Result<()> {
    serde_json::to_writer(&mut *out, s).map_err(io::Error::from)?;
    out.write_all(b"\n")
}
