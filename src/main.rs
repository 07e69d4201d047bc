//! The `ftptrace` command line: a thin layer over the library pipeline.

use anyhow::{Context, Result};
use clap::{Args, CommandFactory, Parser, Subcommand, ValueEnum};
use ftptrace::analyzer::{Analyzer, Options, SessionSink};
use ftptrace::capture::{self, PacketSource};
use ftptrace::model::{ExtractSummary, Report};
use ftptrace::net::reorder::{ReorderWindow, REORDER_WINDOW_PACKETS, REORDER_WINDOW_TIME_NS};
use ftptrace::report;
use ftptrace::report::filter::Filter;
use std::cell::{Cell, RefCell};
use std::io::{self, IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::rc::Rc;

mod man;
mod output;

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
        /// Read capture files with read() instead of mapping them into memory (for files
        /// another process may truncate while they are read: a mapped file that shrinks
        /// ends the process with SIGBUS).
        #[arg(long)]
        no_mmap: bool,
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
        /// Most finished sessions kept for the final report of a whole-report format
        /// (table, json, html, ...); beyond it the oldest is left out
        /// (`stats.limits.max_sessions`, a `limit_reached` finding). 0: keep all.
        #[arg(long, value_name = "N", default_value_t = ftptrace::analyzer::MAX_SNIFF_SESSIONS)]
        max_sessions: usize,
        #[command(flatten)]
        common: Common,
    },
    /// Write the packets of chosen sessions (control and data connections, every packet of
    /// them) to a capture file: pcap in the input's link type, pcapng when the inputs mix
    /// link types or OUT ends in .pcapng. Reads the inputs twice (stdin is refused).
    Export {
        /// Sessions to export (ids as `analyze` numbers them, comma-separated).
        #[arg(long, value_name = "N", value_delimiter = ',', required = true)]
        session: Vec<u64>,
        /// The capture file to write.
        #[arg(short, long, value_name = "OUT")]
        output: PathBuf,
        /// Extra TCP ports to treat as FTP control (as given to `analyze`, so the ids agree).
        #[arg(long, value_name = "LIST", value_delimiter = ',')]
        ports: Vec<u16>,
        /// Capture files or directories, read together as one capture in time order.
        #[arg(required = true, value_name = "CAPTURE")]
        captures: Vec<String>,
        /// Read capture files with read() instead of mapping them into memory (for files
        /// another process may truncate while they are read: a mapped file that shrinks
        /// ends the process with SIGBUS).
        #[arg(long)]
        no_mmap: bool,
    },
    /// Print shell completions.
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print a man page (roff): the top page listing the subcommands, or one subcommand's
    /// page (every option, exit status, examples); --all DIR writes every page to DIR.
    Man {
        /// The subcommand whose page to print (ftptrace-SUBCOMMAND(1)).
        #[arg(value_name = "SUBCOMMAND", value_parser = man::PAGES, conflicts_with = "all")]
        page: Option<String>,
        /// Write ftptrace.1 and ftptrace-SUBCOMMAND.1 for every subcommand into DIR.
        #[arg(long, value_name = "DIR")]
        all: Option<PathBuf>,
    },
}

#[derive(Copy, Clone, PartialEq, Eq, ValueEnum)]
enum Format {
    Table,
    Timeline,
    Json,
    Jsonl,
    Mermaid,
    Html,
    /// Zeek's ftp.log (TSV with its #fields header).
    Zeek,
    /// Zeek's ftp.log as Zeek's JSON log lines.
    #[value(name = "zeek-json")]
    ZeekJson,
    /// Suricata-style eve JSON lines (ftp, ftp_data, fileinfo).
    Eve,
    /// One row per transfer, with a header (RFC 4180).
    Csv,
    /// One line per finding, most severe first.
    Alerts,
}

impl Format {
    /// Formats written session by session as sessions end (memory does not grow with them).
    fn streams(self) -> bool {
        matches!(
            self,
            Format::Jsonl | Format::ZeekJson | Format::Eve | Format::Csv
        )
    }
}

/// The timeline's line prefix (`--prefix`).
#[derive(Copy, Clone, PartialEq, Eq, ValueEnum)]
enum Prefix {
    /// `  +11.204 d2  C←S  `: fits replies in 80 columns.
    Compact,
    /// `  +11.203600 s  09:30:11.203600  data:2 5002↔20  C ← S  `.
    Full,
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
    /// Write every transferred file into DIR (implies --hash), with DIR/manifest.jsonl; never
    /// through a link, never over an existing file.
    #[arg(long, value_name = "DIR")]
    extract: Option<PathBuf>,
    /// With --extract: most bytes written into one file (longer payloads are cut and end in .partial).
    #[arg(long, value_name = "BYTES", default_value_t = ftptrace::carve::DEFAULT_MAX_FILE_BYTES)]
    extract_max_bytes: u64,
    /// With --extract: most bytes written into DIR in all.
    #[arg(long, value_name = "BYTES", default_value_t = ftptrace::carve::DEFAULT_MAX_TOTAL_BYTES)]
    extract_max_total: u64,
    /// Only these sessions (comma-separated ids), in every format.
    #[arg(long, value_name = "N[,M...]", value_delimiter = ',')]
    session: Vec<u64>,
    /// Only sessions with this host at either end (of the control or a data connection).
    #[arg(long, value_name = "ADDR")]
    host: Vec<std::net::IpAddr>,
    /// Only sessions of this user.
    #[arg(long, value_name = "NAME")]
    user: Vec<String>,
    /// Only sessions that end at or after this time (RFC 3339, e.g. 2024-01-02T03:04:05Z).
    #[arg(long, value_name = "TIME", value_parser = rfc3339)]
    since: Option<ftptrace::capture::Timestamp>,
    /// Only sessions that start at or before this time (RFC 3339).
    #[arg(long, value_name = "TIME", value_parser = rfc3339)]
    until: Option<ftptrace::capture::Timestamp>,
    /// Lay out the table and timeline for N columns (default: the terminal's width on a
    /// terminal, no limit for a file or pipe). Up to 100 the table drops and shortens
    /// columns by priority (never breaking an address or a name) and the timeline uses
    /// the compact prefix; beyond, the wide table (start time, data endpoints, sha256, file).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(20..))]
    width: Option<u16>,
    /// Timeline line prefix: compact (+seconds, connection, arrow) or full (relative and
    /// wall-clock time, connection with ports). Default: compact up to 100 columns, else full.
    #[arg(long, value_enum, value_name = "STYLE")]
    prefix: Option<Prefix>,
    /// Timeline: merge the sessions' events into one list in capture order, each line
    /// marked with its session (#N).
    #[arg(long)]
    interleave: bool,
    /// Never show a progress bar.
    #[arg(long)]
    no_progress: bool,
    /// Packets of a connection during which a hole its receiver already acknowledged
    /// waits for a data segment the capture reordered (0: an ACK makes the hole a gap at
    /// once). The window also closes after 1 MiB of the connection's payload.
    #[arg(long, value_name = "PACKETS", default_value_t = REORDER_WINDOW_PACKETS)]
    reorder_window: u64,
    /// Capture time an acknowledged hole waits for a reordered segment, in milliseconds.
    #[arg(long, value_name = "MS", default_value_t = REORDER_WINDOW_TIME_NS as f64 / 1e6)]
    reorder_window_ms: f64,
    /// Do not tell flows apart by VLAN ID or tunnel identity (VXLAN/GENEVE VNI, GRE key,
    /// ERSPAN session): for span setups that tag each direction of a connection differently.
    #[arg(long)]
    ignore_tunnel_ids: bool,
    /// Most TCP connections tracked at once; beyond it the least recently active one is
    /// finished early (`stats.limits.max_connections`, a `limit_reached` finding).
    #[arg(long, value_name = "N", default_value_t = ftptrace::net::tcp::MAX_CONNECTIONS)]
    max_connections: usize,
    /// Most commands (with their replies) kept per session; later ones are counted
    /// (`dropped.commands`, `stats.limits.max_commands`, a `limit_reached` finding).
    #[arg(long, value_name = "N", default_value_t = ftptrace::ftp::session::MAX_COMMANDS)]
    max_commands: usize,
    /// Most timeline events kept per session; later ones are counted (`dropped.events`,
    /// `stats.limits.max_events`, a `limit_reached` finding).
    #[arg(long, value_name = "N", default_value_t = ftptrace::ftp::session::MAX_EVENTS)]
    max_events: usize,
    /// Most commands waiting for a reply (pipelined) per session; beyond it the oldest
    /// loses its reply pairing (`dropped.pending`, `stats.limits.max_pending`, a
    /// `too_many_pending_commands` finding).
    #[arg(long, value_name = "N", default_value_t = ftptrace::ftp::session::MAX_PENDING)]
    max_pending: usize,
    /// Most transfers kept per session; later data connections are counted
    /// (`dropped.transfers`, `stats.limits.max_transfers`, a `limit_reached` finding).
    #[arg(long, value_name = "N", default_value_t = ftptrace::ftp::session::MAX_TRANSFERS)]
    max_transfers: usize,
    /// Most announced data ports (PORT/EPRT/PASV/EPSV) waiting for their data connection
    /// per session; beyond it the oldest is forgotten (`stats.limits.max_expectations`, a
    /// `limit_reached` finding).
    #[arg(long, value_name = "N", default_value_t = ftptrace::analyzer::expect::MAX_EXPECTATIONS_PER_SESSION)]
    max_expectations: usize,
    /// Most announced data ports waiting in all sessions together; beyond it the oldest
    /// is forgotten (`stats.limits.max_expectations_total`, a `limit_reached` finding).
    #[arg(long, value_name = "N", default_value_t = ftptrace::analyzer::expect::MAX_EXPECTATIONS)]
    max_expectations_total: usize,
    /// Capture time an announced data port waits for its data connection, in seconds;
    /// then it is forgotten (`stats.limits.expectation_timeout`, a `limit_reached` finding).
    #[arg(long, value_name = "SECS", default_value_t = ftptrace::analyzer::expect::EXPECTATION_TIMEOUT_NS as f64 / 1e9)]
    expectation_timeout: f64,
    /// Most (client, server) host pairs whose failed logins are tallied for brute-force
    /// findings; beyond it the least recently seen is forgotten
    /// (`stats.limits.max_failure_pairs`, a `limit_reached` finding).
    #[arg(long, value_name = "N", default_value_t = ftptrace::analyzer::detect::MAX_FAILURE_PAIRS)]
    max_failure_pairs: usize,
    /// Worker threads (0: all cores); the output is the same for any number. Formats
    /// written as sessions end, --extract and stdin use one thread.
    #[arg(long, value_name = "N", default_value_t = 1)]
    threads: usize,
    /// Analyze only the sessions whose unordered pair of addresses falls in shard K of N
    /// (0-based), so that N runs split a capture archive; session ids are then the number
    /// of the packet (over the whole input) at which each session was recognised.
    #[arg(long, value_name = "K/N")]
    shard: Option<ftptrace::shard::ShardSpec>,
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
        Cmd::Analyze {
            captures,
            no_mmap,
            common,
        } => analyze(&captures, read_mode(no_mmap), &common),
        Cmd::Sniff {
            interface,
            filter,
            max_sessions,
            common,
        } => sniff(&interface, filter.as_deref(), max_sessions, &common),
        Cmd::Export {
            session,
            output,
            ports,
            captures,
            no_mmap,
        } => export(&session, &output, ports, &captures, read_mode(no_mmap)),
        Cmd::Completions { shell } => {
            clap_complete::generate(shell, &mut Cli::command(), "ftptrace", &mut io::stdout());
            Ok(0)
        }
        Cmd::Man { page, all } => {
            let top = Cli::command();
            match all {
                Some(dir) => {
                    for p in
                        man::write_all(&top, &dir).with_context(|| format!("{}", dir.display()))?
                    {
                        eprintln!("ftptrace: wrote {}", p.display());
                    }
                }
                None => man::render(&top, page.as_deref(), &mut io::stdout())?,
            }
            Ok(0)
        }
    }
}

fn rfc3339(s: &str) -> Result<ftptrace::capture::Timestamp, String> {
    report::filter::parse_time(s).map_err(|e| e.to_string())
}

fn filter_of(c: &Common) -> Filter {
    Filter {
        sessions: c.session.clone(),
        hosts: c.host.clone(),
        users: c.user.clone(),
        since: c.since,
        until: c.until,
    }
}

fn options(c: &Common) -> Options {
    Options {
        ports: c.ports.clone(),
        show_passwords: c.show_passwords,
        hash: c.hash || c.extract.is_some(),
        extract: c.extract.clone(),
        extract_limits: ftptrace::carve::Limits {
            max_file_bytes: c.extract_max_bytes,
            max_total_bytes: c.extract_max_total,
        },
        reorder: if c.reorder_window == 0 {
            ReorderWindow::OFF
        } else {
            ReorderWindow {
                packets: c.reorder_window,
                time_ns: (c.reorder_window_ms.max(0.0) * 1e6).min(i64::MAX as f64) as i64,
                ..ReorderWindow::default()
            }
        },
        ignore_tunnel_ids: c.ignore_tunnel_ids,
        max_connections: c.max_connections.max(1),
        session_limits: ftptrace::ftp::session::Limits {
            commands: c.max_commands,
            events: c.max_events,
            pending: c.max_pending,
            transfers: c.max_transfers,
            ..Default::default()
        },
        expect_limits: ftptrace::analyzer::expect::Limits {
            per_session: c.max_expectations,
            total: c.max_expectations_total,
            timeout_ns: (c.expectation_timeout.max(0.0) * 1e9).min(i64::MAX as f64) as i64,
        },
        detect_limits: ftptrace::analyzer::detect::Limits {
            pairs: c.max_failure_pairs,
            ..Default::default()
        },
        max_sessions: 0,
        // Only the JSON document prints the list of every TCP connection.
        skip_tcp_connections: c.format != Format::Json,
    }
}

type Out = Rc<RefCell<Box<dyn Write>>>;

/// Where the report goes: stdout, or `-o FILE` through a temporary file beside it that
/// replaces FILE only at the end of a run that read something.
struct Output {
    w: Out,
    file: Option<output::Staged>,
    /// `-o` could not be created: the run goes on (for `--extract`) and ends with status 3.
    failed: bool,
}

/// Open the report's destination. `-o` naming an input is refused (an error: status 2);
/// a `-o` that cannot be created is one stderr line and status 3 once the rest is done.
fn open_output(c: &Common, inputs: &[String]) -> Result<Output> {
    open_output_as(c, inputs, false)
}

/// [`open_output`]; `live`: `-o` is written as the run goes (`sniff`).
fn open_output_as(c: &Common, inputs: &[String], live: bool) -> Result<Output> {
    let stdout =
        || -> Box<dyn Write> { Box::new(io::BufWriter::with_capacity(1 << 16, io::stdout())) };
    let (w, file, failed): (Box<dyn Write>, _, _) = match &c.output {
        Some(p) => {
            output::refuse_inputs(p, inputs)?;
            let staged = if live {
                output::Staged::direct(p)
            } else {
                output::Staged::create(p)
            };
            match staged.and_then(|s| Ok((s.file()?, s))) {
                Ok((f, staged)) => (
                    Box::new(io::BufWriter::with_capacity(1 << 16, f)),
                    Some(staged),
                    false,
                ),
                Err(e) => {
                    eprintln!("ftptrace: {e:#}");
                    (Box::new(io::sink()), None, true)
                }
            }
        }
        None => (stdout(), None, false),
    };
    Ok(Output {
        w: Rc::new(RefCell::new(w)),
        file,
        failed,
    })
}

/// End of a run: put `-o`'s file in place (or drop it when nothing was read), print
/// `--extract`'s errors and totals, and give the exit status (3 when an output failed).
fn finish_outputs(out: Output, status: u8, extract: Option<&ExtractSummary>) -> u8 {
    let mut status = if out.failed { status.max(3) } else { status };
    let flushed = out.w.borrow_mut().flush();
    drop(out.w);
    if let Some(staged) = out.file {
        let r = flushed.map_err(anyhow::Error::from).and_then(|_| {
            if status >= 2 {
                staged.abandon();
                Ok(())
            } else {
                staged.commit()
            }
        });
        if let Err(e) = r {
            eprintln!("ftptrace: {e:#}");
            status = 3;
        }
    } else if let Err(e) = flushed {
        if e.kind() != io::ErrorKind::BrokenPipe {
            eprintln!("ftptrace: stdout: {e}");
            status = 3;
        }
    }
    if let Some(x) = extract {
        for e in &x.errors {
            eprintln!("ftptrace: {e}");
        }
        if !x.errors.is_empty() {
            status = 3;
        }
        eprintln!(
            "ftptrace: extracted {} into {}; manifest {}",
            human_files(x.files, x.bytes),
            x.dir,
            x.manifest.as_deref().unwrap_or("not written"),
        );
    }
    status
}

fn human_files(files: u64, bytes: u64) -> String {
    format!(
        "{files} file{} ({bytes} bytes)",
        if files == 1 { "" } else { "s" }
    )
}

fn color_for(c: &Common) -> bool {
    c.output.is_none()
        && io::stdout().is_terminal()
        && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}

/// A sink for the streaming formats: writes each kept session as it ends; remembers the
/// ids it saw (for `--session`) and the first write error.
fn line_sink(
    format: Format,
    filter: Filter,
    out: Out,
    err: Rc<RefCell<Option<io::Error>>>,
    seen: Rc<RefCell<Vec<u64>>>,
) -> SessionSink<'static> {
    Box::new(move |s| {
        if !filter.sessions.is_empty() {
            seen.borrow_mut().push(s.id);
        }
        if err.borrow().is_some() || !filter.matches(&s) {
            return;
        }
        let mut w = out.borrow_mut();
        let w: &mut dyn Write = &mut **w;
        let r = match format {
            Format::ZeekJson => report::zeek::write_zeek_json_session(&s, w),
            Format::Eve => report::eve::write_eve_session(&s, w),
            Format::Csv => report::csv::write_session(&s, w),
            _ => report::json::write_session_line(&s, w),
        };
        if let Err(e) = r.and_then(|_| w.flush()) {
            *err.borrow_mut() = Some(e);
        }
    })
}

/// A whole-run output written as sessions come in id order (the analyzer's document
/// mode): `--format json` and `--format zeek`.
enum Streamed {
    Json(RefCell<report::json::DocumentWriter>),
    /// With the floor the analyzer sets before each session.
    Zeek(
        RefCell<report::zeek::ZeekStream>,
        Rc<Cell<ftptrace::capture::Timestamp>>,
    ),
}

impl Streamed {
    fn for_format(f: Format) -> Option<Streamed> {
        match f {
            Format::Json => Some(Streamed::Json(Default::default())),
            Format::Zeek => Some(Streamed::Zeek(
                Default::default(),
                Rc::new(Cell::new(ftptrace::capture::Timestamp(i64::MIN))),
            )),
            _ => None,
        }
    }

    fn session(&self, s: &ftptrace::model::Session, w: &mut dyn Write) -> io::Result<()> {
        match self {
            Streamed::Json(d) => d.borrow_mut().session(s, w),
            Streamed::Zeek(z, floor) => z.borrow_mut().session(s, floor.get(), w),
        }
    }

    /// The rest of the output, from the report of the sessions still waiting.
    fn finish(&self, r: &mut Report, w: &mut dyn Write) -> io::Result<()> {
        match self {
            Streamed::Json(d) => d.borrow_mut().finish(r, w),
            Streamed::Zeek(z, _) => {
                let mut z = z.borrow_mut();
                z.finish(r, w)?;
                if z.forced() > 0 {
                    eprintln!(
                        "ftptrace: {} ftp.log rows written before an earlier row could still come, to hold at most {} rows",
                        z.forced(),
                        report::zeek::MAX_HELD_ROWS
                    );
                }
                Ok(())
            }
        }
    }
}

/// A sink for a [`Streamed`] output: writes each session as the analyzer gives it (in id
/// order); remembers the first write error.
fn document_sink(
    doc: Rc<Streamed>,
    out: Out,
    err: Rc<RefCell<Option<io::Error>>>,
) -> SessionSink<'static> {
    Box::new(move |s| {
        if err.borrow().is_some() {
            return;
        }
        let mut w = out.borrow_mut();
        let w: &mut dyn Write = &mut **w;
        if let Err(e) = doc.session(&s, w) {
            *err.borrow_mut() = Some(e);
        }
    })
}

/// Capture names → files (directories expanded), their notes printed; the files, and the
/// inputs that give nothing (printed).
fn open_inputs(
    inputs: capture::inputs::Inputs,
    mode: capture::ReadMode,
) -> (capture::MergedSource, Vec<capture::CaptureError>) {
    for n in &inputs.notes {
        eprintln!("ftptrace: {n}");
    }
    let (src, open_errors) = capture::open_all_with(&inputs.files, mode);
    let mut errors = inputs.errors;
    errors.extend(open_errors);
    for e in &errors {
        eprintln!("ftptrace: {e}");
    }
    (src, errors)
}

/// `--no-mmap` → how capture files are read.
fn read_mode(no_mmap: bool) -> capture::ReadMode {
    if no_mmap {
        capture::ReadMode::Read
    } else {
        capture::ReadMode::Map
    }
}

fn analyze(captures: &[String], mode: capture::ReadMode, c: &Common) -> Result<u8> {
    let inputs = capture::inputs::expand(captures);
    let files = inputs.files.clone();
    let out = open_output(c, &inputs.files)?;
    let (mut src, open_errors) = open_inputs(inputs, mode);
    if src.is_empty() {
        return Ok(finish_outputs(out, 2, None));
    }
    let progress = progress_bar(c, &src);
    let threads = threads_for(c, &files);
    if threads > 1 {
        match pump_parallel(&mut src, c, &out.w, &open_errors, progress.clone(), threads)? {
            Ok((status, extract)) => return Ok(finish_outputs(out, status, extract.as_ref())),
            Err(why) => {
                // The split run cannot stand for the whole one: read again on one thread.
                if std::env::var_os("FTPTRACE_DEBUG_THREADS").is_some() {
                    eprintln!("ftptrace: one thread after all: {}", why.0);
                }
                src = capture::open_all_with(&files, mode).0;
            }
        }
    }
    let (status, extract) = pump(&mut src, c, &out.w, &open_errors, progress, 0)?;
    Ok(finish_outputs(out, status, extract.as_ref()))
}

/// Worker threads for `analyze`: `--threads` (default 1; 0: all cores), but one for
/// `--shard`, formats written as sessions end, `--extract`, and inputs that cannot be read
/// twice (stdin, pipes: a split run that cannot be merged exactly is run again on one
/// thread).
fn threads_for(c: &Common, files: &[String]) -> usize {
    let n = match c.threads {
        0 => std::thread::available_parallelism().map_or(1, |n| n.get()),
        n => n,
    };
    if n <= 1 {
        return 1;
    }
    let rereadable = files
        .iter()
        .all(|f| f != "-" && std::fs::metadata(f).is_ok_and(|m| m.is_file()));
    if c.shard.is_some()
        || !rereadable
        || !ftptrace::parallel::splittable(&options(c), c.format.streams())
    {
        1
    } else {
        n.min(ftptrace::parallel::MAX_THREADS)
    }
}

/// [`pump`] over `threads` workers; `Err` when the split run cannot be merged exactly
/// (nothing was written or printed then).
fn pump_parallel(
    src: &mut dyn PacketSource,
    c: &Common,
    out: &Out,
    open_errors: &[capture::CaptureError],
    progress: Option<indicatif::ProgressBar>,
    threads: usize,
) -> Result<std::result::Result<(u8, Option<ExtractSummary>), ftptrace::parallel::Fallback>> {
    let status_of = |e: &capture::CaptureError| if e.is_unreadable() { 2 } else { 1 };
    let mut status = open_errors.iter().map(status_of).max().unwrap_or(0);
    let mut read_errors = Vec::new();
    let run = ftptrace::parallel::run(
        src,
        &options(c),
        threads,
        open_errors.iter().map(|e| e.to_string()).collect(),
        |e| {
            read_errors.push(e.to_string());
            status = status.max(status_of(e));
        },
        |src| {
            if let Some(pb) = &progress {
                pb.set_position(src.progress().0);
            }
        },
    );
    if let Some(pb) = progress {
        pb.finish_and_clear();
    }
    let report = match run {
        Ok(r) => r,
        Err(why) => return Ok(Err(why)),
    };
    for e in &read_errors {
        eprintln!("ftptrace: {e}");
    }
    deliver(report, c, out, status, Vec::new(), None, None).map(Ok)
}

/// Read a source to its end through the analyzer and write the report: the loop both
/// `analyze` and `sniff` run. Returns the exit status (SPEC.md) and what `--extract` wrote;
/// a report that could not be written is status 3 (a closed stdout is an error that ends
/// the run quietly).
fn pump(
    src: &mut dyn PacketSource,
    c: &Common,
    out: &Out,
    open_errors: &[capture::CaptureError],
    progress: Option<indicatif::ProgressBar>,
    max_sessions: usize,
) -> Result<(u8, Option<ExtractSummary>)> {
    let status_of = |e: &capture::CaptureError| if e.is_unreadable() { 2 } else { 1 };
    let mut status = open_errors.iter().map(status_of).max().unwrap_or(0);
    let write_err = Rc::new(RefCell::new(None));
    let filter = filter_of(c);
    let seen = Rc::new(RefCell::new(Vec::new()));
    if c.format == Format::Csv {
        report::csv::write_header(&mut **out.borrow_mut())?;
    }
    // The JSON document and the Zeek log are streamed in id order unless sessions are
    // filtered (findings are then renumbered), sharded (numbered by the whole input) or
    // kept by `sniff`.
    let document = Streamed::for_format(c.format)
        .filter(|_| filter.is_empty() && c.shard.is_none() && max_sessions == 0)
        .map(Rc::new);
    let sink = if c.format.streams() {
        Some(line_sink(
            c.format,
            filter.clone(),
            out.clone(),
            write_err.clone(),
            seen.clone(),
        ))
    } else {
        document
            .as_ref()
            .map(|d| document_sink(d.clone(), out.clone(), write_err.clone()))
    };
    let mut an = Analyzer::new(
        Options {
            max_sessions,
            ..options(c)
        },
        sink,
    );
    match document.as_deref() {
        Some(Streamed::Zeek(_, floor)) => an = an.document_floor(floor.clone()),
        Some(_) => an = an.document(),
        None => {}
    }
    if c.shard.is_some() {
        an = an.traced(false);
    }
    for e in open_errors {
        an.error(e.to_string());
    }
    let on_error = |e: &capture::CaptureError| {
        eprintln!("ftptrace: {e}");
        status = status.max(status_of(e));
    };
    let every = |src: &dyn PacketSource| {
        if let Some(pb) = &progress {
            pb.set_position(src.progress().0);
        }
        write_err.borrow().is_none()
    };
    let report = match c.shard {
        Some(spec) => {
            let n = ftptrace::parallel::run_shard(
                &mut an,
                src,
                spec,
                c.ignore_tunnel_ids,
                on_error,
                every,
            );
            an.finish_traced(n).0
        }
        None => {
            an.run_with(src, on_error, every);
            an.finish()
        }
    };
    if let Some(pb) = progress {
        pb.finish_and_clear();
    }
    let seen = std::mem::take(&mut *seen.borrow_mut());
    let write_err = write_err.borrow_mut().take();
    deliver(report, c, out, status, seen, write_err, document.as_deref())
}

/// The end of a run: the `--session` ids the capture does not hold, the filters, the
/// report written (status 3 when it could not be); `document`: the streamed JSON
/// document, whose rest the report holds.
fn deliver(
    mut report: Report,
    c: &Common,
    out: &Out,
    mut status: u8,
    mut seen: Vec<u64>,
    write_err: Option<io::Error>,
    document: Option<&Streamed>,
) -> Result<(u8, Option<ExtractSummary>)> {
    let filter = filter_of(c);
    if let Some(note) = report::undecoded_note(&report) {
        eprintln!("ftptrace: {note}");
    }
    seen.extend(report.sessions.iter().map(|s| s.id));
    let missing = filter.missing_ids(&seen);
    if !missing.is_empty() {
        let ids: Vec<String> = missing.iter().map(u64::to_string).collect();
        eprintln!(
            "ftptrace: no FTP session {} in the capture ({})",
            ids.join(", "),
            report::human::plural(report.stats.ftp_sessions, "session", "sessions")
        );
        if missing.len() == filter.sessions.len() {
            // Asked for sessions the capture does not hold: an error, not an empty success.
            return Ok((2, report.extract.take()));
        }
    }
    filter.apply(&mut report);
    let written = match (write_err, document) {
        (Some(e), _) => Err(e.into()),
        (None, Some(d)) => {
            let mut w = out.borrow_mut();
            let w: &mut dyn Write = &mut **w;
            d.finish(&mut report, w)
                .and_then(|_| w.flush())
                .map_err(anyhow::Error::from)
        }
        (None, None) => emit(&report, c, out),
    };
    if let Err(e) = written {
        if is_broken_pipe(&e) {
            return Err(e);
        }
        eprintln!("ftptrace: {}: {e:#}", output_name(c));
        status = 3;
    }
    let extract = report.extract.take();
    // The process ends soon: freeing every session of a large report one by one was a
    // twentieth of the run; the memory goes back with the process.
    std::mem::forget(report);
    Ok((status, extract))
}

fn output_name(c: &Common) -> String {
    c.output
        .as_ref()
        .map_or("stdout".to_string(), |p| p.display().to_string())
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
        Format::Jsonl | Format::ZeekJson | Format::Eve | Format::Csv => {
            let s = &r.stats;
            eprintln!(
                "ftptrace: {} packets, {} TCP connections, {} FTP sessions, {} data connections ({} unmatched), {} capture gaps",
                s.packets, s.tcp_connections, s.ftp_sessions, s.data_connections, s.unmatched_data_connections, s.capture_gaps
            );
        }
        Format::Table => report::table::write_table(
            r,
            &report::table::TableOptions {
                color,
                width: layout_width(c),
                show_passwords: c.show_passwords,
            },
            w,
        )?,
        Format::Timeline => {
            let width = layout_width(c);
            let compact = match c.prefix {
                Some(p) => p == Prefix::Compact,
                None => width.is_some_and(|w| w <= report::table::NARROW_COLUMNS),
            };
            report::timeline::write_timeline(
                r,
                &report::timeline::TimelineOptions {
                    color,
                    session: None,
                    compact,
                    width,
                    interleave: c.interleave,
                },
                w,
            )?
        }
        Format::Mermaid => report::mermaid::write_mermaid(r, None, w)?,
        Format::Html => report::html::write_html(r, w)?,
        Format::Zeek => report::zeek::write_zeek(r, w)?,
        Format::Alerts => report::alerts::write_alerts(r, w)?,
    }
    w.flush()?;
    Ok(())
}

/// The width to lay the table and timeline out for: `--width`, else the terminal's when
/// the report goes to one, else none (a file or pipe gets the wide layout, unwrapped).
fn layout_width(c: &Common) -> Option<u16> {
    c.width.or_else(|| {
        (c.output.is_none() && io::stdout().is_terminal())
            .then(terminal_width)
            .flatten()
    })
}

fn terminal_width() -> Option<u16> {
    std::env::var("COLUMNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .or_else(|| comfy_table::Table::new().width())
}

/// `ftptrace export`: read the inputs once to find the sessions' connections, then again
/// to copy their packets into `-o` (written beside it and renamed at the end).
fn export(
    sessions: &[u64],
    out: &std::path::Path,
    ports: Vec<u16>,
    captures: &[String],
    mode: capture::ReadMode,
) -> Result<u8> {
    use ftptrace::export;
    if captures.iter().any(|c| c == "-") {
        eprintln!("ftptrace: export reads its inputs twice, so it cannot read stdin (-); save it to a file first");
        return Ok(2);
    }
    let inputs = capture::inputs::expand(captures);
    let files = inputs.files.clone();
    output::refuse_inputs(out, &files)?;
    let (mut src, open_errors) = open_inputs(inputs, mode);
    if src.is_empty() {
        return Ok(2);
    }
    let status_of = |e: &capture::CaptureError| if e.is_unreadable() { 2 } else { 1 };
    let mut status = open_errors.iter().map(status_of).max().unwrap_or(0);
    let mut an = Analyzer::new(
        Options {
            ports,
            ..Options::default()
        },
        None,
    );
    an.collect_connections(sessions);
    let mut seen = export::LinkTypes {
        inner: &mut src,
        seen: Vec::new(),
    };
    an.run(&mut seen, |e| {
        eprintln!("ftptrace: {e}");
        status = status.max(status_of(e));
    });
    let linktypes = std::mem::take(&mut seen.seen);
    let digits = src.ts_digits();
    let (report, spans) = an.finish_with_connections();
    let missing: Vec<String> = sessions
        .iter()
        .filter(|n| !report.sessions.iter().any(|s| s.id == **n))
        .map(|n| n.to_string())
        .collect();
    if !missing.is_empty() {
        eprintln!(
            "ftptrace: no session {} in the input ({} FTP session{} found)",
            missing.join(", "),
            report.sessions.len(),
            if report.sessions.len() == 1 { "" } else { "s" }
        );
        return Ok(2);
    }
    let want_ng = out
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("pcapng"));
    let container = export::container(&linktypes, want_ng);
    let staged = match output::Staged::create(out) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("ftptrace: {e:#}");
            return Ok(3);
        }
    };
    let written = staged
        .file()
        .map_err(|e| io::Error::other(format!("{e:#}")))
        .and_then(|f| {
            let mut w =
                export::writer(io::BufWriter::with_capacity(1 << 16, f), container, digits)?;
            let frags = if report.stats.ip_fragments > 0 {
                let (mut again, _) = capture::open_all_with(&files, mode);
                export::scan_fragments(&mut again, &spans)
            } else {
                export::Fragments::default()
            };
            if frags.left_out > 0 {
                eprintln!(
                    "ftptrace: {} fragmented datagrams past the first {}: only their last fragments are written",
                    frags.left_out,
                    export::MAX_FRAGMENTED_DATAGRAMS
                );
            }
            let (mut again, _) = capture::open_all_with(&files, mode);
            export::copy(&mut again, &spans, &frags, &mut *w)
        });
    match written {
        Ok(n) => {
            if let Err(e) = staged.commit() {
                eprintln!("ftptrace: {e:#}");
                return Ok(3);
            }
            let kind = match container {
                export::Container::Pcap(lt) => format!("pcap, link type {}", lt.0),
                export::Container::Pcapng => format!("pcapng, {} link types", linktypes.len()),
            };
            eprintln!(
                "ftptrace: wrote {n} packets of {} TCP connections to {} ({kind})",
                spans.len(),
                out.display()
            );
            Ok(status)
        }
        Err(e) => {
            staged.abandon();
            eprintln!("ftptrace: {}: {e}", out.display());
            Ok(3)
        }
    }
}

/// What live capture lets through: TCP, and the tunnels the decoder opens (VXLAN, GENEVE,
/// GRE/ERSPAN, IP-in-IP, 6in4, 4in6) and the frames it unwraps (802.1Q/802.1ad, MPLS,
/// PPPoE sessions) by ethertype, which unlike `vlan`/`mpls` does not shift offsets.
#[cfg(feature = "live")]
const LIVE_BPF: &str = "tcp or udp port 4789 or udp port 8472 or udp port 6081 \
    or ip proto 47 or ip proto 4 or ip proto 41 or ip6 proto 47 or ip6 proto 4 \
    or ip6 proto 41 or ether proto 0x8100 or ether proto 0x88a8 or ether proto 0x8847 \
    or ether proto 0x8848 or ether proto 0x8864";

#[cfg(feature = "live")]
fn sniff(iface: &str, filter: Option<&str>, max_sessions: usize, c: &Common) -> Result<u8> {
    let out = open_output_as(c, &[], true)?;
    let bpf = match filter {
        Some(f) => format!("({LIVE_BPF}) and ({f})"),
        None => LIVE_BPF.to_string(),
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
    eprintln!("ftptrace: capturing on {iface} (filter {bpf})");
    let mut live = Interrupted {
        src: &mut src,
        stop,
        ended: false,
    };
    let (status, extract) = pump(&mut live, c, &out.w, &[], None, max_sessions)?;
    let code = finish_outputs(out, status, extract.as_ref());
    match src.stats() {
        Ok(s) => eprintln!(
            "ftptrace: {} received by filter, {} dropped by kernel (libpcap buffer full), {} dropped by interface",
            report::human::plural(s.received, "packet", "packets"),
            s.dropped,
            s.if_dropped
        ),
        Err(e) => eprintln!("ftptrace: no capture statistics: {e}"),
    }
    Ok(code)
}

/// The live source, ending the `^C` line the terminal echoed (so the report starts on a
/// fresh line) when a signal stops the capture.
#[cfg(feature = "live")]
struct Interrupted<'a> {
    src: &'a mut capture::live::LiveSource,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    ended: bool,
}

#[cfg(feature = "live")]
impl capture::PacketSource for Interrupted<'_> {
    fn next_packet(&mut self) -> Result<Option<capture::Packet<'_>>, capture::CaptureError> {
        let r = self.src.next_packet();
        if matches!(r, Ok(None)) && !self.ended {
            self.ended = true;
            if self.stop.load(std::sync::atomic::Ordering::Relaxed) && io::stderr().is_terminal() {
                eprintln!();
            }
        }
        r
    }
    fn ts_digits(&self) -> u8 {
        self.src.ts_digits()
    }
    fn progress(&self) -> (u64, Option<u64>) {
        self.src.progress()
    }
}

#[cfg(not(feature = "live"))]
fn sniff(_iface: &str, _filter: Option<&str>, _max_sessions: usize, _c: &Common) -> Result<u8> {
    eprintln!("ftptrace: live capture is not built in: rebuild with `cargo build --features live` (needs libpcap)");
    Ok(2)
}
