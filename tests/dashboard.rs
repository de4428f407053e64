//! The dashboard in a real headless Chromium, driven over the DevTools protocol: sign in with
//! a token, see one's bots, restart one and see its pid change, sign out (and the session is
//! over on the agent too), and a phone-wide (360 px) page that never scrolls sideways.
//! Screenshots go under target/tmp/; a failing step saves one there first.

use std::io::{BufRead, BufReader};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tungstenite::{Message, WebSocket};

use crate::support::*;

const CHROMIUM: &str = "chromium";

/// A headless Chromium of this test (its own profile), and a DevTools session on its page.
struct Browser {
    child: Child,
    page: WebSocket<TcpStream>,
    next_id: u64,
    _profile: tempfile::TempDir,
}

impl Browser {
    fn start() -> Browser {
        let profile = tempfile::tempdir().unwrap();
        let mut child = Command::new(CHROMIUM)
            .args([
                "--headless=new",
                "--no-sandbox",
                "--disable-gpu",
                "--no-first-run",
                "--no-default-browser-check",
                "--disable-extensions",
                "--remote-debugging-address=127.0.0.1",
                "--remote-debugging-port=0",
                "--window-size=1200,900",
            ])
            .arg(format!("--user-data-dir={}", profile.path().display()))
            .arg("about:blank")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("running chromium (.ci/run installs it)");
        // Chromium says where DevTools listens on stderr; the rest of stderr is drained.
        let (tx, rx) = std::sync::mpsc::channel();
        let stderr = child.stderr.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if let Some(url) = line.strip_prefix("DevTools listening on ") {
                    let _ = tx.send(url.trim().to_string());
                }
            }
        });
        let Ok(browser_url) = rx.recv_timeout(Duration::from_secs(30)) else {
            let _ = child.kill();
            let _ = child.wait();
            panic!("chromium did not say where DevTools listens");
        };
        let port: u16 = browser_url
            .trim_start_matches("ws://127.0.0.1:")
            .split('/')
            .next()
            .and_then(|p| p.parse().ok())
            .expect("a DevTools port");
        let page_url = wait_for("chromium's page target", WAIT, || {
            let list = http(port, "GET", "/json/list", &[], "");
            let targets: Value = serde_json::from_str(&list.body).unwrap_or(Value::Null);
            targets
                .as_array()
                .and_then(|t| t.iter().find(|t| t["type"] == "page"))
                .and_then(|t| t["webSocketDebuggerUrl"].as_str())
                .map(str::to_string)
                .ok_or(list)
        });
        let stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
        stream.set_read_timeout(Some(WAIT)).unwrap();
        let (page, _) = tungstenite::client(page_url.as_str(), stream).expect("a DevTools session");
        Browser {
            child,
            page,
            next_id: 0,
            _profile: profile,
        }
    }

    /// One DevTools command; events arriving meanwhile are skipped.
    fn call(&mut self, method: &str, params: Value) -> Value {
        self.next_id += 1;
        let id = self.next_id;
        let request = json!({"id": id, "method": method, "params": params});
        self.page
            .send(Message::text(request.to_string()))
            .expect("sending to chromium");
        loop {
            let message = match self.page.read() {
                Ok(message) => message,
                // A read with a timeout (SO_RCVTIMEO) is not restarted after a signal handler
                // ran, as other reads are: a child of another test exiting (SIGCHLD to this
                // process) ended one with EINTR in a CI run. Nothing was read; read again.
                Err(tungstenite::Error::Io(e)) if e.kind() == std::io::ErrorKind::Interrupted => {
                    continue;
                }
                Err(e) => panic!("reading from chromium: {e:?}"),
            };
            let Message::Text(text) = message else {
                continue;
            };
            let answer: Value = serde_json::from_str(text.as_str()).unwrap();
            if answer["id"] == id {
                assert!(answer["error"].is_null(), "{method}: {answer}");
                return answer["result"].clone();
            }
        }
    }

    /// The value of a JavaScript expression in the page (promises awaited).
    fn eval(&mut self, expression: &str) -> Value {
        let result = self.call(
            "Runtime.evaluate",
            json!({"expression": expression, "returnByValue": true, "awaitPromise": true}),
        );
        if let Some(e) = result.get("exceptionDetails") {
            self.fail(&format!("{expression}: {e}"));
        }
        result["result"]["value"].clone()
    }

    /// Waits until `expression` is truthy (one that throws, e.g. before the page loaded, is
    /// not yet); a screenshot and a panic at the deadline.
    fn wait(&mut self, what: &str, expression: &str) -> Value {
        let deadline = Instant::now() + WAIT;
        let guarded = format!(
            "(() => {{ try {{ return ({expression}); }} catch (e) {{ return null; }} }})()"
        );
        loop {
            let value = self.eval(&guarded);
            if !value.is_null() && value != false && value != "" && value != 0 {
                return value;
            }
            if Instant::now() >= deadline {
                self.fail(&format!("timed out waiting for {what} ({expression})"));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn click(&mut self, selector: &str) {
        let found = self.eval(&format!(
            "(() => {{ const e = document.querySelector({selector:?}); if (!e) return false; e.click(); return true; }})()"
        ));
        if found != true {
            self.fail(&format!("nothing to click at {selector}"));
        }
    }

    fn screenshot(&mut self, name: &str) -> PathBuf {
        let shot = self.call("Page.captureScreenshot", json!({"format": "png"}));
        let png = base64(shot["data"].as_str().unwrap());
        let path = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(name);
        std::fs::write(&path, png).unwrap();
        path
    }

    #[track_caller]
    fn fail(&mut self, why: &str) -> ! {
        let path = self.screenshot("dashboard-failure.png");
        let body = self.call(
            "Runtime.evaluate",
            json!({"expression": "document.body.innerText", "returnByValue": true}),
        );
        panic!(
            "{why}\nscreenshot: {}\npage text:\n{}",
            path.display(),
            body["result"]["value"]
        );
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn base64(text: &str) -> Vec<u8> {
    let value = |c: u8| match c {
        b'A'..=b'Z' => c - b'A',
        b'a'..=b'z' => c - b'a' + 26,
        b'0'..=b'9' => c - b'0' + 52,
        b'+' => 62,
        _ => 63,
    };
    let digits: Vec<u8> = text.bytes().filter(|c| *c != b'=').map(value).collect();
    digits
        .chunks(4)
        .flat_map(|c| {
            let n = c
                .iter()
                .enumerate()
                .fold(0u32, |n, (i, d)| n | u32::from(*d) << (18 - 6 * i));
            let bytes = [(n >> 16) as u8, (n >> 8) as u8, n as u8];
            bytes.into_iter().take(c.len().saturating_sub(1))
        })
        .collect()
}

#[test]
fn an_owner_signs_in_restarts_a_bot_and_signs_out_in_a_real_browser() {
    let home = Home::fast();
    let port = crate::api::setup(&home, "");
    let a1 = home.running_pid("a1");
    let (token, _) = crate::api::create(&home, &["--user", "alice"]);
    let url = home.botctl(&["dashboard"]).ok().stdout.trim().to_string();
    assert_eq!(url, format!("http://127.0.0.1:{port}/"));
    let mut b = Browser::start();
    b.call("Page.navigate", json!({ "url": url }));
    b.wait(
        "the sign-in form",
        "!document.getElementById('signin').hidden",
    );
    b.eval(&format!(
        "document.getElementById('token').value = {token:?}; document.getElementById('signin-form').requestSubmit(); true"
    ));
    let bots = b.wait(
        "alice's bots",
        "(() => { const n = [...document.querySelectorAll('#bots li')].map(l => l.dataset.bot); return n.length ? n.join(',') : null; })()",
    );
    assert_eq!(bots, "a1,a2", "alice sees her bots and only hers");
    b.wait(
        "her resources",
        "document.getElementById('resources').innerText.includes('bots 2 of')",
    );

    // The session cookie is HttpOnly: the page's script cannot read it.
    assert_eq!(b.eval("document.cookie"), "");
    let cookies = b.call("Network.getCookies", json!({ "urls": [url] }));
    let cookie = cookies["cookies"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "botctl_session")
        .expect("a session cookie")
        .clone();
    assert_eq!(
        (cookie["httpOnly"].as_bool(), cookie["sameSite"].as_str()),
        (Some(true), Some("Strict"))
    );
    let session = format!("botctl_session={}", cookie["value"].as_str().unwrap());

    // A bot's page: restart it (after confirming) and see the new pid.
    b.click("#bots li[data-bot=a1] a");
    b.wait(
        "a1's page with its pid",
        &format!("document.getElementById('bot-name').dataset.pid === '{a1}'"),
    );
    b.wait(
        "its log panel",
        "document.getElementById('bot-log').textContent !== ''",
    );
    b.click("#actions button[data-action=restart]");
    b.wait(
        "the confirmation",
        "!document.getElementById('confirm').hidden",
    );
    b.click("#confirm-yes");
    let shown = b.wait(
        "a new pid on the page",
        &format!(
            "(() => {{ const p = document.getElementById('bot-name').dataset.pid; return p && p !== '{a1}' ? p : null; }})()"
        ),
    );
    let new_pid: u32 = shown.as_str().unwrap().parse().unwrap();
    assert_eq!(
        b.eval("document.getElementById('confirm').offsetParent === null"),
        true
    );
    assert_eq!(home.running_pid("a1"), new_pid);
    assert!(
        b.eval("document.getElementById('action-result').textContent")
            .as_str()
            .unwrap()
            .contains("a1"),
    );

    // Phone width: nothing wider than the screen, on the list and on a bot's page.
    b.call(
        "Emulation.setDeviceMetricsOverride",
        json!({"width": 360, "height": 740, "deviceScaleFactor": 1, "mobile": true}),
    );
    for (hash, ready) in [
        ("#", "document.querySelectorAll('#bots li').length === 2"),
        (
            "#bot/a1",
            "document.getElementById('cpu-day').childElementCount > 0",
        ),
    ] {
        b.eval(&format!("location.hash = {hash:?}; true"));
        b.wait("the page at 360 px", ready);
        let width = b
            .eval("document.documentElement.scrollWidth")
            .as_u64()
            .unwrap();
        let name = format!("dashboard-360{}.png", hash.replace(['#', '/'], "-"));
        let shot = b.screenshot(&name);
        if width > 360 {
            b.fail(&format!(
                "scrolls sideways at 360 px: {width} px wide ({})",
                shot.display()
            ));
        }
    }

    // Sign out: the page shows the form again and the agent forgot the session.
    b.click("#signout");
    b.wait(
        "the sign-in form again",
        "!document.getElementById('signin').hidden",
    );
    let after = http(port, "GET", "/api/v1/bots", &[("cookie", &session)], "");
    assert_eq!(after.status, 401, "{after:?}");

    // An admin sees every owner's bots, the fleet, the host with its graphs, the cleanup plan.
    let (admin, _) = crate::api::create(&home, &["--user", "ops", "--admin"]);
    b.eval(&format!(
        "document.getElementById('token').value = {admin:?}; document.getElementById('signin-form').requestSubmit(); true"
    ));
    b.wait(
        "every bot",
        "document.querySelectorAll('#bots li').length === 3",
    );
    b.wait(
        "both owners and the fleet",
        "(() => { const t = document.getElementById('resources').innerText; return t.includes('alice') && t.includes('bob') && t.includes('Fleet'); })()",
    );
    b.wait("the host panel", "!document.getElementById('host').hidden");
    b.click("#plan");
    b.wait(
        "the cleanup plan",
        "document.getElementById('plan-out').textContent !== ''",
    );
    b.screenshot("dashboard-admin.png");
    drop(b);
    let events = home.json(&["events", "--json", "-n", "200"]);
    let said: Vec<&str> = events
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["kind"] == "remote")
        .map(|e| e["message"].as_str().unwrap())
        .collect();
    for what in [
        "signed in to the dashboard",
        "api: restart a1",
        "signed out",
    ] {
        assert!(said.iter().any(|m| m.contains(what)), "{what}: {said:#?}");
    }
}

#[test]
fn a_foreign_page_cannot_act_with_the_session_cookie() {
    let home = Home::fast();
    let port = free_port();
    home.write_config(&format!(
        "{FAST}\n[remote.http]\nlisten = \"127.0.0.1:{port}\"\nsession_timeout = \"1m\"\n"
    ));
    home.write_bot("a1", &sleeper("alice"));
    let pid = home.running_pid("a1");
    let (token, _) = crate::api::create(&home, &["--user", "alice"]);
    let signed = wait_for("a sign-in", WAIT, || {
        let answer = http(
            port,
            "POST",
            "/session",
            &[("content-type", "application/json")],
            &json!({ "token": token }).to_string(),
        );
        if answer.status == 200 {
            Ok(answer)
        } else {
            Err(answer)
        }
    });
    let set = signed.header("set-cookie").unwrap().to_string();
    for part in ["HttpOnly", "SameSite=Strict", "Max-Age=60", "Path=/"] {
        assert!(set.contains(part), "{set}");
    }
    assert!(
        !set.contains("Secure"),
        "plain HTTP on loopback: no Secure flag"
    );
    let cookie = set.split(';').next().unwrap().to_string();
    let csrf = signed.json()["csrf"].as_str().unwrap().to_string();
    let restart = "/api/v1/bots/a1/restart";
    // The cookie alone (what a forged cross-site request carries) is refused...
    let forged = http(port, "POST", restart, &[("cookie", &cookie)], "");
    assert_eq!(forged.status, 403, "{forged:?}");
    // ...and so is the right CSRF token from another site's page.
    let foreign = http(
        port,
        "POST",
        restart,
        &[
            ("cookie", &cookie),
            ("x-csrf-token", &csrf),
            ("origin", "https://evil.example"),
        ],
        "",
    );
    assert_eq!(foreign.status, 403, "{foreign:?}");
    assert_eq!(home.running_pid("a1"), pid);
    let own = http(
        port,
        "POST",
        restart,
        &[
            ("cookie", &cookie),
            ("x-csrf-token", &csrf),
            ("origin", &format!("http://127.0.0.1:{port}")),
        ],
        "",
    );
    assert_eq!(own.status, 200, "{own:?}");
    assert_ne!(home.new_pid("a1", pid), pid);
    // Revoking the token ends its sessions.
    let id = home.json(&["tokens", "list", "--json"])[0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    home.botctl(&["tokens", "revoke", &id]).ok();
    let gone = http(port, "GET", "/api/v1/bots", &[("cookie", &cookie)], "");
    assert_eq!(gone.status, 401, "{gone:?}");
}
