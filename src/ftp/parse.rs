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
//! * [`parse_listing_line`]: LIST (Unix, DOS), MLSD and NLST listing lines.
//! * [`decode_text`]: UTF-8 or Latin-1; [`resolve_path`], [`cwd_after_cwd`],
//!   [`cwd_after_cdup`]: working-directory bookkeeping.

mod addr;
mod command;
mod lines;
mod listing;
mod reply;
mod text;

pub use addr::{
    parse_257_path, parse_eprt, parse_epsv_reply, parse_lprt, parse_lpsv_reply, parse_pasv_reply,
    parse_port, parse_size_reply, parse_transfer_size,
};
pub use command::{parse_command, uppercase_verb, CommandLine, Direction, Verb};
pub use lines::{Line, LineAssembler, MAX_LINE_LEN};
pub use listing::{
    parse_line as parse_listing_line, Entry as ListingLine, EntryKind, Style as ListingStyle,
};
pub use reply::{
    parse_reply_line, Reply, ReplyAssembler, ReplyCode, ReplyEvent, ReplyKind, ReplyLine,
    MAX_REPLY_BYTES, MAX_REPLY_LINES,
};
pub use text::{cwd_after_cdup, cwd_after_cwd, decode_text, resolve_path, strip_list_options};

/// True for a server's first line that opens an FTP control connection: a `220` greeting
/// (`120` "service ready in n minutes" and `421` count too) that is not an SMTP banner.
pub fn looks_like_greeting(line: &[u8]) -> bool {
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    match parse_reply_line(line) {
        Some(r) if matches!(r.code, 220 | 120 | 421) => {
            !r.text.windows(4).any(|w| w.eq_ignore_ascii_case(b"SMTP"))
        }
        _ => false,
    }
}

/// True for a client's first line that opens an FTP control connection
/// (`USER`, `AUTH`, `FEAT`, `OPTS`, `SYST`, `HOST`, `CLNT`).
pub fn looks_like_client_opening(line: &[u8]) -> bool {
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    let c = parse_command(line);
    let opening: [&[u8]; 7] = [
        b"USER", b"AUTH", b"FEAT", b"OPTS", b"SYST", b"HOST", b"CLNT",
    ];
    opening.iter().any(|v| v.eq_ignore_ascii_case(c.verb))
        && (line.len() == c.verb.len() || line.get(c.verb.len()) == Some(&b' '))
}

#[cfg(test)]
mod opening_tests {
    use super::*;

    #[test]
    fn greetings() {
        assert!(looks_like_greeting(b"220 (vsFTPd 3.0.3)\r"));
        assert!(looks_like_greeting(b"220-Welcome"));
        assert!(!looks_like_greeting(b"220 mail.example.com ESMTP Postfix"));
        assert!(!looks_like_greeting(b"SSH-2.0-OpenSSH_9.2"));
        assert!(!looks_like_greeting(b"HTTP/1.1 200 OK"));
    }

    #[test]
    fn client_openings() {
        assert!(looks_like_client_opening(b"USER anonymous\r"));
        assert!(looks_like_client_opening(b"AUTH TLS"));
        assert!(looks_like_client_opening(b"feat"));
        assert!(!looks_like_client_opening(b"GET / HTTP/1.1"));
        assert!(!looks_like_client_opening(b"USERNAME x"));
        assert!(!looks_like_client_opening(b"EHLO x"));
    }
}
