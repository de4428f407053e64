//! Unit tests of the ops: each op's scoping by caller (another owner's bot answers exactly
//! like a missing one) and the actor stored with the events they cause. The tarpc service
//! over an in-memory channel is tested in `server`.

use std::sync::Arc;

use botctl_proto::{Action, AddBot, CreateBot, EventQuery, RpcError, Target};

use super::*;
use crate::fleet::Files;

pub(crate) struct Agent {
    _home: tempfile::TempDir,
    pub ops: Arc<Ops>,
}

/// A home with two owners' bots, disabled (no process is started), and a template.
pub(crate) async fn agent() -> Agent {
    let home = tempfile::tempdir().unwrap();
    let paths = botctl_proto::Paths::under(home.path());
    std::fs::create_dir_all(&paths.bots_dir).unwrap();
    for (name, owner) in [("a1", "alice"), ("a2", "alice"), ("b1", "bob")] {
        std::fs::write(
            paths.bot_file(name),
            format!(
                "user = \"{owner}\"\ncommand = [\"sleep\", \"1000\"]\nenabled = false\n\
                 [update]\nupdate_command = [\"true\"]\n"
            ),
        )
        .unwrap();
    }
    let (store, _) = crate::store::Store::open(&paths.db_file);
    let ctx = Arc::new(Context::new(paths.clone(), store));
    let fleet = Fleet::new(ctx.clone());
    fleet
        .load(|| Files::read(&paths), Default::default(), true)
        .await;
    let (auth, _requests) = Monitor::new(ctx.clone(), fleet.clone());
    let ops = Arc::new(Ops {
        ctx,
        fleet,
        auth,
        shutdown: Arc::default(),
        reconfigure: Box::new(|_| {}),
        rows: Default::default(),
    });
    Agent { _home: home, ops }
}

fn alice() -> Who {
    Who {
        caller: Caller::Owner("alice".into()),
        actor: Actor::Uid(1000),
    }
}

pub(crate) fn admin() -> Who {
    Who::admin(Actor::Uid(0))
}

pub(crate) fn names(rows: &[botctl_proto::BotInfo]) -> Vec<&str> {
    rows.iter().map(|b| b.name.as_str()).collect()
}

async fn events(a: &Agent) -> Vec<botctl_proto::EventRecord> {
    a.ops.ctx.store.flush().await;
    a.ops
        .ctx
        .store
        .events(EventQuery {
            limit: 100,
            ..Default::default()
        })
        .await
        .unwrap()
}

#[tokio::test]
async fn list_and_status_show_an_owner_its_own_bots_only() {
    let a = agent().await;
    assert_eq!(
        names(&show::list(&a.ops, &admin(), None)),
        ["a1", "a2", "b1"]
    );
    assert_eq!(names(&show::list(&a.ops, &alice(), None)), ["a1", "a2"]);
    // Asking for another owner's list gives the caller's own.
    assert_eq!(
        names(&show::list(&a.ops, &alice(), Some("bob".into()))),
        ["a1", "a2"]
    );
    let status = show::status(&a.ops, &alice(), agent::info(&agent::Identity::of(&a.ops)));
    assert_eq!(names(&status.bots), ["a1", "a2"]);
}

#[tokio::test]
async fn status_shares_its_rows_until_a_bot_or_the_fleet_changes() {
    use crate::bot::runner::AuthVerdict;
    use crate::bot::{AuthSeen, Command};
    let a = agent().await;
    // Early in a second: the rows are due again at the next one.
    let now = botctl_proto::now_ms() / 1000 * 1000 + 1;
    let rows = |now| show::rows_at(&a.ops, &admin(), None, now);
    let auth = |rows: &botctl_proto::Rows| rows[0].auth.clone();
    let first = rows(now);
    assert!(rows(now + 998).same(&first), "nothing changed: no new rows");
    assert!(
        !rows(now + 999).same(&first),
        "a second on, uptimes are due"
    );
    // A bot's own state changes: its task writes its view.
    let first = rows(now);
    let a1 = a.ops.fleet.handle("a1").unwrap();
    a1.send(Command::Auth(Box::new(AuthSeen {
        label: "valid".into(),
        verdict: AuthVerdict::Keep,
    })));
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while auth(&rows(now)).is_none() {
        assert!(
            std::time::Instant::now() < deadline,
            "the change never showed"
        );
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    assert_eq!(auth(&first), None);
    assert_eq!(auth(&rows(now)).as_deref(), Some("valid"));
    // The fleet changes: a bot is removed.
    let before = rows(now);
    remove::remove(&a.ops, &admin(), "b1", false).await.unwrap();
    assert_eq!(names(&rows(now)), ["a1", "a2"]);
    assert_eq!(names(&before), ["a1", "a2", "b1"]);
    // An owner's rows are its own, built for it.
    assert_eq!(
        names(&show::rows_at(&a.ops, &alice(), None, now)),
        ["a1", "a2"]
    );
}

/// What the CLI writes for `status --json` from a `status` answer.
fn cli_text(report: &botctl_proto::StatusReport) -> String {
    let summary = botctl_proto::Summary::of(&report.bots, &report.config_issues);
    let mut out = Vec::new();
    botctl_proto::json::write_pretty(
        &mut out,
        &botctl_proto::json::StatusJson {
            report,
            summary: &summary,
        },
    )
    .unwrap();
    String::from_utf8(out).unwrap()
}

#[tokio::test]
async fn status_text_is_what_the_cli_writes_and_is_kept_with_the_rows() {
    let a = agent().await;
    let info = agent::info(&agent::Identity::of(&a.ops));
    for who in [admin(), alice()] {
        let text = show::status_text(&a.ops, &who, info.clone()).unwrap();
        let report = show::status(&a.ops, &who, info.clone());
        assert_eq!(text.json, cli_text(&report));
        assert!(!text.needs_attention);
    }
    let alices = show::status_text(&a.ops, &alice(), info).unwrap().json;
    assert!(
        alices.contains("\"a2\"") && !alices.contains("\"b1\""),
        "{alices}"
    );
    // The rows' text is written once while they stay the same.
    let now = botctl_proto::now_ms() / 1000 * 1000 + 1;
    let text = |now| show::rows_text_at(&a.ops, &admin(), now).1;
    let first = text(now);
    assert!(Arc::ptr_eq(&first, &text(now + 998)), "nothing changed");
    assert!(!Arc::ptr_eq(&first, &text(now + 999)), "uptimes are due");
    let first = text(now);
    remove::remove(&a.ops, &admin(), "b1", false).await.unwrap();
    assert!(first.contains("\"b1\""));
    assert!(!text(now).contains("\"b1\""), "a bot removed");
}

#[tokio::test]
async fn top_shows_an_owner_the_figures_of_its_own_bots_only() {
    let a = agent().await;
    let usage = botctl_proto::AgentUsage {
        cpu_percent: 1.0,
        memory_bytes: 2,
    };
    a.ops
        .ctx
        .recent
        .lock()
        .unwrap()
        .tick(&[("a1", 5.0, 10), ("b1", 7.0, 20)], Some(usage));
    let info = || agent::info(&agent::Identity::of(&a.ops));
    let mine = top::top(&a.ops, &alice(), info());
    assert_eq!(names(&mine.status.bots), ["a1", "a2"]);
    let figures: Vec<&str> = mine.recent.iter().map(|r| r.bot.as_str()).collect();
    assert_eq!(figures, ["a1"]);
    assert_eq!(mine.usage, Some(usage));
    assert_eq!(top::top(&a.ops, &admin(), info()).recent.len(), 2);
}

#[tokio::test]
async fn forecasts_show_an_owner_its_own_bots_only_and_the_admin_everything_soonest_first() {
    let a = agent().await;
    let forecast = |kind, bot: Option<&str>, owner: Option<&str>, at_ms| botctl_proto::Forecast {
        kind,
        bot: bot.map(str::to_string),
        owner: owner.map(str::to_string),
        at_ms,
        made_at_ms: 0,
        bytes_per_hour: Some(1.0),
        current_bytes: Some(1),
        limit_bytes: Some(2),
        message: "grows".into(),
    };
    {
        use botctl_proto::ForecastKind::*;
        let mut published = a.ops.ctx.forecasts.lock().unwrap();
        published.bots.insert(
            "a1".into(),
            forecast(BotMemory, Some("a1"), Some("alice"), 30),
        );
        published.bots.insert(
            "b1".into(),
            forecast(BotMemory, Some("b1"), Some("bob"), 10),
        );
        published.host.push(forecast(HostDisk, None, None, 20));
    }
    let at = |list: Vec<botctl_proto::Forecast>| list.iter().map(|f| f.at_ms).collect::<Vec<_>>();
    assert_eq!(at(forecast::list(&a.ops, &admin())), [10, 20, 30]);
    assert_eq!(
        at(forecast::list(&a.ops, &alice())),
        [30],
        "no host, no bob"
    );
    // And on the rows of `status`.
    let rows = show::list(&a.ops, &alice(), None);
    assert_eq!(rows[0].forecast.as_ref().map(|f| f.at_ms), Some(30));
    assert_eq!(rows[1].forecast, None);
}

#[tokio::test]
async fn show_answers_for_another_owners_bot_like_for_a_missing_one() {
    let a = agent().await;
    assert!(show::show(&a.ops, &alice(), "a1").await.is_ok());
    let other = show::show(&a.ops, &alice(), "b1").await.unwrap_err();
    let missing = show::show(&a.ops, &alice(), "zz").await.unwrap_err();
    assert_eq!(
        other,
        RpcError {
            ..no_such_bot("b1")
        }
    );
    assert_eq!(missing, no_such_bot("zz"));
    assert!(show::show(&a.ops, &admin(), "b1").await.is_ok());
}

#[tokio::test]
async fn control_acts_on_the_callers_bots_only() {
    let a = agent().await;
    let report = control::control(&a.ops, &alice(), Action::Stop, Target::All)
        .await
        .unwrap();
    let touched: Vec<&str> = report.outcomes.iter().map(|o| o.bot.as_str()).collect();
    assert_eq!(touched, ["a1", "a2"]);
    let report = control::control(
        &a.ops,
        &alice(),
        Action::Stop,
        Target::Bots(vec!["b1".into(), "zz".into()]),
    )
    .await
    .unwrap();
    assert_eq!(report.outcomes[0].message, no_such_bot("b1").message);
    assert_eq!(report.outcomes[1].message, no_such_bot("zz").message);
    let other = control::control(&a.ops, &alice(), Action::Stop, Target::Owner("bob".into()))
        .await
        .unwrap_err();
    let nobody = control::control(
        &a.ops,
        &alice(),
        Action::Stop,
        Target::Owner("carol".into()),
    )
    .await
    .unwrap_err();
    assert_eq!(other.kind, nobody.kind);
    assert_eq!(
        other.message.replace("bob", "X"),
        nobody.message.replace("carol", "X")
    );
}

#[tokio::test]
async fn a_start_names_who_asked_in_its_events() {
    let a = agent().await;
    let report = control::control(
        &a.ops,
        &alice(),
        Action::Start,
        Target::Bots(vec!["a1".into()]),
    )
    .await
    .unwrap();
    assert!(report.outcomes[0].ok, "{:?}", report.outcomes);
    control::control(
        &a.ops,
        &alice(),
        Action::Stop,
        Target::Bots(vec!["a1".into()]),
    )
    .await
    .unwrap();
    let mine: Vec<(String, Option<String>)> = events(&a)
        .await
        .into_iter()
        .filter(|e| e.bot.as_deref() == Some("a1"))
        .map(|e| (e.kind, e.actor))
        .collect();
    assert_eq!(
        mine,
        [
            ("started".to_string(), Some("uid 1000".to_string())),
            ("stopped".to_string(), Some("uid 1000".to_string())),
        ]
    );
}

#[tokio::test]
async fn remove_update_and_auth_refuse_another_owners_bot_as_missing() {
    let a = agent().await;
    let who = alice();
    assert_eq!(
        remove::remove(&a.ops, &who, "b1", false).await.unwrap_err(),
        no_such_bot("b1")
    );
    assert!(
        a.ops.fleet.handle("b1").is_some(),
        "bob's bot is still there"
    );
    assert_eq!(
        update::update(&a.ops, &who, "b1").await.unwrap_err(),
        no_such_bot("b1")
    );
    assert_eq!(update::updatable(&a.ops, &who), ["a1", "a2"]);
    assert_eq!(
        auth::check(&a.ops, &who, vec!["b1".into()])
            .await
            .unwrap_err(),
        no_such_bot("b1")
    );
    assert_eq!(
        auth::set_cookies(&a.ops, &who, "b1".into(), "/nonexistent".into())
            .await
            .unwrap_err(),
        no_such_bot("b1")
    );
    // The owner's own bot is removed, and the event names who did it.
    remove::remove(&a.ops, &who, "a2", false).await.unwrap();
    let removed = events(&a)
        .await
        .into_iter()
        .find(|e| e.kind == "removed")
        .unwrap();
    assert_eq!(
        (removed.owner.as_deref(), removed.actor.as_deref()),
        (Some("alice"), Some("uid 1000"))
    );
}

#[tokio::test]
async fn add_and_create_make_bots_of_the_callers_own_only() {
    let a = agent().await;
    let add = |owner: &str| AddBot {
        name: "new".into(),
        owner: owner.into(),
        command: vec!["sleep".into(), "1000".into()],
        cwd: None,
        env: Vec::new(),
        platform: None,
        start: false,
    };
    let refused = add::add(&a.ops, &alice(), add("bob")).await.unwrap_err();
    assert!(refused.message.contains("owner alice only"), "{refused:?}");
    let create = CreateBot {
        name: "new".into(),
        owner: "bob".into(),
        template: "t".into(),
        sets: Vec::new(),
        start: false,
    };
    let refused = create::create(&a.ops, &alice(), create).await.unwrap_err();
    assert!(refused.message.contains("owner alice only"), "{refused:?}");
    let added = add::add(&a.ops, &alice(), add("alice")).await.unwrap();
    assert!(added.ok, "{added:?}");
    assert_eq!(
        names(&show::list(&a.ops, &alice(), None)),
        ["a1", "a2", "new"]
    );
}

#[tokio::test]
async fn storage_cleanup_events_and_templates_are_narrowed_to_the_owner() {
    let a = agent().await;
    std::fs::create_dir_all(a.ops.ctx.paths.bots_root.join("bob")).unwrap();
    let report = storage::storage(&a.ops, &alice(), None).await;
    let owners: Vec<&str> = report.owners.iter().map(|o| o.owner.as_str()).collect();
    assert_eq!(owners, ["alice"]);
    let plan = cleanup::plan(&a.ops, &alice(), Some("bob".into())).await;
    assert!(plan.items.iter().all(|i| !i.path.contains("bob")));
    a.ops
        .ctx
        .record(crate::events::Event::new(crate::events::EventKind::Stopped, "x").of("b1", "bob"));
    let seen = events::events(
        &a.ops,
        &alice(),
        EventQuery {
            limit: 100,
            ..Default::default()
        },
    )
    .await
    .unwrap();
    assert!(
        seen.iter().all(|e| e.owner.as_deref() == Some("alice")),
        "{seen:?}"
    );
    assert!(templates::templates(&a.ops, &alice()).await.is_empty());
}

#[tokio::test]
async fn what_only_an_admin_may_do_is_refused_to_an_owner() {
    let a = agent().await;
    assert!(reload::reload(&a.ops, &alice()).await.is_err());
    assert!(agent::shutdown(&a.ops, &alice(), true).await.is_err());
    assert!(
        agent::notify_test(&a.ops, &alice(), "hi".into())
            .await
            .is_err()
    );
    assert!(
        a.ops.fleet.refuse_when_closed().is_ok(),
        "the fleet still runs"
    );
}
