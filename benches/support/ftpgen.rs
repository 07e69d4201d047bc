//! Synthetic FTP captures for benchmarks: classic pcap (µs), Ethernet/IPv4/TCP, 1514-byte
//! data frames, valid IP and TCP checksums.
//!
//! Every session: control handshake, 220 greeting, USER/331, PASS/230, TYPE I/200,
//! PASV/227 (even sessions) or EPSV/229 (odd), a passive data connection (handshake),
//! RETR/150 "(N bytes)", N bytes in full-size segments with a client ACK every 2 segments,
//! data FIN teardown, 226, QUIT/221, control FIN teardown. `concurrent` sessions run side
//! by side: their data segments are interleaved round-robin, so the TCP tracker juggles
//! several live connections as on a real link.
//!
//! Shared by `examples/gencap.rs` (files for `scripts/bench.sh`) and `benches/analyze.rs`
//! (in memory) through `#[path]`.

use std::io::{self, Write};

/// TCP payload of a full-size segment (1514-byte frame).
pub const MSS: usize = 1460;
pub const SERVER_IP: [u8; 4] = [192, 0, 2, 10];
const CLIENT_MAC: [u8; 6] = [0x02, 0, 0, 0, 0, 0x01];
const SERVER_MAC: [u8; 6] = [0x02, 0, 0, 0, 0, 0x02];
/// Capture time of the first packet: 2024-01-01T00:00:00Z.
const T0: u64 = 1_704_067_200;
/// Capture time between consecutive packets: ~1 Gbit/s for full-size frames.
const STEP_US: u64 = 12;

#[derive(Debug, Clone, Copy)]
pub struct Config {
    /// Number of FTP sessions (one RETR each).
    pub sessions: u32,
    /// Bytes each RETR transfers.
    pub file_size: u64,
    /// Sessions whose transfers run interleaved.
    pub concurrent: u32,
}

impl Config {
    /// Sessions of `file_size` bytes enough for a capture of about `total` bytes.
    pub fn for_size(total: u64, file_size: u64, concurrent: u32) -> Config {
        // Per 2 data frames (2 × 1530 bytes with the record header) one client ACK (70 bytes).
        let per_session = file_size.div_ceil(2 * MSS as u64) * (2 * 1530 + 70) + 8 * 1024;
        let sessions = (total / per_session).max(1) as u32;
        Config {
            sessions,
            file_size,
            concurrent: concurrent.max(1),
        }
    }
}

/// What was written.
#[derive(Debug, Default, Clone, Copy)]
pub struct Summary {
    pub packets: u64,
    pub bytes: u64,
    pub payload_bytes: u64,
}

/// A pcap being written: frame buffer, clock and counts.
pub struct Out<W: Write> {
    pub w: W,
    frame: Vec<u8>,
    us: u64,
    ip_id: u16,
    sum: Summary,
}

/// One end of a TCP connection.
#[derive(Clone, Copy)]
pub struct Ep {
    pub ip: [u8; 4],
    pub port: u16,
}

/// One TCP connection: client and server ends and their next sequence numbers.
#[derive(Clone, Copy)]
pub struct Conn {
    c: Ep,
    s: Ep,
    c_seq: u32,
    s_seq: u32,
}

pub const FIN: u8 = 0x01;
pub const SYN: u8 = 0x02;
pub const PSH: u8 = 0x08;
pub const ACK: u8 = 0x10;

fn sum16(data: &[u8]) -> u64 {
    let mut s = 0u64;
    let mut it = data.chunks_exact(2);
    for w in &mut it {
        s += u16::from_be_bytes([w[0], w[1]]) as u64;
    }
    if let [b] = it.remainder() {
        s += (*b as u64) << 8;
    }
    s
}

fn fold(mut s: u64) -> u16 {
    while s >> 16 != 0 {
        s = (s & 0xffff) + (s >> 16);
    }
    !(s as u16)
}

impl<W: Write> Out<W> {
    pub fn new(mut w: W) -> io::Result<Self> {
        // pcap header: µs magic, v2.4, snaplen 65535, LINKTYPE_ETHERNET.
        let mut h = Vec::with_capacity(24);
        h.extend_from_slice(&0xa1b2_c3d4u32.to_le_bytes());
        h.extend_from_slice(&2u16.to_le_bytes());
        h.extend_from_slice(&4u16.to_le_bytes());
        h.extend_from_slice(&[0; 8]);
        h.extend_from_slice(&65535u32.to_le_bytes());
        h.extend_from_slice(&1u32.to_le_bytes());
        w.write_all(&h)?;
        Ok(Out {
            w,
            frame: Vec::with_capacity(2048),
            us: 0,
            ip_id: 0,
            sum: Summary {
                bytes: 24,
                ..Summary::default()
            },
        })
    }

    /// One TCP segment from `src` to `dst`, stamped `STEP_US` after the previous one.
    fn seg(
        &mut self,
        to_server: bool,
        (src, dst): (Ep, Ep),
        seq: u32,
        ack: u32,
        flags: u8,
        payload: &[u8],
    ) -> io::Result<()> {
        let f = &mut self.frame;
        f.clear();
        let total = (16 + 14 + 20 + 20 + payload.len()) as u32;
        let ts = T0 * 1_000_000 + self.us;
        self.us += STEP_US;
        f.extend_from_slice(&((ts / 1_000_000) as u32).to_le_bytes());
        f.extend_from_slice(&((ts % 1_000_000) as u32).to_le_bytes());
        f.extend_from_slice(&(total - 16).to_le_bytes());
        f.extend_from_slice(&(total - 16).to_le_bytes());
        // Ethernet
        let (dmac, smac) = if to_server {
            (SERVER_MAC, CLIENT_MAC)
        } else {
            (CLIENT_MAC, SERVER_MAC)
        };
        f.extend_from_slice(&dmac);
        f.extend_from_slice(&smac);
        f.extend_from_slice(&[0x08, 0x00]);
        // IPv4
        let ip_len = (20 + 20 + payload.len()) as u16;
        self.ip_id = self.ip_id.wrapping_add(1);
        let ip = f.len();
        f.extend_from_slice(&[0x45, 0]);
        f.extend_from_slice(&ip_len.to_be_bytes());
        f.extend_from_slice(&self.ip_id.to_be_bytes());
        f.extend_from_slice(&[0x40, 0, 64, 6, 0, 0]);
        f.extend_from_slice(&src.ip);
        f.extend_from_slice(&dst.ip);
        let c = fold(sum16(&f[ip..ip + 20]));
        f[ip + 10..ip + 12].copy_from_slice(&c.to_be_bytes());
        // TCP
        let tcp = f.len();
        f.extend_from_slice(&src.port.to_be_bytes());
        f.extend_from_slice(&dst.port.to_be_bytes());
        f.extend_from_slice(&seq.to_be_bytes());
        f.extend_from_slice(&(if flags & ACK != 0 { ack } else { 0 }).to_be_bytes());
        f.extend_from_slice(&[5 << 4, flags, 0xff, 0xff, 0, 0, 0, 0]);
        f.extend_from_slice(payload);
        let tcp_len = (20 + payload.len()) as u64;
        let pseudo = sum16(&src.ip) + sum16(&dst.ip) + 6 + tcp_len;
        let c = fold(pseudo + sum16(&f[tcp..]));
        f[tcp + 16..tcp + 18].copy_from_slice(&c.to_be_bytes());
        self.w.write_all(f)?;
        self.sum.packets += 1;
        self.sum.bytes += total as u64;
        self.sum.payload_bytes += payload.len() as u64;
        Ok(())
    }
}

impl Conn {
    pub fn new(c: Ep, s: Ep, isn: u32) -> Conn {
        Conn {
            c,
            s,
            c_seq: isn,
            s_seq: isn.wrapping_mul(2_654_435_761).wrapping_add(12_345),
        }
    }

    /// Client → server, advancing the client's sequence number.
    pub fn cs<W: Write>(&mut self, o: &mut Out<W>, flags: u8, payload: &[u8]) -> io::Result<()> {
        o.seg(
            true,
            (self.c, self.s),
            self.c_seq,
            self.s_seq,
            flags,
            payload,
        )?;
        self.c_seq = self
            .c_seq
            .wrapping_add(payload.len() as u32 + (flags & (SYN | FIN) != 0) as u32);
        Ok(())
    }

    /// Server → client.
    pub fn sc<W: Write>(&mut self, o: &mut Out<W>, flags: u8, payload: &[u8]) -> io::Result<()> {
        o.seg(
            false,
            (self.s, self.c),
            self.s_seq,
            self.c_seq,
            flags,
            payload,
        )?;
        self.s_seq = self
            .s_seq
            .wrapping_add(payload.len() as u32 + (flags & (SYN | FIN) != 0) as u32);
        Ok(())
    }

    pub fn handshake<W: Write>(&mut self, o: &mut Out<W>) -> io::Result<()> {
        self.cs(o, SYN, b"")?;
        self.sc(o, SYN | ACK, b"")?;
        self.cs(o, ACK, b"")
    }

    /// The side that sent `first_fin_from_server` closes first.
    pub fn teardown<W: Write>(&mut self, o: &mut Out<W>, server_first: bool) -> io::Result<()> {
        if server_first {
            self.sc(o, FIN | ACK, b"")?;
            self.cs(o, FIN | ACK, b"")?;
            self.sc(o, ACK, b"")
        } else {
            self.cs(o, FIN | ACK, b"")?;
            self.sc(o, FIN | ACK, b"")?;
            self.cs(o, ACK, b"")
        }
    }

    /// A client command and the server's reply.
    pub fn exchange<W: Write>(&mut self, o: &mut Out<W>, cmd: &str, reply: &str) -> io::Result<()> {
        self.cs(o, PSH | ACK, cmd.as_bytes())?;
        self.sc(o, PSH | ACK, reply.as_bytes())
    }
}

struct Sess {
    n: u32,
    ctrl: Conn,
    data: Conn,
    path: String,
    sent: u64,
    segs: u64,
}

/// Pseudo-random file content (xorshift), shared by all transfers at varying offsets.
fn content() -> Vec<u8> {
    let mut x = 0x9e37_79b9_7f4a_7c15u64;
    (0..(1usize << 20) + MSS)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

impl<W: Write> Out<W> {
    /// Flush and return what was written.
    pub fn finish(mut self) -> io::Result<Summary> {
        self.w.flush()?;
        Ok(self.sum)
    }
}

/// Write the whole capture to `w` (buffer it: thousands of small writes per MB).
pub fn generate<W: Write>(cfg: &Config, w: W) -> io::Result<Summary> {
    let mut o = Out::new(w)?;
    let blob = content();
    let server = |port| Ep {
        ip: SERVER_IP,
        port,
    };
    let mut first = 0u32;
    while first < cfg.sessions {
        let last = (first + cfg.concurrent).min(cfg.sessions);
        let mut group: Vec<Sess> = (first..last)
            .map(|n| {
                let client_ip = [10, 1 + (n >> 16) as u8, (n >> 8) as u8, n as u8];
                let c = Ep {
                    ip: client_ip,
                    port: 40_000 + (n % 20_000) as u16,
                };
                let dc = Ep {
                    ip: client_ip,
                    port: 20_000 + (n % 20_000) as u16,
                };
                let ds = server(50_000 + (n % 10_000) as u16);
                Sess {
                    n,
                    ctrl: Conn::new(c, server(21), n.wrapping_mul(7919).wrapping_add(1_000_000)),
                    data: Conn::new(dc, ds, n.wrapping_mul(104_729).wrapping_add(3_000_000_000)),
                    path: format!("/pub/bench/file-{n:06}.bin"),
                    sent: 0,
                    segs: 0,
                }
            })
            .collect();
        // Control dialogue up to the data connection.
        for s in &mut group {
            let k = &mut s.ctrl;
            k.handshake(&mut o)?;
            k.sc(
                &mut o,
                PSH | ACK,
                b"220 ftptrace bench FTP server ready.\r\n",
            )?;
            k.cs(&mut o, ACK, b"")?;
            k.exchange(
                &mut o,
                "USER bench\r\n",
                "331 Password required for bench.\r\n",
            )?;
            k.exchange(&mut o, "PASS s3cret\r\n", "230 User bench logged in.\r\n")?;
            k.exchange(&mut o, "TYPE I\r\n", "200 Type set to I.\r\n")?;
            let port = s.data.s.port;
            if s.n % 2 == 0 {
                let reply = format!(
                    "227 Entering Passive Mode ({},{},{},{},{},{}).\r\n",
                    SERVER_IP[0],
                    SERVER_IP[1],
                    SERVER_IP[2],
                    SERVER_IP[3],
                    port >> 8,
                    port & 0xff
                );
                k.exchange(&mut o, "PASV\r\n", &reply)?;
            } else {
                k.exchange(
                    &mut o,
                    "EPSV\r\n",
                    &format!("229 Entering Extended Passive Mode (|||{port}|)\r\n"),
                )?;
            }
            s.data.handshake(&mut o)?;
            let k = &mut s.ctrl;
            k.exchange(
                &mut o,
                &format!("RETR {}\r\n", s.path),
                &format!(
                    "150 Opening BINARY mode data connection for {} ({} bytes).\r\n",
                    s.path, cfg.file_size
                ),
            )?;
        }
        // Data, interleaved; the client ACKs every second segment (and the last).
        let mut live = group.len();
        while live > 0 {
            live = 0;
            for s in &mut group {
                if s.sent >= cfg.file_size {
                    continue;
                }
                let len = (cfg.file_size - s.sent).min(MSS as u64) as usize;
                let off = ((s.sent + s.n as u64 * 7_777) % (1 << 20)) as usize;
                s.data.sc(&mut o, PSH | ACK, &blob[off..off + len])?;
                s.sent += len as u64;
                s.segs += 1;
                if s.segs % 2 == 0 || s.sent >= cfg.file_size {
                    s.data.cs(&mut o, ACK, b"")?;
                }
                live += (s.sent < cfg.file_size) as usize;
            }
        }
        // Data teardown, 226, QUIT/221, control teardown.
        for s in &mut group {
            s.data.teardown(&mut o, true)?;
            let k = &mut s.ctrl;
            k.sc(&mut o, PSH | ACK, b"226 Transfer complete.\r\n")?;
            k.exchange(&mut o, "QUIT\r\n", "221 Goodbye.\r\n")?;
            k.teardown(&mut o, false)?;
        }
        first = last;
    }
    o.w.flush()?;
    Ok(o.sum)
}

/// Parse `1G`, `200M`, `64k`, `12345` (binary multiples).
pub fn parse_size(s: &str) -> Option<u64> {
    let s = s.trim();
    let (num, mul) = match s.char_indices().last()? {
        (i, 'k' | 'K') => (&s[..i], 1u64 << 10),
        (i, 'm' | 'M') => (&s[..i], 1 << 20),
        (i, 'g' | 'G') => (&s[..i], 1 << 30),
        _ => (s, 1),
    };
    num.parse::<u64>().ok()?.checked_mul(mul)
}
