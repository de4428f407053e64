//! Drawing `botctl top` with ratatui: the header (agent, host, sort and filters), the fleet
//! table fitted to the width, the detail pane, the status line and the key help.

use botctl_proto::{BotState, now_ms};
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Cell, Paragraph, Row as TableRow, Table, TableState};

use super::fit::{self, Column, Placed};
use super::state::{Model, Row};
use crate::render;

/// The footer: every key but the actions (the status line names those).
pub const KEYS: &str = "q quit  ↑↓/jk select  ⏎ detail  c/m/r/n sort  / search  o owner  s state";

/// Lines of the detail pane when it is open, at most; the table keeps at least a few rows.
const DETAIL_LINES: u16 = 11;

pub fn draw(frame: &mut Frame, model: &Model, color: bool) {
    let area = frame.area();
    let detail = if model.detail_open {
        DETAIL_LINES.min(area.height.saturating_sub(9))
    } else {
        0
    };
    let [header, table, pane, status, footer] = Layout::vertical([
        Constraint::Length(3),
        Constraint::Fill(1),
        Constraint::Length(detail),
        Constraint::Length(1),
        Constraint::Length(1),
    ])
    .areas(area);
    frame.render_widget(Paragraph::new(header_lines(model)), header);
    draw_table(frame, table, model, color);
    if detail > 0 {
        frame.render_widget(Paragraph::new(detail_lines(model, pane.width)), pane);
    }
    let bold = Style::new().add_modifier(Modifier::BOLD);
    frame.render_widget(
        Paragraph::new(Line::styled(model.status_line(), bold)),
        status,
    );
    frame.render_widget(Paragraph::new(KEYS), footer);
}

fn header_lines(model: &Model) -> Vec<Line<'static>> {
    let Some(report) = &model.report else {
        return vec![Line::raw("botctl top: waiting for the agent…")];
    };
    let a = &report.status.agent;
    let usage = match &report.usage {
        Some(u) => format!(
            "cpu {:.1}%, rss {}",
            u.cpu_percent,
            render::bytes(u.memory_bytes)
        ),
        None => "cpu -, rss -".into(),
    };
    let agent = format!(
        "agent pid {}, up {}, {usage}",
        a.pid,
        render::uptime(Some(a.uptime_secs)),
    );
    let host = match &report.status.host {
        Some(h) => format!(
            "host cpu {:.0}%, mem {} of {} ({:.0}%), disk {:.0}%, load {}",
            h.cpu_percent,
            render::bytes(h.memory_used_bytes),
            render::bytes(h.memory_total_bytes),
            h.memory_percent(),
            h.disk_percent(),
            h.load
                .first()
                .map(|l| format!("{l:.2}"))
                .unwrap_or_else(|| "-".into()),
        ),
        None => "host: no sample yet".into(),
    };
    // The fleet line: counts, what the view selects, then the settings that select it.
    let bots = model.all();
    let count = |f: fn(BotState) -> bool| bots.iter().filter(|r| f(r.info.state)).count();
    let mut view = format!(
        "{} bots: {} running, {} need attention",
        bots.len(),
        count(|s| s == BotState::Running),
        count(|s| s.is_problem()),
    );
    let shown = model.visible().len();
    if shown != bots.len() {
        view.push_str(&format!(" ({shown} shown)"));
    }
    view.push_str(&format!(
        " · sort {} · owner {} · state {}",
        model.sort.label(),
        model.owner.as_deref().unwrap_or("all"),
        model.state.map(|s| s.label()).unwrap_or("all"),
    ));
    if !model.search.is_empty() {
        view.push_str(&format!(" · search {}", model.search));
    }
    let issues = report.status.config_issues.len();
    if issues > 0 {
        view.push_str(&format!(" · {issues} config issue(s): botctl status"));
    }
    vec![Line::raw(agent), Line::raw(host), Line::raw(view)]
}

fn draw_table(frame: &mut Frame, area: Rect, model: &Model, color: bool) {
    let placed = fit::fit(area.width);
    let header = TableRow::new(placed.iter().map(|p| Cell::from(p.header())))
        .style(Style::new().add_modifier(Modifier::BOLD | Modifier::UNDERLINED));
    let visible = model.visible();
    let rows = visible
        .iter()
        .map(|r| TableRow::new(placed.iter().map(|p| cell(r, p, color)).collect::<Vec<_>>()));
    let widths = placed.iter().map(|p| Constraint::Length(p.width));
    let table = Table::new(rows, widths)
        .header(header)
        .column_spacing(1)
        .row_highlight_style(Style::new().add_modifier(Modifier::REVERSED));
    let mut state = TableState::default().with_selected(model.selected_index());
    frame.render_stateful_widget(table, area, &mut state);
}

fn cell(row: &Row, p: &Placed, color: bool) -> Cell<'static> {
    let b = &row.info;
    let right = |text: String| format!("{text:>w$}", w = p.width as usize);
    match p.column {
        Column::Name => Cell::from(fit::cut(&b.name, p.width)),
        Column::Owner => Cell::from(fit::cut(&b.owner, p.width)),
        Column::State => {
            let text = fit::cut(b.state.as_str(), p.width);
            let style = if color {
                Style::new().fg(ratatui_color(render::state_color(b.state)))
            } else {
                Style::new()
            };
            Cell::from(Span::styled(text, style))
        }
        Column::Pid => Cell::from(right(render::opt(b.pid))),
        Column::Uptime => Cell::from(right(fit::cut(&render::uptime(b.uptime_secs), p.width))),
        Column::Restarts => Cell::from(right(b.restarts.to_string())),
        Column::Cpu => {
            let points: Vec<f64> = row.cpu.iter().map(|c| *c as f64).collect();
            figure(
                render::cpu(b.cpu_percent),
                fit::CPU_FIGURE,
                &points,
                p,
                color,
            )
        }
        Column::Memory => {
            let points: Vec<f64> = row.memory.iter().map(|m| *m as f64).collect();
            let text = b
                .memory_bytes
                .map(short_bytes)
                .unwrap_or_else(|| "-".into());
            figure(text, fit::MEMORY_FIGURE, &points, p, color)
        }
    }
}

/// A figure right-aligned in its part of the column, then the sparkline of its last points.
fn figure(text: String, width: u16, points: &[f64], p: &Placed, color: bool) -> Cell<'static> {
    let mut spans = vec![Span::raw(format!("{text:>w$}", w = width as usize))];
    if p.spark > 0 {
        let last = &points[points.len().saturating_sub(p.spark as usize)..];
        let values: Vec<Option<f64>> = last.iter().copied().map(Some).collect();
        let style = if color {
            Style::new().fg(Color::Cyan)
        } else {
            Style::new()
        };
        spans.push(Span::raw(" "));
        spans.push(Span::styled(render::sparkline(&values), style));
    }
    Cell::from(Line::from(spans))
}

/// Memory in the width of its column: "612 MiB", "1.5 GiB".
fn short_bytes(n: u64) -> String {
    fit::cut(&render::bytes(n), fit::MEMORY_FIGURE)
}

fn ratatui_color(c: render::Color) -> Color {
    match c {
        render::Color::Green => Color::Green,
        render::Color::Red => Color::Red,
        render::Color::Yellow => Color::Yellow,
        render::Color::Grey => Color::DarkGray,
    }
}

/// The selected bot's recent events, then the end of its log.
fn detail_lines(model: &Model, width: u16) -> Vec<Line<'static>> {
    let Some(d) = &model.detail else {
        return vec![Line::raw("loading…")];
    };
    let title = format!("── {} ", d.bot);
    let rule = "─".repeat((width as usize).saturating_sub(title.chars().count()));
    let mut lines = vec![Line::styled(
        format!("{title}{rule}"),
        Style::new().add_modifier(Modifier::BOLD),
    )];
    lines.extend(d.said.iter().map(|s| Line::raw(s.clone())));
    let now = now_ms();
    if d.events.is_empty() {
        lines.push(Line::raw("no events"));
    }
    for e in &d.events {
        lines.push(Line::raw(format!(
            "{:>6} ago  {:<14} {}",
            render::ago(now - e.ts_ms),
            e.kind,
            e.message
        )));
    }
    lines.push(Line::styled(
        "── log",
        Style::new().add_modifier(Modifier::BOLD),
    ));
    if d.log.is_empty() {
        lines.push(Line::raw("no output yet"));
    }
    lines.extend(d.log.iter().map(|l| Line::raw(l.clone())));
    lines
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::top::state::tests::{bot, report};
    use crate::top::state::{Detail, Key};
    use ratatui::Terminal;
    use ratatui::backend::TestBackend;

    fn screen(model: &Model, width: u16, height: u16) -> Vec<String> {
        let mut t = Terminal::new(TestBackend::new(width, height)).unwrap();
        t.draw(|f| draw(f, model, false)).unwrap();
        let buffer = t.backend().buffer().clone();
        (0..height)
            .map(|y| {
                (0..width)
                    .map(|x| buffer[(x, y)].symbol().to_string())
                    .collect::<String>()
                    .trim_end()
                    .to_string()
            })
            .collect()
    }

    fn fleet(n: usize) -> Model {
        let mut m = Model::default();
        let bots = (0..n)
            .map(|i| {
                bot(
                    &format!("a-rather-long-bot-name-{i}"),
                    "alice",
                    BotState::ConfigError,
                    12.0,
                    1_500_000_000,
                    123,
                )
            })
            .collect();
        m.update(report(bots));
        m
    }

    #[test]
    fn eighty_by_twenty_four_shows_every_column_the_keys_and_the_detail() {
        let mut m = fleet(40);
        let lines = screen(&m, 80, 24);
        let header = &lines[3];
        for column in [
            "NAME", "OWNER", "STATE", "PID", "UPTIME", "RST", "CPU", "MEM",
        ] {
            assert!(header.contains(column), "{header}");
        }
        assert!(lines[4].contains("config-error"), "{}", lines[4]);
        assert!(lines[4].contains("1.4 GiB"), "{}", lines[4]);
        assert!(lines[4].contains("a-rather-lo…"), "{}", lines[4]);
        assert_eq!(lines[23], KEYS);
        assert!(
            lines[2].starts_with("40 bots: 0 running, 40 need attention · sort cpu"),
            "{}",
            lines[2]
        );
        assert!(lines[22].contains("R restart"), "{}", lines[22]);

        m.key(Key::Enter);
        m.detail = Some(Detail {
            bot: "a-rather-long-bot-name-0".into(),
            said: vec!["status: polling mentions (42 today)".into()],
            events: vec![],
            log: vec!["hello from the bot".into()],
        });
        let lines = screen(&m, 80, 24);
        assert!(
            lines
                .iter()
                .any(|l| l.starts_with("── a-rather-long-bot-name-0"))
        );
        assert!(
            lines.iter().any(|l| l == "hello from the bot"),
            "{lines:#?}"
        );
        assert!(
            lines
                .iter()
                .any(|l| l == "status: polling mentions (42 today)"),
            "{lines:#?}"
        );
        let rows = lines.iter().filter(|l| l.contains("alice")).count();
        assert!(
            rows >= 4,
            "the table keeps rows beside the detail: {lines:#?}"
        );
    }

    #[test]
    fn the_selection_scrolls_into_view() {
        let mut m = Model::default();
        let bots = (0..40)
            .map(|i| bot(&format!("b{i:02}"), "bob", BotState::Running, 1.0, 1, 0))
            .collect();
        m.update(report(bots));
        let starts = |lines: &[String], name: &str| lines.iter().any(|l| l.starts_with(name));
        let lines = screen(&m, 80, 24);
        assert!(
            starts(&lines, "b00") && !starts(&lines, "b39"),
            "{lines:#?}"
        );
        m.key(Key::End);
        let lines = screen(&m, 80, 24);
        assert!(
            starts(&lines, "b39") && !starts(&lines, "b00"),
            "{lines:#?}"
        );
    }
}
