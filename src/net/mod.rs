//! Network layers: link/IP decoding, IP defragmentation, TCP tracking and stream reassembly.

pub mod decode;
pub mod dns;
pub mod fasthash;
pub mod ipfrag;
pub mod linger;
pub mod link;
pub mod reassembly;
pub mod reorder;
pub mod replay;
pub mod tcp;
pub mod tcpstate;
pub mod tunnel;
pub mod undecoded;
pub mod zone;

use std::net::IpAddr;

/// TCP header flags as on the wire (low 8 bits of the flags field).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TcpFlags(pub u8);

impl TcpFlags {
    pub const FIN: u8 = 0x01;
    pub const SYN: u8 = 0x02;
    pub const RST: u8 = 0x04;
    pub const PSH: u8 = 0x08;
    pub const ACK: u8 = 0x10;
    pub fn fin(self) -> bool {
        self.0 & Self::FIN != 0
    }
    pub fn syn(self) -> bool {
        self.0 & Self::SYN != 0
    }
    pub fn rst(self) -> bool {
        self.0 & Self::RST != 0
    }
    pub fn ack(self) -> bool {
        self.0 & Self::ACK != 0
    }
}

/// A decoded TCP segment, borrowing its payload from the packet (or the defragmenter).
#[derive(Debug, Clone, Copy)]
pub struct TcpSegment<'a> {
    pub src: IpAddr,
    pub dst: IpAddr,
    pub sport: u16,
    pub dport: u16,
    pub seq: u32,
    pub ack: u32,
    pub flags: TcpFlags,
    pub window: u16,
    /// Payload bytes present in the capture.
    pub payload: &'a [u8],
    /// Payload length on the wire, from the IP length (>= payload.len() when snaplen cut it).
    pub wire_len: u32,
    /// The VLAN IDs and tunnel identities the segment travelled through (part of the
    /// flow key; 0 when there were none or they are ignored).
    pub zone: zone::Zone,
}

/// A DNS message to or from the DNS port: a UDP datagram as the decoder found it, or a
/// message cut from a TCP stream.
#[derive(Debug, Clone, Copy)]
pub struct DnsDatagram<'a> {
    pub src: IpAddr,
    pub dst: IpAddr,
    pub sport: u16,
    pub dport: u16,
    /// The DNS message (the UDP payload, or a TCP message without its length prefix).
    pub payload: &'a [u8],
}
