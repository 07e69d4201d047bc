//! Control-connection line framing: CRLF or LF, Telnet IAC stripping, capture gaps, line length limit.
//!
//! [`LineAssembler`] takes the reassembled byte stream of one direction of a
//! control connection, in whatever chunks TCP reassembly hands out, and
//! produces [`Line`]s. A line that lies whole inside one chunk and holds no
//! IAC (255) byte is handed out borrowed from the chunk; only partial lines and
//! lines that need Telnet stripping are copied into an internal buffer, which
//! never grows beyond [`MAX_LINE_LEN`].
//!
//! Framing rules:
//! * LF ends a line; one CR right before it is removed (CRLF or bare LF). A CR
//!   anywhere else is data and kept.
//! * Telnet commands are removed: `IAC x` for x in 240..=249 (SE, NOP, DM, BRK,
//!   IP, AO, AYT, EC, EL, GA), `IAC WILL|WONT|DO|DONT <opt>`, `IAC SB … IAC SE`;
//!   `IAC IAC` is one 255 data byte. An IAC followed by a byte below 240 is not
//!   Telnet (Latin-1 `ÿ` from a server that does not escape): both bytes are
//!   kept as data. Sequences split across chunks are handled.
//! * FTP lines win over Telnet: an LF always ends a line, also where it
//!   would be the option byte of `IAC DO` or lie inside `IAC SB`, so a stray
//!   255 byte can never swallow the rest of the stream.
//! * Lines longer than [`MAX_LINE_LEN`] are kept up to the limit, the rest up to
//!   the LF dropped, and the line is flagged [`Line::too_long`] with its real
//!   length in [`Line::orig_len`].
//! * [`LineAssembler::gap`]: bytes were lost; the partial line is dropped and
//!   everything up to the next LF discarded; the next line is flagged
//!   [`Line::after_gap`].
//! * [`LineAssembler::finish`]: the stream ended; a partial line is handed out
//!   flagged [`Line::unterminated`] (one trailing CR removed).

/// Longest line kept (64 KiB); longer lines are cut there and flagged.
pub const MAX_LINE_LEN: usize = 64 * 1024;

const LF: u8 = b'\n';
const CR: u8 = b'\r';
const IAC: u8 = 255;
const SE: u8 = 240;
const GA: u8 = 249;
const SB: u8 = 250;
const WILL: u8 = 251;
const DONT: u8 = 254;

/// Buffers larger than this are released after the line is handed out, so
/// that one long line does not pin 64 KiB per connection.
const KEEP_CAPACITY: usize = 4096;

/// One control-connection line, line ending and Telnet commands removed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Line<'a> {
    /// The line's bytes (at most [`MAX_LINE_LEN`]).
    pub bytes: &'a [u8],
    /// The line was longer than [`MAX_LINE_LEN`] and `bytes` is its start.
    pub too_long: bool,
    /// The line's real length (after Telnet stripping, without CRLF).
    pub orig_len: usize,
    /// First complete line after a capture gap (see [`LineAssembler::gap`]).
    pub after_gap: bool,
    /// The stream ended before this line's LF (from [`LineAssembler::finish`]).
    pub unterminated: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
enum Telnet {
    /// Plain data.
    #[default]
    Data,
    /// Saw IAC.
    Iac,
    /// Saw IAC WILL/WONT/DO/DONT, the option byte comes next.
    Opt,
    /// Inside IAC SB ….
    Sb,
    /// Inside IAC SB …, saw IAC.
    SbIac,
}

/// Whether `b` starts like an FTP line: a reply code (`DDD `, `DDD-`, `DDD\r`) or
/// a command verb of 3–4 upper-case letters followed by a space or line end.
fn looks_like_line_start(b: &[u8]) -> bool {
    let digits = b.len() >= 4
        && (b'1'..=b'5').contains(&b[0])
        && b[1].is_ascii_digit()
        && b[2].is_ascii_digit()
        && matches!(b[3], b' ' | b'-' | b'\r' | b'\n');
    let letters = b.iter().take_while(|c| c.is_ascii_uppercase()).count();
    let verb = (3..=4).contains(&letters) && matches!(b.get(letters), Some(b' ' | b'\r' | b'\n'));
    digits || verb
}

/// Turns one direction of a control connection into [`Line`]s. See the
/// module documentation for the rules.
#[derive(Debug, Default, Clone)]
pub struct LineAssembler {
    /// Stored bytes of the partial line (at most `MAX_LINE_LEN`).
    buf: Vec<u8>,
    /// Data bytes of the partial line seen so far (may exceed `buf.len()`).
    len: usize,
    /// The last data byte of the partial line was CR.
    cr: bool,
    telnet: Telnet,
    /// After a gap: discard up to and including the next LF.
    discard: bool,
    /// The gap fell between lines: if the bytes after it start like a line (a
    /// reply code or a command verb), they are kept instead of discarded.
    maybe_aligned: bool,
    /// Flag the next line handed out as `after_gap`.
    after_gap: bool,
}

impl LineAssembler {
    /// A new assembler at the start of a stream.
    pub fn new() -> Self {
        Self::default()
    }

    /// Feed the next chunk of the stream; every line it completes is passed
    /// to `out`, in order.
    pub fn feed<F: FnMut(Line<'_>)>(&mut self, data: &[u8], mut out: F) {
        let mut i = 0;
        while i < data.len() {
            let rest = &data[i..];
            if self.discard
                && std::mem::take(&mut self.maybe_aligned)
                && looks_like_line_start(rest)
            {
                self.discard = false;
            }
            if self.discard {
                match find_lf(rest) {
                    Some(p) => {
                        self.discard = false;
                        i += p + 1;
                        continue;
                    }
                    None => return,
                }
            }
            if self.len == 0 && self.telnet == Telnet::Data {
                // Fast path: a whole line inside this chunk, nothing to strip.
                if let Some(p) = find_lf(rest) {
                    let raw = &rest[..p];
                    if !raw.contains(&IAC) {
                        let body = raw.strip_suffix(b"\r").unwrap_or(raw);
                        out(Line {
                            bytes: &body[..body.len().min(MAX_LINE_LEN)],
                            too_long: body.len() > MAX_LINE_LEN,
                            orig_len: body.len(),
                            after_gap: std::mem::take(&mut self.after_gap),
                            unterminated: false,
                        });
                        i += p + 1;
                        continue;
                    }
                }
            }
            i += self.slow(rest, &mut out);
        }
    }

    /// Bytes were lost from the stream (a capture gap of `len` bytes; 0 does
    /// nothing). The partial line is dropped and everything up to the next LF
    /// is discarded; the line after that is flagged `after_gap`. Returns how
    /// many bytes of a partial line were dropped (0 when the gap fell between
    /// lines, as far as can be told).
    pub fn gap(&mut self, len: u64) -> usize {
        if len == 0 {
            return 0;
        }
        let dropped = self.len;
        self.maybe_aligned = dropped == 0 && self.telnet == Telnet::Data;
        self.reset_line();
        self.telnet = Telnet::Data;
        self.discard = true;
        self.after_gap = true;
        dropped
    }

    /// The stream ended: hand out a partial line (one trailing CR removed),
    /// flagged `unterminated`, and reset to the start-of-stream state.
    pub fn finish<F: FnMut(Line<'_>)>(&mut self, mut out: F) {
        if !self.discard && self.len > 0 {
            let len = if self.cr { self.len - 1 } else { self.len };
            if len > 0 {
                self.buf.truncate(len);
                out(Line {
                    bytes: &self.buf,
                    too_long: len > MAX_LINE_LEN,
                    orig_len: len,
                    after_gap: self.after_gap,
                    unterminated: true,
                });
            }
        }
        *self = Self::default();
    }

    /// Data bytes of the current partial line (0 between lines).
    pub fn partial_len(&self) -> usize {
        self.len
    }

    /// True while discarding up to the next LF after a gap.
    pub fn is_resyncing(&self) -> bool {
        self.discard
    }

    /// Process `data` (the start of the unprocessed input) byte-wise until one
    /// line is complete or the input is used up; returns the bytes consumed.
    fn slow<F: FnMut(Line<'_>)>(&mut self, data: &[u8], out: &mut F) -> usize {
        let mut i = 0;
        while i < data.len() {
            match self.telnet {
                Telnet::Data => {
                    let rest = &data[i..];
                    let p = rest
                        .iter()
                        .position(|&b| b == LF || b == IAC)
                        .unwrap_or(rest.len());
                    self.push(&rest[..p]);
                    i += p;
                    if i == data.len() {
                        break;
                    }
                    let b = data[i];
                    i += 1;
                    if b == LF {
                        self.end_line(out);
                        return i;
                    }
                    self.telnet = Telnet::Iac;
                }
                Telnet::Iac => {
                    let b = data[i];
                    match b {
                        IAC => {
                            self.push(&[IAC]);
                            self.telnet = Telnet::Data;
                            i += 1;
                        }
                        SB => {
                            self.telnet = Telnet::Sb;
                            i += 1;
                        }
                        WILL..=DONT => {
                            self.telnet = Telnet::Opt;
                            i += 1;
                        }
                        SE..=GA => {
                            self.telnet = Telnet::Data;
                            i += 1;
                        }
                        _ => {
                            // Not Telnet: keep the 255 as data, look at `b` again.
                            self.push(&[IAC]);
                            self.telnet = Telnet::Data;
                        }
                    }
                }
                Telnet::Opt => {
                    let b = data[i];
                    i += 1;
                    self.telnet = Telnet::Data;
                    if b == LF {
                        self.end_line(out);
                        return i;
                    }
                }
                Telnet::Sb => {
                    let rest = &data[i..];
                    match rest.iter().position(|&b| b == LF || b == IAC) {
                        None => i = data.len(),
                        Some(p) => {
                            i += p + 1;
                            if rest[p] == LF {
                                self.telnet = Telnet::Data;
                                self.end_line(out);
                                return i;
                            }
                            self.telnet = Telnet::SbIac;
                        }
                    }
                }
                Telnet::SbIac => {
                    let b = data[i];
                    i += 1;
                    match b {
                        SE => self.telnet = Telnet::Data,
                        LF => {
                            self.telnet = Telnet::Data;
                            self.end_line(out);
                            return i;
                        }
                        _ => self.telnet = Telnet::Sb,
                    }
                }
            }
        }
        i
    }

    /// Append data bytes to the partial line, storing at most `MAX_LINE_LEN`.
    fn push(&mut self, bytes: &[u8]) {
        let Some(&last) = bytes.last() else {
            return;
        };
        let room = MAX_LINE_LEN.saturating_sub(self.buf.len());
        self.buf.extend_from_slice(&bytes[..bytes.len().min(room)]);
        self.len = self.len.saturating_add(bytes.len());
        self.cr = last == CR;
    }

    /// The LF of the partial line was seen: hand it out and start a new one.
    fn end_line<F: FnMut(Line<'_>)>(&mut self, out: &mut F) {
        let len = if self.cr { self.len - 1 } else { self.len };
        self.buf.truncate(len);
        out(Line {
            bytes: &self.buf,
            too_long: len > MAX_LINE_LEN,
            orig_len: len,
            after_gap: std::mem::take(&mut self.after_gap),
            unterminated: false,
        });
        self.reset_line();
    }

    fn reset_line(&mut self) {
        if self.buf.capacity() > KEEP_CAPACITY {
            self.buf = Vec::new();
        } else {
            self.buf.clear();
        }
        self.len = 0;
        self.cr = false;
    }
}

fn find_lf(data: &[u8]) -> Option<usize> {
    data.iter().position(|&b| b == LF)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[derive(Debug, Clone, PartialEq, Eq)]
    struct Owned {
        bytes: Vec<u8>,
        too_long: bool,
        orig_len: usize,
        after_gap: bool,
        unterminated: bool,
    }

    fn own(l: Line<'_>) -> Owned {
        Owned {
            bytes: l.bytes.to_vec(),
            too_long: l.too_long,
            orig_len: l.orig_len,
            after_gap: l.after_gap,
            unterminated: l.unterminated,
        }
    }

    fn run(chunks: &[&[u8]]) -> Vec<Owned> {
        let mut a = LineAssembler::new();
        let mut v = Vec::new();
        for c in chunks {
            a.feed(c, |l| v.push(own(l)));
        }
        a.finish(|l| v.push(own(l)));
        v
    }

    fn texts(v: &[Owned]) -> Vec<Vec<u8>> {
        v.iter().map(|l| l.bytes.clone()).collect()
    }

    fn bytewise(input: &[u8]) -> Vec<Owned> {
        let chunks: Vec<&[u8]> = input.chunks(1).collect();
        run(&chunks)
    }

    #[test]
    fn crlf_and_bare_lf() {
        let v = run(&[b"USER anonymous\r\nPASS x\nSYST\r\n"]);
        assert_eq!(
            texts(&v),
            vec![
                b"USER anonymous".to_vec(),
                b"PASS x".to_vec(),
                b"SYST".to_vec()
            ]
        );
        assert!(v
            .iter()
            .all(|l| !l.too_long && !l.after_gap && !l.unterminated));
        assert_eq!(v[0].orig_len, 14);
    }

    #[test]
    fn lone_cr_kept_and_only_one_cr_removed() {
        let v = run(&[b"RETR a\rb\r\nX\r\r\n\r\n\n"]);
        assert_eq!(
            texts(&v),
            vec![
                b"RETR a\rb".to_vec(),
                b"X\r".to_vec(),
                b"".to_vec(),
                b"".to_vec()
            ]
        );
    }

    #[test]
    fn whole_line_is_borrowed_from_input() {
        let data = b"220 ready\r\n";
        let mut a = LineAssembler::new();
        let mut ptr = None;
        a.feed(data, |l| ptr = Some(l.bytes.as_ptr()));
        assert_eq!(ptr, Some(data.as_ptr()));
    }

    #[test]
    fn works_with_dyn_callback() {
        let mut a = LineAssembler::new();
        let mut n = 0;
        let out: &mut dyn FnMut(Line<'_>) = &mut |_l| n += 1;
        a.feed(b"A\nB\n", &mut *out);
        a.feed(b"C", &mut *out);
        a.finish(out);
        assert_eq!(n, 3);
    }

    #[test]
    fn split_lines_across_chunks() {
        let v = run(&[b"US", b"ER a", b"nonymous\r", b"\nPA", b"SS x\r\n"]);
        assert_eq!(
            texts(&v),
            vec![b"USER anonymous".to_vec(), b"PASS x".to_vec()]
        );
    }

    #[test]
    fn telnet_abor_sequence() {
        // What ftp(1) sends for ABOR: IAC IP, IAC DM (urgent), ABOR.
        let v = run(&[b"\xff\xf4\xff\xf2ABOR\r\n"]);
        assert_eq!(texts(&v), vec![b"ABOR".to_vec()]);
        assert_eq!(v[0].orig_len, 4);
    }

    #[test]
    fn telnet_sequences_split_across_chunks() {
        let input: &[u8] =
            b"\xff\xf4\xff\xf2AB\xff\xfb\x01OR\xff\xfa\x18\x01\xff\xff\xff\xf0\r\nNO\xff\xffP\r\n";
        let want = vec![b"ABOR".to_vec(), b"NO\xffP".to_vec()];
        assert_eq!(texts(&run(&[input])), want);
        assert_eq!(texts(&bytewise(input)), want);
        for cut in 0..input.len() {
            let (x, y) = input.split_at(cut);
            assert_eq!(texts(&run(&[x, y])), want, "cut at {cut}");
        }
    }

    #[test]
    fn all_two_byte_commands_stripped() {
        for cmd in 240u8..=249 {
            let input = [b'A', IAC, cmd, b'B', b'\r', b'\n'];
            assert_eq!(texts(&run(&[&input])), vec![b"AB".to_vec()], "cmd {cmd}");
        }
        for cmd in WILL..=DONT {
            let input = [b'A', IAC, cmd, 1, b'B', b'\n'];
            assert_eq!(texts(&run(&[&input])), vec![b"AB".to_vec()], "cmd {cmd}");
        }
    }

    #[test]
    fn iac_not_followed_by_command_is_data() {
        // Latin-1 "ÿa" from a server that does not escape IAC.
        let v = run(&[b"550 \xffa\r\n250 \xff\r\n"]);
        assert_eq!(texts(&v), vec![b"550 \xffa".to_vec(), b"250 \xff".to_vec()]);
    }

    #[test]
    fn lf_ends_line_inside_telnet_sequences() {
        let v = run(&[b"A\xff\xfd\nB\xff\xfa\x18junk\r\nC\xff\xfa\xff\nD\r\n"]);
        assert_eq!(
            texts(&v),
            vec![b"A".to_vec(), b"B".to_vec(), b"C".to_vec(), b"D".to_vec()]
        );
    }

    #[test]
    fn long_line_kept_up_to_limit_and_flagged() {
        let mut input = vec![b'A'; MAX_LINE_LEN + 100];
        input[0] = b'X';
        input.extend_from_slice(b"\r\nNOOP\r\n");
        let check = |v: Vec<Owned>| {
            assert_eq!(v.len(), 2);
            assert!(v[0].too_long);
            assert_eq!(v[0].orig_len, MAX_LINE_LEN + 100);
            assert_eq!(v[0].bytes.len(), MAX_LINE_LEN);
            assert_eq!(v[0].bytes[0], b'X');
            assert_eq!(v[1].bytes, b"NOOP");
            assert!(!v[1].too_long);
        };
        check(run(&[&input]));
        let chunks: Vec<&[u8]> = input.chunks(1000).collect();
        check(run(&chunks));
    }

    #[test]
    fn line_exactly_at_limit_is_not_too_long() {
        for extra in [&b"\r\n"[..], b"\n"] {
            let mut input = vec![b'a'; MAX_LINE_LEN];
            input.extend_from_slice(extra);
            for v in [run(&[&input]), run(&[&input[..10], &input[10..]])] {
                assert_eq!(v.len(), 1);
                assert!(!v[0].too_long);
                assert_eq!(v[0].orig_len, MAX_LINE_LEN);
                assert_eq!(v[0].bytes.len(), MAX_LINE_LEN);
            }
        }
        let mut input = vec![b'a'; MAX_LINE_LEN + 1];
        input.push(b'\n');
        let v = run(&[&input[..5], &input[5..]]);
        assert!(v[0].too_long);
        assert_eq!(v[0].orig_len, MAX_LINE_LEN + 1);
    }

    #[test]
    fn gap_drops_partial_line_and_resyncs() {
        let mut a = LineAssembler::new();
        let mut v = Vec::new();
        a.feed(b"USER bob\r\nRETR fi", |l| v.push(own(l)));
        assert_eq!(a.partial_len(), 7);
        assert_eq!(a.gap(1200), 7);
        assert!(a.is_resyncing());
        a.feed(b"le-tail\r\nQU", |l| v.push(own(l)));
        a.feed(b"IT\r\n", |l| v.push(own(l)));
        a.feed(b"NOOP\r\n", |l| v.push(own(l)));
        a.finish(|l| v.push(own(l)));
        assert_eq!(
            texts(&v),
            vec![b"USER bob".to_vec(), b"QUIT".to_vec(), b"NOOP".to_vec()]
        );
        assert!(!v[0].after_gap);
        assert!(v[1].after_gap);
        assert!(!v[2].after_gap);
    }

    #[test]
    fn gap_between_lines_still_discards_to_next_lf() {
        let mut a = LineAssembler::new();
        let mut v = Vec::new();
        a.feed(b"NOOP\r\n", |l| v.push(own(l)));
        assert_eq!(a.gap(0), 0);
        assert!(!a.is_resyncing());
        assert_eq!(a.gap(10), 0);
        a.feed(b"ail of lost\r\nPWD\r\n", |l| v.push(own(l)));
        assert_eq!(texts(&v), vec![b"NOOP".to_vec(), b"PWD".to_vec()]);
        assert!(v[1].after_gap);
    }

    #[test]
    fn gap_resets_telnet_state() {
        let mut a = LineAssembler::new();
        let mut v = Vec::new();
        a.feed(b"X\xff\xfa", |l| v.push(own(l)));
        a.gap(5);
        a.feed(b"\nNOOP\r\n", |l| v.push(own(l)));
        assert_eq!(texts(&v), vec![b"NOOP".to_vec()]);
    }

    #[test]
    fn finish_hands_out_unterminated_line() {
        let v = run(&[b"221 Bye\r\n221 again"]);
        assert_eq!(v.len(), 2);
        assert!(!v[0].unterminated);
        assert!(v[1].unterminated);
        assert_eq!(v[1].bytes, b"221 again");
        let v = run(&[b"QUIT\r"]);
        assert_eq!(texts(&v), vec![b"QUIT".to_vec()]);
        assert!(v[0].unterminated);
        assert!(run(&[b"NOOP\r\n"]).len() == 1);
        assert!(run(&[b"NOOP\r\n\xff\xf1"]).len() == 1);
        assert!(run(&[b""]).is_empty());
    }

    #[test]
    fn finish_after_gap_without_lf_emits_nothing() {
        let mut a = LineAssembler::new();
        let mut n = 0;
        a.feed(b"PART", |_| n += 1);
        a.gap(3);
        a.feed(b"more", |_| n += 1);
        a.finish(|_| n += 1);
        assert_eq!(n, 0);
        // Reusable after finish.
        a.feed(b"NOOP\n", |l| {
            assert!(!l.after_gap);
            n += 1
        });
        assert_eq!(n, 1);
    }

    #[test]
    fn buffer_released_after_long_line() {
        let mut a = LineAssembler::new();
        let big = vec![b'x'; 100_000];
        a.feed(&big, |_| {});
        a.feed(b"\n", |_| {});
        assert!(a.buf.capacity() <= KEEP_CAPACITY);
    }

    /// Independent model for IAC-free input: split on LF, drop one CR before it.
    fn model_plain(input: &[u8]) -> Vec<Vec<u8>> {
        let mut out = Vec::new();
        let mut parts: Vec<&[u8]> = input.split(|&b| b == LF).collect();
        let last = parts.pop().unwrap_or(&[]);
        for p in parts {
            out.push(p.strip_suffix(b"\r").unwrap_or(p).to_vec());
        }
        let last = last.strip_suffix(b"\r").unwrap_or(last);
        if !last.is_empty() {
            out.push(last.to_vec());
        }
        out
    }

    fn chunked(input: &[u8], cuts: &[usize]) -> Vec<Owned> {
        let mut cuts: Vec<usize> = cuts.iter().map(|c| c % (input.len() + 1)).collect();
        cuts.sort_unstable();
        let mut chunks = Vec::new();
        let mut prev = 0;
        for c in cuts {
            chunks.push(&input[prev..c]);
            prev = c;
        }
        chunks.push(&input[prev..]);
        run(&chunks)
    }

    /// Telnet sequences that must vanish from the line.
    fn telnet_seq() -> impl Strategy<Value = Vec<u8>> {
        prop_oneof![
            (240u8..=249).prop_map(|c| vec![IAC, c]),
            (251u8..=254, 0u8..=254)
                .prop_filter("LF ends the line", |(_, o)| *o != LF)
                .prop_map(|(c, o)| vec![IAC, c, o]),
            proptest::collection::vec(any::<u8>(), 0..8).prop_map(|body| {
                let mut v = vec![IAC, SB];
                for b in body {
                    if b == LF {
                        continue;
                    }
                    v.push(b);
                    if b == IAC {
                        v.push(IAC);
                    }
                }
                v.extend_from_slice(&[IAC, SE]);
                v
            }),
        ]
    }

    /// Either a run of plain data bytes (no IAC, no LF) or a Telnet sequence.
    #[derive(Debug, Clone)]
    enum Piece {
        Data(Vec<u8>),
        Escaped255,
        Telnet(Vec<u8>),
    }

    fn piece() -> impl Strategy<Value = Piece> {
        prop_oneof![
            4 => proptest::collection::vec(any::<u8>().prop_filter("plain", |b| *b != IAC && *b != LF), 0..20)
                .prop_map(Piece::Data),
            1 => Just(Piece::Escaped255),
            2 => telnet_seq().prop_map(Piece::Telnet),
        ]
    }

    proptest! {
        #![proptest_config(crate::testing::prop_config(256))]

        #[test]
        fn never_panics_and_chunking_does_not_matter(
            input in proptest::collection::vec(any::<u8>(), 0..600),
            cuts in proptest::collection::vec(any::<usize>(), 0..12),
            gap_at in proptest::option::of(any::<usize>()),
        ) {
            let whole = run(&[&input]);
            prop_assert_eq!(&chunked(&input, &cuts), &whole);
            prop_assert_eq!(&bytewise(&input), &whole);
            for l in &whole {
                prop_assert!(l.bytes.len() <= MAX_LINE_LEN);
                prop_assert_eq!(l.orig_len, l.bytes.len());
            }
            // Gaps anywhere never panic either.
            if let Some(g) = gap_at {
                let g = g % (input.len() + 1);
                let mut a = LineAssembler::new();
                let mut n = 0usize;
                a.feed(&input[..g], |_| n += 1);
                a.gap(7);
                a.feed(&input[g..], |l| { assert!(l.bytes.len() <= MAX_LINE_LEN); n += 1 });
                a.finish(|_| n += 1);
                prop_assert!(n <= whole.len() + 1);
            }
        }

        #[test]
        fn plain_input_lines_are_input_minus_line_endings(
            input in proptest::collection::vec(
                prop_oneof![Just(b'\r'), Just(b'\n'), Just(b'a'), any::<u8>()]
                    .prop_filter("no IAC", |b| *b != IAC), 0..400),
            cuts in proptest::collection::vec(any::<usize>(), 0..12),
        ) {
            let got = chunked(&input, &cuts);
            prop_assert_eq!(texts(&got), model_plain(&input));
        }

        #[test]
        fn telnet_sequences_vanish(
            lines in proptest::collection::vec(proptest::collection::vec(piece(), 0..6), 1..6),
            crlf in any::<bool>(),
            cuts in proptest::collection::vec(any::<usize>(), 0..12),
        ) {
            let mut input = Vec::new();
            let mut want = Vec::new();
            for line in &lines {
                let mut w = Vec::new();
                for p in line {
                    match p {
                        Piece::Data(d) => { input.extend_from_slice(d); w.extend_from_slice(d); }
                        Piece::Escaped255 => { input.extend_from_slice(&[IAC, IAC]); w.push(IAC); }
                        Piece::Telnet(t) => input.extend_from_slice(t),
                    }
                }
                if crlf {
                    input.push(CR);
                } else if w.last() == Some(&CR) {
                    w.pop(); // its CR is the one right before the LF
                }
                input.push(LF);
                want.push(w);
            }
            let got = chunked(&input, &cuts);
            prop_assert_eq!(texts(&got), want);
        }
    }
}

#[cfg(test)]
mod gap_alignment_tests {
    use super::*;

    fn lines(a: &mut LineAssembler, data: &[u8]) -> Vec<Vec<u8>> {
        let mut v = Vec::new();
        a.feed(data, |l: Line<'_>| v.push(l.bytes.to_vec()));
        v
    }

    #[test]
    fn gap_between_lines_keeps_the_next_command() {
        // Zeek cwd-navigation.pcap: "PASV\r\n" lost between "TYPE I" and "RETR …".
        let mut a = LineAssembler::new();
        assert_eq!(lines(&mut a, b"TYPE I\r\n"), vec![b"TYPE I".to_vec()]);
        a.gap(6);
        assert_eq!(
            lines(&mut a, b"RETR x.gz\r\nCWD ..\r\n"),
            vec![b"RETR x.gz".to_vec(), b"CWD ..".to_vec()]
        );
    }

    #[test]
    fn gap_inside_a_line_still_resyncs() {
        let mut a = LineAssembler::new();
        assert!(lines(&mut a, b"RETR some").is_empty());
        a.gap(6);
        assert_eq!(lines(&mut a, b"USER x\r\nNOOP\r\n"), vec![b"NOOP".to_vec()]);
        let mut a = LineAssembler::new();
        a.gap(3);
        assert_eq!(
            lines(&mut a, b"e.txt\r\n226 ok\r\n"),
            vec![b"226 ok".to_vec()]
        );
    }
}
