//! Server reply lines and multi-line reply assembly, grammar exactly as SPEC.md.
//!
//! A reply line is `DDD<space>text`, a bare `DDD`, or `DDD-text` opening a
//! multi-line reply that ends at the first line starting `DDD<space>` with the
//! same code; lines in between may start with anything, digits included. D is
//! a digit and the first one 1–5. Any other server line outside a multi-line
//! reply is not a reply.
//!
//! The text of a reply is its lines joined by `\n`: the opening line's text
//! after `DDD-`, intermediate lines whole, the closing line's text after
//! `DDD `. So `211-Features:\r\n MDTM\r\n211 End\r\n` is code 211 with text
//! `"Features:\n MDTM\nEnd"`.

use std::borrow::Cow;

/// A multi-line reply is closed (and flagged `truncated`) after this many lines.
pub const MAX_REPLY_LINES: usize = 1000;
/// A multi-line reply's text is kept up to this many bytes, then it is closed
/// (and flagged `truncated`).
pub const MAX_REPLY_BYTES: usize = 256 * 1024;

/// A three-digit reply code with RFC 959 class helpers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ReplyCode(pub u16);

impl ReplyCode {
    /// The first digit (1–5 for codes that [`parse_reply_line`] accepts).
    pub fn class(self) -> u16 {
        self.0 / 100
    }
    /// 1xx: positive preliminary (more replies follow).
    pub fn is_preliminary(self) -> bool {
        self.class() == 1
    }
    /// 2xx: positive completion.
    pub fn is_positive(self) -> bool {
        self.class() == 2
    }
    /// 3xx: positive intermediate (the server wants another command).
    pub fn is_intermediate(self) -> bool {
        self.class() == 3
    }
    /// 4xx: transient negative completion.
    pub fn is_transient(self) -> bool {
        self.class() == 4
    }
    /// 5xx: permanent negative completion.
    pub fn is_permanent(self) -> bool {
        self.class() == 5
    }
    /// 4xx or 5xx.
    pub fn is_negative(self) -> bool {
        self.is_transient() || self.is_permanent()
    }
    /// 2xx, 4xx or 5xx: ends the command (1xx and 3xx do not).
    pub fn is_completion(self) -> bool {
        self.is_positive() || self.is_negative()
    }
}

impl From<u16> for ReplyCode {
    fn from(c: u16) -> Self {
        ReplyCode(c)
    }
}

impl std::fmt::Display for ReplyCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:03}", self.0)
    }
}

/// Which of the three reply line shapes a line has.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ReplyKind {
    /// `DDD<space>text`: a single-line reply, or the last line of a multi-line one.
    Final,
    /// `DDD` alone.
    Bare,
    /// `DDD-text`: opens a multi-line reply.
    Continue,
}

/// One server line that has the shape of a reply line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReplyLine<'a> {
    pub code: u16,
    pub kind: ReplyKind,
    /// After `DDD ` or `DDD-`; empty for [`ReplyKind::Bare`].
    pub text: &'a [u8],
}

/// Parse one server line (line ending removed) as a reply line; `None` when
/// it is not one (`230_no_space`, `99 PASV invalid`, `SYST not supported`).
pub fn parse_reply_line(line: &[u8]) -> Option<ReplyLine<'_>> {
    let code = reply_code(line)?;
    let (kind, text): (ReplyKind, &[u8]) = match line.get(3) {
        None => (ReplyKind::Bare, &[]),
        Some(b' ') => (ReplyKind::Final, &line[4..]),
        Some(b'-') => (ReplyKind::Continue, &line[4..]),
        Some(_) => return None,
    };
    Some(ReplyLine { code, kind, text })
}

fn reply_code(line: &[u8]) -> Option<u16> {
    match line {
        [a @ b'1'..=b'5', b @ b'0'..=b'9', c @ b'0'..=b'9', ..] => {
            Some(u16::from(a - b'0') * 100 + u16::from(b - b'0') * 10 + u16::from(c - b'0'))
        }
        _ => None,
    }
}

/// A complete reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply<'a> {
    pub code: u16,
    /// All lines' text joined by `\n` (borrowed from the line for single-line
    /// replies).
    pub text: Cow<'a, [u8]>,
    /// How many lines the reply had (1 for single-line replies).
    pub lines: usize,
    /// The multi-line reply hit [`MAX_REPLY_LINES`] / [`MAX_REPLY_BYTES`] and
    /// was closed early; its remaining lines are swallowed (as
    /// [`ReplyEvent::Pending`]) up to its closing line.
    pub truncated: bool,
    /// The stream ended inside the multi-line reply (from [`ReplyAssembler::finish`]),
    /// or a capture gap cut it (from [`ReplyAssembler::gap`]).
    pub unterminated: bool,
}

impl Reply<'_> {
    pub fn reply_code(&self) -> ReplyCode {
        ReplyCode(self.code)
    }
    /// A copy that does not borrow the line.
    pub fn into_owned(self) -> Reply<'static> {
        Reply {
            code: self.code,
            text: Cow::Owned(self.text.into_owned()),
            lines: self.lines,
            truncated: self.truncated,
            unterminated: self.unterminated,
        }
    }
}

/// What one server line did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReplyEvent<'a> {
    /// A reply is complete.
    Reply(Reply<'a>),
    /// The line belongs to a multi-line reply that is not complete yet (or to
    /// the rest of one closed early as `truncated`).
    Pending,
    /// A line outside a multi-line reply that is not a reply line
    /// (SPEC: a `malformed_reply` anomaly, kept in the timeline).
    Malformed(&'a [u8]),
}

#[derive(Debug, Clone, Default)]
enum State {
    #[default]
    Idle,
    Multi {
        code: u16,
        text: Vec<u8>,
        lines: usize,
    },
    /// A multi-line reply closed early: swallow lines up to its closing line.
    Drain { code: u16 },
    /// The capture lost bytes of the server's stream: lines are skipped up to the next
    /// one that opens a reply (the rest of a cut multi-line reply is not a reply; its
    /// closing line, with `code`, is skipped too).
    Resync { code: Option<u16> },
}

/// Groups server lines into replies; feed it every line the server sends on
/// the control connection, in order.
#[derive(Debug, Clone, Default)]
pub struct ReplyAssembler {
    state: State,
}

impl ReplyAssembler {
    pub fn new() -> Self {
        Self::default()
    }

    /// True inside a multi-line reply.
    pub fn in_multiline(&self) -> bool {
        matches!(self.state, State::Multi { .. } | State::Drain { .. })
    }

    /// The capture lost bytes of the server's stream: a multi-line reply it was inside is
    /// closed and handed out flagged `unterminated`; then lines are skipped up to the next
    /// one that opens a reply, so nothing after the gap is swallowed into the cut reply.
    pub fn gap(&mut self) -> Option<Reply<'static>> {
        let code = match &self.state {
            State::Multi { code, .. } | State::Drain { code } => Some(*code),
            _ => None,
        };
        let cut = self.finish();
        self.state = State::Resync { code };
        cut
    }

    /// Feed the next server line (line ending removed).
    pub fn feed<'a>(&mut self, line: &'a [u8]) -> ReplyEvent<'a> {
        if let State::Resync { code } = self.state {
            let Some(r) = parse_reply_line(line) else {
                return ReplyEvent::Pending;
            };
            self.state = State::Idle;
            if Some(r.code) == code && r.kind != ReplyKind::Continue {
                return ReplyEvent::Pending;
            }
        }
        match &mut self.state {
            State::Idle | State::Resync { .. } => match parse_reply_line(line) {
                None => ReplyEvent::Malformed(line),
                Some(r) if r.kind == ReplyKind::Continue => {
                    let mut text = Vec::new();
                    append_capped(&mut text, r.text);
                    self.state = State::Multi {
                        code: r.code,
                        text,
                        lines: 1,
                    };
                    ReplyEvent::Pending
                }
                Some(r) => ReplyEvent::Reply(Reply {
                    code: r.code,
                    text: Cow::Borrowed(r.text),
                    lines: 1,
                    truncated: false,
                    unterminated: false,
                }),
            },
            State::Multi { code, text, lines } => {
                let code = *code;
                *lines += 1;
                text.push(b'\n');
                if let Some(last) = closing_text(line, code) {
                    append_capped(text, last);
                    let text = std::mem::take(text);
                    let lines = *lines;
                    self.state = State::Idle;
                    return ReplyEvent::Reply(Reply {
                        code,
                        text: Cow::Owned(text),
                        lines,
                        truncated: false,
                        unterminated: false,
                    });
                }
                let full = append_capped(text, line);
                if full || *lines >= MAX_REPLY_LINES {
                    let text = std::mem::take(text);
                    let lines = *lines;
                    self.state = State::Drain { code };
                    return ReplyEvent::Reply(Reply {
                        code,
                        text: Cow::Owned(text),
                        lines,
                        truncated: true,
                        unterminated: false,
                    });
                }
                ReplyEvent::Pending
            }
            State::Drain { code } => {
                if closing_text(line, *code).is_some() {
                    self.state = State::Idle;
                }
                ReplyEvent::Pending
            }
        }
    }

    /// The stream ended: a multi-line reply still open is handed out flagged
    /// `unterminated`; the assembler is reset.
    pub fn finish(&mut self) -> Option<Reply<'static>> {
        match std::mem::take(&mut self.state) {
            State::Multi { code, text, lines } => Some(Reply {
                code,
                text: Cow::Owned(text),
                lines,
                truncated: false,
                unterminated: true,
            }),
            State::Idle | State::Drain { .. } | State::Resync { .. } => None,
        }
    }
}

/// The text of `line` if it closes a multi-line reply with `code`.
fn closing_text(line: &[u8], code: u16) -> Option<&[u8]> {
    match parse_reply_line(line) {
        Some(r) if r.code == code && r.kind == ReplyKind::Final => Some(r.text),
        _ => None,
    }
}

/// Append up to the byte limit; true when the limit was reached.
fn append_capped(text: &mut Vec<u8>, more: &[u8]) -> bool {
    let room = MAX_REPLY_BYTES.saturating_sub(text.len());
    text.extend_from_slice(&more[..more.len().min(room)]);
    text.len() >= MAX_REPLY_BYTES
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(line: &[u8]) -> Option<(u16, ReplyKind, &[u8])> {
        parse_reply_line(line).map(|r| (r.code, r.kind, r.text))
    }

    #[test]
    fn reply_line_shapes() {
        assert_eq!(
            one(b"220 py.fake ready"),
            Some((220, ReplyKind::Final, &b"py.fake ready"[..]))
        );
        assert_eq!(one(b"221"), Some((221, ReplyKind::Bare, &b""[..])));
        assert_eq!(one(b"220 "), Some((220, ReplyKind::Final, &b""[..])));
        assert_eq!(
            one(b"230-Welcome"),
            Some((230, ReplyKind::Continue, &b"Welcome"[..]))
        );
        assert_eq!(one(b"599 x"), Some((599, ReplyKind::Final, &b"x"[..])));
        assert_eq!(one(b"100 x"), Some((100, ReplyKind::Final, &b"x"[..])));
    }

    #[test]
    fn not_reply_lines() {
        // Zeek's ftp-missing-reply-code.pcap, ftp-missing-space-after-reply-code.pcap,
        // ftp-invalid-reply-code.pcap.
        assert_eq!(one(b"SYST not supported"), None);
        assert_eq!(one(b"230_no_space"), None);
        assert_eq!(one(b"99 PASV invalid"), None);
        assert_eq!(one(b"099 x"), None);
        assert_eq!(one(b"600 x"), None);
        assert_eq!(one(b"2200 x"), None);
        assert_eq!(one(b"22 "), None);
        assert_eq!(one(b"22"), None);
        assert_eq!(one(b""), None);
        assert_eq!(one(b" 220 x"), None);
        assert_eq!(one(b"220\tx"), None);
        assert_eq!(one(b"2a0 x"), None);
    }

    fn text(ev: &ReplyEvent<'_>) -> (u16, String) {
        match ev {
            ReplyEvent::Reply(r) => (r.code, String::from_utf8_lossy(&r.text).into_owned()),
            other => panic!("not a reply: {other:?}"),
        }
    }

    fn feed_all(lines: &[&[u8]]) -> Vec<ReplyEvent<'static>> {
        let mut a = ReplyAssembler::new();
        let mut v: Vec<ReplyEvent<'static>> = lines
            .iter()
            .map(|l| match a.feed(l) {
                ReplyEvent::Reply(r) => ReplyEvent::Reply(r.into_owned()),
                ReplyEvent::Pending => ReplyEvent::Pending,
                ReplyEvent::Malformed(_) => ReplyEvent::Malformed(b"?"),
            })
            .collect();
        if let Some(r) = a.finish() {
            v.push(ReplyEvent::Reply(r));
        }
        v
    }

    #[test]
    fn gap_closes_a_multiline_reply_and_resyncs_at_the_next_reply() {
        // FEAT's reply lost its middle and its closing line; the PORT replies that follow
        // are replies of their own, not text of the 211.
        let mut a = ReplyAssembler::new();
        assert_eq!(a.feed(b"211-Features:"), ReplyEvent::Pending);
        assert_eq!(a.feed(b" EPRT"), ReplyEvent::Pending);
        let cut = a.gap().expect("the open reply is handed out");
        assert_eq!(
            (cut.code, &*cut.text, cut.unterminated),
            (211, &b"Features:\n EPRT"[..], true)
        );
        assert!(!a.in_multiline());
        // The rest of the cut reply, its closing line included, is skipped, not malformed.
        assert_eq!(a.feed(b" UTF8"), ReplyEvent::Pending);
        assert_eq!(a.feed(b"211 End"), ReplyEvent::Pending);
        assert_eq!(
            text(&a.feed(b"200 PORT command successful.")),
            (200, "PORT command successful.".into())
        );
        // After resyncing, a line that is not a reply is malformed again.
        assert_eq!(a.feed(b"junk"), ReplyEvent::Malformed(b"junk"));
        // A gap outside a reply hands nothing out.
        assert_eq!(a.gap(), None);
        assert_eq!(text(&a.feed(b"221 Goodbye.")), (221, "Goodbye.".into()));
        // A cut reply whose closing line was lost: the next reply is its own.
        assert_eq!(a.feed(b"230-Welcome"), ReplyEvent::Pending);
        assert!(a.gap().is_some());
        assert_eq!(
            text(&a.feed(b"200 PORT command successful.")),
            (200, "PORT command successful.".into())
        );
    }

    #[test]
    fn single_line_reply_borrows() {
        let line = b"220 ready";
        let mut a = ReplyAssembler::new();
        match a.feed(line) {
            ReplyEvent::Reply(r) => {
                assert!(matches!(r.text, Cow::Borrowed(_)));
                assert_eq!(&*r.text, b"ready");
                assert_eq!(r.lines, 1);
                assert!(r.reply_code().is_positive());
            }
            e => panic!("{e:?}"),
        }
        assert!(matches!(
            a.feed(b"221"),
            ReplyEvent::Reply(Reply { code: 221, .. })
        ));
    }

    #[test]
    fn feat_multiline() {
        let v = feed_all(&[b"211-Features:", b" MDTM", b" SIZE", b"211 End"]);
        assert_eq!(
            v[..3],
            [
                ReplyEvent::Pending,
                ReplyEvent::Pending,
                ReplyEvent::Pending
            ]
        );
        assert_eq!(text(&v[3]), (211, "Features:\n MDTM\n SIZE\nEnd".into()));
        assert_eq!(v.len(), 4);
        if let ReplyEvent::Reply(r) = &v[3] {
            assert_eq!(r.lines, 4);
            assert!(!r.truncated && !r.unterminated);
        }
    }

    #[test]
    fn multiline_inner_lines_kept_whole_digits_included() {
        // Intermediate lines that look like replies, other codes, and
        // "230-" prefixes are all kept whole; only "230 " closes.
        let v = feed_all(&[
            b"230-Welcome",
            b"230-second",
            b"123 not the end",
            b"250 not the end either",
            b"230",
            b"",
            b"230 Login ok",
            b"221 Bye",
        ]);
        assert_eq!(
            text(&v[6]),
            (
                230,
                "Welcome\n230-second\n123 not the end\n250 not the end either\n230\n\nLogin ok"
                    .into()
            )
        );
        assert_eq!(text(&v[7]), (221, "Bye".into()));
    }

    #[test]
    fn empty_opening_text() {
        let v = feed_all(&[b"220-", b"220 x"]);
        assert_eq!(text(&v[1]), (220, "\nx".into()));
    }

    #[test]
    fn malformed_outside_multiline_only() {
        let mut a = ReplyAssembler::new();
        assert_eq!(
            a.feed(b"SYST not supported"),
            ReplyEvent::Malformed(b"SYST not supported")
        );
        assert_eq!(
            a.feed(b"230_no_space"),
            ReplyEvent::Malformed(b"230_no_space")
        );
        assert_eq!(
            a.feed(b"99 PASV invalid"),
            ReplyEvent::Malformed(b"99 PASV invalid")
        );
        assert_eq!(a.feed(b"220-x"), ReplyEvent::Pending);
        assert_eq!(a.feed(b"SYST not supported"), ReplyEvent::Pending);
        assert!(a.in_multiline());
        assert!(matches!(a.feed(b"220 y"), ReplyEvent::Reply(_)));
        assert!(!a.in_multiline());
    }

    #[test]
    fn unterminated_multiline_at_finish() {
        let v = feed_all(&[b"226-Transfer", b" going"]);
        assert_eq!(text(&v[2]), (226, "Transfer\n going".into()));
        if let ReplyEvent::Reply(r) = &v[2] {
            assert!(r.unterminated);
        }
        assert!(ReplyAssembler::new().finish().is_none());
    }

    #[test]
    fn too_many_lines_closes_and_drains() {
        let mut a = ReplyAssembler::new();
        assert_eq!(a.feed(b"211-start"), ReplyEvent::Pending);
        let mut closed = None;
        for i in 1..MAX_REPLY_LINES + 50 {
            match a.feed(b" line") {
                ReplyEvent::Pending => {}
                ReplyEvent::Reply(r) => {
                    assert!(closed.is_none());
                    assert!(r.truncated);
                    assert_eq!(r.lines, MAX_REPLY_LINES);
                    closed = Some(i);
                }
                e => panic!("{e:?}"),
            }
        }
        assert_eq!(closed, Some(MAX_REPLY_LINES - 1));
        // The real closing line is swallowed, then things are normal again.
        assert_eq!(a.feed(b"211 end"), ReplyEvent::Pending);
        assert!(matches!(
            a.feed(b"200 ok"),
            ReplyEvent::Reply(Reply { code: 200, .. })
        ));
    }

    #[test]
    fn too_many_bytes_closes() {
        let mut a = ReplyAssembler::new();
        let big = vec![b'x'; 60_000];
        assert_eq!(a.feed(b"211-start"), ReplyEvent::Pending);
        let mut got = None;
        for _ in 0..10 {
            if let ReplyEvent::Reply(r) = a.feed(&big) {
                got = Some(r.into_owned());
                break;
            }
        }
        let r = got.expect("closed");
        assert!(r.truncated);
        assert_eq!(r.text.len(), MAX_REPLY_BYTES);
        assert_eq!(r.lines, 6);
    }

    #[test]
    fn corpus_multiline_replies() {
        // Pure-FTPd greeting (Zeek bigtransfer.pcap): "220-" on every line.
        let v = feed_all(&[
            b"220---------- Welcome to Pure-FTPd [privsep] [TLS] ----------",
            b"220-You are user number 1 of 50 allowed.",
            b"220-Local time is now 10:52. Server port: 21.",
            b"220-IPv6 connections are also welcome on this server.",
            b"220 You will be disconnected after 15 minutes of inactivity.",
        ]);
        let (code, t) = text(&v[4]);
        assert_eq!(code, 220);
        assert!(
            t.starts_with("--------- Welcome to Pure-FTPd [privsep] [TLS] ----------\n220-You are")
        );
        assert!(t.ends_with("\nYou will be disconnected after 15 minutes of inactivity."));
        // FileZilla (ftp-password-pass-command.pcap).
        let v = feed_all(&[
            b"220-FileZilla Server 1.9.1",
            b"220 Please visit https://filezilla-project.org/",
        ]);
        assert_eq!(
            text(&v[1]),
            (
                220,
                "FileZilla Server 1.9.1\nPlease visit https://filezilla-project.org/".into()
            )
        );
        // NetBSD ftpd goodbye (ipv4.pcap): empty opening text, indented lines.
        let v = feed_all(&[
            b"221-",
            b"    Data traffic for this session was 154 bytes in 2 files.",
            b"    Total traffic for this session was 4037 bytes in 4 transfers.",
            b"221 Thank you for using the FTP service on ftp.NetBSD.org.",
        ]);
        assert_eq!(
            text(&v[3]),
            (
                221,
                "\n    Data traffic for this session was 154 bytes in 2 files.\n    Total traffic for this session was 4037 bytes in 4 transfers.\nThank you for using the FTP service on ftp.NetBSD.org."
                    .into()
            )
        );
        // SSH banner on an FTP port (ipv6-violation.pcap) is not a reply.
        let mut a = ReplyAssembler::new();
        assert!(matches!(
            a.feed(b"SSH-2.0-mod_sftp/0.9.7"),
            ReplyEvent::Malformed(_)
        ));
    }

    proptest::proptest! {
        #![proptest_config(crate::testing::prop_config(256))]
        #[test]
        fn assembler_never_panics_and_bounds_hold(
            lines in proptest::collection::vec(
                proptest::collection::vec(
                    proptest::prop_oneof![
                        proptest::prelude::Just(b'2'), proptest::prelude::Just(b'1'),
                        proptest::prelude::Just(b' '), proptest::prelude::Just(b'-'),
                        proptest::prelude::any::<u8>()
                    ],
                    0..8,
                ),
                0..40,
            )
        ) {
            let mut a = ReplyAssembler::new();
            let mut n_replies = 0;
            for l in &lines {
                match a.feed(l) {
                    ReplyEvent::Reply(r) => {
                        n_replies += 1;
                        proptest::prop_assert!((100..600).contains(&r.code));
                        proptest::prop_assert!(r.text.len() <= MAX_REPLY_BYTES);
                    }
                    ReplyEvent::Malformed(m) => proptest::prop_assert!(parse_reply_line(m).is_none()),
                    ReplyEvent::Pending => {}
                }
            }
            if a.finish().is_some() {
                n_replies += 1;
            }
            proptest::prop_assert!(n_replies <= lines.len());
        }
    }

    #[test]
    fn code_classes() {
        assert!(ReplyCode(150).is_preliminary());
        assert!(ReplyCode(226).is_positive() && ReplyCode(226).is_completion());
        assert!(ReplyCode(331).is_intermediate() && !ReplyCode(331).is_completion());
        assert!(ReplyCode(425).is_transient() && ReplyCode(425).is_negative());
        assert!(ReplyCode(550).is_permanent());
        assert_eq!(ReplyCode(99).to_string(), "099");
    }
}
