//! Two processes share a `Future`: this process computes a result while a second process
//! (this program re-executed with the argument `waiter`) waits for it with a timeout.
//!
//! Run: `cargo run -p zeroipc-codata --example futures`

use std::process::Command;
use std::time::Duration;

use zeroipc_codata::{Future, Segment};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    if let [_, role, seg_name] = args.as_slice()
        && role == "waiter"
    {
        let seg = Segment::open(seg_name)?;
        let answer = Future::<f64>::open(&seg, "answer")?;
        // A short timeout first, to show the timeout path, then a generous one.
        match answer.get_timeout(Duration::from_millis(1)) {
            Err(e) if e.is_timeout() => println!("waiter: not ready after 1 ms, waiting on"),
            other => println!("waiter: early result {other:?}"),
        }
        let v = answer.get_timeout(Duration::from_secs(10))?;
        println!("waiter: got {v}");
        return Ok(());
    }

    let name = format!("codata_futures_{}", std::process::id());
    let seg = Segment::create(&name, 1 << 16, 64)?;
    let answer = Future::<f64>::create(&seg, "answer")?;
    let mut waiter = Command::new(std::env::current_exe()?)
        .args(["waiter", &name])
        .spawn()?;

    // "Compute" for a while, then publish; the waiter is woken at once.
    std::thread::sleep(Duration::from_millis(200));
    let value = (1..=10).map(f64::from).map(f64::sqrt).sum::<f64>();
    answer.set_value(value)?;
    println!("computer: published {value}");

    let status = waiter.wait()?;
    Segment::unlink(&name)?;
    if !status.success() {
        return Err(format!("waiter failed: {status}").into());
    }
    Ok(())
}
