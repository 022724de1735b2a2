//! Duplex channel (protocol §15, scenarios F13.x).

use std::time::{Duration, Instant};

use zerobuffer::{BufferConfig, DuplexClient, DuplexServer, Error, Frame, Writer};

use crate::common::{
    Peer, STALE_GUARD, assert_clean, cleanup_by_new_reader, next_response, unique,
};

const CFG: BufferConfig = BufferConfig::new(4096, 1024 * 1024);

fn echo(req: &Frame<'_>, out: &mut Writer) -> zerobuffer::Result<()> {
    out.write_frame(req.data()).map(|_| ())
}

/// Runs a server thread that serves exactly `n` requests with `handler`, then drops it.
fn serve_n(
    name: &str,
    n: u64,
    mut handler: impl FnMut(&Frame<'_>, &mut Writer) -> zerobuffer::Result<()> + Send + 'static,
) -> std::thread::JoinHandle<zerobuffer::ServerStats> {
    let server = {
        let _g = STALE_GUARD.read().unwrap_or_else(|e| e.into_inner());
        DuplexServer::create(name, CFG).expect("server")
    };
    let mut server = server;
    std::thread::spawn(move || {
        let deadline = Instant::now() + Duration::from_secs(60);
        while server.stats().requests < n && Instant::now() < deadline {
            server.serve_one(&mut handler).expect("serve");
        }
        server.stats()
    })
}

fn client(name: &str) -> DuplexClient {
    let _g = STALE_GUARD.read().unwrap_or_else(|e| e.into_inner());
    DuplexClient::connect_with(name, CFG).expect("client")
}

fn assert_channel_clean(name: &str) {
    assert_clean(&format!("{name}_request"));
    assert_clean(&format!("{name}_response"));
}

/// Disconnects the client `c`, then asserts that nothing of the channel `name` is left.
fn close_client(c: DuplexClient, name: &str) {
    drop(c);
    assert_channel_clean(name);
}

/// F13.1 echo 1 B / 1 KiB / 100 KiB; F13.2 10 sequential; F13.3 20 pipelined, in order.
#[test]
fn echo_sizes_sequential_and_pipelined_in_order() {
    let name = unique("dx-echo");
    let server = serve_n(&name, 3 + 10 + 20, echo);
    let mut c = client(&name);
    for len in [1usize, 1024, 100 * 1024] {
        let req: Vec<u8> = (0..len).map(|i| (i % 251) as u8).collect();
        c.send_request(&req).expect("send");
        let resp = next_response(&c, 10);
        assert_eq!(resp.data(), req.as_slice(), "{len}");
    }
    for i in 0..10u32 {
        c.send_request(&i.to_le_bytes()).expect("send");
        let resp = next_response(&c, 10);
        assert_eq!(resp.data(), i.to_le_bytes());
    }
    for i in 0..20u32 {
        c.send_request(&(1000 + i).to_le_bytes()).expect("send");
    }
    for i in 0..20u32 {
        let resp = next_response(&c, 10);
        assert_eq!(
            resp.data(),
            (1000 + i).to_le_bytes(),
            "positional correlation"
        );
    }
    let stats = server.join().expect("server thread");
    assert_eq!(stats.requests, 33);
    assert_eq!(stats.handler_errors, 0);
    close_client(c, &name);
}

/// F13.7 zero-copy request; F13.8 XOR 0xFF transform of a 10240-byte request.
#[test]
fn zero_copy_request_and_xor_server() {
    let name = unique("dx-xor");
    let server = serve_n(&name, 2, |req, out| {
        let buf = out.get_frame_buffer(req.len())?;
        for (o, i) in buf.iter_mut().zip(req.data()) {
            *o = i ^ 0xff;
        }
        out.commit_frame().map(|_| ())
    });
    let mut c = client(&name);
    let buf = c.acquire_request_buffer(4096).expect("acquire");
    for (i, b) in buf.iter_mut().enumerate() {
        *b = (i % 256) as u8;
    }
    assert_eq!(c.commit_request().expect("commit"), 1);
    let resp = next_response(&c, 10);
    assert!(
        resp.iter()
            .enumerate()
            .all(|(i, b)| *b == (i % 256) as u8 ^ 0xff)
    );
    drop(resp);
    let req: Vec<u8> = (0..10240).map(|i| (i * 7 % 256) as u8).collect();
    c.send_request(&req).expect("send");
    let resp = next_response(&c, 10);
    assert!(resp.iter().zip(&req).all(|(r, q)| *r == q ^ 0xff));
    drop(resp);
    server.join().expect("server");
    close_client(c, &name);
}

/// F13.10 server disposed with responses pending: client drains them, then errors; the
/// channel name can be reused.
#[test]
fn server_disposed_with_pending_responses() {
    let name = unique("dx-dispose");
    let server = serve_n(&name, 2, echo);
    let mut c = client(&name);
    c.send_request(b"one").expect("send");
    c.send_request(b"two").expect("send");
    server.join().expect("server served two and was dropped");
    assert!(matches!(
        c.send_request(b"three"),
        Err(Error::ReaderDead { .. })
    ));
    assert!(!c.is_server_connected());
    for want in [&b"one"[..], b"two"] {
        let r = next_response(&c, 5);
        assert_eq!(r.data(), want);
    }
    assert!(matches!(
        c.receive_response(Duration::from_secs(5)),
        Err(Error::WriterDead { .. })
    ));
    close_client(c, &name);
    let again = serve_n(&name, 1, echo);
    let mut c = client(&name);
    c.send_request(b"reuse").expect("send");
    assert_eq!(next_response(&c, 5).data(), b"reuse");
    again.join().expect("server");
    close_client(c, &name);
}

/// F13.5 / T14.6 the server process dies while processing: the client detects it.
#[test]
fn server_crash_detected_by_client() {
    let name = unique("dx-crash");
    let mut server = Peer::spawn("duplex-server", &[("ZB_NAME", name.clone())]);
    server.expect_line("READY", Duration::from_secs(10));
    let mut c = client(&name);
    c.send_request(b"ping").expect("send");
    let r = next_response(&c, 10);
    assert_eq!(r.data(), b"ping");
    drop(r);
    c.send_request(b"hang").expect("send");
    server.expect_line("PROCESSING", Duration::from_secs(10));
    server.kill_no_reap();
    let killed = Instant::now();
    let err = c
        .receive_response(Duration::from_secs(10))
        .expect_err("server died");
    assert!(matches!(err, Error::WriterDead { .. }), "{err:?}");
    let took = killed.elapsed();
    assert!(took < Duration::from_secs(3), "{took:?}");
    println!(
        "duplex client saw server death after {} ms",
        took.as_millis()
    );
    assert!(matches!(
        c.send_request(b"x"),
        Err(Error::ReaderDead { .. })
    ));
    server.reap();
    drop(c);
    assert_clean(&format!("{name}_response"));
    cleanup_by_new_reader(&format!("{name}_request"));
}

/// F13.9 / T14.7 the client dies while the server processes: the server gets `ReaderDead`
/// writing the response and keeps serving the next client.
#[test]
fn client_death_does_not_stop_the_server() {
    let name = unique("dx-cdie");
    let server = serve_n(&name, 2, |req, out| {
        if req.data() == b"slow" {
            std::thread::sleep(Duration::from_millis(400));
        }
        out.write_frame(req.data()).map(|_| ())
    });
    let mut dying = Peer::spawn("duplex-client-slow", &[("ZB_NAME", name.clone())]);
    dying.expect_line("SENT", Duration::from_secs(10));
    dying.kill_no_reap();
    dying.reap();
    // A new client (this process) is served: new writer PID, sequence 1 again (R5).
    std::thread::sleep(Duration::from_millis(600));
    let mut c = client(&name);
    c.send_request(b"next").expect("send");
    let r = next_response(&c, 10);
    assert_eq!(r.data(), b"next");
    drop(r);
    let stats = server.join().expect("server");
    assert_eq!(stats.requests, 2);
    assert_eq!(stats.clients_lost, 1, "{stats:?}");
    close_client(c, &name);
}

/// F13.6 / T14.8 response ring of 10240 bytes, 4 KiB requests answered with 8 KiB: the
/// server blocks on the full response ring until the client reads, nothing is lost.
#[test]
fn server_blocks_on_full_response_ring_until_client_reads() {
    let name = unique("dx-block");
    let server = serve_n(&name, 3, |req, out| {
        let mut resp = req.data().to_vec();
        resp.extend_from_slice(req.data());
        out.write_frame(&resp).map(|_| ())
    });
    let mut c = {
        let _g = STALE_GUARD.read().unwrap_or_else(|e| e.into_inner());
        DuplexClient::connect_with(&name, BufferConfig::new(0, 10240)).expect("client")
    };
    for i in 0..3u8 {
        c.send_request(&[i; 4096]).expect("send");
    }
    // Only one 8 KiB response fits the response ring: the server waits for the client.
    std::thread::sleep(Duration::from_millis(300));
    for i in 0..3u8 {
        let r = next_response(&c, 10);
        assert_eq!(r.len(), 8192);
        assert!(r.iter().all(|b| *b == i));
    }
    let stats = server.join().expect("server");
    assert_eq!(
        (stats.requests, stats.handler_errors, stats.clients_lost),
        (3, 0, 0)
    );
    close_client(c, &name);
}

/// Channel names leave room for the `_response` suffix (236 bytes); a client without a
/// server fails fast and creates nothing.
#[test]
fn channel_name_limit_and_client_without_server() {
    let long = "c".repeat(237);
    assert!(matches!(
        DuplexServer::create(&long, CFG),
        Err(Error::InvalidName { .. })
    ));
    let name = unique("dx-noserver");
    assert!(matches!(
        DuplexClient::connect_with(&name, CFG),
        Err(Error::BufferNotFound { .. })
    ));
    assert_channel_clean(&name);
    let ok = format!("{}{}", name, "c".repeat(236 - name.len()));
    let server = DuplexServer::create(&ok, CFG).expect("236-byte channel name");
    drop(server);
    assert_channel_clean(&ok);
}
