//! Test helpers: build pcap, pcapng and gzip captures in memory.

use std::io::Write;

/// A classic pcap file.
pub struct Pcap {
    pub be: bool,
    pub out: Vec<u8>,
    /// Byte offset where each record starts.
    pub starts: Vec<usize>,
}

impl Pcap {
    pub fn new(be: bool, nanos: bool, linktype: u32) -> Self {
        let mut p = Pcap {
            be,
            out: Vec::new(),
            starts: Vec::new(),
        };
        let magic = if nanos { 0xa1b2_3c4d } else { 0xa1b2_c3d4 };
        p.u32(magic);
        p.u16(2);
        p.u16(4);
        p.u32(0);
        p.u32(0);
        p.u32(65535);
        p.u32(linktype);
        p
    }
    fn u16(&mut self, v: u16) {
        let b = if self.be {
            v.to_be_bytes()
        } else {
            v.to_le_bytes()
        };
        self.out.extend_from_slice(&b);
    }
    pub fn u32(&mut self, v: u32) {
        let b = if self.be {
            v.to_be_bytes()
        } else {
            v.to_le_bytes()
        };
        self.out.extend_from_slice(&b);
    }
    /// A record; `frac` is µs or ns according to the magic.
    pub fn rec(mut self, secs: u32, frac: u32, data: &[u8]) -> Self {
        self.starts.push(self.out.len());
        self.u32(secs);
        self.u32(frac);
        self.u32(data.len() as u32);
        self.u32(data.len() as u32 + 4);
        self.out.extend_from_slice(data);
        self
    }
}

/// A pcapng file, block by block.
pub struct Ng {
    pub be: bool,
    pub out: Vec<u8>,
    /// Byte offset of each packet block.
    pub starts: Vec<usize>,
}

impl Ng {
    pub fn new() -> Self {
        Ng {
            be: false,
            out: Vec::new(),
            starts: Vec::new(),
        }
    }
    fn b16(&self, v: u16) -> [u8; 2] {
        if self.be {
            v.to_be_bytes()
        } else {
            v.to_le_bytes()
        }
    }
    fn b32(&self, v: u32) -> [u8; 4] {
        if self.be {
            v.to_be_bytes()
        } else {
            v.to_le_bytes()
        }
    }
    /// A raw block with `body` (padded to 4).
    pub fn block(mut self, btype: u32, body: &[u8]) -> Self {
        let padded = (body.len() + 3) & !3;
        let len = (12 + padded) as u32;
        let t = self.b32(btype);
        let l = self.b32(len);
        self.out.extend_from_slice(&t);
        self.out.extend_from_slice(&l);
        self.out.extend_from_slice(body);
        self.out.resize(self.out.len() + padded - body.len(), 0);
        self.out.extend_from_slice(&l);
        self
    }
    pub fn shb(mut self, be: bool) -> Self {
        self.be = be;
        let mut body = Vec::new();
        body.extend_from_slice(&self.b32(0x1A2B_3C4D));
        body.extend_from_slice(&self.b16(1));
        body.extend_from_slice(&self.b16(0));
        body.extend_from_slice(&(-1i64).to_le_bytes());
        self.block(0x0A0D_0D0A, &body)
    }
    /// Interface with optional if_tsresol byte and if_tsoffset.
    pub fn idb(self, linktype: u16, snaplen: u32, tsresol: Option<u8>, tsoff: Option<i64>) -> Self {
        let mut body = Vec::new();
        body.extend_from_slice(&self.b16(linktype));
        body.extend_from_slice(&self.b16(0));
        body.extend_from_slice(&self.b32(snaplen));
        // an option we do not know, first
        body.extend_from_slice(&self.b16(2));
        body.extend_from_slice(&self.b16(3));
        body.extend_from_slice(b"eth\0");
        if let Some(r) = tsresol {
            body.extend_from_slice(&self.b16(9));
            body.extend_from_slice(&self.b16(1));
            body.extend_from_slice(&[r, 0, 0, 0]);
        }
        if let Some(o) = tsoff {
            body.extend_from_slice(&self.b16(14));
            body.extend_from_slice(&self.b16(8));
            let b = if self.be {
                o.to_be_bytes()
            } else {
                o.to_le_bytes()
            };
            body.extend_from_slice(&b);
        }
        body.extend_from_slice(&[0, 0, 0, 0]);
        self.block(1, &body)
    }
    pub fn epb(mut self, ifid: u32, ts: u64, data: &[u8]) -> Self {
        self.starts.push(self.out.len());
        let mut body = Vec::new();
        body.extend_from_slice(&self.b32(ifid));
        body.extend_from_slice(&self.b32((ts >> 32) as u32));
        body.extend_from_slice(&self.b32(ts as u32));
        body.extend_from_slice(&self.b32(data.len() as u32));
        body.extend_from_slice(&self.b32(data.len() as u32 + 10));
        body.extend_from_slice(data);
        body.resize((body.len() + 3) & !3, 0);
        // a comment option
        body.extend_from_slice(&self.b16(1));
        body.extend_from_slice(&self.b16(2));
        body.extend_from_slice(b"hi\0\0");
        body.extend_from_slice(&[0, 0, 0, 0]);
        self.block(6, &body)
    }
    pub fn pb(mut self, ifid: u16, ts: u64, data: &[u8]) -> Self {
        self.starts.push(self.out.len());
        let mut body = Vec::new();
        body.extend_from_slice(&self.b16(ifid));
        body.extend_from_slice(&self.b16(0));
        body.extend_from_slice(&self.b32((ts >> 32) as u32));
        body.extend_from_slice(&self.b32(ts as u32));
        body.extend_from_slice(&self.b32(data.len() as u32));
        body.extend_from_slice(&self.b32(data.len() as u32));
        body.extend_from_slice(data);
        self.block(2, &body)
    }
    pub fn spb(mut self, orig_len: u32, data: &[u8]) -> Self {
        self.starts.push(self.out.len());
        let mut body = Vec::new();
        body.extend_from_slice(&self.b32(orig_len));
        body.extend_from_slice(data);
        self.block(3, &body)
    }
}

pub fn gzip(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

/// Payload of `n` bytes with a recognizable pattern.
pub fn payload(tag: u8, n: usize) -> Vec<u8> {
    (0..n).map(|i| tag.wrapping_add(i as u8)).collect()
}
