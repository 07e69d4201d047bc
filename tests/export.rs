//! End-to-end tests of `ftptrace export` and of directory inputs, on the real samples:
//! an exported session analyzes as that session did in the whole capture, its records are
//! the original ones byte for byte in capture order, and tshark reads the file.

mod support;
use ftptrace::capture::{LinkType, PacketSource, PacketWriter, PcapWriter};
use serde_json::Value;
use std::path::Path;
use std::process::Command;
use support::{root, run};

fn sample(name: &str) -> String {
    root()
        .join("samples")
        .join(name)
        .to_str()
        .unwrap()
        .to_string()
}

fn analyze(inputs: &[&str]) -> Value {
    let mut args = vec!["analyze", "--hash", "--format", "json"];
    args.extend_from_slice(inputs);
    let (code, out, err) = run(&args);
    assert_eq!(code, 0, "{inputs:?}: {err}");
    serde_json::from_str(&out).unwrap()
}

/// A session as JSON without what depends on the rest of the capture (its id).
fn comparable(s: &Value) -> Value {
    let mut s = s.clone();
    s.as_object_mut().unwrap().remove("id");
    s
}

fn session(v: &Value, id: u64) -> &Value {
    v["sessions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["id"] == id)
        .unwrap_or_else(|| panic!("no session {id}"))
}

/// Packets of the session's control and data connections, by our own count.
fn packets_of(v: &Value, s: &Value) -> u64 {
    let mut ends = vec![(s["client"].clone(), s["server"].clone())];
    for t in s["transfers"].as_array().unwrap() {
        ends.push((t["data_client"].clone(), t["data_server"].clone()));
    }
    v["tcp_connections"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| {
            ends.iter()
                .any(|(a, b)| c["client"] == *a && c["server"] == *b)
        })
        .map(|c| c["packets"].as_u64().unwrap())
        .sum()
}

type Rec = (i64, u32, Vec<u8>, u32);

fn records(paths: &[&str]) -> Vec<Rec> {
    let files: Vec<String> = paths.iter().map(|s| s.to_string()).collect();
    let (mut m, errs) = ftptrace::capture::open_all(&files);
    assert!(errs.is_empty());
    let mut v = Vec::new();
    while let Some(p) = m.next_packet().unwrap() {
        v.push((p.ts.0, p.linktype.0, p.data.to_vec(), p.orig_len));
    }
    v
}

/// `part` appears in `whole` in the same order (a subsequence).
fn is_subsequence(part: &[Rec], whole: &[Rec]) -> bool {
    let mut it = whole.iter();
    part.iter().all(|p| it.any(|w| w == p))
}

/// tshark reads the file and counts `n` packets; skipped without tshark unless CI=true.
fn tshark_counts(path: &Path, n: usize) {
    if Command::new("tshark").arg("-v").output().is_err() {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "tshark missing (CI=true)"
        );
        eprintln!("skipping the tshark check: tshark not installed");
        return;
    }
    let out = Command::new("tshark")
        .arg("-r")
        .arg(path)
        .args(["-T", "fields", "-e", "frame.number"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout).lines().count(), n);
}

#[test]
fn exported_session_is_that_session_alone() {
    let dir = tempfile::tempdir().unwrap();
    let input = sample("parallel-4.pcap");
    let whole = analyze(&[&input]);
    let out = dir.path().join("s2.pcap");
    let (code, _, err) = run(&[
        "export",
        "--session",
        "2",
        "-o",
        out.to_str().unwrap(),
        &input,
    ]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    let part = analyze(&[out.to_str().unwrap()]);
    let sessions = part["sessions"].as_array().unwrap();
    assert_eq!(sessions.len(), 1);
    let want = session(&whole, 2);
    assert_eq!(comparable(&sessions[0]), comparable(want));
    assert_eq!(want["transfers"].as_array().unwrap().len(), 2);
    // every packet of its three connections, and nothing else
    let n = packets_of(&whole, want);
    assert_eq!(part["stats"]["packets"].as_u64().unwrap(), n);
    assert_eq!(part["tcp_connections"].as_array().unwrap().len(), 3);
    // the original records, byte for byte, in capture order, in pcap (µs, Ethernet)
    let got = records(&[out.to_str().unwrap()]);
    assert_eq!(got.len() as u64, n);
    assert!(is_subsequence(&got, &records(&[&input])));
    let bytes = std::fs::read(&out).unwrap();
    assert_eq!(bytes[..4], [0xd4, 0xc3, 0xb2, 0xa1]);
    assert_eq!(bytes[20..24], 1u32.to_le_bytes());
    tshark_counts(&out, n as usize);
    // and tshark counts as many packets of those connections in the original
    let ports: Vec<String> = std::iter::once(&want["client"])
        .chain(
            want["transfers"]
                .as_array()
                .unwrap()
                .iter()
                .map(|t| &t["data_client"]),
        )
        .map(|e| format!("tcp.port=={}", e["port"]))
        .collect();
    if let Some(c) = tshark_filtered(Path::new(&input), &ports.join(" || ")) {
        assert_eq!(c as u64, n);
    }
}

/// Packets of `path` matching a tshark display filter (None without tshark, unless CI=true).
fn tshark_filtered(path: &Path, filter: &str) -> Option<usize> {
    if Command::new("tshark").arg("-v").output().is_err() {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "tshark missing (CI=true)"
        );
        return None;
    }
    let out = Command::new("tshark")
        .arg("-r")
        .arg(path)
        .args(["-Y", filter, "-T", "fields", "-e", "frame.number"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    Some(String::from_utf8_lossy(&out.stdout).lines().count())
}

#[test]
fn several_sessions_and_nanosecond_precision() {
    let dir = tempfile::tempdir().unwrap();
    let input = sample("parallel-4.pcap");
    let whole = analyze(&[&input]);
    let out = dir.path().join("s13.pcap");
    let (code, _, err) = run(&[
        "export",
        "--session",
        "1,3",
        "-o",
        out.to_str().unwrap(),
        &input,
    ]);
    assert_eq!(code, 0, "{err}");
    let part = analyze(&[out.to_str().unwrap()]);
    let got: Vec<Value> = part["sessions"]
        .as_array()
        .unwrap()
        .iter()
        .map(comparable)
        .collect();
    assert_eq!(
        got,
        vec![
            comparable(session(&whole, 1)),
            comparable(session(&whole, 3))
        ]
    );

    let input = sample("documented-active-nsec.pcap");
    let out = dir.path().join("nsec.pcap");
    let (code, _, err) = run(&[
        "export",
        "--session",
        "1",
        "-o",
        out.to_str().unwrap(),
        &input,
    ]);
    assert_eq!(code, 0, "{err}");
    let bytes = std::fs::read(&out).unwrap();
    assert_eq!(bytes[..4], [0x4d, 0x3c, 0xb2, 0xa1], "nanosecond magic");
    assert_eq!(records(&[out.to_str().unwrap()]), records(&[&input]));
}

#[test]
fn mixed_link_types_give_pcapng_with_one_interface_per_link_type() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (sample("sll2-any.pcap"), sample("vlan.pcap"));
    let whole = analyze(&[&a, &b]);
    let ids: Vec<String> = whole["sessions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].to_string())
        .collect();
    let out = dir.path().join("mixed.out");
    let (code, _, err) = run(&[
        "export",
        "--session",
        &ids.join(","),
        "-o",
        out.to_str().unwrap(),
        &a,
        &b,
    ]);
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("pcapng"), "{err}");
    let bytes = std::fs::read(&out).unwrap();
    assert_eq!(bytes[..4], [0x0a, 0x0d, 0x0d, 0x0a]);
    let got = records(&[out.to_str().unwrap()]);
    let lts: std::collections::BTreeSet<u32> = got.iter().map(|r| r.1).collect();
    assert_eq!(
        lts,
        [LinkType::ETHERNET.0, LinkType::LINUX_SLL2.0]
            .into_iter()
            .collect()
    );
    assert!(is_subsequence(&got, &records(&[&a, &b])));
    let part = analyze(&[out.to_str().unwrap()]);
    let want: Vec<Value> = whole["sessions"]
        .as_array()
        .unwrap()
        .iter()
        .map(comparable)
        .collect();
    let have: Vec<Value> = part["sessions"]
        .as_array()
        .unwrap()
        .iter()
        .map(comparable)
        .collect();
    assert_eq!(have, want);
    tshark_counts(&out, got.len());
}

#[test]
fn refusals_are_one_line_and_write_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let input = sample("parallel-4.pcap");
    let out = dir.path().join("x.pcap");
    let o = out.to_str().unwrap();

    let (code, _, err) = run(&["export", "--session", "999", "-o", o, &input]);
    assert_eq!(code, 2);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("999"), "{err}");
    assert!(!out.exists());

    let before = std::fs::read(&input).unwrap();
    let (code, _, err) = run(&["export", "--session", "1", "-o", &input, &input]);
    assert_eq!(code, 2);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert_eq!(std::fs::read(&input).unwrap(), before);

    let (code, _, err) = run(&["export", "--session", "1", "-o", o, "-"]);
    assert_eq!(code, 2);
    assert!(err.contains("stdin"), "{err}");
    assert!(!out.exists());

    let (code, _, err) = run(&[
        "export",
        "--session",
        "1",
        "-o",
        "/nonexistent/d/x.pcap",
        &input,
    ]);
    assert_eq!(code, 3, "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
}

/// Split a capture into rotated files (as `tcpdump -C` would) with our own writer.
fn rotate(input: &str, dir: &Path, parts: usize) -> usize {
    let recs = records(&[input]);
    let per = recs.len().div_ceil(parts);
    for (i, chunk) in recs.chunks(per).enumerate() {
        let name = if i == 0 {
            "trace.pcap".to_string()
        } else {
            format!("trace.pcap{i}")
        };
        let f = std::fs::File::create(dir.join(name)).unwrap();
        let mut w = PcapWriter::new(f, LinkType(chunk[0].1), false).unwrap();
        for r in chunk {
            w.write_packet(&ftptrace::capture::Packet {
                ts: ftptrace::capture::Timestamp(r.0),
                linktype: LinkType(r.1),
                data: &r.2,
                orig_len: r.3,
            })
            .unwrap();
        }
        w.flush().unwrap();
    }
    recs.len()
}

#[test]
fn a_directory_of_rotated_files_is_one_capture() {
    let dir = tempfile::tempdir().unwrap();
    let input = sample("parallel-4.pcap");
    let n = rotate(&input, dir.path(), 3);
    std::fs::write(dir.path().join("README.txt"), b"rotated by tcpdump -C 1\n").unwrap();
    let d = dir.path().to_str().unwrap();
    let (code, out, err) = run(&["analyze", "--hash", "--format", "json", d]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.contains("skipped 1 file") && err.contains("README.txt"),
        "{err}"
    );
    let from_dir: Value = serde_json::from_str(&out).unwrap();
    let whole = analyze(&[&input]);
    assert_eq!(from_dir["sessions"], whole["sessions"]);
    assert_eq!(from_dir["stats"], whole["stats"]);
    assert_eq!(from_dir["stats"]["packets"].as_u64().unwrap(), n as u64);

    // export reads the directory too: a session whose packets span the three files
    let out = tempfile::tempdir().unwrap();
    let o = out.path().join("s4.pcap");
    let (code, _, err) = run(&["export", "--session", "4", "-o", o.to_str().unwrap(), d]);
    assert_eq!(code, 0, "{err}");
    let exported = records(&[o.to_str().unwrap()]);
    for part in ["trace.pcap", "trace.pcap1", "trace.pcap2"] {
        let recs = records(&[dir.path().join(part).to_str().unwrap()]);
        assert!(exported.iter().any(|r| recs.contains(r)), "{part}");
    }
    let part = analyze(&[o.to_str().unwrap()]);
    assert_eq!(
        comparable(&part["sessions"][0]),
        comparable(session(&whole, 4))
    );

    // a directory with no capture in it is an input that gives nothing: status 2
    let empty = tempfile::tempdir().unwrap();
    let (code, _, err) = run(&["analyze", empty.path().to_str().unwrap()]);
    assert_eq!(code, 2);
    assert!(err.contains("no capture file"), "{err}");
}

/// IPv4 header checksum of `h` (its checksum field zero).
fn ip_checksum(h: &[u8]) -> u16 {
    let mut sum: u32 = h
        .chunks(2)
        .map(|w| u16::from_be_bytes([w[0], *w.get(1).unwrap_or(&0)]) as u32)
        .sum();
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

/// Every Ethernet/IPv4 packet with more than `size` bytes of IP payload cut into
/// fragments of `size` bytes (a multiple of 8); the fragments of datagrams with an odd
/// IP identification are written last one first, so the one that completes the datagram
/// is not the last one.
fn fragment(recs: &[Rec], size: usize) -> Vec<Rec> {
    let mut out = Vec::new();
    for r in recs {
        let d = &r.2;
        let ihl = (d.get(14).copied().unwrap_or(0) & 0x0f) as usize * 4;
        let is_v4 = r.1 == 1 && d.len() > 14 && d[12..14] == [0x08, 0x00] && d[14] >> 4 == 4;
        if !is_v4 || d.len() - 14 - ihl <= size {
            out.push(r.clone());
            continue;
        }
        let (head, payload) = (&d[..14 + ihl], &d[14 + ihl..]);
        let mut frags = Vec::new();
        for (i, piece) in payload.chunks(size).enumerate() {
            let mut p = head.to_vec();
            let total = (ihl + piece.len()) as u16;
            p[16..18].copy_from_slice(&total.to_be_bytes());
            let more = (i + 1) * size < payload.len();
            let field = ((i * size / 8) as u16) | if more { 0x2000 } else { 0 };
            p[20..22].copy_from_slice(&field.to_be_bytes());
            p[24..26].copy_from_slice(&[0, 0]);
            let c = ip_checksum(&p[14..14 + ihl]);
            p[24..26].copy_from_slice(&c.to_be_bytes());
            p.extend_from_slice(piece);
            let len = p.len() as u32;
            frags.push((r.0, r.1, p, len));
        }
        if d[19] & 1 == 1 {
            frags.rotate_right(1);
        }
        out.extend(frags);
    }
    out
}

#[test]
fn fragments_of_the_chosen_connections_are_exported_too() {
    let dir = tempfile::tempdir().unwrap();
    let input = sample("parallel-4.pcap");
    let recs = fragment(&records(&[&input]), 512);
    let frag = dir.path().join("fragmented.pcap");
    {
        let f = std::fs::File::create(&frag).unwrap();
        let mut w = PcapWriter::new(f, LinkType::ETHERNET, false).unwrap();
        for r in &recs {
            w.write_packet(&ftptrace::capture::Packet {
                ts: ftptrace::capture::Timestamp(r.0),
                linktype: LinkType(r.1),
                data: &r.2,
                orig_len: r.3,
            })
            .unwrap();
        }
        w.flush().unwrap();
    }
    let f = frag.to_str().unwrap();
    let whole = analyze(&[f]);
    assert!(whole["stats"]["ip_fragments"].as_u64().unwrap() > 200);
    // the fragmented capture reads as the original
    assert_eq!(whole["sessions"], analyze(&[&input])["sessions"]);

    let out = dir.path().join("s2.pcap");
    let (code, _, err) = run(&["export", "--session", "2", "-o", out.to_str().unwrap(), f]);
    assert_eq!(code, 0, "{err}");
    let part = analyze(&[out.to_str().unwrap()]);
    assert_eq!(
        comparable(&part["sessions"][0]),
        comparable(session(&whole, 2))
    );
    // every fragment of its datagrams, and only those: the same packets as exporting
    // session 2 of the original and fragmenting that
    let got = records(&[out.to_str().unwrap()]);
    let plain = dir.path().join("plain.pcap");
    let (code, _, err) = run(&[
        "export",
        "--session",
        "2",
        "-o",
        plain.to_str().unwrap(),
        &input,
    ]);
    assert_eq!(code, 0, "{err}");
    let want = fragment(&records(&[plain.to_str().unwrap()]), 512);
    assert!(want.len() > 150);
    assert!(got == want, "{} records, want {}", got.len(), want.len());
}
