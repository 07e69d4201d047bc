//! Fuzz target: run the capture reader over arbitrary bytes to the end; it must never panic.
#![no_main]

use ftptrace::capture::{FileSource, PacketSource};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // A small buffer (it grows on demand) keeps runs fast and exercises refills.
    let input = Box::new(std::io::Cursor::new(data.to_vec()));
    let Ok(mut src) = FileSource::with_capacity("fuzz", input, None, 4096) else {
        return;
    };
    let mut n = 0usize;
    loop {
        match src.next_packet() {
            Ok(Some(p)) => {
                n += p.data.len();
                std::hint::black_box(p.ts);
            }
            Ok(None) => break,
            Err(e) => {
                std::hint::black_box(e.to_string());
                assert!(matches!(src.next_packet(), Ok(None)));
                break;
            }
        }
    }
    std::hint::black_box(n);
});
