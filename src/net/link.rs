//! Link-layer header parsers: Ethernet, VLAN tags, Linux SLL/SLL2, BSD NULL/LOOP, PPP,
//! Cisco HDLC, NFLOG, PPPoE sessions and MPLS label stacks.
//!
//! Each parser is a pure function over the captured bytes that checks its lengths once and
//! returns the header's fields with the payload it carries, borrowed; `None` means the
//! header is cut or malformed. Which layer comes next is decided by the decoder.

/// Most MPLS labels walked in one stack before the packet is given up.
pub const MAX_MPLS_LABELS: usize = 16;

#[inline]
pub(crate) fn be16(d: &[u8], off: usize) -> Option<u16> {
    match d.get(off..off.checked_add(2)?)? {
        &[a, b] => Some(u16::from_be_bytes([a, b])),
        _ => None,
    }
}

#[inline]
pub(crate) fn be32(d: &[u8], off: usize) -> Option<u32> {
    let w: [u8; 4] = d.get(off..off.checked_add(4)?)?.try_into().ok()?;
    Some(u32::from_be_bytes(w))
}

/// Ethernet II / 802.3: the type (or 802.3 length, below 0x0600) and the payload.
#[inline]
pub fn ethernet(d: &[u8]) -> Option<(u16, &[u8])> {
    Some((be16(d, 12)?, d.get(14..)?))
}

/// One 802.1Q / 802.1ad / 0x9100 tag (the 4 bytes after the tag's ethertype).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VlanTag<'a> {
    /// VLAN identifier (12 bits).
    pub vid: u16,
    /// The ethertype after the tag.
    pub ethertype: u16,
    pub payload: &'a [u8],
}

/// Ethertypes that announce a VLAN tag.
#[inline]
pub fn is_vlan(et: u16) -> bool {
    matches!(et, 0x8100 | 0x88a8 | 0x9100)
}

#[inline]
pub fn vlan(d: &[u8]) -> Option<VlanTag<'_>> {
    Some(VlanTag {
        vid: be16(d, 0)? & 0x0fff,
        ethertype: be16(d, 2)?,
        payload: d.get(4..)?,
    })
}

/// Linux cooked capture v1: the protocol field and the payload.
#[inline]
pub fn sll(d: &[u8]) -> Option<(u16, &[u8])> {
    Some((be16(d, 14)?, d.get(16..)?))
}

/// Linux cooked capture v2: the protocol field and the payload.
#[inline]
pub fn sll2(d: &[u8]) -> Option<(u16, &[u8])> {
    Some((be16(d, 0)?, d.get(20..)?))
}

/// Address family of a BSD NULL / LOOP header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Family {
    Ipv4,
    Ipv6,
    Other,
}

/// BSD NULL (host byte order, either accepted) or LOOP (network byte order) header.
#[inline]
pub fn null_loop(host_order: bool, d: &[u8]) -> Option<(Family, &[u8])> {
    let w: [u8; 4] = d.get(..4)?.try_into().ok()?;
    let be = u32::from_be_bytes(w);
    let le = if host_order {
        u32::from_le_bytes(w)
    } else {
        be
    };
    let fam = match (be, le) {
        (2, _) | (_, 2) => Family::Ipv4,
        (24 | 28 | 30, _) | (_, 24 | 28 | 30) => Family::Ipv6,
        _ => Family::Other,
    };
    Some((fam, d.get(4..)?))
}

/// A PPP frame (link types 9 and 50): optional HDLC address/control bytes `ff 03`, then
/// the protocol (one byte when compressed, i.e. odd), then the payload.
#[inline]
pub fn ppp(d: &[u8]) -> Option<(u16, &[u8])> {
    let d = match d {
        [0xff, 0x03, rest @ ..] => rest,
        _ => d,
    };
    match d {
        [p, rest @ ..] if p & 1 == 1 => Some((u16::from(*p), rest)),
        [a, b, rest @ ..] => Some((u16::from_be_bytes([*a, *b]), rest)),
        _ => None,
    }
}

/// Cisco HDLC (link type 104): address 0x0f / 0x8f, control 0, then an ethertype.
#[inline]
pub fn cisco_hdlc(d: &[u8]) -> Option<(u16, &[u8])> {
    match d {
        [0x0f | 0x8f, 0, a, b, rest @ ..] => Some((u16::from_be_bytes([*a, *b]), rest)),
        _ => None,
    }
}

/// NFLOG TLV type of the packet payload.
const NFULA_PAYLOAD: u16 = 9;
/// Most NFLOG TLVs walked before the payload is given up.
pub const MAX_NFLOG_TLVS: usize = 64;

/// A Linux NFLOG record (link type 239): the address family and the logged packet.
///
/// The 4-byte header is family, version, resource id; TLVs follow, their length and type
/// in the capturing host's byte order (little-endian on every host NFLOG captures come
/// from in practice; a big-endian length is accepted when the little-endian one is absurd),
/// each padded to 4 bytes.
pub fn nflog(d: &[u8]) -> Option<(u8, &[u8])> {
    let family = *d.first()?;
    let mut off = 4usize;
    for _ in 0..MAX_NFLOG_TLVS {
        let h: [u8; 4] = d.get(off..off.checked_add(4)?)?.try_into().ok()?;
        let (mut len, mut ty) = (
            u16::from_le_bytes([h[0], h[1]]),
            u16::from_le_bytes([h[2], h[3]]),
        );
        if usize::from(len) > d.len() - off {
            (len, ty) = (
                u16::from_be_bytes([h[0], h[1]]),
                u16::from_be_bytes([h[2], h[3]]),
            );
        }
        let len = usize::from(len);
        if len < 4 {
            return None;
        }
        let body = d.get(off + 4..off + len)?;
        if ty & 0x7fff == NFULA_PAYLOAD {
            return Some((family, body));
        }
        off += (len + 3) & !3;
    }
    None
}

/// A PPPoE session header (ethertype 0x8864): session id, PPP protocol, PPP payload
/// (bounded by the PPPoE length field).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pppoe<'a> {
    pub session: u16,
    pub protocol: u16,
    pub payload: &'a [u8],
}

#[inline]
pub fn pppoe_session(d: &[u8]) -> Option<Pppoe<'_>> {
    // Version 1, type 1; code 0 (session data).
    if d.first() != Some(&0x11) || d.get(1) != Some(&0) {
        return None;
    }
    let session = be16(d, 2)?;
    let len = usize::from(be16(d, 4)?);
    let protocol = be16(d, 6)?;
    let body = d.get(8..)?;
    let plen = len.checked_sub(2)?;
    Some(Pppoe {
        session,
        protocol,
        payload: body.get(..plen.min(body.len()))?,
    })
}

/// What follows an MPLS label stack.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MplsPayload<'a> {
    Ipv4(&'a [u8]),
    Ipv6(&'a [u8]),
    /// An Ethernet pseudowire, its control word (if any) removed.
    Ethernet(&'a [u8]),
    /// An associated channel (OAM, first nibble 1): no user traffic.
    Channel,
}

/// Walks an MPLS label stack to its bottom (at most [`MAX_MPLS_LABELS`]) and tells what
/// it carries from the first nibble: 4 IPv4, 6 IPv6, 0 a pseudowire control word then
/// Ethernet, 1 an associated channel, anything else Ethernet without a control word.
pub fn mpls(d: &[u8]) -> Option<MplsPayload<'_>> {
    let mut off = 0usize;
    for _ in 0..MAX_MPLS_LABELS {
        let entry = be32(d, off)?;
        off += 4;
        if entry & 0x100 != 0 {
            let rest = d.get(off..)?;
            return Some(match rest.first()? >> 4 {
                4 => MplsPayload::Ipv4(rest),
                6 => MplsPayload::Ipv6(rest),
                0 => MplsPayload::Ethernet(rest.get(4..)?),
                1 => MplsPayload::Channel,
                _ => MplsPayload::Ethernet(rest),
            });
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    const IP4: &[u8] = &[0x45, 0, 0, 20];

    #[test]
    fn ethernet_and_tags() {
        let f = [
            1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 0x81, 0x00, 0x20, 0x64, 0x08, 0x00, 0x45,
        ];
        let (et, rest) = ethernet(&f).unwrap();
        assert_eq!(et, 0x8100);
        assert!(is_vlan(et));
        let t = vlan(rest).unwrap();
        assert_eq!((t.vid, t.ethertype, t.payload), (100, 0x0800, &[0x45][..]));
        assert_eq!(ethernet(&f[..13]), None);
        assert_eq!(vlan(&rest[..3]), None);
    }

    #[test]
    fn cooked_and_null() {
        let mut s = vec![0u8; 14];
        s.extend_from_slice(&[0x86, 0xdd, 0x60]);
        assert_eq!(sll(&s), Some((0x86dd, &[0x60][..])));
        let mut s2 = vec![0x08, 0x00];
        s2.extend_from_slice(&[0; 18]);
        s2.push(0x45);
        assert_eq!(sll2(&s2), Some((0x0800, &[0x45][..])));
        assert_eq!(
            null_loop(true, &[2, 0, 0, 0, 9]),
            Some((Family::Ipv4, &[9][..]))
        );
        assert_eq!(
            null_loop(false, &[0, 0, 0, 30]),
            Some((Family::Ipv6, &[][..]))
        );
        // LOOP is in network byte order only.
        assert_eq!(null_loop(false, &[2, 0, 0, 0]).unwrap().0, Family::Other);
        assert_eq!(null_loop(true, &[7, 0, 0, 0]).unwrap().0, Family::Other);
        assert_eq!(null_loop(true, &[2, 0, 0]), None);
    }

    #[test]
    fn ppp_framings() {
        assert_eq!(
            ppp(&[0xff, 0x03, 0x00, 0x21, 0x45]),
            Some((0x21, &[0x45][..]))
        );
        assert_eq!(ppp(&[0x00, 0x57, 0x60]), Some((0x57, &[0x60][..])));
        // Protocol field compression: one odd byte.
        assert_eq!(ppp(&[0x21, 0x45]), Some((0x21, &[0x45][..])));
        assert_eq!(ppp(&[0xc0, 0x21, 1]), Some((0xc021, &[1][..])));
        assert_eq!(ppp(&[0xff, 0x03, 0x00]), None);
        assert_eq!(ppp(&[]), None);
    }

    #[test]
    fn cisco_hdlc_frames() {
        assert_eq!(
            cisco_hdlc(&[0x0f, 0, 0x08, 0x00, 0x45]),
            Some((0x0800, &[0x45][..]))
        );
        assert_eq!(cisco_hdlc(&[0x8f, 0, 0x86, 0xdd]), Some((0x86dd, &[][..])));
        assert_eq!(cisco_hdlc(&[0x0f, 1, 0x08, 0x00]), None);
        assert_eq!(cisco_hdlc(&[0x0f, 0, 0x08]), None);
    }

    #[test]
    fn nflog_records() {
        // AF_INET, version 0, resource 1; a prefix TLV (len 9, padded to 12), then payload.
        let mut d = vec![2, 0, 0, 1];
        d.extend_from_slice(&[9, 0, 10, 0, b'f', b't', b'p', b'\0', 0, 0, 0, 0]);
        d.extend_from_slice(&[8, 0, 9, 0]);
        d.extend_from_slice(IP4);
        assert_eq!(nflog(&d), Some((2, IP4)));
        // Big-endian lengths (a big-endian host).
        let mut b = vec![10, 0, 0, 1, 0, 8, 0, 9];
        b.extend_from_slice(IP4);
        assert_eq!(nflog(&b), Some((10, IP4)));
        // A TLV longer than the record, a zero length, no payload TLV.
        assert_eq!(nflog(&[2, 0, 0, 1, 8, 0, 9, 0, 1]), None);
        assert_eq!(nflog(&[2, 0, 0, 1, 0, 0, 9, 0]), None);
        assert_eq!(nflog(&[2, 0, 0, 1, 8, 0, 1, 0, 0, 0, 0, 0]), None);
    }

    #[test]
    fn pppoe_sessions() {
        let mut d = vec![0x11, 0, 0x12, 0x34, 0, 6, 0, 0x21];
        d.extend_from_slice(IP4);
        d.extend_from_slice(&[0xee, 0xee]); // Ethernet padding beyond the PPPoE length
        let p = pppoe_session(&d).unwrap();
        assert_eq!((p.session, p.protocol, p.payload), (0x1234, 0x21, IP4));
        assert_eq!(pppoe_session(&[0x11, 9, 0, 1, 0, 2, 0, 0x21]), None);
        assert_eq!(pppoe_session(&[0x11, 0, 0, 1, 0, 1, 0, 0x21]), None);
        assert_eq!(pppoe_session(&d[..7]), None);
    }

    #[test]
    fn mpls_stacks() {
        // Two labels, the second bottom of stack, then IPv4.
        let mut d = vec![0, 0x01, 0x00, 64, 0, 0x02, 0x01, 64];
        d.extend_from_slice(IP4);
        assert_eq!(mpls(&d), Some(MplsPayload::Ipv4(IP4)));
        // Control word then Ethernet.
        let mut pw = vec![0, 0x03, 0x01, 64, 0, 0, 0, 7];
        pw.extend_from_slice(&[2, 0, 0, 0, 0, 1]);
        assert_eq!(mpls(&pw), Some(MplsPayload::Ethernet(&[2, 0, 0, 0, 0, 1])));
        // Ethernet without a control word, IPv6, an associated channel.
        assert_eq!(
            mpls(&[0, 0, 0x11, 1, 0x52, 0]),
            Some(MplsPayload::Ethernet(&[0x52, 0]))
        );
        assert_eq!(
            mpls(&[0, 0, 0x11, 1, 0x60]),
            Some(MplsPayload::Ipv6(&[0x60]))
        );
        assert_eq!(mpls(&[0, 0, 0x11, 1, 0x10]), Some(MplsPayload::Channel));
        // No bottom of stack within the bound, or cut.
        let deep: Vec<u8> = [0u8, 0, 0x10, 64].repeat(MAX_MPLS_LABELS + 1);
        assert_eq!(mpls(&deep), None);
        assert_eq!(mpls(&d[..6]), None);
        assert_eq!(mpls(&pw[..6]), None); // control word cut
    }
}
