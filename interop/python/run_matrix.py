#!/usr/bin/env python3
"""Interop matrix: ZeroBuffer (Rust `zerobuffer-peer` vs PyPI zerobuffer-ipc 1.3.0) and ZeroIPC
(Rust `zeroipc-peer` vs the pure-Python `zeroipc_peer.py`, and both against the upstream
golden images; see `zeroipc_matrix.py`).

Run through `interop/run.sh`, which prepares the venv and builds the Rust peers. Prints one
table row per case and a final line `N passed, N failed`; exits non-zero on any failure.
"""

import argparse
import json
import os
import signal
import subprocess
import sys
import time

MIB = 1024 * 1024


def cleanup(name):
    """Removes every object of buffer `name`; returns the ones that were still there."""
    left = []
    for p in (f"/dev/shm/{name}", f"/dev/shm/sem.sem-w-{name}", f"/dev/shm/sem.sem-r-{name}",
              f"/tmp/zerobuffer/{name}.lock"):
        if os.path.exists(p):
            left.append(os.path.basename(p))
            try:
                os.unlink(p)
            except OSError:
                pass
    return left


class Matrix:
    def __init__(self, args):
        self.args = args
        self.rows = []
        self.seq = 0

    def cmd(self, impl, role, name, n, **opts):
        if impl == "rust":
            base = [self.args.rust_peer]
        elif impl == "rust-async":
            # The Rust reader awaiting `read_frame_async` (the async twin of a rust cell).
            base = [self.args.rust_peer]
            opts = dict(opts, async_read=True)
        else:
            base = [self.args.python, self.args.py_peer]
        c = base + [role, name, str(n)]
        for k, v in opts.items():
            flag = "--" + k.replace("_", "-")
            c += [flag] if v is True else [flag, str(v)]
        return c

    def name(self, tag):
        self.seq += 1
        return f"zbi-{tag}-{os.getpid()}-{self.seq}"

    @staticmethod
    def parse(out):
        for line in reversed(out.strip().splitlines()):
            line = line.strip()
            if line.startswith("{"):
                try:
                    return json.loads(line)
                except ValueError:
                    pass
        return {}

    def record(self, case, ok, detail):
        self.rows.append((case, ok, detail))
        print(f"| {case:<44} | {'PASS' if ok else 'FAIL'} | {detail}", flush=True)

    # -- cases ---------------------------------------------------------------------------

    def _run_pair(self, w, r, name, n, common, writer_timeout, **reader_opts):
        """Runs a reader (`r`, started first) and a writer (`w`) of `n` frames through the buffer
        `name`, `common` options for both, `reader_opts` for the reader only. Returns the writer's
        parsed output and stderr, then the reader's; None (both killed) when the writer takes
        over `writer_timeout` s or the reader then over 60 s."""
        rp = subprocess.Popen(self.cmd(r, "reader", name, n, **reader_opts, **common),
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        wp = subprocess.Popen(self.cmd(w, "writer", name, n, **common), stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True)
        try:
            wout, werr = wp.communicate(timeout=writer_timeout)
            rout, rerr = rp.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            wp.kill(); rp.kill(); wp.wait(); rp.wait()
            return None
        return self.parse(wout), werr, self.parse(rout), rerr

    def transfer(self, w, r, n, payload, lo, hi, label, min_wraps=0):
        name = self.name("xfer")
        cleanup(name)
        done = self._run_pair(w, r, name, n, dict(min_size=lo, max_size=hi, read_timeout=20), 300,
                              payload_size=payload, metadata_size=4096)
        if done is None:
            left = cleanup(name)
            self.record(f"{w}->{r} {label}", False, f"timeout; leftovers {left}")
            return
        ws, werr, rs, rerr = done
        left = cleanup(name)
        ok = bool(ws.get("ok")) and bool(rs.get("ok")) and rs.get("frames") == n and rs.get("bad_frames") == 0 \
            and bool(rs.get("metadata_ok"))
        # Rust readers count wrap markers they crossed, Rust writers the markers they wrote.
        wraps = rs.get("wraps") if rs.get("wraps") is not None else ws.get("wraps")
        if ok and wraps is not None and wraps < min_wraps:
            ok = False
        expected_left = ["sem.sem-w-" + name, "sem.sem-r-" + name] if r == "python" else []
        if sorted(left) != sorted(expected_left):
            ok = False
        detail = (f"frames {rs.get('frames')}/{n}, bad {rs.get('bad_frames')}, metadata_ok {rs.get('metadata_ok')}, "
                  f"wraps {wraps if wraps is not None else 'n/a'}"
                  + (f" (+{rs['implicit_wraps']} implicit)" if rs.get("implicit_wraps") else "")
                  + f", {rs.get('frames_per_s', 0):.0f} frames/s, "
                  f"writer-close seen {rs.get('writer_closed_seen')}")
        if left:
            detail += f", left {'sems (upstream Python reader never unlinks them)' if left == expected_left else left}"
        if not ok:
            detail += f" | writer: {ws or werr[-300:]} | reader: {rs or rerr[-300:]}"
        self.record(f"{w}->{r} {label}", ok, detail)

    def python_leftovers_then_rust(self, n=200):
        """A Python reader closes without unlinking its semaphores (upstream behaviour); a
        Rust reader of the same name must still start cleanly and receive every frame."""
        name = self.name("leftover")
        cleanup(name)

        def run(w, r):
            done = self._run_pair(w, r, name, n, dict(min_size=1, max_size=4000, read_timeout=20), 120,
                                  payload_size=16384, metadata_size=4096)
            return (done[0], done[2]) if done else ({}, {})

        _, first = run("rust", "python")
        sems = [f"/dev/shm/sem.sem-w-{name}", f"/dev/shm/sem.sem-r-{name}"]
        stale = [os.path.basename(p) for p in sems if os.path.exists(p)]
        ws, rs = run("rust", "rust")
        left = cleanup(name)
        ok = bool(first.get("ok")) and len(stale) == 2 and bool(ws.get("ok")) and bool(rs.get("ok")) \
            and rs.get("frames") == n and rs.get("bad_frames") == 0 and not left
        self.record("python reader's leftover sems -> rust reader", ok,
                    f"left by the Python reader: {stale}; then rust->rust frames {rs.get('frames')}/{n}, "
                    f"bad {rs.get('bad_frames')}, left afterwards {left}")

    def _wait_file(self, path, proc, timeout):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if os.path.exists(path):
                return True
            if proc.poll() is not None:
                return False
            time.sleep(0.01)
        return False

    def _kill_one(self, tag, victim, settle, cmds):
        """Starts the reader, then the writer, of a fresh buffer named after `tag`: `cmds(name,
        jf)` gives their two commands. Once the `victim` side ("reader" or "writer") has written
        its --json-out file `jf` (it hangs from then on), waits `settle` s and SIGKILLs it, then
        waits for the other side (at most 60 s). Returns: whether `jf` appeared, the survivor's
        JSON output and stderr, how many ms after the kill it reported its error (None if it
        did not), and the leftovers removed."""
        name = self.name(tag)
        cleanup(name)
        jf = f"/tmp/{name}.json"
        reader_cmd, writer_cmd = cmds(name, jf)
        rp = subprocess.Popen(reader_cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        wp = subprocess.Popen(writer_cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        killed, survivor = (rp, wp) if victim == "reader" else (wp, rp)
        ok = self._wait_file(jf, killed, 30)
        time.sleep(settle)
        kill_ms = time.time() * 1000.0
        killed.send_signal(signal.SIGKILL)
        killed.wait()
        try:
            out, err = survivor.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            survivor.kill(); out, err = survivor.communicate()
        got = self.parse(out)
        left = cleanup(name)
        if os.path.exists(jf):
            os.unlink(jf)
        at = got.get("error_at_ms")
        return ok, got, err, (at - kill_ms) if at else None, left

    def reader_killed(self, w, r, bound_ms, write_timeout, note=""):
        # the writer fills the ring and blocks in the 0.5 s before the kill
        ok, ws, werr, latency, left = self._kill_one("rkill", "reader", 0.5, lambda name, jf: (
            self.cmd(r, "reader", name, 1_000_000, payload_size=65536, min_size=1024, max_size=1024, hang_after=50,
                     json_out=jf),
            self.cmd(w, "writer", name, 1_000_000, min_size=1024, max_size=1024, read_timeout=write_timeout)))
        ok = ok and ws.get("error") == "ReaderDead" and latency is not None and latency <= bound_ms
        detail = (f"writer error {ws.get('error')} {latency:.0f} ms after SIGKILL (bound {bound_ms} ms)"
                  if latency is not None else f"writer: {ws or werr[-300:]}")
        self.record(f"{w}->{r} reader killed{note}", ok, detail + f", leftovers removed: {len(left)}")

    def writer_killed(self, w, r, bound_ms, read_timeout, note=""):
        ok, rs, rerr, latency, _ = self._kill_one("wkill", "writer", 0.3, lambda name, jf: (
            self.cmd(r, "reader", name, 100, payload_size=65536, min_size=1024, max_size=1024,
                     read_timeout=read_timeout),
            self.cmd(w, "writer", name, 100, min_size=1024, max_size=1024, hang_after=50, json_out=jf)))
        ok = ok and rs.get("error") == "WriterDead" and rs.get("frames") == 50 and rs.get("bad_frames") == 0 \
            and latency is not None and latency <= bound_ms
        detail = (f"reader drained {rs.get('frames')}/50 then {rs.get('error')} {latency:.0f} ms after SIGKILL "
                  f"(bound {bound_ms} ms)" if latency is not None else f"reader: {rs or rerr[-300:]}")
        self.record(f"{w}->{r} writer killed{note}", ok, detail)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--rust-peer", required=True)
    p.add_argument("--py-peer", required=True)
    p.add_argument("--python", default=sys.executable)
    p.add_argument("--zeroipc-rust-peer")
    p.add_argument("--zeroipc-py-peer")
    p.add_argument("--suite", choices=["all", "zerobuffer", "zeroipc"], default="all")
    args = p.parse_args()
    m = Matrix(args)
    print(f"| {'case':<44} | res  | detail")
    print(f"|{'-' * 46}|------|{'-' * 60}")
    if args.suite in ("all", "zerobuffer"):
        zerobuffer_cases(m)
    if args.suite in ("all", "zeroipc"):
        if not (args.zeroipc_rust_peer and args.zeroipc_py_peer):
            p.error("the zeroipc suite needs --zeroipc-rust-peer and --zeroipc-py-peer")
        from zeroipc_matrix import ZeroIPCMatrix
        ZeroIPCMatrix(m, args.zeroipc_rust_peer, args.zeroipc_py_peer, args.python).run("/tmp")
    passed = sum(1 for _, ok, _ in m.rows if ok)
    failed = len(m.rows) - passed
    print(f"{passed} passed, {failed} failed")
    return 0 if failed == 0 else 1


def zerobuffer_cases(m):
    pairs = [("rust", "rust"), ("rust", "python"), ("python", "rust")]
    for w, r in pairs:
        m.transfer(w, r, 10000, 16384, 1, 4000, "10000 var frames + metadata", min_wraps=1000)
    for w, r in pairs:
        m.transfer(w, r, 20, 4 * MIB + 4096, MIB, MIB, "20 x 1 MiB + metadata")
    # Rust writers detect the death through the liveness check (write timeout 30 s); the
    # upstream Python writer only when its write timeout (default 5 s) expires.
    m.reader_killed("rust", "rust", 1000, 30)
    m.reader_killed("rust", "python", 1000, 30)
    m.reader_killed("python", "rust", 6500, 5, " (upstream: 5 s write timeout)")
    m.writer_killed("rust", "rust", 1000, 20)
    m.writer_killed("python", "rust", 1000, 20)
    m.writer_killed("rust", "python", 2500, 1, " (upstream: on 1 s read timeout)")
    m.python_leftovers_then_rust()
    # Async-reader twins of the PyPI-writer cells (issue #15).
    m.transfer("python", "rust-async", 10000, 16384, 1, 4000, "10000 var frames + metadata", min_wraps=1000)
    m.transfer("python", "rust-async", 20, 4 * MIB + 4096, MIB, MIB, "20 x 1 MiB + metadata")
    m.writer_killed("python", "rust-async", 1000, 20)


if __name__ == "__main__":
    sys.exit(main())
