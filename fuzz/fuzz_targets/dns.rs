//! Fuzz target: DNS messages (UDP port 53 payloads) → question and address/alias answers.
#![no_main]

use ftptrace::net::dns::{self, MAX_ANSWERS};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Some(m) = dns::parse(data) {
        assert!(m.answers.len() <= MAX_ANSWERS);
        if let Some((name, t)) = &m.question {
            std::hint::black_box((name.len(), t.to_string()));
        }
    }
});
