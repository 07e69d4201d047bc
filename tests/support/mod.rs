//! Shared helpers for the integration tests.
#![allow(dead_code)]

pub mod cap;

use std::path::PathBuf;

/// The capture files (`.pcap`, `.pcapng`, `.pcap.gz`) directly in `dir`, sorted; none if
/// it cannot be read.
pub fn captures_in(dir: &std::path::Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|rd| rd.flatten().map(|e| e.path()).collect())
        .unwrap_or_default();
    v.retain(|p| {
        let n = p.file_name().unwrap().to_string_lossy().to_string();
        n.ends_with(".pcap") || n.ends_with(".pcapng") || n.ends_with(".pcap.gz")
    });
    v.sort();
    v
}

/// The checkout.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Run the binary: (exit status, stdout, stderr).
pub fn run(args: &[&str]) -> (i32, String, String) {
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_ftptrace"))
        .args(args)
        .output()
        .unwrap();
    (
        o.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

/// Fail under CI=true, else say why the test is skipped.
pub fn skip_or_fail(why: &str) {
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!("{why}");
    }
    eprintln!("skipped: {why}");
}
