//! End-to-end tests of tunnels and link layers: every `samples/tunnel-*` and `samples/link-*`
//! capture (a real sample wrapped by scripts/impair/tunnel.py) gives the sessions and
//! transfers of the capture it was made from; VLAN/tunnel identities keep equal inner
//! addresses apart; packets that may hold TCP but were not decoded are counted by cause
//! and said on stderr and in the table's summary; plain non-TCP traffic is not.

mod support;
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use support::{root, run};

fn json_of(path: &Path, extra: &[&str]) -> (Value, String) {
    let p = path.to_str().unwrap();
    let mut args = vec!["analyze", "--format", "json", "--hash", p];
    args.extend_from_slice(extra);
    let (code, out, err) = run(&args);
    assert_eq!(code, 0, "{p}: exit {code}: {err}");
    let v = serde_json::from_str(&out).unwrap_or_else(|e| panic!("{p}: bad JSON: {e}"));
    (v, err)
}

/// What must survive any encapsulation: the dialogue and every transfer's bytes and hash.
fn sessions_view(v: &Value) -> Vec<Value> {
    v["sessions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            let commands: Vec<Value> = s["commands"]
                .as_array()
                .unwrap()
                .iter()
                .map(|c| {
                    json!([
                        c["command"],
                        c["arg"],
                        c["replies"].as_array().unwrap().len()
                    ])
                })
                .collect();
            let transfers: Vec<Value> = s["transfers"]
                .as_array()
                .unwrap()
                .iter()
                .map(|t| {
                    json!([
                        t["command"],
                        t["arg"],
                        t["direction"],
                        t["setup"],
                        t["status"],
                        t["reply_code"],
                        t["bytes"],
                        t["captured_bytes"],
                        t["sha256"],
                        t["data_client"],
                        t["data_server"]
                    ])
                })
                .collect();
            json!({
                "client": s["client"], "server": s["server"], "user": s["user"],
                "login": s["login"], "close": s["close"], "commands": commands,
                "transfers": transfers,
                "events": s["timeline"].as_array().unwrap().len(),
            })
        })
        .collect()
}

fn derived_samples() -> Vec<(PathBuf, PathBuf)> {
    let dir = root().join("samples");
    let mut v: Vec<(PathBuf, PathBuf)> = std::fs::read_dir(&dir)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            let n = p.file_name().unwrap().to_string_lossy().to_string();
            (n.starts_with("tunnel-") || n.starts_with("link-")) && n.ends_with(".pcap")
        })
        .map(|p| {
            let truth: Value = serde_json::from_str(
                &std::fs::read_to_string(format!("{}.truth.json", p.display())).unwrap(),
            )
            .unwrap();
            let src = dir.join(truth["derived_from"].as_str().unwrap());
            (p, src)
        })
        .collect();
    v.sort();
    v
}

#[test]
fn every_wrapped_sample_gives_the_sessions_of_its_source() {
    let all = derived_samples();
    assert!(all.len() >= 16, "tunnel and link samples: {}", all.len());
    for (cap, src) in all {
        let name = cap.file_name().unwrap().to_string_lossy().to_string();
        if name.contains("twins") {
            continue;
        }
        let (v, err) = json_of(&cap, &[]);
        let (w, _) = json_of(&src, &[]);
        assert!(err.is_empty(), "{name}: stderr {err}");
        assert!(
            v["stats"].get("undecoded").is_none(),
            "{name}: {}",
            v["stats"]
        );
        let (got, want) = (sessions_view(&v), sessions_view(&w));
        assert!(!want.is_empty());
        assert_eq!(got, want, "{name} vs {}", src.display());
        assert_eq!(
            v["stats"]["tcp_connections"], w["stats"]["tcp_connections"],
            "{name}"
        );
    }
}

#[test]
fn outer_fragments_are_reassembled_before_the_tunnel() {
    let (v, _) = json_of(&root().join("samples/tunnel-vxlan-frag.pcap"), &[]);
    let st = &v["stats"];
    assert!(st["ip_fragments"].as_u64().unwrap() > 0, "{st}");
    assert!(st["ip_reassembled"].as_u64().unwrap() > 0, "{st}");
    let t = &v["sessions"][0]["transfers"][0];
    assert_eq!(
        (t["bytes"].as_u64(), t["status"].as_str()),
        (Some(1715), Some("complete"))
    );
}

/// The same inner session (addresses, ports, sequence numbers) in VNI 100 and VNI 200.
#[test]
fn vxlan_vnis_keep_equal_sessions_apart() {
    let cap = root().join("samples/tunnel-vxlan-twins.pcap");
    let (v, _) = json_of(&cap, &[]);
    let (w, _) = json_of(&root().join("samples/documented-active.pcap"), &[]);
    let one = sessions_view(&w);
    assert_eq!(sessions_view(&v), [one.clone(), one].concat());
    assert_eq!(v["stats"]["tcp_connections"].as_u64(), Some(6));
    assert_eq!(v["stats"]["capture_gaps"].as_u64(), Some(0));
    // Each says where it travelled.
    let segs: Vec<&Value> = v["sessions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| &s["segment"])
        .collect();
    assert_eq!(segs, [&json!("vni 100"), &json!("vni 200")]);
    let (_, html, _) = run(&["analyze", "--format", "html", cap.to_str().unwrap()]);
    assert!(html.contains(" · in <b>vni 200</b> · "));
    // Ignoring tunnel identities, the two copies are one control connection seen twice:
    // one session (its segments are duplicates of each other).
    let (v, _) = json_of(&cap, &["--ignore-tunnel-ids"]);
    assert_eq!(v["sessions"].as_array().unwrap().len(), 1, "{}", v["stats"]);
    assert!(v["sessions"][0].get("segment").is_none());
}

#[test]
fn unknown_gre_protocol_is_counted_and_said() {
    let cap = root().join("samples/blind/gre-unknown-protocol.pcap");
    let (v, err) = json_of(&cap, &[]);
    let line = "51 of 51 packets not decoded: GRE protocol 0x88b5 (51)";
    assert_eq!(err, format!("ftptrace: {line}\n"));
    assert_eq!(v["stats"]["undecoded_packets"].as_u64(), Some(51));
    assert_eq!(
        v["stats"]["undecoded"],
        json!([{"cause": "GRE protocol 0x88b5", "packets": 51}])
    );
    assert_eq!(v["sessions"].as_array().unwrap().len(), 0);
    let schema: Value = serde_json::from_str(
        &std::fs::read_to_string(root().join("schema/ftptrace-1.schema.json")).unwrap(),
    )
    .unwrap();
    let validator = jsonschema::validator_for(&schema).unwrap();
    if let Err(e) = validator.validate(&v) {
        panic!("schema: {e}");
    }
    // The table's summary line says it too.
    let (code, out, err2) = run(&["analyze", cap.to_str().unwrap()]);
    assert_eq!(code, 0);
    assert_eq!(err2, err);
    let last = out.lines().last().unwrap();
    assert!(last.ends_with(&format!(", {line}")), "{last}");
}

/// A little-endian pcap (microseconds) of Ethernet frames.
fn pcap(frames: &[(u32, Vec<u8>)]) -> Vec<u8> {
    let mut v = Vec::new();
    for w in [0xa1b2_c3d4u32, 0x0004_0002, 0, 0, 65535, 1] {
        if w == 0x0004_0002 {
            v.extend_from_slice(&2u16.to_le_bytes());
            v.extend_from_slice(&4u16.to_le_bytes());
        } else {
            v.extend_from_slice(&w.to_le_bytes());
        }
    }
    for (t, f) in frames {
        for w in [*t, 0, f.len() as u32, f.len() as u32] {
            v.extend_from_slice(&w.to_le_bytes());
        }
        v.extend_from_slice(f);
    }
    v
}

fn eth_ip4(proto: u8, l4: &[u8]) -> Vec<u8> {
    let mut f = vec![2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1, 0x08, 0x00, 0x45, 0];
    f.extend_from_slice(&((20 + l4.len()) as u16).to_be_bytes());
    f.extend_from_slice(&[0, 1, 0, 0, 64, proto, 0, 0, 10, 98, 2, 1, 10, 98, 2, 2]);
    f.extend_from_slice(l4);
    f
}

/// ARP, ICMP and UDP DNS are not blind spots: no warning, no cause. ESP is one.
#[test]
fn plain_non_tcp_is_not_blind() {
    let dir = tempfile::tempdir().unwrap();
    let arp = {
        let mut f = vec![0xff; 6];
        f.extend_from_slice(&[2, 0, 0, 0, 0, 1, 0x08, 0x06, 0, 1, 8, 0, 6, 4, 0, 1]);
        f.extend_from_slice(&[0; 20]);
        f
    };
    let icmp = eth_ip4(1, &[8, 0, 0xf7, 0xff, 0, 0, 0, 0]);
    let dns = eth_ip4(17, &[0xc0, 0, 0, 53, 0, 12, 0, 0, 0x12, 0x34, 1, 0]);
    let plain = dir.path().join("plain.pcap");
    std::fs::write(&plain, pcap(&[(1, arp), (2, icmp), (3, dns.clone())])).unwrap();
    let (v, err) = json_of(&plain, &[]);
    assert!(err.is_empty(), "{err}");
    assert_eq!(v["stats"]["non_tcp_packets"].as_u64(), Some(3));
    assert!(v["stats"].get("undecoded").is_none());
    let (_, out, _) = run(&["analyze", plain.to_str().unwrap()]);
    assert!(!out.contains("not decoded"), "{out}");

    let esp = eth_ip4(50, &[0, 0, 1, 0, 0, 0, 0, 1, 0xaa, 0xbb]);
    let blind = dir.path().join("esp.pcap");
    std::fs::write(&blind, pcap(&[(1, dns), (2, esp.clone()), (3, esp)])).unwrap();
    let (v, err) = json_of(&blind, &[]);
    assert_eq!(
        err,
        "ftptrace: 2 of 3 packets not decoded: IP protocol 50 (2)\n"
    );
    assert_eq!(v["stats"]["undecoded_packets"].as_u64(), Some(2));
}
