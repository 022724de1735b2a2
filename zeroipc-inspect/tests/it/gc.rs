//! `gc` removes a killed reader's leftovers and leaves a live buffer alone.

use std::path::Path;

use serde_json::Value;
use zerobuffer::{BufferConfig, Reader};

use crate::common::{run_json, spawn_child, unique, wait_ready};

/// Child role: `NAME`: creates a ZeroBuffer reader, says READY and waits to be killed.
pub fn reader(args: &[&str]) -> i32 {
    let [name] = args else {
        return 98;
    };
    let _reader = Reader::create(name, BufferConfig::new(64, 1024)).expect("create reader");
    println!("ZI_READY");
    loop {
        std::thread::sleep(std::time::Duration::from_secs(1));
    }
}

fn leftovers(name: &str) -> [bool; 4] {
    [
        Path::new(&format!("/dev/shm/{name}")).exists(),
        Path::new(&format!("/dev/shm/sem.sem-w-{name}")).exists(),
        Path::new(&format!("/dev/shm/sem.sem-r-{name}")).exists(),
        Path::new(&format!("/tmp/zerobuffer/{name}.lock")).exists(),
    ]
}

/// Removes whatever a killed reader left of buffer `name` when dropped, so a failed or
/// retried scenario leaves nothing behind (after a passing one, `gc` has removed it all).
struct RemoveLeftovers(String);

impl Drop for RemoveLeftovers {
    fn drop(&mut self) {
        let n = &self.0;
        for path in [
            format!("/dev/shm/{n}"),
            format!("/dev/shm/sem.sem-w-{n}"),
            format!("/dev/shm/sem.sem-r-{n}"),
            format!("/tmp/zerobuffer/{n}.lock"),
        ] {
            let _ = std::fs::remove_file(path);
        }
    }
}

fn names(report: &Value) -> Vec<&str> {
    report["stale"]
        .as_array()
        .expect("stale")
        .iter()
        .filter_map(|s| s["name"].as_str())
        .collect()
}

/// A reader lock held by the test: while held, no reader's stale scan (this binary's other
/// tests, or other processes on the machine) removes the buffer's leftovers.
fn hold_lock(name: &str) -> Option<std::fs::File> {
    let file = std::fs::File::open(format!("/tmp/zerobuffer/{name}.lock")).ok()?;
    for _ in 0..1000 {
        if rustix::fs::flock(&file, rustix::fs::FlockOperation::NonBlockingLockExclusive).is_ok() {
            return Some(file);
        }
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
    None
}

/// One run of the scenario; `Err` if another process's stale scan removed the leftovers in
/// the moment between releasing our hold on the lock and `gc` finding them.
fn killed_reader_scenario(live: &str) -> Result<(), String> {
    let dead = unique("gcdead");
    let _cleanup = RemoveLeftovers(dead.clone());
    let mut child = spawn_child("zb_reader", &dead);
    wait_ready(&mut child);
    child.0.kill().expect("SIGKILL");
    child.0.wait().expect("reap");
    let Some(lock) = hold_lock(&dead) else {
        return Err("leftovers cleaned before the test could hold the lock".into());
    };
    assert_eq!(
        leftovers(&dead),
        [true; 4],
        "a killed reader leaves everything behind"
    );

    // The listing shows it as stale.
    let list = run_json(&["list", "--json"]);
    let row = list["objects"]
        .as_array()
        .expect("objects")
        .iter()
        .find(|o| o["name"] == dead.as_str())
        .unwrap_or_else(|| panic!("dead buffer {dead} not listed: {list}"));
    assert_eq!(row["state"], "stale");
    assert_eq!(row["reader_alive"], false);
    drop(lock);

    // Dry run: reported, nothing removed.
    let dry = run_json(&["gc", "--dry-run", "--json", &dead, live]);
    if names(&dry).is_empty() && leftovers(&dead) != [true; 4] {
        return Err("another stale scan won the race (dry run)".into());
    }
    assert_eq!(dry["dry_run"], true);
    assert_eq!(names(&dry), [dead.as_str()]);
    assert_eq!(
        dry["stale"][0]["removed"],
        serde_json::json!(["shm", "sem-w", "sem-r", "lock"])
    );
    if leftovers(&dead) != [true; 4] {
        return Err("another stale scan won the race (after the dry run)".into());
    }

    let done = run_json(&["gc", "--json", &dead, live]);
    if names(&done).is_empty() && leftovers(&dead) == [false; 4] {
        return Err("another stale scan won the race (gc)".into());
    }
    assert_eq!(names(&done), [dead.as_str()]);
    assert_eq!(leftovers(&dead), [false; 4]);
    Ok(())
}

#[test]
fn gc_removes_a_killed_readers_leftovers_and_keeps_a_live_buffer() {
    let _serial = crate::common::zerobuffer_serial();
    let live = unique("gclive");
    let live_reader = Reader::create(&live, BufferConfig::new(64, 1024)).expect("live reader");
    let mut interfered = Vec::new();
    while let Err(why) = killed_reader_scenario(&live) {
        interfered.push(why);
        assert!(
            interfered.len() < 5,
            "interfered with every time: {interfered:?}"
        );
    }

    // The live buffer is untouched and still works.
    assert_eq!(leftovers(&live), [true; 4]);
    let show = run_json(&["show", &live, "--json"]);
    assert_eq!(show["reader"]["alive"], true);
    let again = run_json(&["gc", "--json", &live]);
    assert_eq!(names(&again), Vec::<&str>::new());
    drop(live_reader);
    assert_eq!(leftovers(&live), [false; 4]);
}
