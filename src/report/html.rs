//! One self-contained HTML page: session and transfer tables plus an SVG sequence diagram per session.
//!
//! No scripts, no fonts, no images fetched: CSS and SVG are inline and a
//! Content-Security-Policy forbids any network access. Every drawn event is a
//! `<g class="event" data-session=".." data-conn=".." data-kind=".." data-from=".." data-idx="..">`
//! in timeline order, so tests (and users' scripts) can find them.

use std::fmt::Write as _;
use std::io::{self, Write};

use super::human;
use super::table::{
    direction_word, mode_word, transfer_bytes, transfer_command, transfer_file, transfer_hash,
    transfer_path, transfer_rate,
};
use super::text::escape_terminal;
use super::timeline::{conn_transfer, data_ports};
use crate::model::{
    Anomaly, Event, EventKind, Login, Report, Session, Side, Transfer, TransferStatus,
};

/// Escape for HTML text and attribute values; wire control characters are
/// first made visible (`\x1b`), as in the terminal.
pub fn escape_html(s: &str) -> String {
    let shown = escape_terminal(s);
    let mut out = String::with_capacity(shown.len() + 8);
    for c in shown.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Cut a (raw) string to `max` characters with "…".
fn cut(s: &str, max: usize) -> String {
    if s.chars().count() > max {
        let mut c: String = s.chars().take(max - 1).collect();
        c.push('…');
        c
    } else {
        s.to_string()
    }
}

const CONTROL_COLOR: &str = "#1c64c8";
const DATA_COLORS: [&str; 8] = [
    "#e8590c", "#2b8a3e", "#ae3ec9", "#c92a2a", "#0c8599", "#d6336c", "#5c940d", "#7048e8",
];
const ANOMALY_COLOR: &str = "#e03131";
/// Most listing entries drawn per listing (the JSON has them all).
const MAX_LISTING_ROWS: usize = 500;

fn conn_color(s: &Session, conn: &str) -> &'static str {
    match conn_transfer(s, conn) {
        Some(_) => {
            let n: usize = conn.trim_start_matches("data:").parse().unwrap_or(1);
            DATA_COLORS[(n - 1) % DATA_COLORS.len()]
        }
        None => CONTROL_COLOR,
    }
}

const CSS: &str = r#"
:root { color-scheme: light; }
body { margin: 0; background: #f6f7f9; color: #1f2328;
  font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", "Liberation Sans", sans-serif; }
main { max-width: 1500px; margin: 0 auto; padding: 22px 20px 48px; }
h1 { font-size: 24px; margin: 0 0 4px; }
h1 small { font-weight: 400; color: #656d76; font-size: 14px; }
h2 { font-size: 18px; margin: 28px 0 10px; }
p.summary { margin: 0 0 8px; color: #424a53; }
.mono, td.mono, code { font-family: ui-monospace, "DejaVu Sans Mono", "Liberation Mono", Menlo, Consolas, monospace; font-size: 12.5px; }
table { border-collapse: collapse; background: #fff; border: 1px solid #d0d7de; border-radius: 6px; overflow: hidden; }
th, td { padding: 5px 10px; border-bottom: 1px solid #eaeef2; text-align: left; vertical-align: top; }
th { background: #f0f3f6; font-weight: 600; color: #424a53; font-size: 12.5px; }
tr:nth-child(even) td { background: #fafbfc; }
td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
.badge { display: inline-block; white-space: nowrap; padding: 0 8px; border-radius: 10px; font-size: 12px; font-weight: 600; }
.ok { background: #dafbe1; color: #1a7f37; }
.bad { background: #ffebe9; color: #cf222e; }
.warn { background: #fff8c5; color: #9a6700; }
.muted { color: #656d76; }
section.session { margin-top: 34px; background: #fff; border: 1px solid #d0d7de; border-radius: 8px; padding: 14px 14px 18px; }
section.session h2 { margin-top: 0; }
.meta { color: #424a53; margin: 0 0 10px; }
.meta b { color: #1f2328; }
.scroll { overflow-x: auto; }
ul.anomalies { margin: 8px 0 0; padding-left: 20px; color: #cf222e; }
.legend { display: flex; flex-wrap: wrap; gap: 18px; font-size: 12.5px; color: #424a53; margin: 4px 0 8px; }
.legend svg { vertical-align: middle; }
svg.diagram { display: block; }
svg.diagram text { font-family: system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", sans-serif; }
svg .lbl { font-size: 13px; paint-order: stroke; stroke: #fff; stroke-width: 4px; stroke-linejoin: round; }
svg .lbl.tcp { font-family: ui-monospace, "DejaVu Sans Mono", Menlo, monospace; font-size: 11.5px; }
svg .lbl.command { font-weight: 700; fill: #1f2328; }
svg .lbl.reply { fill: #1f2328; }
svg .lbl.data { font-weight: 700; }
svg .lbl.anomaly { font-weight: 700; fill: #e03131; }
svg .time { font-family: ui-monospace, "DejaVu Sans Mono", Menlo, monospace; font-size: 11.5px; fill: #1f2328; }
svg .tod { font-family: ui-monospace, "DejaVu Sans Mono", Menlo, monospace; font-size: 10.5px; fill: #8c959f; }
svg .head { font-size: 12px; font-weight: 700; }
svg .sub { font-size: 11px; fill: #424a53; }
svg .lane { font-size: 12px; font-weight: 700; letter-spacing: .06em; fill: #57606a; }
svg .note { font-size: 11.5px; fill: #5c4600; }
svg g.event:hover .lbl { text-decoration: underline; }
"#;

fn login_badge(s: &Session) -> String {
    let (class, word) = match s.login {
        Login::Success => ("ok", "success"),
        Login::Failed => ("bad", "failed"),
        Login::None => ("warn", "none"),
    };
    let tls = if s.tls {
        " <span class=\"badge ok\">TLS</span>"
    } else {
        ""
    };
    format!("<span class=\"badge {class}\">{word}</span>{tls}")
}

fn status_badge(st: TransferStatus, code: Option<u16>) -> String {
    let (class, word) = match st {
        TransferStatus::Complete => ("ok", "complete"),
        TransferStatus::Aborted => ("bad", "aborted"),
        TransferStatus::Failed => ("bad", "failed"),
        TransferStatus::Incomplete => ("warn", "incomplete"),
    };
    let code = code.map(|c| format!(" {c}")).unwrap_or_default();
    format!("<span class=\"badge {class}\">{word}{code}</span>")
}

fn sessions_table(r: &Report, h: &mut String) {
    h.push_str("<table class=\"sessions\"><thead><tr><th>#</th><th>client</th><th>server</th><th>user</th><th>login</th><th>cmds</th><th>transfers</th><th>duration</th><th>anomalies</th></tr></thead><tbody>\n");
    for s in &r.sessions {
        let (n_cmds, transfers) = super::session_counts(s);
        let anomalies = if s.anomalies.is_empty() {
            "0".to_string()
        } else {
            format!("<span class=\"badge warn\">{}</span>", s.anomalies.len())
        };
        let _ = writeln!(
            h,
            "<tr><td class=\"num\"><a href=\"#session-{id}\">{id}</a></td><td class=\"mono\">{}</td><td class=\"mono\">{}</td><td class=\"mono\">{}</td><td>{}</td><td class=\"num\">{n_cmds}</td><td class=\"num\">{transfers}</td><td class=\"num\">{}</td><td class=\"num\">{anomalies}</td></tr>",
            escape_html(&human::endpoint(&s.client)),
            escape_html(&super::server_label(s)),
            s.user.as_deref().map(|u| escape_html(&cut(u, 200))).unwrap_or_else(|| "-".into()),
            login_badge(s),
            human::duration(s.end.secs_since(s.start)),
            id = s.id,
        );
    }
    h.push_str("</tbody></table>\n");
}

fn transfers_table(r: &Report, h: &mut String) {
    h.push_str("<table class=\"transfers\"><thead><tr><th>session</th><th>#</th><th>command</th><th>path</th><th>direction</th><th>mode</th><th>data connection</th><th>bytes</th><th>rate</th><th>status</th><th>sha256 / file</th></tr></thead><tbody>\n");
    for s in &r.sessions {
        for (i, t) in s.transfers.iter().enumerate() {
            let color = DATA_COLORS[i % DATA_COLORS.len()];
            let _ = writeln!(
                h,
                "<tr><td class=\"num\">{}</td><td class=\"num\"><span style=\"color:{color};font-weight:700\">data:{}</span></td><td class=\"mono\">{}</td><td class=\"mono\">{}</td><td>{}</td><td>{}</td><td class=\"mono\">{} → {}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td>{}</td><td class=\"mono\">{}{}</td></tr>",
                s.id,
                i + 1,
                escape_html(&cut(transfer_command(t), 40)),
                escape_html(&cut(transfer_path(t), 200)),
                direction_word(t.direction),
                mode_word(t),
                escape_html(&human::endpoint(&t.data_client)),
                escape_html(&human::endpoint(&t.data_server)),
                transfer_bytes(t),
                transfer_rate(t),
                status_badge(t.status, t.reply_code),
                escape_html(&transfer_hash(t, true)),
                file_and_listing(t),
            );
        }
    }
    h.push_str("</tbody></table>\n");
}

/// The `--extract` file and, for a listing, its entries (folded).
fn file_and_listing(t: &Transfer) -> String {
    let mut h = String::new();
    if t.extracted.is_some() {
        let _ = write!(h, "<br>{}", escape_html(&transfer_file(t)));
    }
    if let Some(l) = t.listing.as_ref().filter(|l| !l.entries.is_empty()) {
        let _ = write!(
            h,
            "<details class=\"listing\"><summary>{} entries{}</summary><table><thead><tr><th>name</th><th>type</th><th>size</th><th>time</th></tr></thead><tbody>",
            l.entries.len(),
            if l.truncated { " (truncated)" } else { "" }
        );
        for e in l.entries.iter().take(MAX_LISTING_ROWS) {
            let _ = write!(
                h,
                "<tr><td>{}</td><td>{}</td><td class=\"num\">{}</td><td>{}</td></tr>",
                escape_html(&cut(&e.name, 200)),
                e.kind,
                e.size.map(|n| n.to_string()).unwrap_or_default(),
                escape_html(e.time.as_deref().unwrap_or("")),
            );
        }
        h.push_str("</tbody></table></details>");
    }
    h
}

fn anomalies_list(list: &[&Anomaly], h: &mut String) {
    h.push_str("<ul class=\"anomalies\">\n");
    for a in list {
        let sessions = if a.sessions.is_empty() {
            String::new()
        } else {
            let ids: Vec<String> = a.sessions.iter().map(u64::to_string).collect();
            format!(
                " <span class=\"muted\">(sessions {})</span>",
                ids.join(", ")
            )
        };
        let _ = writeln!(
            h,
            "<li><span class=\"mono muted\">{}</span> <b>{}</b>: {}{sessions}</li>",
            a.ts,
            escape_html(a.kind),
            escape_html(&cut(&a.detail, 300)),
        );
    }
    h.push_str("</ul>\n");
}

/// Horizontal positions of a session's lifelines.
struct Lanes {
    /// Client side and server side x of the control connection (index 0) and
    /// of each data connection (index N for "data:N").
    client: Vec<f64>,
    server: Vec<f64>,
    client_lane: (f64, f64),
    server_lane: (f64, f64),
    center: f64,
    width: f64,
    /// Width of a data connection's head box.
    data_box: f64,
    /// The DNS lane's x (right of the server lane), when a lookup named the server.
    dns: Option<f64>,
}

/// Width of the DNS lane.
const DNS_LANE: f64 = 200.0;
/// Colour of the DNS lane and its arrows.
const DNS_COLOR: &str = "#0b7285";

const GUTTER: f64 = 170.0;
const CONTROL_BOX: f64 = 150.0;
const MAX_LABEL: usize = 96;

fn lanes(s: &Session, n: usize) -> Lanes {
    let spacing = if n == 0 {
        0.0
    } else {
        (560.0 / n as f64).clamp(40.0, 86.0)
    };
    let lane_left = GUTTER + 8.0;
    let ctrl = lane_left + 82.0;
    let data_box = (spacing - 8.0).min(92.0);
    let first = CONTROL_BOX / 2.0 + data_box / 2.0 + 10.0;
    let client: Vec<f64> = (0..=n)
        .map(|k| match k {
            0 => ctrl,
            k => ctrl + first + (k - 1) as f64 * spacing,
        })
        .collect();
    let client_right = client[n] + 62.0;
    // The centre gap holds the labels (all arrows are centred on the page's
    // middle, since the server side mirrors the client side).
    let longest = s
        .timeline
        .iter()
        .flat_map(|e| e.what.split('\n').map(|l| l.chars().count().min(MAX_LABEL)))
        .max()
        .unwrap_or(0) as f64;
    let gap = (longest * 6.6 + 30.0 - 2.0 * (client_right - client[n])).clamp(300.0, 760.0);
    let center = client_right + gap / 2.0;
    let server: Vec<f64> = client.iter().map(|x| 2.0 * center - x).collect();
    let server_left = 2.0 * center - client_right;
    let server_right = 2.0 * center - lane_left;
    let dns = s
        .timeline
        .iter()
        .any(|e| e.conn == "dns")
        .then_some(server_right + 16.0 + DNS_LANE / 2.0);
    Lanes {
        client,
        server,
        client_lane: (lane_left, client_right),
        server_lane: (server_left, server_right),
        center,
        width: dns.map_or(server_right + 16.0, |x| x + DNS_LANE / 2.0 + 16.0),
        data_box,
        dns,
    }
}

/// The lane (1, 2, …) of each transfer that has events; 0 for one without (its data
/// connection is not in the capture, or was placed in the session at the end): it gets no
/// lane of its own.
fn lane_map(s: &Session) -> Vec<usize> {
    let mut has = vec![false; s.transfers.len()];
    for e in &s.timeline {
        if let Some(k) = e
            .conn
            .strip_prefix("data:")
            .and_then(|k| k.parse::<usize>().ok())
        {
            if let Some(h) = k.checked_sub(1).and_then(|i| has.get_mut(i)) {
                *h = true;
            }
        }
    }
    let mut next = 0;
    has.iter()
        .map(|&h| {
            next += usize::from(h);
            if h {
                next
            } else {
                0
            }
        })
        .collect()
}

fn lane_index(s: &Session, map: &[usize], conn: &str) -> usize {
    match conn_transfer(s, conn) {
        Some(_) => conn
            .trim_start_matches("data:")
            .parse::<usize>()
            .ok()
            .and_then(|k| map.get(k.checked_sub(1)?).copied())
            .unwrap_or(0),
        None => 0,
    }
}

/// The label lines of an event (raw wire text, cut; escaped when written).
fn label_lines(e: &Event) -> Vec<String> {
    match e.kind {
        EventKind::Tcp => vec![cut(&e.what, MAX_LABEL)],
        EventKind::Command => vec![cut(&e.what, MAX_LABEL)],
        EventKind::Reply => e
            .what
            .split('\n')
            .map(|l| cut(l.strip_suffix('\r').unwrap_or(l), MAX_LABEL))
            .collect(),
        EventKind::Data => vec![format!("DATA · {}", cut(&e.what, MAX_LABEL))],
        EventKind::Dns => vec![cut(&e.what, MAX_LABEL)],
        EventKind::Anomaly => vec![format!(
            "⚠ {}: {}",
            e.note.as_deref().unwrap_or("anomaly"),
            cut(&e.what, MAX_LABEL)
        )],
    }
}

fn reply_code_color(line: &str) -> &'static str {
    match line.as_bytes().first() {
        Some(b'1') => "#1c64c8",
        Some(b'2') => "#1a7f37",
        Some(b'3') => "#0c8599",
        Some(b'4') | Some(b'5') => "#cf222e",
        _ => "#9a6700",
    }
}

/// One label line as SVG text content: a reply's code is coloured.
fn label_content(e: &Event, line: &str) -> String {
    if e.kind == EventKind::Reply {
        let code_len = line.chars().take_while(char::is_ascii_digit).count();
        if code_len == 3 {
            let (code, rest) = line.split_at(3);
            return format!(
                "<tspan font-weight=\"700\" fill=\"{}\">{}</tspan>{}",
                reply_code_color(code),
                escape_html(code),
                escape_html(rest)
            );
        }
    }
    escape_html(line)
}

fn arrowhead(h: &mut String, x2: f64, y: f64, dir: f64, color: &str, open: bool) {
    let bx = x2 - dir * 10.0;
    if open {
        let _ = write!(
            h,
            "<polyline points=\"{bx:.1},{:.1} {x2:.1},{y:.1} {bx:.1},{:.1}\" fill=\"none\" stroke=\"{color}\" stroke-width=\"1.5\"/>",
            y - 5.0,
            y + 5.0
        );
    } else {
        let _ = write!(
            h,
            "<polygon points=\"{x2:.1},{y:.1} {bx:.1},{:.1} {bx:.1},{:.1}\" fill=\"{color}\"/>",
            y - 5.5,
            y + 5.5
        );
    }
}

/// The SVG sequence diagram of one session.
fn session_svg(s: &Session, h: &mut String) {
    let map = lane_map(s);
    let n = map.iter().copied().max().unwrap_or(0);
    let l = lanes(s, n);
    // Vertical layout: one block per event (label lines above the arrow, note below).
    let top = 92.0;
    let mut cursor = top;
    let mut rows = Vec::with_capacity(s.timeline.len());
    for e in &s.timeline {
        let lines = label_lines(e).len() as f64;
        let row_top = cursor;
        let y = cursor + 6.0 + lines * 15.0 + 4.0;
        cursor = y
            + 10.0
            + if e.note.is_some() && e.kind != EventKind::Anomaly && e.kind != EventKind::Dns {
                22.0
            } else {
                0.0
            };
        rows.push((row_top, y, cursor));
    }
    let height = cursor + 28.0;
    let _ = writeln!(
        h,
        "<svg class=\"diagram\" xmlns=\"http://www.w3.org/2000/svg\" width=\"{w:.0}\" height=\"{height:.0}\" viewBox=\"0 0 {w:.0} {height:.0}\" role=\"img\" aria-label=\"FTP session {} sequence diagram\">",
        s.id,
        w = l.width
    );
    // Lanes.
    for ((x0, x1), fill, stroke, title, ip) in [
        (l.client_lane, "#edf3fd", "#c9dbf5", "CLIENT", s.client.ip),
        (l.server_lane, "#fdf3e8", "#f3dcc0", "SERVER", s.server.ip),
    ] {
        let _ = writeln!(
            h,
            "<rect x=\"{x0:.1}\" y=\"8\" width=\"{:.1}\" height=\"{:.1}\" rx=\"10\" fill=\"{fill}\" stroke=\"{stroke}\"/><text class=\"lane\" x=\"{:.1}\" y=\"26\" text-anchor=\"middle\">{title} {}</text>",
            x1 - x0,
            height - 16.0,
            (x0 + x1) / 2.0,
            escape_html(&ip.to_string())
        );
    }
    // Zebra rows and the time gutter.
    let _ = writeln!(
        h,
        "<text class=\"sub\" x=\"12\" y=\"62\">time from start</text><text class=\"tod\" x=\"12\" y=\"76\">UTC time of day</text>"
    );
    for (i, ((row_top, y, row_bottom), e)) in rows.iter().zip(&s.timeline).enumerate() {
        if i % 2 == 1 {
            let _ = write!(
                h,
                "<rect x=\"4\" y=\"{row_top:.1}\" width=\"{:.1}\" height=\"{:.1}\" fill=\"#000\" fill-opacity=\"0.028\"/>",
                l.width - 8.0,
                row_bottom - row_top
            );
        }
        let _ = writeln!(
            h,
            "<text class=\"time\" x=\"12\" y=\"{:.1}\">{} s</text><text class=\"tod\" x=\"100\" y=\"{:.1}\">{}</text>",
            y + 4.0,
            human::relative(e.ts, s.start),
            y + 4.0,
            human::time_of_day(e.ts),
        );
    }
    // Lifelines, activation bars and heads.
    let bottom = height - 14.0;
    for k in 0..=n {
        // The transfer on lane k (k > 0).
        let t = map.iter().position(|&x| x == k && k > 0).unwrap_or(0);
        let conn = if k == 0 {
            "control".to_string()
        } else {
            format!("data:{}", t + 1)
        };
        let color = conn_color(s, &conn);
        let ys: Vec<f64> = rows
            .iter()
            .zip(&s.timeline)
            .filter(|(_, e)| lane_index(s, &map, &e.conn) == k)
            .map(|((_, y, _), _)| *y)
            .collect();
        for (side, x) in [("client", l.client[k]), ("server", l.server[k])] {
            let (dash, sw) = if k == 0 {
                ("", "1.6")
            } else {
                (" stroke-dasharray=\"4 4\"", "1.2")
            };
            let _ = writeln!(
                h,
                "<line class=\"lifeline\" data-conn=\"{conn}\" data-side=\"{side}\" x1=\"{x:.1}\" y1=\"78\" x2=\"{x:.1}\" y2=\"{bottom:.1}\" stroke=\"{color}\" stroke-opacity=\"0.55\" stroke-width=\"{sw}\"{dash}/>"
            );
            if let (Some(first), Some(last)) = (ys.first(), ys.last()) {
                let _ = writeln!(
                    h,
                    "<rect x=\"{:.1}\" y=\"{:.1}\" width=\"10\" height=\"{:.1}\" rx=\"2\" fill=\"{color}\" fill-opacity=\"0.18\" stroke=\"{color}\" stroke-opacity=\"0.7\"/>",
                    x - 5.0,
                    first - 8.0,
                    last - first + 16.0
                );
            }
            // Head box.
            let (title, sub) = if k == 0 {
                let ep = if side == "client" {
                    &s.client
                } else {
                    &s.server
                };
                (
                    if side == "client" {
                        "Client".to_string()
                    } else {
                        "Server".to_string()
                    },
                    human::endpoint(ep),
                )
            } else {
                let (cp, sp) = data_ports(&s.transfers[t]);
                (
                    conn.clone(),
                    format!(":{}", if side == "client" { cp } else { sp }),
                )
            };
            let bw = if k == 0 { CONTROL_BOX } else { l.data_box };
            let _ = writeln!(
                h,
                "<g class=\"head\" data-conn=\"{conn}\"><rect x=\"{:.1}\" y=\"36\" width=\"{bw:.1}\" height=\"40\" rx=\"6\" fill=\"#fff\" stroke=\"{color}\" stroke-width=\"1.5\"/><text class=\"head\" x=\"{x:.1}\" y=\"52\" text-anchor=\"middle\" fill=\"{color}\">{}</text><text class=\"sub\" x=\"{x:.1}\" y=\"68\" text-anchor=\"middle\">{}</text></g>",
                x - bw / 2.0,
                escape_html(&title),
                escape_html(&sub),
            );
        }
    }
    // The DNS lane: the resolver that named the server.
    if let Some(x) = l.dns {
        let resolver = s
            .timeline
            .iter()
            .find(|e| e.conn == "dns")
            .and_then(|e| e.note.as_deref())
            .and_then(|n| n.strip_prefix("resolver "))
            .unwrap_or("");
        let _ = writeln!(
            h,
            "<rect x=\"{:.1}\" y=\"8\" width=\"{:.1}\" height=\"{:.1}\" rx=\"10\" fill=\"#e6f6f8\" stroke=\"#b4dfe5\"/><text class=\"lane\" x=\"{x:.1}\" y=\"26\" text-anchor=\"middle\">DNS {}</text>",
            x - DNS_LANE / 2.0 + 4.0,
            DNS_LANE - 8.0,
            height - 16.0,
            escape_html(resolver)
        );
        let _ = writeln!(
            h,
            "<line class=\"lifeline\" data-conn=\"dns\" data-side=\"server\" x1=\"{x:.1}\" y1=\"78\" x2=\"{x:.1}\" y2=\"{bottom:.1}\" stroke=\"{DNS_COLOR}\" stroke-opacity=\"0.55\" stroke-width=\"1.2\" stroke-dasharray=\"4 4\"/>"
        );
        let _ = writeln!(
            h,
            "<g class=\"head\" data-conn=\"dns\"><rect x=\"{:.1}\" y=\"36\" width=\"{:.1}\" height=\"40\" rx=\"6\" fill=\"#fff\" stroke=\"{DNS_COLOR}\" stroke-width=\"1.5\"/><text class=\"head\" x=\"{x:.1}\" y=\"52\" text-anchor=\"middle\" fill=\"{DNS_COLOR}\">DNS</text><text class=\"sub\" x=\"{x:.1}\" y=\"68\" text-anchor=\"middle\">{}</text></g>",
            x - (DNS_LANE - 40.0) / 2.0,
            DNS_LANE - 40.0,
            escape_html(resolver)
        );
    }
    // Events.
    for (idx, ((_, y, _), e)) in rows.iter().zip(&s.timeline).enumerate() {
        let k = lane_index(s, &map, &e.conn);
        let dns = l.dns.filter(|_| e.conn == "dns");
        let color = if dns.is_some() {
            DNS_COLOR.to_string()
        } else {
            conn_color(s, &e.conn).to_string()
        };
        let color = color.as_str();
        let (cx, sx) = (l.client[k], dns.unwrap_or(l.server[k]));
        let (x1, x2) = match e.from {
            Side::Client => (cx, sx),
            Side::Server => (sx, cx),
        };
        let dir = if x2 >= x1 { 1.0 } else { -1.0 };
        let kind = e.kind.as_str();
        let from = match e.from {
            Side::Client => "client",
            Side::Server => "server",
        };
        let _ = write!(
            h,
            "<g class=\"event\" data-session=\"{}\" data-conn=\"{}\" data-kind=\"{kind}\" data-from=\"{from}\" data-idx=\"{idx}\"><title>{} {} {}: {}</title>",
            s.id,
            escape_html(&e.conn),
            e.ts,
            escape_html(&e.conn),
            kind,
            escape_html(&cut(&e.what, 2000)),
        );
        let (stroke, width, dash) = match e.kind {
            EventKind::Tcp => (color, 1.3, ""),
            EventKind::Command => (color, 2.0, ""),
            EventKind::Reply => (color, 1.8, " stroke-dasharray=\"7 4\""),
            EventKind::Data => (color, 4.5, ""),
            EventKind::Dns => (color, 2.0, ""),
            EventKind::Anomaly => (ANOMALY_COLOR, 2.0, " stroke-dasharray=\"2 4\""),
        };
        let end = if e.kind == EventKind::Anomaly {
            x2
        } else {
            x2 - dir * 8.0
        };
        let _ = write!(
            h,
            "<line x1=\"{x1:.1}\" y1=\"{y:.1}\" x2=\"{end:.1}\" y2=\"{y:.1}\" stroke=\"{stroke}\" stroke-width=\"{width}\"{dash}/>"
        );
        match e.kind {
            EventKind::Anomaly => {
                let _ = write!(
                    h,
                    "<circle cx=\"{:.1}\" cy=\"{y:.1}\" r=\"7\" fill=\"{ANOMALY_COLOR}\"/><text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\" font-size=\"11\" font-weight=\"700\" fill=\"#fff\">!</text>",
                    x1,
                    x1,
                    y + 4.0
                );
            }
            EventKind::Tcp => arrowhead(h, x2, *y, dir, stroke, true),
            _ => arrowhead(h, x2, *y, dir, stroke, false),
        }
        let lines = label_lines(e);
        let fill = match e.kind {
            EventKind::Tcp | EventKind::Data => format!(" fill=\"{color}\""),
            _ => String::new(),
        };
        for (i, line) in lines.iter().enumerate() {
            let ly = y - 7.0 - (lines.len() - 1 - i) as f64 * 15.0;
            let _ = write!(
                h,
                "<text class=\"lbl {kind}\" x=\"{:.1}\" y=\"{ly:.1}\" text-anchor=\"middle\"{fill}>{}</text>",
                l.center,
                label_content(e, line)
            );
        }
        if let (Some(note), false) = (
            &e.note,
            e.kind == EventKind::Anomaly || e.kind == EventKind::Dns,
        ) {
            let text = format!("announces {}", cut(note, 60));
            let w = text.chars().count() as f64 * 6.6 + 16.0;
            let nx = if dir > 0.0 { x1 + 10.0 } else { x1 - 10.0 - w };
            let _ = write!(
                h,
                "<rect x=\"{nx:.1}\" y=\"{:.1}\" width=\"{w:.1}\" height=\"18\" rx=\"4\" fill=\"#fff3bf\" stroke=\"#e8c547\"/><text class=\"note\" x=\"{:.1}\" y=\"{:.1}\">{}</text>",
                y + 6.0,
                nx + 8.0,
                y + 19.0,
                escape_html(&text)
            );
        }
        h.push_str("</g>\n");
    }
    h.push_str("</svg>\n");
}

const LEGEND: &str = concat!(
    "<div class=\"legend\">",
    "<span><svg width=\"44\" height=\"12\"><line x1=\"2\" y1=\"6\" x2=\"34\" y2=\"6\" stroke=\"#57606a\" stroke-width=\"1.3\"/><polyline points=\"32,1 42,6 32,11\" fill=\"none\" stroke=\"#57606a\" stroke-width=\"1.5\"/></svg> TCP flags</span>",
    "<span><svg width=\"44\" height=\"12\"><line x1=\"2\" y1=\"6\" x2=\"34\" y2=\"6\" stroke=\"#57606a\" stroke-width=\"2\"/><polygon points=\"42,6 32,0.5 32,11.5\" fill=\"#57606a\"/></svg> command</span>",
    "<span><svg width=\"44\" height=\"12\"><line x1=\"2\" y1=\"6\" x2=\"34\" y2=\"6\" stroke=\"#57606a\" stroke-width=\"1.8\" stroke-dasharray=\"7 4\"/><polygon points=\"42,6 32,0.5 32,11.5\" fill=\"#57606a\"/></svg> reply</span>",
    "<span><svg width=\"44\" height=\"12\"><line x1=\"2\" y1=\"6\" x2=\"34\" y2=\"6\" stroke=\"#57606a\" stroke-width=\"4.5\"/><polygon points=\"42,6 32,0.5 32,11.5\" fill=\"#57606a\"/></svg> data</span>",
    "<span><svg width=\"44\" height=\"12\"><line x1=\"2\" y1=\"6\" x2=\"42\" y2=\"6\" stroke=\"#e03131\" stroke-width=\"2\" stroke-dasharray=\"2 4\"/></svg> anomaly</span>",
    "<span><span style=\"color:#1c64c8;font-weight:700\">blue</span>: control connection; other colours: one per data connection</span>",
    "</div>\n"
);

fn session_section(s: &Session, h: &mut String) {
    let _ = writeln!(
        h,
        "<section class=\"session\" id=\"session-{id}\" data-session=\"{id}\"><h2>Session {id}: <span class=\"mono\">{} → {}</span></h2>",
        escape_html(&human::endpoint(&s.client)),
        escape_html(&super::server_label(s)),
        id = s.id,
    );
    let n_cmds = s.commands.iter().filter(|c| !c.command.is_empty()).count() as u64;
    let close = match s.close {
        crate::model::Close::Fin => "fin",
        crate::model::Close::Rst => "rst",
        crate::model::Close::Open => "open",
    };
    let segment = s
        .segment
        .as_deref()
        .map(|g| format!(" · in <b>{}</b>", escape_html(g)))
        .unwrap_or_default();
    let _ = writeln!(
        h,
        "<p class=\"meta\">user <b class=\"mono\">{}</b> · login {} · TLS <b>{}</b> · close <b>{close}</b>{segment} · start <span class=\"mono\">{}</span> · duration <b>{}</b> · {} · {} ({})</p>",
        s.user.as_deref().map(|u| escape_html(&cut(u, 200))).unwrap_or_else(|| "-".into()),
        login_badge(s),
        if s.tls { "yes" } else { "no" },
        s.start,
        human::duration(s.end.secs_since(s.start)),
        human::plural(n_cmds, "command", "commands"),
        human::plural(s.transfers.len() as u64, "transfer", "transfers"),
        human::bytes(super::session_bytes(s)),
    );
    h.push_str(LEGEND);
    h.push_str("<div class=\"scroll\">\n");
    session_svg(s, h);
    h.push_str("</div>\n");
    if !s.anomalies.is_empty() {
        let list: Vec<&Anomaly> = s.anomalies.iter().collect();
        anomalies_list(&list, h);
    }
    h.push_str("</section>\n");
}

/// Write the whole report as one self-contained HTML page.
pub fn write_html(r: &Report, out: &mut dyn Write) -> io::Result<()> {
    let mut h = String::with_capacity(64 * 1024);
    h.push_str("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n");
    h.push_str("<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; img-src data:\">\n");
    h.push_str("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n");
    h.push_str(
        "<meta name=\"generator\" content=\"ftptrace\">\n<title>ftptrace report</title>\n<style>",
    );
    h.push_str(CSS);
    h.push_str("</style>\n</head>\n<body>\n<main>\n");
    let _ = writeln!(
        h,
        "<h1>ftptrace report <small>{}</small></h1>\n<p class=\"summary\">{}</p>",
        escape_html(r.schema),
        escape_html(&super::summary_line(r))
    );
    if r.sessions.is_empty() {
        h.push_str("<p class=\"empty\"><b>No FTP sessions found.</b></p>\n");
    } else {
        h.push_str("<h2>Sessions</h2>\n");
        sessions_table(r, &mut h);
        h.push_str("<h2>Transfers</h2>\n");
        if r.sessions.iter().any(|s| !s.transfers.is_empty()) {
            transfers_table(r, &mut h);
        } else {
            h.push_str("<p class=\"muted\">No data transfers.</p>\n");
        }
    }
    let all = super::distinct_anomalies(r);
    if !all.is_empty() {
        h.push_str("<h2>Anomalies</h2>\n");
        anomalies_list(&all, &mut h);
    }
    if !r.errors.is_empty() {
        h.push_str("<h2>Input errors</h2>\n<ul>\n");
        for e in &r.errors {
            let _ = writeln!(h, "<li class=\"mono\">{}</li>", escape_html(e));
        }
        h.push_str("</ul>\n");
    }
    for s in &r.sessions {
        session_section(s, &mut h);
    }
    h.push_str("</main>\n</body>\n</html>\n");
    out.write_all(h.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::testdata::{empty_report, example_report};

    #[test]
    fn no_lane_for_a_data_connection_not_in_the_capture() {
        let mut r = example_report();
        let mut t = r.sessions[0].transfers[0].clone();
        t.data = crate::model::DataCapture::NotCaptured;
        let before = r.sessions[0].transfers.len();
        r.sessions[0].transfers.push(t);
        let html = render(&r);
        let lane = format!("class=\"head\" data-conn=\"data:{}\"", before + 1);
        assert!(
            !html.contains(&lane),
            "a lane for the transfer without events"
        );
        assert!(html.contains("class=\"head\" data-conn=\"data:1\""));
    }

    fn render(r: &Report) -> String {
        let mut v = Vec::new();
        write_html(r, &mut v).unwrap();
        String::from_utf8(v).unwrap()
    }

    /// (session, conn, kind) of every `<g class="event" ...>` in document order.
    pub(crate) fn drawn_events(html: &str) -> Vec<(u64, String, String, usize)> {
        let attr = |tag: &str, name: &str| -> String {
            let key = format!("{name}=\"");
            let i = tag.find(&key).expect("attribute") + key.len();
            tag[i..i + tag[i..].find('"').unwrap()].to_string()
        };
        html.match_indices("<g class=\"event\"")
            .map(|(i, _)| {
                let tag = &html[i..i + html[i..].find('>').unwrap()];
                (
                    attr(tag, "data-session").parse().unwrap(),
                    attr(tag, "data-conn"),
                    attr(tag, "data-kind"),
                    attr(tag, "data-idx").parse().unwrap(),
                )
            })
            .collect()
    }

    #[test]
    fn every_event_drawn_in_order() {
        let r = example_report();
        let html = render(&r);
        let drawn = drawn_events(&html);
        let want: Vec<(u64, String, String, usize)> = r
            .sessions
            .iter()
            .flat_map(|s| {
                s.timeline
                    .iter()
                    .enumerate()
                    .map(move |(i, e)| (s.id, e.conn.clone(), e.kind.as_str().to_string(), i))
            })
            .collect();
        assert_eq!(drawn, want);
    }

    #[test]
    fn self_contained_and_escaped() {
        let html = render(&example_report());
        assert!(html.starts_with("<!DOCTYPE html>"));
        assert!(!html.contains("<script"), "no scripts at all");
        assert!(!html.contains("https:") && !html.contains("src=") && !html.contains("url("));
        // The only http: is the SVG namespace name, never fetched.
        assert_eq!(
            html.matches("http:").count(),
            html.matches("xmlns=\"http://www.w3.org/2000/svg\"").count()
        );
        assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;\\x07"));
        assert!(html.contains("\\x1b[2J\\x1b[31mroot"));
        assert!(!html.chars().any(|c| c.is_control() && c != '\n'));
        assert!(html.contains("STOR backup;#1.tar.gz"));
        assert!(html.contains("announces 192.168.0.2:5001"));
        assert!(
            html.contains("<table class=\"sessions\">")
                && html.contains("<table class=\"transfers\">")
        );
        assert!(html.contains("/pub/readme.txt"));
    }

    #[test]
    fn empty() {
        let html = render(&empty_report());
        assert!(html.contains("No FTP sessions found."));
        assert!(drawn_events(&html).is_empty());
        assert!(html.ends_with("</html>\n"));
    }

    #[test]
    fn escape() {
        assert_eq!(
            escape_html("<a href='x'>&\"\x1b"),
            "&lt;a href=&#39;x&#39;&gt;&amp;&quot;\\x1b"
        );
    }
}
