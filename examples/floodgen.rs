//! Write the hostile captures of `scripts/bench-floods.sh` (see `benches/support/ftpgen.rs`).
//!
//! `cargo run --release --example floodgen -- KIND OUT.pcap [N]` where KIND is
//! `noop` (N bytes of `NOOP` lines on one control connection, default 15M, each batch
//! answered by `200 OK` lines), `port` (N `PORT` commands on one connection, default
//! 20000, unanswered: a client that never waits), `syn` (N SYNs to port 21 from distinct sources, default
//! 1003000) or `brute` (N sessions of one client failing to log in, default 700).

#[path = "../benches/support/ftpgen.rs"]
#[allow(dead_code)] // each includer uses a part
mod ftpgen;

use ftpgen::{Conn, Ep, Out, ACK, PSH, SERVER_IP, SYN};
use std::io::{self, BufWriter, Write};

fn usage() -> ! {
    eprintln!("usage: floodgen noop|port|syn|brute OUT.pcap [N]");
    std::process::exit(2)
}

const CLIENT_IP: [u8; 4] = [10, 9, 0, 2];

fn server(port: u16) -> Ep {
    Ep {
        ip: SERVER_IP,
        port,
    }
}

/// Handshake, greeting and a successful login.
fn login<W: Write>(o: &mut Out<W>, k: &mut Conn) -> io::Result<()> {
    k.handshake(o)?;
    k.sc(o, PSH | ACK, b"220 flood test server\r\n")?;
    k.exchange(o, "USER flood\r\n", "331 Password required.\r\n")?;
    k.exchange(o, "PASS flood\r\n", "230 Logged in.\r\n")
}

/// Lines packed into full segments, client side, each batch answered by packed replies.
fn batches<W: Write>(
    o: &mut Out<W>,
    k: &mut Conn,
    mut next_line: impl FnMut(&mut Vec<u8>) -> bool,
    reply: &[u8],
) -> io::Result<()> {
    let mut seg = Vec::with_capacity(ftpgen::MSS);
    let mut line = Vec::new();
    let mut replies = Vec::with_capacity(ftpgen::MSS);
    let mut more = true;
    while more {
        seg.clear();
        replies.clear();
        let mut n = 0;
        loop {
            line.clear();
            more = next_line(&mut line);
            if !more {
                break;
            }
            seg.extend_from_slice(&line);
            n += 1;
            if seg.len() + 32 > ftpgen::MSS {
                break;
            }
        }
        if n == 0 {
            break;
        }
        k.cs(o, PSH | ACK, &seg)?;
        if reply.is_empty() {
            continue;
        }
        for _ in 0..n {
            if replies.len() + reply.len() > ftpgen::MSS {
                k.sc(o, PSH | ACK, &replies)?;
                replies.clear();
            }
            replies.extend_from_slice(reply);
        }
        k.sc(o, PSH | ACK, &replies)?;
    }
    Ok(())
}

fn noop<W: Write>(o: &mut Out<W>, bytes: u64) -> io::Result<()> {
    let mut k = Conn::new(
        Ep {
            ip: CLIENT_IP,
            port: 40_000,
        },
        server(21),
        1_000,
    );
    login(o, &mut k)?;
    let mut sent = 0u64;
    batches(
        o,
        &mut k,
        |l| {
            sent += 6;
            l.extend_from_slice(b"NOOP\r\n");
            sent <= bytes
        },
        b"200 OK\r\n",
    )?;
    k.exchange(o, "QUIT\r\n", "221 Bye.\r\n")?;
    k.teardown(o, false)
}

fn port<W: Write>(o: &mut Out<W>, n: u64) -> io::Result<()> {
    let mut k = Conn::new(
        Ep {
            ip: CLIENT_IP,
            port: 40_001,
        },
        server(21),
        2_000,
    );
    login(o, &mut k)?;
    let mut i = 0u64;
    batches(
        o,
        &mut k,
        |l| {
            i += 1;
            let p = 1024 + (i % 60_000) as u16;
            let [a, b, c, d] = CLIENT_IP;
            let _ = write!(l, "PORT {a},{b},{c},{d},{},{}\r\n", p >> 8, p & 0xff);
            i <= n
        },
        b"",
    )?;
    k.exchange(o, "QUIT\r\n", "221 Bye.\r\n")?;
    k.teardown(o, false)
}

fn syn<W: Write>(o: &mut Out<W>, n: u64) -> io::Result<()> {
    for i in 0..n {
        let ip = [10, 64 | (i >> 16) as u8 & 63, (i >> 8) as u8, i as u8];
        let port = 1024 + (i >> 22) as u16;
        let mut k = Conn::new(Ep { ip, port }, server(21), i as u32);
        k.cs(o, SYN, b"")?;
    }
    Ok(())
}

fn brute<W: Write>(o: &mut Out<W>, n: u64) -> io::Result<()> {
    for i in 0..n {
        let c = Ep {
            ip: CLIENT_IP,
            port: 20_000 + (i % 40_000) as u16,
        };
        let mut k = Conn::new(c, server(21), (i as u32).wrapping_mul(7919));
        k.handshake(o)?;
        k.sc(o, PSH | ACK, b"220 flood test server\r\n")?;
        k.exchange(
            o,
            &format!("USER user{i}\r\n"),
            "331 Password required.\r\n",
        )?;
        k.exchange(o, "PASS guess\r\n", "530 Login incorrect.\r\n")?;
        k.exchange(o, "QUIT\r\n", "221 Bye.\r\n")?;
        k.teardown(o, true)?;
    }
    Ok(())
}

fn main() {
    let mut args = std::env::args().skip(1);
    let kind = args.next().unwrap_or_else(|| usage());
    let out = args.next().unwrap_or_else(|| usage());
    let n = args
        .next()
        .map(|s| ftpgen::parse_size(&s).unwrap_or_else(|| usage()));
    let file = std::fs::File::create(&out).unwrap_or_else(|e| {
        eprintln!("floodgen: {out}: {e}");
        std::process::exit(2)
    });
    let run = || -> io::Result<ftpgen::Summary> {
        let mut o = Out::new(BufWriter::with_capacity(4 << 20, file))?;
        match kind.as_str() {
            "noop" => noop(&mut o, n.unwrap_or(15 << 20))?,
            "port" => port(&mut o, n.unwrap_or(20_000))?,
            "syn" => syn(&mut o, n.unwrap_or(1_003_000))?,
            "brute" => brute(&mut o, n.unwrap_or(700))?,
            _ => usage(),
        }
        o.finish()
    };
    match run() {
        Ok(sum) => eprintln!(
            "floodgen: {out}: {kind}, {} packets, {} bytes",
            sum.packets, sum.bytes
        ),
        Err(e) => {
            eprintln!("floodgen: {out}: {e}");
            std::process::exit(1)
        }
    }
}
