//! Fuzz target: the FTP session state machine fed a control-connection dialogue from both
//! sides, with capture gaps and data connections, then turned into its model and JSON.
//!
//! Input: a transcript, one line per `\n`. A line starting with a digit or a space is the
//! server's, any other the client's, except lines starting with a NUL byte, which are operations:
//! `\0 c` a gap of `n` bytes on the client's side (`\0 s n`: the server's), `\0 d n f` the
//! oldest open data connection carries `n`·100 bytes and closes (`f & 1`: with its FIN;
//! `f & 2`: encrypted; `f & 4`: cleartext after TLS), `\0 t n` the clock jumps `n` s.
//! Data-channel setups the dialogue announces open data connections at once.
#![no_main]

use ftptrace::capture::Timestamp;
use ftptrace::ftp::session::Session;
use ftptrace::model::{Mode, Side};
use libfuzzer_sys::fuzz_target;
use std::collections::VecDeque;
use std::net::SocketAddr;

fuzz_target!(|data: &[u8]| {
    let client: SocketAddr = "10.0.0.1:40000".parse().unwrap();
    let server: SocketAddr = "10.0.0.2:21".parse().unwrap();
    let mut ts = 1_700_000_000_000_000_000i64;
    let mut s = Session::new(1, client, server, Timestamp(ts), 6, data.len().is_multiple_of(2));
    let mut offsets = [0u64; 2];
    let mut open: VecDeque<usize> = VecDeque::new();
    for line in data.split_inclusive(|&b| b == b'\n').take(4096) {
        ts += 1_000_000;
        match line {
            [0, op, rest @ ..] => {
                let n = u64::from(rest.first().copied().unwrap_or(0));
                let f = rest.get(1).copied().unwrap_or(0);
                match op {
                    b'c' | b's' => {
                        let (from, d) = if *op == b'c' {
                            (Side::Client, 0)
                        } else {
                            (Side::Server, 1)
                        };
                        s.control_gap(Timestamp(ts), from, offsets[d], n + 1);
                        offsets[d] += n + 1;
                    }
                    b'd' => {
                        if let Some(t) = open.pop_front() {
                            if f & 2 != 0 {
                                s.data_encrypted(t);
                            }
                            if f & 4 != 0 {
                                s.data_cleartext_after_tls(Timestamp(ts), t);
                            }
                            s.data_bytes(Timestamp(ts), t, Side::Server, n * 100, true);
                            s.close_data(t, Timestamp(ts), n * 100, n * 90, f & 1 != 0);
                        }
                    }
                    b't' => ts += (n as i64) * 1_000_000_000,
                    _ => {}
                }
            }
            _ => {
                let (from, d) = if line[0].is_ascii_digit() || line[0] == b' ' {
                    (Side::Server, 1)
                } else {
                    (Side::Client, 0)
                };
                s.control_data(Timestamp(ts), from, line);
                offsets[d] += line.len() as u64;
            }
        }
        for setup in s.take_new_setups() {
            if setup.names_other_host(client) {
                s.foreign_port(&setup, None);
            }
            let (connector, listener) = match setup.mode {
                Mode::Passive => (SocketAddr::new(client.ip(), 50_000), setup.listener),
                Mode::Active => (SocketAddr::new(server.ip(), 20), setup.listener),
            };
            let t = s.open_data(Timestamp(ts), connector, listener, Some(setup));
            if open.len() < 64 {
                open.push_back(t);
            }
        }
    }
    for t in open {
        s.close_data(t, Timestamp(ts), 0, 0, false);
    }
    s.control_end(Timestamp(ts));
    let m = s.into_model();
    serde_json::to_vec(&m).expect("a session serializes");
});
