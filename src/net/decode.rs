//! Link-layer and IP decoding down to TCP segments, borrowing from the packet.
//!
//! Link layers are decoded by hand with checked slices (Ethernet with any number of
//! 802.1Q / 802.1ad / 0x9100 tags, Linux SLL and SLL2, BSD NULL and LOOP, raw IP); the
//! IPv4, IPv6 and TCP headers are validated with etherparse's zero-copy header slices.
//! Lengths come from the IP header, so Ethernet trailer padding never reaches the TCP
//! payload, and a payload cut by the snap length is reported with its wire length.
//! Fragments go to the bounded [`Defragmenter`](super::ipfrag::Defragmenter); nothing
//! else allocates.

use std::net::IpAddr;

use etherparse::{Ipv4HeaderSlice, Ipv6HeaderSlice, TcpHeaderSlice};

use super::ipfrag::{DefragLimits, Defragmenter, FragKey, FragOutcome};
use super::{TcpFlags, TcpSegment};
use crate::capture::{LinkType, Packet};

/// Result of decoding one packet.
#[derive(Debug)]
pub enum Decoded<'a> {
    Tcp(TcpSegment<'a>),
    /// IP but not TCP, or not IP at all (ARP, ...).
    NotTcp,
    /// An IP fragment swallowed by the defragmenter (the datagram is not complete yet).
    Fragment,
    /// Headers cut short by the snap length or malformed.
    Undecodable,
}

/// Decoder counters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DecodeStats {
    /// Packets handed to [`Decoder::decode`].
    pub packets: u64,
    /// TCP segments returned (reassembled datagrams included).
    pub tcp: u64,
    /// Packets that are not TCP (other protocols, other link payloads, unknown link types).
    pub not_tcp: u64,
    /// Packets with cut or malformed headers.
    pub undecodable: u64,
    /// Packets of a link type the decoder does not know (also counted in `not_tcp`).
    pub unknown_linktype: u64,
    /// TCP segments whose payload was cut by the snap length.
    pub truncated: u64,
    /// IP fragments seen (of TCP datagrams).
    pub fragments: u64,
    /// Datagrams reassembled from fragments.
    pub reassembled: u64,
    /// Incomplete datagrams evicted by the memory or count bounds.
    pub frag_dropped: u64,
    /// Incomplete datagrams expired (60 s of capture time).
    pub frag_expired: u64,
    /// Fragments overlapping data already received (first data wins).
    pub frag_overlaps: u64,
    /// Fragments discarded as inconsistent or cut by the snap length.
    pub frag_invalid: u64,
}

/// Stateful decoder (holds the IP defragmenter).
#[derive(Debug)]
pub struct Decoder {
    defrag: Defragmenter,
    stats: DecodeStats,
    /// Fragments cut by the snap length (never handed to the defragmenter).
    frag_cut: u64,
    /// The datagram the last decoded packet was a fragment of.
    last_frag: Option<FragKey>,
}

impl Default for Decoder {
    fn default() -> Self {
        Self::new()
    }
}

const ETH_IPV4: u16 = 0x0800;
const ETH_IPV6: u16 = 0x86dd;
const PROTO_TCP: u8 = 6;
const V6_HOP_BY_HOP: u8 = 0;
const V6_ROUTING: u8 = 43;
const V6_FRAGMENT: u8 = 44;
const V6_AUTH: u8 = 51;
const V6_DEST_OPTS: u8 = 60;

impl Decoder {
    pub fn new() -> Self {
        Self::with_limits(DefragLimits::default())
    }

    /// A decoder whose defragmenter uses the given bounds.
    pub fn with_limits(limits: DefragLimits) -> Self {
        Decoder {
            defrag: Defragmenter::with_limits(limits),
            stats: DecodeStats::default(),
            frag_cut: 0,
            last_frag: None,
        }
    }

    /// Counters so far.
    pub fn stats(&self) -> DecodeStats {
        let f = self.defrag.stats();
        DecodeStats {
            fragments: f.fragments + self.frag_cut,
            reassembled: f.reassembled,
            frag_dropped: f.dropped,
            frag_expired: f.expired,
            frag_overlaps: f.overlaps,
            frag_invalid: f.invalid + self.frag_cut,
            ..self.stats
        }
    }

    /// Incomplete datagrams waiting for fragments.
    pub fn fragments_in_flight(&self) -> usize {
        self.defrag.in_flight()
    }

    /// The datagram the last packet given to [`Decoder::decode`] was a fragment of (the
    /// packet that completed it included), `None` when it was not a fragment.
    pub fn last_fragment(&self) -> Option<FragKey> {
        self.last_frag
    }

    /// End of input: drops the incomplete datagrams (counted as expired).
    pub fn finish(&mut self) {
        self.defrag.clear();
    }

    /// Decode one packet. The returned segment borrows from `pkt.data` or from the
    /// decoder's defragmentation buffer.
    pub fn decode<'a>(&'a mut self, pkt: &Packet<'a>) -> Decoded<'a> {
        self.stats.packets += 1;
        self.last_frag = None;
        self.defrag.tick(pkt.ts);
        // Bytes the snap length cut off: only used when an IP length field is 0 (TSO).
        let missing = (pkt.orig_len as usize).saturating_sub(pkt.data.len());
        let l3 = match link(pkt.linktype, pkt.data) {
            Net::V4(d) => ipv4(d, missing),
            Net::V6(d) => ipv6(d, missing),
            Net::Other => L3::NotTcp,
            Net::Unknown => {
                self.stats.unknown_linktype += 1;
                L3::NotTcp
            }
            Net::Bad => L3::Bad,
        };
        if let L3::Frag { key, .. } = &l3 {
            self.last_frag = Some(*key);
        }
        match l3 {
            L3::Tcp(seg) => self.tcp(seg),
            L3::NotTcp => {
                self.stats.not_tcp += 1;
                Decoded::NotTcp
            }
            L3::Bad => {
                self.stats.undecodable += 1;
                Decoded::Undecodable
            }
            L3::FragCut => {
                self.frag_cut += 1;
                self.stats.undecodable += 1;
                Decoded::Undecodable
            }
            L3::Frag {
                key,
                offset,
                more,
                data,
            } => match self.defrag.insert(pkt.ts, key, offset, more, data) {
                FragOutcome::Pending | FragOutcome::Discarded => Decoded::Fragment,
                FragOutcome::Complete => {
                    let buf = self.defrag.completed();
                    let l4 = match key.src {
                        IpAddr::V4(_) => tcp(key.src, key.dst, buf, buf.len()),
                        IpAddr::V6(_) => ipv6_chain(key.src, key.dst, key.proto, buf, buf.len()),
                    };
                    match l4 {
                        L3::Tcp(seg) => {
                            self.stats.tcp += 1;
                            if seg.payload.len() < seg.wire_len as usize {
                                self.stats.truncated += 1;
                            }
                            Decoded::Tcp(seg)
                        }
                        L3::NotTcp => {
                            self.stats.not_tcp += 1;
                            Decoded::NotTcp
                        }
                        // A fragment header inside a reassembled datagram, or broken headers.
                        _ => {
                            self.stats.undecodable += 1;
                            Decoded::Undecodable
                        }
                    }
                }
            },
        }
    }

    #[inline]
    fn tcp<'a>(&mut self, seg: TcpSegment<'a>) -> Decoded<'a> {
        self.stats.tcp += 1;
        if seg.payload.len() < seg.wire_len as usize {
            self.stats.truncated += 1;
        }
        Decoded::Tcp(seg)
    }
}

/// What the link layer carries.
enum Net<'a> {
    V4(&'a [u8]),
    V6(&'a [u8]),
    /// A known link type carrying something other than IP.
    Other,
    /// A link type the decoder does not handle.
    Unknown,
    /// The link header is cut.
    Bad,
}

/// What the IP layer carries.
enum L3<'a> {
    Tcp(TcpSegment<'a>),
    /// A fragment of a datagram that may carry TCP, complete as captured.
    Frag {
        key: FragKey,
        offset: u32,
        more: bool,
        data: &'a [u8],
    },
    /// A fragment cut by the snap length: unusable.
    FragCut,
    NotTcp,
    Bad,
}

#[inline]
fn be16(d: &[u8], off: usize) -> Option<u16> {
    match d.get(off..off.checked_add(2)?)? {
        &[a, b] => Some(u16::from_be_bytes([a, b])),
        _ => None,
    }
}

#[inline]
fn word32(d: &[u8], off: usize) -> Option<[u8; 4]> {
    d.get(off..off.checked_add(4)?)?.try_into().ok()
}

#[inline]
fn link(lt: LinkType, d: &[u8]) -> Net<'_> {
    match lt {
        LinkType::ETHERNET => match be16(d, 12) {
            Some(et) => ethertype(et, d, 14),
            None => Net::Bad,
        },
        LinkType::LINUX_SLL => match be16(d, 14) {
            Some(et) => ethertype(et, d, 16),
            None => Net::Bad,
        },
        LinkType::LINUX_SLL2 => match (be16(d, 0), d.len() >= 20) {
            (Some(et), true) => ethertype(et, d, 20),
            _ => Net::Bad,
        },
        LinkType::RAW | LinkType::RAW_OLD1 | LinkType::RAW_OLD2 => match d.first() {
            Some(b) if b >> 4 == 4 => Net::V4(d),
            Some(b) if b >> 4 == 6 => Net::V6(d),
            Some(_) => Net::Other,
            None => Net::Bad,
        },
        LinkType::IPV4 => Net::V4(d),
        LinkType::IPV6 => Net::V6(d),
        LinkType::NULL | LinkType::LOOP => {
            let Some(w) = word32(d, 0) else {
                return Net::Bad;
            };
            let be = u32::from_be_bytes(w);
            // NULL is in the capturing host's byte order: accept either.
            let le = if lt == LinkType::NULL {
                u32::from_le_bytes(w)
            } else {
                be
            };
            let rest = d.get(4..).unwrap_or(&[]);
            match (be, le) {
                (2, _) | (_, 2) => Net::V4(rest),
                (24 | 28 | 30, _) | (_, 24 | 28 | 30) => Net::V6(rest),
                _ => Net::Other,
            }
        }
        _ => Net::Unknown,
    }
}

/// Follows VLAN tags from `et` (whose payload starts at `off`) to IPv4 / IPv6.
#[inline]
fn ethertype(mut et: u16, d: &[u8], mut off: usize) -> Net<'_> {
    while matches!(et, 0x8100 | 0x88a8 | 0x9100) {
        // Tag: 2 bytes TCI, 2 bytes inner type.
        match be16(d, off + 2) {
            Some(inner) => et = inner,
            None => return Net::Bad,
        }
        off += 4;
    }
    let rest = d.get(off..).unwrap_or(&[]);
    match et {
        ETH_IPV4 => Net::V4(rest),
        ETH_IPV6 => Net::V6(rest),
        _ => Net::Other,
    }
}

#[inline]
fn ipv4(d: &[u8], missing: usize) -> L3<'_> {
    let Ok(h) = Ipv4HeaderSlice::from_slice(d) else {
        return L3::Bad;
    };
    let hlen = h.slice().len();
    let total = match h.total_len() {
        // TCP segmentation offload: the length was never filled in.
        0 => d.len() + missing,
        t => usize::from(t),
    };
    if total < hlen {
        return L3::Bad;
    }
    if h.protocol().0 != PROTO_TCP {
        return L3::NotTcp;
    }
    let declared = total - hlen;
    let avail = d.get(hlen..total.min(d.len())).unwrap_or(&[]);
    let src = IpAddr::V4(h.source_addr());
    let dst = IpAddr::V4(h.destination_addr());
    let offset = u32::from(h.fragments_offset().byte_offset());
    let more = h.more_fragments();
    if offset != 0 || more {
        if avail.len() < declared {
            return L3::FragCut;
        }
        let key = FragKey {
            src,
            dst,
            proto: PROTO_TCP,
            id: u32::from(h.identification()),
        };
        return L3::Frag {
            key,
            offset,
            more,
            data: avail,
        };
    }
    tcp(src, dst, avail, declared)
}

#[inline]
fn ipv6(d: &[u8], missing: usize) -> L3<'_> {
    let Ok(h) = Ipv6HeaderSlice::from_slice(d) else {
        return L3::Bad;
    };
    let hlen = h.slice().len();
    let declared = match h.payload_length() {
        // Jumbogram or segmentation offload: take what the frame holds.
        0 => d.len().saturating_sub(hlen) + missing,
        p => usize::from(p),
    };
    let end = hlen.saturating_add(declared).min(d.len());
    let avail = d.get(hlen..end).unwrap_or(&[]);
    let src = IpAddr::V6(h.source_addr());
    let dst = IpAddr::V6(h.destination_addr());
    ipv6_chain(src, dst, h.next_header().0, avail, declared)
}

/// Walks IPv6 extension headers from `next` over `avail` (the captured part of
/// `declared` bytes) down to TCP.
fn ipv6_chain(src: IpAddr, dst: IpAddr, mut next: u8, avail: &[u8], declared: usize) -> L3<'_> {
    let mut off = 0usize;
    // Every extension header takes at least 8 bytes, so this ends.
    loop {
        match next {
            PROTO_TCP => {
                let rest = avail.get(off..).unwrap_or(&[]);
                return tcp(src, dst, rest, declared.saturating_sub(off));
            }
            V6_HOP_BY_HOP | V6_ROUTING | V6_DEST_OPTS | V6_AUTH => {
                let (Some(&nh), Some(&l)) = (avail.get(off), avail.get(off + 1)) else {
                    return L3::Bad;
                };
                let len = if next == V6_AUTH {
                    (usize::from(l) + 2) * 4
                } else {
                    (usize::from(l) + 1) * 8
                };
                if off + len > avail.len() {
                    return L3::Bad;
                }
                next = nh;
                off += len;
            }
            V6_FRAGMENT => {
                let Some(f) = avail.get(off..off + 8) else {
                    return L3::Bad;
                };
                let Ok::<[u8; 8], _>(f) = f.try_into() else {
                    return L3::Bad;
                };
                off += 8;
                let fo = u16::from_be_bytes([f[2], f[3]]);
                let offset = u32::from(fo & 0xfff8);
                let more = fo & 1 != 0;
                if offset == 0 && !more {
                    // Atomic fragment: the payload is whole.
                    next = f[0];
                    continue;
                }
                if !matches!(f[0], PROTO_TCP | V6_DEST_OPTS | V6_ROUTING | V6_AUTH) {
                    return L3::NotTcp;
                }
                let data = avail.get(off..).unwrap_or(&[]);
                if data.len() < declared.saturating_sub(off) {
                    return L3::FragCut;
                }
                let key = FragKey {
                    src,
                    dst,
                    proto: f[0],
                    id: u32::from_be_bytes([f[4], f[5], f[6], f[7]]),
                };
                return L3::Frag {
                    key,
                    offset,
                    more,
                    data,
                };
            }
            _ => return L3::NotTcp,
        }
    }
}

/// Decodes the TCP header at the start of `avail` (the captured part of the `declared`
/// bytes the IP layer gives TCP).
#[inline]
fn tcp(src: IpAddr, dst: IpAddr, avail: &[u8], declared: usize) -> L3<'_> {
    let Ok(t) = TcpHeaderSlice::from_slice(avail) else {
        return L3::Bad;
    };
    let thl = t.slice().len();
    if declared < thl {
        return L3::Bad;
    }
    let payload = avail.get(thl..).unwrap_or(&[]);
    let flags = t.slice().get(13).copied().unwrap_or(0);
    L3::Tcp(TcpSegment {
        src,
        dst,
        sport: t.source_port(),
        dport: t.destination_port(),
        seq: t.sequence_number(),
        ack: t.acknowledgment_number(),
        flags: TcpFlags(flags),
        window: t.window_size(),
        payload,
        wire_len: u32::try_from(declared - thl).unwrap_or(u32::MAX),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::capture::Timestamp;
    use etherparse::PacketBuilder;
    use proptest::prelude::*;
    use std::net::{Ipv4Addr, Ipv6Addr};

    const A4: [u8; 4] = [10, 0, 0, 1];
    const B4: [u8; 4] = [10, 0, 0, 2];
    const A6: [u8; 16] = [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1];
    const B6: [u8; 16] = [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2];
    const MSG: &[u8] = b"USER anonymous\r\n";

    fn pkt(lt: LinkType, data: &[u8]) -> Packet<'_> {
        Packet {
            ts: Timestamp(0),
            linktype: lt,
            data,
            orig_len: data.len() as u32,
        }
    }

    fn at(secs: i64, data: &[u8]) -> Packet<'_> {
        Packet {
            ts: Timestamp::from_parts(secs, 0),
            ..pkt(LinkType::ETHERNET, data)
        }
    }

    fn ipv4_tcp(payload: &[u8]) -> Vec<u8> {
        let b = PacketBuilder::ipv4(A4, B4, 64)
            .tcp(40000, 21, 1000, 512)
            .ack(77)
            .psh();
        let mut v = Vec::with_capacity(b.size(payload.len()));
        b.write(&mut v, payload).unwrap();
        v
    }

    fn ipv6_tcp(payload: &[u8]) -> Vec<u8> {
        let b = PacketBuilder::ipv6(A6, B6, 64)
            .tcp(40000, 21, 1000, 512)
            .ack(77)
            .psh();
        let mut v = Vec::with_capacity(b.size(payload.len()));
        b.write(&mut v, payload).unwrap();
        v
    }

    /// An Ethernet frame carrying `inner` with the given ethertype (and tags before it).
    fn eth(types: &[u16], inner: &[u8]) -> Vec<u8> {
        let mut v = vec![2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1];
        for (i, t) in types.iter().enumerate() {
            v.extend_from_slice(&t.to_be_bytes());
            if i + 1 < types.len() {
                v.extend_from_slice(&[0x00, 0x0a + i as u8]); // TCI
            }
        }
        v.extend_from_slice(inner);
        v
    }

    fn seg<'a>(d: Decoded<'a>) -> TcpSegment<'a> {
        match d {
            Decoded::Tcp(s) => s,
            other => panic!("expected TCP, got {other:?}"),
        }
    }

    fn check_v4(s: &TcpSegment<'_>, payload: &[u8]) {
        assert_eq!(s.src, IpAddr::V4(Ipv4Addr::from(A4)));
        assert_eq!(s.dst, IpAddr::V4(Ipv4Addr::from(B4)));
        check_tcp(s, payload);
    }

    fn check_v6(s: &TcpSegment<'_>, payload: &[u8]) {
        assert_eq!(s.src, IpAddr::V6(Ipv6Addr::from(A6)));
        assert_eq!(s.dst, IpAddr::V6(Ipv6Addr::from(B6)));
        check_tcp(s, payload);
    }

    fn check_tcp(s: &TcpSegment<'_>, payload: &[u8]) {
        assert_eq!((s.sport, s.dport), (40000, 21));
        assert_eq!((s.seq, s.ack, s.window), (1000, 77, 512));
        assert_eq!(s.flags.0, TcpFlags::ACK | TcpFlags::PSH);
        assert_eq!(s.payload, payload);
        assert_eq!(s.wire_len as usize, payload.len());
    }

    #[test]
    fn ethernet_ipv4() {
        let mut d = Decoder::new();
        let f = eth(&[0x0800], &ipv4_tcp(MSG));
        check_v4(&seg(d.decode(&pkt(LinkType::ETHERNET, &f))), MSG);
        let st = d.stats();
        assert_eq!((st.packets, st.tcp, st.truncated), (1, 1, 0));
    }

    #[test]
    fn ethernet_ipv6() {
        let mut d = Decoder::new();
        let f = eth(&[0x86dd], &ipv6_tcp(MSG));
        check_v6(&seg(d.decode(&pkt(LinkType::ETHERNET, &f))), MSG);
    }

    #[test]
    fn vlan_tags() {
        let mut d = Decoder::new();
        let ip = ipv4_tcp(MSG);
        for tags in [
            &[0x8100, 0x0800][..],
            &[0x88a8, 0x8100, 0x0800],
            &[0x9100, 0x9100, 0x8100, 0x0800],
        ] {
            let f = eth(tags, &ip);
            check_v4(&seg(d.decode(&pkt(LinkType::ETHERNET, &f))), MSG);
        }
        let f = eth(&[0x8100, 0x86dd], &ipv6_tcp(MSG));
        check_v6(&seg(d.decode(&pkt(LinkType::ETHERNET, &f))), MSG);
        // A tag cut short.
        let f = eth(&[0x8100], &[0, 1]);
        assert!(matches!(
            d.decode(&pkt(LinkType::ETHERNET, &f)),
            Decoded::Undecodable
        ));
    }

    #[test]
    fn linux_sll() {
        let mut d = Decoder::new();
        let mut f = vec![0, 0, 0, 1, 0, 6, 2, 0, 0, 0, 0, 1, 0, 0, 0x08, 0x00];
        f.extend_from_slice(&ipv4_tcp(MSG));
        check_v4(&seg(d.decode(&pkt(LinkType::LINUX_SLL, &f))), MSG);
        let mut f = vec![0, 4, 0x03, 0x04, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x86, 0xdd];
        f.extend_from_slice(&ipv6_tcp(MSG));
        check_v6(&seg(d.decode(&pkt(LinkType::LINUX_SLL, &f))), MSG);
        // etherparse's own SLL writer agrees.
        let b = PacketBuilder::linux_sll(
            etherparse::LinuxSllPacketType::OUTGOING,
            6,
            [2, 0, 0, 0, 0, 1, 0, 0],
        )
        .ipv4(A4, B4, 64)
        .tcp(40000, 21, 1000, 512)
        .ack(77)
        .psh();
        let mut f = Vec::new();
        b.write(&mut f, MSG).unwrap();
        check_v4(&seg(d.decode(&pkt(LinkType::LINUX_SLL, &f))), MSG);
        assert!(matches!(
            d.decode(&pkt(LinkType::LINUX_SLL, &f[..15])),
            Decoded::Undecodable
        ));
    }

    #[test]
    fn linux_sll2() {
        let mut d = Decoder::new();
        let hdr = |et: u16| {
            let mut h = et.to_be_bytes().to_vec();
            h.extend_from_slice(&[0, 0, 0, 0, 0, 3, 0, 1, 4, 6, 2, 0, 0, 0, 0, 1, 0, 0]);
            assert_eq!(h.len(), 20);
            h
        };
        let mut f = hdr(0x0800);
        f.extend_from_slice(&ipv4_tcp(MSG));
        check_v4(&seg(d.decode(&pkt(LinkType::LINUX_SLL2, &f))), MSG);
        let mut f = hdr(0x86dd);
        f.extend_from_slice(&ipv6_tcp(MSG));
        check_v6(&seg(d.decode(&pkt(LinkType::LINUX_SLL2, &f))), MSG);
        let f = hdr(0x0806);
        assert!(matches!(
            d.decode(&pkt(LinkType::LINUX_SLL2, &f)),
            Decoded::NotTcp
        ));
        assert!(matches!(
            d.decode(&pkt(LinkType::LINUX_SLL2, &f[..19])),
            Decoded::Undecodable
        ));
    }

    #[test]
    fn raw_ip() {
        let mut d = Decoder::new();
        let v4 = ipv4_tcp(MSG);
        let v6 = ipv6_tcp(MSG);
        for lt in [LinkType::RAW, LinkType::RAW_OLD1, LinkType::RAW_OLD2] {
            check_v4(&seg(d.decode(&pkt(lt, &v4))), MSG);
            check_v6(&seg(d.decode(&pkt(lt, &v6))), MSG);
        }
        check_v4(&seg(d.decode(&pkt(LinkType::IPV4, &v4))), MSG);
        check_v6(&seg(d.decode(&pkt(LinkType::IPV6, &v6))), MSG);
        // Wrong version for the link type.
        assert!(matches!(
            d.decode(&pkt(LinkType::IPV4, &v6)),
            Decoded::Undecodable
        ));
        assert!(matches!(
            d.decode(&pkt(LinkType::RAW, &[])),
            Decoded::Undecodable
        ));
    }

    #[test]
    fn bsd_loopback() {
        let mut d = Decoder::new();
        let v4 = ipv4_tcp(MSG);
        let v6 = ipv6_tcp(MSG);
        for (af, ip, v6p) in [
            (2u32, &v4, false),
            (24, &v6, true),
            (28, &v6, true),
            (30, &v6, true),
        ] {
            for hdr in [af.to_le_bytes(), af.to_be_bytes()] {
                let mut f = hdr.to_vec();
                f.extend_from_slice(ip);
                let s = seg(d.decode(&pkt(LinkType::NULL, &f)));
                if v6p {
                    check_v6(&s, MSG);
                } else {
                    check_v4(&s, MSG);
                }
            }
            let mut f = af.to_be_bytes().to_vec();
            f.extend_from_slice(ip);
            assert!(matches!(
                d.decode(&pkt(LinkType::LOOP, &f)),
                Decoded::Tcp(_)
            ));
        }
        // LOOP is always network order.
        let mut f = 2u32.to_le_bytes().to_vec();
        f.extend_from_slice(&v4);
        assert!(matches!(
            d.decode(&pkt(LinkType::LOOP, &f)),
            Decoded::NotTcp
        ));
        let mut f = 7u32.to_le_bytes().to_vec();
        f.extend_from_slice(&v4);
        assert!(matches!(
            d.decode(&pkt(LinkType::NULL, &f)),
            Decoded::NotTcp
        ));
        assert!(matches!(
            d.decode(&pkt(LinkType::NULL, &[2, 0])),
            Decoded::Undecodable
        ));
    }

    #[test]
    fn unknown_link_type() {
        let mut d = Decoder::new();
        let v4 = ipv4_tcp(MSG);
        assert!(matches!(
            d.decode(&pkt(LinkType(147), &v4)),
            Decoded::NotTcp
        ));
        let st = d.stats();
        assert_eq!((st.unknown_linktype, st.not_tcp), (1, 1));
    }

    #[test]
    fn not_tcp() {
        let mut d = Decoder::new();
        let b = PacketBuilder::ipv4(A4, B4, 64).udp(53, 53);
        let mut udp = Vec::new();
        b.write(&mut udp, b"x").unwrap();
        let f = eth(&[0x0800], &udp);
        assert!(matches!(
            d.decode(&pkt(LinkType::ETHERNET, &f)),
            Decoded::NotTcp
        ));
        let f = eth(&[0x0806], &[0; 28]);
        assert!(matches!(
            d.decode(&pkt(LinkType::ETHERNET, &f)),
            Decoded::NotTcp
        ));
        let b = PacketBuilder::ipv6(A6, B6, 64).icmpv6_echo_request(1, 2);
        let mut icmp = Vec::new();
        b.write(&mut icmp, b"ping").unwrap();
        let f = eth(&[0x86dd], &icmp);
        assert!(matches!(
            d.decode(&pkt(LinkType::ETHERNET, &f)),
            Decoded::NotTcp
        ));
        assert_eq!(d.stats().not_tcp, 3);
    }

    #[test]
    fn ipv4_options() {
        let mut d = Decoder::new();
        let mut ip = ipv4_tcp(MSG);
        ip.splice(20..20, [1, 1, 1, 0, 0x94, 4, 0, 0]); // NOP NOP NOP EOL, router alert
        ip[0] = 0x47;
        let total = ip.len() as u16;
        ip[2..4].copy_from_slice(&total.to_be_bytes());
        let f = eth(&[0x0800], &ip);
        check_v4(&seg(d.decode(&pkt(LinkType::ETHERNET, &f))), MSG);
    }

    /// IPv6 TCP packet with hop-by-hop and destination options headers.
    fn ipv6_exts(payload: &[u8]) -> Vec<u8> {
        let mut ip = ipv6_tcp(payload);
        ip[6] = V6_HOP_BY_HOP;
        // Hop-by-hop (next: dest opts, 8 bytes, PadN), dest opts (next: TCP, 16 bytes).
        let exts = [
            V6_DEST_OPTS,
            0,
            1,
            4,
            0,
            0,
            0,
            0,
            PROTO_TCP,
            1,
            1,
            12,
            0,
            0,
            0,
            0,
            0,
            0,
            0,
            0,
            0,
            0,
            0,
            0,
        ];
        ip.splice(40..40, exts);
        let plen = (ip.len() - 40) as u16;
        ip[4..6].copy_from_slice(&plen.to_be_bytes());
        ip
    }

    #[test]
    fn ipv6_extension_headers() {
        let mut d = Decoder::new();
        let ip = ipv6_exts(MSG);
        let f = eth(&[0x86dd], &ip);
        check_v6(&seg(d.decode(&pkt(LinkType::ETHERNET, &f))), MSG);
        // Extension header cut by the snap length, or longer than the payload length.
        let f = eth(&[0x86dd], &ip[..60]);
        assert!(matches!(
            d.decode(&pkt(LinkType::ETHERNET, &f)),
            Decoded::Undecodable
        ));
        let mut bad = ip.clone();
        bad[4..6].copy_from_slice(&20u16.to_be_bytes());
        let f = eth(&[0x86dd], &bad);
        assert!(matches!(
            d.decode(&pkt(LinkType::ETHERNET, &f)),
            Decoded::Undecodable
        ));
        // Routing and AH headers are walked too.
        let mut ip = ipv6_tcp(MSG);
        ip[6] = V6_ROUTING;
        ip.splice(
            40..40,
            [
                V6_AUTH, 0, 0, 0, 0, 0, 0, 0, PROTO_TCP, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
            ],
        );
        let plen = (ip.len() - 40) as u16;
        ip[4..6].copy_from_slice(&plen.to_be_bytes());
        check_v6(&seg(d.decode(&pkt(LinkType::RAW, &ip))), MSG);
    }

    #[test]
    fn ethernet_padding_trimmed() {
        let mut d = Decoder::new();
        let mut f = eth(&[0x0800], &ipv4_tcp(b""));
        assert_eq!(f.len(), 54);
        f.resize(60, 0xee);
        let s = seg(d.decode(&pkt(LinkType::ETHERNET, &f)));
        assert_eq!(s.payload, b"");
        assert_eq!(s.wire_len, 0);
        // Same with IPv6 and a payload.
        let mut f = eth(&[0x86dd], &ipv6_tcp(b"ab"));
        f.extend_from_slice(&[0xee; 6]);
        check_v6(&seg(d.decode(&pkt(LinkType::ETHERNET, &f))), b"ab");
    }

    #[test]
    fn snaplen_cut_payload() {
        let mut d = Decoder::new();
        let data: Vec<u8> = (0..100u8).collect();
        let f = eth(&[0x0800], &ipv4_tcp(&data));
        let cut = &f[..14 + 20 + 20 + 30];
        let p = Packet {
            orig_len: f.len() as u32,
            ..pkt(LinkType::ETHERNET, cut)
        };
        let s = seg(d.decode(&p));
        assert_eq!(s.payload, &data[..30]);
        assert_eq!(s.wire_len, 100);
        assert_eq!(d.stats().truncated, 1);
        // Same for IPv6.
        let f = eth(&[0x86dd], &ipv6_tcp(&data));
        let s = seg(d.decode(&pkt(LinkType::ETHERNET, &f[..14 + 40 + 20 + 1])));
        assert_eq!(s.payload, &data[..1]);
        assert_eq!(s.wire_len, 100);
    }

    #[test]
    fn cut_or_lying_headers() {
        let mut d = Decoder::new();
        let f = eth(&[0x0800], &ipv4_tcp(MSG));
        for cut in [0, 5, 13, 14, 20, 33, 34, 40, 53] {
            assert!(
                matches!(
                    d.decode(&pkt(LinkType::ETHERNET, &f[..cut])),
                    Decoded::Undecodable
                ),
                "cut at {cut}"
            );
        }
        let f6 = eth(&[0x86dd], &ipv6_tcp(MSG));
        for cut in [14, 53, 54, 73] {
            assert!(
                matches!(
                    d.decode(&pkt(LinkType::ETHERNET, &f6[..cut])),
                    Decoded::Undecodable
                ),
                "v6 cut at {cut}"
            );
        }
        // TCP options announced but cut.
        let mut g = f.clone();
        g[14 + 20 + 12] = 0x80; // data offset 8 words = 32 bytes
        assert!(matches!(
            d.decode(&pkt(LinkType::ETHERNET, &g[..14 + 20 + 24])),
            Decoded::Undecodable
        ));
        // TCP data offset below 5.
        let mut g = f.clone();
        g[14 + 20 + 12] = 0x40;
        assert!(matches!(
            d.decode(&pkt(LinkType::ETHERNET, &g)),
            Decoded::Undecodable
        ));
        // IP total length below the IP header, or below IP + TCP headers.
        for total in [10u16, 30] {
            let mut g = f.clone();
            g[16..18].copy_from_slice(&total.to_be_bytes());
            assert!(
                matches!(d.decode(&pkt(LinkType::ETHERNET, &g)), Decoded::Undecodable),
                "total {total}"
            );
        }
        // IPv6 payload length below the TCP header.
        let mut g = f6.clone();
        g[18..20].copy_from_slice(&10u16.to_be_bytes());
        assert!(matches!(
            d.decode(&pkt(LinkType::ETHERNET, &g)),
            Decoded::Undecodable
        ));
        // IHL below 5.
        let mut g = f.clone();
        g[14] = 0x44;
        assert!(matches!(
            d.decode(&pkt(LinkType::ETHERNET, &g)),
            Decoded::Undecodable
        ));
        assert_eq!(d.stats().tcp, 0);
    }

    #[test]
    fn tso_zero_length() {
        let mut d = Decoder::new();
        let mut ip = ipv4_tcp(MSG);
        ip[2..4].copy_from_slice(&[0, 0]);
        check_v4(&seg(d.decode(&pkt(LinkType::RAW, &ip))), MSG);
        let mut ip = ipv6_tcp(MSG);
        ip[4..6].copy_from_slice(&[0, 0]);
        check_v6(&seg(d.decode(&pkt(LinkType::RAW, &ip))), MSG);
    }

    /// An Ethernet IPv4 fragment of the TCP segment `l4` (bytes [off, off+len)).
    fn v4_frag(id: u16, l4: &[u8], off: usize, len: usize, more: bool) -> Vec<u8> {
        let data = &l4[off..(off + len).min(l4.len())];
        let total = (20 + data.len()) as u16;
        let fo = (off / 8) as u16 | if more { 0x2000 } else { 0 };
        let mut ip = vec![0x45, 0];
        ip.extend_from_slice(&total.to_be_bytes());
        ip.extend_from_slice(&id.to_be_bytes());
        ip.extend_from_slice(&fo.to_be_bytes());
        ip.extend_from_slice(&[64, PROTO_TCP, 0, 0]);
        ip.extend_from_slice(&A4);
        ip.extend_from_slice(&B4);
        ip.extend_from_slice(data);
        eth(&[0x0800], &ip)
    }

    fn big_payload() -> Vec<u8> {
        (0..3000u32).map(|i| (i % 251) as u8).collect()
    }

    /// The TCP segment (header + payload) of an IPv4 packet.
    fn l4_of(ip: &[u8], hlen: usize) -> Vec<u8> {
        ip[hlen..].to_vec()
    }

    #[test]
    fn ipv4_fragments_in_order() {
        let mut d = Decoder::new();
        let p = big_payload();
        let l4 = l4_of(&ipv4_tcp(&p), 20);
        let f1 = v4_frag(7, &l4, 0, 1480, true);
        let f2 = v4_frag(7, &l4, 1480, 1480, true);
        let f3 = v4_frag(7, &l4, 2960, 1000, false);
        assert!(matches!(
            d.decode(&pkt(LinkType::ETHERNET, &f1)),
            Decoded::Fragment
        ));
        assert!(matches!(
            d.decode(&pkt(LinkType::ETHERNET, &f2)),
            Decoded::Fragment
        ));
        check_v4(&seg(d.decode(&pkt(LinkType::ETHERNET, &f3))), &p);
        let st = d.stats();
        assert_eq!((st.fragments, st.reassembled, st.tcp), (3, 1, 1));
        assert_eq!(d.fragments_in_flight(), 0);
        // The completing fragment names its datagram.
        let key = d.last_fragment().expect("a fragment");
        assert_eq!((key.id, key.proto), (7, PROTO_TCP));
        // Plain packets keep working afterwards, and are no fragment.
        let f = eth(&[0x0800], &ipv4_tcp(MSG));
        check_v4(&seg(d.decode(&pkt(LinkType::ETHERNET, &f))), MSG);
        assert_eq!(d.last_fragment(), None);
    }

    #[test]
    fn ipv4_fragments_reverse_and_duplicates() {
        let mut d = Decoder::new();
        let p = big_payload();
        let l4 = l4_of(&ipv4_tcp(&p), 20);
        let frags: Vec<Vec<u8>> = (0..4)
            .map(|i| v4_frag(9, &l4, i * 760, 760, i < 3))
            .collect();
        for f in frags.iter().skip(1).rev() {
            assert!(matches!(
                d.decode(&pkt(LinkType::ETHERNET, f)),
                Decoded::Fragment
            ));
            assert!(matches!(
                d.decode(&pkt(LinkType::ETHERNET, f)),
                Decoded::Fragment
            ));
        }
        check_v4(&seg(d.decode(&pkt(LinkType::ETHERNET, &frags[0]))), &p);
        assert_eq!(d.stats().frag_overlaps, 3);
        // A late duplicate starts a new datagram that never completes.
        assert!(matches!(
            d.decode(&pkt(LinkType::ETHERNET, &frags[1])),
            Decoded::Fragment
        ));
        assert_eq!(d.fragments_in_flight(), 1);
        d.finish();
        assert_eq!(d.stats().frag_expired, 1);
    }

    #[test]
    fn ipv4_fragments_overlapping() {
        let mut d = Decoder::new();
        let p = big_payload();
        let l4 = l4_of(&ipv4_tcp(&p), 20);
        let mut junk = l4.clone();
        for b in &mut junk[8..] {
            *b = !*b;
        }
        // Good [0,1480), junk [1000, 2480) overlapping, good [1480, end).
        let f1 = v4_frag(3, &l4, 0, 1480, true);
        let f2 = v4_frag(3, &junk, 1000, 1480, true);
        let f3 = v4_frag(3, &l4, 1480, 2000, false);
        assert!(matches!(
            d.decode(&pkt(LinkType::ETHERNET, &f1)),
            Decoded::Fragment
        ));
        assert!(matches!(
            d.decode(&pkt(LinkType::ETHERNET, &f2)),
            Decoded::Fragment
        ));
        let s = seg(d.decode(&pkt(LinkType::ETHERNET, &f3)));
        assert_eq!(s.payload.len(), p.len());
        let mut want = p.clone();
        // Bytes [1480, 2480) of the TCP segment came first from the junk fragment.
        for b in &mut want[1460..2460] {
            *b = !*b;
        }
        assert_eq!(s.payload, &want[..]);
        assert_eq!(d.stats().frag_overlaps, 2);
    }

    #[test]
    fn fragment_cut_by_snaplen() {
        let mut d = Decoder::new();
        let l4 = l4_of(&ipv4_tcp(&big_payload()), 20);
        let f1 = v4_frag(5, &l4, 0, 1480, true);
        let p = Packet {
            orig_len: f1.len() as u32,
            ..pkt(LinkType::ETHERNET, &f1[..200])
        };
        assert!(matches!(d.decode(&p), Decoded::Undecodable));
        let st = d.stats();
        assert_eq!((st.fragments, st.frag_invalid), (1, 1));
        assert_eq!(d.fragments_in_flight(), 0);
    }

    /// Raw IPv6 fragment: hop-by-hop in the unfragmentable part, then the fragment header.
    fn v6_frag(id: u32, part: &[u8], off: usize, len: usize, more: bool, nh: u8) -> Vec<u8> {
        let data = &part[off..(off + len).min(part.len())];
        let mut ip = vec![0x60, 0, 0, 0];
        ip.extend_from_slice(&((8 + 8 + data.len()) as u16).to_be_bytes());
        ip.extend_from_slice(&[V6_HOP_BY_HOP, 64]);
        ip.extend_from_slice(&A6);
        ip.extend_from_slice(&B6);
        ip.extend_from_slice(&[V6_FRAGMENT, 0, 1, 4, 0, 0, 0, 0]);
        let fo = off as u16 | more as u16;
        ip.extend_from_slice(&[nh, 0]);
        ip.extend_from_slice(&fo.to_be_bytes());
        ip.extend_from_slice(&id.to_be_bytes());
        ip.extend_from_slice(data);
        ip
    }

    #[test]
    fn ipv6_fragments() {
        let mut d = Decoder::new();
        let p = big_payload();
        // Fragmentable part: destination options, then the TCP segment.
        let full = ipv6_tcp(&p);
        let mut part = vec![PROTO_TCP, 0, 1, 4, 0, 0, 0, 0];
        part.extend_from_slice(&full[40..]);
        let f1 = v6_frag(0xdead_beef, &part, 0, 1232, true, V6_DEST_OPTS);
        let f2 = v6_frag(0xdead_beef, &part, 1232, 1232, true, V6_DEST_OPTS);
        let f3 = v6_frag(0xdead_beef, &part, 2464, 1232, false, V6_DEST_OPTS);
        assert!(matches!(
            d.decode(&pkt(LinkType::RAW, &f2)),
            Decoded::Fragment
        ));
        assert!(matches!(
            d.decode(&pkt(LinkType::RAW, &f3)),
            Decoded::Fragment
        ));
        check_v6(&seg(d.decode(&pkt(LinkType::RAW, &f1))), &p);
        // An atomic fragment (offset 0, no more) is decoded directly.
        let a = v6_frag(1, &part, 0, part.len(), false, V6_DEST_OPTS);
        check_v6(&seg(d.decode(&pkt(LinkType::RAW, &a))), &p);
        let st = d.stats();
        assert_eq!((st.fragments, st.reassembled, st.tcp), (3, 1, 2));
    }

    #[test]
    fn fragment_memory_bound_and_expiry() {
        let limits = DefragLimits {
            max_datagrams: 2,
            ..DefragLimits::default()
        };
        let mut d = Decoder::with_limits(limits);
        let p = big_payload();
        let l4 = l4_of(&ipv4_tcp(&p), 20);
        let head: Vec<Vec<u8>> = (0..3).map(|id| v4_frag(id, &l4, 0, 1480, true)).collect();
        let tail: Vec<Vec<u8>> = (0..3)
            .map(|id| v4_frag(id, &l4, 1480, 2000, false))
            .collect();
        for f in &head {
            assert!(matches!(d.decode(&at(0, f)), Decoded::Fragment));
        }
        assert_eq!(d.fragments_in_flight(), 2);
        assert_eq!(d.stats().frag_dropped, 1);
        // Datagram 0 was evicted: its tail starts over (evicting datagram 1).
        assert!(matches!(d.decode(&at(1, &tail[0])), Decoded::Fragment));
        check_v4(&seg(d.decode(&at(1, &tail[2]))), &p);
        assert_eq!(d.stats().frag_dropped, 2);
        // Datagram 0's remainder expires after 60 s of capture time.
        let f = eth(&[0x0800], &ipv4_tcp(MSG));
        assert!(matches!(d.decode(&at(30, &f)), Decoded::Tcp(_)));
        assert_eq!(d.fragments_in_flight(), 1);
        assert!(matches!(d.decode(&at(62, &f)), Decoded::Tcp(_)));
        assert_eq!(d.fragments_in_flight(), 0);
        assert_eq!(d.stats().frag_expired, 1);
        assert!(matches!(d.decode(&at(62, &head[0])), Decoded::Fragment));
    }

    const LINKS: [LinkType; 11] = [
        LinkType::NULL,
        LinkType::ETHERNET,
        LinkType::RAW_OLD1,
        LinkType::RAW_OLD2,
        LinkType::RAW,
        LinkType::LOOP,
        LinkType::LINUX_SLL,
        LinkType::IPV4,
        LinkType::IPV6,
        LinkType::LINUX_SLL2,
        LinkType(9999),
    ];

    proptest! {
        #[test]
        fn random_bytes_never_panic(lt in 0..LINKS.len(), data in proptest::collection::vec(any::<u8>(), 0..200), orig in any::<u32>()) {
            let mut d = Decoder::new();
            let p = Packet { ts: Timestamp(0), linktype: LINKS[lt], data: &data, orig_len: orig };
            if let Decoded::Tcp(s) = d.decode(&p) {
                prop_assert!(s.payload.len() <= data.len());
            }
        }

        #[test]
        fn mutated_packets_never_panic(
            muts in proptest::collection::vec((0usize..200, any::<u8>(), 0usize..6, 0usize..300, 0i64..200), 1..40)
        ) {
            let p = big_payload();
            let l4 = l4_of(&ipv4_tcp(&p[..600]), 20);
            let mut part = vec![PROTO_TCP, 0, 1, 4, 0, 0, 0, 0];
            part.extend_from_slice(&ipv6_tcp(&p[..600])[40..]);
            let bases = [
                eth(&[0x0800], &ipv4_tcp(MSG)),
                eth(&[0x8100, 0x86dd], &ipv6_exts(MSG)),
                v4_frag(1, &l4, 0, 304, true),
                v4_frag(1, &l4, 304, 400, false),
                eth(&[0x86dd], &v6_frag(2, &part, 0, 304, true, V6_DEST_OPTS)),
                eth(&[0x86dd], &v6_frag(2, &part, 304, 400, false, V6_DEST_OPTS)),
            ];
            let mut d = Decoder::with_limits(DefragLimits { max_datagrams: 4, max_memory: 100_000, ..DefragLimits::default() });
            for (idx, val, base, cut, secs) in muts {
                let mut f = bases[base].clone();
                if let Some(b) = f.get_mut(idx) {
                    *b = val;
                }
                f.truncate(cut);
                let pk = at(secs, &f);
                if let Decoded::Tcp(s) = d.decode(&pk) {
                    prop_assert!(s.payload.len() <= s.wire_len as usize);
                }
            }
        }
    }
}
