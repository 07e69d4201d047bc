//! Packet sources: capture-file readers (pcap, pcapng, gzip, stdin) and live capture.

use std::fmt;

pub mod file;
pub mod inputs;
#[cfg(feature = "live")]
pub mod live;
pub mod mapped;
pub mod merge;
pub mod pcap_writer;
pub mod pcapng_writer;
#[cfg(test)]
mod testutil;
#[cfg(test)]
mod writer_tests;

pub use file::ReadMode;
pub use file::{CaptureFormat, FileSource};
#[cfg(feature = "live")]
pub use live::{LiveSource, LiveStats};
pub use merge::{open_all, open_all_with, MergedSource};
pub use pcap_writer::PcapWriter;
pub use pcapng_writer::PcapngWriter;

/// A capture timestamp: nanoseconds since the Unix epoch (UTC).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Timestamp(pub i64);

impl Timestamp {
    pub fn from_parts(secs: i64, nanos: u32) -> Self {
        Timestamp(
            secs.saturating_mul(1_000_000_000)
                .saturating_add(nanos as i64),
        )
    }
    pub fn secs(self) -> i64 {
        self.0.div_euclid(1_000_000_000)
    }
    pub fn subsec_nanos(self) -> u32 {
        self.0.rem_euclid(1_000_000_000) as u32
    }
}

/// A link-layer type, as the LINKTYPE_/DLT_ value stored in the capture.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct LinkType(pub u32);

impl LinkType {
    pub const NULL: LinkType = LinkType(0);
    pub const ETHERNET: LinkType = LinkType(1);
    pub const RAW_OLD1: LinkType = LinkType(12);
    pub const RAW_OLD2: LinkType = LinkType(14);
    pub const LOOP: LinkType = LinkType(108);
    pub const RAW: LinkType = LinkType(101);
    pub const LINUX_SLL: LinkType = LinkType(113);
    pub const IPV4: LinkType = LinkType(228);
    pub const IPV6: LinkType = LinkType(229);
    pub const LINUX_SLL2: LinkType = LinkType(276);
}

/// One captured record, borrowed from the reader's buffer until the next call.
#[derive(Debug, Clone, Copy)]
pub struct Packet<'a> {
    pub ts: Timestamp,
    pub linktype: LinkType,
    /// The captured bytes (possibly shorter than `orig_len`: snaplen).
    pub data: &'a [u8],
    /// The packet's length on the wire.
    pub orig_len: u32,
}

/// What went wrong in a capture file, where.
#[derive(Debug)]
pub struct CaptureError {
    /// The file name as given ("-" for stdin).
    pub path: String,
    /// Byte offset in the (decompressed) stream where the problem starts.
    pub offset: u64,
    /// 1-based number of the record that could not be read (records read so far + 1).
    pub packet: u64,
    pub kind: CaptureErrorKind,
}

#[derive(Debug)]
pub enum CaptureErrorKind {
    /// The file could not be opened or read at all.
    Io(std::io::Error),
    /// Not a pcap/pcapng file (or gzip of one).
    BadMagic([u8; 4]),
    /// The file ends inside a header or record.
    Truncated,
    /// A header or record makes no sense (absurd length, bad block, ...).
    Corrupt(String),
}

impl CaptureError {
    /// True when nothing of the input could be used (exit status 2), false when the
    /// input was damaged after a readable beginning (exit status 1).
    ///
    /// An error at byte offset 0 means the file header itself (or opening the file)
    /// failed: an empty file, a bad magic, a truncated or corrupt file header.
    pub fn is_unreadable(&self) -> bool {
        self.offset == 0
    }
}

impl fmt::Display for CaptureError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            CaptureErrorKind::Io(e) if self.offset == 0 => write!(f, "{}: {}", self.path, e),
            CaptureErrorKind::Io(e) => write!(
                f,
                "{}: read error at byte offset {} (packet {}): {}",
                self.path, self.offset, self.packet, e
            ),
            CaptureErrorKind::BadMagic(m) => write!(
                f,
                "{}: not a pcap or pcapng capture (magic {:02x}{:02x}{:02x}{:02x} at byte offset {})",
                self.path, m[0], m[1], m[2], m[3], self.offset
            ),
            CaptureErrorKind::Truncated if self.offset == 0 => write!(
                f,
                "{}: file truncated inside its header (not a complete pcap/pcapng file)",
                self.path
            ),
            CaptureErrorKind::Corrupt(what) if self.offset == 0 => {
                write!(f, "{}: not a readable capture: {}", self.path, what)
            }
            CaptureErrorKind::Truncated => write!(
                f,
                "{}: file truncated at byte offset {} (packet {})",
                self.path, self.offset, self.packet
            ),
            CaptureErrorKind::Corrupt(what) => write!(
                f,
                "{}: corrupt capture at byte offset {} (packet {}): {}",
                self.path, self.offset, self.packet, what
            ),
        }
    }
}

impl std::error::Error for CaptureError {}

/// Anything that yields packets in order: a capture file, several merged, a live interface.
pub trait PacketSource {
    /// The next packet, `Ok(None)` at the end of all input. An error reports one damaged
    /// input (once); calling again continues with whatever input remains (for a single
    /// file, the next call returns `Ok(None)`).
    fn next_packet(&mut self) -> Result<Option<Packet<'_>>, CaptureError>;
    /// Digits of sub-second precision of the timestamps seen so far (6 or 9; 0..=9).
    fn ts_digits(&self) -> u8;
    /// Bytes of input consumed so far (for progress), and total if known.
    fn progress(&self) -> (u64, Option<u64>) {
        (0, None)
    }
}

/// Where packets are written (a pcap or pcapng file): each record copied as read.
pub trait PacketWriter {
    /// Append one record: its time, link type, captured bytes and wire length.
    fn write_packet(&mut self, pkt: &Packet<'_>) -> std::io::Result<()>;
    /// Flush what is buffered.
    fn flush(&mut self) -> std::io::Result<()>;
}
