//! A pcapng writer: one section, one interface description block per link type met.

use super::{LinkType, Packet, PacketWriter, Timestamp};
use std::io::{self, Write};

/// Most link types (interfaces) one output holds; a capture mixing more is refused.
pub const MAX_INTERFACES: usize = 64;

const SHB: u32 = 0x0A0D_0D0A;
const IDB: u32 = 1;
const EPB: u32 = 6;
const BYTE_ORDER_MAGIC: u32 = 0x1A2B_3C4D;
/// `if_tsresol` option code.
const OPT_TSRESOL: u16 = 9;
/// `shb_userappl` option code.
const OPT_USERAPPL: u16 = 4;

/// Writes a pcapng file (little-endian) to `W`; an interface block is written before
/// the first packet of each link type.
pub struct PcapngWriter<W: Write> {
    out: W,
    nanos: bool,
    /// Link type of each interface written, by interface id.
    ifaces: Vec<LinkType>,
}

fn pad4(n: usize) -> usize {
    (4 - n % 4) % 4
}

impl<W: Write> PcapngWriter<W> {
    /// Write the section header block. With `nanos`, interfaces declare nanosecond
    /// resolution (`if_tsresol` 9); otherwise microseconds (the default).
    pub fn new(mut out: W, nanos: bool) -> io::Result<Self> {
        let app = concat!("ftptrace ", env!("CARGO_PKG_VERSION")).as_bytes();
        let opts_len = 4 + app.len() + pad4(app.len()) + 4;
        let total = (28 + opts_len) as u32;
        let mut b = Vec::with_capacity(total as usize);
        b.extend_from_slice(&SHB.to_le_bytes());
        b.extend_from_slice(&total.to_le_bytes());
        b.extend_from_slice(&BYTE_ORDER_MAGIC.to_le_bytes());
        b.extend_from_slice(&1u16.to_le_bytes());
        b.extend_from_slice(&0u16.to_le_bytes());
        b.extend_from_slice(&(-1i64).to_le_bytes()); // section length unknown
        push_opt(&mut b, OPT_USERAPPL, app);
        b.extend_from_slice(&[0; 4]); // opt_endofopt
        b.extend_from_slice(&total.to_le_bytes());
        out.write_all(&b)?;
        Ok(PcapngWriter {
            out,
            nanos,
            ifaces: Vec::new(),
        })
    }

    /// The underlying writer.
    pub fn into_inner(self) -> W {
        self.out
    }

    /// The interface id for `lt`, writing its description block the first time.
    fn iface(&mut self, lt: LinkType) -> io::Result<u32> {
        if let Some(i) = self.ifaces.iter().position(|&x| x == lt) {
            return Ok(i as u32);
        }
        if self.ifaces.len() >= MAX_INTERFACES {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("more than {MAX_INTERFACES} link types in one capture"),
            ));
        }
        let opts_len = if self.nanos { 4 + 4 + 4 } else { 0 };
        let total = (20 + opts_len) as u32;
        let mut b = Vec::with_capacity(total as usize);
        b.extend_from_slice(&IDB.to_le_bytes());
        b.extend_from_slice(&total.to_le_bytes());
        b.extend_from_slice(&(lt.0 as u16).to_le_bytes());
        b.extend_from_slice(&0u16.to_le_bytes());
        b.extend_from_slice(&0u32.to_le_bytes()); // snaplen: none
        if self.nanos {
            push_opt(&mut b, OPT_TSRESOL, &[9]);
            b.extend_from_slice(&[0; 4]);
        }
        b.extend_from_slice(&total.to_le_bytes());
        self.out.write_all(&b)?;
        self.ifaces.push(lt);
        Ok(self.ifaces.len() as u32 - 1)
    }
}

/// An option: code, length, value padded to 4 bytes.
fn push_opt(b: &mut Vec<u8>, code: u16, v: &[u8]) {
    b.extend_from_slice(&code.to_le_bytes());
    b.extend_from_slice(&(v.len() as u16).to_le_bytes());
    b.extend_from_slice(v);
    b.extend_from_slice(&[0u8; 3][..pad4(v.len())]);
}

/// The timestamp in the interface's units (µs or ns since the epoch).
fn units(ts: Timestamp, nanos: bool) -> u64 {
    if nanos {
        ts.0 as u64
    } else {
        ts.0.div_euclid(1000) as u64
    }
}

impl<W: Write> PacketWriter for PcapngWriter<W> {
    fn write_packet(&mut self, pkt: &Packet<'_>) -> io::Result<()> {
        let id = self.iface(pkt.linktype)?;
        let t = units(pkt.ts, self.nanos);
        let caplen = u32::try_from(pkt.data.len()).unwrap_or(u32::MAX);
        let pad = pad4(pkt.data.len());
        let total = 32 + caplen + pad as u32;
        let mut h = [0u8; 28];
        h[0..4].copy_from_slice(&EPB.to_le_bytes());
        h[4..8].copy_from_slice(&total.to_le_bytes());
        h[8..12].copy_from_slice(&id.to_le_bytes());
        h[12..16].copy_from_slice(&((t >> 32) as u32).to_le_bytes());
        h[16..20].copy_from_slice(&(t as u32).to_le_bytes());
        h[20..24].copy_from_slice(&caplen.to_le_bytes());
        h[24..28].copy_from_slice(&pkt.orig_len.max(caplen).to_le_bytes());
        self.out.write_all(&h)?;
        self.out.write_all(pkt.data)?;
        self.out.write_all(&[0u8; 3][..pad])?;
        self.out.write_all(&total.to_le_bytes())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::capture::writer_tests::{packets, read_back, tool_accepts};

    #[test]
    fn reads_back_identical_mixed_link_types() {
        for nanos in [false, true] {
            let mut want = packets(LinkType::ETHERNET, nanos);
            let more = packets(LinkType::LINUX_SLL2, nanos);
            // interleave: Ethernet, SLL2, Ethernet, ...
            for (i, p) in more.into_iter().enumerate() {
                want.insert(2 * i + 1, p);
            }
            let mut w = PcapngWriter::new(Vec::new(), nanos).unwrap();
            for p in &want {
                w.write_packet(&p.as_packet()).unwrap();
            }
            assert_eq!(w.ifaces, vec![LinkType::ETHERNET, LinkType::LINUX_SLL2]);
            let bytes = w.into_inner();
            let (got, digits) = read_back(&bytes);
            assert_eq!(got, want);
            assert_eq!(digits, if nanos { 9 } else { 6 });
            tool_accepts(&bytes, "pcapng", want.len());
        }
    }

    #[test]
    fn blocks_are_aligned_and_lengths_repeat() {
        let mut w = PcapngWriter::new(Vec::new(), true).unwrap();
        for p in packets(LinkType::RAW, true) {
            w.write_packet(&p.as_packet()).unwrap();
        }
        let b = w.into_inner();
        let mut off = 0;
        let mut blocks = 0;
        while off < b.len() {
            let len = u32::from_le_bytes(b[off + 4..off + 8].try_into().unwrap()) as usize;
            assert_eq!(len % 4, 0);
            assert_eq!(b[off + len - 4..off + len], b[off + 4..off + 8]);
            off += len;
            blocks += 1;
        }
        assert_eq!(off, b.len());
        assert_eq!(blocks, 2 + packets(LinkType::RAW, true).len());
    }
}
