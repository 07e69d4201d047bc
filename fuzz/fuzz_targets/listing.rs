//! Fuzz target: listing payloads (LIST Unix/DOS, MLSD, NLST) → entries, under bounds.
//! First byte: style (and bit 7: the payload was cut); the rest: the data connection's bytes.
#![no_main]

use ftptrace::ftp::listing::{self, MAX_LISTING_ENTRIES};
use ftptrace::ftp::parse::{parse_listing_line, ListingStyle};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&b, payload)) = data.split_first() else {
        return;
    };
    let style = match b % 3 {
        0 => ListingStyle::List,
        1 => ListingStyle::Mlsd,
        _ => ListingStyle::Nlst,
    };
    let l = listing::read(style, payload, b & 0x80 != 0);
    assert!(l.entries.len() <= MAX_LISTING_ENTRIES);
    for line in payload.split(|&c| c == b'\n').take(64) {
        if let Some(e) = parse_listing_line(style, line) {
            // The name is a piece of the line.
            let (lp, np) = (line.as_ptr() as usize, e.name.as_ptr() as usize);
            assert!(e.name.is_empty() || (np >= lp && np + e.name.len() <= lp + line.len()));
        }
    }
    serde_json::to_vec(&l).expect("a listing serializes");
});
