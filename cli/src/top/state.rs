//! The model of `botctl top`: the rows of the last refresh, sort, filters, selection, the
//! pending confirmation and the status line. Keys change it; `draw` shows it; no terminal here.

use std::collections::HashMap;

use botctl_proto::{Action, BotInfo, BotState, EventRecord, TopReport};

/// A key as `top` understands it, whatever terminal library read it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Key {
    Char(char),
    Up,
    Down,
    PageUp,
    PageDown,
    Home,
    End,
    Enter,
    Esc,
    Backspace,
    /// Ctrl-C: quits from anywhere (raw mode turns it into a key).
    Interrupt,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SortKey {
    Cpu,
    Memory,
    Restarts,
    Name,
}

impl SortKey {
    pub fn label(self) -> &'static str {
        match self {
            SortKey::Cpu => "cpu",
            SortKey::Memory => "memory",
            SortKey::Restarts => "restarts",
            SortKey::Name => "name",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StateFilter {
    /// Every state `status` counts as needing attention.
    Problems,
    Is(BotState),
}

impl StateFilter {
    fn admits(self, state: BotState) -> bool {
        match self {
            StateFilter::Problems => state.is_problem(),
            StateFilter::Is(s) => s == state,
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            StateFilter::Problems => "problems",
            StateFilter::Is(s) => s.as_str(),
        }
    }
}

/// Every state, in the order `s` cycles through those present.
const STATES: [BotState; 10] = BotState::ALL;

/// What the loop must do after a key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Effect {
    Nothing,
    Quit,
    /// Fetch now (the detail pane opened, or closed).
    Refresh,
    /// The user confirmed an action on a bot.
    Act(Action, String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mode {
    Normal,
    /// Typing the `/` search.
    Search,
    /// Waiting for y/n on an action.
    Confirm(Action, String),
}

/// One bot as the table shows it.
#[derive(Debug, Clone)]
pub struct Row {
    pub info: BotInfo,
    /// Recent samples, oldest first.
    pub cpu: Vec<f32>,
    pub memory: Vec<u64>,
}

/// The detail pane of the selected bot.
#[derive(Debug, Clone, Default)]
pub struct Detail {
    pub bot: String,
    /// What the bot says it is doing (sd_notify STATUS=), and why its state is what it is.
    pub said: Vec<String>,
    pub events: Vec<EventRecord>,
    pub log: Vec<String>,
}

pub struct Model {
    /// The last answer, without its bots (they are `rows`).
    pub report: Option<TopReport>,
    rows: Vec<Row>,
    pub sort: SortKey,
    pub search: String,
    pub owner: Option<String>,
    pub state: Option<StateFilter>,
    /// The selected bot by name, so the selection follows it through re-sorts.
    pub selected: Option<String>,
    pub detail_open: bool,
    pub detail: Option<Detail>,
    pub mode: Mode,
    /// The outcome of the last action, or why a refresh failed.
    pub message: Option<String>,
}

impl Default for Model {
    fn default() -> Self {
        Model {
            report: None,
            rows: Vec::new(),
            sort: SortKey::Cpu,
            search: String::new(),
            owner: None,
            state: None,
            selected: None,
            detail_open: false,
            detail: None,
            mode: Mode::Normal,
            message: None,
        }
    }
}

impl Model {
    /// Takes a refresh: rows joined with their recent samples; the selection stays on its bot.
    pub fn update(&mut self, mut report: TopReport) {
        let mut recent: HashMap<String, (Vec<f32>, Vec<u64>)> = std::mem::take(&mut report.recent)
            .into_iter()
            .map(|r| (r.bot, (r.cpu_percent, r.memory_bytes)))
            .collect();
        self.rows = std::mem::take(&mut report.status.bots)
            .into_vec()
            .into_iter()
            .map(|info| {
                let (cpu, memory) = recent.remove(&info.name).unwrap_or_default();
                Row { info, cpu, memory }
            })
            .collect();
        self.report = Some(report);
        self.keep_selection();
    }

    /// Every bot of the last refresh, unfiltered.
    pub fn all(&self) -> &[Row] {
        &self.rows
    }

    /// The rows shown: filtered, then sorted by the active key (name breaks ties).
    pub fn visible(&self) -> Vec<&Row> {
        let needle = self.search.to_lowercase();
        let mut rows: Vec<&Row> = self
            .rows
            .iter()
            .filter(|r| self.owner.as_ref().is_none_or(|o| &r.info.owner == o))
            .filter(|r| self.state.is_none_or(|s| s.admits(r.info.state)))
            .filter(|r| {
                needle.is_empty()
                    || r.info.name.to_lowercase().contains(&needle)
                    || r.info.owner.to_lowercase().contains(&needle)
                    || r.info.platform.to_lowercase().contains(&needle)
            })
            .collect();
        let by_name = |a: &&Row, b: &&Row| a.info.name.cmp(&b.info.name);
        match self.sort {
            SortKey::Name => rows.sort_by(by_name),
            SortKey::Cpu => rows.sort_by(|a, b| {
                let key = |r: &Row| r.info.cpu_percent.unwrap_or(-1.0);
                key(b).total_cmp(&key(a)).then_with(|| by_name(a, b))
            }),
            SortKey::Memory => rows.sort_by(|a, b| {
                let key = |r: &Row| r.info.memory_bytes.map_or(-1, |m| m as i128);
                key(b).cmp(&key(a)).then_with(|| by_name(a, b))
            }),
            SortKey::Restarts => rows.sort_by(|a, b| {
                b.info
                    .restarts
                    .cmp(&a.info.restarts)
                    .then_with(|| by_name(a, b))
            }),
        }
        rows
    }

    /// Where the selected bot is among the visible rows.
    pub fn selected_index(&self) -> Option<usize> {
        let name = self.selected.as_deref()?;
        self.visible().iter().position(|r| r.info.name == name)
    }

    /// A selection that left the view (filtered out, removed) moves to the first visible row.
    fn keep_selection(&mut self) {
        if self.selected_index().is_none() {
            self.selected = self.visible().first().map(|r| r.info.name.clone());
        }
    }

    fn step(&mut self, delta: isize) {
        let visible = self.visible();
        if visible.is_empty() {
            self.selected = None;
            return;
        }
        let at = self.selected_index().unwrap_or(0) as isize;
        let to = (at + delta).clamp(0, visible.len() as isize - 1) as usize;
        self.selected = Some(visible[to].info.name.clone());
    }

    /// The owners present, and the one after the current filter (None after the last).
    fn next_owner(&self) -> Option<String> {
        let mut owners: Vec<&str> = self.rows.iter().map(|r| r.info.owner.as_str()).collect();
        owners.sort_unstable();
        owners.dedup();
        let next = match &self.owner {
            None => owners.first(),
            Some(o) => owners.iter().find(|x| **x > o.as_str()),
        };
        next.map(|s| s.to_string())
    }

    /// All, then problems, then each state some bot is in.
    fn next_state(&self) -> Option<StateFilter> {
        let present = STATES
            .into_iter()
            .filter(|s| self.rows.iter().any(|r| r.info.state == *s));
        let mut cycle = std::iter::once(StateFilter::Problems).chain(present.map(StateFilter::Is));
        match self.state {
            None => cycle.next(),
            Some(current) => cycle.skip_while(|f| *f != current).nth(1),
        }
    }

    pub fn key(&mut self, key: Key) -> Effect {
        if key == Key::Interrupt {
            return Effect::Quit;
        }
        match self.mode.clone() {
            Mode::Confirm(action, bot) => {
                self.mode = Mode::Normal;
                if matches!(key, Key::Char('y' | 'Y')) {
                    self.message = Some(format!("{}ing {bot}…", verb(action)));
                    return Effect::Act(action, bot);
                }
                self.message = Some(format!("{} of {bot} cancelled", action.as_str()));
                Effect::Nothing
            }
            Mode::Search => {
                match key {
                    Key::Enter => self.mode = Mode::Normal,
                    Key::Esc => {
                        self.search.clear();
                        self.mode = Mode::Normal;
                    }
                    Key::Backspace => {
                        self.search.pop();
                    }
                    Key::Char(c) => self.search.push(c),
                    _ => {}
                }
                self.keep_selection();
                Effect::Nothing
            }
            Mode::Normal => self.normal_key(key),
        }
    }

    fn normal_key(&mut self, key: Key) -> Effect {
        let action = |a| Some(a);
        let act = match key {
            Key::Char('R') => action(Action::Restart),
            Key::Char('S') => action(Action::Stop),
            Key::Char('T') => action(Action::Start),
            Key::Char('V') => action(Action::Recover),
            _ => None,
        };
        if let Some(a) = act {
            match self.selected.clone() {
                Some(bot) => self.mode = Mode::Confirm(a, bot),
                None => self.message = Some("no bot selected".into()),
            }
            return Effect::Nothing;
        }
        match key {
            Key::Char('q') => return Effect::Quit,
            Key::Esc if self.detail_open => {
                self.detail_open = false;
                return Effect::Refresh;
            }
            Key::Esc => {
                self.search.clear();
                self.owner = None;
                self.state = None;
            }
            Key::Enter => {
                self.detail_open = !self.detail_open && self.selected.is_some();
                return Effect::Refresh;
            }
            Key::Up | Key::Char('k') => self.step(-1),
            Key::Down | Key::Char('j') => self.step(1),
            Key::PageUp => self.step(-10),
            Key::PageDown => self.step(10),
            Key::Home | Key::Char('g') => self.step(isize::MIN / 2),
            Key::End | Key::Char('G') => self.step(isize::MAX / 2),
            Key::Char('c') => self.sort = SortKey::Cpu,
            Key::Char('m') => self.sort = SortKey::Memory,
            Key::Char('r') => self.sort = SortKey::Restarts,
            Key::Char('n') => self.sort = SortKey::Name,
            Key::Char('/') => {
                self.search.clear();
                self.mode = Mode::Search;
            }
            Key::Char('o') => self.owner = self.next_owner(),
            Key::Char('s') => self.state = self.next_state(),
            _ => return Effect::Nothing,
        }
        self.keep_selection();
        Effect::Nothing
    }

    /// What the status line asks or says.
    pub fn status_line(&self) -> String {
        match &self.mode {
            Mode::Confirm(a, bot) => format!("{} {bot}? y/n", a.as_str()),
            Mode::Search => format!("search: {}▏ (Enter keeps it, Esc clears it)", self.search),
            Mode::Normal => match (&self.message, &self.selected) {
                (Some(m), _) => m.clone(),
                (None, Some(bot)) => format!("{bot}: R restart  S stop  T start  V recover"),
                (None, None) => "no bot to show".into(),
            },
        }
    }
}

fn verb(action: Action) -> &'static str {
    match action {
        Action::Start => "start",
        Action::Stop => "stopp",
        Action::Restart => "restart",
        Action::Recover => "recover",
    }
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use botctl_proto::{AgentInfo, RecentFigures, StatusReport};

    pub(in crate::top) fn bot(
        name: &str,
        owner: &str,
        state: BotState,
        cpu: f32,
        mem: u64,
        restarts: u32,
    ) -> BotInfo {
        BotInfo {
            name: name.into(),
            owner: owner.into(),
            platform: "generic".into(),
            state,
            enabled: true,
            pid: Some(100),
            uptime_secs: Some(5),
            restarts,
            last_exit: None,
            detail: None,
            cpu_percent: Some(cpu),
            memory_bytes: Some(mem),
            auth: None,
            forecast: None,
            notify_status: None,
            waiting_ready: false,
        }
    }

    pub(in crate::top) fn report(bots: Vec<BotInfo>) -> TopReport {
        let recent = bots
            .iter()
            .map(|b| RecentFigures {
                bot: b.name.clone(),
                cpu_percent: vec![b.cpu_percent.unwrap_or(0.0)],
                memory_bytes: vec![b.memory_bytes.unwrap_or(0)],
            })
            .collect();
        TopReport {
            status: StatusReport {
                agent: AgentInfo {
                    pid: 1,
                    version: "0".into(),
                    protocol: 0,
                    started_at_ms: 0,
                    uptime_secs: 0,
                    home: "/h".into(),
                    host: "h".into(),
                    containment: None,
                },
                bots: bots.into(),
                notify_ignored: 0,
                config_issues: vec![],
                host: None,
            },
            usage: None,
            recent,
        }
    }

    fn fleet() -> Model {
        let mut m = Model::default();
        m.update(report(vec![
            bot("alpha", "alice", BotState::Running, 5.0, 300, 0),
            bot("bravo", "bob", BotState::Failed, 0.0, 100, 7),
            bot("charlie", "alice", BotState::Running, 50.0, 200, 1),
            bot("delta", "bob", BotState::Stopped, 0.0, 0, 0),
        ]));
        m
    }

    fn names(m: &Model) -> Vec<&str> {
        m.visible().iter().map(|r| r.info.name.as_str()).collect()
    }

    fn press(m: &mut Model, keys: &str) {
        for c in keys.chars() {
            m.key(Key::Char(c));
        }
    }

    #[test]
    fn sorts_by_each_key_with_the_name_breaking_ties() {
        let mut m = fleet();
        assert_eq!(names(&m), ["charlie", "alpha", "bravo", "delta"]);
        press(&mut m, "m");
        assert_eq!(names(&m), ["alpha", "charlie", "bravo", "delta"]);
        press(&mut m, "r");
        assert_eq!(names(&m), ["bravo", "charlie", "alpha", "delta"]);
        press(&mut m, "n");
        assert_eq!(names(&m), ["alpha", "bravo", "charlie", "delta"]);
        assert_eq!(m.sort.label(), "name");
    }

    #[test]
    fn samples_join_their_bot() {
        let m = fleet();
        let charlie = m.all().iter().find(|r| r.info.name == "charlie").unwrap();
        assert_eq!(
            (charlie.cpu.clone(), charlie.memory.clone()),
            (vec![50.0], vec![200])
        );
    }

    #[test]
    fn owner_and_state_filters_cycle_and_end_at_all() {
        let mut m = fleet();
        press(&mut m, "o");
        assert_eq!(m.owner.as_deref(), Some("alice"));
        assert_eq!(names(&m), ["charlie", "alpha"]);
        press(&mut m, "o");
        assert_eq!(names(&m), ["bravo", "delta"]);
        press(&mut m, "o");
        assert_eq!(m.owner, None);
        assert_eq!(names(&m).len(), 4);

        press(&mut m, "s");
        assert_eq!(m.state, Some(StateFilter::Problems));
        assert_eq!(names(&m), ["bravo"]);
        press(&mut m, "s");
        assert_eq!(m.state, Some(StateFilter::Is(BotState::Running)));
        press(&mut m, "s");
        assert_eq!(m.state.map(|s| s.label()), Some("stopped"));
        press(&mut m, "s");
        assert_eq!(m.state.map(|s| s.label()), Some("failed"));
        press(&mut m, "s");
        assert_eq!(m.state, None);
    }

    #[test]
    fn search_types_its_text_and_esc_clears_it() {
        let mut m = fleet();
        press(&mut m, "/ar");
        assert_eq!(m.mode, Mode::Search);
        // Letters that are keys elsewhere are text while searching.
        assert_eq!(names(&m), ["charlie"]);
        assert_eq!(m.selected.as_deref(), Some("charlie"));
        m.key(Key::Backspace);
        m.key(Key::Enter);
        assert_eq!(m.mode, Mode::Normal);
        assert_eq!(m.search, "a");
        press(&mut m, "/bob");
        assert_eq!(
            names(&m),
            ["bravo", "delta"],
            "a new search; owners match too"
        );
        m.key(Key::Esc);
        assert_eq!((m.search.as_str(), names(&m).len()), ("", 4));
    }

    #[test]
    fn selection_follows_its_bot_and_stays_in_bounds() {
        let mut m = fleet();
        assert_eq!(m.selected.as_deref(), Some("charlie"));
        m.key(Key::Down);
        press(&mut m, "j");
        assert_eq!(m.selected.as_deref(), Some("bravo"));
        press(&mut m, "n");
        assert_eq!(m.selected_index(), Some(1), "bravo is second by name");
        m.key(Key::PageDown);
        assert_eq!(m.selected.as_deref(), Some("delta"));
        press(&mut m, "kkkkkk");
        assert_eq!(m.selected.as_deref(), Some("alpha"));
        // A filter that hides the selected bot moves the selection into the view.
        press(&mut m, "ss");
        assert_eq!(m.selected.as_deref(), Some("alpha"));
        press(&mut m, "s");
        assert_eq!(m.selected.as_deref(), Some("delta"));
        // A refresh without the selected bot does the same.
        m.update(report(vec![bot(
            "echo",
            "eve",
            BotState::Stopped,
            0.0,
            0,
            0,
        )]));
        assert_eq!(m.selected.as_deref(), Some("echo"));
        m.update(report(vec![]));
        assert_eq!(m.selected, None);
        assert_eq!(m.key(Key::Char('R')), Effect::Nothing);
        assert_eq!(m.status_line(), "no bot selected");
    }

    #[test]
    fn an_action_waits_for_y() {
        let mut m = fleet();
        assert_eq!(m.key(Key::Char('R')), Effect::Nothing);
        assert_eq!(m.status_line(), "restart charlie? y/n");
        assert_eq!(
            m.key(Key::Char('y')),
            Effect::Act(Action::Restart, "charlie".into())
        );
        assert_eq!(m.key(Key::Char('S')), Effect::Nothing);
        assert_eq!(m.key(Key::Char('n')), Effect::Nothing);
        assert_eq!(m.status_line(), "stop of charlie cancelled");
        m.key(Key::Char('T'));
        assert_eq!(m.key(Key::Char('q')), Effect::Nothing, "q answers no here");
        assert_eq!(m.key(Key::Char('q')), Effect::Quit);
        m.key(Key::Char('V'));
        assert_eq!(m.key(Key::Interrupt), Effect::Quit);
    }

    #[test]
    fn enter_opens_and_closes_the_detail() {
        let mut m = fleet();
        assert_eq!(m.key(Key::Enter), Effect::Refresh);
        assert!(m.detail_open);
        assert_eq!(m.key(Key::Esc), Effect::Refresh);
        assert!(!m.detail_open);
    }
}
