//! Decoding a captured packet down to its TCP segment, through link layers, VLAN tags,
//! tunnels and IP, borrowing from the packet.
//!
//! The header parsers live in [`link`](super::link) and [`tunnel`](super::tunnel); this
//! module chains them: each step looks at one header and says what comes next, at most
//! [`MAX_LAYERS`] steps. IPv4, IPv6 and TCP headers are validated with etherparse's
//! zero-copy header slices. Lengths come from the IP header, so Ethernet trailer padding
//! never reaches the TCP payload, and a payload cut by the snap length is reported with its
//! wire length. Fragments of datagrams that may hold TCP (TCP itself, or a tunnel) go to
//! the bounded [`Defragmenter`](super::ipfrag::Defragmenter) and are decoded further once
//! whole. VLAN IDs and tunnel identities are folded into the segment's [`Zone`]. Packets
//! that may hold TCP but are not decoded are counted by [`Cause`]; nothing else allocates.

use std::net::IpAddr;

use etherparse::{Ipv4HeaderSlice, Ipv6HeaderSlice, TcpHeaderSlice};

use super::dns::DNS_PORT;
use super::ipfrag::{DefragLimits, Defragmenter, FragKey, FragOutcome};
use super::link::{self, Family, MplsPayload};
use super::tunnel::{self, GENEVE_PORT, GRE_ERSPAN_2, GRE_ERSPAN_3, TEB, VXLAN_PORTS};
use super::undecoded::{Cause, Undecoded};
use super::zone::{IdKind, Zone, ZoneNames, ZonePath};
use super::{DnsDatagram, TcpFlags, TcpSegment};
use crate::capture::{LinkType, Packet};

/// Most header steps taken for one packet (a plain Ethernet/IPv4/TCP packet takes 4; each
/// VLAN tag, MPLS stack and tunnel header takes one or two). Deeper packets are counted
/// as [`Cause::TooDeep`].
pub const MAX_LAYERS: usize = 32;

/// Result of decoding one packet.
#[derive(Debug)]
pub enum Decoded<'a> {
    Tcp(TcpSegment<'a>),
    /// A UDP datagram to or from port 53 (DNS), counted among the packets that are not TCP.
    Dns(DnsDatagram<'a>),
    /// IP but not TCP, or not IP at all (ARP, ...), or not decoded (see the causes).
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
    /// Packets that may hold TCP but were not decoded (also in `not_tcp` or
    /// `undecodable`); by cause in [`Decoder::undecoded`].
    pub undecoded: u64,
    /// TCP segments whose payload was cut by the snap length.
    pub truncated: u64,
    /// IP fragments seen (of datagrams that may hold TCP).
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
    undecoded: Undecoded,
    /// Fold VLAN IDs and tunnel identities into the segments' zones.
    zones: bool,
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
const ETH_MPLS: u16 = 0x8847;
const ETH_MPLS_MULTICAST: u16 = 0x8848;
const ETH_PPPOE_SESSION: u16 = 0x8864;
const PROTO_IPIP: u8 = 4;
const PROTO_TCP: u8 = 6;
const PROTO_UDP: u8 = 17;
const PROTO_IPV6: u8 = 41;
const PROTO_GRE: u8 = 47;
const PROTO_MPLS: u8 = 137;
const V6_HOP_BY_HOP: u8 = 0;
const V6_ROUTING: u8 = 43;
const V6_FRAGMENT: u8 = 44;
const V6_AUTH: u8 = 51;
const V6_DEST_OPTS: u8 = 60;
const PPP_IPV4: u16 = 0x0021;
const PPP_IPV6: u16 = 0x0057;
const PPP_MPLS: u16 = 0x0281;
const PPP_MPLS_MULTICAST: u16 = 0x0283;

/// Link types beyond the ones [`LinkType`] names.
const LINKTYPE_PPP: u32 = 9;
const LINKTYPE_PPP_HDLC: u32 = 50;
const LINKTYPE_PPP_ETHER: u32 = 51;
const LINKTYPE_C_HDLC: u32 = 104;
const LINKTYPE_NFLOG: u32 = 239;

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
            undecoded: Undecoded::default(),
            zones: true,
            last_frag: None,
        }
    }

    /// Whether VLAN IDs and tunnel identities tell flows apart (the default). Off, every
    /// segment has the zone 0: for span setups that tag each direction differently.
    pub fn set_zones(&mut self, on: bool) {
        self.zones = on;
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

    /// Packets that may hold TCP but were not decoded, by cause.
    pub fn undecoded(&self) -> &Undecoded {
        &self.undecoded
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
        self.decode_named(pkt, None)
    }

    /// [`Decoder::decode`] that also names, in `names`, the zones of the segments it
    /// returns ("vlan 100, vni 5000").
    pub fn decode_named<'a>(
        &'a mut self,
        pkt: &Packet<'a>,
        names: Option<&mut ZoneNames>,
    ) -> Decoded<'a> {
        self.stats.packets += 1;
        self.last_frag = None;
        self.defrag.tick(pkt.ts);
        // Bytes the snap length cut off: only used when an IP length field is 0 (TSO).
        let missing = (pkt.orig_len as usize).saturating_sub(pkt.data.len());
        // The common case first, at the cost it had before tunnels were decoded.
        if let Some(seg) = plain(pkt.linktype, pkt.data, missing) {
            self.stats.tcp += 1;
            if seg.payload.len() < seg.wire_len as usize {
                self.stats.truncated += 1;
            }
            return Decoded::Tcp(seg);
        }
        let mut zone = ZonePath::default();
        let end = walk(
            Layer::Link(pkt.linktype, pkt.data),
            missing,
            &mut zone,
            true,
        );
        if let End::Frag { key, .. } = &end {
            self.last_frag = Some(*key);
        }
        let end = match end {
            End::Frag {
                key,
                offset,
                more,
                data,
            } => match self.defrag.insert(pkt.ts, key, offset, more, data) {
                FragOutcome::Pending | FragOutcome::Discarded => return Decoded::Fragment,
                FragOutcome::Complete => {
                    let buf = self.defrag.completed();
                    let p = IpPayload {
                        src: key.src,
                        dst: key.dst,
                        proto: key.proto,
                        avail: buf,
                        declared: buf.len(),
                    };
                    let layer = match key.src {
                        IpAddr::V4(_) => Layer::Payload(p),
                        IpAddr::V6(_) => Layer::Chain(p),
                    };
                    walk(layer, 0, &mut zone, false)
                }
            },
            e => e,
        };
        match end {
            End::Tcp(mut seg) => {
                self.stats.tcp += 1;
                if seg.payload.len() < seg.wire_len as usize {
                    self.stats.truncated += 1;
                }
                if self.zones {
                    seg.zone = zone.zone;
                    if let Some(n) = names {
                        n.note(&zone);
                    }
                }
                Decoded::Tcp(seg)
            }
            End::NotTcp => {
                self.stats.not_tcp += 1;
                Decoded::NotTcp
            }
            End::Dns(d) => {
                self.stats.not_tcp += 1;
                Decoded::Dns(d)
            }
            End::Unsupported(cause) => {
                if let Cause::LinkType(_) = cause {
                    self.stats.unknown_linktype += 1;
                }
                self.stats.not_tcp += 1;
                self.stats.undecoded += 1;
                self.undecoded.add(cause);
                Decoded::NotTcp
            }
            End::Bad => {
                self.stats.undecodable += 1;
                self.stats.undecoded += 1;
                self.undecoded.add(Cause::Truncated);
                Decoded::Undecodable
            }
            End::FragCut => {
                self.frag_cut += 1;
                self.stats.undecodable += 1;
                self.stats.undecoded += 1;
                self.undecoded.add(Cause::Truncated);
                Decoded::Undecodable
            }
            // Never: fragments inside a reassembled datagram end as NestedFragment.
            End::Frag { .. } => {
                self.stats.not_tcp += 1;
                self.stats.undecoded += 1;
                self.undecoded.add(Cause::NestedFragment);
                Decoded::NotTcp
            }
        }
    }
}

/// Untagged Ethernet or Linux cooked capture carrying IPv4 or IPv6 (no extension header)
/// carrying a whole TCP segment, or `None` (then [`walk`] decodes the packet from the
/// start).
#[inline(always)]
fn plain(lt: LinkType, d: &[u8], missing: usize) -> Option<TcpSegment<'_>> {
    let (et, rest) = match lt {
        LinkType::ETHERNET => link::ethernet(d)?,
        LinkType::LINUX_SLL => link::sll(d)?,
        LinkType::LINUX_SLL2 => link::sll2(d)?,
        _ => return None,
    };
    let p = match et {
        ETH_IPV4 => ipv4(rest, missing, true).ok()?,
        ETH_IPV6 => ipv6(rest, missing)?,
        _ => return None,
    };
    if p.proto != PROTO_TCP {
        return None;
    }
    match tcp(p.src, p.dst, p.avail, p.declared) {
        End::Tcp(seg) => Some(seg),
        _ => None,
    }
}

/// The transport payload of an IP datagram.
#[derive(Clone, Copy)]
struct IpPayload<'a> {
    src: IpAddr,
    dst: IpAddr,
    /// IPv4 protocol, or the IPv6 next header (extension headers not yet walked for
    /// [`Layer::Chain`]).
    proto: u8,
    /// The captured part of the payload.
    avail: &'a [u8],
    /// The payload's length on the wire.
    declared: usize,
}

/// The header a decoding step looks at.
enum Layer<'a> {
    /// A whole captured frame of a link type.
    Link(LinkType, &'a [u8]),
    /// An Ethernet frame from its destination address.
    Ether(&'a [u8]),
    /// The payload of an ethertype.
    Type(u16, &'a [u8]),
    /// The payload of a PPP protocol.
    Ppp(u16, &'a [u8]),
    /// An MPLS label stack.
    Mpls(&'a [u8]),
    V4(&'a [u8]),
    V6(&'a [u8]),
    /// IPv6 extension headers to walk before the transport payload.
    Chain(IpPayload<'a>),
    /// A transport payload to dispatch on its protocol.
    Payload(IpPayload<'a>),
}

/// Where decoding ends.
enum End<'a> {
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
    /// A UDP datagram to or from the DNS port.
    Dns(DnsDatagram<'a>),
    /// Cannot hold TCP (ARP, ICMP, UDP that is no tunnel, ...).
    NotTcp,
    /// May hold TCP but is not decoded.
    Unsupported(Cause),
    /// Cut or malformed headers.
    Bad,
}

/// Follows the headers from `layer` down to TCP (or to where decoding ends), folding
/// VLAN IDs and tunnel identities into `zone`. `frag` is false inside a datagram that was
/// itself reassembled (its fragments cannot go to the defragmenter again).
#[inline]
fn walk<'a>(mut layer: Layer<'a>, missing: usize, zone: &mut ZonePath, frag: bool) -> End<'a> {
    for _ in 0..MAX_LAYERS {
        layer = match layer {
            Layer::Link(lt, d) => match link_layer(lt, d) {
                Ok(l) => l,
                Err(e) => return e,
            },
            Layer::Ether(d) => match link::ethernet(d) {
                // 802.3 length field: LLC (STP, CDP, ...), no IP.
                Some((et, _)) if et < 0x0600 => return End::NotTcp,
                Some((et, rest)) => Layer::Type(et, rest),
                None => return End::Bad,
            },
            Layer::Type(et, d) => match et {
                ETH_IPV4 => Layer::V4(d),
                ETH_IPV6 => Layer::V6(d),
                et if link::is_vlan(et) => match link::vlan(d) {
                    Some(t) => {
                        zone.push(IdKind::Vlan, u32::from(t.vid));
                        Layer::Type(t.ethertype, t.payload)
                    }
                    None => return End::Bad,
                },
                ETH_MPLS | ETH_MPLS_MULTICAST => Layer::Mpls(d),
                ETH_PPPOE_SESSION => match link::pppoe_session(d) {
                    Some(p) => Layer::Ppp(p.protocol, p.payload),
                    None => return End::Bad,
                },
                TEB => Layer::Ether(d),
                et if ethertype_without_tcp(et) => return End::NotTcp,
                et => return End::Unsupported(Cause::Ethertype(et)),
            },
            Layer::Ppp(p, d) => match p {
                PPP_IPV4 => Layer::V4(d),
                PPP_IPV6 => Layer::V6(d),
                PPP_MPLS | PPP_MPLS_MULTICAST => Layer::Mpls(d),
                // Link and network control protocols (LCP, IPCP, PAP, CHAP, ...).
                p if p >= 0x8000 => return End::NotTcp,
                p => return End::Unsupported(Cause::PppProtocol(p)),
            },
            Layer::Mpls(d) => match link::mpls(d) {
                Some(MplsPayload::Ipv4(d)) => Layer::V4(d),
                Some(MplsPayload::Ipv6(d)) => Layer::V6(d),
                Some(MplsPayload::Ethernet(d)) => Layer::Ether(d),
                Some(MplsPayload::Channel) => return End::NotTcp,
                None => return End::Bad,
            },
            Layer::V4(d) => match ipv4(d, missing, frag) {
                Ok(p) => Layer::Payload(p),
                Err(e) => return e,
            },
            Layer::V6(d) => match ipv6(d, missing) {
                Some(p) => Layer::Chain(p),
                None => return End::Bad,
            },
            Layer::Chain(p) => match ipv6_chain(p, frag) {
                Ok(p) => Layer::Payload(p),
                Err(e) => return e,
            },
            Layer::Payload(p) => match p.proto {
                PROTO_TCP => return tcp(p.src, p.dst, p.avail, p.declared),
                PROTO_IPIP => Layer::V4(p.avail),
                PROTO_IPV6 => Layer::V6(p.avail),
                PROTO_MPLS => Layer::Mpls(p.avail),
                PROTO_GRE => match gre(p.avail, zone) {
                    Ok(l) => l,
                    Err(e) => return e,
                },
                PROTO_UDP if is_dns(p.avail) => {
                    return match tunnel::udp(p.avail) {
                        Some(u) => End::Dns(DnsDatagram {
                            src: p.src,
                            dst: p.dst,
                            sport: u.sport,
                            dport: u.dport,
                            payload: u.payload,
                        }),
                        None => End::NotTcp,
                    };
                }
                PROTO_UDP => match udp(p.avail, zone) {
                    Some(l) => l,
                    None => return End::NotTcp,
                },
                proto if ip_protocol_without_tcp(proto) => return End::NotTcp,
                proto => return End::Unsupported(Cause::IpProtocol(proto)),
            },
        };
    }
    End::Unsupported(Cause::TooDeep)
}

/// The first layer inside a frame of link type `lt`.
#[inline]
fn link_layer<'a>(lt: LinkType, d: &'a [u8]) -> Result<Layer<'a>, End<'a>> {
    let typed = |h: Option<(u16, &'a [u8])>| match h {
        // The SLL protocol field below 0x0600 names a non-Ethernet payload (802.2, CAN, ...).
        Some((et, _)) if et < 0x0600 => Err(End::NotTcp),
        Some((et, rest)) => Ok(Layer::Type(et, rest)),
        None => Err(End::Bad),
    };
    let by_nibble = |d: &'a [u8]| match d.first() {
        Some(b) if b >> 4 == 4 => Ok(Layer::V4(d)),
        Some(b) if b >> 4 == 6 => Ok(Layer::V6(d)),
        Some(_) => Err(End::NotTcp),
        None => Err(End::Bad),
    };
    match lt {
        LinkType::ETHERNET => Ok(Layer::Ether(d)),
        LinkType::LINUX_SLL => typed(link::sll(d)),
        LinkType::LINUX_SLL2 => typed(link::sll2(d)),
        LinkType::RAW | LinkType::RAW_OLD1 | LinkType::RAW_OLD2 => by_nibble(d),
        LinkType::IPV4 => Ok(Layer::V4(d)),
        LinkType::IPV6 => Ok(Layer::V6(d)),
        LinkType::NULL | LinkType::LOOP => match link::null_loop(lt == LinkType::NULL, d) {
            Some((Family::Ipv4, rest)) => Ok(Layer::V4(rest)),
            Some((Family::Ipv6, rest)) => Ok(Layer::V6(rest)),
            Some((Family::Other, _)) => Err(End::NotTcp),
            None => Err(End::Bad),
        },
        // PPP in HDLC-like framing may also hold Cisco HDLC frames (libpcap).
        LinkType(LINKTYPE_PPP_HDLC) if matches!(d.first(), Some(0x0f | 0x8f)) => {
            match link::cisco_hdlc(d) {
                Some((et, rest)) => Ok(Layer::Type(et, rest)),
                None => Err(End::Bad),
            }
        }
        LinkType(LINKTYPE_PPP | LINKTYPE_PPP_HDLC) => match link::ppp(d) {
            Some((p, rest)) => Ok(Layer::Ppp(p, rest)),
            None => Err(End::Bad),
        },
        LinkType(LINKTYPE_PPP_ETHER) => Ok(Layer::Type(ETH_PPPOE_SESSION, d)),
        LinkType(LINKTYPE_C_HDLC) => match link::cisco_hdlc(d) {
            Some((et, rest)) => Ok(Layer::Type(et, rest)),
            None => Err(End::Bad),
        },
        LinkType(LINKTYPE_NFLOG) => match link::nflog(d) {
            Some((2, p)) => Ok(Layer::V4(p)),
            Some((10, p)) => Ok(Layer::V6(p)),
            Some((_, p)) => by_nibble(p),
            None => Err(End::Bad),
        },
        LinkType(n) => Err(End::Unsupported(Cause::LinkType(n))),
    }
}

/// Ethertypes known not to carry TCP (not a blind spot when seen).
#[inline]
fn ethertype_without_tcp(et: u16) -> bool {
    matches!(
        et,
        0x0806 // ARP
            | 0x8035 // RARP, Cisco SLARP
            | 0x2000 // CDP (Cisco HDLC)
            | 0x809b // AppleTalk
            | 0x80f3 // AARP
            | 0x8137 // IPX
            | 0x8808 // Ethernet flow control
            | 0x8809 // slow protocols (LACP)
            | 0x8863 // PPPoE discovery
            | 0x888e // 802.1X
            | 0x8892 // PROFINET
            | 0x88a4 // EtherCAT
            | 0x88b8 // GOOSE
            | 0x88ba // sampled values
            | 0x88cc // LLDP
            | 0x88e1 // HomePlug
            | 0x88e3 // MRP
            | 0x88f7 // PTP
            | 0x8902 // CFM
            | 0x8906 // FCoE
            | 0x8914 // FIP
            | 0x9000 // loopback
    )
}

/// IP protocols known not to carry TCP.
#[inline]
fn ip_protocol_without_tcp(p: u8) -> bool {
    matches!(
        p,
        1 // ICMP
            | 2 // IGMP
            | 58 // ICMPv6
            | 59 // no next header
            | 88 // EIGRP
            | 89 // OSPF
            | 103 // PIM
            | 112 // VRRP
            | 132 // SCTP
            | 136 // UDP-Lite
    )
}

/// A GRE header and what it carries.
#[inline]
fn gre<'a>(d: &'a [u8], zone: &mut ZonePath) -> Result<Layer<'a>, End<'a>> {
    let Some(g) = tunnel::gre(d) else {
        // Cut, or the deprecated routing field.
        return Err(match d.first() {
            Some(f) if f & 0x40 != 0 => End::Unsupported(Cause::GreRouting),
            _ => End::Bad,
        });
    };
    if g.version != 0 {
        return Err(End::Unsupported(Cause::GreVersion(g.version)));
    }
    if let Some(k) = g.key {
        zone.push(IdKind::GreKey, k);
    }
    match g.protocol {
        GRE_ERSPAN_2 if g.seq.is_some() => erspan(tunnel::erspan2(g.payload), zone),
        // ERSPAN type I: no header, the mirrored frame right away.
        GRE_ERSPAN_2 => Ok(Layer::Ether(g.payload)),
        GRE_ERSPAN_3 => erspan(tunnel::erspan3(g.payload), zone),
        TEB => Ok(Layer::Ether(g.payload)),
        ETH_IPV4 | ETH_IPV6 | ETH_MPLS | ETH_MPLS_MULTICAST | ETH_PPPOE_SESSION => {
            Ok(Layer::Type(g.protocol, g.payload))
        }
        p if link::is_vlan(p) => Ok(Layer::Type(p, g.payload)),
        p if ethertype_without_tcp(p) => Err(End::NotTcp),
        p => Err(End::Unsupported(Cause::GreProtocol(p))),
    }
}

#[inline]
fn erspan<'a>(e: Option<tunnel::Erspan<'a>>, zone: &mut ZonePath) -> Result<Layer<'a>, End<'a>> {
    match e {
        Some(e) if e.frame_type == 0 => {
            zone.push(IdKind::ErspanSession, u32::from(e.session));
            Ok(Layer::Ether(e.payload))
        }
        Some(e) => Err(End::Unsupported(Cause::ErspanFrameType(e.frame_type))),
        None => Err(End::Bad),
    }
}

/// A UDP datagram: a VXLAN or GENEVE tunnel by destination port, else `None` (UDP
/// itself carries no TCP).
#[inline]
fn udp<'a>(d: &'a [u8], zone: &mut ZonePath) -> Option<Layer<'a>> {
    let u = tunnel::udp(d)?;
    if VXLAN_PORTS.contains(&u.dport) {
        let (vni, inner) = tunnel::vxlan(u.payload)?;
        zone.push(IdKind::Vni, vni);
        return Some(Layer::Ether(inner));
    }
    if u.dport == GENEVE_PORT {
        let g = tunnel::geneve(u.payload)?;
        zone.push(IdKind::Vni, g.vni);
        return Some(match g.protocol {
            TEB => Layer::Ether(g.payload),
            p => Layer::Type(p, g.payload),
        });
    }
    None
}

/// A UDP header to or from the DNS port.
#[inline]
fn is_dns(d: &[u8]) -> bool {
    tunnel::udp(d).is_some_and(|u| u.sport == DNS_PORT || u.dport == DNS_PORT)
}

/// Transport protocols whose fragments are worth reassembling (they may hold TCP).
#[inline]
fn may_hold_tcp(proto: u8) -> bool {
    matches!(
        proto,
        PROTO_TCP | PROTO_UDP | PROTO_GRE | PROTO_IPIP | PROTO_IPV6 | PROTO_MPLS
    )
}

#[inline]
fn ipv4(d: &[u8], missing: usize, frag: bool) -> Result<IpPayload<'_>, End<'_>> {
    let Ok(h) = Ipv4HeaderSlice::from_slice(d) else {
        return Err(End::Bad);
    };
    let hlen = h.slice().len();
    let total = match h.total_len() {
        // TCP segmentation offload: the length was never filled in.
        0 => d.len() + missing,
        t => usize::from(t),
    };
    if total < hlen {
        return Err(End::Bad);
    }
    let proto = h.protocol().0;
    let declared = total - hlen;
    let avail = d.get(hlen..total.min(d.len())).unwrap_or(&[]);
    let src = IpAddr::V4(h.source_addr());
    let dst = IpAddr::V4(h.destination_addr());
    let offset = u32::from(h.fragments_offset().byte_offset());
    let more = h.more_fragments();
    if offset != 0 || more {
        if !may_hold_tcp(proto) {
            return Err(End::NotTcp);
        }
        if !frag {
            return Err(End::Unsupported(Cause::NestedFragment));
        }
        if avail.len() < declared {
            return Err(End::FragCut);
        }
        let key = FragKey {
            src,
            dst,
            proto,
            id: u32::from(h.identification()),
        };
        return Err(End::Frag {
            key,
            offset,
            more,
            data: avail,
        });
    }
    Ok(IpPayload {
        src,
        dst,
        proto,
        avail,
        declared,
    })
}

#[inline]
fn ipv6(d: &[u8], missing: usize) -> Option<IpPayload<'_>> {
    let h = Ipv6HeaderSlice::from_slice(d).ok()?;
    let hlen = h.slice().len();
    let declared = match h.payload_length() {
        // Jumbogram or segmentation offload: take what the frame holds.
        0 => d.len().saturating_sub(hlen) + missing,
        p => usize::from(p),
    };
    let end = hlen.saturating_add(declared).min(d.len());
    Some(IpPayload {
        src: IpAddr::V6(h.source_addr()),
        dst: IpAddr::V6(h.destination_addr()),
        proto: h.next_header().0,
        avail: d.get(hlen..end).unwrap_or(&[]),
        declared,
    })
}

/// Walks IPv6 extension headers from `p.proto` down to the transport payload.
fn ipv6_chain(p: IpPayload<'_>, frag: bool) -> Result<IpPayload<'_>, End<'_>> {
    let IpPayload {
        src,
        dst,
        proto: mut next,
        avail,
        declared,
    } = p;
    let mut off = 0usize;
    // Every extension header takes at least 8 bytes, so this ends.
    loop {
        match next {
            V6_HOP_BY_HOP | V6_ROUTING | V6_DEST_OPTS | V6_AUTH => {
                let (Some(&nh), Some(&l)) = (avail.get(off), avail.get(off + 1)) else {
                    return Err(End::Bad);
                };
                let len = if next == V6_AUTH {
                    (usize::from(l) + 2) * 4
                } else {
                    (usize::from(l) + 1) * 8
                };
                if off + len > avail.len() {
                    return Err(End::Bad);
                }
                next = nh;
                off += len;
            }
            V6_FRAGMENT => {
                let Some(f) = avail.get(off..off + 8) else {
                    return Err(End::Bad);
                };
                let Ok::<[u8; 8], _>(f) = f.try_into() else {
                    return Err(End::Bad);
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
                if !may_hold_tcp(f[0]) && !matches!(f[0], V6_DEST_OPTS | V6_ROUTING | V6_AUTH) {
                    return Err(End::NotTcp);
                }
                let data = avail.get(off..).unwrap_or(&[]);
                let key = FragKey {
                    src,
                    dst,
                    proto: f[0],
                    id: u32::from_be_bytes([f[4], f[5], f[6], f[7]]),
                };
                if !frag {
                    return Err(End::Unsupported(Cause::NestedFragment));
                }
                if data.len() < declared.saturating_sub(off) {
                    return Err(End::FragCut);
                }
                return Err(End::Frag {
                    key,
                    offset,
                    more,
                    data,
                });
            }
            proto => {
                return Ok(IpPayload {
                    src,
                    dst,
                    proto,
                    avail: avail.get(off..).unwrap_or(&[]),
                    declared: declared.saturating_sub(off),
                })
            }
        }
    }
}

/// Decodes the TCP header at the start of `avail` (the captured part of the `declared`
/// bytes the IP layer gives TCP).
#[inline]
fn tcp(src: IpAddr, dst: IpAddr, avail: &[u8], declared: usize) -> End<'_> {
    let Ok(t) = TcpHeaderSlice::from_slice(avail) else {
        return End::Bad;
    };
    let thl = t.slice().len();
    if declared < thl {
        return End::Bad;
    }
    let payload = avail.get(thl..).unwrap_or(&[]);
    let flags = t.slice().get(13).copied().unwrap_or(0);
    End::Tcp(TcpSegment {
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
        zone: Zone::default(),
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
    fn udp_to_or_from_port_53_is_dns() {
        let mut d = Decoder::new();
        for (sport, dport) in [(40000, 53), (53, 40000)] {
            let b = PacketBuilder::ipv4(A4, B4, 64).udp(sport, dport);
            let mut udp = Vec::new();
            b.write(&mut udp, b"\x12\x34").unwrap();
            let f = eth(&[0x0800], &udp);
            match d.decode(&pkt(LinkType::ETHERNET, &f)) {
                Decoded::Dns(g) => {
                    assert_eq!(
                        (g.sport, g.dport, g.payload),
                        (sport, dport, &b"\x12\x34"[..])
                    );
                    assert_eq!(g.src, IpAddr::from(A4));
                }
                _ => panic!("not DNS"),
            }
        }
        assert_eq!(d.stats().not_tcp, 2);
    }

    #[test]
    fn not_tcp() {
        let mut d = Decoder::new();
        let b = PacketBuilder::ipv4(A4, B4, 64).udp(123, 123);
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

    const LINKS: [LinkType; 16] = [
        LinkType(LINKTYPE_PPP),
        LinkType(LINKTYPE_PPP_HDLC),
        LinkType(LINKTYPE_PPP_ETHER),
        LinkType(LINKTYPE_C_HDLC),
        LinkType(LINKTYPE_NFLOG),
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
        #![proptest_config(crate::testing::prop_config(256))]
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
            muts in proptest::collection::vec((0usize..200, any::<u8>(), 0usize..9, 0usize..300, 0i64..200), 1..40)
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
                chains::vxlan(&[0x8100], 7, &eth(&[0x0800], &ipv4_tcp(MSG))),
                chains::outer(PROTO_GRE, &chains::gre_erspan2(3, &eth(&[0x0800], &ipv4_tcp(MSG)))),
                eth(&[0x8847], &chains::mpls_pw(&eth(&[0x8100, 0x0800], &ipv4_tcp(MSG)))),
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

    /// Tunnels, link layers and the undecoded causes, on literal frames.
    pub(super) mod chains {
        use super::*;

        /// An IPv4 header (no options, checksum not checked) around `payload`.
        pub fn ip4(proto: u8, src: [u8; 4], dst: [u8; 4], payload: &[u8]) -> Vec<u8> {
            let mut v = vec![0x45, 0];
            v.extend_from_slice(&((20 + payload.len()) as u16).to_be_bytes());
            v.extend_from_slice(&[0, 1, 0, 0, 64, proto, 0, 0]);
            v.extend_from_slice(&src);
            v.extend_from_slice(&dst);
            v.extend_from_slice(payload);
            v
        }

        /// An Ethernet frame with an outer IPv4 packet of `proto`.
        pub fn outer(proto: u8, payload: &[u8]) -> Vec<u8> {
            eth(
                &[0x0800],
                &ip4(proto, [10, 98, 2, 1], [10, 98, 2, 2], payload),
            )
        }

        pub fn udp(dport: u16, payload: &[u8]) -> Vec<u8> {
            let mut v = vec![0xc0, 0x00];
            v.extend_from_slice(&dport.to_be_bytes());
            v.extend_from_slice(&((8 + payload.len()) as u16).to_be_bytes());
            v.extend_from_slice(&[0, 0]);
            v.extend_from_slice(payload);
            v
        }

        /// VXLAN (VNI `vni`) around `frame`, in UDP/IPv4/Ethernet with outer `tags`.
        pub fn vxlan(tags: &[u16], vni: u32, frame: &[u8]) -> Vec<u8> {
            let mut v = vec![0x08, 0, 0, 0];
            v.extend_from_slice(&(vni << 8).to_be_bytes());
            v.extend_from_slice(frame);
            let mut types = tags.to_vec();
            types.push(0x0800);
            eth(
                &types,
                &ip4(PROTO_UDP, [10, 98, 2, 1], [10, 98, 2, 2], &udp(4789, &v)),
            )
        }

        pub fn gre(flags: u16, proto: u16, opts: &[u8], payload: &[u8]) -> Vec<u8> {
            let mut v = flags.to_be_bytes().to_vec();
            v.extend_from_slice(&proto.to_be_bytes());
            v.extend_from_slice(opts);
            v.extend_from_slice(payload);
            v
        }

        /// GRE (sequence number) + ERSPAN II (session `session`) around `frame`.
        pub fn gre_erspan2(session: u16, frame: &[u8]) -> Vec<u8> {
            let mut e = vec![0x10, 0x00];
            e.extend_from_slice(&session.to_be_bytes());
            e.extend_from_slice(&[0, 0, 0, 1]);
            e.extend_from_slice(frame);
            gre(0x1000, 0x88be, &[0, 0, 0, 9], &e)
        }

        /// Two MPLS labels, a control word, `frame`.
        pub fn mpls_pw(frame: &[u8]) -> Vec<u8> {
            let mut v = vec![0, 0x3e, 0x80, 64, 0, 0x01, 0x01, 64, 0, 0, 0, 0];
            v.extend_from_slice(frame);
            v
        }

        fn tcp_of<'a>(d: &'a mut Decoder, lt: LinkType, f: &'a [u8]) -> TcpSegment<'a> {
            seg(d.decode(&pkt(lt, f)))
        }

        #[test]
        fn vxlan_and_geneve() {
            let inner = eth(&[0x0800], &ipv4_tcp(MSG));
            let mut d = Decoder::new();
            let a = tcp_of(&mut d, LinkType::ETHERNET, &vxlan(&[], 100, &inner)).zone;
            check_v4(
                &tcp_of(&mut d, LinkType::ETHERNET, &vxlan(&[], 100, &inner)),
                MSG,
            );
            let b = tcp_of(&mut d, LinkType::ETHERNET, &vxlan(&[], 200, &inner)).zone;
            assert_ne!(a, b);
            assert_ne!(a, Zone::default());
            // The Linux port, and VLAN tags inside and outside.
            let mut f = vxlan(&[], 100, &inner);
            f[14 + 20 + 2..14 + 20 + 4].copy_from_slice(&8472u16.to_be_bytes());
            assert_eq!(tcp_of(&mut d, LinkType::ETHERNET, &f).zone, a);
            let tagged = eth(&[0x88a8, 0x8100, 0x0800], &ipv4_tcp(MSG));
            let f = vxlan(&[0x8100], 100, &tagged);
            let z = tcp_of(&mut d, LinkType::ETHERNET, &f).zone;
            check_v4(&tcp_of(&mut d, LinkType::ETHERNET, &f), MSG);
            assert_ne!(z, a);
            // GENEVE with one option word, Ethernet inside, then IPv6 directly.
            let mut g = vec![0x01, 0, 0x65, 0x58, 0, 0, 100, 0, 1, 2, 3, 4];
            g.extend_from_slice(&inner);
            let f = outer(PROTO_UDP, &udp(6081, &g));
            check_v4(&tcp_of(&mut d, LinkType::ETHERNET, &f), MSG);
            let mut g = vec![0, 0, 0x86, 0xdd, 0, 0, 100, 0];
            g.extend_from_slice(&ipv6_tcp(MSG));
            let f = outer(PROTO_UDP, &udp(6081, &g));
            check_v6(&tcp_of(&mut d, LinkType::ETHERNET, &f), MSG);
            // Zones off: every segment in zone 0.
            let mut d = Decoder::new();
            d.set_zones(false);
            assert_eq!(
                tcp_of(&mut d, LinkType::ETHERNET, &vxlan(&[], 100, &inner)).zone,
                Zone::default()
            );
            // Plain UDP (DNS) is not TCP and no blind spot; a cut VXLAN header is neither.
            let mut d = Decoder::new();
            let dns = outer(PROTO_UDP, &udp(53, b"\x12\x34\x01\x00"));
            assert!(matches!(
                d.decode(&pkt(LinkType::ETHERNET, &dns)),
                Decoded::Dns(_)
            ));
            assert_eq!(d.undecoded().total(), 0);
        }

        #[test]
        fn gre_variants() {
            let ip = ipv4_tcp(MSG);
            let inner = eth(&[0x0800], &ip);
            let mut d = Decoder::new();
            // Key: part of the zone.
            let k1 = outer(PROTO_GRE, &gre(0x2000, 0x0800, &[0, 0, 0, 1], &ip));
            let k2 = outer(PROTO_GRE, &gre(0x2000, 0x0800, &[0, 0, 0, 2], &ip));
            let z1 = tcp_of(&mut d, LinkType::ETHERNET, &k1).zone;
            check_v4(&tcp_of(&mut d, LinkType::ETHERNET, &k1), MSG);
            assert_ne!(z1, tcp_of(&mut d, LinkType::ETHERNET, &k2).zone);
            // Checksum + sequence, Ethernet bridging; IPv6 payload.
            let f = outer(
                PROTO_GRE,
                &gre(0x9000, 0x6558, &[0, 0, 0, 0, 0, 0, 0, 5], &inner),
            );
            check_v4(&tcp_of(&mut d, LinkType::ETHERNET, &f), MSG);
            let f = outer(PROTO_GRE, &gre(0, 0x86dd, &[], &ipv6_tcp(MSG)));
            check_v6(&tcp_of(&mut d, LinkType::ETHERNET, &f), MSG);
            // ERSPAN I, II (session in the zone), III (with the platform sub-header).
            let f = outer(PROTO_GRE, &gre(0, 0x88be, &[], &inner));
            check_v4(&tcp_of(&mut d, LinkType::ETHERNET, &f), MSG);
            let s3 = outer(PROTO_GRE, &gre_erspan2(3, &inner));
            let s4 = outer(PROTO_GRE, &gre_erspan2(4, &inner));
            let z3 = tcp_of(&mut d, LinkType::ETHERNET, &s3).zone;
            check_v4(&tcp_of(&mut d, LinkType::ETHERNET, &s3), MSG);
            assert_ne!(z3, tcp_of(&mut d, LinkType::ETHERNET, &s4).zone);
            let mut e3 = vec![0x20, 0, 0, 3, 0, 0, 0, 1, 0, 0, 0, 1];
            e3.extend_from_slice(&[0; 8]);
            e3.extend_from_slice(&inner);
            let f = outer(PROTO_GRE, &gre(0, 0x22eb, &[], &e3));
            check_v4(&tcp_of(&mut d, LinkType::ETHERNET, &f), MSG);
            assert_eq!(d.undecoded().total(), 0);
            // Unknown GRE protocol, GRE version 1, ERSPAN III frame type 2: counted by cause.
            let f = outer(PROTO_GRE, &gre(0, 0x88b5, &[], &ip));
            assert!(matches!(
                d.decode(&pkt(LinkType::ETHERNET, &f)),
                Decoded::NotTcp
            ));
            assert!(matches!(
                d.decode(&pkt(LinkType::ETHERNET, &f)),
                Decoded::NotTcp
            ));
            let f = outer(PROTO_GRE, &gre(0x2001, 0x880b, &[0, 0, 0, 0], &ip));
            assert!(matches!(
                d.decode(&pkt(LinkType::ETHERNET, &f)),
                Decoded::NotTcp
            ));
            let f = outer(PROTO_GRE, &gre(0x4000, 0x0800, &[0, 0, 0, 0], &ip));
            assert!(matches!(
                d.decode(&pkt(LinkType::ETHERNET, &f)),
                Decoded::NotTcp
            ));
            e3[10] = 0x08;
            e3[11] = 0;
            let f = outer(PROTO_GRE, &gre(0, 0x22eb, &[], &e3[..12]));
            assert!(matches!(
                d.decode(&pkt(LinkType::ETHERNET, &f)),
                Decoded::NotTcp
            ));
            // A cut GRE header is truncated.
            let f = outer(PROTO_GRE, &[0x20, 0, 0x08, 0x00, 0]);
            assert!(matches!(
                d.decode(&pkt(LinkType::ETHERNET, &f)),
                Decoded::Undecodable
            ));
            assert_eq!(
                d.undecoded().by_count(),
                vec![
                    (Cause::GreProtocol(0x88b5), 2),
                    (Cause::GreVersion(1), 1),
                    (Cause::GreRouting, 1),
                    (Cause::ErspanFrameType(2), 1),
                    (Cause::Truncated, 1),
                ]
            );
            let st = d.stats();
            assert_eq!((st.undecoded, st.not_tcp, st.undecodable), (6, 5, 1));
        }

        #[test]
        fn mpls_pppoe_and_ip_in_ip() {
            let ip = ipv4_tcp(MSG);
            let mut d = Decoder::new();
            // MPLS: IP directly, or a pseudowire (control word) with a tagged frame inside.
            let mut m = vec![0, 0x01, 0x01, 64];
            m.extend_from_slice(&ip);
            check_v4(
                &tcp_of(&mut d, LinkType::ETHERNET, &eth(&[0x8847], &m)),
                MSG,
            );
            let pw = mpls_pw(&eth(&[0x8100, 0x0800], &ip));
            check_v4(
                &tcp_of(&mut d, LinkType::ETHERNET, &eth(&[0x8848], &pw)),
                MSG,
            );
            // MPLS in IP (protocol 137).
            check_v4(
                &tcp_of(&mut d, LinkType::ETHERNET, &outer(PROTO_MPLS, &m)),
                MSG,
            );
            // PPPoE session with IPv4, then IPv6; LCP is no blind spot.
            let mut p = vec![0x11, 0, 0x12, 0x34];
            p.extend_from_slice(&((2 + ip.len()) as u16).to_be_bytes());
            p.extend_from_slice(&[0x00, 0x21]);
            p.extend_from_slice(&ip);
            check_v4(
                &tcp_of(&mut d, LinkType::ETHERNET, &eth(&[0x8864], &p)),
                MSG,
            );
            let ip6 = ipv6_tcp(MSG);
            let mut p6 = vec![0x11, 0, 0x12, 0x34];
            p6.extend_from_slice(&((2 + ip6.len()) as u16).to_be_bytes());
            p6.extend_from_slice(&[0x00, 0x57]);
            p6.extend_from_slice(&ip6);
            check_v6(
                &tcp_of(&mut d, LinkType::ETHERNET, &eth(&[0x8864], &p6)),
                MSG,
            );
            let lcp = [0x11, 0, 0x12, 0x34, 0, 6, 0xc0, 0x21, 1, 1, 0, 4];
            assert!(matches!(
                d.decode(&pkt(LinkType::ETHERNET, &eth(&[0x8864], &lcp))),
                Decoded::NotTcp
            ));
            // IP-in-IP, 6in4, 4in6.
            check_v4(
                &tcp_of(&mut d, LinkType::ETHERNET, &outer(PROTO_IPIP, &ip)),
                MSG,
            );
            check_v6(
                &tcp_of(&mut d, LinkType::ETHERNET, &outer(PROTO_IPV6, &ip6)),
                MSG,
            );
            let b = PacketBuilder::ipv6(B6, A6, 64);
            let mut o6 = Vec::new();
            b.write(&mut o6, etherparse::IpNumber(PROTO_IPIP), &ip)
                .unwrap();
            check_v4(&tcp_of(&mut d, LinkType::RAW, &o6), MSG);
            // ARP and ICMP are no blind spots; ESP and an unknown ethertype are.
            let arp = eth(&[0x0806], &[0, 1, 8, 0, 6, 4, 0, 1]);
            assert!(matches!(
                d.decode(&pkt(LinkType::ETHERNET, &arp)),
                Decoded::NotTcp
            ));
            let icmp = outer(1, &[8, 0, 0, 0]);
            assert!(matches!(
                d.decode(&pkt(LinkType::ETHERNET, &icmp)),
                Decoded::NotTcp
            ));
            assert_eq!(d.undecoded().total(), 0);
            let esp = outer(50, &[0, 0, 1, 0, 0, 0, 0, 1]);
            assert!(matches!(
                d.decode(&pkt(LinkType::ETHERNET, &esp)),
                Decoded::NotTcp
            ));
            let macsec = eth(&[0x88e5], &[0x2c, 0, 0, 0, 0, 1]);
            assert!(matches!(
                d.decode(&pkt(LinkType::ETHERNET, &macsec)),
                Decoded::NotTcp
            ));
            assert_eq!(
                d.undecoded().by_count(),
                vec![(Cause::Ethertype(0x88e5), 1), (Cause::IpProtocol(50), 1)]
            );
        }

        #[test]
        fn link_types() {
            let ip = ipv4_tcp(MSG);
            let mut d = Decoder::new();
            let mut f = vec![0xff, 0x03, 0x00, 0x21];
            f.extend_from_slice(&ip);
            check_v4(&tcp_of(&mut d, LinkType(LINKTYPE_PPP), &f), MSG);
            check_v4(&tcp_of(&mut d, LinkType(LINKTYPE_PPP_HDLC), &f), MSG);
            check_v4(&tcp_of(&mut d, LinkType(LINKTYPE_PPP), &f[2..]), MSG);
            let mut h = vec![0x0f, 0x00, 0x08, 0x00];
            h.extend_from_slice(&ip);
            check_v4(&tcp_of(&mut d, LinkType(LINKTYPE_C_HDLC), &h), MSG);
            check_v4(&tcp_of(&mut d, LinkType(LINKTYPE_PPP_HDLC), &h), MSG);
            let mut n = vec![2, 0, 0, 1, 8, 0, 10, 0, b'f', b't', b'p', 0];
            n.extend_from_slice(&((4 + ip.len()) as u16).to_le_bytes());
            n.extend_from_slice(&[9, 0]);
            n.extend_from_slice(&ip);
            check_v4(&tcp_of(&mut d, LinkType(LINKTYPE_NFLOG), &n), MSG);
            let mut pe = vec![0x11, 0, 0, 1];
            pe.extend_from_slice(&((2 + ip.len()) as u16).to_be_bytes());
            pe.extend_from_slice(&[0x00, 0x21]);
            pe.extend_from_slice(&ip);
            check_v4(&tcp_of(&mut d, LinkType(LINKTYPE_PPP_ETHER), &pe), MSG);
            // An unknown link type is a blind spot, named.
            assert!(matches!(
                d.decode(&pkt(LinkType(147), &ip)),
                Decoded::NotTcp
            ));
            assert_eq!(d.undecoded().by_count(), vec![(Cause::LinkType(147), 1)]);
            assert_eq!(d.stats().unknown_linktype, 1);
        }

        #[test]
        fn nesting_is_bounded() {
            let mut d = Decoder::new();
            let mut ip = ipv4_tcp(MSG);
            for _ in 0..(MAX_LAYERS / 2) {
                ip = ip4(PROTO_IPIP, A4, B4, &ip);
            }
            assert!(matches!(
                d.decode(&pkt(LinkType::RAW, &ip)),
                Decoded::NotTcp
            ));
            assert_eq!(d.undecoded().by_count(), vec![(Cause::TooDeep, 1)]);
            // A little less deep is fine.
            let mut ip = ipv4_tcp(MSG);
            for _ in 0..(MAX_LAYERS / 2 - 2) {
                ip = ip4(PROTO_IPIP, A4, B4, &ip);
            }
            check_v4(&seg(d.decode(&pkt(LinkType::RAW, &ip))), MSG);
        }

        #[test]
        fn fragmented_outer_vxlan_is_reassembled_first() {
            let big = big_payload();
            let inner = eth(&[0x0800], &ipv4_tcp(&big));
            let mut v = vec![0x08, 0, 0, 0, 0, 0, 100, 0];
            v.extend_from_slice(&inner);
            let l4 = udp(4789, &v);
            // Outer fragments of 1480 bytes, last one first.
            let mut frags = Vec::new();
            for (i, off) in (0..l4.len()).step_by(1480).enumerate() {
                let end = (off + 1480).min(l4.len());
                let more = end < l4.len();
                let mut h = ip4(PROTO_UDP, [10, 98, 2, 1], [10, 98, 2, 2], &l4[off..end]);
                let fo = (off / 8) as u16 | if more { 0x2000 } else { 0 };
                h[4..6].copy_from_slice(&77u16.to_be_bytes());
                h[6..8].copy_from_slice(&fo.to_be_bytes());
                frags.push((i, eth(&[0x0800], &h)));
            }
            assert_eq!(frags.len(), 3);
            let mut d = Decoder::new();
            for (_, f) in frags.iter().skip(1).rev() {
                assert!(matches!(
                    d.decode(&pkt(LinkType::ETHERNET, f)),
                    Decoded::Fragment
                ));
            }
            let s = seg(d.decode(&pkt(LinkType::ETHERNET, &frags[0].1)));
            check_v4(&s, &big);
            assert_ne!(s.zone, Zone::default());
            assert_eq!(d.stats().reassembled, 1);
            // Fragmented UDP that is no tunnel is plain non-TCP once whole.
            let mut d = Decoder::new();
            let dns = udp(53, &[0u8; 40]);
            let mut h1 = ip4(PROTO_UDP, A4, B4, &dns[..24]);
            h1[6..8].copy_from_slice(&0x2000u16.to_be_bytes());
            let mut h2 = ip4(PROTO_UDP, A4, B4, &dns[24..]);
            h2[6..8].copy_from_slice(&3u16.to_be_bytes());
            assert!(matches!(
                d.decode(&pkt(LinkType::RAW, &h1)),
                Decoded::Fragment
            ));
            assert!(matches!(
                d.decode(&pkt(LinkType::RAW, &h2)),
                Decoded::Dns(_)
            ));
            assert_eq!(d.undecoded().total(), 0);
        }
    }
}
