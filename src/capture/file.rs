//! Streaming capture-file reader: classic pcap (µs/ns, both byte orders), pcapng and gzip of either, detected by magic.
//!
//! [`FileSource`] parses a regular file of at least a megabyte in place, through a
//! read-only mapping that slides over it ([`super::mapped`]); other inputs (stdin, pipes, gzip, small files, `--no-mmap`) it
//! reads with large `read()` calls into one buffer that it refills (moving the unread
//! tail to the front). Either way it hands out [`Packet`]s that borrow from those bytes.
//! Memory stays bounded by the buffer (or the mapped window) plus one maximum-size record,
//! whatever the file size, and nothing is allocated per packet.
//!
//! Damaged input never panics: the first bad record ends the file with one
//! [`CaptureError`] naming the file, the byte offset (in the decompressed stream) where
//! the bad record starts and the packet number; every good packet before it is
//! returned first, and later calls return `Ok(None)`.

use super::mapped::{Mapping, Shape};
use super::{CaptureError, CaptureErrorKind, LinkType, Packet, PacketSource, Timestamp};
use flate2::bufread::MultiGzDecoder;
use std::io::{self, BufReader, Read};

/// Largest captured length accepted for one packet (tcpdump's maximum snap length).
pub const MAX_CAPLEN: usize = 256 * 1024;
/// Largest pcapng block held in memory at once (blocks of unknown type may be larger:
/// they are skipped as a stream).
pub const MAX_BLOCK: usize = 16 * 1024 * 1024;
/// Default read buffer size.
pub const DEFAULT_BUFFER: usize = 1 << 20;
/// Most interfaces one pcapng section may declare.
const MAX_INTERFACES: usize = 1 << 16;

const PCAP_HDR: usize = 24;
const NG_SHB: u32 = 0x0A0D_0D0A;
const NG_IDB: u32 = 1;
const NG_PB: u32 = 2;
const NG_SPB: u32 = 3;
const NG_EPB: u32 = 6;

/// How a capture file's bytes reach the parser.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ReadMode {
    /// Map regular files of at least [`super::mapped::MIN_MAP`] bytes (not gzip) and parse
    /// them in place; read the rest.
    #[default]
    Map,
    /// Always read with `read()` into a buffer (`--no-mmap`: for files another process
    /// may truncate while they are read).
    Read,
}

/// Where the unread bytes are: a buffer refilled by `read()`, or a mapped window of the
/// file (slid on, not refilled). One per input, never moved while packets are read: the
/// mapping (with its scout's ring) is kept inline rather than behind a pointer the reader
/// would follow for every packet.
#[allow(clippy::large_enum_variant)]
enum Store {
    Read(Vec<u8>),
    Mapped(Mapping),
}

impl Store {
    #[inline]
    fn bytes(&self) -> &[u8] {
        match self {
            Store::Read(v) => v,
            Store::Mapped(m) => m.bytes(),
        }
    }
}

/// The container format of a capture file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CaptureFormat {
    /// Classic pcap with microsecond timestamps.
    Pcap,
    /// Classic pcap with nanosecond timestamps (magic a1b23c4d).
    PcapNanos,
    /// Kuznetzov's modified pcap (magic a1b2cd34, 24-byte record headers).
    PcapModified,
    /// pcapng.
    Pcapng,
}

/// Counts the bytes read through it (the compressed size for gzip progress).
struct Counting<R> {
    inner: R,
    count: u64,
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.count += n as u64;
        Ok(n)
    }
}

type Raw = Counting<io::Chain<io::Cursor<Vec<u8>>, Box<dyn Read + Send>>>;

enum Input {
    Plain(Raw),
    Gzip(Box<MultiGzDecoder<BufReader<Raw>>>),
}

impl Input {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Input::Plain(r) => r.read(buf),
            Input::Gzip(r) => r.read(buf),
        }
    }
    fn raw_count(&self) -> u64 {
        match self {
            Input::Plain(r) => r.count,
            Input::Gzip(r) => r.get_ref().get_ref().count,
        }
    }
}

/// One pcapng interface (per section).
#[derive(Debug, Clone, Copy)]
struct Iface {
    linktype: LinkType,
    snaplen: u32,
    /// Timestamp units per second.
    units: u64,
    /// Nanoseconds per unit when `units` divides 10^9, else 0.
    ns_mul: u64,
    /// if_tsoffset, seconds.
    offset: i64,
}

impl Iface {
    #[inline]
    fn ts(&self, raw: u64) -> Timestamp {
        let units = self.units.max(1);
        let secs = raw / units;
        let frac = raw % units;
        let nanos = if self.ns_mul != 0 {
            frac * self.ns_mul
        } else {
            ((frac as u128 * 1_000_000_000) / units as u128) as u64
        };
        let secs = i64::try_from(secs)
            .unwrap_or(i64::MAX)
            .saturating_add(self.offset);
        Timestamp::from_parts(secs, nanos.min(999_999_999) as u32)
    }
}

/// Where the current packet lies in the buffer.
#[derive(Debug, Clone, Copy)]
struct Meta {
    start: usize,
    len: usize,
    ts: Timestamp,
    linktype: LinkType,
    orig_len: u32,
}

/// What a pcapng step produced.
enum Step {
    Packet,
    Block,
    End,
}

/// A streaming reader of one capture file (or stdin, or any `Read`).
pub struct FileSource {
    name: String,
    input: Input,
    buf: Store,
    /// Start of unread data in `buf`.
    pos: usize,
    /// End of valid data in `buf`.
    end: usize,
    /// Stream offset of `buf[0]`.
    base: u64,
    eof: bool,
    read_err: Option<io::Error>,
    done: bool,
    format: CaptureFormat,
    gzip: bool,
    /// Byte order of the file (pcap) or current section (pcapng).
    be: bool,
    // classic pcap
    rec_hdr: usize,
    ns_mul: i64,
    pcap_linktype: LinkType,
    // pcapng
    ifaces: Vec<Iface>,
    last_ts: Timestamp,
    packets: u64,
    ts_digits: u8,
    total: Option<u64>,
    cur: Option<Meta>,
}

#[inline]
fn rd16(be: bool, b: [u8; 2]) -> u16 {
    if be {
        u16::from_be_bytes(b)
    } else {
        u16::from_le_bytes(b)
    }
}

#[inline]
fn rd32(be: bool, b: [u8; 4]) -> u32 {
    if be {
        u32::from_be_bytes(b)
    } else {
        u32::from_le_bytes(b)
    }
}

/// Four bytes at `off` of `b`, zeros when out of range (callers check lengths first).
#[inline]
fn b4(b: &[u8], off: usize) -> [u8; 4] {
    match b.get(off..off + 4) {
        Some(&[a, b, c, d]) => [a, b, c, d],
        _ => [0; 4],
    }
}

#[inline]
fn b2(b: &[u8], off: usize) -> [u8; 2] {
    match b.get(off..off + 2) {
        Some(&[a, b]) => [a, b],
        _ => [0; 2],
    }
}

/// An input that cannot be read at all (it fails at its first byte).
fn unreadable(name: &str, kind: CaptureErrorKind) -> CaptureError {
    CaptureError {
        path: name.to_string(),
        offset: 0,
        packet: 1,
        kind,
    }
}

/// Sub-second digits that a resolution of `units` per second needs (capped at 9).
fn digits_for_units(units: u64) -> u8 {
    let mut d = 0u8;
    let mut p = 1u64;
    while p < units && d < 9 {
        p *= 10;
        d += 1;
    }
    d
}

impl FileSource {
    /// Open a capture file by path; `"-"` reads standard input. The format (pcap,
    /// pcapng, gzip of either) is found from the content. An error here is
    /// [`CaptureError::is_unreadable`].
    pub fn open(path: &str) -> Result<FileSource, CaptureError> {
        Self::open_with_capacity(path, DEFAULT_BUFFER)
    }

    /// [`FileSource::open`] with a chosen read buffer size.
    pub fn open_with_capacity(path: &str, capacity: usize) -> Result<FileSource, CaptureError> {
        Self::open_with(path, capacity, ReadMode::Map)
    }

    /// [`FileSource::open`] with a chosen read buffer size (for inputs that are read) and
    /// read mode.
    pub fn open_with(
        path: &str,
        capacity: usize,
        mode: ReadMode,
    ) -> Result<FileSource, CaptureError> {
        if path == "-" {
            return Self::with_capacity(path, Box::new(io::stdin()), None, capacity);
        }
        let f = std::fs::File::open(path).map_err(|e| unreadable(path, CaptureErrorKind::Io(e)))?;
        let total = f.metadata().ok().filter(|m| m.is_file()).map(|m| m.len());
        if mode == ReadMode::Map {
            if let Some(map) = Mapping::of(&f, total) {
                if map.bytes().get(..2) != Some(&[0x1f, 0x8b][..]) {
                    let nothing = Counting {
                        inner: io::Cursor::new(Vec::new()).chain(Box::new(io::empty()) as _),
                        count: 0,
                    };
                    return Self::start(path, Input::Plain(nothing), Store::Mapped(map), total);
                }
            }
        }
        Self::with_capacity(path, Box::new(f), total, capacity)
    }

    /// Read a capture from any reader; `name` is used in errors.
    pub fn from_reader(name: &str, r: Box<dyn Read + Send>) -> Result<FileSource, CaptureError> {
        Self::with_capacity(name, r, None, DEFAULT_BUFFER)
    }

    /// Like [`FileSource::from_reader`] with a chosen buffer size (at least 64 bytes;
    /// grows on demand for records larger than the buffer) and a known total size.
    pub fn with_capacity(
        name: &str,
        mut r: Box<dyn Read + Send>,
        total: Option<u64>,
        capacity: usize,
    ) -> Result<FileSource, CaptureError> {
        let unreadable = |kind| unreadable(name, kind);
        // Peek at the first bytes to tell gzip from the rest.
        let mut head = [0u8; 2];
        let mut got = 0;
        while got < head.len() {
            match r.read(&mut head[got..]) {
                Ok(0) => break,
                Ok(n) => got += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(unreadable(CaptureErrorKind::Io(e))),
            }
        }
        let prefix = head.get(..got).unwrap_or(&[]).to_vec();
        let gzip = prefix == [0x1f, 0x8b];
        let raw = Counting {
            inner: io::Cursor::new(prefix).chain(r),
            count: 0,
        };
        let input = if gzip {
            let zcap = capacity.clamp(8 * 1024, 256 * 1024);
            Input::Gzip(Box::new(MultiGzDecoder::new(BufReader::with_capacity(
                zcap, raw,
            ))))
        } else {
            Input::Plain(raw)
        };
        Self::start(name, input, Store::Read(vec![0; capacity.max(64)]), total)
    }

    /// Find the format from the first bytes of `buf` and read the file header.
    fn start(
        name: &str,
        input: Input,
        buf: Store,
        total: Option<u64>,
    ) -> Result<FileSource, CaptureError> {
        let unreadable = |kind| unreadable(name, kind);
        let gzip = matches!(input, Input::Gzip(_));
        // A mapping's first window is there already.
        let (end, eof) = match &buf {
            Store::Mapped(m) => (m.bytes().len(), m.at_end()),
            Store::Read(_) => (0, false),
        };
        let mut s = FileSource {
            name: name.to_string(),
            input,
            buf,
            pos: 0,
            end,
            base: 0,
            eof,
            read_err: None,
            done: false,
            format: CaptureFormat::Pcap,
            gzip,
            be: false,
            rec_hdr: 16,
            ns_mul: 1000,
            pcap_linktype: LinkType::ETHERNET,
            ifaces: Vec::new(),
            last_ts: Timestamp(0),
            packets: 0,
            ts_digits: 0,
            total,
            cur: None,
        };
        s.fill(4);
        let avail = s.end - s.pos;
        if avail < 4 {
            if let Some(e) = s.read_err.take() {
                return Err(unreadable(CaptureErrorKind::Io(e)));
            }
            let what = if avail == 0 {
                "file is empty".to_string()
            } else {
                format!("file too short to be a capture ({avail} bytes)")
            };
            return Err(unreadable(CaptureErrorKind::Corrupt(what)));
        }
        let magic = b4(s.buf.bytes(), 0);
        let le = u32::from_le_bytes(magic);
        let be = u32::from_be_bytes(magic);
        let pcap_kind = |m: u32| match m {
            0xa1b2_c3d4 => Some(CaptureFormat::Pcap),
            0xa1b2_3c4d => Some(CaptureFormat::PcapNanos),
            0xa1b2_cd34 => Some(CaptureFormat::PcapModified),
            _ => None,
        };
        if le == NG_SHB {
            s.format = CaptureFormat::Pcapng;
            // The first block is the section header: read it now so that a bad one is
            // reported as unreadable.
            match s.ng_step() {
                Ok(_) => {}
                Err(e) => return Err(e),
            }
        } else if let Some((fmt, big)) = pcap_kind(le)
            .map(|f| (f, false))
            .or_else(|| pcap_kind(be).map(|f| (f, true)))
        {
            s.format = fmt;
            s.be = big;
            if !s.fill(PCAP_HDR) {
                return Err(s.end_error(0));
            }
            let hdr = s.buf.bytes().get(..PCAP_HDR).unwrap_or(&[]);
            let network = rd32(big, b4(hdr, 20));
            s.pcap_linktype = LinkType(network & 0xFFFF);
            s.rec_hdr = if fmt == CaptureFormat::PcapModified {
                24
            } else {
                16
            };
            s.ns_mul = if fmt == CaptureFormat::PcapNanos {
                1
            } else {
                1000
            };
            s.ts_digits = if fmt == CaptureFormat::PcapNanos {
                9
            } else {
                6
            };
            s.pos = PCAP_HDR;
        } else {
            return Err(unreadable(CaptureErrorKind::BadMagic(magic)));
        }
        Ok(s)
    }

    /// The name given at open (the path, or "-").
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The container format found from the magic.
    pub fn format(&self) -> CaptureFormat {
        self.format
    }

    /// True when the input is gzip-compressed.
    pub fn is_gzip(&self) -> bool {
        self.gzip
    }

    /// Packets (records) returned so far.
    pub fn packets_read(&self) -> u64 {
        self.packets
    }

    /// Read the next packet and keep it as [`FileSource::current`]. `Ok(false)` at the
    /// end of the input (and forever after an error).
    pub fn advance(&mut self) -> Result<bool, CaptureError> {
        self.cur = None;
        if self.done {
            return Ok(false);
        }
        let r = match self.format {
            CaptureFormat::Pcapng => loop {
                match self.ng_step() {
                    Ok(Step::Packet) => break Ok(true),
                    Ok(Step::Block) => {}
                    Ok(Step::End) => break Ok(false),
                    Err(e) => break Err(e),
                }
            },
            _ => self.pcap_next(),
        };
        match r {
            Ok(true) => {
                if let Store::Mapped(m) = &mut self.buf {
                    let shape = match self.format {
                        CaptureFormat::Pcapng => Shape {
                            len_at: 4,
                            extra: 0,
                            big_endian: self.be,
                            max: MAX_BLOCK,
                        },
                        _ => Shape {
                            len_at: 8,
                            extra: self.rec_hdr,
                            big_endian: self.be,
                            max: MAX_CAPLEN,
                        },
                    };
                    m.next_at(self.pos, shape);
                }
                Ok(true)
            }
            Ok(false) => {
                self.done = true;
                Ok(false)
            }
            Err(e) => {
                self.done = true;
                self.cur = None;
                Err(e)
            }
        }
    }

    /// The packet read by the last successful [`FileSource::advance`].
    #[inline]
    pub fn current(&self) -> Option<Packet<'_>> {
        let m = self.cur?;
        Some(Packet {
            ts: m.ts,
            linktype: m.linktype,
            data: self
                .buf
                .bytes()
                .get(m.start..m.start + m.len)
                .unwrap_or(&[]),
            orig_len: m.orig_len,
        })
    }

    /// Timestamp of the current packet.
    #[inline]
    pub fn current_ts(&self) -> Option<Timestamp> {
        self.cur.map(|m| m.ts)
    }

    /// Make at least `need` unread bytes available in the buffer. False when the input
    /// ended (or failed: see `read_err`) first.
    #[inline]
    fn fill(&mut self, need: usize) -> bool {
        if self.end - self.pos >= need {
            return true;
        }
        self.refill(need)
    }

    #[cold]
    #[inline(never)]
    fn refill(&mut self, need: usize) -> bool {
        let buf = match &mut self.buf {
            Store::Read(buf) => buf,
            Store::Mapped(m) => {
                if self.eof {
                    return false;
                }
                let from = self.base + self.pos as u64;
                if !m.slide(from, need) {
                    self.read_err = Some(io::Error::other(format!(
                        "cannot map the file from offset {from} (--no-mmap reads it instead)"
                    )));
                    self.eof = true;
                    return false;
                }
                self.base = m.start();
                self.pos = (from - m.start()) as usize;
                self.end = m.bytes().len();
                self.eof = m.at_end();
                return self.end - self.pos >= need;
            }
        };
        if self.pos > 0 {
            buf.copy_within(self.pos..self.end, 0);
            self.base += self.pos as u64;
            self.end -= self.pos;
            self.pos = 0;
        }
        while self.end < need {
            if self.eof {
                return false;
            }
            if self.end == buf.len() {
                // Grow only as data actually arrives, so that a lying length field in
                // a short input cannot make us allocate much.
                let new_len = need.min(buf.len().saturating_mul(2)).max(self.end + 1);
                buf.resize(new_len, 0);
            }
            let space = match buf.get_mut(self.end..) {
                Some(s) => s,
                None => return false,
            };
            let room = space.len();
            match self.input.read(space) {
                Ok(0) => self.eof = true,
                Ok(n) => self.end += n.min(room),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    self.read_err = Some(e);
                    self.eof = true;
                }
            }
        }
        true
    }

    /// Throw away `n` bytes from the current position (which may be more than the
    /// buffer holds). False when the input ends first.
    fn discard(&mut self, mut n: u64) -> bool {
        loop {
            let avail = (self.end - self.pos) as u64;
            if avail >= n {
                self.pos += n as usize;
                return true;
            }
            n -= avail;
            self.base += self.end as u64;
            self.pos = 0;
            self.end = 0;
            if !self.fill(1) {
                return false;
            }
        }
    }

    fn error(&self, offset: u64, kind: CaptureErrorKind) -> CaptureError {
        CaptureError {
            path: self.name.clone(),
            offset,
            packet: self.packets + 1,
            kind,
        }
    }

    fn corrupt(&self, offset: u64, what: String) -> CaptureError {
        self.error(offset, CaptureErrorKind::Corrupt(what))
    }

    /// The input ended (or failed) inside a record starting at stream offset `offset`.
    #[cold]
    fn end_error(&mut self, offset: u64) -> CaptureError {
        match self.read_err.take() {
            Some(e) => self.error(offset, CaptureErrorKind::Io(e)),
            None => self.error(offset, CaptureErrorKind::Truncated),
        }
    }

    /// The input ended at a record boundary: clean unless reading failed.
    fn clean_end(&mut self) -> Result<bool, CaptureError> {
        if self.end > self.pos {
            let off = self.base + self.pos as u64;
            return Err(self.end_error(off));
        }
        match self.read_err.take() {
            Some(e) => {
                let off = self.base + self.pos as u64;
                Err(self.error(off, CaptureErrorKind::Io(e)))
            }
            None => Ok(false),
        }
    }

    #[inline]
    fn pcap_next(&mut self) -> Result<bool, CaptureError> {
        let hl = self.rec_hdr;
        loop {
            let avail = self.buf.bytes().get(self.pos..self.end).unwrap_or(&[]);
            let need = match avail.get(..16) {
                Some(&[s0, s1, s2, s3, f0, f1, f2, f3, c0, c1, c2, c3, o0, o1, o2, o3])
                    if avail.len() >= hl =>
                {
                    let be = self.be;
                    let caplen = rd32(be, [c0, c1, c2, c3]) as usize;
                    if caplen > MAX_CAPLEN {
                        let off = self.base + self.pos as u64;
                        return Err(self
                            .corrupt(off, format!("record length {caplen} exceeds {MAX_CAPLEN}")));
                    }
                    let total = hl + caplen;
                    if avail.len() >= total {
                        let secs = rd32(be, [s0, s1, s2, s3]) as i64;
                        let frac = rd32(be, [f0, f1, f2, f3]) as i64;
                        let start = self.pos + hl;
                        self.cur = Some(Meta {
                            start,
                            len: caplen,
                            ts: Timestamp(secs * 1_000_000_000 + frac * self.ns_mul),
                            linktype: self.pcap_linktype,
                            orig_len: rd32(be, [o0, o1, o2, o3]),
                        });
                        self.pos += total;
                        self.packets += 1;
                        return Ok(true);
                    }
                    total
                }
                _ => hl,
            };
            if !self.fill(need) {
                if need == hl && self.end == self.pos {
                    return self.clean_end();
                }
                let off = self.base + self.pos as u64;
                return Err(self.end_error(off));
            }
        }
    }

    /// Process one pcapng block.
    fn ng_step(&mut self) -> Result<Step, CaptureError> {
        if !self.fill(12) {
            if self.end == self.pos {
                return self.clean_end().map(|_| Step::End);
            }
            let off = self.base + self.pos as u64;
            return Err(self.end_error(off));
        }
        let off = self.base + self.pos as u64;
        let head = self.buf.bytes().get(self.pos..self.pos + 12).unwrap_or(&[]);
        let raw_type = b4(head, 0);
        if u32::from_le_bytes(raw_type) == NG_SHB {
            self.be = match b4(head, 8) {
                [0x1a, 0x2b, 0x3c, 0x4d] => true,
                [0x4d, 0x3c, 0x2b, 0x1a] => false,
                m => {
                    return Err(self.corrupt(
                        off,
                        format!(
                            "bad pcapng byte-order magic {:02x}{:02x}{:02x}{:02x}",
                            m[0], m[1], m[2], m[3]
                        ),
                    ))
                }
            };
        }
        let be = self.be;
        let btype = rd32(be, raw_type);
        let blen32 = rd32(be, b4(head, 4));
        let blen = blen32 as usize;
        let min = match btype {
            NG_SHB => 28,
            NG_IDB => 20,
            NG_EPB | NG_PB => 32,
            NG_SPB => 16,
            _ => 12,
        };
        if blen < min || blen % 4 != 0 {
            return Err(self.corrupt(
                off,
                format!("bad pcapng block length {blen} (block type {btype:#x})"),
            ));
        }
        let known = matches!(btype, NG_SHB | NG_IDB | NG_EPB | NG_PB | NG_SPB);
        if !known {
            // Skipped blocks may be any size: stream through them.
            if !self.discard(blen as u64 - 4) || !self.fill(4) {
                return Err(self.end_error(off));
            }
            let trailer = rd32(be, b4(self.buf.bytes(), self.pos));
            if trailer != blen32 {
                return Err(self.corrupt(
                    off,
                    format!("pcapng block length mismatch ({blen} vs trailing {trailer})"),
                ));
            }
            self.pos += 4;
            return Ok(Step::Block);
        }
        if blen > MAX_BLOCK {
            return Err(self.corrupt(
                off,
                format!("pcapng block length {blen} exceeds {MAX_BLOCK}"),
            ));
        }
        if !self.fill(blen) {
            return Err(self.end_error(off));
        }
        let pos = self.pos;
        let block = self.buf.bytes().get(pos..pos + blen).unwrap_or(&[]);
        let trailer = rd32(be, b4(block, blen - 4));
        if trailer != blen32 {
            return Err(self.corrupt(
                off,
                format!("pcapng block length mismatch ({blen} vs trailing {trailer})"),
            ));
        }
        match btype {
            NG_EPB | NG_PB => {
                let (ifid, hdr) = if btype == NG_EPB {
                    (rd32(be, b4(block, 8)) as usize, 28)
                } else {
                    (rd16(be, b2(block, 8)) as usize, 28)
                };
                let hi = rd32(be, b4(block, 12)) as u64;
                let lo = rd32(be, b4(block, 16)) as u64;
                let caplen = rd32(be, b4(block, 20)) as usize;
                let orig_len = rd32(be, b4(block, 24));
                if caplen > MAX_CAPLEN || caplen > blen - 32 {
                    return Err(self.corrupt(
                        off,
                        format!("packet length {caplen} exceeds its block ({blen} bytes) or {MAX_CAPLEN}"),
                    ));
                }
                let Some(ifc) = self.ifaces.get(ifid) else {
                    return Err(
                        self.corrupt(off, format!("packet for undeclared interface {ifid}"))
                    );
                };
                let ts = ifc.ts((hi << 32) | lo);
                self.cur = Some(Meta {
                    start: pos + hdr,
                    len: caplen,
                    ts,
                    linktype: ifc.linktype,
                    orig_len,
                });
                self.last_ts = ts;
                self.pos += blen;
                self.packets += 1;
                Ok(Step::Packet)
            }
            NG_SPB => {
                let orig_len = rd32(be, b4(block, 8));
                let Some(ifc) = self.ifaces.first() else {
                    return Err(
                        self.corrupt(off, "simple packet block before any interface".into())
                    );
                };
                let mut caplen = (orig_len as usize).min(blen - 16);
                if ifc.snaplen != 0 {
                    caplen = caplen.min(ifc.snaplen as usize);
                }
                if caplen > MAX_CAPLEN {
                    return Err(
                        self.corrupt(off, format!("packet length {caplen} exceeds {MAX_CAPLEN}"))
                    );
                }
                self.cur = Some(Meta {
                    start: pos + 12,
                    len: caplen,
                    ts: self.last_ts,
                    linktype: ifc.linktype,
                    orig_len,
                });
                self.pos += blen;
                self.packets += 1;
                Ok(Step::Packet)
            }
            NG_IDB => {
                let linktype = LinkType(rd16(be, b2(block, 8)) as u32);
                let snaplen = rd32(be, b4(block, 12));
                let mut units: u64 = 1_000_000;
                let mut offset: i64 = 0;
                let mut opts = block.get(16..blen - 4).unwrap_or(&[]);
                while let Some(&[c0, c1, l0, l1]) = opts.get(..4) {
                    let code = rd16(be, [c0, c1]);
                    let len = rd16(be, [l0, l1]) as usize;
                    if code == 0 {
                        break;
                    }
                    let Some(val) = opts.get(4..4 + len) else {
                        break; // malformed options: keep what we have
                    };
                    match (code, val) {
                        (9, &[r, ..]) => {
                            let n = (r & 0x7f) as u32;
                            let u = if r & 0x80 != 0 {
                                1u64.checked_shl(n).filter(|_| n < 64)
                            } else {
                                10u64.checked_pow(n)
                            };
                            match u {
                                Some(u) if u > 0 => units = u,
                                _ => {
                                    return Err(self
                                        .corrupt(off, format!("unsupported if_tsresol {r:#04x}")))
                                }
                            }
                        }
                        (14, &[a, b, c, d, e, f, g, h]) => {
                            let v = [a, b, c, d, e, f, g, h];
                            offset = if be {
                                i64::from_be_bytes(v)
                            } else {
                                i64::from_le_bytes(v)
                            };
                        }
                        _ => {}
                    }
                    let padded = (len + 3) & !3;
                    opts = opts.get(4 + padded..).unwrap_or(&[]);
                }
                if self.ifaces.len() >= MAX_INTERFACES {
                    return Err(self.corrupt(off, "too many interfaces".into()));
                }
                let ns_mul = if units <= 1_000_000_000 && 1_000_000_000 % units == 0 {
                    1_000_000_000 / units
                } else {
                    0
                };
                self.ifaces.push(Iface {
                    linktype,
                    snaplen,
                    units,
                    ns_mul,
                    offset,
                });
                self.ts_digits = self.ts_digits.max(digits_for_units(units));
                self.pos += blen;
                Ok(Step::Block)
            }
            _ => {
                // NG_SHB
                let major = rd16(be, b2(block, 12));
                if major != 1 {
                    return Err(self.corrupt(off, format!("unsupported pcapng version {major}")));
                }
                self.ifaces.clear();
                self.pos += blen;
                Ok(Step::Block)
            }
        }
    }
}

impl PacketSource for FileSource {
    #[inline]
    fn next_packet(&mut self) -> Result<Option<Packet<'_>>, CaptureError> {
        if self.advance()? {
            Ok(self.current())
        } else {
            Ok(None)
        }
    }

    fn ts_digits(&self) -> u8 {
        self.ts_digits
    }

    fn progress(&self) -> (u64, Option<u64>) {
        let done = if self.gzip {
            self.input.raw_count()
        } else {
            self.base + self.pos as u64
        };
        (done, self.total)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::capture::testutil::{gzip, payload, Ng, Pcap};
    use proptest::prelude::*;
    use std::io::Cursor;

    type Got = Vec<(Timestamp, LinkType, Vec<u8>, u32)>;

    /// A reader that returns at most `step` bytes per call.
    struct Slow {
        data: Vec<u8>,
        pos: usize,
        step: usize,
    }
    impl Read for Slow {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            let n = buf.len().min(self.step).min(self.data.len() - self.pos);
            buf[..n].copy_from_slice(&self.data[self.pos..self.pos + n]);
            self.pos += n;
            Ok(n)
        }
    }

    fn open_bytes(b: &[u8]) -> Result<FileSource, CaptureError> {
        FileSource::from_reader("t.pcap", Box::new(Cursor::new(b.to_vec())))
    }

    fn open_small(b: &[u8], step: usize) -> Result<FileSource, CaptureError> {
        let r = Slow {
            data: b.to_vec(),
            pos: 0,
            step,
        };
        FileSource::with_capacity("t.pcap", Box::new(r), None, 64)
    }

    /// Every packet, then the error if any; checks that the source stays ended.
    fn drain(s: &mut FileSource) -> (Got, Option<CaptureError>) {
        let mut got = Vec::new();
        let mut err = None;
        loop {
            match s.next_packet() {
                Ok(Some(p)) => got.push((p.ts, p.linktype, p.data.to_vec(), p.orig_len)),
                Ok(None) => break,
                Err(e) => {
                    err = Some(e);
                    break;
                }
            }
        }
        assert!(matches!(s.next_packet(), Ok(None)));
        assert!(matches!(s.next_packet(), Ok(None)));
        (got, err)
    }

    fn read_ok(b: &[u8]) -> (Got, u8) {
        let mut s = open_bytes(b).unwrap();
        let (got, err) = drain(&mut s);
        assert!(err.is_none(), "{}", err.unwrap());
        // Same result through a tiny buffer and a reader that trickles.
        for step in [1, 3, 7, 100] {
            let mut s2 = open_small(b, step).unwrap();
            let (got2, err2) = drain(&mut s2);
            assert!(err2.is_none());
            assert_eq!(got, got2);
        }
        (got, s.ts_digits())
    }

    fn pcap3(be: bool, nanos: bool) -> Pcap {
        let f = if nanos { 123_456_789 } else { 123_456 };
        Pcap::new(be, nanos, 1)
            .rec(1_600_000_000, f, &payload(1, 60))
            .rec(1_600_000_001, 0, &payload(2, 1514))
            .rec(1_600_000_002, 5, &[])
    }

    #[test]
    fn pcap_both_orders_and_resolutions() {
        for be in [false, true] {
            for nanos in [false, true] {
                let p = pcap3(be, nanos);
                let (got, digits) = read_ok(&p.out);
                assert_eq!(digits, if nanos { 9 } else { 6 });
                assert_eq!(got.len(), 3);
                let ns0 = if nanos { 123_456_789 } else { 123_456_000 };
                assert_eq!(got[0].0, Timestamp::from_parts(1_600_000_000, ns0));
                assert_eq!(got[0].1, LinkType::ETHERNET);
                assert_eq!(got[0].2, payload(1, 60));
                assert_eq!(got[0].3, 64);
                assert_eq!(got[1].2.len(), 1514);
                let ns2 = if nanos { 5 } else { 5000 };
                assert_eq!(got[2].0, Timestamp::from_parts(1_600_000_002, ns2));
                assert!(got[2].2.is_empty());
                let s = open_bytes(&p.out).unwrap();
                let want = if nanos {
                    CaptureFormat::PcapNanos
                } else {
                    CaptureFormat::Pcap
                };
                assert_eq!(s.format(), want);
            }
        }
    }

    #[test]
    fn pcap_modified_magic() {
        // Kuznetzov format: 8 more bytes per record header.
        let mut out = Pcap::new(false, false, 1).out;
        out[..4].copy_from_slice(&0xa1b2_cd34u32.to_le_bytes());
        for i in 0..2u32 {
            for v in [10 + i, 7, 4, 4] {
                out.extend_from_slice(&v.to_le_bytes());
            }
            out.extend_from_slice(&[0; 8]);
            out.extend_from_slice(b"abcd");
        }
        let (got, _) = read_ok(&out);
        assert_eq!(got.len(), 2);
        assert_eq!(got[1].0, Timestamp::from_parts(11, 7000));
        assert_eq!(got[1].2, b"abcd");
    }

    /// Two sections (second big-endian), interfaces of several link types and
    /// resolutions, EPB/SPB/PB, blocks to skip.
    fn ng_sample() -> (Ng, Vec<usize>) {
        let mut blocks = Vec::new();
        let mut ng = Ng::new();
        let mut mark = |ng: &Ng| blocks.push(ng.out.len());
        mark(&ng);
        ng = ng.shb(false);
        mark(&ng);
        ng = ng.idb(1, 0, None, None); // µs by default
        mark(&ng);
        ng = ng.idb(101, 0, Some(9), Some(10)); // ns, +10 s
        mark(&ng);
        ng = ng.epb(0, 1_600_000_000_123_456, &payload(1, 54));
        mark(&ng);
        ng = ng.block(0x4000_0BAD, b"custom block body"); // custom
        mark(&ng);
        ng = ng.block(
            4,
            &[1, 0, 8, 0, 10, 0, 0, 1, b'h', b'o', b's', b't', 0, 0, 0, 0],
        ); // NRB
        mark(&ng);
        ng = ng.epb(1, 1_600_000_001_000_000_007, &payload(2, 1500));
        mark(&ng);
        ng = ng.block(5, &[0; 20]); // ISB
        mark(&ng);
        ng = ng.spb(61, &payload(3, 61));
        mark(&ng);
        ng = ng.pb(1, 1_600_000_002_000_000_000, &payload(4, 40));
        mark(&ng);
        ng = ng.shb(true);
        mark(&ng);
        ng = ng.idb(113, 64, Some(0x80 | 20), None); // 2^-20 s
        mark(&ng);
        ng = ng.epb(0, (5 << 20) | (1 << 19), &payload(5, 30));
        mark(&ng);
        ng = ng.spb(100, &payload(6, 100));
        mark(&ng);
        (ng, blocks)
    }

    #[test]
    fn pcapng_sections_interfaces_blocks() {
        let (ng, _) = ng_sample();
        let (got, digits) = read_ok(&ng.out);
        assert_eq!(digits, 9);
        assert_eq!(got.len(), 6);
        assert_eq!(got[0].0, Timestamp::from_parts(1_600_000_000, 123_456_000));
        assert_eq!(got[0].1, LinkType::ETHERNET);
        assert_eq!(got[0].2, payload(1, 54));
        assert_eq!(got[0].3, 64);
        assert_eq!(got[1].0, Timestamp::from_parts(1_600_000_011, 7));
        assert_eq!(got[1].1, LinkType::RAW);
        assert_eq!(got[1].2, payload(2, 1500));
        // SPB: interface 0, the previous packet's time
        assert_eq!(got[2].0, got[1].0);
        assert_eq!(got[2].1, LinkType::ETHERNET);
        assert_eq!(got[2].2, payload(3, 61));
        assert_eq!(got[2].3, 61);
        // obsolete packet block
        assert_eq!(got[3].0, Timestamp::from_parts(1_600_000_012, 0));
        assert_eq!(got[3].1, LinkType::RAW);
        assert_eq!(got[3].2, payload(4, 40));
        // second, big-endian section: interfaces start again
        assert_eq!(got[4].0, Timestamp::from_parts(5, 500_000_000));
        assert_eq!(got[4].1, LinkType::LINUX_SLL);
        assert_eq!(got[4].2, payload(5, 30));
        // SPB cut to the interface's snaplen
        assert_eq!(got[5].2, payload(6, 64));
        assert_eq!(got[5].3, 100);
    }

    #[test]
    fn pcapng_interfaces_reset_per_section() {
        let ng = Ng::new()
            .shb(false)
            .idb(1, 0, None, None)
            .idb(1, 0, None, None)
            .epb(1, 1, b"ok")
            .shb(true)
            .idb(1, 0, None, None);
        let at = ng.out.len();
        let ng = ng.epb(1, 2, b"no");
        let mut s = open_bytes(&ng.out).unwrap();
        let (got, err) = drain(&mut s);
        assert_eq!(got.len(), 1);
        let err = err.unwrap();
        assert_eq!(err.offset, at as u64);
        assert_eq!(err.packet, 2);
        assert!(err.to_string().contains("interface 1"), "{err}");
    }

    #[test]
    fn gzip_of_each_format() {
        let (ng, _) = ng_sample();
        for plain in [pcap3(false, false).out, pcap3(true, true).out, ng.out] {
            let (want, _) = read_ok(&plain);
            let gz = gzip(&plain);
            let (got, _) = read_ok(&gz);
            assert_eq!(got, want);
            let s = open_bytes(&gz).unwrap();
            assert!(s.is_gzip());
            // several gzip members one after another
            let (a, b) = plain.split_at(plain.len() / 3);
            let mut two = gzip(a);
            two.extend_from_slice(&gzip(b));
            let (got, _) = read_ok(&two);
            assert_eq!(got, want);
        }
    }

    /// Cut `file` at every byte offset and check what is read. `blocks` are the record
    /// (block) start offsets, `packets` the start offsets of packet records.
    fn check_cuts(file: &[u8], header: usize, blocks: &[usize], packets: &[usize]) {
        let ends: Vec<usize> = blocks
            .iter()
            .skip(1)
            .copied()
            .chain(std::iter::once(file.len()))
            .collect();
        for cut in 0..=file.len() {
            let part = &file[..cut];
            for small in [false, true] {
                let r = if small {
                    open_small(part, 5)
                } else {
                    open_bytes(part)
                };
                if cut < header {
                    let e = r.err().expect("header cut must fail");
                    assert!(e.is_unreadable(), "cut {cut}: {e}");
                    assert_eq!(e.offset, 0);
                    continue;
                }
                let mut s = r.unwrap_or_else(|e| panic!("cut {cut}: {e}"));
                let (got, err) = drain(&mut s);
                let complete = packets
                    .iter()
                    .filter(|&&p| {
                        let i = blocks.iter().position(|&b| b == p).unwrap();
                        ends[i] <= cut
                    })
                    .count();
                assert_eq!(got.len(), complete, "cut {cut}");
                let boundary = cut == file.len() || blocks.contains(&cut);
                match err {
                    None => assert!(boundary, "cut {cut}: no error inside a record"),
                    Some(e) => {
                        assert!(!boundary, "cut {cut}: error at a boundary: {e}");
                        let start = blocks.iter().rev().find(|&&b| b < cut).unwrap();
                        assert_eq!(e.offset, *start as u64, "cut {cut}");
                        assert_eq!(e.packet, complete as u64 + 1, "cut {cut}");
                        assert!(matches!(e.kind, CaptureErrorKind::Truncated), "{e}");
                        assert!(!e.is_unreadable());
                    }
                }
            }
        }
    }

    #[test]
    fn pcap_truncated_at_every_offset() {
        for (be, nanos) in [(false, false), (true, true)] {
            let p = pcap3(be, nanos);
            // the header counts as the first "block"; records are the rest
            let mut all = vec![0];
            all.extend_from_slice(&p.starts);
            check_cuts(&p.out, 24, &all, &p.starts);
        }
    }

    #[test]
    fn pcapng_truncated_at_every_offset() {
        let (ng, blocks) = ng_sample();
        let shb_len = blocks[1];
        check_cuts(&ng.out, shb_len, &blocks, &ng.starts);
    }

    #[test]
    fn gzip_truncated_anywhere_never_panics() {
        let p = pcap3(false, false);
        let full = read_ok(&p.out).0;
        let gz = gzip(&p.out);
        for cut in 0..gz.len() {
            match open_bytes(&gz[..cut]) {
                Err(e) => assert!(e.is_unreadable(), "cut {cut}: {e}"),
                Ok(mut s) => {
                    let (got, err) = drain(&mut s);
                    assert!(got.len() < full.len() || err.is_some());
                    assert_eq!(got[..], full[..got.len()]);
                }
            }
        }
    }

    #[test]
    fn empty_short_and_bad_magic_are_unreadable() {
        let e = open_bytes(b"").err().unwrap();
        assert!(e.is_unreadable());
        assert!(e.to_string().contains("empty"), "{e}");
        let e = open_bytes(b"\xd4\xc3").err().unwrap();
        assert!(e.is_unreadable());
        let e = open_bytes(b"GET / HTTP/1.1\r\n\r\n").err().unwrap();
        assert!(e.is_unreadable());
        assert!(matches!(e.kind, CaptureErrorKind::BadMagic(m) if &m == b"GET "));
        assert!(e.to_string().starts_with("t.pcap: not a pcap"), "{e}");
        let e = open_bytes(&gzip(b"plain text, not a capture"))
            .err()
            .unwrap();
        assert!(e.is_unreadable());
        let e = FileSource::open("/nonexistent/x.pcap").err().unwrap();
        assert!(e.is_unreadable());
        assert!(e.to_string().starts_with("/nonexistent/x.pcap: "), "{e}");
    }

    #[test]
    fn absurd_record_length() {
        let mut p = Pcap::new(false, false, 1).rec(1, 0, b"good");
        let at = p.out.len();
        p.u32(2);
        p.u32(0);
        p.u32(300_000);
        p.u32(300_000);
        p.out.extend_from_slice(&[0; 64]);
        let mut s = open_bytes(&p.out).unwrap();
        let (got, err) = drain(&mut s);
        assert_eq!(got.len(), 1);
        let e = err.unwrap();
        assert_eq!((e.offset, e.packet), (at as u64, 2));
        assert!(matches!(e.kind, CaptureErrorKind::Corrupt(_)));
        assert!(!e.is_unreadable());
        assert!(e.to_string().contains(&format!("byte offset {at}")), "{e}");
    }

    #[test]
    fn garbage_in_the_middle() {
        let p = pcap3(false, false);
        let mut out = p.out[..p.starts[2]].to_vec();
        let at = out.len();
        out.extend_from_slice(&[0xff; 40]);
        out.extend_from_slice(&p.out[p.starts[2]..]);
        let mut s = open_bytes(&out).unwrap();
        let (got, err) = drain(&mut s);
        assert_eq!(got.len(), 2);
        let e = err.unwrap();
        assert_eq!((e.offset, e.packet), (at as u64, 3));
    }

    #[test]
    fn pcapng_bad_block_lengths() {
        let base = Ng::new().shb(false).idb(1, 0, None, None).epb(0, 1, b"x");
        let at = base.out.len() as u64;
        let cases: Vec<(Vec<u8>, &str)> = vec![
            (
                [6u32, 8, 0].iter().flat_map(|v| v.to_le_bytes()).collect(),
                "length 8",
            ),
            (
                [6u32, 34, 0, 0, 0, 0, 0, 0, 34]
                    .iter()
                    .flat_map(|v| v.to_le_bytes())
                    .collect(),
                "length 34",
            ),
            (
                [7u32, 16, 0, 20]
                    .iter()
                    .flat_map(|v| v.to_le_bytes())
                    .collect(),
                "mismatch",
            ),
            (
                [6u32, 32, 0, 0, 0, 100, 100, 32]
                    .iter()
                    .flat_map(|v| v.to_le_bytes())
                    .collect(),
                "exceeds",
            ),
            (
                [6u32, 0xffff_fff0, 0]
                    .iter()
                    .flat_map(|v| v.to_le_bytes())
                    .collect(),
                "exceeds",
            ),
            (
                [1u32, 28, 1, 0, 0x10000 | 9, 0x7f, 28]
                    .iter()
                    .flat_map(|v| v.to_le_bytes())
                    .collect(),
                "if_tsresol",
            ),
        ];
        for (tail, what) in cases {
            let mut out = base.out.clone();
            out.extend_from_slice(&tail);
            out.extend_from_slice(&Ng::new().shb(false).out);
            let mut s = open_bytes(&out).unwrap();
            let (got, err) = drain(&mut s);
            assert_eq!(got.len(), 1);
            let e = err.unwrap();
            assert_eq!((e.offset, e.packet), (at, 2), "{what}");
            assert!(e.to_string().contains(what), "{what}: {e}");
        }
    }

    #[test]
    fn large_skipped_block_streams_through_small_buffer() {
        let big = vec![7u8; 10_000];
        let ng = Ng::new()
            .shb(false)
            .idb(1, 0, None, None)
            .block(0x4000_0001, &big)
            .epb(0, 1, b"after");
        let (got, _) = read_ok(&ng.out);
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].2, b"after");
        // a large packet grows the small buffer
        let p = Pcap::new(false, false, 1).rec(1, 0, &payload(9, 70_000));
        let (got, _) = read_ok(&p.out);
        assert_eq!(got[0].2, payload(9, 70_000));
    }

    /// Packets, the error (as text) and the final progress of a file read in `mode`.
    fn read_file(path: &str, mode: ReadMode) -> (Got, Option<String>, (u64, Option<u64>), bool) {
        let mut s = FileSource::open_with(path, 128 * 1024, mode).unwrap();
        let mapped = matches!(s.buf, Store::Mapped(_));
        let (got, err) = drain(&mut s);
        (got, err.map(|e| e.to_string()), s.progress(), mapped)
    }

    #[test]
    fn mapped_files_read_as_read_files() {
        use crate::capture::mapped::WINDOW;
        // Records of every size up to the largest, across several windows; then the same
        // file cut inside a record, and with a bad record length, in pcap and pcapng.
        let sizes = [60usize, 1514, 9000, 70_000, MAX_CAPLEN, 3, 40_000];
        let mut pcap = Pcap::new(false, true, 1);
        let mut ng = Ng::new().shb(false).idb(1, 0, Some(9), None);
        let mut i = 0usize;
        while pcap.out.len() < 3 * WINDOW + 12_345 {
            let data = payload((i % 251) as u8, sizes[i % sizes.len()]);
            pcap = pcap.rec(i as u32, 7, &data);
            ng = ng.epb(0, i as u64 * 1_000, &data);
            i += 1;
        }
        let dir = tempfile::tempdir().unwrap();
        let mut cut = pcap.out.clone();
        cut.truncate(cut.len() - 1000);
        let mut bad = pcap.out.clone();
        // The caplen of a record well inside the second window: bigger than MAX_CAPLEN.
        let mut off = PCAP_HDR;
        while off < WINDOW + 5000 {
            off += 16 + u32::from_le_bytes(b4(&bad, off + 8)) as usize;
        }
        bad[off + 8..off + 12].copy_from_slice(&(MAX_CAPLEN as u32 + 1).to_le_bytes());
        for (name, bytes) in [
            ("p", &pcap.out),
            ("ng", &ng.out),
            ("cut", &cut),
            ("bad", &bad),
        ] {
            let path = dir.path().join(name);
            std::fs::write(&path, bytes).unwrap();
            let path = path.to_str().unwrap();
            let (got_map, err_map, prog_map, mapped) = read_file(path, ReadMode::Map);
            let (got_read, err_read, prog_read, read_mapped) = read_file(path, ReadMode::Read);
            assert!(mapped && !read_mapped, "{name}");
            assert_eq!(got_map.len(), got_read.len(), "{name}");
            assert!(got_map == got_read, "{name}: packets differ");
            assert_eq!(err_map, err_read, "{name}");
            assert_eq!(prog_map, prog_read, "{name}");
            assert!(got_map.len() > 50, "{name}");
        }
    }

    #[test]
    fn progress_and_total() {
        let p = pcap3(false, false);
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.pcap");
        std::fs::write(&path, &p.out).unwrap();
        let mut s = FileSource::open(path.to_str().unwrap()).unwrap();
        let total = Some(p.out.len() as u64);
        assert_eq!(s.progress(), (24, total));
        while s.next_packet().unwrap().is_some() {}
        assert_eq!(s.progress(), (p.out.len() as u64, total));
        let gz = gzip(&p.out);
        std::fs::write(&path, &gz).unwrap();
        let mut s = FileSource::open(path.to_str().unwrap()).unwrap();
        while s.next_packet().unwrap().is_some() {}
        assert_eq!(s.progress(), (gz.len() as u64, Some(gz.len() as u64)));
    }

    fn run_to_end(bytes: &[u8]) {
        for small in [false, true] {
            let r = if small {
                open_small(bytes, 13)
            } else {
                open_bytes(bytes)
            };
            if let Ok(mut s) = r {
                let mut n = 0u64;
                loop {
                    match s.next_packet() {
                        Ok(Some(p)) => {
                            assert!(p.data.len() <= MAX_CAPLEN);
                            n += 1;
                            assert!(n <= bytes.len() as u64);
                        }
                        Ok(None) => break,
                        Err(e) => {
                            assert!(e.offset <= bytes.len() as u64 + MAX_BLOCK as u64);
                            assert!(matches!(s.next_packet(), Ok(None)));
                            break;
                        }
                    }
                }
            }
        }
    }

    proptest! {
        #![proptest_config(crate::testing::prop_config(300))]
        #[test]
        fn random_bytes_never_panic(prefix in 0usize..4, body in proptest::collection::vec(any::<u8>(), 0..600)) {
            let magics: [&[u8]; 4] = [b"", b"\xd4\xc3\xb2\xa1", b"\xa1\xb2\x3c\x4d", b"\x0a\x0d\x0d\x0a"];
            let mut bytes = magics[prefix].to_vec();
            bytes.extend_from_slice(&body);
            run_to_end(&bytes);
        }

        #[test]
        fn mutated_files_never_panic(
            which in 0usize..3,
            muts in proptest::collection::vec((any::<usize>(), any::<u8>()), 1..8),
            cut in any::<usize>(),
        ) {
            let mut bytes = match which {
                0 => pcap3(false, false).out,
                1 => pcap3(true, true).out,
                _ => ng_sample().0.out,
            };
            for (at, v) in muts {
                let i = at % bytes.len();
                bytes[i] = v;
            }
            let cut = cut % (bytes.len() + 1);
            run_to_end(&bytes[..cut]);
            run_to_end(&bytes);
        }
    }

    proptest! {
        #![proptest_config(crate::testing::prop_config(64))]
        /// Damage anywhere in a file big enough to be mapped reads the same mapped as read:
        /// the same packets, the same error at the same offset.
        #[test]
        fn mutated_mapped_files_read_as_read_files(
            ng in any::<bool>(),
            muts in proptest::collection::vec((any::<usize>(), any::<u8>()), 1..6),
            cut in any::<usize>(),
        ) {
            let mut bytes = if ng {
                let mut n = Ng::new().shb(false).idb(1, 0, None, None);
                for i in 0..900u64 {
                    n = n.epb(0, i, &payload(i as u8, 1000 + (i as usize * 37) % 1400));
                }
                n.out
            } else {
                let mut p = Pcap::new(false, false, 1);
                for i in 0..900u32 {
                    p = p.rec(i, 0, &payload(i as u8, 1000 + (i as usize * 37) % 1400));
                }
                p.out
            };
            for (at, v) in muts {
                let i = at % bytes.len();
                bytes[i] = v;
            }
            let cut = crate::capture::mapped::MIN_MAP as usize
                + cut % (bytes.len() + 1 - crate::capture::mapped::MIN_MAP as usize);
            bytes.truncate(cut);
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("m");
            std::fs::write(&path, &bytes).unwrap();
            let path = path.to_str().unwrap();
            let opened = (
                FileSource::open_with(path, 4096, ReadMode::Map).err().map(|e| e.to_string()),
                FileSource::open_with(path, 4096, ReadMode::Read).err().map(|e| e.to_string()),
            );
            prop_assert_eq!(&opened.0, &opened.1);
            if opened.0.is_none() {
                let (got_map, err_map, _, mapped) = read_file(path, ReadMode::Map);
                let (got_read, err_read, _, _) = read_file(path, ReadMode::Read);
                prop_assert!(mapped);
                prop_assert!(got_map == got_read);
                prop_assert_eq!(err_map, err_read);
            }
        }
    }
}
