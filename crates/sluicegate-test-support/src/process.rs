//! Waiting for processes without sleeping: a child's exit under a watchdog deadline, and any
//! process's exit through a pidfd. Tests use these instead of `sleep` followed by a look.

use std::process::{Child, ExitStatus};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::time::Duration;

pub use rustix::process::Signal;
use rustix::process::{Pid, kill_process};

/// Send `signal` to `pid`; a process that is already gone is not an error.
pub fn signal(pid: u32, signal: Signal) {
    if let Some(pid) = i32::try_from(pid).ok().and_then(Pid::from_raw) {
        let _ = kill_process(pid, signal);
    }
}

/// Wait for `child` to exit. A watchdog kills it (SIGKILL) if it is still running after
/// `within`, and the result is then `None`: the deadline only ends a test that would hang,
/// it never decides when to look.
pub fn wait_within(child: &mut Child, within: Duration) -> Option<ExitStatus> {
    let pid = child.id();
    let (exited, exit_seen) = mpsc::channel::<()>();
    let watchdog = std::thread::spawn(move || {
        let late = matches!(
            exit_seen.recv_timeout(within),
            Err(RecvTimeoutError::Timeout)
        );
        if late {
            signal(pid, Signal::KILL);
        }
        late
    });
    let status = child.wait().expect("wait for the child");
    let _ = exited.send(());
    let late = watchdog.join().unwrap_or(true);
    (!late).then_some(status)
}

/// Wait until the process `pid` (not necessarily a child of this one) has exited, for at most
/// `within`; returns whether it did. A zombie counts as exited. On Linux this waits on a pidfd,
/// which the kernel makes readable at the exit itself.
#[cfg(target_os = "linux")]
pub fn wait_for_exit(pid: u32, within: Duration) -> bool {
    use rustix::event::{PollFd, PollFlags, Timespec, poll};
    use rustix::process::{PidfdFlags, pidfd_open};

    let Some(pid) = i32::try_from(pid).ok().and_then(Pid::from_raw) else {
        return true;
    };
    let fd = match pidfd_open(pid, PidfdFlags::empty()) {
        Ok(fd) => fd,
        // No such process: it has exited and been reaped already.
        Err(rustix::io::Errno::SRCH) => return true,
        Err(e) => panic!("pidfd_open({pid:?}): {e}"),
    };
    let timeout = Timespec::try_from(within).expect("a representable timeout");
    let mut fds = [PollFd::new(&fd, PollFlags::IN)];
    loop {
        match poll(&mut fds, Some(&timeout)) {
            Ok(ready) => return ready > 0,
            Err(rustix::io::Errno::INTR) => continue,
            Err(e) => panic!("poll on a pidfd: {e}"),
        }
    }
}

/// [`wait_for_exit`] where there is no pidfd: a bounded poll, the only way to watch a process
/// that is not our child there. An orphan is reaped by init at once, so "gone" is the exit.
#[cfg(not(target_os = "linux"))]
pub fn wait_for_exit(pid: u32, within: Duration) -> bool {
    use rustix::process::test_kill_process;

    let Some(pid) = i32::try_from(pid).ok().and_then(Pid::from_raw) else {
        return true;
    };
    let deadline = std::time::Instant::now() + within;
    while test_kill_process(pid).is_ok() {
        if std::time::Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{BufRead, BufReader};
    use std::process::{Command, Stdio};
    use std::time::Instant;

    fn sleeper() -> Child {
        let mut child = Command::new("sh")
            .args(["-c", "echo ready; exec sleep 30"])
            .stdout(Stdio::piped())
            .spawn()
            .expect("spawn sh");
        let mut line = String::new();
        BufReader::new(child.stdout.take().expect("stdout"))
            .read_line(&mut line)
            .expect("readiness line");
        assert_eq!(line, "ready\n");
        child
    }

    #[test]
    fn a_child_that_exits_in_time_gives_its_status() {
        let mut child = Command::new("sh")
            .args(["-c", "exit 3"])
            .spawn()
            .expect("spawn");
        let status = wait_within(&mut child, Duration::from_secs(10)).expect("in time");
        assert_eq!(status.code(), Some(3));
    }

    #[test]
    fn a_child_past_its_deadline_is_killed() {
        let mut child = sleeper();
        let started = Instant::now();
        assert!(wait_within(&mut child, Duration::from_millis(200)).is_none());
        assert!(started.elapsed() < Duration::from_secs(5));
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn exits_are_seen_through_a_pidfd() {
        let mut child = sleeper();
        let pid = child.id();
        assert!(
            !wait_for_exit(pid, Duration::from_millis(100)),
            "still running"
        );
        signal(pid, Signal::TERM);
        assert!(
            wait_for_exit(pid, Duration::from_secs(10)),
            "exited (a zombie)"
        );
        child.wait().expect("reap");
        assert!(wait_for_exit(pid, Duration::from_millis(1)), "reaped");
    }
}
