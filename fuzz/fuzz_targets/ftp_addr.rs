//! Fuzz target: the data-channel address parsers (PORT, EPRT, LPRT arguments; 227, 228,
//! 229 replies) and the other reply payloads (150 sizes, 213, 257). First byte: which
//! parser; the rest: the argument or reply text. Whatever parses must parse again to the
//! same value from its canonical form (what a well-behaved peer would have sent).
#![no_main]

use ftptrace::ftp::parse::*;
use libfuzzer_sys::fuzz_target;
use std::net::{IpAddr, SocketAddr};

fn port_args(a: std::net::SocketAddrV4) -> String {
    let o = a.ip().octets();
    format!(
        "{},{},{},{},{},{}",
        o[0],
        o[1],
        o[2],
        o[3],
        a.port() >> 8,
        a.port() & 0xff
    )
}

fn lprt_args(a: SocketAddr) -> String {
    let (fam, bytes) = match a.ip() {
        IpAddr::V4(v) => (4, v.octets().to_vec()),
        IpAddr::V6(v) => (6, v.octets().to_vec()),
    };
    let mut s = format!("{fam},{}", bytes.len());
    for b in bytes {
        s += &format!(",{b}");
    }
    s + &format!(",2,{},{}", a.port() >> 8, a.port() & 0xff)
}

fuzz_target!(|data: &[u8]| {
    let Some((&which, t)) = data.split_first() else {
        return;
    };
    match which % 8 {
        0 => {
            if let Some(a) = parse_port(t) {
                assert_eq!(parse_port(port_args(a).as_bytes()), Some(a));
            }
        }
        1 => {
            if let Some(a) = parse_pasv_reply(t) {
                let text = format!("Entering Passive Mode ({}).", port_args(a));
                assert_eq!(parse_pasv_reply(text.as_bytes()), Some(a));
            }
        }
        2 => {
            if let Some(a) = parse_eprt(t) {
                let fam = if a.is_ipv4() { 1 } else { 2 };
                let text = format!("|{fam}|{}|{}|", a.ip(), a.port());
                assert_eq!(parse_eprt(text.as_bytes()), Some(a), "{text}");
            }
        }
        3 => {
            if let Some(p) = parse_epsv_reply(t) {
                let text = format!("Entering Extended Passive Mode (|||{p}|)");
                assert_eq!(parse_epsv_reply(text.as_bytes()), Some(p));
            }
        }
        4 => {
            if let Some(a) = parse_lprt(t) {
                assert_eq!(parse_lprt(lprt_args(a).as_bytes()), Some(a));
            }
        }
        5 => {
            if let Some(a) = parse_lpsv_reply(t) {
                let text = format!("Entering Long Passive Mode ({})", lprt_args(a));
                assert_eq!(parse_lpsv_reply(text.as_bytes()), Some(a));
            }
        }
        6 => {
            if let Some(n) = parse_transfer_size(t) {
                let text = format!("Opening BINARY mode data connection for f ({n} bytes).");
                assert_eq!(parse_transfer_size(text.as_bytes()), Some(n));
            }
            if let Some(n) = parse_size_reply(t) {
                assert_eq!(parse_size_reply(n.to_string().as_bytes()), Some(n));
            }
        }
        _ => {
            if let Some(p) = parse_257_path(t) {
                let text = format!("\"{}\" is the current directory", p.replace('"', "\"\""));
                assert_eq!(parse_257_path(text.as_bytes()), Some(p));
            }
        }
    }
});
