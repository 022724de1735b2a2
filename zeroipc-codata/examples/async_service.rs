//! An async service: a tokio process awaits jobs from a shared-memory `Channel` filled by a
//! worker process, and awaits a shared `Future` that tells it to shut down — without a
//! blocking call on the runtime and without a thread per awaiting task.
//!
//! The worker process (this program re-executed with the argument `worker`) sends 10 000
//! jobs, then sets the `shutdown` future. The service handles jobs as they come (the
//! `recv_async` future is dropped whenever shutdown wins the race, which loses no job: a
//! job is taken only by the poll that returns it), then drains what is left.
//!
//! Run: `cargo run --release -p zeroipc-codata --example async_service`

use std::process::Command;

use zeroipc_codata::{Channel, Future, Segment};

const JOBS: u64 = 10_000;

fn worker(seg_name: &str) -> Result<(), Box<dyn std::error::Error>> {
    let seg = Segment::open(seg_name)?;
    let jobs = Channel::<u64>::open(&seg, "jobs")?;
    for job in 1..=JOBS {
        jobs.send(job)?; // blocking: this process has no runtime
    }
    Future::<u8>::open(&seg, "shutdown")?.set_value(1)?;
    println!("worker: sent {JOBS} jobs, asked for shutdown");
    Ok(())
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    if let [_, role, seg_name] = args.as_slice()
        && role == "worker"
    {
        return worker(seg_name);
    }

    let name = format!("codata_async_service_{}", std::process::id());
    let seg = Segment::create(&name, 1 << 20, 64)?;
    let jobs = Channel::<u64>::create(&seg, "jobs", 256)?;
    let shutdown = Future::<u8>::create(&seg, "shutdown")?;
    let mut worker = Command::new(std::env::current_exe()?)
        .args(["worker", &name])
        .spawn()?;

    // Meanwhile the runtime stays free for other tasks, e.g. a heartbeat.
    let heartbeat = tokio::spawn(async {
        let mut beats = 0u32;
        loop {
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            beats += 1;
            if beats.is_multiple_of(10) {
                println!("service: heartbeat {beats}");
            }
        }
    });

    let (mut handled, mut sum) = (0u64, 0u64);
    let stop = shutdown.get_async();
    tokio::pin!(stop);
    loop {
        tokio::select! {
            job = jobs.recv_async() => match job? {
                Some(j) => { handled += 1; sum += j; }
                None => break, // closed and drained
            },
            _ = &mut stop => {
                // Shutdown requested: handle what is already queued, then stop.
                while let Some(j) = jobs.try_recv()? {
                    handled += 1;
                    sum += j;
                }
                break;
            }
        }
    }
    heartbeat.abort();
    println!("service: handled {handled} jobs (sum {sum}), shutting down");

    let status = worker.wait()?;
    Segment::unlink(&name)?;
    if !status.success() {
        return Err(format!("worker failed: {status}").into());
    }
    if handled != JOBS || sum != JOBS * (JOBS + 1) / 2 {
        return Err(format!("lost jobs: handled {handled} of {JOBS}").into());
    }
    Ok(())
}
