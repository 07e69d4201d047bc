//! Pure FTP wire parsers: control-connection lines, commands, replies, data-channel addresses, text and paths.
//!
//! Everything here is a pure function (or a small, bounded state machine) over
//! `&[u8]` that never panics on any input and hands out borrowed views where it
//! can. The session state machine (`ftp::session`) is built on top of it.
//!
//! * [`LineAssembler`]: reassembled TCP byte stream (any chunking) → lines,
//!   Telnet IAC sequences stripped, gaps and over-long lines flagged.
//! * [`parse_command`], [`Verb`], [`uppercase_verb`]: client command lines.
//! * [`parse_reply_line`], [`ReplyAssembler`], [`ReplyCode`]: server replies,
//!   multi-line replies joined by `\n`.
//! * [`parse_port`], [`parse_eprt`], [`parse_pasv_reply`], [`parse_epsv_reply`],
//!   [`parse_lprt`], [`parse_lpsv_reply`]: data-channel addresses;
//!   [`parse_transfer_size`], [`parse_size_reply`], [`parse_257_path`]:
//!   other reply payloads.
//! * [`decode_text`]: UTF-8 or Latin-1; [`resolve_path`], [`cwd_after_cwd`],
//!   [`cwd_after_cdup`]: working-directory bookkeeping.

mod addr;
mod command;
mod lines;
mod reply;
mod text;

pub use addr::{
    parse_257_path, parse_eprt, parse_epsv_reply, parse_lprt, parse_lpsv_reply, parse_pasv_reply,
    parse_port, parse_size_reply, parse_transfer_size,
};
pub use command::{parse_command, uppercase_verb, CommandLine, Direction, Verb};
pub use lines::{Line, LineAssembler, MAX_LINE_LEN};
pub use reply::{
    parse_reply_line, Reply, ReplyAssembler, ReplyCode, ReplyEvent, ReplyKind, ReplyLine,
    MAX_REPLY_BYTES, MAX_REPLY_LINES,
};
pub use text::{cwd_after_cdup, cwd_after_cwd, decode_text, resolve_path, strip_list_options};
