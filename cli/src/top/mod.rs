//! `botctl top`: a full-screen live view of the fleet. The loop here owns the terminal (raw
//! mode, alternate screen, restored on every way out), the refresh and the keys; `state` is the model.

mod draw;
mod fit;
mod state;

use std::io::IsTerminal;
use std::time::Duration;

use botctl_proto::{Action, AgentClient, EventQuery, TopReport};
use crossterm::event::{Event, KeyCode, KeyEventKind, KeyModifiers};
use tokio::signal::unix::{SignalKind, signal};
use tokio::sync::mpsc;

use crate::CliError;
use crate::client::{self, Target, ctx};
use crate::render;
use state::{Detail, Effect, Key, Model};

/// How often the view asks the agent.
const REFRESH: Duration = Duration::from_secs(1);
/// How much of the selected bot the detail pane shows.
const DETAIL_EVENTS: u32 = 4;
const DETAIL_LOG_LINES: usize = 5;

pub async fn run(target: &Target) -> Result<(), CliError> {
    if !std::io::stdout().is_terminal() || !std::io::stdin().is_terminal() {
        return Err(CliError::failed(
            "top needs a terminal; use `botctl status` or `botctl status --json`",
        ));
    }
    let session = client::connect(target).await?;
    let mut client = Some(session.client);
    let mut model = Model::default();
    // The first answer comes before the screen changes, so a refusal is an ordinary error.
    let first = fetch_top(client.as_ref().expect("just connected")).await?;
    model.update(first);
    let color = render::color_enabled();
    let mut terminal = Screen::enter()?;

    let mut keys = read_keys();
    let mut term = signal(SignalKind::terminate()).map_err(io_error)?;
    let mut hangup = signal(SignalKind::hangup()).map_err(io_error)?;
    let mut interrupt = signal(SignalKind::interrupt()).map_err(io_error)?;
    let (done_tx, mut done) = mpsc::unbounded_channel::<String>();
    let mut tick = tokio::time::interval(REFRESH);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let exit = loop {
        terminal.draw(&model, color)?;
        let refresh = tokio::select! {
            _ = tick.tick() => true,
            key = keys.recv() => match key {
                Some(Input::Key(k)) => match model.key(k) {
                    Effect::Quit => break 0,
                    Effect::Refresh => true,
                    Effect::Nothing => false,
                    Effect::Act(action, bot) => {
                        match &client {
                            Some(c) => act(c.clone(), action, bot, done_tx.clone()),
                            None => model.message = Some("the agent is not answering".into()),
                        }
                        false
                    }
                },
                Some(Input::Resize) => false,
                // The key reader is gone: nothing could end the view any more.
                None => break 1,
            },
            Some(message) = done.recv() => {
                model.message = Some(message);
                true
            }
            _ = term.recv() => break 128 + libc::SIGTERM as u8,
            _ = hangup.recv() => break 128 + libc::SIGHUP as u8,
            _ = interrupt.recv() => break 0,
        };
        if refresh {
            refresh_model(target, &mut client, &mut model).await;
        }
    };
    drop(terminal);
    match exit {
        0 => Ok(()),
        code => Err(CliError {
            code,
            message: String::new(),
        }),
    }
}

/// One refresh: the table's answer, and the detail pane's events and log when it is open.
/// A lost agent is said in the status line and reached again on the next refresh.
async fn refresh_model(target: &Target, client: &mut Option<AgentClient>, model: &mut Model) {
    if client.is_none() {
        *client = client::connect_existing(target)
            .await
            .ok()
            .flatten()
            .map(|s| s.client);
    }
    let Some(c) = client.as_ref() else {
        model.message = Some(match &target.host {
            Some(host) => format!("no agent answers on {}", host.name),
            None => format!("no agent answers on {}", target.paths.socket.display()),
        });
        return;
    };
    let bot = model.selected.clone().filter(|_| model.detail_open);
    let events = async {
        match &bot {
            Some(b) => c
                .events(
                    ctx(Duration::from_secs(5)),
                    EventQuery {
                        bot: Some(b.clone()),
                        limit: DETAIL_EVENTS,
                        ..Default::default()
                    },
                )
                .await
                .ok()
                .and_then(Result::ok),
            None => None,
        }
    };
    let (report, events) = futures::join!(fetch_top(c), events);
    let mut said = Vec::new();
    match report {
        Ok(report) => {
            if let Some(b) = report
                .status
                .bots
                .iter()
                .find(|b| Some(&b.name) == bot.as_ref())
            {
                said.extend(b.notify_status.as_ref().map(|s| format!("status: {s}")));
                said.extend(b.detail.clone());
            }
            if model.message.as_deref().is_some_and(is_connection_error) {
                model.message = None;
            }
            model.update(report);
        }
        Err(e) => {
            model.message = Some(format!("agent: {}", e.message));
            *client = None;
            return;
        }
    }
    model.detail = bot.map(|bot| {
        let mut events = events.unwrap_or_default();
        // Newest first: the pane is short.
        events.reverse();
        // The log is a file on the agent's machine; over ssh, say where it is.
        let log = match &target.host {
            Some(host) => vec![format!(
                "(on {}: botctl --host {} logs {bot})",
                host.name, host.name
            )],
            None => crate::tail::last_lines(&target.paths.stdout_log(&bot), DETAIL_LOG_LINES)
                .map(|t| t.lines().map(str::to_string).collect())
                .unwrap_or_default(),
        };
        Detail {
            bot,
            said,
            events,
            log,
        }
    });
}

fn is_connection_error(message: &str) -> bool {
    message.starts_with("agent: ") || message.starts_with("no agent answers")
}

async fn fetch_top(c: &AgentClient) -> Result<TopReport, CliError> {
    Ok(c.top(ctx(Duration::from_secs(5))).await?)
}

/// Runs a confirmed action beside the view (a stop may take its stop_timeout) and reports
/// its outcome, in the user's words, to the status line.
fn act(c: AgentClient, action: Action, bot: String, done: mpsc::UnboundedSender<String>) {
    tokio::spawn(async move {
        let target = botctl_proto::Target::Bots(vec![bot.clone()]);
        let answer = c
            .control(ctx(Duration::from_secs(120)), action, target)
            .await;
        let message = match answer {
            Ok(Ok(report)) => match report.outcomes.first() {
                Some(o) if o.ok => format!("{} {bot}: ok, {}", action.as_str(), o.message),
                Some(o) => format!("{} {bot} failed: {}", action.as_str(), o.message),
                None => format!("{} {bot}: nothing to do", action.as_str()),
            },
            Ok(Err(e)) => format!("{} {bot} failed: {}", action.as_str(), e.message),
            Err(e) => format!("{} {bot}: the agent did not answer: {e}", action.as_str()),
        };
        let _ = done.send(message);
    });
}

enum Input {
    Key(Key),
    Resize,
}

/// Keys come from a thread of their own: crossterm's read blocks. The thread ends with the
/// process (it may be blocked in a read when the view closes).
fn read_keys() -> mpsc::UnboundedReceiver<Input> {
    let (tx, rx) = mpsc::unbounded_channel();
    std::thread::spawn(move || {
        while let Ok(event) = crossterm::event::read() {
            let input = match event {
                Event::Key(k) if k.kind != KeyEventKind::Release => {
                    let ctrl = k.modifiers.contains(KeyModifiers::CONTROL);
                    match k.code {
                        KeyCode::Char('c') if ctrl => Input::Key(Key::Interrupt),
                        KeyCode::Char(c) => Input::Key(Key::Char(c)),
                        KeyCode::Up => Input::Key(Key::Up),
                        KeyCode::Down => Input::Key(Key::Down),
                        KeyCode::PageUp => Input::Key(Key::PageUp),
                        KeyCode::PageDown => Input::Key(Key::PageDown),
                        KeyCode::Home => Input::Key(Key::Home),
                        KeyCode::End => Input::Key(Key::End),
                        KeyCode::Enter => Input::Key(Key::Enter),
                        KeyCode::Esc => Input::Key(Key::Esc),
                        KeyCode::Backspace => Input::Key(Key::Backspace),
                        _ => continue,
                    }
                }
                Event::Resize(..) => Input::Resize,
                _ => continue,
            };
            if tx.send(input).is_err() {
                return;
            }
        }
    });
    rx
}

fn io_error(e: std::io::Error) -> CliError {
    CliError::failed(format!("terminal: {e}"))
}

/// The terminal in raw mode on the alternate screen; dropping it (on q, Ctrl-C, a signal or
/// an error) gives the user's screen back. ratatui's init also hooks panics to restore it
/// before the panic message is printed.
struct Screen {
    terminal: ratatui::DefaultTerminal,
}

impl Screen {
    fn enter() -> Result<Screen, CliError> {
        let terminal = ratatui::try_init().map_err(|e| {
            ratatui::restore();
            io_error(e)
        })?;
        Ok(Screen { terminal })
    }

    fn draw(&mut self, model: &Model, color: bool) -> Result<(), CliError> {
        self.terminal
            .draw(|f| draw::draw(f, model, color))
            .map(|_| ())
            .map_err(io_error)
    }
}

impl Drop for Screen {
    fn drop(&mut self) {
        // The panic hook has restored the screen already; leaving the alternate screen a
        // second time would move the cursor back over the panic message.
        if std::thread::panicking() {
            return;
        }
        let _ = self.terminal.show_cursor();
        ratatui::restore();
    }
}
