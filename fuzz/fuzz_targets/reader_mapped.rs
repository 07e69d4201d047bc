//! Fuzz target: a capture file read through the mapping (`capture::mapped`) gives what the same file read with `read()` gives: the same packets, the same error at the same offset.
#![no_main]

use ftptrace::capture::mapped::MIN_MAP;
use ftptrace::capture::{FileSource, PacketSource, ReadMode};
use libfuzzer_sys::fuzz_target;
use std::io::Write;

type Got = (Vec<(i64, u32, Vec<u8>, u32)>, Option<String>);

fn read(path: &str, mode: ReadMode) -> Option<Got> {
    let mut src = FileSource::open_with(path, 4096, mode).ok()?;
    let mut packets = Vec::new();
    loop {
        match src.next_packet() {
            Ok(Some(p)) => packets.push((p.ts.0, p.linktype.0, p.data.to_vec(), p.orig_len)),
            Ok(None) => return Some((packets, None)),
            Err(e) => return Some((packets, Some(e.to_string()))),
        }
    }
}

fuzz_target!(|data: &[u8]| {
    // The input, then 0xff bytes up to the size that is mapped: a record length no reader
    // believes, so reading ends at the padding (or inside the input).
    let mut file = tempfile::NamedTempFile::new().expect("temporary file");
    file.write_all(data).expect("write");
    let pad = (MIN_MAP as usize).saturating_sub(data.len());
    file.write_all(&vec![0xff; pad]).expect("write");
    file.flush().expect("flush");
    let path = file.path().to_str().expect("utf-8 path");
    let mapped = read(path, ReadMode::Map);
    let read_in = read(path, ReadMode::Read);
    assert_eq!(mapped.is_some(), read_in.is_some(), "opened one way only");
    if let (Some(m), Some(r)) = (mapped, read_in) {
        assert_eq!(m.0.len(), r.0.len(), "packet counts");
        assert!(m.0 == r.0, "packets differ");
        assert_eq!(m.1, r.1, "errors differ");
    }
});
