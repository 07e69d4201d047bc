//! Capture reordering end to end: a real capture whose data segments were moved behind
//! the ACKs that cover them (`scripts/impair/reorder.py`, see the sample's truth file)
//! gives the original's sessions and files; real capture loss keeps its gaps.

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;

fn sample(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("samples")
        .join(name)
}

fn json_of(path: &Path, extra: &[&str]) -> Value {
    let p = path.to_str().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_ftptrace"))
        .args(["analyze", "--format", "json", p])
        .args(extra)
        .output()
        .expect("run ftptrace");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{p}: {err}");
    // Nothing on stderr but --extract's closing line.
    assert!(
        err.lines().all(|l| l.starts_with("ftptrace: extracted ")),
        "{p}: stderr: {err}"
    );
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{p}: bad JSON: {e}"))
}

fn truth(name: &str) -> Value {
    let text = std::fs::read_to_string(sample(&format!("{name}.truth.json"))).unwrap();
    serde_json::from_str(&text).unwrap()
}

fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Sessions without what reordering may move: the timeline's event times (an event
/// held for a late segment is reported when the segment arrives) and extract paths.
fn comparable(v: &Value) -> Value {
    let mut s = v["sessions"].clone();
    for s in s.as_array_mut().unwrap() {
        for e in s["timeline"].as_array_mut().unwrap() {
            e.as_object_mut().unwrap().remove("ts");
        }
        for t in s["transfers"].as_array_mut().unwrap() {
            t.as_object_mut().unwrap().remove("extracted");
        }
    }
    s
}

#[test]
fn reordered_capture_gives_the_original_sessions_and_files() {
    let name = "reordered-curl-pasv.pcap";
    let t = truth(name);
    let original = json_of(&sample(t["derived_from"].as_str().unwrap()), &["--hash"]);
    let dir = tempfile::tempdir().unwrap();
    let v = json_of(
        &sample(name),
        &["--hash", "--extract", dir.path().to_str().unwrap()],
    );
    assert!(v["stats"]["reordered_segments"].as_u64().unwrap() > 0);
    assert_eq!(v["stats"]["capture_gaps"], 0);
    assert_eq!(v["stats"]["reorder_window_expiries"], 0);
    assert_eq!(comparable(&v), comparable(&original));

    let mut carved = 0;
    let ours = v["sessions"][0]["transfers"].as_array().unwrap();
    let want = t["sessions"][0]["transfers"].as_array().unwrap();
    assert_eq!(ours.len(), want.len());
    for (o, w) in ours.iter().zip(want) {
        assert_eq!(o["missing_bytes"], 0, "{}", o["arg"]);
        if w["direction"] != "download" {
            continue;
        }
        let path = o["extracted"].as_str().expect("extracted");
        let bytes = std::fs::read(dir.path().join(path)).unwrap();
        assert_eq!(bytes.len() as u64, w["bytes"].as_u64().unwrap(), "{path}");
        assert_eq!(sha256_hex(&bytes), w["sha256"].as_str().unwrap(), "{path}");
        carved += 1;
    }
    assert_eq!(carved, 1);
}

/// Without the window (`--reorder-window 0`: an ACK makes the holes before it gaps at
/// once, as before) the same capture loses bytes: the sample does exercise the window.
#[test]
fn without_the_window_the_reordered_capture_loses_bytes() {
    let v = json_of(
        &sample("reordered-curl-pasv.pcap"),
        &["--hash", "--reorder-window", "0"],
    );
    assert!(v["stats"]["capture_gaps"].as_u64().unwrap() > 0);
    let missing: u64 = v["sessions"][0]["transfers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["missing_bytes"].as_u64().unwrap())
        .sum();
    assert!(missing > 0);
}

/// Real capture loss (tcpdump dropped packets) is still reported with the gaps, offsets
/// and lengths an ACK alone gave before the window existed.
#[test]
fn loss_sample_keeps_its_gaps() {
    for window in ["256", "0"] {
        let v = json_of(&sample("loss.pcap"), &["--reorder-window", window]);
        let gaps: Vec<String> = v["sessions"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|s| s["anomalies"].as_array().unwrap())
            .filter(|a| a["kind"] == "capture_gap")
            .map(|a| a["detail"].as_str().unwrap().to_string())
            .collect();
        assert_eq!(
            gaps,
            [
                "24 bytes missing from the server at offset 323",
                "data:1: 37648 bytes missing at offset 23168",
                "data:1: 92512 bytes missing at offset 225568",
            ],
            "--reorder-window {window}"
        );
        assert_eq!(v["stats"]["capture_gaps"], 3);
    }
}
