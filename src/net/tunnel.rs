//! Tunnel header parsers: UDP, VXLAN, GENEVE, GRE and ERSPAN types I, II and III.
//!
//! Each parser is a pure function over the captured bytes that checks its lengths once and
//! returns the header's fields (tunnel identity included) with the payload it carries,
//! borrowed; `None` means the header is cut or malformed.

use super::link::{be16, be32};

/// UDP destination ports of VXLAN (IANA, and the Linux kernel's historical default).
pub const VXLAN_PORTS: [u16; 2] = [4789, 8472];
/// UDP destination port of GENEVE.
pub const GENEVE_PORT: u16 = 6081;
/// GRE protocol of ERSPAN type I and II (type II has the sequence number bit set).
pub const GRE_ERSPAN_2: u16 = 0x88be;
/// GRE protocol of ERSPAN type III.
pub const GRE_ERSPAN_3: u16 = 0x22eb;
/// GRE / GENEVE protocol of transparent Ethernet bridging.
pub const TEB: u16 = 0x6558;

/// A UDP header: ports and the payload, bounded by the UDP length when it is sane.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Udp<'a> {
    pub sport: u16,
    pub dport: u16,
    pub payload: &'a [u8],
}

#[inline]
pub fn udp(d: &[u8]) -> Option<Udp<'_>> {
    let sport = be16(d, 0)?;
    let dport = be16(d, 2)?;
    let len = usize::from(be16(d, 4)?);
    let body = d.get(8..)?;
    // Length 0 (jumbograms, offload) or past the capture: take what is there.
    let end = if len >= 8 {
        (len - 8).min(body.len())
    } else {
        body.len()
    };
    Some(Udp {
        sport,
        dport,
        payload: body.get(..end)?,
    })
}

/// VXLAN: the VNI (24 bits) and the inner Ethernet frame. The I flag must be set.
#[inline]
pub fn vxlan(d: &[u8]) -> Option<(u32, &[u8])> {
    if d.first()? & 0x08 == 0 {
        return None;
    }
    Some((be32(d, 4)? >> 8, d.get(8..)?))
}

/// A GENEVE header: the VNI, the protocol (an ethertype; 0x6558 Ethernet) and the payload
/// after the options.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Geneve<'a> {
    pub vni: u32,
    pub protocol: u16,
    pub payload: &'a [u8],
}

#[inline]
pub fn geneve(d: &[u8]) -> Option<Geneve<'_>> {
    let b0 = *d.first()?;
    if b0 >> 6 != 0 {
        return None; // version 0 only
    }
    let opt_len = usize::from(b0 & 0x3f) * 4;
    Some(Geneve {
        protocol: be16(d, 2)?,
        vni: be32(d, 4)? >> 8,
        payload: d.get(8 + opt_len..)?,
    })
}

/// A GRE header (RFC 2784/2890): version, protocol, the optional key and sequence number.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Gre<'a> {
    pub version: u8,
    pub protocol: u16,
    pub key: Option<u32>,
    pub seq: Option<u32>,
    pub payload: &'a [u8],
}

const GRE_CHECKSUM: u16 = 0x8000;
const GRE_ROUTING: u16 = 0x4000;
const GRE_KEY: u16 = 0x2000;
const GRE_SEQ: u16 = 0x1000;

#[inline]
pub fn gre(d: &[u8]) -> Option<Gre<'_>> {
    let flags = be16(d, 0)?;
    let protocol = be16(d, 2)?;
    if flags & GRE_ROUTING != 0 {
        return None; // RFC 1701 source routing: deprecated, not followed
    }
    let mut off = 4usize;
    if flags & GRE_CHECKSUM != 0 {
        off += 4;
    }
    let key = if flags & GRE_KEY != 0 {
        let k = be32(d, off)?;
        off += 4;
        Some(k)
    } else {
        None
    };
    let seq = if flags & GRE_SEQ != 0 {
        let s = be32(d, off)?;
        off += 4;
        Some(s)
    } else {
        None
    };
    Some(Gre {
        version: (flags & 7) as u8,
        protocol,
        key,
        seq,
        payload: d.get(off..)?,
    })
}

/// An ERSPAN header: the session id (10 bits), the frame type (0 = Ethernet) and the
/// mirrored frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Erspan<'a> {
    pub session: u16,
    pub frame_type: u8,
    pub payload: &'a [u8],
}

/// ERSPAN type II (8-byte header, version 1).
#[inline]
pub fn erspan2(d: &[u8]) -> Option<Erspan<'_>> {
    if be16(d, 0)? >> 12 != 1 {
        return None;
    }
    Some(Erspan {
        session: be16(d, 2)? & 0x3ff,
        frame_type: 0,
        payload: d.get(8..)?,
    })
}

/// ERSPAN type III (12-byte header, version 2, and an 8-byte platform sub-header when the
/// O bit is set).
#[inline]
pub fn erspan3(d: &[u8]) -> Option<Erspan<'_>> {
    if be16(d, 0)? >> 12 != 2 {
        return None;
    }
    let w = be16(d, 10)?;
    let off = if w & 1 != 0 { 20 } else { 12 };
    Some(Erspan {
        session: be16(d, 2)? & 0x3ff,
        frame_type: ((w >> 10) & 0x1f) as u8,
        payload: d.get(off..)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const FRAME: &[u8] = &[2, 0, 0, 0, 0, 1];

    #[test]
    fn udp_headers() {
        let mut d = vec![0x30, 0x39, 0x12, 0xb5, 0, 14];
        d.extend_from_slice(&[0, 0]);
        d.extend_from_slice(FRAME);
        d.extend_from_slice(&[0xee; 4]); // padding beyond the UDP length
        let u = udp(&d).unwrap();
        assert_eq!((u.sport, u.dport, u.payload), (12345, 4789, FRAME));
        // Length 0 or beyond the capture: what is there.
        d[4..6].copy_from_slice(&[0, 0]);
        assert_eq!(udp(&d).unwrap().payload.len(), 10);
        d[4..6].copy_from_slice(&[0x10, 0]);
        assert_eq!(udp(&d).unwrap().payload.len(), 10);
        assert_eq!(udp(&d[..7]), None);
    }

    #[test]
    fn vxlan_headers() {
        let mut d = vec![0x08, 0, 0, 0, 0x00, 0x13, 0x88, 0];
        d.extend_from_slice(FRAME);
        assert_eq!(vxlan(&d), Some((5000, FRAME)));
        d[0] = 0;
        assert_eq!(vxlan(&d), None); // no VNI flag
        assert_eq!(vxlan(&[0x08, 0, 0, 0, 0, 0, 1]), None);
    }

    #[test]
    fn geneve_headers() {
        // One 8-byte option (length 2 words).
        let mut d = vec![0x02, 0, 0x65, 0x58, 0, 0, 0x2a, 0];
        d.extend_from_slice(&[0, 0x01, 0x80, 0x01, 1, 2, 3, 4]);
        d.extend_from_slice(FRAME);
        let g = geneve(&d).unwrap();
        assert_eq!((g.vni, g.protocol, g.payload), (42, TEB, FRAME));
        assert_eq!(geneve(&d[..15]), None); // options cut
        d[0] = 0x42;
        assert_eq!(geneve(&d), None); // version 1
    }

    #[test]
    fn gre_options() {
        // Plain GRE carrying IPv4.
        assert_eq!(
            gre(&[0, 0, 0x08, 0x00, 0x45]),
            Some(Gre {
                version: 0,
                protocol: 0x0800,
                key: None,
                seq: None,
                payload: &[0x45]
            })
        );
        // Checksum, key and sequence number.
        let d = [
            0xb0, 0, 0x65, 0x58, 0xab, 0xcd, 0, 0, 0, 0, 0, 7, 0, 0, 0, 9, 0x45,
        ];
        let g = gre(&d).unwrap();
        assert_eq!(
            (g.protocol, g.key, g.seq, g.payload),
            (TEB, Some(7), Some(9), &[0x45][..])
        );
        // Key only; cut inside the key; routing present; version 1.
        let g = gre(&[0x20, 0, 0x08, 0x00, 0, 0, 1, 0, 0x45]).unwrap();
        assert_eq!((g.key, g.seq, g.payload), (Some(256), None, &[0x45][..]));
        assert_eq!(gre(&[0x20, 0, 0x08, 0x00, 0, 0, 1]), None);
        assert_eq!(gre(&[0x40, 0, 0x08, 0x00, 0, 0, 0, 0]), None);
        assert_eq!(gre(&[0x30, 0x81, 0x88, 0x0b]), None);
        assert_eq!(gre(&[0x00, 0x01, 0x88, 0x0b]).unwrap().version, 1);
    }

    #[test]
    fn erspan_headers() {
        // Type II: version 1, VLAN 10, session 0x123.
        let mut d = vec![0x10, 0x0a, 0x01, 0x23, 0, 0, 0, 5];
        d.extend_from_slice(FRAME);
        let e = erspan2(&d).unwrap();
        assert_eq!((e.session, e.frame_type, e.payload), (0x123, 0, FRAME));
        d[0] = 0x20;
        assert_eq!(erspan2(&d), None);
        // Type III: version 2, session 7, timestamp, SGT, no sub-header.
        let mut d = vec![0x20, 0, 0, 7, 1, 2, 3, 4, 0, 0, 0, 0];
        d.extend_from_slice(FRAME);
        let e = erspan3(&d).unwrap();
        assert_eq!((e.session, e.frame_type, e.payload), (7, 0, FRAME));
        // With the platform sub-header (O bit) and frame type 2 (IP).
        let mut d = vec![0x20, 0, 0, 7, 1, 2, 3, 4, 0, 0, 0x08, 0x01];
        d.extend_from_slice(&[0; 8]);
        d.extend_from_slice(FRAME);
        let e = erspan3(&d).unwrap();
        assert_eq!((e.frame_type, e.payload), (2, FRAME));
        assert_eq!(erspan3(&d[..19]), None);
        assert_eq!(erspan2(&d), None);
    }
}
