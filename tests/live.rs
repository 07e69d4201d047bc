//! Live capture end to end: `ftptrace sniff` on a veth inside a network namespace
//! while curl talks to a real FTP server in another namespace.
//!
//! Needs root, iproute2, curl, an FTP server (pyftpdlib under /usr/bin/python3, or
//! vsftpd) and libpcap's headers. When something is missing the test is skipped
//! with a note, or fails when `CI` is set. The test binary is built without the
//! `live` feature, so it builds the live binary itself into `target/live` (its own
//! target directory: the outer cargo holds the lock on `target/`).
//!
//! Network safety: two namespaces of our own (`ftl-srv-PID`, `ftl-cli-PID`) joined
//! by one veth pair (`ftlvsPID` / `ftlvcPID`), 10.98.0.1 and 10.98.0.2. Nothing is
//! routed anywhere else; every process and namespace is removed by a Drop guard,
//! also when an assertion fails. Leftovers of killed runs are removed first.
//!
//! Set `FTPTRACE_LIVE_SERVER=vsftpd` or `=pyftpdlib` to choose the server.

use serde_json::Value;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::thread::sleep;
use std::time::{Duration, Instant};

const SRV_IP: &str = "10.98.0.1";
const CLI_IP: &str = "10.98.0.2";
const PY: &str = "/usr/bin/python3";
const VSFTPD: &str = "/usr/sbin/vsftpd";
/// Size of the downloaded file: a few hundred segments, several receive windows.
const PAYLOAD_LEN: usize = 300_000;
/// Bound on the network part of the test (the build of the live binary comes before).
const SCENARIO_BUDGET: Duration = Duration::from_secs(60);
/// Bound on building the live binary (cold: about 80 s on two cores).
const BUILD_LIMIT: Duration = Duration::from_secs(900);

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Skip (print why) or, under CI, fail. Returns so the caller can `return`.
fn skip_or_fail(why: &str) {
    if std::env::var_os("CI").is_some() {
        panic!("live capture test cannot run: {why} (CI is set: not skipping)");
    }
    eprintln!("skipping the live capture test: {why}");
}

fn runs(cmd: &str, args: &[&str]) -> bool {
    Command::new(cmd)
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

fn output(cmd: &str, args: &[&str]) -> Output {
    Command::new(cmd)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {cmd}: {e}"))
}

/// Run a command that must succeed.
fn must(cmd: &str, args: &[&str]) {
    let o = output(cmd, args);
    assert!(
        o.status.success(),
        "`{cmd} {}` failed ({}): {}",
        args.join(" "),
        o.status,
        String::from_utf8_lossy(&o.stderr).trim()
    );
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Server {
    Pyftpdlib,
    Vsftpd,
}

impl Server {
    /// The user curl logs in as.
    fn user(self) -> &'static str {
        match self {
            Server::Pyftpdlib => "ftlive",
            Server::Vsftpd => "anonymous",
        }
    }
}

/// What is missing, or the server to use.
fn prerequisites() -> Result<Server, String> {
    let uid = Command::new("id")
        .arg("-u")
        .output()
        .map_err(|e| format!("cannot run id: {e}"))?;
    if String::from_utf8_lossy(&uid.stdout).trim() != "0" {
        return Err(
            "not running as root (needed for network namespaces and packet capture)".into(),
        );
    }
    if !runs("ip", &["-V"]) {
        return Err("`ip` (iproute2) is not installed".into());
    }
    if !runs("curl", &["--version"]) {
        return Err("curl is not installed".into());
    }
    if !Path::new("/usr/include/pcap.h").exists() && !runs("pkg-config", &["--exists", "libpcap"]) {
        return Err("libpcap headers are not installed (apt-get install libpcap-dev)".into());
    }
    let py = Path::new(PY).exists() && runs(PY, &["-c", "import pyftpdlib"]);
    let vs = Path::new(VSFTPD).exists();
    match std::env::var("FTPTRACE_LIVE_SERVER").ok().as_deref() {
        Some("vsftpd") if vs => Ok(Server::Vsftpd),
        Some("vsftpd") => Err(format!(
            "FTPTRACE_LIVE_SERVER=vsftpd but {VSFTPD} is not installed"
        )),
        Some("pyftpdlib") if py => Ok(Server::Pyftpdlib),
        Some("pyftpdlib") => Err(format!(
            "FTPTRACE_LIVE_SERVER=pyftpdlib but {PY} cannot import pyftpdlib"
        )),
        _ if py => Ok(Server::Pyftpdlib),
        _ if vs => Ok(Server::Vsftpd),
        _ => Err(format!(
            "no FTP server: neither python3-pyftpdlib (under {PY}) nor vsftpd is installed"
        )),
    }
}

/// The `ftptrace` binary with the `live` feature.
fn live_binary() -> PathBuf {
    if cfg!(feature = "live") {
        return PathBuf::from(env!("CARGO_BIN_EXE_ftptrace"));
    }
    let target = root().join("target").join("live");
    let t0 = Instant::now();
    let log = target.join("build.log");
    fs::create_dir_all(&target).unwrap();
    let mut child = Command::new(env!("CARGO"))
        .args(["build", "--features", "live", "--bin", "ftptrace"])
        .current_dir(root())
        .env("CARGO_TARGET_DIR", &target)
        .stdout(Stdio::null())
        .stderr(fs::File::create(&log).unwrap())
        .spawn()
        .expect("cannot run cargo");
    // A cold build takes a minute or two; a stuck one (a lock, say) must not hang the suite.
    let st = wait_timeout(&mut child, BUILD_LIMIT).unwrap_or_else(|| {
        let _ = child.kill();
        let _ = child.wait();
        panic!(
            "cargo build --features live took more than {BUILD_LIMIT:?}; see {}",
            log.display()
        )
    });
    assert!(
        st.success(),
        "cargo build --features live failed ({st}):\n{}",
        fs::read_to_string(&log).unwrap_or_default()
    );
    eprintln!("live binary built in {:.1} s", t0.elapsed().as_secs_f64());
    target.join("debug").join("ftptrace")
}

/// Namespaces, veth pair and the processes started inside them; all removed on drop.
struct Net {
    srv: String,
    cli: String,
    vs: String,
    vc: String,
    children: Vec<Child>,
}

fn netns_list() -> Vec<String> {
    let o = output("ip", &["netns", "list"]);
    String::from_utf8_lossy(&o.stdout)
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .map(str::to_string)
        .collect()
}

fn kill_namespace(ns: &str) {
    let o = output("ip", &["netns", "pids", ns]);
    for pid in String::from_utf8_lossy(&o.stdout).split_whitespace() {
        let _ = runs("kill", &["-KILL", pid]);
    }
    let _ = runs("ip", &["netns", "del", ns]);
}

/// Remove namespaces and links of earlier runs whose process is gone.
fn remove_leftovers() {
    let dead = |pid: &str| {
        !pid.is_empty()
            && pid.bytes().all(|b| b.is_ascii_digit())
            && !Path::new("/proc").join(pid).exists()
    };
    for ns in netns_list() {
        if let Some(pid) = ns
            .strip_prefix("ftl-srv-")
            .or_else(|| ns.strip_prefix("ftl-cli-"))
        {
            if dead(pid) {
                kill_namespace(&ns);
            }
        }
    }
    let o = output("ip", &["-o", "link", "show"]);
    for line in String::from_utf8_lossy(&o.stdout).lines() {
        let Some(name) = line.split(": ").nth(1) else {
            continue;
        };
        let name = name.split('@').next().unwrap_or(name);
        if let Some(pid) = name
            .strip_prefix("ftlvs")
            .or_else(|| name.strip_prefix("ftlvc"))
        {
            if dead(pid) {
                let _ = runs("ip", &["link", "del", name]);
            }
        }
    }
}

impl Net {
    /// Build the two namespaces; Err when the kernel or container does not allow it.
    fn new() -> Result<Net, String> {
        remove_leftovers();
        let pid = std::process::id();
        let net = Net {
            srv: format!("ftl-srv-{pid}"),
            cli: format!("ftl-cli-{pid}"),
            vs: format!("ftlvs{pid}"),
            vc: format!("ftlvc{pid}"),
            children: Vec::new(),
        };
        let o = output("ip", &["netns", "add", &net.srv]);
        if !o.status.success() {
            return Err(format!(
                "cannot create a network namespace: {}",
                String::from_utf8_lossy(&o.stderr).trim()
            ));
        }
        must("ip", &["netns", "add", &net.cli]);
        must(
            "ip",
            &[
                "link", "add", &net.vs, "type", "veth", "peer", "name", &net.vc,
            ],
        );
        must("ip", &["link", "set", &net.vs, "netns", &net.srv]);
        must("ip", &["link", "set", &net.vc, "netns", &net.cli]);
        for (ns, dev, addr) in [(&net.srv, &net.vs, SRV_IP), (&net.cli, &net.vc, CLI_IP)] {
            must("ip", &["-n", ns, "link", "set", "lo", "up"]);
            must("ip", &["-n", ns, "link", "set", dev, "mtu", "1500"]);
            must(
                "ip",
                &["-n", ns, "addr", "add", &format!("{addr}/24"), "dev", dev],
            );
            must("ip", &["-n", ns, "link", "set", dev, "up"]);
            // Real-wire segments instead of 64 KB super-segments (best effort: ethtool is optional).
            let _ = runs(
                "ip",
                &[
                    "netns", "exec", ns, "ethtool", "-K", dev, "tso", "off", "gso", "off", "gro",
                    "off", "tx", "off", "rx", "off",
                ],
            );
        }
        Ok(net)
    }

    /// `ip netns exec NS program args...` as a command.
    fn exec(&self, ns: &str, program: &str, args: &[&str]) -> Command {
        let mut c = Command::new("ip");
        c.args(["netns", "exec", ns, program]).args(args);
        c
    }

    /// Start a long-running process; the guard kills it. Returns its index in `children`.
    /// `ip netns exec` execs the program in place, so the child's pid is the program's.
    fn spawn(&mut self, mut cmd: Command) -> usize {
        let child = cmd.spawn().expect("cannot spawn");
        self.children.push(child);
        self.children.len() - 1
    }

    /// Wait until something listens on TCP `port` in the server namespace.
    fn wait_listen(&mut self, port: u16, server: usize, deadline: Instant) {
        let filter = format!("sport = :{port}");
        loop {
            let o = self
                .exec(&self.srv, "ss", &["-Hltn", &filter])
                .output()
                .expect("ss");
            if String::from_utf8_lossy(&o.stdout).contains("LISTEN") {
                return;
            }
            if let Ok(Some(st)) = self.children[server].try_wait() {
                panic!("the FTP server exited before listening: {st}");
            }
            assert!(
                Instant::now() < deadline,
                "the FTP server did not listen on port {port} in time"
            );
            sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Net {
    fn drop(&mut self) {
        for c in &mut self.children {
            let _ = c.kill();
            let _ = c.wait();
        }
        for ns in [&self.srv, &self.cli] {
            kill_namespace(ns);
        }
        // Normally gone with its namespace; left in the root namespace only if setup stopped early.
        let _ = runs("ip", &["link", "del", &self.vs]);
    }
}

/// A deterministic payload.
fn payload() -> Vec<u8> {
    (0..PAYLOAD_LEN).map(|i| (i * 7 + i / 251) as u8).collect()
}

/// Files served, and the server's command line.
fn start_server(net: &mut Net, server: Server, dir: &Path, deadline: Instant) {
    let files = dir.join("files");
    fs::create_dir_all(&files).unwrap();
    fs::write(files.join("payload.bin"), payload()).unwrap();
    fs::write(files.join("readme.txt"), "ftptrace live capture test\n").unwrap();
    // vsftpd drops to the `ftp` user after chroot: the tree must be world-readable.
    use std::os::unix::fs::PermissionsExt;
    for p in [dir.to_path_buf(), files.clone()] {
        fs::set_permissions(&p, fs::Permissions::from_mode(0o755)).unwrap();
    }
    let srv = net.srv.clone();
    let log = fs::File::create(dir.join("server.log")).unwrap();
    let cmd = match server {
        Server::Pyftpdlib => {
            let script = r#"
import sys
from pyftpdlib.authorizers import DummyAuthorizer
from pyftpdlib.handlers import FTPHandler
from pyftpdlib.servers import FTPServer
auth = DummyAuthorizer()
auth.add_user("ftlive", "s3cret", sys.argv[3], perm="elr")
FTPHandler.authorizer = auth
FTPHandler.passive_ports = range(42000, 42100)
FTPHandler.banner = "ftptrace live test server"
FTPServer((sys.argv[1], int(sys.argv[2])), FTPHandler).serve_forever()
"#;
            let mut c = net.exec(
                &srv,
                PY,
                &["-c", script, SRV_IP, "21", files.to_str().unwrap()],
            );
            c.stdout(log.try_clone().unwrap()).stderr(log);
            c
        }
        Server::Vsftpd => {
            fs::create_dir_all("/var/run/vsftpd/empty").unwrap();
            let conf = dir.join("vsftpd.conf");
            fs::write(
                &conf,
                format!(
                    "listen=YES\nlisten_address={SRV_IP}\nlisten_ipv6=NO\nbackground=NO\nseccomp_sandbox=NO\n\
                     isolate=NO\nisolate_network=NO\nanonymous_enable=YES\nanon_root={}\nno_anon_password=NO\n\
                     anon_upload_enable=NO\nanon_mkdir_write_enable=NO\nlocal_enable=NO\nwrite_enable=NO\n\
                     secure_chroot_dir=/var/run/vsftpd/empty\npasv_enable=YES\npasv_min_port=42000\n\
                     pasv_max_port=42099\nuse_localtime=NO\nftpd_banner=ftptrace live test server\n\
                     xferlog_enable=YES\nxferlog_std_format=NO\nlog_ftp_protocol=YES\nvsftpd_log_file={}\n",
                    files.display(),
                    dir.join("vsftpd.log").display()
                ),
            )
            .unwrap();
            let mut c = net.exec(&srv, VSFTPD, &[conf.to_str().unwrap()]);
            c.stdout(log.try_clone().unwrap()).stderr(log);
            c
        }
    };
    let i = net.spawn(cmd);
    net.wait_listen(21, i, deadline);
}

/// Send a signal by number-free name through kill(1) (no libc in dev-dependencies).
fn signal(child: &Child, sig: &str) {
    must("kill", &[&format!("-{sig}"), &child.id().to_string()]);
}

fn wait_timeout(child: &mut Child, limit: Duration) -> Option<ExitStatus> {
    let end = Instant::now() + limit;
    loop {
        if let Some(st) = child.try_wait().expect("try_wait") {
            return Some(st);
        }
        if Instant::now() >= end {
            return None;
        }
        sleep(Duration::from_millis(20));
    }
}

/// A running `ftptrace sniff` in the client namespace.
struct Sniffer {
    index: usize,
    out: PathBuf,
    err: PathBuf,
}

impl Sniffer {
    fn start(net: &mut Net, bin: &Path, format: &str, dir: &Path, deadline: Instant) -> Sniffer {
        let out = dir.join(format!("sniff.{format}"));
        let err = dir.join(format!("sniff-{format}.stderr"));
        let mut cmd = net.exec(
            &net.cli,
            bin.to_str().unwrap(),
            &[
                "sniff",
                "-i",
                &net.vc,
                "--format",
                format,
                "-o",
                out.to_str().unwrap(),
            ],
        );
        cmd.stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(fs::File::create(&err).unwrap());
        let index = net.spawn(cmd);
        let s = Sniffer { index, out, err };
        // Capturing once its packet socket exists in the client namespace (the only one
        // there); a short pause more covers the filter being attached.
        let pid = net.children[index].id();
        loop {
            if let Ok(Some(st)) = net.children[index].try_wait() {
                panic!("ftptrace sniff exited at start ({st}): {}", s.stderr());
            }
            let sockets = fs::read_to_string(format!("/proc/{pid}/net/packet")).unwrap_or_default();
            if sockets.lines().count() > 1 {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "ftptrace sniff did not open its capture in time"
            );
            sleep(Duration::from_millis(20));
        }
        sleep(Duration::from_millis(300));
        s
    }

    fn stderr(&self) -> String {
        fs::read_to_string(&self.err).unwrap_or_default()
    }

    fn output(&self) -> String {
        fs::read_to_string(&self.out).unwrap_or_default()
    }

    /// Send `sig` (INT or TERM), then the exit status (within 20 s).
    fn stop(&self, net: &mut Net, sig: &str) -> ExitStatus {
        let child = &mut net.children[self.index];
        signal(child, sig);
        match wait_timeout(child, Duration::from_secs(20)) {
            Some(st) => st,
            None => panic!(
                "ftptrace sniff did not exit within 20 s of SIG{sig}: {}",
                self.stderr()
            ),
        }
    }
}

/// curl in the client namespace: LIST of / then RETR payload.bin on one control connection.
fn run_curl(net: &Net, server: Server, dir: &Path, tag: &str) {
    let list = dir.join(format!("list-{tag}.txt"));
    let got = dir.join(format!("payload-{tag}.bin"));
    let mut args = vec!["-sS".to_string(), "--max-time".into(), "15".into()];
    if server == Server::Pyftpdlib {
        args.extend(["-u".into(), "ftlive:s3cret".into()]);
    }
    args.extend([
        format!("ftp://{SRV_IP}/"),
        "-o".into(),
        list.to_str().unwrap().into(),
        format!("ftp://{SRV_IP}/payload.bin"),
        "-o".into(),
        got.to_str().unwrap().into(),
    ]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let o = net.exec(&net.cli, "curl", &args).output().expect("curl");
    assert!(
        o.status.success(),
        "curl failed ({}): {}",
        o.status,
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(
        fs::read_to_string(&list).unwrap().contains("payload.bin"),
        "listing lacks payload.bin"
    );
    assert!(
        fs::read(&got).unwrap() == payload(),
        "curl downloaded something else than payload.bin"
    );
}

/// The one curl session as ftptrace must report it.
fn check_session(s: &Value, server: Server) {
    let ctx = || serde_json::to_string_pretty(s).unwrap();
    assert_eq!(s["client"]["ip"], CLI_IP, "{}", ctx());
    assert_eq!(s["server"]["ip"], SRV_IP, "{}", ctx());
    assert_eq!(s["server"]["port"], 21, "{}", ctx());
    assert_eq!(s["user"], server.user(), "{}", ctx());
    assert_eq!(s["password"], "<hidden>", "{}", ctx());
    assert_eq!(s["login"], "success", "{}", ctx());
    assert_eq!(s["tls"], false, "{}", ctx());
    assert_eq!(s["close"], "fin", "{}", ctx());
    let verbs: Vec<&str> = s["commands"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["command"].as_str().unwrap())
        .collect();
    for v in ["USER", "PASS", "EPSV", "LIST", "RETR", "QUIT"] {
        assert!(verbs.contains(&v), "{v} missing from commands {verbs:?}");
    }
    assert_eq!(
        verbs.first(),
        Some(&""),
        "the greeting comes first: {verbs:?}"
    );

    let transfers = s["transfers"].as_array().unwrap();
    assert_eq!(transfers.len(), 2, "LIST and RETR: {}", ctx());
    let list = &transfers[0];
    assert_eq!(list["command"], "LIST", "{}", ctx());
    assert_eq!(list["direction"], "listing");
    assert_eq!(list["status"], "complete");
    let retr = &transfers[1];
    assert_eq!(retr["command"], "RETR", "{}", ctx());
    assert_eq!(retr["arg"], "payload.bin");
    assert_eq!(retr["path"], "/payload.bin");
    assert_eq!(retr["direction"], "download");
    assert_eq!(retr["mode"], "passive");
    assert_eq!(retr["setup"], "EPSV");
    assert_eq!(retr["bytes"], PAYLOAD_LEN as u64, "{}", ctx());
    assert_eq!(retr["captured_bytes"], PAYLOAD_LEN as u64, "{}", ctx());
    assert_eq!(retr["missing_bytes"], 0);
    assert_eq!(retr["status"], "complete");
    assert_eq!(retr["reply_code"], 226);
    assert_eq!(retr["data_server"]["ip"], SRV_IP);
    assert_eq!(retr["data_client"]["ip"], CLI_IP);

    // The control connection's handshake, then its teardown.
    let tcp: Vec<(&str, &str)> = s["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["conn"] == "control" && e["kind"] == "tcp")
        .map(|e| (e["from"].as_str().unwrap(), e["what"].as_str().unwrap()))
        .collect();
    assert!(
        tcp.len() >= 3 && tcp[..3] == [("client", "SYN"), ("server", "SYN+ACK"), ("client", "ACK")],
        "control handshake events: {tcp:?}"
    );
    assert!(
        tcp[3..].iter().any(|(_, w)| w.starts_with("FIN")),
        "no FIN on the control connection: {tcp:?}"
    );
    // The data connection shows up in the timeline too.
    assert!(
        s["timeline"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["conn"] == "data:2" && e["kind"] == "data"),
        "no data event for the RETR: {}",
        ctx()
    );
}

#[test]
fn sniff_captures_a_real_ftp_session() {
    let server = match prerequisites() {
        Ok(s) => s,
        Err(why) => return skip_or_fail(&why),
    };
    let bin = live_binary();
    let t0 = Instant::now();
    let deadline = t0 + SCENARIO_BUDGET;
    let dir = tempfile::Builder::new()
        .prefix("ftptrace-live-")
        .tempdir()
        .unwrap();
    let dir = dir.path();
    let mut net = match Net::new() {
        Ok(n) => n,
        Err(why) => return skip_or_fail(&why),
    };
    eprintln!("namespaces {} / {}, server {server:?}", net.srv, net.cli);
    start_server(&mut net, server, dir, deadline);

    // 1. --format json: one document after SIGINT.
    let sniff = Sniffer::start(&mut net, &bin, "json", dir, deadline);
    run_curl(&net, server, dir, "json");
    sleep(Duration::from_millis(300)); // the last ACKs of the teardown
    let st = sniff.stop(&mut net, "INT");
    assert_eq!(
        st.code(),
        Some(0),
        "ftptrace sniff after SIGINT: {st}; stderr: {}",
        sniff.stderr()
    );
    let text = sniff.output();
    let v: Value = serde_json::from_str(&text).unwrap_or_else(|e| {
        panic!(
            "sniff --format json wrote no JSON ({e}): {text:?}; stderr: {}",
            sniff.stderr()
        )
    });
    // stderr: where it captures at start, drop counts at the end.
    let err = sniff.stderr();
    let said: Vec<&str> = err.lines().collect();
    assert!(
        said.first()
            .is_some_and(|l| l.starts_with("ftptrace: capturing on ") && l.contains("(filter ")),
        "no start line: {err}"
    );
    assert!(
        said.last().is_some_and(|l| l.contains("received by filter")
            && l.contains("dropped by kernel")
            && l.contains("dropped by interface")),
        "no drop counts at the end: {err}"
    );
    assert_eq!(v["schema"], "ftptrace/1");
    let sessions = v["sessions"].as_array().unwrap();
    assert_eq!(sessions.len(), 1, "one session expected: {text}");
    check_session(&sessions[0], server);
    assert_eq!(v["stats"]["ftp_sessions"], 1);
    assert_eq!(v["stats"]["data_connections"], 2);
    assert_eq!(v["stats"]["unmatched_data_connections"], 0);
    assert_eq!(
        v["stats"]["capture_gaps"], 0,
        "capture loss on an idle veth: {text}"
    );
    assert!(
        v["stats"]["packets"].as_u64().unwrap() > 200,
        "{}",
        v["stats"]
    );
    eprintln!("json run done at {:.1} s", t0.elapsed().as_secs_f64());

    // 2. --format jsonl: each session is written when it ends, before SIGTERM.
    let sniff = Sniffer::start(&mut net, &bin, "jsonl", dir, deadline);
    for n in 1..=2 {
        run_curl(&net, server, dir, &format!("jsonl{n}"));
        let until = Instant::now() + Duration::from_secs(5);
        while sniff.output().matches('\n').count() < n && Instant::now() < until {
            sleep(Duration::from_millis(50));
        }
        let text = sniff.output();
        assert_eq!(
            text.matches('\n').count(),
            n,
            "after {n} finished session(s) and 5 s, sniff --format jsonl should have written {n} line(s): {text:?}; stderr: {}",
            sniff.stderr()
        );
        let last: Value = serde_json::from_str(text.lines().last().unwrap()).unwrap();
        assert_eq!(last["id"], n as u64);
        check_session(&last, server);
    }
    let st = sniff.stop(&mut net, "TERM");
    assert_eq!(
        st.code(),
        Some(0),
        "ftptrace sniff after SIGTERM: {st}; stderr: {}",
        sniff.stderr()
    );
    assert_eq!(
        sniff.output().lines().count(),
        2,
        "nothing more after SIGTERM: {}",
        sniff.output()
    );
    assert!(
        sniff.stderr().contains("2 FTP sessions"),
        "stats on stderr: {}",
        sniff.stderr()
    );

    let took = t0.elapsed();
    eprintln!("live scenario took {:.1} s", took.as_secs_f64());
    assert!(took < SCENARIO_BUDGET, "the live scenario took {took:?}");
    drop(net);
    assert!(
        !netns_list()
            .iter()
            .any(|n| n.ends_with(&format!("-{}", std::process::id()))),
        "namespaces left behind"
    );
}

/// Without the feature, `sniff` says how to get it and exits 2 (a usage error).
#[cfg(not(feature = "live"))]
#[test]
fn sniff_without_the_live_feature_exits_2() {
    let o = Command::new(env!("CARGO_BIN_EXE_ftptrace"))
        .args(["sniff", "-i", "lo"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("--features live") && err.contains("libpcap"),
        "{err}"
    );
    assert_eq!(err.lines().count(), 1, "one clear line: {err}");
    assert!(o.stdout.is_empty());
}
