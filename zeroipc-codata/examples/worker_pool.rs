//! A dispatcher, four worker processes and an aggregator process over two channels; every
//! task is accounted for.
//!
//! * `tasks` (buffered): the dispatcher (this process) sends task ids, then closes it.
//! * `results` (buffered): each worker sends `[task, task²]` for every task it takes.
//! * The aggregator process receives results until every registered worker has gone, and
//!   publishes `[count, sum of task ids, sum of squares]` in the future `totals`.
//!
//! Run: `cargo run -p zeroipc-codata --release --example worker_pool`

use std::process::{Child, Command};
use std::time::{Duration, Instant};

use zeroipc_codata::{Channel, Future, Segment};

const WORKERS: usize = 4;
const TASKS: u64 = 200_000;
const LONG: Duration = Duration::from_secs(60);

fn worker(seg: &Segment) -> Result<(), Box<dyn std::error::Error>> {
    let tasks = Channel::<u64>::open(seg, "tasks")?.receiver()?;
    let results = Channel::<[u64; 2]>::open(seg, "results")?.sender()?;
    let mut done = 0u64;
    while let Some(t) = tasks.recv_timeout(LONG)? {
        results.send_timeout([t, t * t], LONG)?;
        done += 1;
    }
    println!("worker {}: {done} tasks", std::process::id());
    Ok(())
}

fn aggregator(seg: &Segment) -> Result<(), Box<dyn std::error::Error>> {
    let results = Channel::<[u64; 2]>::open(seg, "results")?.receiver()?;
    let (mut n, mut ids, mut squares) = (0u64, 0u64, 0u64);
    // Ends when every registered worker (sender) has gone and the channel is drained.
    while let Some([t, sq]) = results.recv_timeout(LONG)? {
        n += 1;
        ids += t;
        squares = squares.wrapping_add(sq);
    }
    Future::<[u64; 3]>::open(seg, "totals")?.set_value([n, ids, squares])?;
    Ok(())
}

fn spawn(role: &str, seg: &str) -> std::io::Result<Child> {
    Command::new(std::env::current_exe()?)
        .args([role, seg])
        .spawn()
}

fn wait_until(mut cond: impl FnMut() -> bool) -> Result<(), Box<dyn std::error::Error>> {
    let end = Instant::now() + LONG;
    while !cond() {
        if Instant::now() > end {
            return Err("peers did not start".into());
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    Ok(())
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    if let [_, role, seg_name] = args.as_slice() {
        let seg = Segment::open(seg_name)?;
        return match role.as_str() {
            "worker" => worker(&seg),
            "aggregator" => aggregator(&seg),
            _ => Err(format!("unknown role {role}").into()),
        };
    }

    let name = format!("codata_pool_{}", std::process::id());
    let seg = Segment::create(&name, 1 << 20, 64)?;
    let tasks = Channel::<u64>::create(&seg, "tasks", 1024)?;
    let results = Channel::<[u64; 2]>::create(&seg, "results", 1024)?;
    let totals = Future::<[u64; 3]>::create(&seg, "totals")?;

    let mut kids = vec![spawn("aggregator", &name)?];
    for _ in 0..WORKERS {
        kids.push(spawn("worker", &name)?);
    }
    // Start only when every worker is registered on both channels, so the aggregator cannot
    // see "all senders gone" before the last worker joined.
    wait_until(|| tasks.live_receivers().ok().flatten() == Some(WORKERS as u32))?;
    wait_until(|| results.live_senders().ok().flatten() == Some(WORKERS as u32))?;

    let start = Instant::now();
    let dispatcher = tasks.sender()?;
    for t in 0..TASKS {
        dispatcher.send_timeout(t, LONG)?;
    }
    tasks.close()?;
    let [n, ids, squares] = totals.get_timeout(LONG)?;
    let elapsed = start.elapsed();
    for mut k in kids {
        k.wait()?;
    }
    Segment::unlink(&name)?;

    let expect_ids = TASKS * (TASKS - 1) / 2;
    let expect_sq = (0..TASKS).fold(0u64, |a, t| a.wrapping_add(t * t));
    println!("{n} results in {elapsed:?}; ids sum {ids} (expected {expect_ids})");
    if n != TASKS || ids != expect_ids || squares != expect_sq {
        return Err("a task was lost or duplicated".into());
    }
    println!("every task accounted for");
    Ok(())
}
