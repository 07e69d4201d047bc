//! The `ftptrace` command line: a thin layer over the library pipeline.

use anyhow::{Context, Result};
use clap::{Args, CommandFactory, Parser, Subcommand, ValueEnum};
use ftptrace::analyzer::{Analyzer, Options, SessionSink};
use ftptrace::capture::{self, PacketSource};
use ftptrace::model::Report;
use ftptrace::report;
use std::cell::RefCell;
use std::io::{self, IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::rc::Rc;

#[derive(Parser)]
#[command(name = "ftptrace", version, about = "Turn packet captures into FTP sessions", long_about = None)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Analyze capture files (pcap, pcapng, either gzip-compressed, or - for stdin).
    Analyze {
        /// Capture files, analyzed together as one capture in time order.
        #[arg(required = true, value_name = "CAPTURE")]
        captures: Vec<String>,
        #[command(flatten)]
        common: Common,
    },
    /// Capture live from a network interface (needs the `live` feature and libpcap).
    Sniff {
        /// Interface to capture on.
        #[arg(short, long, value_name = "IFACE")]
        interface: String,
        /// Extra BPF filter (default: tcp).
        #[arg(long, value_name = "BPF")]
        filter: Option<String>,
        #[command(flatten)]
        common: Common,
    },
    /// Print shell completions.
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print the man page (roff).
    Man,
}

#[derive(Copy, Clone, PartialEq, Eq, ValueEnum)]
enum Format {
    Table,
    Timeline,
    Json,
    Jsonl,
    Mermaid,
    Html,
}

#[derive(Args)]
struct Common {
    /// Output format.
    #[arg(long, value_enum, default_value = "table")]
    format: Format,
    /// Write there instead of stdout.
    #[arg(short, long, value_name = "FILE")]
    output: Option<PathBuf>,
    /// Extra TCP ports to treat as FTP control (comma-separated); FTP on any port is also found from the dialogue.
    #[arg(long, value_name = "LIST", value_delimiter = ',')]
    ports: Vec<u16>,
    /// Print PASS arguments instead of "<hidden>".
    #[arg(long)]
    show_passwords: bool,
    /// Compute SHA-256 of every transferred payload.
    #[arg(long)]
    hash: bool,
    /// Write every transferred file into DIR (implies --hash).
    #[arg(long, value_name = "DIR")]
    extract: Option<PathBuf>,
    /// Only this session (timeline, mermaid).
    #[arg(long, value_name = "N")]
    session: Option<u64>,
    /// Never show a progress bar.
    #[arg(long)]
    no_progress: bool,
    /// Do not tell flows apart by VLAN ID or tunnel identity (VXLAN/GENEVE VNI, GRE key,
    /// ERSPAN session): for span setups that tag each direction of a connection differently.
    #[arg(long)]
    ignore_tunnel_ids: bool,
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let code = if e.use_stderr() { 2 } else { 0 };
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    match run(cli) {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            if is_broken_pipe(&e) {
                return ExitCode::SUCCESS;
            }
            eprintln!("ftptrace: {e:#}");
            ExitCode::from(2)
        }
    }
}

fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<io::Error>()
            .is_some_and(|e| e.kind() == io::ErrorKind::BrokenPipe)
    })
}

fn run(cli: Cli) -> Result<u8> {
    match cli.cmd {
        Cmd::Analyze { captures, common } => analyze(&captures, &common),
        Cmd::Sniff {
            interface,
            filter,
            common,
        } => sniff(&interface, filter.as_deref(), &common),
        Cmd::Completions { shell } => {
            clap_complete::generate(shell, &mut Cli::command(), "ftptrace", &mut io::stdout());
            Ok(0)
        }
        Cmd::Man => {
            clap_mangen::Man::new(Cli::command()).render(&mut io::stdout())?;
            Ok(0)
        }
    }
}

fn options(c: &Common) -> Options {
    Options {
        ports: c.ports.clone(),
        show_passwords: c.show_passwords,
        hash: c.hash || c.extract.is_some(),
        extract: c.extract.clone(),
        ignore_tunnel_ids: c.ignore_tunnel_ids,
    }
}

type Out = Rc<RefCell<Box<dyn Write>>>;

fn open_output(c: &Common) -> Result<Out> {
    let w: Box<dyn Write> = match &c.output {
        Some(p) => Box::new(io::BufWriter::with_capacity(
            1 << 16,
            std::fs::File::create(p).with_context(|| format!("{}: cannot create", p.display()))?,
        )),
        None => Box::new(io::BufWriter::with_capacity(1 << 16, io::stdout())),
    };
    Ok(Rc::new(RefCell::new(w)))
}

fn color_for(c: &Common) -> bool {
    c.output.is_none()
        && io::stdout().is_terminal()
        && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}

/// A JSONL sink that writes each session as it ends; remembers the first write error.
fn jsonl_sink(out: Out, err: Rc<RefCell<Option<io::Error>>>) -> SessionSink<'static> {
    Box::new(move |s| {
        if err.borrow().is_some() {
            return;
        }
        let mut w = out.borrow_mut();
        let r = report::json::write_session_line(&s, &mut **w).and_then(|_| w.flush());
        if let Err(e) = r {
            *err.borrow_mut() = Some(e);
        }
    })
}

fn analyze(captures: &[String], c: &Common) -> Result<u8> {
    let out = open_output(c)?;
    let (mut src, open_errors) = capture::merge::open_all(captures);
    for e in &open_errors {
        eprintln!("ftptrace: {e}");
    }
    if open_errors.len() == captures.len() {
        return Ok(2);
    }
    let progress = progress_bar(c, &src);
    pump(&mut src, c, &out, &open_errors, progress)
}

/// Read a source to its end through the analyzer and write the report: the loop both
/// `analyze` and `sniff` run. Returns the exit status (SPEC.md).
fn pump(
    src: &mut dyn PacketSource,
    c: &Common,
    out: &Out,
    open_errors: &[capture::CaptureError],
    progress: Option<indicatif::ProgressBar>,
) -> Result<u8> {
    let status_of = |e: &capture::CaptureError| if e.is_unreadable() { 2 } else { 1 };
    let mut status = open_errors.iter().map(status_of).max().unwrap_or(0);
    let write_err = Rc::new(RefCell::new(None));
    let sink = (c.format == Format::Jsonl).then(|| jsonl_sink(out.clone(), write_err.clone()));
    let mut an = Analyzer::new(options(c), sink);
    for e in open_errors {
        an.error(e.to_string());
    }
    an.run_with(
        src,
        |e| {
            eprintln!("ftptrace: {e}");
            status = status.max(status_of(e));
        },
        |src| {
            if let Some(pb) = &progress {
                pb.set_position(src.progress().0);
            }
            write_err.borrow().is_none()
        },
    );
    if let Some(pb) = progress {
        pb.finish_and_clear();
    }
    let report = an.finish();
    if let Some(note) = report::undecoded_note(&report) {
        eprintln!("ftptrace: {note}");
    }
    if let Some(e) = write_err.borrow_mut().take() {
        return Err(e.into());
    }
    emit(&report, c, out)?;
    Ok(status)
}

fn progress_bar(c: &Common, src: &dyn PacketSource) -> Option<indicatif::ProgressBar> {
    if c.no_progress || !io::stderr().is_terminal() {
        return None;
    }
    let total = src.progress().1?;
    if total < (64 << 20) {
        return None;
    }
    let pb = indicatif::ProgressBar::with_draw_target(
        Some(total),
        indicatif::ProgressDrawTarget::stderr(),
    );
    pb.set_style(
        indicatif::ProgressStyle::with_template(
            "{bar:40} {bytes}/{total_bytes} {bytes_per_sec} eta {eta}",
        )
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    Some(pb)
}

fn emit(r: &Report, c: &Common, out: &Out) -> Result<()> {
    let mut w = out.borrow_mut();
    let w: &mut dyn Write = &mut **w;
    let color = color_for(c);
    match c.format {
        Format::Json => report::json::write_json(r, w)?,
        Format::Jsonl => {
            let s = &r.stats;
            eprintln!(
                "ftptrace: {} packets, {} TCP connections, {} FTP sessions, {} data connections ({} unmatched), {} capture gaps",
                s.packets, s.tcp_connections, s.ftp_sessions, s.data_connections, s.unmatched_data_connections, s.capture_gaps
            );
        }
        Format::Table => {
            let width = if color { terminal_width() } else { None };
            report::table::write_table(r, &report::table::TableOptions { color, width }, w)?
        }
        Format::Timeline => report::timeline::write_timeline(
            r,
            &report::timeline::TimelineOptions {
                color,
                session: c.session,
            },
            w,
        )?,
        Format::Mermaid => report::mermaid::write_mermaid(r, c.session, w)?,
        Format::Html => report::html::write_html(r, w)?,
    }
    w.flush()?;
    Ok(())
}

fn terminal_width() -> Option<u16> {
    std::env::var("COLUMNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .or_else(|| comfy_table::Table::new().width())
}

#[cfg(feature = "live")]
fn sniff(iface: &str, filter: Option<&str>, c: &Common) -> Result<u8> {
    let out = open_output(c)?;
    let bpf = match filter {
        Some(f) => format!("tcp and ({f})"),
        None => "tcp".to_string(),
    };
    let mut src = match capture::live::LiveSource::open(iface, Some(&bpf), 262144) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("ftptrace: {e}");
            return Ok(2);
        }
    };
    let stop = src.stop_handle();
    for sig in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        signal_hook::flag::register(sig, stop.clone())?;
    }
    pump(&mut src, c, &out, &[], None)
}

#[cfg(not(feature = "live"))]
fn sniff(_iface: &str, _filter: Option<&str>, _c: &Common) -> Result<u8> {
    eprintln!("ftptrace: live capture is not built in: rebuild with `cargo build --features live` (needs libpcap)");
    Ok(2)
}
