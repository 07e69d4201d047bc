//! A classic pcap writer: one link type, microsecond or nanosecond timestamps.

use super::{LinkType, Packet, PacketWriter, Timestamp};
use std::io::{self, Write};

/// Snap length written in the file header: larger than any record we copy (the
/// reader's own bound on a record), so that readers never think a record was cut.
pub const PCAP_SNAPLEN: u32 = 262_144;

/// Writes a pcap file (little-endian, version 2.4) to `W`.
pub struct PcapWriter<W: Write> {
    out: W,
    linktype: LinkType,
    nanos: bool,
}

impl<W: Write> PcapWriter<W> {
    /// Write the file header. `nanos` picks the nanosecond magic (a1b23c4d) over the
    /// microsecond one (a1b2c3d4).
    pub fn new(mut out: W, linktype: LinkType, nanos: bool) -> io::Result<Self> {
        let magic: u32 = if nanos { 0xa1b2_3c4d } else { 0xa1b2_c3d4 };
        let mut h = [0u8; 24];
        h[0..4].copy_from_slice(&magic.to_le_bytes());
        h[4..6].copy_from_slice(&2u16.to_le_bytes());
        h[6..8].copy_from_slice(&4u16.to_le_bytes());
        // thiszone and sigfigs: 0
        h[16..20].copy_from_slice(&PCAP_SNAPLEN.to_le_bytes());
        h[20..24].copy_from_slice(&linktype.0.to_le_bytes());
        out.write_all(&h)?;
        Ok(PcapWriter {
            out,
            linktype,
            nanos,
        })
    }

    /// The underlying writer.
    pub fn into_inner(self) -> W {
        self.out
    }
}

/// Seconds and fraction (µs or ns) of a timestamp as pcap stores them.
fn ts_parts(ts: Timestamp, nanos: bool) -> (u32, u32) {
    let frac = ts.subsec_nanos();
    (ts.secs() as u32, if nanos { frac } else { frac / 1000 })
}

impl<W: Write> PacketWriter for PcapWriter<W> {
    fn write_packet(&mut self, pkt: &Packet<'_>) -> io::Result<()> {
        if pkt.linktype != self.linktype {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!(
                    "link type {} in a pcap file of link type {}",
                    pkt.linktype.0, self.linktype.0
                ),
            ));
        }
        let (secs, frac) = ts_parts(pkt.ts, self.nanos);
        let caplen = u32::try_from(pkt.data.len()).unwrap_or(u32::MAX);
        let mut h = [0u8; 16];
        h[0..4].copy_from_slice(&secs.to_le_bytes());
        h[4..8].copy_from_slice(&frac.to_le_bytes());
        h[8..12].copy_from_slice(&caplen.to_le_bytes());
        h[12..16].copy_from_slice(&pkt.orig_len.max(caplen).to_le_bytes());
        self.out.write_all(&h)?;
        self.out.write_all(pkt.data)
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
    fn reads_back_identical_micro_and_nano() {
        for nanos in [false, true] {
            let want = packets(LinkType::ETHERNET, nanos);
            let mut w = PcapWriter::new(Vec::new(), LinkType::ETHERNET, nanos).unwrap();
            for p in &want {
                w.write_packet(&p.as_packet()).unwrap();
            }
            let bytes = w.into_inner();
            let (got, digits) = read_back(&bytes);
            assert_eq!(got, want);
            assert_eq!(digits, if nanos { 9 } else { 6 });
            tool_accepts(&bytes, "pcap", want.len());
        }
    }

    #[test]
    fn header_is_pcap_2_4_with_the_link_type() {
        let w = PcapWriter::new(Vec::new(), LinkType::LINUX_SLL2, false).unwrap();
        let b = w.into_inner();
        assert_eq!(b.len(), 24);
        assert_eq!(&b[0..4], &[0xd4, 0xc3, 0xb2, 0xa1]);
        assert_eq!(&b[20..24], &276u32.to_le_bytes());
    }

    #[test]
    fn refuses_another_link_type() {
        let mut w = PcapWriter::new(Vec::new(), LinkType::ETHERNET, false).unwrap();
        let p = Packet {
            ts: Timestamp(0),
            linktype: LinkType::RAW,
            data: &[0x45],
            orig_len: 1,
        };
        assert!(w.write_packet(&p).is_err());
        assert_eq!(w.into_inner().len(), 24);
    }
}
