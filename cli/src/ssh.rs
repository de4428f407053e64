//! `--host`: the agent of another machine through the system's `ssh`, which runs a hidden
//! `botctl __stdio` there; tarpc travels over the child's stdin and stdout.

use std::ffi::OsString;
use std::io;
use std::os::fd::{AsRawFd, OwnedFd};
use std::pin::Pin;
use std::process::Stdio;
use std::task::{Context, Poll};
use std::time::Duration;

use botctl_proto::config::{Host, HostsFile, load_hosts};
use botctl_proto::paths::HOSTS_FILE_ENV;
use botctl_proto::{AgentClient, AgentInfo, MAX_FRAME_BYTES, Paths, RpcError};
use tarpc::tokio_serde::formats::Bincode;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, Interest, ReadBuf};
use tokio::process::{Child, Command};
use tokio_util::codec::LengthDelimitedCodec;

use crate::CliError;
use crate::client::{Session, ctx, hello};

/// How much of ssh's standard error is kept to explain a failure.
const STDERR_KEPT: usize = 8 * 1024;
/// How long ssh has, once the link failed, to finish saying why.
const STDERR_GRACE: Duration = Duration::from_secs(2);
/// What the far side may add to the host's timeout: starting its agent.
const REMOTE_START: Duration = Duration::from_secs(5);

/// The hosts file: `BOTCTL_HOSTS_FILE`, else `hosts.toml` beside `botctl.toml`. A problem
/// in it is a usage error (exit 2).
pub fn hosts_file(paths: &Paths) -> Result<HostsFile, CliError> {
    let path = std::env::var_os(HOSTS_FILE_ENV)
        .filter(|p| !p.is_empty())
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| paths.hosts_file.clone());
    load_hosts(&path).map_err(|problems| CliError {
        code: 2,
        message: problems
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join("\n"),
    })
}

/// The host `given` names (an ssh:// address or a name in the hosts file).
pub fn resolve(paths: &Paths, given: &str) -> Result<Host, CliError> {
    hosts_file(paths)?
        .host(given)
        .map_err(|message| CliError { code: 2, message })
}

/// How long a whole call to `host` may take: ssh's connection, then its agent's start.
pub fn deadline(host: &Host) -> Duration {
    host.timeout + REMOTE_START
}

/// A link whose first call (`hello`) has not been answered yet.
pub struct Link {
    pub client: AgentClient,
    host: Host,
    stderr: tokio::task::JoinHandle<Vec<u8>>,
}

/// Starts `ssh HOST botctl __stdio` and a tarpc client over its stdio.
pub fn open(host: &Host, no_start: bool) -> Result<Link, CliError> {
    let mut args: Vec<OsString> = vec!["__stdio".into()];
    if no_start {
        args.push("--no-start".into());
    }
    let (ours, theirs) =
        socket_pair().map_err(|e| CliError::unreachable(format!("creating ssh's socket: {e}")))?;
    let theirs_out = theirs
        .try_clone()
        .map_err(|e| CliError::unreachable(format!("creating ssh's socket: {e}")))?;
    let ours = tokio::net::UnixStream::from_std(ours)
        .map_err(|e| CliError::unreachable(format!("watching ssh's socket: {e}")))?;
    let mut child = ssh(host, &args)
        .stdin(Stdio::from(theirs))
        .stdout(Stdio::from(theirs_out))
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| CliError::unreachable(format!("cannot run ssh: {e}")))?;
    let Some(mut stderr) = child.stderr.take() else {
        return Err(CliError::unreachable("ssh started without its stderr"));
    };
    // Read to the end however long the session lasts, so that ssh never blocks on a full
    // pipe; only the end is kept.
    let stderr = tokio::spawn(async move {
        let mut kept = Vec::new();
        let mut chunk = [0u8; 1024];
        while let Ok(n) = stderr.read(&mut chunk).await {
            if n == 0 {
                break;
            }
            kept.extend_from_slice(&chunk[..n]);
            if kept.len() > STDERR_KEPT {
                kept.drain(..kept.len() - STDERR_KEPT);
            }
        }
        kept
    });
    let pipe = Pipe {
        socket: Some(ours),
        child,
    };
    let framed = LengthDelimitedCodec::builder()
        .max_frame_length(MAX_FRAME_BYTES)
        .new_framed(pipe);
    let transport = tarpc::serde_transport::new(framed, Bincode::default());
    let client = AgentClient::new(tarpc::client::Config::default(), transport).spawn();
    Ok(Link {
        client,
        host: host.clone(),
        stderr,
    })
}

/// Connects: ssh, the far side's bridge (which starts the agent unless `no_start`), `hello`.
pub async fn connect(host: &Host, no_start: bool) -> Result<Session, CliError> {
    let link = open(host, no_start)?;
    let answer = link.client.hello(ctx(deadline(host)), hello()).await;
    link.session(answer).await
}

impl Link {
    /// The session once `hello` was answered, or why the link failed, in ssh's words.
    pub async fn session(
        self,
        hello: Result<Result<AgentInfo, RpcError>, tarpc::client::RpcError>,
    ) -> Result<Session, CliError> {
        match hello {
            Ok(Ok(agent)) => Ok(Session {
                client: self.client,
                agent,
            }),
            // A version mismatch above all: the far agent's message says what to do.
            Ok(Err(e)) => Err(CliError::unreachable(e.message)),
            Err(e) => {
                drop(self.client);
                let said = tokio::time::timeout(STDERR_GRACE, self.stderr)
                    .await
                    .ok()
                    .and_then(Result::ok)
                    .unwrap_or_default();
                Err(failure(&self.host, &String::from_utf8_lossy(&said), &e))
            }
        }
    }
}

/// Why the link failed: ssh's own line (or the far side's) when it said one.
fn failure(host: &Host, stderr: &str, e: &tarpc::client::RpcError) -> CliError {
    let said_lines: Vec<&str> = stderr
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with("Warning: Permanently added"))
        .collect();
    let line = said_lines
        .iter()
        .rfind(|l| l.contains("error:"))
        .or(said_lines.last());
    let said = match (line, e) {
        (Some(line), _) => line.to_string(),
        (None, tarpc::client::RpcError::DeadlineExceeded) => format!(
            "no answer within {}",
            botctl_proto::human::duration(deadline(host))
        ),
        (None, e) => format!("the connection ended before the agent answered ({e})"),
    };
    CliError::unreachable(format!("ssh to {}: {said}", host.address))
}

/// Runs `botctl ARGS` on the host with the terminal's output, for the commands that read the
/// host's files rather than ask its agent (`logs`, `config check`, `agent ...`); its exit
/// code is this one's.
pub async fn run_there(host: &Host, args: Vec<OsString>) -> Result<(), CliError> {
    let mut there: Vec<OsString> = vec!["__stdio".into(), "--called".into()];
    there.push(host.name.clone().into());
    there.push("--".into());
    there.extend(args);
    // stdin stays open (and unused) while ssh runs: the far side ends the command when it
    // closes, which is how a `logs -f` there ends when this CLI does, however it ends.
    let mut child = ssh(host, &there)
        .stdin(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| CliError::unreachable(format!("cannot run ssh: {e}")))?;
    // Held out of the child: `wait` would close it first.
    let _stdin = child.stdin.take();
    let status = child
        .wait()
        .await
        .map_err(|e| CliError::unreachable(format!("waiting for ssh: {e}")))?;
    match status.code() {
        Some(0) => Ok(()),
        Some(255) => Err(CliError::unreachable(format!(
            "ssh to {} failed (its message is above)",
            host.address
        ))),
        Some(126 | 127) => Err(CliError::unreachable(format!(
            "cannot run {} on {} (set `botctl` for this host in hosts.toml)",
            host.botctl, host.address
        ))),
        Some(code) => Err(CliError {
            code: code.min(255) as u8,
            message: String::new(),
        }),
        None => Err(CliError::failed("ssh was ended by a signal")),
    }
}

/// `ssh [options] -- DESTINATION 'botctl' ARGS...`, never prompting.
fn ssh(host: &Host, args: &[OsString]) -> Command {
    let mut cmd = Command::new("ssh");
    // Ours first where they must win (ssh keeps the first value of each option); the
    // operator's timeout may replace ours.
    cmd.args(["-o", "BatchMode=yes"]);
    if let Some(port) = host.address.port {
        cmd.arg("-p").arg(port.to_string());
    }
    cmd.args(&host.ssh_options)
        .arg("-o")
        .arg(format!("ConnectTimeout={}", host.timeout.as_secs().max(1)))
        .arg("--")
        .arg(host.address.destination())
        .arg(remote_command(host, args));
    cmd
}

/// The command line ssh hands to the remote user's shell, every word quoted.
fn remote_command(host: &Host, args: &[OsString]) -> String {
    let mut words = vec!["exec".to_string()];
    if let Some(home) = &host.home {
        words.push("env".into());
        words.push(format!("BOTCTL_HOME={}", quote(home)));
    }
    words.push(quote(&host.botctl));
    words.extend(args.iter().map(|a| quote(&a.to_string_lossy())));
    words.join(" ")
}

/// POSIX shell quoting; a leading `~/` stays the remote user's home.
fn quote(word: &str) -> String {
    let single = |s: &str| format!("'{}'", s.replace('\'', r"'\''"));
    match word.strip_prefix("~/") {
        Some(rest) => format!("\"$HOME\"/{}", single(rest)),
        None => single(word),
    }
}

/// This command's arguments for the far side: without `--host` and `--home`, which are this
/// side's (the far side's home is the host's `home`).
pub fn args_for_there(args: impl IntoIterator<Item = OsString>) -> Vec<OsString> {
    let mut out = Vec::new();
    let mut args = args.into_iter();
    while let Some(arg) = args.next() {
        if arg == "--" {
            out.push(arg);
            out.extend(args.by_ref());
            break;
        }
        let text = arg.to_string_lossy();
        if text == "--host" || text == "--home" {
            args.next();
            continue;
        }
        if text.starts_with("--host=") || text.starts_with("--home=") {
            continue;
        }
        out.push(arg);
    }
    out
}

/// ssh's stdin and stdout: one end of a socket pair, the other end ssh's fds 0 and 1. A
/// socket rather than pipes because a socket can be written without SIGPIPE (MSG_NOSIGNAL):
/// the CLI dies of SIGPIPE by design (`status | head`), and must not when ssh has just
/// exited, refused, as a request goes out.
fn socket_pair() -> io::Result<(std::os::unix::net::UnixStream, OwnedFd)> {
    let (ours, theirs) = std::os::unix::net::UnixStream::pair()?;
    ours.set_nonblocking(true)?;
    Ok((ours, theirs.into()))
}

/// ssh's stdio as one stream. Dropping it (when the last client goes) closes ssh's stdin,
/// which ends the far side, and ends ssh.
struct Pipe {
    socket: Option<tokio::net::UnixStream>,
    child: Child,
}

impl Drop for Pipe {
    fn drop(&mut self) {
        drop(self.socket.take());
        let _ = self.child.start_kill();
    }
}

impl Pipe {
    fn socket(&mut self) -> io::Result<&mut tokio::net::UnixStream> {
        self.socket
            .as_mut()
            .ok_or_else(|| io::ErrorKind::BrokenPipe.into())
    }
}

impl AsyncRead for Pipe {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.socket() {
            Ok(socket) => Pin::new(socket).poll_read(cx, buf),
            Err(e) => Poll::Ready(Err(e)),
        }
    }
}

impl AsyncWrite for Pipe {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let socket = match self.socket() {
            Ok(socket) => socket,
            Err(e) => return Poll::Ready(Err(e)),
        };
        loop {
            std::task::ready!(socket.poll_write_ready(cx))?;
            let sent = socket.try_io(Interest::WRITABLE, || {
                // SAFETY: send reads at most `buf.len()` bytes of `buf`, on a socket we own.
                let n = unsafe {
                    libc::send(
                        socket.as_raw_fd(),
                        buf.as_ptr().cast(),
                        buf.len(),
                        libc::MSG_NOSIGNAL,
                    )
                };
                if n < 0 {
                    Err(io::Error::last_os_error())
                } else {
                    Ok(n as usize)
                }
            });
            match sent {
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted
                    ) => {}
                other => return Poll::Ready(other),
            }
        }
    }
    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.socket() {
            Ok(socket) => Pin::new(socket).poll_shutdown(cx),
            Err(e) => Poll::Ready(Err(e)),
        }
    }
}

/// The error over a host: which host, then what went wrong.
pub fn on(host: &str, e: CliError) -> CliError {
    if e.message.is_empty() {
        return e;
    }
    CliError {
        code: e.code,
        message: format!("on {host}: {}", e.message),
    }
}

/// Shared by tests that check what ssh was told.
#[cfg(test)]
fn words(cmd: &Command) -> Vec<String> {
    let std = cmd.as_std();
    std::iter::once(std.get_program())
        .chain(std.get_args())
        .map(std::ffi::OsStr::to_string_lossy)
        .map(|s| s.into_owned())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    fn host(text: &str) -> Host {
        let file = botctl_proto::config::check_hosts_text(std::path::Path::new("h"), text);
        file.unwrap().host("h").unwrap()
    }

    #[test]
    fn ssh_is_told_never_to_prompt_and_the_remote_words_are_quoted() {
        let h = host(
            "[hosts.h]\naddress = \"ssh://deploy@web1:2222\"\nhome = \"~/it's here\"\nbotctl = \"/opt/bot ctl\"\nssh_options = [\"-i\", \"/k\"]\n",
        );
        let args: Vec<OsString> = vec!["__stdio".into(), "--".into(), "logs".into(), "a'b".into()];
        assert_eq!(
            words(&ssh(&h, &args)),
            [
                "ssh",
                "-o",
                "BatchMode=yes",
                "-p",
                "2222",
                "-i",
                "/k",
                "-o",
                "ConnectTimeout=10",
                "--",
                "deploy@web1",
                r#"exec env BOTCTL_HOME="$HOME"/'it'\''s here' '/opt/bot ctl' '__stdio' '--' 'logs' 'a'\''b'"#,
            ]
        );
        let bare = host("[hosts.h]\naddress = \"ssh://web1\"\n");
        assert_eq!(
            words(&ssh(&bare, &["__stdio".into()]))[1..],
            [
                "-o",
                "BatchMode=yes",
                "-o",
                "ConnectTimeout=10",
                "--",
                "web1",
                "exec 'botctl' '__stdio'"
            ]
        );
    }

    #[test]
    fn the_far_side_gets_the_arguments_without_this_sides_host_and_home() {
        let os = |v: &[&str]| v.iter().map(OsString::from).collect::<Vec<_>>();
        assert_eq!(
            args_for_there(os(&[
                "--host",
                "web1",
                "logs",
                "-f",
                "--home=/x",
                "a",
                "--host=b",
                "--home",
                "/y"
            ])),
            os(&["logs", "-f", "a"])
        );
        assert_eq!(
            args_for_there(os(&["bots", "add", "x", "--", "cmd", "--host", "y"])),
            os(&["bots", "add", "x", "--", "cmd", "--host", "y"])
        );
    }

    #[test]
    fn a_failure_is_said_in_ssh_s_own_words() {
        let h = host("[hosts.h]\naddress = \"ssh://root@127.0.0.1:1\"\n");
        let closed = tarpc::client::RpcError::Shutdown;
        let e = failure(
            &h,
            "Warning: Permanently added '[127.0.0.1]:1' (ED25519) to the list of known hosts.\r\nroot@127.0.0.1: Permission denied (publickey).\r\n",
            &closed,
        );
        assert_eq!(e.code, 3);
        assert_eq!(
            e.message,
            "ssh to ssh://root@127.0.0.1:1: root@127.0.0.1: Permission denied (publickey)."
        );
        let e = failure(
            &h,
            "botctl: started the agent\nbotctl: error: the agent failed to start: x\n",
            &closed,
        );
        assert!(
            e.message
                .ends_with("botctl: error: the agent failed to start: x")
        );
        let e = failure(&h, "", &closed);
        assert!(
            e.message.contains("ended before the agent answered"),
            "{}",
            e.message
        );
    }
}
