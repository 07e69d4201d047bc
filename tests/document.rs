//! The `--format json` document and the `--format zeek` log, streamed in id order, are
//! what the whole report gives: on every sample and Zeek corpus capture, byte for byte;
//! and the bound on held sessions, when hit, is counted.

mod support;
use ftptrace::analyzer::{Analyzer, Options};
use ftptrace::report::json::{write_json, DocumentWriter};
use std::cell::RefCell;
use std::path::{Path, PathBuf};
use std::rc::Rc;
use support::{captures_in, root, run, skip_or_fail};

fn all_captures() -> Vec<PathBuf> {
    let mut v = captures_in(&root().join("samples"));
    assert!(v.len() >= 10, "samples/ should hold the captures");
    let z = captures_in(&root().join("../shared/corpus/zeek"));
    if z.is_empty() {
        skip_or_fail("../shared/corpus/zeek is not beside the checkout");
    }
    v.extend(z);
    v
}

/// The first line where two documents differ, for the failure message.
fn first_difference(a: &str, b: &str) -> String {
    for (i, (x, y)) in a.lines().zip(b.lines()).enumerate() {
        if x != y {
            return format!("line {}:\n  streamed: {x}\n  whole:    {y}", i + 1);
        }
    }
    format!(
        "lengths {} and {} lines",
        a.lines().count(),
        b.lines().count()
    )
}

/// The binary: `--format json` and `zeek` (streamed) against the same run with a filter
/// that keeps everything (filtered output is built from the whole report, as before).
#[test]
fn the_streamed_document_is_the_whole_reports_on_every_capture() {
    for cap in all_captures() {
        let p = cap.to_str().unwrap();
        for (format, extra) in [
            ("json", &[][..]),
            ("json", &["--hash"][..]),
            ("zeek", &[][..]),
        ] {
            let mut args = vec!["analyze", "--format", format, p];
            args.extend_from_slice(extra);
            let (code, streamed, err) = run(&args);
            assert_eq!(code, 0, "{p}: {err}");
            args.extend_from_slice(&["--since", "1970-01-01T00:00:00Z"]);
            let (code, whole, err) = run(&args);
            assert_eq!(code, 0, "{p}: {err}");
            assert!(
                streamed == whole,
                "{p} {extra:?}: {}",
                first_difference(&streamed, &whole)
            );
            if format == "json" {
                // And the same value (what a reader of the document sees).
                let a: serde_json::Value = serde_json::from_str(&streamed).unwrap();
                let b: serde_json::Value = serde_json::from_str(&whole).unwrap();
                assert_eq!(a, b, "{p}");
            }
        }
    }
}

/// The library: a document analysis with a sink against one without.
fn both(path: &Path, max_held: Option<usize>) -> (String, String) {
    let files = vec![path.to_str().unwrap().to_string()];
    let whole = {
        let (mut src, _) = ftptrace::capture::merge::open_all(&files);
        let mut an = Analyzer::new(Options::default(), None);
        an.run(&mut src, |_| {});
        let r = an.finish();
        let mut out = Vec::new();
        write_json(&r, &mut out).unwrap();
        String::from_utf8(out).unwrap()
    };
    let streamed = {
        let (mut src, _) = ftptrace::capture::merge::open_all(&files);
        let out = Rc::new(RefCell::new(Vec::new()));
        let doc = Rc::new(RefCell::new(DocumentWriter::new()));
        let sink = {
            let (out, doc) = (out.clone(), doc.clone());
            Box::new(move |s: ftptrace::model::Session| {
                doc.borrow_mut()
                    .session(&s, &mut *out.borrow_mut())
                    .unwrap();
            })
        };
        let an = Analyzer::new(Options::default(), Some(sink));
        let mut an = match max_held {
            Some(n) => an.document_bounded(n),
            None => an.document(),
        };
        an.run(&mut src, |_| {});
        let mut r = an.finish();
        doc.borrow_mut()
            .finish(&mut r, &mut *out.borrow_mut())
            .unwrap();
        let text = String::from_utf8(out.borrow().clone()).unwrap();
        text
    };
    (streamed, whole)
}

#[test]
fn the_library_streams_the_same_document() {
    for name in ["parallel-4.pcap", "documented-active.pcap", "scan.pcap"] {
        let (streamed, whole) = both(&root().join("samples").join(name), None);
        assert!(
            streamed == whole,
            "{name}: {}",
            first_difference(&streamed, &whole)
        );
    }
}

#[test]
fn the_bound_on_held_sessions_is_counted_never_silent() {
    // Four overlapping sessions, at most one held: the later ones cannot wait for the first.
    let (streamed, whole) = both(&root().join("samples/parallel-4.pcap"), Some(1));
    let s: serde_json::Value = serde_json::from_str(&streamed).unwrap();
    let w: serde_json::Value = serde_json::from_str(&whole).unwrap();
    let ids = |v: &serde_json::Value| -> Vec<u64> {
        let mut ids: Vec<u64> = v["sessions"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["id"].as_u64().unwrap())
            .collect();
        ids.sort();
        ids
    };
    // Every session is there once.
    assert_eq!(ids(&s), ids(&w));
    let n = s["stats"]["limits"]["max_document_sessions"]
        .as_u64()
        .unwrap_or(0);
    assert!(n > 0, "{}", s["stats"]);
    assert!(s["anomalies"]
        .as_array()
        .unwrap()
        .iter()
        .any(|a| a["kind"] == "limit_reached"
            && a["detail"]
                .as_str()
                .unwrap()
                .starts_with("max_document_sessions")));
}
