//! TLS on FTP connections: record headers, the ClientHello that opens implicit FTPS, a
//! per-direction record follower that finds where TLS ends (CCC, RFC 2228), and the facts a
//! handshake shows in clear (server name, version, certificate up to TLS 1.2).
//!
//! Handshake messages are read with rusticata's `tls-parser`, certificates with
//! `x509-parser`; everything here is a pure function of the bytes it is given.

use tls_parser::{
    parse_tls_client_hello_extensions, parse_tls_message_handshake,
    parse_tls_server_hello_extensions, SNIType, TlsExtension, TlsMessage, TlsMessageHandshake,
};

/// Bytes of a TLS record header: content type, version (2), length (2).
pub const HEADER_LEN: usize = 5;
/// Longest record body a peer may send (2^14 + 2048, RFC 5246 6.2.3); longer is not TLS.
pub const MAX_RECORD_LEN: usize = (1 << 14) + 2048;
/// Most handshake bytes kept per direction while waiting for a whole handshake message (the
/// hellos and the certificate chain); a message that does not fit is skipped and counted.
pub const MAX_HANDSHAKE_BYTES: usize = 64 * 1024;
/// Longest server name kept from a ClientHello (a DNS name is at most 253 characters).
pub const MAX_SNI_LEN: usize = 255;

/// A record's content type (RFC 8446 5.1); an open enum of the wire value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ContentType {
    ChangeCipherSpec,
    Alert,
    Handshake,
    ApplicationData,
    Heartbeat,
    Other(u8),
}

impl ContentType {
    pub fn from_u8(b: u8) -> Self {
        match b {
            20 => ContentType::ChangeCipherSpec,
            21 => ContentType::Alert,
            22 => ContentType::Handshake,
            23 => ContentType::ApplicationData,
            24 => ContentType::Heartbeat,
            x => ContentType::Other(x),
        }
    }
}

/// A TLS record header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecordHeader {
    pub content_type: ContentType,
    /// The record layer's version field (0x0301 for TLS 1.0 … 0x0303).
    pub version: u16,
    /// Body length.
    pub len: usize,
}

/// The TLS record header at the start of `b`, if these bytes can be one: a known content
/// type, major version 3 (SSL 3.0 to TLS 1.3), a body length within the limit.
pub fn record_header(b: &[u8]) -> Option<RecordHeader> {
    let h = b.get(..HEADER_LEN)?;
    let content_type = ContentType::from_u8(h[0]);
    if matches!(content_type, ContentType::Other(_)) || h[1] != 3 || h[2] > 4 {
        return None;
    }
    let len = u16::from_be_bytes([h[3], h[4]]) as usize;
    if len > MAX_RECORD_LEN {
        return None;
    }
    Some(RecordHeader {
        content_type,
        version: u16::from_be_bytes([h[1], h[2]]),
        len,
    })
}

/// Whether `b` starts with a TLS ClientHello: a handshake record whose first message is of
/// type 1. This is how a connection that speaks TLS from its first byte is recognised.
pub fn starts_with_client_hello(b: &[u8]) -> bool {
    matches!(record_header(b), Some(h) if h.content_type == ContentType::Handshake)
        && b.get(HEADER_LEN) == Some(&1)
}

/// The protocol name of a TLS version number, as Wireshark spells it.
pub fn version_name(v: u16) -> String {
    crate::model::TlsVersion::from_wire(v).to_string()
}

/// The server certificate's facts (the first certificate of the chain).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertFacts {
    /// RFC 4514 text, e.g. `CN=ftptrace-test-server`.
    pub subject: String,
    pub issuer: String,
    /// Validity as RFC 3339 UTC times.
    pub not_before: String,
    pub not_after: String,
}

/// What a connection's handshake showed in clear.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Facts {
    /// The ClientHello's server_name (host_name) extension.
    pub sni: Option<String>,
    /// The version the server chose: ServerHello's supported_versions extension (TLS 1.3),
    /// else its version field.
    pub version: Option<u16>,
    /// The server's certificate (TLS 1.2 and older send it in clear).
    pub cert: Option<CertFacts>,
}

/// Read one handshake message (type, 24-bit length, body) into `facts`.
pub fn read_handshake_message(msg: &[u8], facts: &mut Facts) {
    let Ok((_, TlsMessage::Handshake(hs))) = parse_tls_message_handshake(msg) else {
        return;
    };
    match hs {
        TlsMessageHandshake::ClientHello(ch) => {
            if let Some(ext) = ch.ext {
                if let Ok((_, exts)) = parse_tls_client_hello_extensions(ext) {
                    facts.sni = exts.iter().find_map(sni_of);
                }
            }
        }
        TlsMessageHandshake::ServerHello(sh) => {
            let mut v = sh.version.0;
            if let Some(ext) = sh.ext {
                if let Ok((_, exts)) = parse_tls_server_hello_extensions(ext) {
                    for e in exts {
                        if let TlsExtension::SupportedVersions(vs) = e {
                            if let Some(x) = vs.first() {
                                v = x.0;
                            }
                        }
                    }
                }
            }
            facts.version = Some(v);
        }
        // The server's own certificate comes first; a later Certificate (the client's, or
        // a renegotiation) does not replace it.
        TlsMessageHandshake::Certificate(c) if facts.cert.is_none() => {
            facts.cert = c.cert_chain.first().and_then(|r| certificate(r.data));
        }
        _ => {}
    }
}

fn sni_of(e: &TlsExtension<'_>) -> Option<String> {
    let TlsExtension::SNI(names) = e else {
        return None;
    };
    names
        .iter()
        .find(|(t, _)| *t == SNIType::HostName)
        .map(|(_, n)| String::from_utf8_lossy(&n[..n.len().min(MAX_SNI_LEN)]).into_owned())
}

/// Subject, issuer and validity of a DER certificate.
pub fn certificate(der: &[u8]) -> Option<CertFacts> {
    let (_, cert) = x509_parser::parse_x509_certificate(der).ok()?;
    let v = cert.validity();
    Some(CertFacts {
        subject: cert.subject().to_string(),
        issuer: cert.issuer().to_string(),
        not_before: rfc3339(v.not_before.timestamp()),
        not_after: rfc3339(v.not_after.timestamp()),
    })
}

fn rfc3339(secs: i64) -> String {
    chrono::DateTime::<chrono::Utc>::from_timestamp(secs, 0)
        .map(|t| t.format("%Y-%m-%dT%H:%M:%SZ").to_string())
        .unwrap_or_default()
}

/// Where a direction's byte stream stands in its record layer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Expecting a record header; `got` bytes of it are in `hdr`.
    Header { got: usize },
    /// Inside a record body with `left` bytes to go.
    Body { left: usize, content: ContentType },
    /// The stream left TLS at a record boundary for cleartext (CCC, or TLS never started).
    Cleartext,
    /// Lost: a gap or bytes that are neither a record nor text; nothing more is read.
    Lost,
}

/// What a chunk fed to a [`RecordStream`] turned out to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fed {
    /// TLS records (or bytes of a lost stream) to the end of the chunk.
    Records,
    /// TLS ended at this offset of the chunk: what follows is cleartext.
    ClearFrom(usize),
}

/// One direction of a TLS connection, followed record by record: finds the handshake
/// messages sent in clear and the record boundary where cleartext follows (CCC).
#[derive(Debug)]
pub struct RecordStream {
    phase: Phase,
    hdr: [u8; HEADER_LEN],
    /// Handshake bytes not yet read as whole messages (bounded by MAX_HANDSHAKE_BYTES).
    hs: Vec<u8>,
    /// Handshake bytes still to skip of a message larger than the buffer.
    skip: usize,
    /// A ChangeCipherSpec was sent: later handshake records are encrypted.
    cipher: bool,
    /// Records seen, alert records among them.
    pub records: u64,
    pub alerts: u64,
    /// Bytes of application_data record bodies (what the payload is, give or take TLS 1.3's
    /// encrypted handshake).
    pub app_bytes: u64,
    /// Handshake messages too large to read (the limit was hit).
    pub oversized: u64,
}

impl Default for RecordStream {
    fn default() -> Self {
        RecordStream {
            phase: Phase::Header { got: 0 },
            hdr: [0; HEADER_LEN],
            hs: Vec::new(),
            skip: 0,
            cipher: false,
            records: 0,
            alerts: 0,
            app_bytes: 0,
            oversized: 0,
        }
    }
}

impl RecordStream {
    pub fn is_cleartext(&self) -> bool {
        self.phase == Phase::Cleartext
    }

    /// Bytes are missing from this direction: record boundaries are lost with them.
    pub fn gap(&mut self) {
        if self.phase != Phase::Cleartext {
            self.phase = Phase::Lost;
        }
    }

    /// Follow `data`, the next bytes of this direction; handshake facts go into `facts`.
    pub fn feed(&mut self, data: &[u8], facts: &mut Facts) -> Fed {
        let mut i = 0;
        while i < data.len() {
            match self.phase {
                Phase::Cleartext => return Fed::ClearFrom(i),
                Phase::Lost => return Fed::Records,
                Phase::Header { got } => {
                    if got == 0 && !(20..=24).contains(&data[i]) {
                        // Not a record: text after the last record is FTP in clear again.
                        self.phase = if is_text(data[i]) {
                            Phase::Cleartext
                        } else {
                            Phase::Lost
                        };
                        continue;
                    }
                    let n = (HEADER_LEN - got).min(data.len() - i);
                    self.hdr[got..got + n].copy_from_slice(&data[i..i + n]);
                    i += n;
                    if got + n < HEADER_LEN {
                        self.phase = Phase::Header { got: got + n };
                        continue;
                    }
                    match record_header(&self.hdr) {
                        Some(h) => {
                            self.records += 1;
                            match h.content_type {
                                ContentType::Alert => self.alerts += 1,
                                ContentType::ChangeCipherSpec => self.cipher = true,
                                _ => {}
                            }
                            self.phase = Phase::Body {
                                left: h.len,
                                content: h.content_type,
                            };
                        }
                        None => self.phase = Phase::Lost,
                    }
                }
                Phase::Body { left, content } => {
                    let n = left.min(data.len() - i);
                    match content {
                        ContentType::Handshake if !self.cipher => {
                            self.handshake_bytes(&data[i..i + n], facts)
                        }
                        ContentType::ApplicationData => self.app_bytes += n as u64,
                        _ => {}
                    }
                    i += n;
                    self.phase = if n == left {
                        Phase::Header { got: 0 }
                    } else {
                        Phase::Body {
                            left: left - n,
                            content,
                        }
                    };
                }
            }
        }
        if self.phase == Phase::Cleartext {
            Fed::ClearFrom(data.len())
        } else {
            Fed::Records
        }
    }

    /// Plaintext handshake bytes: read every whole message, keep the rest (bounded).
    fn handshake_bytes(&mut self, mut b: &[u8], facts: &mut Facts) {
        while !b.is_empty() {
            if self.skip > 0 {
                let n = self.skip.min(b.len());
                self.skip -= n;
                b = &b[n..];
                continue;
            }
            let room = MAX_HANDSHAKE_BYTES - self.hs.len();
            let n = room.min(b.len());
            self.hs.extend_from_slice(&b[..n]);
            b = &b[n..];
            // Whole messages out of the buffer.
            while let Some(h) = self.hs.get(..4) {
                let len = 4 + (u32::from_be_bytes([0, h[1], h[2], h[3]]) as usize);
                if len > MAX_HANDSHAKE_BYTES {
                    // Too large to read: skip what remains of it.
                    self.oversized += 1;
                    self.skip = len - self.hs.len();
                    self.hs.clear();
                    break;
                }
                if self.hs.len() < len {
                    break;
                }
                read_handshake_message(&self.hs[..len], facts);
                self.hs.drain(..len);
            }
        }
    }
}

/// A byte that can open an FTP command or reply line.
fn is_text(b: u8) -> bool {
    b.is_ascii_graphic()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The ClientHello lftp 4.9.2 (GnuTLS, capped at TLS 1.2) sent after AUTH TLS, from
    /// samples/ftps-prot-p-tls12.pcap.
    const CLIENT_HELLO_12: &[u8] = include_bytes!("testdata/tls12-client-hello.bin");
    /// vsftpd's first flight (ServerHello, Certificate, ServerKeyExchange,
    /// CertificateRequest, ServerHelloDone) in one record, same capture.
    const SERVER_FLIGHT_12: &[u8] = include_bytes!("testdata/tls12-server-flight.bin");
    /// lftp's ClientHello on implicit FTPS (port 990), samples/ftps-implicit.pcap.
    const CLIENT_HELLO_13: &[u8] = include_bytes!("testdata/tls13-client-hello.bin");
    /// vsftpd's TLS 1.3 ServerHello and the first encrypted records, same capture.
    const SERVER_FLIGHT_13: &[u8] = include_bytes!("testdata/tls13-server-flight.bin");
    /// Both encrypted close_notify alerts that end a TLS 1.2 data connection, and what a
    /// server would send after CCC (ftps-prot-p-tls12.pcap, data:1; the reply is made up).
    const CLOSE_THEN_TEXT: &[u8] = &[
        0x15, 0x03, 0x03, 0x00, 0x1a, 0x7d, 0x47, 0xfc, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
        0, 0, 0, 0, 0, 0, 0, 0, 0, b'2', b'0', b'0', b' ', b'O', b'K', b'\r', b'\n',
    ];

    #[test]
    fn record_headers() {
        let h = record_header(CLIENT_HELLO_12).unwrap();
        assert_eq!(h.content_type, ContentType::Handshake);
        assert_eq!(h.len + HEADER_LEN, CLIENT_HELLO_12.len());
        assert_eq!(record_header(b"220 ftp\r\n"), None);
        assert_eq!(record_header(&[0x16, 3, 1]), None, "short");
        assert_eq!(record_header(&[0x16, 3, 1, 0xff, 0xff]), None, "too long");
        assert_eq!(record_header(&[0x19, 3, 3, 0, 1]), None, "unknown type");
        assert!(starts_with_client_hello(CLIENT_HELLO_12));
        assert!(starts_with_client_hello(CLIENT_HELLO_13));
        assert!(!starts_with_client_hello(SERVER_FLIGHT_12));
        assert!(!starts_with_client_hello(b"USER anonymous\r\n"));
    }

    #[test]
    fn tls12_facts_from_real_handshake() {
        let mut f = Facts::default();
        let (mut c, mut s) = (RecordStream::default(), RecordStream::default());
        assert_eq!(c.feed(CLIENT_HELLO_12, &mut f), Fed::Records);
        assert_eq!(s.feed(SERVER_FLIGHT_12, &mut f), Fed::Records);
        assert_eq!(f.version, Some(0x0303));
        assert_eq!(version_name(f.version.unwrap()), "TLSv1.2");
        let cert = f.cert.expect("certificate in clear under TLS 1.2");
        assert_eq!(cert.subject, "CN=ftptrace-test-server");
        assert_eq!(cert.issuer, "CN=ftptrace-test-server");
        assert!(cert.not_before.starts_with("20") && cert.not_before.ends_with('Z'));
        assert!(cert.not_after > cert.not_before);
        assert_eq!(s.records, 5, "one record per handshake message");
        assert_eq!((c.app_bytes, s.app_bytes), (0, 0));
    }

    #[test]
    fn facts_survive_any_split() {
        let mut whole = Facts::default();
        RecordStream::default().feed(SERVER_FLIGHT_12, &mut whole);
        for cut in [1, 3, 5, 6, 9, 100, 700, SERVER_FLIGHT_12.len() - 1] {
            let mut f = Facts::default();
            let mut s = RecordStream::default();
            s.feed(&SERVER_FLIGHT_12[..cut], &mut f);
            s.feed(&SERVER_FLIGHT_12[cut..], &mut f);
            assert_eq!(f, whole, "cut at {cut}");
        }
    }

    #[test]
    fn tls13_version_and_sni() {
        let mut f = Facts::default();
        RecordStream::default().feed(CLIENT_HELLO_13, &mut f);
        assert_eq!(f.sni.as_deref(), Some("10.99.0.1"));
        let mut s = RecordStream::default();
        s.feed(SERVER_FLIGHT_13, &mut f);
        assert_eq!(f.version, Some(0x0304));
        assert_eq!(f.cert, None, "TLS 1.3 encrypts the certificate");
        assert!(
            s.app_bytes > 0,
            "encrypted handshake in application_data records"
        );
    }

    #[test]
    fn cleartext_after_close_notify() {
        let mut f = Facts::default();
        let mut s = RecordStream::default();
        assert_eq!(s.feed(CLOSE_THEN_TEXT, &mut f), Fed::ClearFrom(31));
        assert_eq!(s.alerts, 1);
        assert!(s.is_cleartext());
        assert_eq!(s.feed(b"226 done\r\n", &mut f), Fed::ClearFrom(0));
        // Split right at the boundary.
        let mut s = RecordStream::default();
        assert_eq!(s.feed(&CLOSE_THEN_TEXT[..31], &mut f), Fed::Records);
        assert_eq!(s.feed(&CLOSE_THEN_TEXT[31..], &mut f), Fed::ClearFrom(0));
    }

    #[test]
    fn garbage_and_gaps_lose_the_stream() {
        let mut f = Facts::default();
        let mut s = RecordStream::default();
        assert_eq!(
            s.feed(&[0x16, 0x03, 0x03, 0xff, 0xff, 1, 2], &mut f),
            Fed::Records
        );
        assert_eq!(
            s.feed(b"USER x\r\n", &mut f),
            Fed::Records,
            "lost: never text"
        );
        let mut s = RecordStream::default();
        s.feed(&CLOSE_THEN_TEXT[..10], &mut f);
        s.gap();
        assert_eq!(s.feed(b"USER x\r\n", &mut f), Fed::Records);
        let mut s = RecordStream::default();
        assert_eq!(s.feed(&[0x00, 0x16], &mut f), Fed::Records, "binary: lost");
    }

    #[test]
    fn oversized_handshake_is_skipped_and_counted() {
        let mut f = Facts::default();
        let mut s = RecordStream::default();
        // A certificate message claiming 100 KiB, sent in full-size records.
        let total = 100 * 1024;
        let mut msg = vec![11u8, 0x01, 0x90, 0x00];
        msg.resize(4 + total, 0);
        for chunk in msg.chunks(MAX_RECORD_LEN - 2048) {
            let mut rec = vec![0x16, 3, 3];
            rec.extend_from_slice(&(chunk.len() as u16).to_be_bytes());
            rec.extend_from_slice(chunk);
            assert_eq!(s.feed(&rec, &mut f), Fed::Records);
        }
        assert_eq!(s.oversized, 1);
        // The stream is still in step: the next record is read.
        s.feed(SERVER_FLIGHT_12, &mut f);
        assert!(f.cert.is_some());
    }

    proptest::proptest! {
        #![proptest_config(crate::testing::prop_config(256))]
        #[test]
        fn never_panics(data in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..600)) {
            let mut f = Facts::default();
            let mut s = RecordStream::default();
            let _ = s.feed(&data, &mut f);
            let _ = record_header(&data);
            let _ = starts_with_client_hello(&data);
            read_handshake_message(&data, &mut f);
        }
    }
}
