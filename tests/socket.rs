//! The RPC socket: private permissions, and peers that send garbage or absurd frame lengths
//! lose their connection without hurting the agent.

use std::io::{Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::UnixStream;
use std::time::Duration;

use crate::support::*;

fn mode(path: &std::path::Path) -> u32 {
    std::fs::metadata(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .permissions()
        .mode()
        & 0o777
}

#[test]
fn run_dir_and_socket_are_private() {
    let home = Home::new();
    home.botctl(&["status"]).ok();
    assert_eq!(
        mode(&home.file("run")),
        0o711,
        "run dir: searchable, not listable"
    );
    assert_eq!(mode(&home.socket()), 0o600, "socket");
}

/// True when the agent closed the connection (EOF or reset) within a few seconds.
fn hung_up(stream: &mut UnixStream) -> bool {
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .expect("read timeout");
    let mut buf = [0u8; 64];
    match stream.read(&mut buf) {
        Ok(0) => true,
        Ok(_) => false,
        Err(e) => !matches!(
            e.kind(),
            std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
        ),
    }
}

#[test]
fn garbage_and_huge_frames_do_not_hurt_the_agent() {
    let home = Home::fast();
    home.write_bot("hello", &sleeper("alice"));
    let bot = home.running_pid("hello");
    let agent = home.agent_pid_file().expect("agent pid");
    let socket = home.socket();

    // Plain junk: its first four bytes read as an absurd length.
    let mut junk = UnixStream::connect(&socket).expect("connect");
    junk.write_all(b"GET / HTTP/1.1\r\n\r\n\xff\x00garbage")
        .expect("write junk");
    assert!(hung_up(&mut junk), "the agent drops a junk peer");

    // A well-formed frame whose payload is not a request.
    let mut bad_frame = UnixStream::connect(&socket).expect("connect");
    bad_frame
        .write_all(&[0, 0, 0, 8, 0xde, 0xad, 0xbe, 0xef, 0xff, 0xff, 0xff, 0xff])
        .expect("write frame");
    assert!(
        hung_up(&mut bad_frame),
        "the agent drops a peer sending a bad frame"
    );

    // A frame claiming 4 GiB: dropped before anything that size is allocated.
    let mut huge = UnixStream::connect(&socket).expect("connect");
    huge.write_all(&[0xff, 0xff, 0xff, 0xff, 1, 2, 3])
        .expect("write length");
    assert!(hung_up(&mut huge), "the agent drops a peer claiming 4 GiB");

    // A peer that connects and says nothing holds no one up.
    let _silent = UnixStream::connect(&socket).expect("connect");

    assert!(alive(agent));
    let status = home.status();
    assert_eq!(status["agent"]["pid"], agent, "the same agent answers");
    assert_eq!(pid_of(&row(&status, "hello").expect("row")), Some(bot));
    home.botctl(&["restart", "hello"]).ok();
    assert!(
        rss_kib(agent) < 256 * 1024,
        "agent RSS {} KiB",
        rss_kib(agent)
    );
}
