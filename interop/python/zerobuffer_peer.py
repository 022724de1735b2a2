#!/usr/bin/env python3
"""Python side of the ZeroBuffer interop runs, on top of PyPI zerobuffer-ipc 1.3.0.

Same command line and JSON summary as the Rust `zerobuffer-peer`:

    zerobuffer_peer.py reader NAME N [--payload-size] [--metadata-size] [--min-size]
                       [--max-size] [--read-timeout] [--hang-after K] [--json-out F]
    zerobuffer_peer.py writer NAME N [...]

Frame i has sequence i+1, length min + (i*37) % (max-min+1), byte j = (i*7+j) & 0xff.
The writer writes JSON metadata {"peer":"python","frames":N} first.
"""

import argparse
import json
import os
import sys
import time
from datetime import timedelta

import numpy as np
import zerobuffer
from zerobuffer import BufferConfig, Reader, Writer


def now_ms():
    return time.time() * 1000.0


def frame_len(a, i):
    return a.min_size + (i * 37) % (a.max_size - a.min_size + 1)


_AR = None


def pattern(a, i, n):
    global _AR
    if _AR is None or len(_AR) < n:
        _AR = np.arange(max(n, a.max_size), dtype=np.uint64)
    return ((np.uint64(i * 7) + _AR[:n]) & np.uint64(0xFF)).astype(np.uint8)


def emit(summary, path):
    line = json.dumps(summary, sort_keys=True)
    print(line, flush=True)
    if path:
        tmp = path + ".tmp"
        with open(tmp, "w") as f:
            f.write(line + "\n")
        os.replace(tmp, path)


def hang():
    while True:
        time.sleep(3600)


def kind(e):
    return type(e).__name__.replace("Exception", "")


def run_reader(a):
    s = {"role": "reader", "impl": "python", "name": a.name, "expected": a.n, "frames": 0,
         "bytes": 0, "bad_frames": 0, "error": None, "error_at_ms": None, "metadata": None,
         "metadata_ok": False, "ok": False}
    try:
        reader = Reader(a.name, BufferConfig(metadata_size=a.metadata_size, payload_size=a.payload_size))
    except Exception as e:  # noqa: BLE001
        s["error"], s["detail"] = kind(e), str(e)
        return s
    frames = bytes_ = bad = 0
    first_bad = None
    t_first = None
    limit = min(a.hang_after if a.hang_after is not None else a.n, a.n)
    try:
        while frames < limit:
            try:
                frame = reader.read_frame(timeout=a.read_timeout)
            except zerobuffer.WriterDeadException as e:
                s["error"], s["error_at_ms"], s["detail"] = "WriterDead", now_ms(), str(e)
                break
            except Exception as e:  # noqa: BLE001
                s["error"], s["error_at_ms"], s["detail"] = kind(e), now_ms(), str(e)
                break
            if frame is None:
                s["error"] = "Timeout"
                break
            if t_first is None:
                t_first = time.perf_counter()
            i = frames
            n = frame.size
            seq_ok = frame.sequence == i + 1
            len_ok = n == frame_len(a, i)
            data_ok = a.no_verify or (len_ok and np.array_equal(
                np.frombuffer(frame.data, dtype=np.uint8), pattern(a, i, n)))
            if not (seq_ok and len_ok and data_ok):
                bad += 1
                if first_bad is None:
                    first_bad = f"frame {i}: seq {frame.sequence} len {n} (want {frame_len(a, i)}), bytes ok {data_ok}"
            frame.dispose()  # upstream Python supports one outstanding frame
            frames += 1
            bytes_ += n
        elapsed = (time.perf_counter() - t_first) if t_first else 0.0
        meta = reader.get_metadata()
        if meta is not None:
            text = bytes(meta).decode("utf-8", "replace")
            s["metadata"] = text
            try:
                s["metadata_ok"] = json.loads(text).get("frames") == a.n
            except ValueError:
                s["metadata_ok"] = False
        s.update(frames=frames, bytes=bytes_, bad_frames=bad, first_bad=first_bad, elapsed_s=elapsed,
                 frames_per_s=(frames / elapsed if elapsed > 0 else 0.0))
        if s["error"] is None and a.hang_after is not None and frames == limit:
            s["hung"] = True
            s["ok"] = bad == 0
            emit(s, a.json_out)
            hang()
        if s["error"] is None and frames == a.n:
            try:
                extra = reader.read_frame(timeout=a.read_timeout)
                s["writer_closed_seen"] = False
                if extra is not None:
                    s["extra_frame"] = True
            except zerobuffer.WriterDeadException:
                s["writer_closed_seen"] = True
            except Exception as e:  # noqa: BLE001
                s["after_error"] = kind(e)
        s["ok"] = frames == a.n and bad == 0 and s["error"] is None
        return s
    finally:
        reader.close()


def run_writer(a):
    s = {"role": "writer", "impl": "python", "name": a.name, "expected": a.n, "frames": 0,
         "bytes": 0, "error": None, "error_at_ms": None, "ok": False}
    deadline = time.monotonic() + a.connect_timeout
    while True:
        try:
            writer = Writer(a.name)
            break
        except Exception as e:  # noqa: BLE001
            if time.monotonic() < deadline and not isinstance(e, zerobuffer.WriterAlreadyConnectedException):
                time.sleep(0.01)
                continue
            s["error"], s["detail"] = kind(e), str(e)
            return s
    writer.write_timeout = timedelta(seconds=a.read_timeout)
    try:
        try:
            writer.set_metadata(json.dumps({"peer": "python", "frames": a.n}).encode())
        except Exception as e:  # noqa: BLE001
            s["metadata_error"] = str(e)
        frames = bytes_ = 0
        start = time.perf_counter()
        for i in range(a.n):
            if a.hang_after is not None and i == a.hang_after:
                s.update(frames=frames, hung=True, ok=True)
                emit(s, a.json_out)
                hang()
            n = frame_len(a, i)
            try:
                writer.write_frame(pattern(a, i, n).tobytes())
            except Exception as e:  # noqa: BLE001
                s["error"], s["error_at_ms"], s["detail"] = kind(e), now_ms(), str(e)
                break
            frames += 1
            bytes_ += n
        elapsed = time.perf_counter() - start
        s.update(frames=frames, bytes=bytes_, elapsed_s=elapsed,
                 frames_per_s=(frames / elapsed if elapsed > 0 else 0.0))
        s["ok"] = frames == a.n and s["error"] is None
        return s
    finally:
        writer.close()


def main():
    p = argparse.ArgumentParser(description="ZeroBuffer interop peer (Python, zerobuffer-ipc)")
    p.add_argument("role", choices=["reader", "writer"])
    p.add_argument("name")
    p.add_argument("n", type=int)
    p.add_argument("--payload-size", type=int, default=1 << 20)
    p.add_argument("--metadata-size", type=int, default=4096)
    p.add_argument("--min-size", type=int, default=1)
    p.add_argument("--max-size", type=int, default=1024)
    p.add_argument("--read-timeout", type=float, default=10.0)
    p.add_argument("--hang-after", type=int, default=None)
    p.add_argument("--json-out", default=None)
    p.add_argument("--connect-timeout", type=float, default=10.0)
    p.add_argument("--no-verify", action="store_true")
    a = p.parse_args()
    s = run_reader(a) if a.role == "reader" else run_writer(a)
    emit(s, a.json_out)
    return 0 if s.get("ok") else 1


if __name__ == "__main__":
    sys.exit(main())
