//! Which columns of the fleet table fit a terminal's width, and how wide each is: sparklines,
//! name, uptime and restarts shrink first, then the least needed columns drop. Pure, so tested.

/// A column of the fleet table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Column {
    Name,
    Owner,
    State,
    Pid,
    Uptime,
    Restarts,
    /// The figure and its sparkline.
    Cpu,
    Memory,
}

/// Columns in the order shown.
const ORDER: [Column; 8] = [
    Column::Name,
    Column::Owner,
    Column::State,
    Column::Pid,
    Column::Uptime,
    Column::Restarts,
    Column::Cpu,
    Column::Memory,
];

/// The figure's own width in the CPU ("100%") and memory ("1023 MiB") columns.
pub const CPU_FIGURE: u16 = 4;
pub const MEMORY_FIGURE: u16 = 8;
/// Sparklines as wide as the agent keeps points (see the agent's `health::recent::POINTS`).
const SPARK_IDEAL: u16 = 10;
const GAP: u16 = 1;

/// A column as placed: its width and, for CPU and memory, how much of it is the sparkline.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Placed {
    pub column: Column,
    pub width: u16,
    pub spark: u16,
}

impl Placed {
    /// The header, shortened where the column is narrow.
    pub fn header(&self) -> &'static str {
        match self.column {
            Column::Name => "NAME",
            Column::Owner => "OWNER",
            Column::State => "STATE",
            Column::Pid => "PID",
            Column::Uptime => "UPTIME",
            Column::Restarts if self.width >= 8 => "RESTARTS",
            Column::Restarts => "RST",
            Column::Cpu => "CPU",
            Column::Memory => "MEM",
        }
    }
}

struct Widths {
    name: u16,
    owner: u16,
    state: u16,
    uptime: u16,
    restarts: u16,
    spark: u16,
    shown: Vec<Column>,
}

impl Widths {
    fn of(&self, c: Column) -> u16 {
        let spark = if self.spark > 0 { self.spark + 1 } else { 0 };
        match c {
            Column::Name => self.name,
            Column::Owner => self.owner,
            Column::State => self.state,
            Column::Pid => 7,
            Column::Uptime => self.uptime,
            Column::Restarts => self.restarts,
            Column::Cpu => CPU_FIGURE + spark,
            Column::Memory => MEMORY_FIGURE + spark,
        }
    }

    fn total(&self) -> u16 {
        let cols: u16 = self.shown.iter().map(|c| self.of(*c)).sum();
        cols + GAP * (self.shown.len() as u16).saturating_sub(1)
    }
}

/// One way to make room, tried in this order until the table fits.
enum Step {
    Spark(u16),
    Name(u16),
    Uptime(u16),
    Restarts(u16),
    State(u16),
    Owner(u16),
    Drop(Column),
    NoSpark,
}

const STEPS: [Step; 14] = [
    Step::Spark(5),
    Step::Name(12),
    Step::Uptime(7),
    Step::Restarts(3),
    Step::Drop(Column::Pid),
    Step::Drop(Column::Uptime),
    Step::Owner(6),
    Step::Spark(3),
    Step::Drop(Column::Owner),
    Step::NoSpark,
    Step::State(8),
    Step::Drop(Column::Restarts),
    Step::Name(10),
    Step::Name(6),
];

/// The columns that fit `width`, with their widths; spare room goes to the name.
pub fn fit(width: u16) -> Vec<Placed> {
    let mut w = Widths {
        name: 16,
        owner: 8,
        state: 12,
        uptime: 9,
        restarts: 8,
        spark: SPARK_IDEAL,
        shown: ORDER.to_vec(),
    };
    for step in STEPS {
        let total = w.total();
        if total <= width {
            break;
        }
        let over = total - width;
        let shrink = |now: &mut u16, to: u16, by: u16| *now = (*now).saturating_sub(by).max(to);
        match step {
            // Two sparklines share the cut.
            Step::Spark(to) => shrink(&mut w.spark, to, over.div_ceil(2)),
            Step::Name(to) => shrink(&mut w.name, to, over),
            Step::Uptime(to) => shrink(&mut w.uptime, to, over),
            Step::Restarts(to) => shrink(&mut w.restarts, to, over),
            Step::State(to) => shrink(&mut w.state, to, over),
            Step::Owner(to) => shrink(&mut w.owner, to, over),
            Step::NoSpark => w.spark = 0,
            Step::Drop(c) => w.shown.retain(|x| *x != c),
        }
    }
    w.name += width.saturating_sub(w.total());
    w.shown
        .iter()
        .map(|c| Placed {
            column: *c,
            width: w.of(*c),
            spark: match c {
                Column::Cpu | Column::Memory => w.spark,
                _ => 0,
            },
        })
        .collect()
}

/// `text` cut to `width` characters, with an ellipsis when cut.
pub fn cut(text: &str, width: u16) -> String {
    let width = width as usize;
    if text.chars().count() <= width {
        return text.to_string();
    }
    let mut out: String = text.chars().take(width.saturating_sub(1)).collect();
    if width > 0 {
        out.push('…');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn total(p: &[Placed]) -> u16 {
        p.iter().map(|c| c.width).sum::<u16>() + p.len() as u16 - 1
    }

    fn columns(p: &[Placed]) -> Vec<Column> {
        p.iter().map(|c| c.column).collect()
    }

    #[test]
    fn a_wide_terminal_shows_everything_at_full_width() {
        let p = fit(200);
        assert_eq!(columns(&p), ORDER);
        assert_eq!(total(&p), 200, "the name takes the spare room");
        assert!(p.iter().all(|c| c.column != Column::Cpu || c.spark == 10));
        assert_eq!(p[5].header(), "RESTARTS");
    }

    #[test]
    fn eighty_columns_keep_every_column_with_short_sparklines() {
        let p = fit(80);
        assert_eq!(columns(&p), ORDER);
        assert_eq!(total(&p), 80);
        let cpu = p.iter().find(|c| c.column == Column::Cpu).unwrap();
        assert_eq!(cpu.spark, 5);
        let name = p.iter().find(|c| c.column == Column::Name).unwrap();
        assert!(name.width >= 12, "{p:?}");
        let state = p.iter().find(|c| c.column == Column::State).unwrap();
        assert_eq!(state.width, 12, "config-error fits");
    }

    #[test]
    fn narrow_terminals_drop_columns_but_keep_name_state_and_figures() {
        for width in [30u16, 40, 50, 60, 70] {
            let p = fit(width);
            assert!(total(&p) <= width, "{width}: {p:?}");
            for must in [Column::Name, Column::State, Column::Cpu, Column::Memory] {
                assert!(columns(&p).contains(&must), "{width}: {p:?}");
            }
        }
        // The name and the sparklines outlast the pid and the uptime.
        let p = fit(60);
        assert!(!columns(&p).contains(&Column::Pid), "{p:?}");
        assert!(p[0].width >= 12 && p.iter().all(|c| c.column != Column::Cpu || c.spark >= 3));
        assert!(columns(&fit(72)).contains(&Column::Owner));
        assert!(!columns(&fit(40)).contains(&Column::Owner));
    }

    #[test]
    fn cut_marks_what_it_cut() {
        assert_eq!(cut("twitter-bot-1", 8), "twitter…");
        assert_eq!(cut("short", 8), "short");
        assert_eq!(cut("x", 0), "");
    }
}
