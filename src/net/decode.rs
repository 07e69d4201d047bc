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

    /// End of input: drops the incomplete datagrams (counted as expired).
    pub fn finish(&mut self) {
        self.defrag.clear();
    }

    /// Decode one packet. The returned segment borrows from `pkt.data` or from the
    /// decoder's defragmentation buffer.
    pub fn decode<'a>(&'a mut self, pkt: &Packet<'a>) -> Decoded<'a> {
        self.stats.packets += 1;
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
