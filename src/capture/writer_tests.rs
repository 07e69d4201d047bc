//! Test helpers for the capture writers: sample records, reading back, and asking tshark.

use super::{FileSource, LinkType, Packet, PacketSource, Timestamp};

/// An owned record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Owned {
    pub ts: Timestamp,
    pub linktype: LinkType,
    pub data: Vec<u8>,
    pub orig_len: u32,
}

impl Owned {
    pub fn as_packet(&self) -> Packet<'_> {
        Packet {
            ts: self.ts,
            linktype: self.linktype,
            data: &self.data,
            orig_len: self.orig_len,
        }
    }
}

/// A few records of every length modulo 4 (padding), one cut by a snap length, with
/// timestamps at the given precision.
pub fn packets(linktype: LinkType, nanos: bool) -> Vec<Owned> {
    (0..5u8)
        .map(|i| {
            let data: Vec<u8> = (0..(60 + i as usize)).map(|b| b as u8 ^ i).collect();
            let frac = 123_456_789 + i as i64;
            let frac = if nanos { frac } else { frac / 1000 * 1000 };
            Owned {
                ts: Timestamp(1_764_000_000_000_000_000 + i as i64 * 1_000_000_000 + frac),
                linktype,
                orig_len: data.len() as u32 + if i == 3 { 1000 } else { 0 },
                data,
            }
        })
        .collect()
}

/// Every record of `bytes` through our reader, and its timestamp digits.
pub fn read_back(bytes: &[u8]) -> (Vec<Owned>, u8) {
    let mut s = FileSource::from_reader("written", Box::new(std::io::Cursor::new(bytes.to_vec())))
        .expect("header reads back");
    let mut got = Vec::new();
    while let Some(p) = s.next_packet().expect("records read back") {
        got.push(Owned {
            ts: p.ts,
            linktype: p.linktype,
            data: p.data.to_vec(),
            orig_len: p.orig_len,
        });
    }
    (got, s.ts_digits())
}

/// `tshark -r` reads the file without complaint and counts `n` packets; skipped (with the
/// reason on stderr) when tshark is missing, unless `CI=true`.
pub fn tool_accepts(bytes: &[u8], ext: &str, n: usize) {
    use std::process::Command;
    if Command::new("tshark").arg("-v").output().is_err() {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "tshark is missing (CI=true)"
        );
        eprintln!("skipped: tshark not installed");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join(format!("w.{ext}"));
    std::fs::write(&p, bytes).unwrap();
    let out = Command::new("tshark")
        .arg("-r")
        .arg(&p)
        .args(["-T", "fields", "-e", "frame.number"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "tshark: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let err = String::from_utf8_lossy(&out.stderr);
    // tshark warns when run as root; anything else is a complaint about the file.
    let complaints: Vec<&str> = err
        .lines()
        .filter(|l| !l.starts_with("Running as user"))
        .collect();
    assert!(complaints.is_empty(), "{err}");
    assert_eq!(String::from_utf8_lossy(&out.stdout).lines().count(), n);
}
