//! Data-channel addresses (PORT, EPRT, LPRT, 227, 228, 229) and other reply payloads (sizes, 257 paths).

use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};

/// Longest run of digits taken as a number; longer runs are not numbers
/// (keeps every parse O(1) per digit and free of overflow).
const MAX_DIGITS: usize = 20;

/// A small cursor over bytes; every method checks bounds.
struct Cur<'a> {
    s: &'a [u8],
    i: usize,
}

impl<'a> Cur<'a> {
    fn new(s: &'a [u8]) -> Self {
        Cur { s, i: 0 }
    }
    fn peek(&self) -> Option<u8> {
        self.s.get(self.i).copied()
    }
    fn spaces(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t')) {
            self.i += 1;
        }
    }
    fn eat(&mut self, b: u8) -> bool {
        if self.peek() == Some(b) {
            self.i += 1;
            true
        } else {
            false
        }
    }
    /// Decimal number of at most `MAX_DIGITS` digits and at most `max`.
    fn num(&mut self, max: u64) -> Option<u64> {
        let start = self.i;
        let mut v: u64 = 0;
        while let Some(d @ b'0'..=b'9') = self.peek() {
            if self.i - start >= MAX_DIGITS {
                return None;
            }
            v = v.checked_mul(10)?.checked_add(u64::from(d - b'0'))?;
            self.i += 1;
        }
        (self.i > start && v <= max).then_some(v)
    }
    fn rest(&self) -> &'a [u8] {
        self.s.get(self.i..).unwrap_or(&[])
    }
}

/// `n` numbers 0–255 separated by commas (spaces allowed around them).
fn byte_list<const N: usize>(c: &mut Cur<'_>) -> Option<[u8; N]> {
    let mut out = [0u8; N];
    for (k, slot) in out.iter_mut().enumerate() {
        c.spaces();
        if k > 0 {
            if !c.eat(b',') {
                return None;
            }
            c.spaces();
        }
        *slot = u8::try_from(c.num(255)?).ok()?;
    }
    Some(out)
}

fn v4_from(h: [u8; 6]) -> SocketAddrV4 {
    SocketAddrV4::new(
        Ipv4Addr::new(h[0], h[1], h[2], h[3]),
        u16::from_be_bytes([h[4], h[5]]),
    )
}

/// PORT argument `h1,h2,h3,h4,p1,p2` (spaces tolerated around the numbers).
pub fn parse_port(arg: &[u8]) -> Option<SocketAddrV4> {
    let mut c = Cur::new(arg);
    let h = byte_list::<6>(&mut c)?;
    c.spaces();
    c.rest().is_empty().then(|| v4_from(h))
}

/// 227 reply text: the six numbers `h1,h2,h3,h4,p1,p2` anywhere in the text,
/// with or without parentheses (`Entering Passive Mode (192,168,1,2,19,137).`,
/// `Entering Passive Mode 192,168,1,2,19,137`, `=192,168,1,2,19,137`).
pub fn parse_pasv_reply(text: &[u8]) -> Option<SocketAddrV4> {
    number_starts(text).find_map(|i| byte_list::<6>(&mut Cur::new(&text[i..])).map(v4_from))
}

/// Positions where a run of digits starts.
fn number_starts(text: &[u8]) -> impl Iterator<Item = usize> + '_ {
    (0..text.len())
        .filter(move |&i| text[i].is_ascii_digit() && (i == 0 || !text[i - 1].is_ascii_digit()))
}

/// Split `<d>f1<d>f2<d>f3<d>` (d any byte 33–126, the first byte); returns
/// the three fields and what follows the last delimiter.
fn delimited3(s: &[u8]) -> Option<([&[u8]; 3], &[u8])> {
    let (&d, rest) = s.split_first()?;
    if !(33..=126).contains(&d) {
        return None;
    }
    let mut fields: [&[u8]; 3] = [&[]; 3];
    let mut rest = rest;
    for f in fields.iter_mut() {
        let p = rest.iter().position(|&b| b == d)?;
        *f = &rest[..p];
        rest = &rest[p + 1..];
    }
    Some((fields, rest))
}

fn ascii_str(b: &[u8]) -> Option<&str> {
    std::str::from_utf8(b).ok()
}

fn port_field(b: &[u8]) -> Option<u16> {
    let mut c = Cur::new(b);
    let p = c.num(u64::from(u16::MAX))?;
    if !c.rest().is_empty() {
        return None;
    }
    u16::try_from(p).ok()
}

/// EPRT argument `<d><net-prt><d><net-addr><d><tcp-port><d>` (RFC 2428):
/// `|1|132.235.1.2|6275|`, `|2|1080::8:800:200C:417A|5282|`; any delimiter
/// 33–126; net-prt 1 (IPv4) or 2 (IPv6) must match the address.
pub fn parse_eprt(arg: &[u8]) -> Option<SocketAddr> {
    let mut c = Cur::new(arg);
    c.spaces();
    let ([prt, addr, port], tail) = delimited3(c.rest())?;
    let mut t = Cur::new(tail);
    t.spaces();
    if !t.rest().is_empty() {
        return None;
    }
    let port = port_field(port)?;
    let addr = ascii_str(addr)?;
    match prt {
        b"1" => Some(SocketAddr::V4(SocketAddrV4::new(addr.parse().ok()?, port))),
        b"2" => Some(SocketAddr::V6(SocketAddrV6::new(
            addr.parse::<Ipv6Addr>().ok()?,
            port,
            0,
            0,
        ))),
        _ => None,
    }
}

/// 229 reply text: the port of `(<d><d><d><port><d>)`
/// (`Entering Extended Passive Mode (|||6446|)`), any delimiter 33–126,
/// anything around it. A net-prt/net-addr inside the parentheses is tolerated
/// and ignored (the data connection goes to the control connection's server).
pub fn parse_epsv_reply(text: &[u8]) -> Option<u16> {
    let try_at = |s: &[u8]| -> Option<u16> {
        let ([_, _, port], _) = delimited3(s)?;
        port_field(port)
    };
    // Preferred: inside parentheses.
    for (i, _) in text.iter().enumerate().filter(|(_, &b)| b == b'(') {
        if let Some(p) = text.get(i + 1..).and_then(try_at) {
            return Some(p);
        }
    }
    // Otherwise `ddd<port>d` anywhere.
    (0..text.len()).find_map(|i| {
        let s = &text[i..];
        match s {
            [a, b, c, ..] if a == b && b == c && (33..=126).contains(a) && !a.is_ascii_digit() => {
                try_at(s)
            }
            _ => None,
        }
    })
}

/// `af,hal,h1..hn,pal,p1..pn` (RFC 1639) → address; af 4 (hal 4) or 6 (hal 16), pal 2.
fn long_address(c: &mut Cur<'_>) -> Option<SocketAddr> {
    let mut next = |first: bool| -> Option<u8> {
        c.spaces();
        if !first && !c.eat(b',') {
            return None;
        }
        c.spaces();
        u8::try_from(c.num(255)?).ok()
    };
    let af = next(true)?;
    let hal = next(false)?;
    let addr = match (af, hal) {
        (4, 4) => {
            let mut h = [0u8; 4];
            for b in h.iter_mut() {
                *b = next(false)?;
            }
            std::net::IpAddr::from(h)
        }
        (6, 16) => {
            let mut h = [0u8; 16];
            for b in h.iter_mut() {
                *b = next(false)?;
            }
            std::net::IpAddr::from(h)
        }
        _ => return None,
    };
    if next(false)? != 2 {
        return None;
    }
    let port = u16::from_be_bytes([next(false)?, next(false)?]);
    Some(SocketAddr::new(addr, port))
}

/// LPRT argument `4,4,h1,h2,h3,h4,2,p1,p2` or `6,16,h1..h16,2,p1,p2` (RFC 1639).
pub fn parse_lprt(arg: &[u8]) -> Option<SocketAddr> {
    let mut c = Cur::new(arg);
    let a = long_address(&mut c)?;
    c.spaces();
    c.rest().is_empty().then_some(a)
}

/// 228 reply text: the LPRT-style number list anywhere
/// (`Entering Long Passive Mode (4,4,192,168,1,2,2,19,137)`).
pub fn parse_lpsv_reply(text: &[u8]) -> Option<SocketAddr> {
    number_starts(text).find_map(|i| long_address(&mut Cur::new(&text[i..])))
}

/// Announced transfer size in a 150/125 reply: `(1715 bytes)` as vsftpd,
/// proftpd, wu-ftpd and others write it (`Opening BINARY mode data
/// connection for readme.txt (1715 bytes).`); "bytes" in any case, the last
/// such group wins. Without parentheses, the last `N bytes` in the text.
pub fn parse_transfer_size(text: &[u8]) -> Option<u64> {
    let mut in_parens = None;
    let mut bare = None;
    for start in number_starts(text) {
        let mut c = Cur::new(&text[start..]);
        let Some(n) = c.num(u64::MAX) else {
            continue;
        };
        c.spaces();
        let rest = c.rest();
        if rest.len() < 4 || !rest[..4].eq_ignore_ascii_case(b"byte") {
            continue;
        }
        // The word must end after "byte" or "bytes".
        let word_end = if rest.len() >= 5 && rest[4].eq_ignore_ascii_case(&b's') {
            5
        } else {
            4
        };
        if rest
            .get(word_end)
            .is_some_and(|b| b.is_ascii_alphanumeric())
        {
            continue;
        }
        if start > 0 && text[start - 1] == b'(' {
            in_parens = Some(n);
        } else {
            bare = Some(n);
        }
    }
    in_parens.or(bare)
}

/// 213 reply text for SIZE: the number (`213 1715` → 1715), spaces around allowed.
pub fn parse_size_reply(text: &[u8]) -> Option<u64> {
    let mut c = Cur::new(text);
    c.spaces();
    let n = c.num(u64::MAX)?;
    c.spaces();
    c.rest().is_empty().then_some(n)
}

/// 257 reply text: the quoted path (`"/home/ftp" is current directory`), a
/// doubled quote inside meaning one quote (RFC 959 appendix II). The first
/// quoted string in the text; `None` without a closing quote. Not UTF-8 →
/// Latin-1, like [`super::decode_text`].
pub fn parse_257_path(text: &[u8]) -> Option<String> {
    let open = text.iter().position(|&b| b == b'"')?;
    let mut path = Vec::new();
    let mut i = open + 1;
    loop {
        let b = *text.get(i)?;
        if b == b'"' {
            if text.get(i + 1) == Some(&b'"') {
                path.push(b'"');
                i += 2;
                continue;
            }
            break;
        }
        path.push(b);
        i += 1;
    }
    Some(super::decode_text(&path).0.into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v4(s: &str) -> SocketAddrV4 {
        s.parse().unwrap()
    }

    #[test]
    fn port() {
        assert_eq!(
            parse_port(b"192,168,1,2,19,137"),
            Some(v4("192.168.1.2:5001"))
        );
        assert_eq!(parse_port(b" 10, 0 ,0,1, 4,1 "), Some(v4("10.0.0.1:1025")));
        assert_eq!(parse_port(b"010,000,0,1,0,21"), Some(v4("10.0.0.1:21")));
        assert_eq!(parse_port(b"0,0,0,0,0,0"), Some(v4("0.0.0.0:0")));
        assert_eq!(
            parse_port(b"255,255,255,255,255,255"),
            Some(v4("255.255.255.255:65535"))
        );
        assert_eq!(parse_port(b"256,0,0,1,0,21"), None);
        assert_eq!(parse_port(b"1,2,3,4,5"), None);
        assert_eq!(parse_port(b"1,2,3,4,5,6,7"), None);
        assert_eq!(parse_port(b"1,2,3,4,5,"), None);
        assert_eq!(parse_port(b"1,2,3,4,5,6x"), None);
        assert_eq!(parse_port(b"-1,2,3,4,5,6"), None);
        assert_eq!(parse_port(b""), None);
        assert_eq!(parse_port(b"99999999999999999999999999,1,1,1,1,1"), None);
    }

    #[test]
    fn eprt() {
        assert_eq!(
            parse_eprt(b"|1|132.235.1.2|6275|"),
            Some("132.235.1.2:6275".parse().unwrap())
        );
        assert_eq!(
            parse_eprt(b"|2|1080::8:800:200C:417A|5282|"),
            Some("[1080::8:800:200c:417a]:5282".parse().unwrap())
        );
        assert_eq!(
            parse_eprt(b"!2!2001:470:1f05:17a6:d69a:20ff:fefd:6b88!49222! "),
            Some(
                "[2001:470:1f05:17a6:d69a:20ff:fefd:6b88]:49222"
                    .parse()
                    .unwrap()
            )
        );
        assert_eq!(parse_eprt(b"|1|1080::1|5282|"), None, "family mismatch");
        assert_eq!(parse_eprt(b"|2|10.0.0.1|5282|"), None, "family mismatch");
        assert_eq!(parse_eprt(b"|3|10.0.0.1|5282|"), None);
        assert_eq!(parse_eprt(b"|1|10.0.0.1|65536|"), None);
        assert_eq!(parse_eprt(b"|1|10.0.0.1|52|x"), None);
        assert_eq!(parse_eprt(b"|1|10.0.0.1|52"), None);
        assert_eq!(
            parse_eprt(b" 1 10.0.0.1 52 "),
            None,
            "space is not a delimiter"
        );
        assert_eq!(parse_eprt(b"\x7f1\x7f10.0.0.1\x7f52\x7f"), None);
        assert_eq!(parse_eprt(b""), None);
        assert_eq!(parse_eprt(b"|"), None);
    }

    #[test]
    fn pasv_reply() {
        let want = Some(v4("192.168.1.2:5001"));
        assert_eq!(
            parse_pasv_reply(b"Entering Passive Mode (192,168,1,2,19,137)."),
            want
        );
        assert_eq!(
            parse_pasv_reply(b"Entering Passive Mode 192,168,1,2,19,137"),
            want
        );
        assert_eq!(parse_pasv_reply(b"=192,168,1,2,19,137"), want);
        assert_eq!(parse_pasv_reply(b"PASV ok (192, 168, 1, 2, 19, 137)"), want);
        assert_eq!(
            parse_pasv_reply(b"Entering Passive Mode (1,2,3) 192,168,1,2,19,137"),
            want
        );
        assert_eq!(
            parse_pasv_reply(b"Entering Passive Mode (300,1,1,1,1,1)"),
            None
        );
        assert_eq!(parse_pasv_reply(b"Entering Passive Mode"), None);
        assert_eq!(parse_pasv_reply(b""), None);
    }

    #[test]
    fn epsv_reply() {
        assert_eq!(
            parse_epsv_reply(b"Entering Extended Passive Mode (|||6446|)"),
            Some(6446)
        );
        assert_eq!(
            parse_epsv_reply(b"Entering Extended Passive Mode (|||60931|)"),
            Some(60931)
        );
        assert_eq!(
            parse_epsv_reply(b"Entering extended passive mode (!!!6446!)."),
            Some(6446)
        );
        assert_eq!(parse_epsv_reply(b"EPSV ok |||6446| trailing"), Some(6446));
        assert_eq!(
            parse_epsv_reply(b"Entering Extended Passive Mode (|1|10.0.0.1|6446|)"),
            Some(6446)
        );
        assert_eq!(
            parse_epsv_reply(b"Entering Extended Passive Mode (|||70000|)"),
            None
        );
        assert_eq!(
            parse_epsv_reply(b"Entering Extended Passive Mode (|||x|)"),
            None
        );
        assert_eq!(parse_epsv_reply(b"Entering Extended Passive Mode"), None);
        assert_eq!(parse_epsv_reply(b"((("), None);
        assert_eq!(parse_epsv_reply(b"|||"), None);
    }

    #[test]
    fn lprt_lpsv() {
        assert_eq!(
            parse_lprt(b"4,4,192,168,1,2,2,19,137"),
            Some("192.168.1.2:5001".parse().unwrap())
        );
        assert_eq!(
            parse_lprt(b"6,16,32,1,4,112,31,5,23,166,214,154,32,255,254,253,107,136,2,192,6"),
            Some(
                "[2001:470:1f05:17a6:d69a:20ff:fefd:6b88]:49158"
                    .parse()
                    .unwrap()
            )
        );
        assert_eq!(parse_lprt(b"4,16,192,168,1,2,2,19,137"), None);
        assert_eq!(parse_lprt(b"4,4,192,168,1,2,3,19,137,1"), None);
        assert_eq!(
            parse_lpsv_reply(b"Entering Long Passive Mode (4,4,192,168,1,2,2,19,137)"),
            Some("192.168.1.2:5001".parse().unwrap())
        );
        assert_eq!(parse_lpsv_reply(b"Entering Long Passive Mode"), None);
    }

    #[test]
    fn transfer_size() {
        assert_eq!(
            parse_transfer_size(
                b"Opening BINARY mode data connection for readme.txt (1715 bytes)."
            ),
            Some(1715)
        );
        assert_eq!(
            parse_transfer_size(b"Opening ASCII mode data connection for /bin/ls (1715 Bytes)"),
            Some(1715)
        );
        assert_eq!(
            parse_transfer_size(
                b"Opening BINARY mode data connection for 5 bytes.txt (1715 bytes)"
            ),
            Some(1715)
        );
        assert_eq!(
            parse_transfer_size(b"Opening data connection (1 byte)"),
            Some(1)
        );
        assert_eq!(parse_transfer_size(b"Transferring 4096 bytes"), Some(4096));
        assert_eq!(
            parse_transfer_size(b"File status okay. About to open data connection."),
            None
        );
        assert_eq!(
            parse_transfer_size(b"Here comes the directory listing."),
            None
        );
        assert_eq!(
            parse_transfer_size(b"Opening for file2 (12 bytesfoo)"),
            None
        );
        assert_eq!(
            parse_transfer_size(b"(99999999999999999999999 bytes)"),
            None
        );
        assert_eq!(parse_transfer_size(b"(12 by"), None);
    }

    #[test]
    fn size_reply() {
        assert_eq!(parse_size_reply(b"1715"), Some(1715));
        assert_eq!(parse_size_reply(b" 1715 "), Some(1715));
        assert_eq!(parse_size_reply(b"0"), Some(0));
        assert_eq!(parse_size_reply(b"1715 bytes"), None);
        assert_eq!(parse_size_reply(b""), None);
        assert_eq!(parse_size_reply(b"18446744073709551615"), Some(u64::MAX));
        assert_eq!(parse_size_reply(b"18446744073709551616"), None);
    }

    #[test]
    fn corpus_replies() {
        // Zeek captures: ftp-with-numbers-in-filename, ipv6, cwd-navigation, retr.
        assert_eq!(
            parse_pasv_reply(b"Entering Passive Mode (164,107,123,6,183,187)"),
            Some(v4("164.107.123.6:47035"))
        );
        assert_eq!(
            parse_transfer_size(
                b"Opening BINARY mode data connection for /mirror/internic/rfc/rfc1001.txt (154427 bytes)."
            ),
            Some(154427)
        );
        assert_eq!(
            parse_transfer_size(
                b"Opening BINARY mode data connection for 'robots.txt' (77 bytes)."
            ),
            Some(77)
        );
        assert_eq!(
            parse_transfer_size(
                b"Opening BINARY mode data connection for 720971-99999-2014.gz (62291 bytes)"
            ),
            Some(62291)
        );
        assert_eq!(
            parse_transfer_size(b"Opening ASCII mode data connection for '/bin/ls'."),
            None
        );
        assert_eq!(
            parse_epsv_reply(b"Extended Passive mode OK (|||63988|)"),
            Some(63988)
        );
        assert_eq!(parse_size_reply(b"154427"), Some(154427));
        assert_eq!(
            parse_eprt(b"|2|2001:470:1f11:81f:c999:d94:aa7c:2e3e|49189|"),
            Some(
                "[2001:470:1f11:81f:c999:d94:aa7c:2e3e]:49189"
                    .parse()
                    .unwrap()
            )
        );
        // fake-long-commands.pcap: a truncated PORT.
        assert_eq!(parse_port(b"114,115"), None);
    }

    proptest::proptest! {
        #![proptest_config(crate::testing::prop_config(256))]
        #[test]
        fn parsers_never_panic(
            text in proptest::collection::vec(
                proptest::prop_oneof![
                    proptest::prelude::Just(b'|'), proptest::prelude::Just(b','),
                    proptest::prelude::Just(b'('), proptest::prelude::Just(b'"'),
                    proptest::prelude::Just(b' '), 0x30u8..0x3a,
                    proptest::prelude::any::<u8>()
                ],
                0..80,
            )
        ) {
            let _ = parse_port(&text);
            let _ = parse_eprt(&text);
            let _ = parse_lprt(&text);
            let _ = parse_pasv_reply(&text);
            let _ = parse_epsv_reply(&text);
            let _ = parse_lpsv_reply(&text);
            let _ = parse_transfer_size(&text);
            let _ = parse_size_reply(&text);
            let _ = parse_257_path(&text);
        }
    }

    #[test]
    fn path_257() {
        assert_eq!(
            parse_257_path(b"\"/home/ftp\" is current directory").as_deref(),
            Some("/home/ftp")
        );
        assert_eq!(
            parse_257_path(b"\"/a \"\"quoted\"\" dir\" created").as_deref(),
            Some("/a \"quoted\" dir")
        );
        assert_eq!(parse_257_path(b"\"\"").as_deref(), Some(""));
        assert_eq!(parse_257_path(b"\"/\"").as_deref(), Some("/"));
        assert_eq!(parse_257_path(b"MKD ok \"/x\"").as_deref(), Some("/x"));
        assert_eq!(
            parse_257_path(b"\"/caf\xe9\"").as_deref(),
            Some("/caf\u{e9}")
        );
        assert_eq!(parse_257_path(b"\"/unterminated"), None);
        assert_eq!(parse_257_path(b"\"/unterminated\"\""), None);
        assert_eq!(parse_257_path(b"/home/ftp is current directory"), None);
    }
}
