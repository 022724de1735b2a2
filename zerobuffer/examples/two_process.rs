//! Two processes: this program creates a buffer, starts itself again as the writer, and
//! reads what it sends, printing the buffer health now and then.
//!
//! `cargo run -p zerobuffer --example two_process`

use std::process::Command;
use std::time::Duration;

use zerobuffer::{BufferConfig, Error, Reader, Writer};

fn writer(name: &str) -> Result<(), Error> {
    let mut w = Writer::connect(name)?;
    w.set_metadata(br#"{"kind":"demo","frames":1000}"#)?;
    for i in 0..1000u32 {
        let len = 100 + (i as usize * 37) % 4000;
        let buf = w.get_frame_buffer(len)?;
        buf.fill((i % 256) as u8);
        w.commit_frame()?;
    }
    Ok(())
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    if let (Some(role), Some(name)) = (args.next(), args.next())
        && role == "writer"
    {
        writer(&name)?;
        return Ok(());
    }
    let name = format!("zb-example-{}", std::process::id());
    // Room for the reader to hold 2 frames of up to 4100 bytes while the writer goes on.
    let ring = zerobuffer::ring::recommended_payload_size(4100, 2).ok_or("size overflow")?;
    let reader = Reader::create(&name, BufferConfig::new(256, ring))?;
    let mut child = Command::new(std::env::current_exe()?)
        .args(["writer", &name])
        .spawn()?;
    let mut frames = 0u64;
    loop {
        match reader.read_frame_timeout(Duration::from_secs(5)) {
            Ok(Some(frame)) => {
                assert!(
                    frame
                        .iter()
                        .all(|b| *b == ((frame.sequence() - 1) % 256) as u8)
                );
                frames += 1;
                if frames.is_multiple_of(250) {
                    let h = reader.health()?;
                    println!(
                        "{frames} frames, ring {:.0} % used ({:?}), {} wrap markers so far",
                        h.utilisation * 100.0,
                        h.level,
                        h.frames_read - frames
                    );
                }
            }
            Ok(None) => break,
            Err(Error::WriterDead { .. }) => break, // writer finished and closed
            Err(e) => return Err(e.into()),
        }
    }
    child.wait()?;
    let meta = reader.metadata()?.unwrap_or_default();
    println!(
        "read {frames} frames; metadata {}",
        String::from_utf8_lossy(&meta)
    );
    Ok(())
}
