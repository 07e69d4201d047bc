//! Fitting a table into a terminal width without breaking a token: columns shrink to
//! their widest unbreakable piece, then are dropped by priority, never cut mid-word.
//!
//! A cell is a list of pieces (an address, a user name, "(1.8 KiB)"): a line break may fall
//! between two pieces, never inside one. A column may also carry a shorter form of its
//! header and cells (`short`), used only when its full form does not fit.

use comfy_table::{presets, Attribute, Cell, CellAlignment, Color, ContentArrangement, Table};

/// One cell: the pieces it is made of (joined by spaces when they fit on one line).
#[derive(Debug, Clone, Default)]
pub(crate) struct Piece {
    pub pieces: Vec<String>,
    /// A shorter form shown when the column is narrowed to its minimum.
    pub short: Option<Vec<String>>,
    pub color: Option<Color>,
}

impl Piece {
    /// A cell of one unbreakable token.
    pub fn token(s: impl Into<String>) -> Self {
        Piece {
            pieces: vec![s.into()],
            ..Piece::default()
        }
    }
    /// A cell that may break at its spaces.
    pub fn words(s: &str) -> Self {
        Piece {
            pieces: s.split(' ').map(str::to_string).collect(),
            ..Piece::default()
        }
    }
    /// A cell of given pieces.
    pub fn of(pieces: Vec<String>) -> Self {
        Piece {
            pieces,
            ..Piece::default()
        }
    }
    pub fn short(mut self, short: Vec<String>) -> Self {
        self.short = Some(short);
        self
    }
    pub fn color(mut self, c: Option<Color>) -> Self {
        self.color = c;
        self
    }
}

/// One column: its header (full and short), how it is aligned, and how much it matters
/// (the column with the lowest priority is dropped first; 0: never dropped).
pub(crate) struct Column {
    pub header: &'static str,
    pub short_header: &'static str,
    pub right: bool,
    pub priority: u8,
    pub cells: Vec<Piece>,
}

impl Column {
    pub fn new(header: &'static str, priority: u8) -> Self {
        Column {
            header,
            short_header: header,
            right: false,
            priority,
            cells: Vec::new(),
        }
    }
    pub fn short_header(mut self, h: &'static str) -> Self {
        self.short_header = h;
        self
    }
    pub fn right(mut self) -> Self {
        self.right = true;
        self
    }
}

fn width(s: &str) -> usize {
    s.chars().count()
}

fn joined(p: &[String]) -> usize {
    p.iter().map(|s| width(s)).sum::<usize>() + p.len().saturating_sub(1)
}

fn widest(p: &[String]) -> usize {
    p.iter().map(|s| width(s)).max().unwrap_or(0)
}

impl Column {
    /// Width with every cell on one line, in its full form.
    fn natural(&self) -> usize {
        self.cells
            .iter()
            .map(|c| joined(&c.pieces))
            .max()
            .unwrap_or(0)
            .max(width(self.header))
    }
    /// Narrowest width that breaks no piece, short forms allowed.
    fn minimum(&self) -> usize {
        self.cells
            .iter()
            .map(|c| widest(c.short.as_deref().unwrap_or(&c.pieces)))
            .max()
            .unwrap_or(0)
            .max(width(self.short_header))
    }
    /// Narrowest width that breaks no piece, full forms only.
    fn minimum_full(&self) -> usize {
        self.cells
            .iter()
            .map(|c| widest(&c.pieces))
            .max()
            .unwrap_or(0)
            .max(width(self.header))
    }
}

/// Columns of a condensed UTF-8 table: a border before each column and one at the end,
/// one space of padding on each side of every cell.
fn table_width(widths: &[usize]) -> usize {
    widths.iter().map(|w| w + 3).sum::<usize>() + 1
}

/// Lay the pieces out in lines of at most `w` characters (a piece wider than `w` gets a
/// line of its own, whole).
fn pack(pieces: &[String], w: usize) -> String {
    let mut lines: Vec<String> = Vec::new();
    for p in pieces {
        match lines.last_mut() {
            Some(l) if width(l) + 1 + width(p) <= w => {
                l.push(' ');
                l.push_str(p);
            }
            _ => lines.push(p.clone()),
        }
    }
    lines.join("\n")
}

/// Build the table: with `max` a width, drop and narrow columns so it fits (when its
/// essential columns allow it); without, every column at its natural width.
pub(crate) fn build(mut cols: Vec<Column>, max: Option<u16>, color: bool) -> Table {
    // Widths chosen per column: natural, or narrowed.
    let mut widths: Vec<usize> = cols.iter().map(Column::natural).collect();
    let mut short = vec![false; cols.len()];
    if let Some(max) = max {
        let max = max as usize;
        if table_width(&widths) > max {
            // Narrow every column to its widest piece (full forms), then short forms, then
            // drop columns by priority until it fits.
            widths = cols.iter().map(Column::minimum_full).collect();
            if table_width(&widths) > max {
                for (i, c) in cols.iter().enumerate() {
                    widths[i] = c.minimum();
                    short[i] = true;
                }
            }
            while table_width(&widths) > max {
                let drop = cols
                    .iter()
                    .enumerate()
                    .filter(|(_, c)| c.priority > 0)
                    .min_by_key(|(i, c)| (c.priority, usize::MAX - i))
                    .map(|(i, _)| i);
                let Some(i) = drop else { break };
                cols.remove(i);
                widths.remove(i);
                short.remove(i);
            }
            // Give the room left back: first whole columns on one line in their full
            // form, cheapest first (most columns unwrapped), then full forms wrapped,
            // then whatever room is left, most important columns first.
            let mut order: Vec<usize> = (0..cols.len()).collect();
            order.sort_by_key(|&i| {
                (
                    cols[i].priority != 0,
                    std::cmp::Reverse(cols[i].priority),
                    i,
                )
            });
            let mut by_cost = order.clone();
            by_cost.sort_by_key(|&i| cols[i].natural().saturating_sub(widths[i]));
            for &i in &by_cost {
                let natural = cols[i].natural().max(widths[i]);
                if table_width(&widths) + (natural - widths[i]) <= max {
                    widths[i] = natural;
                    short[i] = false;
                }
            }
            for &i in &order {
                if short[i] {
                    let full = cols[i].minimum_full().max(widths[i]);
                    if table_width(&widths) + (full - widths[i]) <= max {
                        widths[i] = full;
                        short[i] = false;
                    }
                }
            }
            for &i in &order {
                let room = max.saturating_sub(table_width(&widths));
                let want = cols[i].natural().saturating_sub(widths[i]);
                if !short[i] {
                    widths[i] += want.min(room);
                }
            }
        }
    }
    let mut t = Table::new();
    t.load_preset(presets::UTF8_FULL_CONDENSED);
    t.force_no_tty();
    t.set_content_arrangement(ContentArrangement::Disabled);
    if color {
        t.enforce_styling();
    }
    t.set_header(cols.iter().zip(&short).map(|(c, &s)| {
        let cell = Cell::new(if s { c.short_header } else { c.header });
        if color {
            cell.add_attribute(Attribute::Bold)
        } else {
            cell
        }
    }));
    let rows = cols.iter().map(|c| c.cells.len()).max().unwrap_or(0);
    for r in 0..rows {
        t.add_row(cols.iter().enumerate().map(|(i, c)| {
            let p = c.cells.get(r).cloned().unwrap_or_default();
            let pieces = match (&p.short, short[i]) {
                (Some(s), true) => s,
                _ => &p.pieces,
            };
            let mut cell = Cell::new(pack(pieces, widths[i]));
            if c.right {
                cell = cell.set_alignment(CellAlignment::Right);
            }
            match (color, p.color) {
                (true, Some(k)) => cell.fg(k),
                _ => cell,
            }
        }));
    }
    t
}

#[cfg(test)]
mod tests {
    use super::*;

    fn col(h: &'static str, pr: u8, cells: &[&str]) -> Column {
        let mut c = Column::new(h, pr);
        c.cells = cells.iter().map(|s| Piece::words(s)).collect();
        c
    }

    #[test]
    fn natural_without_limit() {
        let t = build(
            vec![col("a", 0, &["x y z"]), col("b", 1, &["1"])],
            None,
            false,
        );
        assert!(t.to_string().contains("│ x y z ┆ 1 │"), "{t}");
    }

    #[test]
    fn narrows_then_drops_by_priority() {
        let cols = || {
            vec![
                col("id", 0, &["1"]),
                col("words", 2, &["alpha beta gamma delta"]),
                col("extra", 1, &["0123456789"]),
            ]
        };
        let t = build(cols(), Some(22), false).to_string();
        for l in t.lines() {
            assert!(l.chars().count() <= 22, "{t}");
        }
        assert!(t.contains("alpha") && t.contains("gamma"), "{t}");
        assert!(
            !t.contains("0123456789"),
            "the lowest priority goes first:\n{t}"
        );
    }

    #[test]
    fn short_forms_when_needed() {
        let mut c = Column::new("duration", 1).short_header("dur");
        c.cells = vec![Piece::token("14.801 s").short(vec!["15s".into()])];
        let t = build(vec![col("id", 0, &["1"]), c], Some(12), false).to_string();
        assert!(t.contains("dur") && t.contains("15s"), "{t}");
    }
}
