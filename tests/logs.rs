//! `botctl logs` over several bots as `pm2 logs` and `docker compose logs` show them: lines
//! named by their bot, both streams, `-n` per file, and `-f` following through a rotation.

use std::sync::mpsc::Receiver;

use crate::support::*;

fn wait_line(what: &str, rx: &Receiver<String>, seen: &mut Vec<String>, line: &str) {
    wait_for(what, WAIT, || {
        seen.extend(rx.try_iter());
        let last: Vec<String> = seen.iter().rev().take(3).cloned().collect();
        ensure(seen.iter().any(|l| l == line), (line, seen.len(), last))
    });
}

#[test]
fn logs_of_every_bot_named_and_followed_through_a_rotation() {
    let home = Home::new();
    // The smallest rotation size, 1 MiB: `big` writes more than that on cue.
    home.write_config(&format!("{FAST}\n[logs]\nmax_size_mb = 1\nkeep = 1\n"));
    home.write_bot(
        "a",
        "user = \"alice\"\ncommand = [\"sh\", \"-c\", \"echo a-old; echo a-err >&2; exec sleep 1000\"]\n",
    );
    home.write_bot(
        "bb",
        "user = \"bob\"\ncommand = [\"sh\", \"-c\", \"echo bb-old; exec sleep 1000\"]\n",
    );
    home.write_bot(
        "big",
        "user = \"alice\"\ncommand = [\"sh\", \"-c\", \"echo big-old; \
         while [ ! -e go ]; do sleep 0.05; done; \
         yes 0123456789012345678901234567890123456789 | head -n 30000; \
         i=0; while true; do i=$((i+1)); echo big-after-$i; sleep 0.05; done\"]\n",
    );
    for name in ["a", "bb", "big"] {
        home.running_pid(name);
    }
    wait_for("every bot wrote its first lines", WAIT, || {
        let read = |f: &str| std::fs::read_to_string(home.file(f)).unwrap_or_default();
        let all = [
            read("logs/a.out"),
            read("logs/a.err"),
            read("logs/bb.out"),
            read("logs/big.out"),
        ];
        ensure(
            all.iter().all(|t| t.ends_with("-old\n") || t == "a-err\n"),
            all,
        )
    });

    // Both streams, a line each, named and padded to the longest name, bot by bot.
    let all = home.botctl(&["logs", "--all", "-n", "5"]).ok();
    assert_eq!(
        all.stdout, "a   | a-old\na   | a-err\nbb  | bb-old\nbig | big-old\n",
        "{all:?}"
    );
    let alice = home.botctl(&["logs", "--user", "alice", "--stdout"]).ok();
    assert_eq!(alice.stdout, "a   | a-old\nbig | big-old\n", "{alice:?}");
    let two = home.botctl(&["logs", "a", "bb"]).ok();
    assert_eq!(
        two.stdout, "a  | a-old\na  | a-err\nbb | bb-old\n",
        "{two:?}"
    );
    // One bot by name: its lines exactly as it wrote them.
    let one = home.botctl(&["logs", "a", "--stderr"]).ok();
    assert_eq!(one.stdout, "a-err\n", "{one:?}");
    home.botctl(&["logs", "--user", "nobody"])
        .code(1)
        .says(&["no bots owned by nobody"]);
    home.botctl(&["logs", "a", "--stdout", "--stderr"]).code(2);

    let follow_args = ["logs", "--all", "-f", "-n", "1"];
    let mut follower = KillOnDrop(home.command(&follow_args).spawn().expect("logs -f"));
    let rx = lines_of(&mut follower.0);
    let new_args = ["logs", "--all", "-f", "-n", "0"];
    let mut only_new = KillOnDrop(home.command(&new_args).spawn().expect("logs -n 0 -f"));
    let new_rx = lines_of(&mut only_new.0);
    let mut seen = Vec::new();
    wait_line(
        "the old lines from logs -f",
        &rx,
        &mut seen,
        "big | big-old",
    );

    // `big` floods past 1 MiB; the agent copies the log aside and truncates it in place.
    std::fs::write(home.file("bots/alice/big/go"), "").unwrap();
    let after = wait_for("a line written after the rotation", WAIT, || {
        let rotated = home.file("logs/big.out.1").exists();
        let live = std::fs::read_to_string(home.file("logs/big.out")).unwrap_or_default();
        let last = live.lines().rev().find(|l| l.starts_with("big-after-"));
        match last {
            Some(l) if rotated && live.len() < 1024 * 1024 => Ok(l.to_string()),
            _ => Err((rotated, live.len())),
        }
    });
    let line = format!("big | {after}");
    wait_line("logs -f through the rotation", &rx, &mut seen, &line);
    for l in &seen {
        assert!(
            ["a   | ", "bb  | ", "big | "]
                .iter()
                .any(|p| l.starts_with(p)),
            "a line without its bot's name: {l:?}"
        );
    }
    for old in ["a   | a-old", "a   | a-err", "bb  | bb-old"] {
        assert!(seen.iter().any(|l| l == old), "{old:?} not shown by -n 1");
    }

    let mut fresh = Vec::new();
    wait_line("logs -n 0 -f shows new lines", &new_rx, &mut fresh, &line);
    assert!(
        !fresh
            .iter()
            .any(|l| l.ends_with("-old") || l.ends_with("a-err")),
        "-n 0 -f printed an old line: {:?}",
        &fresh[..fresh.len().min(5)]
    );
    drop(follower);
    drop(only_new);
}
