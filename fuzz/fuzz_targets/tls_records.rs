//! Fuzz the TLS record follower and handshake readers (tls-parser, x509-parser) on arbitrary
//! bytes, split at an arbitrary point as TCP delivers them.
#![no_main]

use ftptrace::ftp::tls::{self, Facts, RecordStream};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&cut, rest)) = data.split_first() else {
        return;
    };
    let cut = (cut as usize).min(rest.len());
    let mut f = Facts::default();
    let mut s = RecordStream::default();
    let _ = s.feed(&rest[..cut], &mut f);
    let _ = s.feed(&rest[cut..], &mut f);
    let _ = tls::record_header(rest);
    let _ = tls::starts_with_client_hello(rest);
    tls::read_handshake_message(rest, &mut f);
    let _ = tls::certificate(rest);
});
