//! Man pages: `ftptrace(1)` listing the subcommands and one page per subcommand
//! (`ftptrace-analyze(1)`, …) with every option, the exit status and examples.

use std::io::{self, Write};
use std::path::Path;

use clap::Command;

/// Subcommands that get a page of their own.
pub const PAGES: [&str; 4] = ["analyze", "sniff", "export", "completions"];

const EXIT_STATUS: &str = r#".SH "EXIT STATUS"
.TP
\fB0\fR
every input was read to its end
.TP
\fB1\fR
an input was damaged (what could be read is still reported)
.TP
\fB2\fR
usage error, unreadable input, or a \fB\-\-session\fR the capture does not hold (one line on stderr)
.TP
\fB3\fR
an output (\fB\-o\fR, an \fB\-\-extract\fR file) could not be written (after everything else was done)
"#;

/// The EXAMPLES section of a page (roff).
fn examples(page: &str) -> &'static str {
    match page {
        "analyze" => {
            r#".SH EXAMPLES
.nf
ftptrace analyze capture.pcap
ftptrace analyze \-\-format timeline \-\-session 1 capture.pcapng
ftptrace analyze \-\-format json captures/ > sessions.json
ftptrace analyze \-\-format mermaid capture.pcap > sessions.md
ftptrace analyze \-\-format html \-o report.html capture.pcap.gz
tcpdump \-i eth0 \-w \- port 21 or portrange 1024\-65535 | ftptrace analyze \-
.fi
"#
        }
        "sniff" => {
            r#".SH EXAMPLES
.nf
ftptrace sniff \-i eth0
ftptrace sniff \-i eth0 \-\-filter 'host 192.0.2.10' \-\-format timeline
ftptrace sniff \-i eth0 \-\-format jsonl \-o sessions.jsonl
.fi
.PP
Capture starts with "capturing on IFACE (filter ...)" on stderr; Ctrl\-C stops it, then the
report is written and the kernel and libpcap drop counts are said on stderr.
"#
        }
        "export" => {
            r#".SH EXAMPLES
.nf
ftptrace export \-\-session 2 \-o session2.pcap capture.pcap
ftptrace export \-\-session 1,3 \-o out.pcapng captures/
.fi
"#
        }
        "completions" => {
            r#".SH EXAMPLES
.nf
ftptrace completions bash > /etc/bash_completion.d/ftptrace
ftptrace completions zsh > ~/.zfunc/_ftptrace
.fi
"#
        }
        _ => {
            r#".SH EXAMPLES
.nf
ftptrace analyze \-\-format timeline capture.pcap
ftptrace man analyze | man \-l \-
ftptrace man \-\-all /usr/local/share/man/man1
.fi
"#
        }
    }
}

fn see_also(page: Option<&str>) -> String {
    let mut refs: Vec<String> = Vec::new();
    if page.is_some() {
        refs.push("\\fBftptrace\\fR(1)".into());
    }
    for p in PAGES.iter().filter(|p| Some(**p) != page) {
        refs.push(format!("\\fBftptrace\\-{p}\\fR(1)"));
    }
    refs.push("\\fBtcpdump\\fR(8)".into());
    format!(".SH \"SEE ALSO\"\n{}\n", refs.join(", "))
}

/// The page of `page` (a subcommand) or, for `None`, the top page.
pub fn render(top: &Command, page: Option<&str>, w: &mut dyn Write) -> io::Result<()> {
    let cmd = match page {
        Some(p) => {
            let (name, bin) = match p {
                "analyze" => ("ftptrace-analyze", "ftptrace analyze"),
                "sniff" => ("ftptrace-sniff", "ftptrace sniff"),
                "export" => ("ftptrace-export", "ftptrace export"),
                _ => ("ftptrace-completions", "ftptrace completions"),
            };
            top.find_subcommand(p)
                .ok_or_else(|| {
                    io::Error::new(io::ErrorKind::InvalidInput, format!("no subcommand {p}"))
                })?
                .clone()
                .name(name)
                .bin_name(bin)
                .version(env!("CARGO_PKG_VERSION"))
        }
        None => top.clone(),
    };
    let mut buf = Vec::new();
    clap_mangen::Man::new(cmd).render(&mut buf)?;
    w.write_all(&buf)?;
    if page != Some("completions") {
        w.write_all(EXIT_STATUS.as_bytes())?;
    }
    w.write_all(examples(page.unwrap_or("")).as_bytes())?;
    w.write_all(see_also(page).as_bytes())
}

/// Write `ftptrace.1` and `ftptrace-SUB.1` for every subcommand into `dir`.
pub fn write_all(top: &Command, dir: &Path) -> io::Result<Vec<std::path::PathBuf>> {
    std::fs::create_dir_all(dir)?;
    let mut written = Vec::new();
    for page in std::iter::once(None).chain(PAGES.iter().map(|p| Some(*p))) {
        let name = match page {
            Some(p) => format!("ftptrace-{p}.1"),
            None => "ftptrace.1".to_string(),
        };
        let path = dir.join(name);
        let mut f = io::BufWriter::new(std::fs::File::create(&path)?);
        render(top, page, &mut f)?;
        f.flush()?;
        written.push(path);
    }
    Ok(written)
}
