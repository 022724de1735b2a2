//! Process liveness, for dead-owner detection here and in `zeroipc-codata`.

use rustix::io::Errno;
use rustix::process::{Pid, test_kill_process};

/// Cached pid (one `getpid` per process instead of one per lock; it costs ~300 ns here).
static PID: std::sync::OnceLock<u32> = std::sync::OnceLock::new();

/// This process's pid as stored in owner words. Cached: a child created with a bare `fork`
/// (without exec) that locks a mutex would record its parent's pid (see `Mutex`).
pub fn my_pid() -> u32 {
    *PID.get_or_init(|| {
        rustix::process::getpid()
            .as_raw_nonzero()
            .get()
            .unsigned_abs()
    })
}

/// Whether process `pid` (in our pid namespace) is definitely gone: no such process, or a
/// zombie waiting to be reaped (a zombie still answers `kill(pid, 0)`). Pid 0 counts as
/// alive (unknown); a pid above `i32::MAX`, which only a corrupt word can hold, cannot exist
/// and counts as dead.
pub fn is_dead(pid: u32) -> bool {
    let Ok(raw) = i32::try_from(pid) else {
        return true;
    };
    let Some(p) = Pid::from_raw(raw) else {
        return false;
    };
    match test_kill_process(p) {
        Err(Errno::SRCH) => true,
        Ok(()) | Err(_) => is_zombie(pid),
    }
}

/// Reads the state letter of `/proc/PID/stat` (the field after the parenthesised command).
fn is_zombie(pid: u32) -> bool {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return false;
    };
    stat.rfind(')')
        .and_then(|i| stat.get(i + 1..))
        .and_then(|rest| rest.split_whitespace().next())
        .is_some_and(|state| state == "Z" || state == "X")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn we_are_alive_and_an_unused_pid_is_dead() {
        assert!(!is_dead(my_pid()));
        // Above the kernel's pid_max limit (2^22): cannot exist.
        assert!(is_dead(5_000_000));
        assert!(!is_dead(0));
        assert!(is_dead(u32::MAX), "no pid is above i32::MAX");
    }
}
