//! Edge cases no real client produces on demand, built packet by packet (etherparse) into
//! captures and run through the library pipeline: FTP found mid-stream on an odd port,
//! non-FTP TCP that must never become a session, a NATed PASV reply, a 227 answering
//! EPSV, a lost data-connection setup, pipelined commands and a line split by a gap.

mod support;

use ftptrace::analyzer::Options;
use ftptrace::model::{
    AnomalyKind, Conn, ConnRole, DataCapture, DataMatch, Direction, Mode, SetupKind, TransferStatus,
};
use support::cap::{Cap, Conv};

const C: [u8; 4] = [10, 0, 0, 2];
const S: [u8; 4] = [10, 0, 0, 1];

#[test]
fn non_ftp_tcp_never_becomes_a_session() {
    let mut cap = Cap::new();
    let mut http = cap.open((C, 40000), (S, 8080), true);
    cap.send(&mut http, 0, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    cap.send(
        &mut http,
        1,
        b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n",
    );
    cap.close(&mut http);
    let mut smtp = cap.open((C, 40001), (S, 2525), true);
    cap.send(&mut smtp, 1, b"220 mail.example.com ESMTP Postfix\r\n");
    cap.send(&mut smtp, 0, b"EHLO client\r\n");
    cap.close(&mut smtp);
    let mut ssh = cap.open((C, 40002), (S, 22), true);
    cap.send(&mut ssh, 1, b"SSH-2.0-OpenSSH_9.2\r\n");
    cap.close(&mut ssh);
    let r = cap.analyze(Options::default());
    assert_eq!(r.sessions.len(), 0, "{:#?}", r.sessions);
    assert_eq!(r.stats.tcp_connections, 3);
    assert_eq!(r.tcp_connections.len(), 3);
}

/// A full FTP session on port 21 from `port`: greeting, USER/PASS, QUIT, FIN.
fn session(cap: &mut Cap, port: u16) {
    let mut c = cap.open((C, port), (S, 21), true);
    cap.send(&mut c, 1, b"220 hi\r\n");
    cap.send(&mut c, 0, b"USER anonymous\r\n");
    cap.send(&mut c, 1, b"331 pw\r\n");
    cap.send(&mut c, 0, b"PASS x\r\n");
    cap.send(&mut c, 1, b"230 ok\r\n");
    cap.send(&mut c, 0, b"QUIT\r\n");
    cap.send(&mut c, 1, b"221 bye\r\n");
    cap.close(&mut c);
}

#[test]
fn connections_without_an_ftp_byte_are_probes_and_a_banner_grab_is_a_session() {
    let mut cap = Cap::new();
    // SYN alone; SYN answered by RST; handshake then RST; handshake then FIN.
    cap.packet((C, 50001), (S, 21), 100, 0, "S", b"");
    cap.packet((C, 50002), (S, 21), 200, 0, "S", b"");
    cap.packet((S, 21), (C, 50002), 0, 201, "RA", b"");
    let c = cap.open((C, 50003), (S, 21), true);
    cap.packet(c.a, c.b, c.seq[0], c.seq[1], "R", b"");
    let mut c = cap.open((C, 50004), (S, 21), true);
    cap.close(&mut c);
    // A banner grab: the greeting, then the client resets.
    let mut g = cap.open((C, 50005), (S, 21), true);
    cap.send(&mut g, 1, b"220 banner\r\n");
    cap.packet(g.a, g.b, g.seq[0], g.seq[1], "R", b"");
    session(&mut cap, 50006);
    let r = cap.analyze(Options::default());
    let got: Vec<(u64, u16)> = r.sessions.iter().map(|s| (s.id, s.client.port)).collect();
    assert_eq!(got, vec![(1, 50005), (2, 50006)]);
    assert_eq!(r.stats.ftp_sessions, 2);
    assert_eq!(r.stats.ftp_port_probes.total, 4);
    assert_eq!(r.stats.ftp_port_probes.servers.len(), 1);
    assert_eq!(r.stats.ftp_port_probes.servers[0].probes, 4);
    assert!(r.stats.port_scans.is_empty(), "4 probes are no scan");
    // The sessions keep the handshake that came before their first byte.
    let whats: Vec<&str> = r.sessions[1]
        .timeline
        .iter()
        .take(4)
        .map(|e| e.what.as_ref())
        .collect();
    assert_eq!(whats, ["SYN", "SYN+ACK", "ACK", "220 hi"]);
    assert_eq!(r.sessions[0].commands[0].replies[0].code, 220);
}

/// JSONL writes each session as it ends; while an older connection on an FTP port is
/// undecided (session or probe), the session waits, so its id is the one JSON gives it.
#[test]
fn jsonl_ids_wait_for_older_undecided_connections() {
    for older_speaks in [false, true] {
        let mut cap = Cap::new();
        let mut old = cap.open((C, 50001), (S, 21), true);
        session(&mut cap, 50002);
        if older_speaks {
            cap.send(&mut old, 1, b"220 late\r\n");
            cap.close(&mut old);
        } else {
            cap.packet(old.a, old.b, old.seq[0], old.seq[1], "R", b"");
        }
        session(&mut cap, 50003);
        let streamed = cap.stream(Options::default());
        let json: Vec<(u64, u16)> = cap
            .analyze(Options::default())
            .sessions
            .iter()
            .map(|s| (s.id, s.client.port))
            .collect();
        let mut jsonl = streamed.all;
        jsonl.sort();
        assert_eq!(jsonl, json, "older connection speaks: {older_speaks}");
        let want: Vec<u16> = if older_speaks {
            vec![50001, 50002, 50003]
        } else {
            vec![50002, 50003]
        };
        assert_eq!(json.iter().map(|x| x.1).collect::<Vec<_>>(), want);
    }
}

/// A SYN nobody answers holds later sessions back from JSONL for a bounded time only.
#[test]
fn jsonl_is_not_stalled_by_an_unanswered_syn() {
    let mut cap = Cap::new();
    cap.packet((C, 50001), (S, 21), 100, 0, "S", b"");
    session(&mut cap, 50002);
    cap.t += 60_000_000;
    session(&mut cap, 50003);
    let streamed = cap.stream(Options::default());
    // Both written before the end of the capture, with the ids JSON gives them.
    assert_eq!(streamed.before_end, vec![(1, 50002), (2, 50003)]);
    let r = streamed.report;
    assert_eq!(r.stats.ftp_port_probes.total, 1);
    let json: Vec<(u64, u16)> = cap
        .analyze(Options::default())
        .sessions
        .iter()
        .map(|s| (s.id, s.client.port))
        .collect();
    assert_eq!(json, vec![(1, 50002), (2, 50003)]);
}

#[test]
fn ftp_found_mid_stream_on_an_odd_port_from_the_client_side() {
    let mut cap = Cap::new();
    // The capture starts after the handshake and the greeting.
    let mut ctl = cap.open((C, 51000), (S, 3021), false);
    cap.send(&mut ctl, 0, b"USER bob\r\n");
    cap.send(&mut ctl, 1, b"331 Password required\r\n");
    cap.send(&mut ctl, 0, b"PASS secret\r\n");
    cap.send(&mut ctl, 1, b"230 Logged in\r\n");
    cap.send(&mut ctl, 0, b"QUIT\r\n");
    cap.send(&mut ctl, 1, b"221 Bye\r\n");
    cap.close(&mut ctl);
    let r = cap.analyze(Options::default());
    assert_eq!(r.sessions.len(), 1);
    let s = &r.sessions[0];
    assert_eq!(s.server.port, 3021);
    assert_eq!(s.user.as_deref(), Some("bob"));
    assert_eq!(s.password.as_deref(), Some("<hidden>"));
    assert_eq!(format!("{:?}", s.login), "Success");
    assert_eq!(
        s.commands
            .iter()
            .map(|c| c.command.as_str())
            .collect::<Vec<_>>(),
        ["USER", "PASS", "QUIT"]
    );
}

#[test]
fn greeting_on_an_odd_port_keeps_the_handshake() {
    let mut cap = Cap::new();
    let mut ctl = cap.open((C, 51001), (S, 4444), true);
    cap.send(&mut ctl, 1, b"220 hello\r\n");
    cap.send(&mut ctl, 0, b"QUIT\r\n");
    cap.send(&mut ctl, 1, b"221 bye\r\n");
    cap.close(&mut ctl);
    let r = cap.analyze(Options::default());
    let s = &r.sessions[0];
    let what: Vec<&str> = s.timeline.iter().map(|e| e.what.as_ref()).collect();
    assert_eq!(&what[..4], ["SYN", "SYN+ACK", "ACK", "220 hello"]);
    assert_eq!(format!("{:?}", s.close), "Fin");
}

#[test]
fn nated_pasv_reply_matches_on_the_server_and_port() {
    let mut cap = Cap::new();
    let mut ctl = cap.open((C, 51002), (S, 21), true);
    cap.send(&mut ctl, 1, b"220 hi\r\n");
    // Pipelined: three commands in one segment.
    cap.send(&mut ctl, 0, b"USER anonymous\r\nPASS me@x\r\nPASV\r\n");
    cap.send(
        &mut ctl,
        1,
        b"331 ok\r\n230 ok\r\n227 Entering Passive Mode (203,0,113,5,19,137)\r\n",
    );
    // The client connects to the server's real address, port 5001.
    let mut data = cap.open((C, 52000), (S, 5001), true);
    cap.send(&mut ctl, 0, b"RETR f.bin\r\n");
    cap.send(
        &mut ctl,
        1,
        b"150 Opening BINARY mode data connection for f.bin (6 bytes).\r\n",
    );
    cap.send(&mut data, 1, b"abcdef");
    cap.close(&mut data);
    cap.send(&mut ctl, 1, b"226 done\r\n");
    cap.close(&mut ctl);
    let r = cap.analyze(Options {
        hash: true,
        ..Options::default()
    });
    let s = &r.sessions[0];
    assert_eq!(s.commands.len(), 5, "greeting, USER, PASS, PASV, RETR");
    assert_eq!(s.commands[3].replies[0].code, 227);
    assert!(s.anomalies.iter().any(|a| a.kind == AnomalyKind::PasvNat));
    assert!(!s
        .anomalies
        .iter()
        .any(|a| a.kind == AnomalyKind::UnmatchedDataConnection));
    let t = &s.transfers[0];
    assert!(t.matched);
    assert_eq!(t.command, "RETR");
    assert_eq!(t.bytes, Some(6));
    assert_eq!(t.expected_bytes, Some(6));
    assert_eq!(t.status, TransferStatus::Complete);
    assert_eq!(t.announced.as_ref().unwrap().ip.to_string(), "203.0.113.5");
    assert_eq!(
        t.sha256.as_deref(),
        Some("bef57ec7f53a6d40beb640a780a639c83bc29ac8a9816f1fc6c5c6dcd93c4721")
    );
}

#[test]
fn reply_227_to_epsv_and_a_lost_setup() {
    let mut cap = Cap::new();
    let mut ctl = cap.open((C, 51003), (S, 21), true);
    cap.send(&mut ctl, 1, b"220 hi\r\n");
    cap.send(&mut ctl, 0, b"EPSV\r\n");
    cap.send(
        &mut ctl,
        1,
        b"227 Entering Passive Mode (10,0,0,1,20,0)\r\n",
    );
    let mut d1 = cap.open((C, 52001), (S, 5120), true);
    cap.send(&mut ctl, 0, b"LIST\r\n");
    cap.send(&mut ctl, 1, b"150 here\r\n");
    cap.send(&mut d1, 1, b"a\r\nb\r\n");
    cap.close(&mut d1);
    cap.send(&mut ctl, 1, b"226 ok\r\n");
    // The next PASV and its reply were lost by the capture.
    cap.lose(&mut ctl, 0, 6);
    cap.lose(&mut ctl, 1, 48);
    cap.send(&mut ctl, 0, b"RETR x\r\n");
    let mut d2 = cap.open((C, 52002), (S, 6000), true);
    cap.send(&mut ctl, 1, b"150 go\r\n");
    cap.send(&mut d2, 1, b"xyz");
    cap.close(&mut d2);
    cap.send(&mut ctl, 1, b"226 ok\r\n");
    cap.close(&mut ctl);
    let r = cap.analyze(Options::default());
    let s = &r.sessions[0];
    assert_eq!(s.transfers.len(), 2, "{:#?}", s.transfers);
    assert_eq!(s.transfers[0].setup, SetupKind::Epsv);
    assert_eq!(s.transfers[0].data_server.port, 5120);
    assert!(s.transfers[0].matched);
    // The second data connection matches no announced port, but is still reported and
    // tied to the RETR that used it.
    let t = &s.transfers[1];
    assert!(!t.matched);
    assert_eq!(t.command, "RETR");
    assert_eq!(t.bytes, Some(3));
    assert!(s
        .anomalies
        .iter()
        .any(|a| a.kind == AnomalyKind::UnmatchedDataConnection));
    assert!(s
        .anomalies
        .iter()
        .any(|a| a.kind == AnomalyKind::CaptureGap));
    assert_eq!(r.stats.unmatched_data_connections, 1);
    // RETR was seen whole after the gap in the client's stream.
    assert!(s
        .commands
        .iter()
        .any(|c| c.command == "RETR" && c.arg == "x"));
}

#[test]
fn line_split_across_segments_and_telnet_abort() {
    let mut cap = Cap::new();
    let mut ctl = cap.open((C, 51004), (S, 21), true);
    cap.send(&mut ctl, 1, b"220-multi\r\n");
    cap.send(&mut ctl, 1, b"220 line\r\n");
    cap.send(&mut ctl, 0, b"US");
    cap.send(&mut ctl, 0, b"ER al");
    cap.send(&mut ctl, 0, b"ice\n");
    cap.send(&mut ctl, 1, b"331 pw\r\n");
    cap.send(&mut ctl, 0, b"\xff\xf4\xff\xf2ABOR\r\n");
    cap.send(&mut ctl, 1, b"225 nothing to abort\r\n");
    cap.send(&mut ctl, 0, b"SITE caf\xe9\r\n");
    cap.send(&mut ctl, 1, b"500 ?\r\n");
    cap.close(&mut ctl);
    let r = cap.analyze(Options::default());
    let s = &r.sessions[0];
    assert_eq!(s.commands[0].command, "");
    assert_eq!(s.commands[0].replies[0].text, "multi\nline");
    assert_eq!(s.commands[1].command, "USER");
    assert_eq!(s.commands[1].arg, "alice");
    assert_eq!(s.commands[2].command, "ABOR");
    assert_eq!(s.commands[3].arg, "caf\u{e9}");
    assert_eq!(
        s.commands[3].encoding,
        Some(ftptrace::model::TextEncoding::Latin1)
    );
}

/// A logged-in session: greeting, USER, PASS.
fn login(cap: &mut Cap, ctl: &mut Conv) {
    cap.send(ctl, 1, b"220 ready\r\n");
    cap.send(ctl, 0, b"USER u\r\n");
    cap.send(ctl, 1, b"331 pw\r\n");
    cap.send(ctl, 0, b"PASS p\r\n");
    cap.send(ctl, 1, b"230 ok\r\n");
}

fn kinds(s: &ftptrace::model::Session) -> Vec<&'static str> {
    s.anomalies.iter().map(|a| a.kind.as_str()).collect()
}

#[test]
fn lprt_and_lpsv_announce_data_ports() {
    let mut cap = Cap::new();
    let mut ctl = cap.open((C, 40000), (S, 21), true);
    login(&mut cap, &mut ctl);
    // LPSV (RFC 1639): the 228 reply names 10.0.0.1:5001.
    cap.send(&mut ctl, 0, b"LPSV\r\n");
    cap.send(
        &mut ctl,
        1,
        b"228 Entering Long Passive Mode (4,4,10,0,0,1,2,19,137)\r\n",
    );
    cap.send(&mut ctl, 0, b"RETR a\r\n");
    let mut d1 = cap.open((C, 40001), (S, 5001), true);
    cap.send(&mut ctl, 1, b"150 go\r\n");
    cap.send(&mut d1, 1, b"hello");
    cap.close(&mut d1);
    cap.send(&mut ctl, 1, b"226 done\r\n");
    // LPRT: the client listens on 10.0.0.2:6000.
    cap.send(&mut ctl, 0, b"LPRT 4,4,10,0,0,2,2,23,112\r\n");
    cap.send(&mut ctl, 1, b"200 ok\r\n");
    cap.send(&mut ctl, 0, b"STOR b\r\n");
    let mut d2 = cap.open((S, 20), (C, 6000), true);
    cap.send(&mut ctl, 1, b"150 go\r\n");
    cap.send(&mut d2, 1, b"upload");
    cap.close(&mut d2);
    cap.send(&mut ctl, 1, b"226 done\r\n");
    cap.close(&mut ctl);
    let r = cap.analyze(Options::default());
    let t = &r.sessions[0].transfers;
    assert_eq!(t.len(), 2, "{t:#?}");
    assert_eq!(
        (t[0].setup, t[0].matched, t[0].bytes),
        (SetupKind::Lpsv, true, Some(5))
    );
    assert_eq!(t[0].match_, DataMatch::Announced);
    assert_eq!(
        (t[1].setup, t[1].matched, t[1].bytes),
        (SetupKind::Lprt, true, Some(6))
    );
    assert_eq!(t[1].mode, Mode::Active);
    assert_eq!(r.stats.tied_data_connections, 2);
    assert_eq!(r.stats.untied_data_connections, 0);
}

#[test]
fn a_stranger_on_a_passive_port_is_a_hijack() {
    let mut cap = Cap::new();
    let mut ctl = cap.open((C, 40000), (S, 21), true);
    login(&mut cap, &mut ctl);
    cap.send(&mut ctl, 0, b"PASV\r\n");
    cap.send(
        &mut ctl,
        1,
        b"227 Entering Passive Mode (10,0,0,1,19,137)\r\n",
    );
    cap.send(&mut ctl, 0, b"RETR secret\r\n");
    // 10.0.0.66 races the client to the announced port.
    let mut d = cap.open(([10, 0, 0, 66], 50000), (S, 5001), true);
    cap.send(&mut ctl, 1, b"150 go\r\n");
    cap.send(&mut d, 1, b"secret bytes");
    cap.close(&mut d);
    cap.send(&mut ctl, 1, b"226 done\r\n");
    cap.close(&mut ctl);
    let r = cap.analyze(Options::default());
    let s = &r.sessions[0];
    assert!(kinds(s).contains(&"data_port_hijack"), "{:#?}", s.anomalies);
    assert_eq!(s.transfers.len(), 1);
}

#[test]
fn fxp_is_recognised_and_not_a_bounce() {
    // One client drives two servers: PASV on A, then PORT naming A's listener on B.
    const A: [u8; 4] = [10, 0, 0, 1];
    const B: [u8; 4] = [10, 0, 0, 3];
    let mut cap = Cap::new();
    let mut ca = cap.open((C, 40000), (A, 21), true);
    login(&mut cap, &mut ca);
    let mut cb = cap.open((C, 40001), (B, 21), true);
    login(&mut cap, &mut cb);
    cap.send(&mut ca, 0, b"PASV\r\n");
    cap.send(
        &mut ca,
        1,
        b"227 Entering Passive Mode (10,0,0,1,19,137)\r\n",
    );
    cap.send(&mut cb, 0, b"PORT 10,0,0,1,19,137\r\n");
    cap.send(&mut cb, 1, b"200 ok\r\n");
    cap.send(&mut ca, 0, b"STOR copy\r\n");
    cap.send(&mut cb, 0, b"RETR orig\r\n");
    // B connects from port 20 to A's passive listener.
    let mut d = cap.open((B, 20), (A, 5001), true);
    cap.send(&mut ca, 1, b"150 go\r\n");
    cap.send(&mut cb, 1, b"150 go\r\n");
    cap.send(&mut d, 0, b"file contents");
    cap.close(&mut d);
    cap.send(&mut ca, 1, b"226 done\r\n");
    cap.send(&mut cb, 1, b"226 done\r\n");
    cap.close(&mut ca);
    cap.close(&mut cb);
    let r = cap.analyze(Options::default());
    assert_eq!(r.sessions.len(), 2);
    for s in &r.sessions {
        let k = kinds(s);
        assert!(k.contains(&"fxp"), "session {}: {k:?}", s.id);
        assert!(!k.contains(&"port_bounce"), "session {}: {k:?}", s.id);
        assert!(!k.contains(&"data_port_hijack"), "session {}: {k:?}", s.id);
    }
    // The data connection is A's STOR; B's RETR is recorded from its replies.
    let a = &r.sessions[0];
    assert_eq!(a.transfers.len(), 1, "{:#?}", a.transfers);
    assert_eq!(
        (a.transfers[0].command.as_str(), a.transfers[0].bytes),
        ("STOR", Some(13))
    );
}

#[test]
fn a_port_bounce_is_still_one() {
    let mut cap = Cap::new();
    let mut ctl = cap.open((C, 40000), (S, 21), true);
    login(&mut cap, &mut ctl);
    cap.send(&mut ctl, 0, b"PORT 10,0,0,99,0,25\r\n");
    cap.send(&mut ctl, 1, b"200 ok\r\n");
    cap.close(&mut ctl);
    let r = cap.analyze(Options::default());
    assert_eq!(
        kinds(&r.sessions[0]),
        vec!["cleartext_credentials", "port_bounce"]
    );
}

#[test]
fn a_data_connection_without_a_session_stands_at_top_level() {
    // Only an active data connection (from port 20), no control connection at all.
    let mut cap = Cap::new();
    let mut d = cap.open((S, 20), (C, 40000), true);
    cap.send(&mut d, 0, b"0123456789");
    cap.close(&mut d);
    // And a non-FTP connection with payload, which is "other".
    let mut h = cap.open((C, 40001), (S, 8080), true);
    cap.send(&mut h, 0, b"GET / HTTP/1.1\r\n\r\n");
    cap.close(&mut h);
    let r = cap.analyze(Options {
        hash: true,
        ..Options::default()
    });
    assert!(r.sessions.is_empty());
    assert_eq!(r.untied_transfers.len(), 1);
    let t = &r.untied_transfers[0];
    assert_eq!(
        (t.bytes, t.matched, t.match_),
        (Some(10), false, DataMatch::None)
    );
    assert!(t.sha256.is_some());
    assert_eq!(r.stats.untied_data_connections, 1);
    assert_eq!(r.stats.unmatched_data_connections, 1);
    assert_eq!(r.stats.other_connections, 1);
    assert_eq!(r.stats.tcp_connections, 2);
}

#[test]
fn a_transfer_whose_data_connection_is_not_captured() {
    let mut cap = Cap::new();
    let mut ctl = cap.open((C, 40000), (S, 21), true);
    login(&mut cap, &mut ctl);
    cap.send(&mut ctl, 0, b"SIZE f\r\n");
    cap.send(&mut ctl, 1, b"213 4096\r\n");
    cap.send(&mut ctl, 0, b"PASV\r\n");
    cap.send(
        &mut ctl,
        1,
        b"227 Entering Passive Mode (10,0,0,1,19,137)\r\n",
    );
    cap.send(&mut ctl, 0, b"RETR f\r\n");
    cap.send(
        &mut ctl,
        1,
        b"150 Opening BINARY mode data connection for f (4096 bytes).\r\n",
    );
    cap.send(&mut ctl, 1, b"226 done\r\n");
    // A data command refused outright moved nothing: no transfer.
    cap.send(&mut ctl, 0, b"RETR g\r\n");
    cap.send(&mut ctl, 1, b"550 no\r\n");
    cap.close(&mut ctl);
    let r = cap.analyze(Options::default());
    let s = &r.sessions[0];
    assert_eq!(s.transfers.len(), 1, "{:#?}", s.transfers);
    let t = &s.transfers[0];
    assert_eq!(t.data, DataCapture::NotCaptured);
    assert_eq!(
        (t.bytes, t.captured_bytes, t.missing_bytes),
        (None, None, None)
    );
    assert_eq!(t.expected_bytes, Some(4096));
    assert_eq!(
        (t.status, t.reply_code),
        (TransferStatus::Complete, Some(226))
    );
    assert_eq!(t.data_server.port, 5001);
    assert_eq!(t.setup, SetupKind::Pasv);
    // The final reply's timeline line says so.
    assert!(s
        .timeline
        .iter()
        .any(|e| e.note.as_deref() == Some("data:1: data connection not in capture")));
}

// ----- TLS sessions (issue 9) ----------------------------------------------------------

/// A TLS record of `kind` (22 handshake, 23 application data, 21 alert) with `len` bytes.
fn record(kind: u8, len: usize) -> Vec<u8> {
    let mut r = vec![kind, 3, 3];
    r.extend_from_slice(&(len as u16).to_be_bytes());
    r.resize(5 + len, 0xab);
    r
}

/// A ClientHello-shaped record: handshake, message type 1.
fn client_hello() -> Vec<u8> {
    let mut r = record(22, 60);
    r[5] = 1;
    r
}

/// An AUTH TLS session whose control connection is encrypted from the 234 on.
fn auth_tls_session(cap: &mut Cap, port: u16) -> Conv {
    let mut ctl = cap.open((C, port), (S, 21), true);
    cap.send(&mut ctl, 1, b"220 hi\r\n");
    cap.send(&mut ctl, 0, b"AUTH TLS\r\n");
    cap.send(&mut ctl, 1, b"234 go\r\n");
    cap.send(&mut ctl, 0, &client_hello());
    cap.send(&mut ctl, 1, &record(22, 80));
    cap.send(&mut ctl, 0, &record(23, 30));
    cap.send(&mut ctl, 1, &record(23, 40));
    ctl
}

#[test]
fn tls_data_connections_are_tied_by_hosts_and_time_within_the_grace_only() {
    let mut cap = Cap::new();
    let mut ctl = auth_tls_session(&mut cap, 51010);
    // PROT P data connection while the session runs (its PASV was encrypted).
    let mut d1 = cap.open((C, 52010), (S, 40001), true);
    cap.send(&mut d1, 0, &client_hello());
    cap.send(&mut d1, 1, &record(23, 3000));
    cap.close(&mut d1);
    cap.send(&mut ctl, 1, &record(23, 40));
    cap.close(&mut ctl);
    // A late one, 2 s after the control connection ended: still within the grace.
    cap.t += 2_000_000;
    let mut d2 = cap.open((C, 52011), (S, 40002), true);
    cap.send(&mut d2, 0, &client_hello());
    cap.send(&mut d2, 0, &record(23, 900));
    cap.close(&mut d2);
    // 30 s later: no longer this session's.
    cap.t += 30_000_000;
    let mut d3 = cap.open((C, 52012), (S, 40003), true);
    cap.send(&mut d3, 0, &client_hello());
    cap.send(&mut d3, 1, &record(23, 500));
    cap.close(&mut d3);
    let r = cap.analyze(Options {
        hash: true,
        ..Options::default()
    });
    assert_eq!(r.sessions.len(), 1);
    let s = &r.sessions[0];
    assert!(s.tls);
    // The one after the grace is not tied by time; between the session's hosts on a data
    // port, it stands in the session untied (issue 9 item 2).
    assert_eq!(s.transfers.len(), 3, "{:#?}", s.transfers);
    let late = &s.transfers[2];
    assert_eq!((late.matched, late.match_), (false, DataMatch::None));
    for t in &s.transfers[..2] {
        assert_eq!(t.data, DataCapture::Encrypted);
        assert_eq!(t.match_, DataMatch::Timing);
        assert!(t.matched);
        assert_eq!(t.sha256, None, "no hash of TLS records");
        assert_eq!(t.status, TransferStatus::Complete);
        assert_eq!(t.mode, Mode::Passive);
    }
    assert_eq!(s.transfers[0].direction, Direction::Download);
    assert_eq!(s.transfers[0].bytes, Some(65 + 3005));
    assert_eq!(s.transfers[1].direction, Direction::Upload);
    assert_eq!(r.stats.timing_data_connections, 2);
    assert_eq!(r.stats.encrypted_data_connections, 2);
    assert_eq!(r.stats.unmatched_data_connections, 1);
    assert!(!s
        .anomalies
        .iter()
        .any(|a| a.kind == AnomalyKind::CleartextDataAfterTls));
}

#[test]
fn tls_between_hosts_without_an_ftp_session_is_left_alone() {
    let mut cap = Cap::new();
    let mut https = cap.open((C, 52020), (S, 443), true);
    cap.send(&mut https, 0, &client_hello());
    cap.send(&mut https, 1, &record(23, 700));
    cap.close(&mut https);
    // A cleartext FTP session between the same hosts does not adopt TLS connections.
    let mut ctl = cap.open((C, 51020), (S, 21), true);
    cap.send(&mut ctl, 1, b"220 hi\r\n");
    let mut https = cap.open((C, 52021), (S, 443), true);
    cap.send(&mut https, 0, &client_hello());
    cap.send(&mut https, 1, &record(23, 700));
    cap.close(&mut https);
    cap.close(&mut ctl);
    // Nor does a TLS session adopt other services between its hosts.
    let mut ctl = auth_tls_session(&mut cap, 51021);
    let mut ssh = cap.open((C, 52022), (S, 22), true);
    cap.send(&mut ssh, 1, b"SSH-2.0-OpenSSH_9.2\r\n");
    cap.send(&mut ssh, 0, b"SSH-2.0-OpenSSH_9.2\r\n");
    cap.close(&mut ssh);
    let mut https = cap.open((C, 52023), (S, 443), true);
    cap.send(&mut https, 0, &client_hello());
    cap.close(&mut https);
    cap.close(&mut ctl);
    let r = cap.analyze(Options::default());
    assert_eq!(r.sessions.len(), 2);
    assert!(
        r.sessions.iter().all(|s| s.transfers.is_empty()),
        "{:#?}",
        r.sessions.iter().map(|s| &s.transfers).collect::<Vec<_>>()
    );
    assert_eq!(r.stats.data_connections, 0);
}

#[test]
fn prot_c_data_of_a_tls_session_is_hashed_with_a_finding() {
    let mut cap = Cap::new();
    let mut ctl = auth_tls_session(&mut cap, 51030);
    let mut d = cap.open((C, 52030), (S, 40030), true);
    // 1500 bytes in one segment: more than the classifier's probe holds.
    let file: Vec<u8> = (0..1500u32).map(|i| (i % 251) as u8).collect();
    cap.send(&mut d, 1, &file);
    cap.close(&mut d);
    cap.send(&mut ctl, 1, &record(23, 40));
    cap.close(&mut ctl);
    let r = cap.analyze(Options {
        hash: true,
        ..Options::default()
    });
    let s = &r.sessions[0];
    let t = &s.transfers[0];
    assert_eq!(t.data, DataCapture::Captured);
    assert_eq!(t.match_, DataMatch::Timing);
    assert_eq!(t.bytes, Some(1500));
    assert_eq!(t.missing_bytes, Some(0));
    use sha2::Digest;
    let want: String = sha2::Sha256::digest(&file)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert_eq!(
        t.sha256.as_deref(),
        Some(want.as_str()),
        "every byte hashed"
    );
    assert!(s
        .anomalies
        .iter()
        .any(|a| a.kind == AnomalyKind::CleartextDataAfterTls));
}

#[test]
fn implicit_ftps_on_port_990_and_its_data() {
    let mut cap = Cap::new();
    let mut ctl = cap.open((C, 51040), (S, 990), true);
    cap.send(&mut ctl, 0, &client_hello());
    cap.send(&mut ctl, 1, &record(22, 80));
    cap.send(&mut ctl, 1, &record(23, 40));
    // Active mode: the server connects from port 989; the client still speaks TLS first.
    let mut d = cap.open((S, 989), (C, 50040), true);
    cap.send(&mut d, 1, &client_hello());
    cap.send(&mut d, 0, &record(23, 2000));
    cap.close(&mut d);
    cap.close(&mut ctl);
    let r = cap.analyze(Options::default());
    assert_eq!(r.sessions.len(), 1);
    let s = &r.sessions[0];
    assert!(s.tls);
    assert!(s.tls_info.as_ref().unwrap().implicit);
    assert_eq!(s.transfers.len(), 1);
    let t = &s.transfers[0];
    assert_eq!(t.data, DataCapture::Encrypted);
    assert_eq!(t.mode, Mode::Active);
    assert_eq!(t.direction, Direction::Download);
}

#[test]
fn tls_data_with_two_tls_sessions_between_the_hosts_is_a_guess_and_says_so() {
    let mut cap = Cap::new();
    let mut a = auth_tls_session(&mut cap, 51050);
    let mut b = auth_tls_session(&mut cap, 51051);
    // Session a speaks last before the data connection opens.
    cap.send(&mut a, 0, &record(23, 30));
    let mut d = cap.open((C, 52050), (S, 40050), true);
    cap.send(&mut d, 0, &client_hello());
    cap.send(&mut d, 1, &record(23, 900));
    cap.close(&mut d);
    cap.close(&mut a);
    cap.close(&mut b);
    let r = cap.analyze(Options::default());
    assert_eq!(r.sessions.len(), 2);
    let (sa, sb) = (&r.sessions[0], &r.sessions[1]);
    assert_eq!(sa.client.port, 51050);
    assert_eq!(sa.transfers.len(), 1);
    assert!(sb.transfers.is_empty());
    assert!(sa
        .anomalies
        .iter()
        .any(|x| x.kind == AnomalyKind::TlsDataAmbiguous));
}

#[test]
fn a_cleartext_session_waiting_between_the_same_hosts_keeps_its_data() {
    let mut cap = Cap::new();
    let mut tls = auth_tls_session(&mut cap, 51060);
    let mut ctl = cap.open((C, 51061), (S, 21), true);
    cap.send(&mut ctl, 1, b"220 hi\r\n");
    cap.send(&mut ctl, 0, b"RETR f\r\n");
    // Its setup was lost: the data connection is tied by the waiting command, not to the
    // TLS session.
    let mut d = cap.open((C, 52060), (S, 40060), true);
    cap.send(&mut d, 1, b"hello\n");
    cap.close(&mut d);
    cap.send(&mut ctl, 1, b"150 ok\r\n226 done\r\n");
    cap.close(&mut ctl);
    cap.close(&mut tls);
    let r = cap.analyze(Options::default());
    let clear = r.sessions.iter().find(|s| !s.tls).unwrap();
    let enc = r.sessions.iter().find(|s| s.tls).unwrap();
    assert_eq!(clear.transfers.len(), 1);
    assert_eq!(clear.transfers[0].command, "RETR");
    assert!(enc.transfers.is_empty());
}

#[test]
fn a_file_that_starts_like_a_tls_record_in_a_cleartext_session_is_a_file() {
    let mut cap = Cap::new();
    let mut ctl = cap.open((C, 51070), (S, 21), true);
    cap.send(&mut ctl, 1, b"220 hi\r\n");
    cap.send(&mut ctl, 0, b"PASV\r\n");
    cap.send(
        &mut ctl,
        1,
        b"227 Entering Passive Mode (10,0,0,1,156,70)\r\n",
    );
    cap.send(&mut ctl, 0, b"RETR dump.bin\r\n");
    let mut d = cap.open((C, 52070), (S, 40006), true);
    cap.send(&mut ctl, 1, b"150 ok\r\n");
    cap.send(&mut d, 1, &record(23, 100));
    cap.close(&mut d);
    cap.send(&mut ctl, 1, b"226 done\r\n");
    cap.close(&mut ctl);
    let r = cap.analyze(Options {
        hash: true,
        ..Options::default()
    });
    let t = &r.sessions[0].transfers[0];
    assert_eq!(t.command, "RETR");
    assert_eq!(t.data, DataCapture::Captured);
    assert!(t.sha256.is_some());
    assert_eq!(r.stats.encrypted_data_connections, 0);
}

fn unhex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

/// DNS over TCP (port 53): the query and its answer, each after its 2-byte length and the
/// answer split across two segments, name the FTP server like a UDP answer does.
#[test]
fn a_dns_answer_over_tcp_names_the_server() {
    // dnsmasq's answer from samples/dns-curl-vsftpd.pcap: files.example.test is a CNAME of
    // ftp.example.test, which is 10.99.0.1.
    let query = unhex("6b51010000010000000000000566696c6573076578616d706c6504746573740000010001");
    let answer = unhex("6b51858000010002000000000566696c6573076578616d706c6504746573740000010001c00c0005000100000000001203667470076578616d706c65047465737400c030000100010000000000040a630001");
    let framed = |m: &[u8]| {
        let mut v = (m.len() as u16).to_be_bytes().to_vec();
        v.extend_from_slice(m);
        v
    };
    let server = [10, 99, 0, 1];
    let mut cap = Cap::new();
    let mut dns = cap.open((C, 41000), ([10, 0, 0, 53], 53), true);
    cap.send(&mut dns, 0, &framed(&query));
    let a = framed(&answer);
    cap.send(&mut dns, 1, &a[..20]);
    cap.send(&mut dns, 1, &a[20..]);
    cap.close(&mut dns);
    let mut c = cap.open((C, 41001), (server, 21), true);
    cap.send(&mut c, 1, b"220 hi\r\n");
    cap.send(&mut c, 0, b"QUIT\r\n");
    cap.send(&mut c, 1, b"221 bye\r\n");
    cap.close(&mut c);
    let r = cap.analyze(Options::default());
    assert_eq!(r.sessions.len(), 1);
    let s = &r.sessions[0];
    assert_eq!(s.server_name.as_deref(), Some("files.example.test"));
    assert_eq!(r.stats.dns_messages, 2);
    let dns_events: Vec<&str> = s
        .timeline
        .iter()
        .filter(|e| e.conn == Conn::Dns)
        .map(|e| e.what.as_ref())
        .collect();
    assert_eq!(dns_events.len(), 2, "{dns_events:?}");
    assert!(dns_events[1].contains("ftp.example.test"), "{dns_events:?}");
    assert!(r
        .tcp_connections
        .iter()
        .any(|t| t.role == Some(ConnRole::Dns) && t.server.port == 53));
}
