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
    Anomaly, AnomalyKind, Conn, Event, EventKind, Login, Report, Session, Side, Transfer,
    TransferStatus,
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

fn conn_color(s: &Session, conn: Conn) -> &'static str {
    match (conn_transfer(s, conn), conn.transfer_index()) {
        (Some(_), Some(i)) => DATA_COLORS[i % DATA_COLORS.len()],
        _ => CONTROL_COLOR,
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
.session { margin-top: 18px; background: #fff; border: 1px solid #d0d7de; border-radius: 8px; padding: 10px 14px 14px; }
details.session > summary { cursor: pointer; }
details.session > summary h2 { display: inline; font-size: 17px; margin: 0; }
details.session > summary .muted { margin-left: 8px; }
details.group { margin-top: 18px; border: 1px dashed #afb8c1; border-radius: 8px; padding: 8px 14px; background: #fbfcfd; }
details.group > summary { cursor: pointer; font-weight: 600; }
.overview .tiles { display: flex; flex-wrap: wrap; gap: 12px; margin: 10px 0; }
.tile { background: #fff; border: 1px solid #d0d7de; border-radius: 8px; padding: 8px 14px; min-width: 180px; max-width: 330px; }
.tile .n { font-size: 22px; font-weight: 700; margin-right: 4px; }
svg.strip { display: block; width: 100%; height: auto; background: #fff; border: 1px solid #d0d7de; border-radius: 6px; }
svg.strip text { font: 11px ui-monospace, "DejaVu Sans Mono", Menlo, monospace; fill: #57606a; }
svg.strip text.in { fill: #fff; }
.tablewrap { overflow-x: auto; max-width: 100%; }
td.mono { overflow-wrap: anywhere; }
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

/// The sessions a finding belongs to: those it names, else those that list it.
fn anomaly_sessions(r: &Report, a: &Anomaly) -> Vec<u64> {
    if !a.sessions.is_empty() {
        return a.sessions.clone();
    }
    r.sessions
        .iter()
        .filter(|s| {
            s.anomalies
                .iter()
                .any(|b| b.ts == a.ts && b.kind == a.kind && b.detail == a.detail)
        })
        .map(|s| s.id)
        .collect()
}

/// Most session links written after one finding.
const MAX_ANOMALY_LINKS: usize = 12;

/// A list of findings; with `r`, each names and links the sessions it belongs to.
fn anomalies_list(list: &[&Anomaly], r: Option<&Report>, h: &mut String) {
    h.push_str("<ul class=\"anomalies\">\n");
    for a in list {
        let ids = match r {
            Some(r) => anomaly_sessions(r, a),
            None => a.sessions.clone(),
        };
        let sessions = if ids.is_empty() {
            if r.is_some() {
                " <span class=\"muted\">(capture-wide)</span>".to_string()
            } else {
                String::new()
            }
        } else {
            let mut links: Vec<String> = ids
                .iter()
                .take(MAX_ANOMALY_LINKS)
                .map(|id| format!("<a href=\"#session-{id}\">{id}</a>"))
                .collect();
            if ids.len() > MAX_ANOMALY_LINKS {
                links.push(format!("and {} more", ids.len() - MAX_ANOMALY_LINKS));
            }
            format!(
                " <span class=\"muted\">({} {})</span>",
                if ids.len() == 1 {
                    "session"
                } else {
                    "sessions"
                },
                links.join(", ")
            )
        };
        let _ = writeln!(
            h,
            "<li><span class=\"mono muted\">{}</span> <b>{}</b>: {}{sessions}</li>",
            a.ts,
            escape_html(a.kind.as_str()),
            escape_html(&cut(&a.detail, 300)),
        );
    }
    h.push_str("</ul>\n");
}

/// Most rows of session bars in the overview's time strip (more overlapping sessions
/// share the last rows).
const STRIP_ROWS: usize = 12;
/// Most user names listed in the overview.
const OVERVIEW_USERS: usize = 6;
/// Most anomaly kinds listed in the overview.
const OVERVIEW_KINDS: usize = 5;

/// The overview: counts of sessions, users, transfers and findings, and every session as
/// a bar on one time axis (linked to its diagram; its bytes and findings in its tooltip).
fn overview(r: &Report, h: &mut String) {
    let n = r.sessions.len() as u64;
    let count = |l: Login| r.sessions.iter().filter(|s| s.login == l).count();
    let mut users: Vec<&str> = r
        .sessions
        .iter()
        .filter_map(|s| s.user.as_deref())
        .collect();
    users.sort_unstable();
    users.dedup();
    let transfers: Vec<&Transfer> = r.sessions.iter().flat_map(|s| &s.transfers).collect();
    let bytes: u64 = r.sessions.iter().map(super::session_bytes).sum();
    let dir = |d: crate::model::Direction| transfers.iter().filter(|t| t.direction == d).count();
    let all = super::distinct_anomalies(r);
    let mut kinds: Vec<(AnomalyKind, usize)> = Vec::new();
    for a in &all {
        match kinds.iter_mut().find(|(k, _)| *k == a.kind) {
            Some(k) => k.1 += 1,
            None => kinds.push((a.kind, 1)),
        }
    }
    kinds.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    h.push_str("<section class=\"overview\"><h2>Overview</h2><div class=\"tiles\">\n");
    let _ = writeln!(
        h,
        "<div class=\"tile\"><span class=\"n\">{n}</span>{}<br><span class=\"muted\">{} logged in · {} failed · {} no login</span></div>",
        if n == 1 { "session" } else { "sessions" },
        count(Login::Success),
        count(Login::Failed),
        count(Login::None)
    );
    let mut names: Vec<String> = users
        .iter()
        .take(OVERVIEW_USERS)
        .map(|u| format!("<span class=\"mono\">{}</span>", escape_html(&cut(u, 40))))
        .collect();
    if users.len() > OVERVIEW_USERS {
        names.push(format!("{} more", users.len() - OVERVIEW_USERS));
    }
    let _ = writeln!(
        h,
        "<div class=\"tile\"><span class=\"n\">{}</span>{}<br><span class=\"muted\">{}</span></div>",
        users.len(),
        if users.len() == 1 { "user" } else { "users" },
        if names.is_empty() { "-".to_string() } else { names.join(", ") }
    );
    let _ = writeln!(
        h,
        "<div class=\"tile\"><span class=\"n\">{}</span>{} ({})<br><span class=\"muted\">{} · {} · {}</span></div>",
        transfers.len(),
        if transfers.len() == 1 { "transfer" } else { "transfers" },
        human::bytes(bytes),
        human::plural(dir(crate::model::Direction::Download) as u64, "download", "downloads"),
        human::plural(dir(crate::model::Direction::Upload) as u64, "upload", "uploads"),
        human::plural(dir(crate::model::Direction::Listing) as u64, "listing", "listings"),
    );
    let mut k: Vec<String> = kinds
        .iter()
        .take(OVERVIEW_KINDS)
        .map(|(k, c)| format!("{} ×{c}", escape_html(k.as_str())))
        .collect();
    if kinds.len() > OVERVIEW_KINDS {
        k.push(format!("{} more kinds", kinds.len() - OVERVIEW_KINDS));
    }
    let _ = writeln!(
        h,
        "<div class=\"tile\"><span class=\"n\">{}</span>{}<br><span class=\"muted\">{}</span></div>",
        all.len(),
        if all.len() == 1 { "anomaly" } else { "anomalies" },
        if k.is_empty() { "none".to_string() } else { k.join(" · ") }
    );
    h.push_str("</div>\n");
    time_strip(r, h);
    h.push_str("</section>\n");
}

/// Every session as a bar on one time axis, packed in rows (at most [`STRIP_ROWS`]).
fn time_strip(r: &Report, h: &mut String) {
    let (Some(t0), Some(t1)) = (
        r.sessions.iter().map(|s| s.start.ts.0).min(),
        r.sessions.iter().map(|s| s.end.ts.0).max(),
    ) else {
        return;
    };
    let span = (t1 - t0).max(1) as f64;
    let (left, width) = (80.0, 880.0);
    let x = |t: i64| left + (t - t0) as f64 / span * width;
    let mut row_end: Vec<f64> = Vec::new();
    let mut bars = String::new();
    // Few sessions: one row each, labelled with its bytes and findings.
    let labelled = r.sessions.len() <= STRIP_ROWS;
    let (row_h, bar_h) = if labelled { (18.0, 13.0) } else { (12.0, 9.0) };
    for s in &r.sessions {
        let (x0, x1) = (x(s.start.ts.0), x(s.end.ts.0).max(x(s.start.ts.0) + 3.0));
        let row = match row_end.iter().position(|&e| !labelled && e + 1.0 < x0) {
            Some(i) => i,
            None if row_end.len() < STRIP_ROWS => {
                row_end.push(f64::MIN);
                row_end.len() - 1
            }
            None => (0..row_end.len())
                .min_by(|&a, &b| row_end[a].total_cmp(&row_end[b]))
                .unwrap_or(0),
        };
        row_end[row] = row_end[row].max(x1);
        let fill = match s.login {
            Login::Success => "#2da44e",
            Login::Failed => "#cf222e",
            Login::None => "#8c959f",
        };
        let stroke = if s.anomalies.is_empty() {
            String::new()
        } else {
            " stroke=\"#9a6700\" stroke-width=\"1.5\"".to_string()
        };
        let (_, tr) = super::session_counts(s);
        let _ = write!(
            bars,
            "<a href=\"#session-{id}\"><rect class=\"sbar\" data-session=\"{id}\" x=\"{x0:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{bar_h}\" rx=\"2\" fill=\"{fill}\"{stroke}><title>Session {id} · {} · user {} · login {} · transfers {tr} · {} findings</title></rect></a>",
            24.0 + row as f64 * row_h,
            x1 - x0,
            escape_html(&human::endpoint(&s.client)),
            escape_html(&cut(s.user.as_deref().unwrap_or("-"), 60)),
            match s.login {
                Login::Success => "success",
                Login::Failed => "failed",
                Login::None => "none",
            },
            s.anomalies.len(),
            id = s.id,
        );
        if labelled {
            let text = format!(
                "#{} {} · {} · {}",
                s.id,
                cut(s.user.as_deref().unwrap_or("-"), 24),
                human::bytes(super::session_bytes(s)),
                human::plural(s.anomalies.len() as u64, "finding", "findings")
            );
            let (tx, anchor, class) = label_place(x0, x1, text.chars().count(), left);
            let _ = write!(
                bars,
                "<text{class} x=\"{tx:.1}\" y=\"{:.1}\" text-anchor=\"{anchor}\">{}</text>",
                24.0 + row as f64 * row_h + 10.0,
                escape_html(&text)
            );
        }
    }
    let height = 24.0 + row_end.len() as f64 * row_h + 6.0;
    let first = crate::model::Time::new(crate::capture::Timestamp(t0), 3);
    let last = crate::model::Time::new(crate::capture::Timestamp(t1), 3);
    let _ = writeln!(
        h,
        "<svg class=\"strip\" xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 1000 {height:.0}\" role=\"img\" aria-label=\"sessions on a time axis\"><text x=\"{left}\" y=\"14\">{}</text><text x=\"{:.0}\" y=\"14\" text-anchor=\"end\">{} (+{})</text><text x=\"6\" y=\"30\">sessions</text><line x1=\"{left}\" y1=\"18\" x2=\"{:.0}\" y2=\"18\" stroke=\"#d0d7de\"/>{bars}</svg>",
        human::time_of_day(first),
        left + width,
        human::time_of_day(last),
        human::duration(span / 1e9),
        left + width,
    );
}

/// Width of one character of the time strip's 11 px monospace labels, in strip units.
const STRIP_CHAR_W: f64 = 6.7;
/// Right edge of the time strip's drawing (its viewBox width).
const STRIP_RIGHT: f64 = 1000.0;

/// Where a session bar's label of `chars` characters goes: after the bar if it fits before
/// the strip's right edge, else before it if it fits after the `left` gutter, else inside
/// the bar in white (a bar too wide for either side is wide enough to hold it).
fn label_place(x0: f64, x1: f64, chars: usize, left: f64) -> (f64, &'static str, &'static str) {
    let w = chars as f64 * STRIP_CHAR_W;
    if x1 + 8.0 + w <= STRIP_RIGHT {
        (x1 + 6.0, "start", "")
    } else if x0 - 8.0 - w >= left {
        (x0 - 6.0, "end", "")
    } else {
        (x0 + 4.0, "start", " class=\"in\"")
    }
}

/// Horizontal positions of a session's lifelines.
struct Lanes {
    /// Client side and server side x of the control connection (index 0) and
    /// of each data lane (index k for lane k; data connections that do not overlap in
    /// time share a lane).
    client: Vec<f64>,
    server: Vec<f64>,
    client_lane: (f64, f64),
    server_lane: (f64, f64),
    center: f64,
    width: f64,
    /// Width of a data lane's head box.
    data_box: f64,
    /// The DNS lane's x (right of the server lane), when a lookup named the server.
    dns: Option<f64>,
}

/// Width of the DNS lane.
const DNS_LANE: f64 = 160.0;
/// Colour of the DNS lane and its arrows.
const DNS_COLOR: &str = "#0b7285";

/// The time column: time from start, and the time of day under it.
const GUTTER: f64 = 112.0;
const CONTROL_BOX: f64 = 150.0;
const MAX_LABEL: usize = 96;
/// Widest diagram drawn without scrolling: it fits a 1366-px window with the page's
/// margins. Data lanes are packed (connections that do not overlap share one) and
/// pressed together down to [`MIN_SPACING`] to stay within it; beyond that (more than
/// eight connections open at once) the diagram scrolls inside its own box.
pub const MAX_DIAGRAM: f64 = 1270.0;
/// Narrowest distance between two data lanes.
const MIN_SPACING: f64 = 30.0;
/// Widest distance between two data lanes.
const MAX_SPACING: f64 = 86.0;
/// Narrowest and widest room between the two sides for the labels.
const MIN_GAP: f64 = 260.0;
const MAX_GAP: f64 = 760.0;

/// Most data lanes drawn side by side at a comfortable spacing (60 px); a session with
/// more data connections has them packed ([`lane_map`]).
fn comfortable_lanes(has_dns: bool) -> usize {
    let dns_extra = if has_dns { DNS_LANE + 16.0 } else { 0.0 };
    let budget = (MAX_DIAGRAM - MIN_GAP - 16.0 - dns_extra + GUTTER + 8.0) / 2.0;
    ((budget - (GUTTER + 90.0) - 91.0) / 60.0).floor().max(1.0) as usize
}

/// The lane of each transfer: one each when they fit comfortably, else packed.
fn session_lanes(s: &Session) -> Vec<usize> {
    let own = lane_map(s, false);
    let has_dns = s.timeline.iter().any(|e| e.conn == Conn::Dns);
    if own.iter().copied().max().unwrap_or(0) <= comfortable_lanes(has_dns) {
        own
    } else {
        lane_map(s, true)
    }
}

/// The capture gaps of each data connection ("data:N" → (offset if known, bytes
/// missing)), read from the session's `capture_gap` findings ("data:N: L bytes missing
/// at offset O"); a transfer with missing bytes but no such finding gets one gap of
/// them all, place unknown.
fn data_gaps(s: &Session) -> Vec<(Conn, Option<u64>, u64)> {
    let mut gaps: Vec<(Conn, Option<u64>, u64)> = s
        .anomalies
        .iter()
        .filter(|a| a.kind == AnomalyKind::CaptureGap)
        .filter_map(|a| {
            let (conn, rest) = a.detail.split_once(": ")?;
            let conn: Conn = conn.parse().ok().filter(|c: &Conn| c.is_data())?;
            let (len, offset) = rest.split_once(" bytes missing at offset ")?;
            Some((
                conn,
                Some(offset.trim().parse().ok()?),
                len.trim().parse().ok()?,
            ))
        })
        .collect();
    for (i, t) in s.transfers.iter().enumerate() {
        let conn = Conn::transfer(i);
        if let Some(m) = t.missing_bytes.filter(|&m| m > 0) {
            if !gaps.iter().any(|(c, _, _)| *c == conn) {
                gaps.push((conn, None, m));
            }
        }
    }
    gaps
}

fn lanes(s: &Session, n: usize) -> Lanes {
    let lane_left = GUTTER + 8.0;
    let ctrl = lane_left + 82.0;
    let has_dns = s.timeline.iter().any(|e| e.conn == Conn::Dns);
    let dns_extra = if has_dns { DNS_LANE + 16.0 } else { 0.0 };
    // The widest client side that leaves the narrowest label gap within MAX_DIAGRAM
    // (the page is as wide as 2 × client side + gap − lane_left + 16 + the DNS lane).
    let budget = (MAX_DIAGRAM - MIN_GAP - 16.0 - dns_extra + lane_left) / 2.0;
    let spacing = if n == 0 {
        0.0
    } else {
        ((budget - ctrl - 91.0) / n as f64).clamp(MIN_SPACING, MAX_SPACING)
    };
    let data_box = (spacing - 8.0).min(92.0);
    let first = CONTROL_BOX / 2.0 + data_box / 2.0 + 10.0;
    let client: Vec<f64> = (0..=n)
        .map(|k| match k {
            0 => ctrl,
            k => ctrl + first + (k - 1) as f64 * spacing,
        })
        .collect();
    let client_right = if n == 0 {
        ctrl + 62.0
    } else {
        client[n] + data_box / 2.0 + 14.0
    };
    // The centre gap holds the labels (all arrows are centred on the page's
    // middle, since the server side mirrors the client side); a label wider than the
    // gap runs over the data lanes, on its white halo.
    let longest = s
        .timeline
        .iter()
        .flat_map(|e| e.what.split('\n').map(|l| l.chars().count().min(MAX_LABEL)))
        .max()
        .unwrap_or(0) as f64;
    let room = MAX_DIAGRAM - (2.0 * client_right - lane_left + 16.0 + dns_extra);
    let gap = (longest * 6.6 + 30.0 - 2.0 * (client_right - client[n]))
        .clamp(MIN_GAP, MAX_GAP)
        .min(room.max(MIN_GAP));
    let center = client_right + gap / 2.0;
    let server: Vec<f64> = client.iter().map(|x| 2.0 * center - x).collect();
    let server_left = 2.0 * center - client_right;
    let server_right = 2.0 * center - lane_left;
    let dns = has_dns.then_some(server_right + 16.0 + DNS_LANE / 2.0);
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

/// The data lane (1, 2, …) of each transfer that has events. Unpacked, each has its own
/// lane, as the sequence diagrams draw them; packed, a transfer takes the first
/// lane whose connections all ended before its first event, so connections that follow
/// one another share a lane and only overlapping ones widen the diagram. 0 for a transfer
/// without events (its data connection is not in the capture, or was placed in the
/// session at the end): it gets no lane.
fn lane_map(s: &Session, pack: bool) -> Vec<usize> {
    let mut span: Vec<Option<(i64, i64)>> = vec![None; s.transfers.len()];
    for e in &s.timeline {
        if let Some(i) = e.conn.transfer_index() {
            if let Some(sp) = span.get_mut(i) {
                let t = e.ts.ts.0;
                *sp = Some(match *sp {
                    Some((a, b)) => (a.min(t), b.max(t)),
                    None => (t, t),
                });
            }
        }
    }
    let mut order: Vec<usize> = (0..span.len()).filter(|&i| span[i].is_some()).collect();
    order.sort_by_key(|&i| (span[i].map(|x| x.0), i));
    // The last event time on each lane.
    let mut lane_end: Vec<i64> = Vec::new();
    let mut map = vec![0; span.len()];
    for i in order {
        let Some((start, end)) = span[i] else {
            continue;
        };
        match lane_end.iter().position(|&e| pack && e < start) {
            Some(k) => {
                lane_end[k] = end;
                map[i] = k + 1;
            }
            None => {
                lane_end.push(end);
                map[i] = lane_end.len();
            }
        }
    }
    map
}

fn lane_index(s: &Session, map: &[usize], conn: Conn) -> usize {
    match conn_transfer(s, conn) {
        Some(_) => conn
            .transfer_index()
            .and_then(|i| map.get(i).copied())
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
    let map = session_lanes(s);
    let n = map.iter().copied().max().unwrap_or(0);
    let gaps = data_gaps(s);
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
            }
            + if e.kind == EventKind::Data && gaps.iter().any(|(c, _, _)| *c == e.conn) {
                16.0
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
        "<text class=\"sub\" x=\"10\" y=\"62\">time from start</text><text class=\"tod\" x=\"10\" y=\"76\">UTC time of day</text>"
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
            "<text class=\"time\" x=\"10\" y=\"{:.1}\">{} s</text><text class=\"tod\" x=\"10\" y=\"{:.1}\">{}</text>",
            y + 2.0,
            human::relative(e.ts, s.start),
            y + 15.0,
            human::time_of_day(e.ts),
        );
    }
    // Lifelines, activation bars and heads.
    let bottom = height - 14.0;
    let narrow = l.data_box < 60.0;
    for k in 0..=n {
        // The transfers on lane k (k > 0), in time order.
        let on_lane: Vec<usize> = if k == 0 {
            Vec::new()
        } else {
            (0..map.len()).filter(|&t| map[t] == k).collect()
        };
        let conns: Vec<Conn> = if k == 0 {
            vec![Conn::Control]
        } else {
            on_lane.iter().map(|&t| Conn::transfer(t)).collect()
        };
        let lane_conn = conns
            .iter()
            .map(|c| c.to_string())
            .collect::<Vec<_>>()
            .join(" ");
        let lane_color = if conns.len() == 1 {
            conn_color(s, conns[0])
        } else {
            "#57606a"
        };
        for (side, x) in [("client", l.client[k]), ("server", l.server[k])] {
            let (dash, sw) = if k == 0 {
                ("", "1.6")
            } else {
                (" stroke-dasharray=\"4 4\"", "1.2")
            };
            let _ = writeln!(
                h,
                "<line class=\"lifeline\" data-conn=\"{lane_conn}\" data-side=\"{side}\" x1=\"{x:.1}\" y1=\"78\" x2=\"{x:.1}\" y2=\"{bottom:.1}\" stroke=\"{lane_color}\" stroke-opacity=\"0.55\" stroke-width=\"{sw}\"{dash}/>"
            );
            // One activation bar per connection, in its colour (and, on a shared lane,
            // its name beside it on the client side).
            for &conn in &conns {
                let color = conn_color(s, conn);
                let ys: Vec<f64> = rows
                    .iter()
                    .zip(&s.timeline)
                    .filter(|(_, e)| e.conn == conn)
                    .map(|((_, y, _), _)| *y)
                    .collect();
                if let (Some(first), Some(last)) = (ys.first(), ys.last()) {
                    let _ = writeln!(
                        h,
                        "<rect class=\"bar\" data-conn=\"{conn}\" x=\"{:.1}\" y=\"{:.1}\" width=\"10\" height=\"{:.1}\" rx=\"2\" fill=\"{color}\" fill-opacity=\"0.18\" stroke=\"{color}\" stroke-opacity=\"0.7\"/>",
                        x - 5.0,
                        first - 8.0,
                        last - first + 16.0
                    );
                    if conns.len() > 1 && side == "client" {
                        let _ = writeln!(
                            h,
                            "<text class=\"sub\" x=\"{:.1}\" y=\"{:.1}\" fill=\"{color}\" font-weight=\"700\">{}</text>",
                            x + 7.0,
                            first - 10.0,
                            conn.to_string().replace("data:", "d")
                        );
                    }
                }
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
            } else if let [t] = on_lane[..] {
                let (cp, sp) = data_ports(&s.transfers[t]);
                (
                    if narrow {
                        format!("d{}", t + 1)
                    } else {
                        Conn::transfer(t).to_string()
                    },
                    format!(":{}", if side == "client" { cp } else { sp }),
                )
            } else {
                ("data".to_string(), format!("×{}", on_lane.len()))
            };
            let bw = if k == 0 { CONTROL_BOX } else { l.data_box };
            let _ = writeln!(
                h,
                "<g class=\"head\" data-conn=\"{lane_conn}\"><rect x=\"{:.1}\" y=\"36\" width=\"{bw:.1}\" height=\"40\" rx=\"6\" fill=\"#fff\" stroke=\"{lane_color}\" stroke-width=\"1.5\"/><text class=\"head\" x=\"{x:.1}\" y=\"52\" text-anchor=\"middle\" fill=\"{lane_color}\">{}</text><text class=\"sub\" x=\"{x:.1}\" y=\"68\" text-anchor=\"middle\">{}</text></g>",
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
            .find(|e| e.conn == Conn::Dns)
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
        let k = lane_index(s, &map, e.conn);
        let dns = l.dns.filter(|_| e.conn == Conn::Dns);
        let color = if dns.is_some() {
            DNS_COLOR.to_string()
        } else {
            conn_color(s, e.conn).to_string()
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
            e.conn,
            e.ts,
            e.conn,
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
        // The capture's gaps in this data connection, where they fall in its bytes: a
        // break in the arrow.
        if e.kind == EventKind::Data {
            let total = conn_transfer(s, e.conn).and_then(|t| t.bytes).unwrap_or(0);
            for (_, offset, len) in gaps.iter().filter(|(c, _, _)| *c == e.conn) {
                let frac = match offset {
                    Some(o) => {
                        let whole = total.max(o + len).max(1) as f64;
                        ((*o as f64 + *len as f64 / 2.0) / whole).clamp(0.08, 0.92)
                    }
                    None => 0.5,
                };
                let at = offset.map_or("at an unknown offset".to_string(), |o| {
                    format!("at offset {o}")
                });
                let gx = x1 + (end - x1) * frac;
                let _ = write!(
                    h,
                    "<g class=\"gap\" data-conn=\"{}\"><title>capture gap: {len} bytes missing {at}</title><rect x=\"{:.1}\" y=\"{:.1}\" width=\"10\" height=\"16\" fill=\"#fff\"/><line x1=\"{:.1}\" y1=\"{:.1}\" x2=\"{:.1}\" y2=\"{:.1}\" stroke=\"{ANOMALY_COLOR}\" stroke-width=\"2\"/><line x1=\"{:.1}\" y1=\"{:.1}\" x2=\"{:.1}\" y2=\"{:.1}\" stroke=\"{ANOMALY_COLOR}\" stroke-width=\"2\"/><text class=\"note gap\" x=\"{gx:.1}\" y=\"{:.1}\" text-anchor=\"middle\" fill=\"{ANOMALY_COLOR}\">gap: {} missing</text></g>",
                    e.conn,
                    gx - 5.0,
                    y - 8.0,
                    gx - 6.0,
                    y + 8.0,
                    gx - 1.0,
                    y - 8.0,
                    gx + 1.0,
                    y + 8.0,
                    gx + 6.0,
                    y - 8.0,
                    y + 20.0,
                    human::bytes(*len),
                );
            }
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

/// One session, collapsible: its summary line always shown, the details and diagram
/// when open.
fn session_section(s: &Session, open: bool, h: &mut String) {
    let (_, transfers) = super::session_counts(s);
    let _ = writeln!(
        h,
        "<details class=\"session\" id=\"session-{id}\" data-session=\"{id}\"{}><summary><h2>Session {id}: <span class=\"mono\">{} → {}</span></h2><span class=\"muted\">user <span class=\"mono\">{}</span> · {} · transfers {transfers} · {}</span></summary>",
        if open { " open" } else { "" },
        escape_html(&human::endpoint(&s.client)),
        escape_html(&super::server_label(s)),
        s.user.as_deref().map(|u| escape_html(&cut(u, 60))).unwrap_or_else(|| "-".into()),
        login_badge(s),
        human::plural(s.anomalies.len() as u64, "anomaly", "anomalies"),
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
        anomalies_list(&list, None, h);
    }
    h.push_str("</details>\n");
}

/// Sessions shown open when the page has at most this many (groups counted once);
/// with more, every session starts folded and the overview leads to them.
const OPEN_SESSIONS: usize = 6;
/// Near-identical sessions (same hosts, user, outcome, commands, transfers and findings)
/// are folded into one group when there are at least this many.
const GROUP_MIN: usize = 3;

/// What makes sessions near-identical: everything but ports, times and ids.
fn signature(s: &Session) -> String {
    let verbs: Vec<&str> = s.commands.iter().map(|c| c.command.as_str()).collect();
    let mut kinds: Vec<&str> = s.anomalies.iter().map(|a| a.kind.as_str()).collect();
    kinds.sort_unstable();
    kinds.dedup();
    format!(
        "{}|{}|{}|{:?}|{:?}|{}|{}|{}|{}",
        s.client.ip,
        s.server.ip,
        s.server.port,
        s.user,
        s.login,
        s.tls,
        verbs.join(" "),
        s.transfers.len(),
        kinds.join(" ")
    )
}

/// The sessions in id order, each with the later sessions near-identical to it (when
/// there are enough of them to group); a grouped session appears only in its group.
fn session_groups(r: &Report) -> Vec<(&Session, Vec<&Session>)> {
    let sigs: Vec<String> = r.sessions.iter().map(signature).collect();
    let mut taken = vec![false; r.sessions.len()];
    let mut out = Vec::new();
    for i in 0..r.sessions.len() {
        if taken[i] {
            continue;
        }
        let same: Vec<usize> = (i + 1..r.sessions.len())
            .filter(|&j| !taken[j] && sigs[j] == sigs[i])
            .collect();
        let rest = if same.len() + 1 >= GROUP_MIN {
            for &j in &same {
                taken[j] = true;
            }
            same.iter().map(|&j| &r.sessions[j]).collect()
        } else {
            Vec::new()
        };
        out.push((&r.sessions[i], rest));
    }
    out
}

fn id_ranges(ids: &[u64]) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut i = 0;
    while i < ids.len() {
        let mut j = i;
        while j + 1 < ids.len() && ids[j + 1] == ids[j] + 1 {
            j += 1;
        }
        parts.push(if j > i {
            format!("{}–{}", ids[i], ids[j])
        } else {
            ids[i].to_string()
        });
        i = j + 1;
    }
    parts.join(", ")
}

/// Every session's section; near-identical ones folded into a group after the first.
fn sessions_sections(r: &Report, h: &mut String) {
    let groups = session_groups(r);
    let open = groups.len() <= OPEN_SESSIONS;
    h.push_str("<h2>Sessions, one by one</h2>\n");
    for (first, rest) in &groups {
        session_section(first, open, h);
        if rest.is_empty() {
            continue;
        }
        let ids: Vec<u64> = rest.iter().map(|s| s.id).collect();
        let _ = writeln!(
            h,
            "<details class=\"group\" data-like=\"{}\"><summary>{} more sessions like session {} (same hosts, user, login, commands and findings): {}</summary>",
            first.id,
            rest.len(),
            first.id,
            id_ranges(&ids)
        );
        for s in rest {
            session_section(s, false, h);
        }
        h.push_str("</details>\n");
    }
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
        overview(r, &mut h);
        h.push_str("<h2>Sessions</h2>\n<div class=\"tablewrap\">");
        sessions_table(r, &mut h);
        h.push_str("</div>\n<h2>Transfers</h2>\n");
        if r.sessions.iter().any(|s| !s.transfers.is_empty()) {
            h.push_str("<div class=\"tablewrap\">");
            transfers_table(r, &mut h);
            h.push_str("</div>\n");
        } else {
            h.push_str("<p class=\"muted\">No data transfers.</p>\n");
        }
    }
    let all = super::distinct_anomalies(r);
    if !all.is_empty() {
        h.push_str("<h2>Anomalies</h2>\n");
        anomalies_list(&all, Some(r), &mut h);
    }
    if !r.errors.is_empty() {
        h.push_str("<h2>Input errors</h2>\n<ul>\n");
        for e in &r.errors {
            let _ = writeln!(h, "<li class=\"mono\">{}</li>", escape_html(e));
        }
        h.push_str("</ul>\n");
    }
    if !r.sessions.is_empty() {
        sessions_sections(r, &mut h);
    }
    h.push_str("</main>\n</body>\n</html>\n");
    out.write_all(h.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::testdata::{empty_report, example_report};

    #[test]
    fn strip_labels_never_cross_the_gutter_or_the_edge() {
        // A short bar on the left: after it.
        assert_eq!(label_place(80.0, 100.0, 30, 80.0), (106.0, "start", ""));
        // A short bar at the right edge: before it.
        assert_eq!(label_place(900.0, 960.0, 30, 80.0), (894.0, "end", ""));
        // A bar over the whole axis (one session): inside it, in white.
        let (x, anchor, class) = label_place(80.0, 960.0, 36, 80.0);
        assert_eq!((x, anchor, class), (84.0, "start", " class=\"in\""));
        assert!(x + 36.0 * STRIP_CHAR_W <= 960.0);
    }

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
        let want: Vec<(u64, String, String, usize)> =
            r.sessions
                .iter()
                .flat_map(|s| {
                    s.timeline.iter().enumerate().map(move |(i, e)| {
                        (s.id, e.conn.to_string(), e.kind.as_str().to_string(), i)
                    })
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

    use crate::report::testdata::with_data_connections;

    fn diagram_widths(html: &str) -> Vec<f64> {
        html.match_indices("<svg class=\"diagram\"")
            .map(|(i, _)| {
                let tag = &html[i..i + html[i..].find('>').unwrap()];
                let w = tag.find(" width=\"").unwrap() + 8;
                tag[w..w + tag[w..].find('"').unwrap()].parse().unwrap()
            })
            .collect()
    }

    #[test]
    fn many_data_connections_fit_1366_px() {
        for k in [1, 2, 4, 6, 8] {
            for overlap in [false, true] {
                let r = with_data_connections(k, overlap);
                let html = render(&r);
                let w = diagram_widths(&html);
                assert_eq!(w.len(), 1);
                assert!(
                    w[0] <= MAX_DIAGRAM,
                    "{k} connections, overlap {overlap}: {} px",
                    w[0]
                );
                assert_eq!(drawn_events(&html).len(), r.sessions[0].timeline.len());
                let lanes = html.matches("<g class=\"head\" data-conn=\"data:").count() / 2;
                if overlap || k <= comfortable_lanes(false) {
                    assert_eq!(lanes, k, "one lane per connection");
                } else {
                    assert_eq!(lanes, 1, "one after the other: one shared lane");
                }
            }
        }
    }

    #[test]
    fn packing_shares_lanes_only_without_overlap() {
        let r = with_data_connections(3, false);
        assert_eq!(lane_map(&r.sessions[0], true), vec![1, 1, 1]);
        assert_eq!(lane_map(&r.sessions[0], false), vec![1, 2, 3]);
        let r = with_data_connections(3, true);
        assert_eq!(lane_map(&r.sessions[0], true), vec![1, 2, 3]);
    }

    #[test]
    fn brute_force_sessions_are_grouped_and_folded() {
        let r = crate::report::testdata::brute_force_report(26);
        let html = render(&r);
        assert!(html.contains("25 more sessions like session 2"), "grouped");
        assert!(html.contains(": 3–27</summary>"));
        // Every session keeps its diagram (folded), so every event is still drawn.
        let total: usize = r.sessions.iter().map(|s| s.timeline.len()).sum();
        assert_eq!(drawn_events(&html).len(), total);
        // Two groups on the page: open.
        assert!(html.contains("id=\"session-1\" data-session=\"1\" open>"));
        assert!(
            html.contains("id=\"session-5\" data-session=\"5\">"),
            "folded in its group"
        );
        // The overview shows every session on the time strip.
        assert_eq!(html.matches("class=\"sbar\"").count(), 27);
    }

    #[test]
    fn anomalies_name_their_sessions_and_gaps_are_drawn() {
        let html = render(&example_report());
        assert!(
            html.contains("(session <a href=\"#session-3\">3</a>)"),
            "the capture gap belongs to session 3"
        );
        assert!(html.contains("<section class=\"overview\">"));
        assert!(
            html.contains("<g class=\"gap\" data-conn=\"data:1\">"),
            "gap on the data arrow"
        );
        assert!(html.contains("gap: 4.2 KiB missing"));
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
