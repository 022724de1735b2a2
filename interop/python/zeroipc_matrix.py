"""ZeroIPC half of the interop matrix: Rust `zeroipc-peer` and the pure-Python
`zeroipc_peer.py` (package `zeroipc_py`) against each other and against the upstream golden
images. Called by `run_matrix.py`; every cell verifies every value on the receiving side.
Every kind of the standard scenario (the 7 lock-free structures, the 9 synchronisation
primitives and the 4 codata kinds) takes part in every cell; only kinds no implementation
knows are skipped (the wide-types scenario keeps one).

Cells:
* `zeroipc_py` unit tests (`test_zeroipc_py.py`): the hash vectors of spec §4.5, entry and
  node layouts, sync and codata state and mutation on a private copy of the C++ image,
  composite publication with the auxiliary entries, segment lifecycle;
* golden C++ image read by each peer: header, entries and all 27 structures equal
  `standard-cpp.json` (map lookups included), nothing skipped;
* golden Python image read by each peer, per spec §8.3: byte-identical and minimum-size
  structures decode as `standard-py.json`, `map_i32_f64` iterates but canonical lookups miss,
  `map_i32_i32`, `set_i32` and `lazy_f64` are rejected with LayoutMismatch, Python's
  Stream/Channel are NotFound and their data open as Ring/Queue;
* hostile images: corrupted copies of the C++ image (a bad field in 21 structures; bad
  magic, version, entry count, entry offsets, a truncated file) are rejected by both peers
  with the same error kinds, while intact structures still decode;
* writer x reader for {rust, python}^2: the reader's decoded JSON equals `standard-cpp.json`
  for all 27 structures, the table is the C++ one plus the 4 auxiliary entries, which the
  writer lists; then the reader consumes (`--consume`) and the writer sees the consumed state
  (`drained_form`);
* wide types (`../scenarios/wide-types.json`: every element width, float and 64-bit map/set
  keys, full and empty structures, every sync/codata kind with other parameters) written by
  one peer and read by the other, every value checked against an oracle derived from the
  scenario alone; both writers' bytes identical;
* mutation: a fixed script (queue/ring wrap-around, stack pop/push, map update/remove and
  tombstone reuse, set collisions, pool free-list reuse, array writes, and the non-blocking
  operations of the sync and codata kinds) applied by one
  implementation to a segment the other wrote gives the all-Rust reference's operation
  results, decoded JSON and bytes;
* bytes: each canonical entry a peer writes equals the C++ image's bytes at that entry, with
  the same entry size (only a Future's completion_time, bytes 8..16, is excluded:
  `NONDETERMINISTIC`); each auxiliary entry has the spec's bytes; the Rust- and
  Python-written segments are identical as whole files (completion_time excepted);
* live alternation on one Queue between a Rust and a Python process (both attached), in both
  creation orders; a live Ring stream (single producer, single consumer, both running at
  once) in both directions; a live buffered Channel (one sender, one receiver, the Rust side
  blocking in the crate's send/recv) in both directions.
"""

import json
import os
import subprocess
import time

HERE = os.path.dirname(os.path.abspath(__file__))
GOLDEN = os.path.join(HERE, "..", "golden", "zeroipc")
WIDE = os.path.join(HERE, "..", "scenarios", "wide-types.json")
ITEMSIZE = {"int8": 1, "uint8": 1, "int16": 2, "uint16": 2, "int32": 4, "uint32": 4, "int64": 8, "uint64": 8,
            "float32": 4, "float64": 8}
SUPPORTED = ("array", "queue", "stack", "ring", "map", "set", "pool", "semaphore", "mutex", "barrier", "latch",
             "once", "rwlock", "monitor", "event", "signal", "future", "lazy", "stream", "channel")
# The entries of each kind's canonical (upstream C++) layout, as suffixes of the base name.
PARTS = {"rwlock": ["_state", "_rmtx", "_wmtx", ""], "monitor": ["_mtx", "_cond", "_count", ""],
         "event": ["", "_sem"], "signal": ["_state", "_mtx", ""], "stream": ["_header", "_buffer"],
         "channel": ["_header", "_buffer"]}
# Bytes not compared with the C++ image, per entry kind (everything else is deterministic):
# the Future's completion_time (CLOCK_MONOTONIC ns at set time), bytes 8..16.
NONDETERMINISTIC = {"future": [(8, 16)]}
JOINING = (1 << 64) - 1


def parts(spec):
    """The canonical entries of a scenario structure."""
    return [spec["name"] + x for x in PARTS.get(spec["kind"], [""])]


def aux_entries(spec):
    """The project's auxiliary entries a zeroipc-rs (or zeroipc_py) writer adds for `spec`,
    as (after which entry, name, expected bytes): docs/SPECIFICATION.md §3.8-§3.9.1. No pid
    is recorded in them by the scenario (nothing is held or subscribed), so all are
    deterministic."""
    n, k = spec["name"], spec["kind"]
    if k in ("mutex", "lazy") and len(n) + 6 <= 31:
        pid = 0 if not spec.get("locked") else None  # a locked mutex records the writer's pid
        return [(n, n + "_owner", None if pid is None else bytes(8))]
    if k == "stream":
        subs = (16).to_bytes(4, "little") + bytes(28) + (JOINING.to_bytes(8, "little") + bytes(8)) * 16
        return [(n + "_buffer", n + "_subs", subs)]
    if k == "channel":
        return [(n + "_buffer", n + "_peers", (32).to_bytes(4, "little") + bytes(268))]
    return []


def masked(data, kind):
    """`data` with the kind's non-deterministic byte ranges zeroed."""
    b = bytearray(data)
    for lo, hi in NONDETERMINISTIC.get(kind, []):
        b[lo:hi] = bytes(hi - lo)
    return bytes(b)


def load(name):
    with open(os.path.join(GOLDEN, name)) as f:
        return json.load(f)


def norm(v):
    """A structure's JSON with the order of map/set items made irrelevant."""
    v = dict(v)
    if v.get("kind") in ("map", "set") and isinstance(v.get("items"), list):
        v["items"] = sorted(v["items"], key=json.dumps)
    return v


def diff(got, want, path=""):
    """The first difference between two JSON values, as text (None if equal)."""
    if isinstance(want, dict) and isinstance(got, dict):
        for k in sorted(set(want) | set(got)):
            if k not in got:
                return f"{path}.{k} missing"
            if k not in want:
                return f"{path}.{k} unexpected ({json.dumps(got[k])[:80]})"
            d = diff(got[k], want[k], f"{path}.{k}")
            if d:
                return d
        return None
    if got != want or type(got) is bool and type(want) is not bool:
        return f"{path}: got {json.dumps(got)[:120]}, want {json.dumps(want)[:120]}"
    return None


class ZeroIPCMatrix:
    def __init__(self, m, rust_peer, py_peer, python):
        self.m = m
        self.peers = {"rust": [rust_peer], "python": [python, py_peer]}
        self.scenario = load("standard-scenario.json")["structures"]
        self.cpp = load("standard-cpp.json")
        self.py = load("standard-py.json")
        self.supported = [s["name"] for s in self.scenario if s["kind"] in SUPPORTED]
        self.unsupported = [s["name"] for s in self.scenario if s["kind"] not in SUPPORTED]
        self.kinds = {s["name"]: s["kind"] for s in self.scenario}
        self.nkinds = len({s["kind"] for s in self.scenario if s["kind"] in SUPPORTED})
        self.aux = [a for s in self.scenario for a in aux_entries(s)]
        self.names = []

    # -- plumbing --------------------------------------------------------------------------

    def name(self, tag):
        self.m.seq += 1
        n = f"zi-{tag}-{os.getpid()}-{self.m.seq}"
        self.names.append(n)
        return n

    def peer(self, impl, *args, timeout=60):
        """Runs a peer; returns (exit status, parsed JSON or {}, stderr tail)."""
        try:
            p = subprocess.run(self.peers[impl] + [str(a) for a in args], capture_output=True, text=True,
                               timeout=timeout)
        except subprocess.TimeoutExpired:
            return -1, {}, "timeout"
        try:
            doc = json.loads(p.stdout)
        except ValueError:
            doc = {}
        return p.returncode, doc, p.stderr.strip()[-300:]

    def cleanup(self):
        left = []
        for n in self.names:
            path = f"/dev/shm/{n}"
            if os.path.exists(path):
                left.append(n)
                os.unlink(path)
        self.names = []
        return left

    def record(self, case, problems, detail):
        ok = not problems
        self.m.record(case, ok, detail if ok else f"{detail} | {problems[0]}"
                      + (f" (+{len(problems) - 1} more)" if len(problems) > 1 else ""))

    def expected_table(self):
        """Header and entries of a segment written by a project writer: the C++ image's
        entries, in its order and sizes, with the auxiliary entries after their parts."""
        sizes = {e["name"]: e["size"] for e in self.cpp["entries"]}
        after = {a: (n, len(b) if b is not None else 8) for a, n, b in self.aux}
        names = [p for sp in self.scenario if sp["kind"] in SUPPORTED for p in parts(sp)]
        entries, off = [], 3104
        for n in names:
            for name, size in [(n, sizes[n])] + ([after[n]] if n in after else []):
                entries.append({"name": name, "offset": off, "size": size})
                off = (off + size + 7) & ~7
        last = entries[-1]
        header = dict(self.cpp["header"], entry_count=len(entries), next_offset=last["offset"] + last["size"])
        return header, entries

    def check_structures(self, got, want_structs, names, problems, drained=False):
        for n in names:
            g = got.get("structures", {}).get(n)
            w = dict(want_structs[n])
            if drained:
                w = drained_form(w)
            if g is None:
                problems.append(f"{n} missing")
                continue
            d = diff(norm(g), norm(w), n)
            if d:
                problems.append(d)

    # -- cells -----------------------------------------------------------------------------

    def py_unit(self):
        """The zeroipc_py unit tests: hash vectors, layouts, mutation paths, lifecycle."""
        p = subprocess.run([self.peers["python"][0], os.path.join(HERE, "test_zeroipc_py.py")],
                           capture_output=True, text=True, timeout=60)
        ran = next((line for line in p.stderr.splitlines() if line.startswith("Ran ")), "no tests ran")
        problems = [] if p.returncode == 0 else [p.stderr.strip().splitlines()[-1] if p.stderr.strip() else "failed"]
        self.record("zeroipc: zeroipc_py unit tests", problems,
                    f"{ran.split(' in ')[0][4:]} (hash vectors of spec 4.5, entry/node layouts, sync and codata at rest, "
                    "composite publication, mutation, lifecycle)")

    def read_golden(self, impl, image, want):
        """`impl` reads the golden image `image`: returns its path, what `impl` decoded, and a
        problem for a failed read and for a header or entry table that differs from `want`."""
        path = os.path.join(GOLDEN, image)
        problems = []
        rc, got, err = self.peer(impl, "read", path)
        if rc != 0:
            problems.append(f"read exit {rc}: {err}")
        for k in ("header", "entries"):
            d = diff(got.get(k), want[k], k)
            if d:
                problems.append(d)
        return path, got, problems

    def golden_cpp(self, impl):
        path, got, problems = self.read_golden(impl, "standard-cpp.seg", self.cpp)
        rc, table, err = self.peer(impl, "table", path)
        for k in ("header", "entries"):
            d = diff(table.get(k), self.cpp[k], "table." + k)
            if d:
                problems.append(d)
        self.check_structures(got, self.cpp["structures"], self.supported, problems)
        if got.get("skipped") != self.unsupported:
            problems.append(f"skipped {got.get('skipped')}")
        lookups = sum(len(self.cpp["structures"][n].get("lookup", {})) + len(self.cpp["structures"][n].get("contains", {}))
                      for n in self.supported)
        self.record(f"zeroipc: golden C++ image -> {impl}", problems,
                    f"{len(self.supported)} structures of {self.nkinds} kinds == standard-cpp.json ({lookups} lookups), "
                    f"{len(self.cpp['entries'])} entries, {len(self.unsupported)} skipped")

    def golden_py(self, impl, extras_file):
        path, got, problems = self.read_golden(impl, "standard-py.seg", self.py)
        odd = ("map_i32_f64", "map_i32_i32", "set_i32", "lazy_f64", "stream_i32", "chan_i32")
        same = [n for n in self.supported if n not in odd]
        self.check_structures(got, self.py["structures"], same, problems)
        s = got.get("structures", {})
        if got.get("skipped") != self.unsupported:
            problems.append(f"skipped {got.get('skipped')}")
        # Spec 8.3: Python's lazy layout is rejected; its stream and channel have no header.
        for n, kind in (("lazy_f64", "LayoutMismatch"), ("stream_i32", "NotFound"), ("chan_i32", "NotFound")):
            if s.get(n, {}).get("error") != kind:
                problems.append(f"{n}: {s.get(n)} (want {kind})")
        # Same stride, Python hash: iteration works, canonical lookups miss (spec 8.3).
        m = dict(self.py["structures"]["map_i32_f64"], lookup={"1": None, "2": None, "3": None})
        d = diff(norm(s.get("map_i32_f64", {})), norm(m), "map_i32_f64")
        if d:
            problems.append(d)
        for n in ("map_i32_i32", "set_i32"):
            if s.get(n, {}).get("error") != "LayoutMismatch":
                problems.append(f"{n}: {s.get(n)} (want LayoutMismatch)")
        rc, extra, err = self.peer(impl, "read", path, "--scenario", extras_file)
        want = {
            "stream_i32": {"kind": "ring", "dtype": "int32", "capacity_bytes": 64, "elem_size": 4,
                           "write_pos": 12, "read_pos": 0, "items": [1, 2, 3]},
            "chan_i32": {"kind": "queue", "dtype": "int32", "capacity": 4, "elem_size": 4, "head": 0,
                         "tail": 2, "size": 2, "items": [100, 200]},
        }
        d = diff(extra.get("structures"), want, "extras")
        if d:
            problems.append(d)
        self.record(f"zeroipc: golden Python image -> {impl}", problems,
                    f"{len(same)} structures == standard-py.json (sig_i32 12-byte state, fut_err 276 bytes), "
                    "map_i32_f64 lookups miss, map_i32_i32/set_i32/lazy_f64 LayoutMismatch, "
                    "stream/chan NotFound, their data as Ring/Queue")

    def transfer(self, w, r):
        seg = self.name(f"{w[0]}{r[0]}")
        header, entries = self.expected_table()
        problems = []
        rc, wrote, err = self.peer(w, "write", seg)
        if rc != 0 or wrote.get("written") != self.supported or wrote.get("skipped") != self.unsupported:
            problems.append(f"write exit {rc}: {wrote or err}")
        if wrote.get("aux") != [n for _, n, _ in self.aux]:
            problems.append(f"aux entries {wrote.get('aux')}")
        rc, got, err = self.peer(r, "read", seg)
        if rc != 0:
            problems.append(f"read exit {rc}: {err}")
        for k, want in (("header", header), ("entries", entries)):
            d = diff(got.get(k), want, k)
            if d:
                problems.append(d)
        self.check_structures(got, self.cpp["structures"], self.supported, problems)
        self.record(f"zeroipc: {w} -> {r} read", problems,
                    f"{len(self.supported)} structures of {self.nkinds} kinds == standard-cpp.json, table as expected "
                    f"(+{len(self.aux)} aux entries)")
        # Consume on the reader's side, then the writer must see the items gone.
        problems = []
        rc, got, err = self.peer(r, "read", seg, "--consume")
        if rc != 0 or got.get("consumed") is not True:
            problems.append(f"read --consume exit {rc}: {err}")
        self.check_structures(got, self.cpp["structures"], self.supported, problems)
        rc, after, err = self.peer(w, "read", seg)
        self.check_structures(after, self.cpp["structures"], self.supported, problems, drained=True)
        self.record(f"zeroipc: {w} -> {r} --consume", problems,
                    "consumed as written; writer then sees queues/stacks/ring/stream/channel drained, "
                    "semaphore and latch at 0, once done")
        self.peer(w, "unlink", seg)
        return seg

    def _mutated(self, w, mu, r):
        """Segment written by `w`, mutated by `mu`, decoded by `r`: (results, read JSON, bytes)."""
        seg = self.name(f"m{w[0]}{mu[0]}{r[0]}")
        problems = []
        rc, _, err = self.peer(w, "write", seg)
        if rc != 0:
            problems.append(f"{w} write exit {rc}: {err}")
        rc, mutated, err = self.peer(mu, "mutate", seg)
        if rc != 0:
            problems.append(f"{mu} mutate exit {rc}: {err}")
        rc, got, err = self.peer(r, "read", seg)
        if rc != 0:
            problems.append(f"{r} read exit {rc}: {err}")
        data = b""
        if os.path.exists(f"/dev/shm/{seg}"):
            with open(f"/dev/shm/{seg}", "rb") as f:
                data = self.mask_segment(f.read(), got.get("entries", []))
        self.peer(w, "unlink", seg)
        return mutated.get("results"), got, data, problems

    def mutate(self, combos):
        """The fixed mutation script (wrap-around, tombstones, free-list reuse) applied by one
        implementation to another's segment must give what the reference crate gives alone:
        the same operation results, the same decoded JSON, the same bytes."""
        ref_results, ref, ref_bytes, problems = self._mutated("rust", "rust", "rust")
        if problems or not ref_bytes:
            self.m.record("zeroipc: mutate reference (all rust)", False, "; ".join(problems))
            return
        for w, mu, r in combos:
            results, got, data, problems = self._mutated(w, mu, r)
            if results != ref_results:
                problems.append(f"results {results} != reference {ref_results}")
            for k in ("header", "entries"):
                d = diff(got.get(k), ref.get(k), k)
                if d:
                    problems.append(d)
            self.check_structures(got, ref["structures"], self.supported, problems)
            if data != ref_bytes:
                at = next((i for i in range(min(len(data), len(ref_bytes))) if data[i] != ref_bytes[i]), None)
                problems.append(f"segment bytes differ from the reference (first at {at})")
            self.record(f"zeroipc: {w} write, {mu} mutate -> {r}", problems,
                        f"{len(ref_results)} op results, {len(self.supported)} structures and "
                        f"{len(ref_bytes)} bytes == all-rust reference (fut completion_time excepted)")

    def wide(self, w, r):
        """The wide-types scenario: written by `w`, read by `r`, every decoded value checked
        against the oracle derived from the scenario."""
        with open(WIDE) as f:
            specs = json.load(f)["structures"]
        seg = self.name(f"w{w[0]}{r[0]}")
        problems = []
        rc, wrote, err = self.peer(w, "write", seg, "--scenario", WIDE)
        if rc != 0:
            problems.append(f"write exit {rc}: {wrote or err}")
        rc, got, err = self.peer(r, "read", seg, "--scenario", WIDE)
        if rc != 0:
            problems.append(f"read exit {rc}: {err}")
        data = b""
        if os.path.exists(f"/dev/shm/{seg}"):
            with open(f"/dev/shm/{seg}", "rb") as f:
                data = self.mask_segment(f.read(), got.get("entries", []),
                                         {sp["name"]: sp["kind"] for sp in specs})
        self.peer(w, "unlink", seg)
        if wrote.get("aux") != [n for sp in specs if sp["kind"] in SUPPORTED for _, n, _ in aux_entries(sp)]:
            problems.append(f"aux entries {wrote.get('aux')}")
        checked = 0
        for spec in specs:
            want = oracle(spec)
            if want is None:
                if spec["name"] not in got.get("skipped", []):
                    problems.append(f"{spec['name']} not skipped")
                continue
            g = norm(got.get("structures", {}).get(spec["name"], {}))
            for field, v in want.items():
                have = g.get(field)
                if field in ("lookup", "contains"):
                    have, v = by_value(have or {}), by_value(v)
                if have != v:
                    problems.append(f"{spec['name']}.{field}: got {json.dumps(have)[:100]}, want {json.dumps(v)[:100]}")
                checked += 1
        known = [sp for sp in specs if sp["kind"] in SUPPORTED]
        self.record(f"zeroipc: wide types {w} -> {r}", problems,
                    f"{len(known)} structures of {len({sp['kind'] for sp in known})} kinds (all widths, float/u64 "
                    f"keys, full and empty), {checked} fields == scenario oracle, 1 unknown kind skipped")
        return data

    def mask_segment(self, data, entries, kinds=None):
        """A segment image with the non-deterministic bytes of every entry zeroed (`kinds`:
        entry name -> kind, the standard scenario's by default)."""
        kinds = self.kinds if kinds is None else kinds
        b = bytearray(data)
        for e in entries:
            for lo, hi in NONDETERMINISTIC.get(kinds.get(e["name"]), []):
                b[e["offset"] + lo:e["offset"] + hi] = bytes(hi - lo)
        return bytes(b)

    def bytes_vs_cpp(self, impl):
        """Every canonical entry a peer writes has the C++ image's size and bytes (the
        Future's completion_time excepted); every auxiliary entry has the bytes the spec
        gives; the entries come in the C++ order with the auxiliary ones after their parts."""
        seg = self.name(f"b{impl[0]}")
        problems = []
        rc, _, err = self.peer(impl, "write", seg)
        if rc != 0:
            problems.append(f"write exit {rc}: {err}")
            ours = b""
        else:
            with open(f"/dev/shm/{seg}", "rb") as f:
                ours = f.read()
        _, table, _ = self.peer(impl, "table", seg)
        self.peer(impl, "unlink", seg)
        with open(os.path.join(GOLDEN, "standard-cpp.seg"), "rb") as f:
            cpp = f.read()
        golden = {e["name"]: e for e in self.cpp["entries"]}
        mine = {e["name"]: e for e in table.get("entries", [])}
        nbytes = nparts = 0
        for spec in self.scenario:
            if spec["kind"] not in SUPPORTED:
                continue
            for n in parts(spec):
                e, g = mine.get(n), golden[n]
                if e is None or e["size"] != g["size"]:
                    problems.append(f"{n}: entry {e} vs C++ {g}")
                    continue
                kind = spec["kind"] if n == spec["name"] else None
                a = masked(ours[e["offset"]:e["offset"] + e["size"]], kind)
                b = masked(cpp[g["offset"]:g["offset"] + g["size"]], kind)
                if a != b:
                    at = next(i for i in range(len(a)) if a[i] != b[i])
                    problems.append(f"{n}: byte {at} differs ({a[at]:#04x} vs {b[at]:#04x})")
                nbytes += e["size"]
                nparts += 1
        for _, n, want in self.aux:
            e = mine.get(n)
            got = ours[e["offset"]:e["offset"] + e["size"]] if e else None
            if want is not None and got != want:
                problems.append(f"aux {n}: {got[:40].hex() if got else None} != spec bytes")
        _, entries = self.expected_table()
        d = diff(table.get("entries"), entries, "entries")
        if d:
            problems.append(d)
        if ours[:8] != cpp[:8]:
            problems.append("magic/version bytes differ")
        self.record(f"zeroipc: {impl} write == C++ image bytes", problems,
                    f"{len(self.supported)} structures of {self.nkinds} kinds ({nparts} entries, {nbytes} bytes) == C++ "
                    f"image at their entries (fut completion_time excepted); {len(self.aux)} aux entries as the spec")
        return self.mask_segment(ours, table.get("entries", []))

    def same_file(self, rust_bytes, py_bytes):
        problems = [] if rust_bytes and rust_bytes == py_bytes else ["Rust- and Python-written segments differ"]
        self.record("zeroipc: rust write == python write (whole segment)", problems,
                    f"{len(rust_bytes)} bytes identical (fut completion_time excepted)")

    def live(self, cmd, seg, sides, args, good, pause=0.0):
        """Runs both sides of a live test at once. `sides` is ((impl, role, extra args), ...),
        the creating side (the one with extra args) first and followed by `pause` seconds; each
        side is waited for at most 90 s, then killed. Returns each side's JSON output by impl
        ({} when it printed none) and a problem for each side that exited non-zero or whose
        output is not `good`."""
        procs = []
        for impl, role, extra in sides:
            procs.append((impl, subprocess.Popen(self.peers[impl] + [cmd, seg, "--role", role]
                                                 + [str(x) for x in args + extra],
                                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)))
            if extra and pause:
                time.sleep(pause)
        outs, problems = {}, []
        for impl, p in procs:
            try:
                out, err = p.communicate(timeout=90)
            except subprocess.TimeoutExpired:
                p.kill()
                out, err = p.communicate()
            try:
                outs[impl] = json.loads(out)
            except ValueError:
                outs[impl] = {}
            if p.returncode != 0 or outs[impl].get("ok") is not True or not good(outs[impl]):
                problems.append(f"{impl}: exit {p.returncode} {outs[impl] or err[-200:]}")
        return outs, problems

    def pingpong(self, creator, other, rounds=40, batch=250):
        seg = self.name("pp")
        # the other side waits for the segment anyway: the pause only spares it the retries
        outs, problems = self.live("pingpong", seg, ((creator, "first", ["--create"]), (other, "second", [])),
                                   ["--rounds", rounds, "--batch", batch, "--capacity", 16, "--timeout", 20],
                                   lambda o: True, pause=0.05)
        self.peer(creator, "unlink", seg)
        total = rounds * batch
        for impl, o in outs.items():
            if o.get("bad") != 0 or o.get("pushed", 0) + o.get("popped", 0) != total:
                problems.append(f"{impl}: pushed {o.get('pushed')} popped {o.get('popped')} bad {o.get('bad')}")
        c = outs.get(creator, {})
        self.record(f"zeroipc: live queue {creator}<->{other} ({creator} creates)", problems,
                    f"{rounds} alternating rounds x {batch} values through 16 slots, "
                    f"{total} values all verified in order; full waits "
                    f"{sum(o.get('full_waits', 0) for o in outs.values())}, final head=tail={c.get('final_head')}")

    def hostile(self, tmpdir):
        """Corrupted copies of the C++ image: both peers must reject the same structures (or
        whole segments) with the same error kinds, and still decode the intact ones."""
        with open(os.path.join(GOLDEN, "standard-cpp.seg"), "rb") as f:
            good = f.read()

        def patched(edits, cut=None):
            b = bytearray(good)
            for off, fmt_bytes in edits:
                b[off:off + len(fmt_bytes)] = fmt_bytes
            return bytes(b[:cut] if cut is not None else b)

        u32 = lambda v: (v & 0xFFFFFFFF).to_bytes(4, "little")  # noqa: E731
        u64 = lambda v: v.to_bytes(8, "little")  # noqa: E731
        per_structure = {
            "arr_f32": (3104, u64(11), "LayoutMismatch"),          # capacity 11: 8 + 44 != 48
            "q_i32": (3200 + 8, u32(6), "Corrupt"),               # capacity not a power of two
            "q_f64": (3280 + 12, u32(4), "TypeMismatch"),         # elem_size 4 for float64
            "stk_i32": (3392, u32(7), "Corrupt"),                 # top 7 in a 6-slot stack
            "ring_i32": (3584 + 8, u64(24), "Corrupt"),           # read_pos past write_pos
            "map_i32_f64": (3640 + 8, u32(8), "TypeMismatch"),    # key_size 8 for int32
            "map_i32_i32": (3912 + 16 + 12 * 3, u32(7), "Corrupt"),  # slot 3 state 7
            "set_i32": (4024 + 12, u32(1), "TypeMismatch"),       # reserved word 1
            "pool_i32": (4104, u64(9), "Corrupt"),                # free head index 9 of 4
            "sem": (3504 + 8, u32(-1), "Corrupt"),                # max_count -1
            "mtx": (3520 + 8, u32(2), "TypeMismatch"),            # a semaphore of 2, not a mutex
            "bar": (3536 + 8, u32(0), "Corrupt"),                 # 0 participants
            "once_pend": (3576, u32(7), "Corrupt"),               # state 7
            "rw": (4184 + 8, u32(5), "TypeMismatch"),             # rw_wmtx max_count 5
            "mon": (4224 + 8, u32(-3), "Corrupt"),                # mon_cond max_count -3
            "evt": (4256 + 4, u32(2), "Corrupt"),                 # mode 2
            "sig_i32": (32 + 48 * 32 + 6, b"X", "Incomplete"),    # marker renamed sig_i3X
            "fut_f64": (4368, u32(9), "Corrupt"),                 # state 9
            "lazy_f64": (4928 + 8, u32(9), "Corrupt"),            # op type 9
            "stream_i32": (5232 + 16, u32(15), "LayoutMismatch"),  # buffer_capacity 15 for a 64-byte ring
            "chan_i32": (5376 + 12, b"\x02", "Corrupt"),          # closed 2
        }
        images = {"structures": patched([(off, b) for off, b, _ in per_structure.values()])}
        whole = {
            "bad magic": (patched([(0, u32(0x12345678))]), "BadMagic"),
            "version 3": (patched([(4, u32(3))]), "UnsupportedVersion"),
            "entry_count 65": (patched([(8, u32(65))]), "Corrupt"),
            "misaligned entry": (patched([(32 + 32, u64(3105))]), "Corrupt"),
            "entry past memory_size": (patched([(32 + 40, u64(70000))]), "Corrupt"),
            "truncated": (patched([], cut=20), "Truncated"),
        }
        problems, checks = [], 0
        paths = []
        try:
            for label, data in [("structures", images["structures"])] + [(k, v[0]) for k, v in whole.items()]:
                path = os.path.join(tmpdir, f"zeroipc-hostile-{os.getpid()}-{label.replace(' ', '_')}.seg")
                with open(path, "wb") as f:
                    f.write(data)
                paths.append(path)
                kinds = {}
                for impl in ("rust", "python"):
                    rc, got, err = self.peer(impl, "read", path)
                    if label == "structures":
                        s = got.get("structures", {})
                        kinds[impl] = {n: s.get(n, {}).get("error") for n in self.supported}
                    else:
                        kinds[impl] = got.get("error") if rc != 0 else f"accepted (exit {rc})"
                if label == "structures":
                    for n in self.supported:
                        want = per_structure[n][2] if n in per_structure else None
                        for impl in ("rust", "python"):
                            checks += 1
                            if kinds[impl][n] != want:
                                problems.append(f"{impl} {n}: {kinds[impl][n]} (want {want})")
                    d = diff(norm(self.peer("python", "read", path)[1].get("structures", {}).get("arr_i64", {})),
                             self.cpp["structures"]["arr_i64"], "arr_i64")
                    if d:
                        problems.append(f"intact structure: {d}")
                else:
                    for impl in ("rust", "python"):
                        checks += 1
                        if kinds[impl] != whole[label][1]:
                            problems.append(f"{impl} {label}: {kinds[impl]} (want {whole[label][1]})")
        finally:
            for path in paths:
                os.unlink(path)
        self.record("zeroipc: hostile images rejected alike", problems,
                    f"{len(per_structure)} corrupted structures + {len(whole)} corrupted segments, "
                    f"{checks} verdicts: same error kinds from rust and python, intact structures still decode")

    def stream(self, producer, consumer, count=20000, capacity=61):
        seg = self.name("st")
        outs, problems = self.live("stream", seg, ((producer, "producer", ["--create"]), (consumer, "consumer", [])),
                                   ["--count", count, "--capacity", capacity],
                                   lambda o: o.get("done") == count and o.get("bad") == 0)
        self.peer(producer, "unlink", seg)
        c = outs.get(consumer, {})
        self.record(f"zeroipc: live ring {producer} -> {consumer}", problems,
                    f"{count} values streamed through a {capacity}-element Ring with both attached, every value "
                    f"verified in order; positions {c.get('write_pos')}/{c.get('read_pos')}")

    def channel(self, sender, receiver, count=2000, capacity=4):
        """A live buffered channel: the sender (creating it) and the receiver run at once; the
        zeroipc-rs side uses its blocking send/recv, which only its bounded sleep slices wake
        when the other side is the Python peer (no futex wake-ups)."""
        seg = self.name("ch")
        outs, problems = self.live("channel", seg, ((sender, "sender", ["--create"]), (receiver, "receiver", [])),
                                   ["--count", count, "--capacity", capacity],
                                   lambda o: o.get("done") == count and o.get("bad") == 0
                                   and o.get("closed_seen") is True)
        self.peer(sender, "unlink", seg)
        self.record(f"zeroipc: live channel {sender} -> {receiver}", problems,
                    f"{count} values through a {capacity}-slot Channel with both attached, every value verified in "
                    f"order, then the close seen; blocked sends/receives {outs.get(sender, {}).get('blocked')}/"
                    f"{outs.get(receiver, {}).get('blocked')}")

    def run(self, tmpdir):
        self.py_unit()
        for impl in ("rust", "python"):
            self.golden_cpp(impl)
        extras = os.path.join(tmpdir, f"zeroipc-py-extras-{os.getpid()}.json")
        with open(extras, "w") as f:
            json.dump({"structures": [{"name": "stream_i32", "kind": "ring", "dtype": "int32"},
                                      {"name": "chan_i32", "kind": "queue", "dtype": "int32"}]}, f)
        try:
            for impl in ("rust", "python"):
                self.golden_py(impl, extras)
        finally:
            os.unlink(extras)
        self.hostile(tmpdir)
        for w, r in (("rust", "rust"), ("rust", "python"), ("python", "rust"), ("python", "python")):
            self.transfer(w, r)
        wide_rust = self.wide("rust", "python")
        wide_py = self.wide("python", "rust")
        problems = [] if wide_rust and wide_rust == wide_py else ["wide-types segments differ"]
        self.record("zeroipc: wide types rust write == python write", problems,
                    f"{len(wide_rust)} bytes identical (fut completion_time excepted)")
        self.mutate((("rust", "python", "rust"), ("python", "rust", "python"), ("python", "python", "rust")))
        rust_bytes = self.bytes_vs_cpp("rust")
        py_bytes = self.bytes_vs_cpp("python")
        self.same_file(rust_bytes, py_bytes)
        self.pingpong("python", "rust")
        self.pingpong("rust", "python")
        self.stream("python", "rust")
        self.stream("rust", "python")
        self.channel("python", "rust")
        self.channel("rust", "python")
        left = self.cleanup()
        if left:
            self.m.record("zeroipc: /dev/shm clean", False, f"left behind: {left}")


def oracle(s):
    """The decoded fields a structure must show after the scenario step `s` (spec §8.2
    semantics), derived from the scenario alone: an oracle independent of both peers."""
    k = s["kind"]
    if k == "array":
        vals = list(s["values"]) + [0] * (s["capacity"] - len(s["values"]))
        return {"capacity": s["capacity"], "values": vals}
    if k == "queue":
        cap = max(2, 1 << (s["capacity"] - 1).bit_length())
        return {"capacity": cap, "head": s["pop"], "tail": len(s["push"]), "size": len(s["push"]) - s["pop"],
                "items": s["push"][s["pop"]:], "elem_size": ITEMSIZE[s["dtype"]]}
    if k == "stack":
        n = len(s["push"])
        return {"capacity": s["capacity"], "top": n - 1, "size": n, "items": s["push"],
                "slot_states": [2] * n + [0] * (s["capacity"] - n)}
    if k == "ring":
        es = ITEMSIZE[s["dtype"]]
        return {"capacity_bytes": s["capacity"] * es, "write_pos": len(s["write"]) * es,
                "read_pos": s["read"] * es, "items": s["write"][s["read"]:]}
    if k == "map":
        items = {json.dumps(key): v for key, v in s["items"]}
        return {"capacity": s["capacity"], "size": len(items), "items": sorted(map(list, s["items"]), key=json.dumps),
                "lookup": items}
    if k == "set":
        return {"capacity": s["capacity"], "size": len(s["items"]), "items": sorted(s["items"], key=json.dumps),
                "contains": {json.dumps(v): True for v in s["items"]}}
    if k == "pool":
        n, cap = len(s["alloc"]), s["capacity"]
        return {"capacity": cap, "allocated": n, "free_head_index": n if n < cap else 0xFFFFFFFF,
                "free_head_generation": n, "free_list": list(range(n, cap)),
                "allocated_values": {str(i): v for i, v in enumerate(s["alloc"])}}
    if k == "semaphore":
        return {"count": s["initial"], "waiting": 0, "max_count": s["max"]}
    if k == "mutex":
        return {"count": 0 if s.get("locked") else 1, "waiting": 0, "max_count": 1, "locked": bool(s.get("locked"))}
    if k == "barrier":
        return {"arrived": 0, "generation": 0, "num_participants": s["participants"]}
    if k == "latch":
        return {"count": max(s["count"] - s.get("count_down", 0), 0), "initial_count": s["count"]}
    if k == "once":
        return {"state": 2 if s.get("call") else 0}
    if k == "rwlock":
        return {"readers": 0, "writer_active": 0}
    if k == "monitor":
        return {"waiting_count": 0}
    if k == "event":
        return {"signaled": int(bool(s.get("signal"))), "mode": int(s["mode"] == "manual"), "waiting": 0}
    if k == "signal":
        return {"version": len(s.get("set", [])), "value": (s.get("set") or [s["initial"]])[-1]}
    if k == "future":
        if "value" in s:
            return {"state": 2, "waiters": 0, "value": s["value"], "error_msg": None}
        if "error" in s:
            return {"state": 3, "waiters": 0, "value": None, "error_msg": cut_message(s["error"])}
        return {"state": 0, "waiters": 0, "value": None, "error_msg": None}
    if k == "lazy":
        return {"state": 2, "value": s["value"]}
    if k == "stream":
        return {"sequence": len(s["emit"]), "closed": False, "buffer_capacity": s["capacity"], "items": s["emit"]}
    if k == "channel":
        cap = max(2, 1 << (s["capacity"] - 1).bit_length())
        return {"closed": False, "capacity": cap, "size": len(s["send"]), "items": s["send"]}
    return None


def cut_message(text):
    """An error message as stored: at most 255 bytes of UTF-8, cut at a character boundary."""
    raw = text.encode("utf-8")[:255]
    while raw:
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError:
            raw = raw[:-1]
    return ""


def by_value(d):
    """A `lookup`/`contains` object keyed by the parsed key (key text may differ in form)."""
    return sorted(((json.loads(k), v) for k, v in d.items()), key=json.dumps)


def drained_form(w):
    """What a structure looks like after a reader consumed it (`--consume`; interop/README.md
    says what is consumed of each kind)."""
    w = dict(w)
    if w["kind"] == "queue":
        w.update(head=w["tail"], size=0, items=[])
    elif w["kind"] == "stack":
        w.update(top=-1, size=0, items=[], slot_states=[0] * w["capacity"])
    elif w["kind"] == "ring":
        w.update(read_pos=w["write_pos"], items=[])
    elif w["kind"] in ("semaphore", "latch"):
        w.update(count=0)  # every permit acquired / counted down to 0
    elif w["kind"] == "once":
        w.update(state=2)  # a pending once was called
    elif w["kind"] == "stream":
        w.update(items=[])  # sequence counts emits, reading leaves it
    elif w["kind"] == "channel":
        w.update(size=0, items=[])
    return w
