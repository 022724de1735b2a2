//! Issue 18: hostile *files* (not contents). The inspector opens without following links or
//! blocking, refuses what is not a regular file, reads only what it prints, and never maps,
//! so a huge sparse table, a FIFO or a file shrinking under it cannot hang, bloat or crash
//! it. Tests that need their own /dev/shm re-run in a private mount namespace (root only;
//! skipped with a printed reason otherwise).

use std::os::unix::process::ExitStatusExt;
use std::time::Duration;

use zeroipc_testkit::{Measured, private_shm, run_measured};

use crate::common::{TempDir, golden_dir, unique};

const BIN: &str = env!("CARGO_BIN_EXE_zeroipc-inspect");
/// A hang guard only: the commands take milliseconds.
const KILL_AFTER: Duration = Duration::from_secs(30);

fn inspect(args: &[&str]) -> Option<Measured> {
    let mut argv = vec![BIN];
    argv.extend_from_slice(args);
    run_measured(&argv, KILL_AFTER)
}

#[test]
fn a_sparse_huge_table_is_refused_by_list_and_show_in_little_memory() {
    if !private_shm(
        "files::a_sparse_huge_table_is_refused_by_list_and_show_in_little_memory",
        "1g",
        Duration::from_secs(120),
    ) {
        return;
    }
    // 40 M entries: a 1.92 GB table in a 1 GiB tmpfs (SIGBUS before), 32 bytes real.
    zeroipc_testkit::images::sparse_table("/dev/shm/sparse", 40_000_000);
    for args in [
        &["list"][..],
        &["show", "sparse"],
        &["show", "sparse", "x"],
        &["dump", "sparse", "x"],
    ] {
        let Some(m) = inspect(args) else { return };
        println!(
            "measured: inspect {args:?}: exit {:?}, peak RSS {} KiB, {:.3} s",
            m.code, m.max_rss_kib, m.secs
        );
        assert_eq!(m.signal, None, "{args:?} died: {}", m.stderr);
        assert!(m.max_rss_kib < 50 * 1024, "{args:?}: {} KiB", m.max_rss_kib);
        if args[0] == "list" {
            assert_eq!(m.code, Some(0), "{}", m.stderr);
            assert!(m.stdout.contains("never written"), "{}", m.stdout);
        } else {
            assert_eq!(m.code, Some(2), "{args:?}: {}", m.stderr);
            assert!(m.stderr.contains("never written"), "{}", m.stderr);
        }
    }
    std::fs::remove_file("/dev/shm/sparse").expect("remove");
}

#[test]
fn fifos_symlinks_and_directories_are_refused_without_hanging() {
    if !private_shm(
        "files::fifos_symlinks_and_directories_are_refused_without_hanging",
        "16m",
        Duration::from_secs(120),
    ) {
        return;
    }
    rustix::fs::mknodat(
        rustix::fs::CWD,
        "/dev/shm/fifo",
        rustix::fs::FileType::Fifo,
        rustix::fs::Mode::from_raw_mode(0o666),
        0,
    )
    .expect("mkfifo");
    std::os::unix::fs::symlink("/etc/passwd", "/dev/shm/link").expect("symlink");
    std::fs::create_dir("/dev/shm/dir").expect("mkdir");
    for (name, kind) in [
        ("fifo", "FIFO"),
        ("link", "symbolic link"),
        ("dir", "directory"),
    ] {
        for cmd in [
            &["show"][..],
            &["dump"],
            &["show", "--json"],
            &["dump", "--size", "64"],
        ] {
            let mut args = vec![cmd[0], name];
            args.extend_from_slice(&cmd[1..]);
            let Some(m) = inspect(&args) else { return };
            assert_eq!(m.signal, None, "{args:?} hung or died: {}", m.stderr);
            assert_eq!(m.code, Some(2), "{args:?}: {}", m.stderr);
            assert!(m.stderr.contains(kind), "{args:?}: {}", m.stderr);
        }
    }
    // A listing skips them and finishes.
    let m = inspect(&["list", "--all"]).expect("measured");
    assert_eq!(m.code, Some(0), "{}", m.stderr);
}

#[test]
fn a_2_gib_file_is_shown_and_dumped_reading_only_what_is_printed() {
    let dir = TempDir::new("big");
    // Junk: a 2 GiB sparse file with no magic.
    let junk = dir.0.join("junk");
    std::fs::File::create(&junk)
        .expect("create")
        .set_len(2 << 30)
        .expect("set_len");
    // A real segment image grown to 2 GiB (the golden image, then a long sparse tail).
    let seg = dir.0.join("seg");
    std::fs::copy(golden_dir().join("standard-cpp.seg"), &seg).expect("copy");
    std::fs::OpenOptions::new()
        .write(true)
        .open(&seg)
        .expect("open")
        .set_len(2 << 30)
        .expect("grow");
    let junk_s = junk.display().to_string();
    let seg_s = seg.display().to_string();
    for (args, code) in [
        (vec!["show", junk_s.as_str()], 2),
        (vec!["dump", junk_s.as_str(), "--size", "64"], 0),
        (vec!["dump", seg_s.as_str(), "--size", "64"], 0),
        (vec!["show", seg_s.as_str()], 0),
    ] {
        let Some(m) = inspect(&args) else { return };
        println!(
            "measured: inspect {args:?}: peak RSS {} KiB, {:.3} s",
            m.max_rss_kib, m.secs
        );
        assert_eq!(m.code, Some(code), "{args:?}: {}", m.stderr);
        assert!(m.max_rss_kib < 50 * 1024, "{args:?}: {} KiB", m.max_rss_kib);
    }
}

#[test]
// A thread-local stop flag in this process, not shared memory: no atomic facade needed.
#[allow(clippy::disallowed_types)]
fn a_file_shrinking_under_the_inspector_never_crashes_it() {
    let dir = TempDir::new("shrink");
    let path = dir.0.join(format!("{}.seg", unique("shrink")));
    let image = std::fs::read(golden_dir().join("standard-cpp.seg")).expect("golden");
    std::fs::write(&path, &image).expect("write");
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let toggler = {
        let (path, stop) = (path.clone(), stop.clone());
        std::thread::spawn(move || {
            let f = std::fs::OpenOptions::new()
                .write(true)
                .open(&path)
                .expect("open");
            let mut toggles = 0u64;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                f.set_len(4096).expect("shrink");
                // Restore the bytes the shrink dropped.
                rustix::io::pwrite(&f, &image[4096..], 4096).expect("regrow");
                toggles += 1;
            }
            toggles
        })
    };
    let p = path.display().to_string();
    let (mut runs, mut by_code) = (0, [0u32; 4]);
    for _ in 0..60 {
        for cmd in [
            vec!["show", p.as_str()],
            vec!["show", p.as_str(), "q_i32"],
            vec!["show", p.as_str(), "arr_f64"],
            vec!["dump", p.as_str(), "q_i32"],
            vec![
                "monitor",
                p.as_str(),
                "q_i32",
                "--count",
                "2",
                "--interval",
                "1",
            ],
        ] {
            let out = std::process::Command::new(BIN)
                .args(&cmd)
                .output()
                .expect("run");
            assert_eq!(
                out.status.signal(),
                None,
                "{cmd:?} died: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            let code = out.status.code().expect("exit code");
            assert!((0..=3).contains(&code), "{cmd:?}: exit {code}");
            by_code[code as usize] += 1;
            runs += 1;
        }
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let toggles = toggler.join().expect("toggler");
    println!(
        "measured: {runs} inspector runs under {toggles} shrinks: exits 0/1/2/3 = {by_code:?}"
    );
}

/// Issue 18: a capacity-1 queue (as upstream C++ creates it) is shown as unsupported, with
/// the library's reason, not as corrupt.
#[test]
fn a_capacity_1_queue_is_shown_as_unsupported() {
    let name = unique("cap1");
    let _g = zeroipc_testkit::ShmGuard::new(&name);
    let seg = zeroipc_format::Segment::create(&name, 1 << 16, 8).expect("create");
    seg.add("q1", 16 + 8 + 4, |r| {
        r.write::<u32>(8, 1)?;
        r.write::<u32>(12, 4)
    })
    .expect("add");
    for args in [
        vec!["show", name.as_str(), "q1"],
        vec!["show", name.as_str(), "q1", "--as", "queue:u32"],
    ] {
        let out = std::process::Command::new(BIN)
            .args(&args)
            .output()
            .expect("run");
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(3), "{args:?}: {err}");
        assert!(
            err.contains("unsupported") && err.contains("capacity 1") && !err.contains("corrupt"),
            "{args:?}: {err}"
        );
    }
}
