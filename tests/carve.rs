//! `--extract` and `-o` as an incident responder relies on them: carved files equal the
//! files the servers served, partial files are marked, the manifest accounts for every
//! transfer, and no write ever goes outside DIR, through a link, over a file or over an
//! input; write failures end with status 3 and one stderr line naming the file.

mod support;

use serde_json::Value;
use sha2::Digest;
use std::path::{Path, PathBuf};
use support::cap::Cap;
use support::{root, run};

fn sha(b: &[u8]) -> String {
    sha2::Sha256::digest(b)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn extract(cap: &Path, dir: &Path, extra: &[&str]) -> (i32, Value, String) {
    let mut args = vec![
        "analyze",
        "--format",
        "json",
        cap.to_str().unwrap(),
        "--extract",
        dir.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    let (code, out, err) = run(&args);
    let v = serde_json::from_str(&out).unwrap_or(Value::Null);
    (code, v, err)
}

fn manifest(dir: &Path) -> Vec<Value> {
    std::fs::read_to_string(dir.join("manifest.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn names_in(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

/// Every real sample carved: each moved file hashes to what the client or server really
/// had (the truth), the manifest has one line per transfer naming the same file.
#[test]
fn carved_files_are_the_served_files() {
    let mut checked = 0;
    for entry in std::fs::read_dir(root().join("samples")).unwrap().flatten() {
        let cap = entry.path();
        let truth_path = PathBuf::from(format!("{}.truth.json", cap.display()));
        let Ok(text) = std::fs::read_to_string(&truth_path) else {
            continue;
        };
        let truth: Value = serde_json::from_str(&text).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let (code, v, err) = extract(&cap, dir.path(), &[]);
        assert!(code <= 1, "{}: exit {code}: {err}", cap.display());
        assert!(
            err.lines().last().unwrap_or("").contains("manifest"),
            "{}: no closing line: {err}",
            cap.display()
        );
        let schema: Value = serde_json::from_str(
            &std::fs::read_to_string(root().join("schema/ftptrace-1.schema.json")).unwrap(),
        )
        .unwrap();
        let validator = jsonschema::validator_for(&schema).unwrap();
        if let Some(e) = validator.iter_errors(&v).next() {
            panic!("{}: schema: {e} at {}", cap.display(), e.instance_path);
        }
        assert_eq!(
            v["extract"]["files"].as_u64(),
            Some(names_in(dir.path()).len() as u64 - 1),
            "{}",
            cap.display()
        );
        let lines = manifest(dir.path());
        let transfers: Vec<&Value> = v["sessions"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|s| s["transfers"].as_array().unwrap())
            .collect();
        let joins = transfers.iter().filter(|t| t["joined"].is_string()).count();
        assert_eq!(lines.len(), transfers.len() + joins, "{}", cap.display());
        // Manifest lines come as sessions end: find each transfer's own line.
        for s in v["sessions"].as_array().unwrap() {
            for (i, t) in s["transfers"].as_array().unwrap().iter().enumerate() {
                let m = lines
                    .iter()
                    .find(|m| {
                        m["session"] == s["id"] && m["transfer"] == i + 1 && m["joined"].is_null()
                    })
                    .unwrap_or_else(|| panic!("{}: no manifest line", cap.display()));
                assert_eq!(m["command"], t["command"]);
                assert_eq!(m["bytes"], t["bytes"]);
            }
        }
        let by_file = |f: &Value| lines.iter().find(|m| m["file"] == *f).unwrap();
        for t in transfers.iter().filter(|t| t["extracted"].is_string()) {
            let m = by_file(&t["extracted"]);
            assert_eq!(t["extracted"], m["file"], "{}", cap.display());
            assert_eq!(t["sha256"], m["sha256"], "{}", cap.display());
            if let Some(f) = t["extracted"].as_str() {
                assert!(!f.contains('/'), "{f}");
                let bytes = std::fs::read(dir.path().join(f)).unwrap();
                let partial = f.ends_with(".partial");
                assert_eq!(partial, m["partial"] == true);
                if !partial {
                    assert_eq!(Some(bytes.len() as u64), t["bytes"].as_u64(), "{f}");
                    assert_eq!(t["sha256"].as_str(), Some(sha(&bytes).as_str()), "{f}");
                }
            }
        }
        // Against the truth: every downloaded or uploaded file the truth hashed.
        let truth_transfers = truth["sessions"]
            .as_array()
            .into_iter()
            .flatten()
            .flat_map(|s| s["transfers"].as_array().into_iter().flatten());
        for tt in truth_transfers {
            let (Some(want), Some("download" | "upload")) =
                (tt["sha256"].as_str(), tt["direction"].as_str())
            else {
                continue;
            };
            let Some(t) = transfers
                .iter()
                .find(|t| t["command"] == tt["command"] && t["sha256"].as_str() == Some(want))
            else {
                continue; // lost by the capture (loss.pcap): partial, checked above
            };
            let f = t["extracted"].as_str().unwrap();
            let bytes = std::fs::read(dir.path().join(f)).unwrap();
            // A REST n download is written at offset n.
            let rest = match t["direction"].as_str() {
                Some("download") => t["rest"].as_u64().unwrap_or(0) as usize,
                _ => 0,
            };
            assert_eq!(sha(&bytes[rest..]), want, "{f}");
            checked += 1;
        }
        // Nothing is left but the files named and the manifest.
        let mut want: Vec<String> = transfers
            .iter()
            .flat_map(|t| [&t["extracted"], &t["joined"]])
            .filter_map(|f| f.as_str().map(String::from))
            .collect();
        want.push("manifest.jsonl".into());
        want.sort();
        assert_eq!(names_in(dir.path()), want, "{}", cap.display());
    }
    assert!(
        checked >= 10,
        "only {checked} files checked against the truth"
    );
}

/// A capture with lost data: the file is marked partial, its holes listed, no hash.
#[test]
fn loss_gives_partial_files_with_their_holes() {
    let dir = tempfile::tempdir().unwrap();
    let (code, _, err) = extract(&root().join("samples/loss.pcap"), dir.path(), &[]);
    assert_eq!(code, 0, "{err}");
    let lines = manifest(dir.path());
    let partial: Vec<&Value> = lines.iter().filter(|m| m["partial"] == true).collect();
    assert!(!partial.is_empty());
    for m in &partial {
        let f = m["file"].as_str().unwrap();
        assert!(f.ends_with(".partial"), "{f}");
        if m["missing"].as_u64() > Some(0) {
            assert!(m["sha256"].is_null());
        }
        if m["missing"].as_u64() > Some(0) && m["holes_total"].as_u64() > Some(0) {
            let holes = m["holes"].as_array().unwrap();
            assert!(!holes.is_empty());
            // The file never reaches past the last captured byte.
            let len = std::fs::metadata(dir.path().join(f)).unwrap().len();
            assert!(len <= m["bytes"].as_u64().unwrap());
        }
    }
}

/// `--extract-max-bytes` cuts a file: marked partial, what was left out is counted.
#[test]
fn max_bytes_bounds_a_file() {
    let dir = tempfile::tempdir().unwrap();
    let cap = root().join("samples/documented-active.pcap");
    let (code, v, err) = extract(&cap, dir.path(), &["--extract-max-bytes", "1000"]);
    assert_eq!(code, 0, "{err}");
    let t = &v["sessions"][0]["transfers"][1];
    assert_eq!(t["extracted"], "s1-d2-readme.txt.partial");
    let got = std::fs::read(dir.path().join("s1-d2-readme.txt.partial")).unwrap();
    assert_eq!(got.len(), 1000);
    assert_eq!(manifest(dir.path())[1]["cut_by_limit"], 715);
    // The listing (130 bytes) is whole.
    assert_eq!(v["sessions"][0]["transfers"][0]["extracted"], "s1-d1-list");
}

/// A hostile capture: RETR of `../../etc/passwd`, `/tmp/x` and a 400-byte name, with a
/// symbolic link and a file planted in DIR under the names ftptrace writes.
#[test]
fn hostile_names_and_planted_links_never_escape() {
    let mut cap = Cap::new();
    let cli = ([10, 0, 0, 2], 40000);
    let srv = ([10, 0, 0, 1], 21);
    let mut c = cap.open(cli, srv, true);
    cap.send(&mut c, 1, b"220 hi\r\n");
    cap.send(&mut c, 0, b"USER u\r\n");
    cap.send(&mut c, 1, b"331 pass\r\n");
    cap.send(&mut c, 0, b"PASS p\r\n");
    cap.send(&mut c, 1, b"230 ok\r\n");
    let long = format!("RETR {}\r\n", "y".repeat(400));
    let names: [&[u8]; 3] = [
        b"RETR ../../etc/passwd\r\n",
        b"RETR /tmp/x\r\n",
        long.as_bytes(),
    ];
    for (i, cmd) in names.iter().enumerate() {
        let port = 50001 + i as u16;
        cap.send(&mut c, 0, b"PASV\r\n");
        let reply = format!(
            "227 Entering Passive Mode (10,0,0,1,{},{})\r\n",
            port >> 8,
            port & 255
        );
        cap.send(&mut c, 1, reply.as_bytes());
        cap.send(&mut c, 0, cmd);
        let mut d = cap.open(
            ([10, 0, 0, 2], 41000 + i as u16),
            ([10, 0, 0, 1], port),
            true,
        );
        cap.send(&mut c, 1, b"150 here\r\n");
        cap.send(&mut d, 1, format!("payload {i}\n").as_bytes());
        cap.close(&mut d);
        cap.send(&mut c, 1, b"226 done\r\n");
    }
    cap.send(&mut c, 0, b"QUIT\r\n");
    cap.send(&mut c, 1, b"221 bye\r\n");
    cap.close(&mut c);
    let work = tempfile::tempdir().unwrap();
    let pcap = work.path().join("hostile.pcap");
    std::fs::write(&pcap, &cap.bytes).unwrap();
    let dir = work.path().join("out");
    std::fs::create_dir(&dir).unwrap();
    let victim = work.path().join("victim");
    std::fs::write(&victim, b"keep").unwrap();
    std::os::unix::fs::symlink(&victim, dir.join("s1-d1-passwd")).unwrap();
    std::fs::write(dir.join("s1-d2-x"), b"planted").unwrap();

    let (code, v, err) = extract(&pcap, &dir, &[]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(std::fs::read(&victim).unwrap(), b"keep");
    assert_eq!(std::fs::read(dir.join("s1-d2-x")).unwrap(), b"planted");
    let got: Vec<&str> = v["sessions"][0]["transfers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["extracted"].as_str().unwrap())
        .collect();
    assert_eq!(got[0], "s1-d1-passwd-1");
    assert_eq!(got[1], "s1-d2-x-1");
    assert!(
        got[2].starts_with("s1-d3-yyy") && got[2].len() <= 200,
        "{}",
        got[2]
    );
    for (i, f) in got.iter().enumerate() {
        assert_eq!(
            std::fs::read(dir.join(f)).unwrap(),
            format!("payload {i}\n").as_bytes()
        );
    }
    // Nothing was written anywhere but DIR.
    let mut outside = names_in(work.path());
    outside.sort();
    assert_eq!(outside, ["hostile.pcap", "out", "victim"]);
    assert!(!Path::new("/tmp/x").exists() || std::fs::read("/tmp/x").unwrap() != b"payload 1\n");
}

/// `-o` never replaces an input (also through a link), and a run that read nothing
/// leaves an existing output as it was; a link given as `-o` is replaced, not followed.
#[test]
fn output_never_destroys_an_input() {
    let work = tempfile::tempdir().unwrap();
    let input = work.path().join("in.pcap");
    std::fs::copy(root().join("samples/documented-active.pcap"), &input).unwrap();
    let before = std::fs::read(&input).unwrap();
    let i = input.to_str().unwrap();
    let (code, _, err) = run(&["analyze", i, "-o", i]);
    assert_eq!(code, 2);
    assert!(
        err.contains("refusing") && err.lines().count() == 1,
        "{err}"
    );
    let link = work.path().join("link");
    std::os::unix::fs::symlink(&input, &link).unwrap();
    let (code, _, _) = run(&["analyze", i, "-o", link.to_str().unwrap()]);
    assert_eq!(code, 2);
    assert_eq!(std::fs::read(&input).unwrap(), before);

    let out = work.path().join("out.txt");
    std::fs::write(&out, b"earlier report").unwrap();
    let missing = work.path().join("missing.pcap");
    let (code, _, _) = run(&[
        "analyze",
        missing.to_str().unwrap(),
        "-o",
        out.to_str().unwrap(),
    ]);
    assert_eq!(code, 2);
    assert_eq!(std::fs::read(&out).unwrap(), b"earlier report");

    // A link as -o: the link is replaced by the report, its target untouched.
    let target = work.path().join("target.txt");
    std::fs::write(&target, b"target").unwrap();
    let ol = work.path().join("report-link");
    std::os::unix::fs::symlink(&target, &ol).unwrap();
    let (code, _, err) = run(&["analyze", i, "-o", ol.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(std::fs::read(&target).unwrap(), b"target");
    assert!(std::fs::read_to_string(&ol)
        .unwrap()
        .contains("FTP session"));
    // No temporary file is left behind.
    assert!(names_in(work.path()).iter().all(|n| !n.ends_with(".tmp")));
}

/// Write failures: one stderr line naming the file, status 3 after everything else.
#[test]
fn write_failures_give_status_3() {
    let work = tempfile::tempdir().unwrap();
    let cap = root().join("samples/documented-active.pcap");
    let c = cap.to_str().unwrap();
    // --extract under a regular file.
    let plain = work.path().join("plain");
    std::fs::write(&plain, b"x").unwrap();
    let bad = plain.join("dir");
    let (code, out, err) = run(&[
        "analyze",
        "--format",
        "json",
        c,
        "--extract",
        bad.to_str().unwrap(),
    ]);
    assert_eq!(code, 3, "{err}");
    assert!(
        err.lines().any(|l| l.contains(bad.to_str().unwrap())),
        "{err}"
    );
    let v: Value = serde_json::from_str(&out).unwrap();
    assert!(v["sessions"][0]["transfers"][1]["extracted"].is_null());
    // -o in a missing directory: the report is not written, the extraction still is.
    let dir = work.path().join("x");
    let o = work.path().join("no/such/report.json");
    let (code, _, err) = run(&[
        "analyze",
        c,
        "-o",
        o.to_str().unwrap(),
        "--extract",
        dir.to_str().unwrap(),
    ]);
    assert_eq!(code, 3, "{err}");
    assert!(err.lines().next().unwrap().contains("report.json"), "{err}");
    assert!(dir.join("s1-d2-readme.txt").exists());
    // A full disk.
    if Path::new("/dev/full").exists() {
        let (code, _, err) = run(&["analyze", c, "-o", "/dev/full"]);
        assert_eq!(code, 3, "{err}");
        assert!(err.contains("/dev/full"), "{err}");
    }
}

/// A login, then `steps` (client line, server replies) on the control connection; a data
/// connection (passive, port `port`) carrying `payload` follows each `RETR`/`STOR`/`APPE`/
/// `LIST` line, between its 150 and 226.
fn session(cap: &mut Cap, client_port: u16, steps: &[(&str, &[u8])]) {
    let cli = ([10, 0, 0, 2], client_port);
    let srv = ([10, 0, 0, 1], 21);
    let mut c = cap.open(cli, srv, true);
    cap.send(&mut c, 1, b"220 hi\r\n");
    for (i, (line, payload)) in steps.iter().enumerate() {
        let port = 50000 + client_port % 100 * 10 + i as u16;
        let verb = line.split(' ').next().unwrap();
        if ["RETR", "STOR", "APPE", "LIST"].contains(&verb) {
            cap.send(&mut c, 0, b"PASV\r\n");
            let r = format!(
                "227 Entering Passive Mode (10,0,0,1,{},{})\r\n",
                port >> 8,
                port & 255
            );
            cap.send(&mut c, 1, r.as_bytes());
            cap.send(&mut c, 0, format!("{line}\r\n").as_bytes());
            let mut d = cap.open(([10, 0, 0, 2], port + 1000), ([10, 0, 0, 1], port), true);
            cap.send(&mut c, 1, b"150 here\r\n");
            let dir = if verb == "STOR" || verb == "APPE" {
                0
            } else {
                1
            };
            cap.send(&mut d, dir, payload);
            cap.close(&mut d);
            cap.send(&mut c, 1, b"226 done\r\n");
        } else {
            cap.send(&mut c, 0, format!("{line}\r\n").as_bytes());
            cap.send(&mut c, 1, payload);
        }
    }
    cap.close(&mut c);
}

fn write_cap(cap: &Cap, dir: &Path) -> PathBuf {
    let p = dir.join("t.pcap");
    std::fs::write(&p, &cap.bytes).unwrap();
    p
}

const LOGIN: [(&str, &[u8]); 3] = [
    ("USER u", b"331 pass\r\n"),
    ("PASS p", b"230 ok\r\n"),
    ("PWD", b"257 \"/\" is the current directory\r\n"),
];

/// The real resumed download (curl --max-time, then curl -C -): the REST piece is written
/// at its offset, and the two pieces are joined into the file the server served.
#[test]
fn resumed_download_is_joined_into_the_served_file() {
    let cap = root().join("samples/resume-curl.pcap");
    let truth: Value = serde_json::from_str(
        &std::fs::read_to_string(format!("{}.truth.json", cap.display())).unwrap(),
    )
    .unwrap();
    let served = &truth["verification"]["served_file"];
    let dir = tempfile::tempdir().unwrap();
    let (code, v, err) = extract(&cap, dir.path(), &[]);
    assert_eq!(code, 0, "{err}");
    let resumed = &v["sessions"][1]["transfers"][0];
    let rest = resumed["rest"].as_u64().unwrap();
    assert!(rest > 0);
    // The piece: sparse up to REST, then its payload.
    let piece = std::fs::read(dir.path().join(resumed["extracted"].as_str().unwrap())).unwrap();
    assert!(resumed["extracted"].as_str().unwrap().ends_with(".partial"));
    assert_eq!(
        piece.len() as u64,
        rest + resumed["bytes"].as_u64().unwrap()
    );
    assert_eq!(
        Some(sha(&piece[rest as usize..]).as_str()),
        resumed["sha256"].as_str()
    );
    let joined = resumed["joined"].as_str().unwrap();
    assert_eq!(joined, "s2-d1-joined-data-100k.bin");
    let whole = std::fs::read(dir.path().join(joined)).unwrap();
    assert_eq!(whole.len() as u64, served["bytes"].as_u64().unwrap());
    assert_eq!(Some(sha(&whole).as_str()), served["sha256"].as_str());
    let line = manifest(dir.path())
        .into_iter()
        .find(|m| m["file"] == joined)
        .unwrap();
    assert_eq!(line["joined"], serde_json::json!([[1, 1], [2, 1]]));
    assert_eq!(line["sha256"], served["sha256"]);
    assert_eq!(line["conflicting_bytes"], 0);
    assert!(line["overlap_bytes"].as_u64() > Some(0));
}

/// Pieces that disagree where they overlap: joined with the later bytes, the
/// difference counted and a `resume_conflict` finding.
#[test]
fn a_resume_that_disagrees_is_a_conflict() {
    let mut cap = Cap::new();
    let mut a = LOGIN.to_vec();
    a.push(("RETR f.bin", b"0123456789"));
    session(&mut cap, 40001, &a);
    let mut b = LOGIN.to_vec();
    b.push(("REST 6", b"350 Restart position accepted (6).\r\n"));
    b.push(("RETR f.bin", b"6XY9abc"));
    session(&mut cap, 40002, &b);
    let work = tempfile::tempdir().unwrap();
    let pcap = write_cap(&cap, work.path());
    let dir = work.path().join("out");
    let (code, v, err) = extract(&pcap, &dir, &[]);
    assert_eq!(code, 0, "{err}");
    let t = &v["sessions"][1]["transfers"][0];
    assert_eq!(t["rest"], 6);
    let joined = std::fs::read(dir.join(t["joined"].as_str().unwrap())).unwrap();
    assert_eq!(joined, b"0123456XY9abc");
    let line = manifest(&dir)
        .into_iter()
        .find(|m| m["joined"].is_array())
        .unwrap();
    assert_eq!(
        (
            line["overlap_bytes"].as_u64(),
            line["conflicting_bytes"].as_u64()
        ),
        (Some(4), Some(2))
    );
    assert!(v["sessions"][1]["anomalies"]
        .as_array()
        .unwrap()
        .iter()
        .any(|a| a["kind"] == "resume_conflict"));
}

/// APPE continues the stored file.
#[test]
fn appe_appends_to_the_stored_piece() {
    let mut cap = Cap::new();
    let mut a = LOGIN.to_vec();
    a.push(("STOR log.txt", b"hello "));
    a.push(("APPE log.txt", b"world\n"));
    session(&mut cap, 40003, &a);
    let work = tempfile::tempdir().unwrap();
    let pcap = write_cap(&cap, work.path());
    let dir = work.path().join("out");
    let (code, v, err) = extract(&pcap, &dir, &[]);
    assert_eq!(code, 0, "{err}");
    let t = &v["sessions"][0]["transfers"][1];
    assert_eq!(t["command"], "APPE");
    let joined = std::fs::read(dir.join(t["joined"].as_str().unwrap())).unwrap();
    assert_eq!(joined, b"hello world\n");
}

/// Listings are read into entries (Unix from a real vsftpd; DOS/IIS and MLSD here), and a
/// later RETR of a listed file expects the listed size.
#[test]
fn listings_are_read_and_give_expected_sizes() {
    let (code, out, err) = run(&[
        "analyze",
        "--format",
        "json",
        root()
            .join("samples/curl-pasv-vsftpd.pcap")
            .to_str()
            .unwrap(),
    ]);
    assert_eq!(code, 0, "{err}");
    let v: Value = serde_json::from_str(&out).unwrap();
    let l = &v["sessions"][0]["transfers"][0]["listing"];
    let e = l["entries"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["name"] == "data-100k.bin")
        .unwrap();
    assert_eq!(
        (e["type"].as_str(), e["size"].as_u64()),
        (Some("file"), Some(102400))
    );

    let mut cap = Cap::new();
    let mut a = LOGIN.to_vec();
    a.push((
        "LIST",
        b"01-02-24  03:04AM       <DIR>          docs\r\n01-02-24  03:04AM                 1715 read me.txt\r\n",
    ));
    a.push(("RETR read me.txt", b"short"));
    session(&mut cap, 40004, &a);
    let work = tempfile::tempdir().unwrap();
    let pcap = write_cap(&cap, work.path());
    let (code, out, err) = run(&["analyze", "--format", "json", pcap.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    let v: Value = serde_json::from_str(&out).unwrap();
    let ts = &v["sessions"][0]["transfers"];
    assert_eq!(ts[0]["listing"]["entries"][1]["name"], "read me.txt");
    assert_eq!(ts[0]["listing"]["entries"][0]["type"], "dir");
    assert_eq!(ts[1]["expected_bytes"], 1715);
}
