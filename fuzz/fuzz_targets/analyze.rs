//! Fuzz the whole pipeline: capture bytes → reader → decode → TCP → FTP → every reporter.
#![no_main]

use ftptrace::analyzer::{Analyzer, Options};
use ftptrace::capture::file::FileSource;
use ftptrace::report;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(mut src) =
        FileSource::from_reader("fuzz", Box::new(std::io::Cursor::new(data.to_vec())))
    else {
        return;
    };
    let opts = Options {
        ports: vec![2121],
        hash: true,
        ..Options::default()
    };
    let mut an = Analyzer::new(opts, None);
    an.run(&mut src, |_| {});
    let r = an.finish();
    let mut sink = std::io::sink();
    report::json::write_json(&r, &mut sink).unwrap();
    report::timeline::write_timeline(
        &r,
        &report::timeline::TimelineOptions {
            color: false,
            session: None,
            compact: true,
            width: Some(80),
            interleave: false,
        },
        &mut sink,
    )
    .unwrap();
    report::table::write_table(
        &r,
        &report::table::TableOptions {
            color: false,
            width: Some(80),
            show_passwords: true,
        },
        &mut sink,
    )
    .unwrap();
    report::mermaid::write_mermaid(&r, None, &mut sink).unwrap();
});
