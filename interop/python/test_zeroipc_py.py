"""Unit tests of the pure-Python zeroipc_py package (run by the interop matrix):

    python -m unittest interop/python/test_zeroipc_py.py
"""

import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from zeroipc_py import Array, Map, Pool, Queue, Ring, Segment, Set, Stack, errors, key_hash, murmur64a  # noqa: E402
from zeroipc_py import (Barrier, Channel, Event, Future, Latch, Lazy, Monitor, Mutex, Once, RWLock,  # noqa: E402
                        Semaphore, Signal, Stream)
from zeroipc_py.codata import decode_message, encode_message, lazy_layout  # noqa: E402
from zeroipc_py.hashmap import map_entry_layout, set_entry_layout  # noqa: E402
from zeroipc_py.common import elem_dtype  # noqa: E402
from zeroipc_py.pool import node_layout  # noqa: E402

GOLDEN = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "golden", "zeroipc")


def image(name):
    with open(os.path.join(GOLDEN, name), "rb") as f:
        return Segment.from_bytes(f.read())


class HashVectors(unittest.TestCase):
    """Spec §4.5."""

    def test_integral_keys(self):
        for dtype, key, h in [("int32", 1, 2654435761), ("int32", -1, 18446744071055115855),
                              ("uint32", 0xFFFFFFFF, 11400714780173436495), ("int64", 1 << 40, 3997420757826142208),
                              ("uint8", 200, 530887152200), ("int8", -56, 18446743925061149000),
                              ("bool", True, 2654435761)]:
            self.assertEqual(key_hash(dtype, key), h, (dtype, key))

    def test_byte_keys(self):
        for dtype, key, h in [("float32", 1.0, 6045349164495482701), ("float32", -1.5, 7621053602032611969),
                              ("float32", 0.0, 2778560480076071303), ("float32", -0.0, 16807807789944799153),
                              ("float64", 1.0, 8386164645967068059), ("float64", 2.5, 9366101741534969300)]:
            self.assertEqual(key_hash(dtype, key), h, (dtype, key))
        self.assertEqual(murmur64a(bytes.fromhex("0100000002000000")), 9033171220505803537)
        self.assertEqual(murmur64a(bytes.fromhex("0000803f0000004000004040")), 3959204971145997586)

    def test_raw_murmur(self):
        for data, h in [(b"", 6142509188972423790), (b"a", 4993892634952068459), (b"abc", 3663726644998027833),
                        (b"hello", 2762169579135187400), (b"abcdefgh", 8664279048047335611),
                        (b"hello world", 5577293430985752569), (b"0123456789abcdef", 10613591747391057286)]:
            self.assertEqual(murmur64a(data), h, data)

    def test_placements(self):
        seg = Segment.from_bytes(blank())
        m = Map.create(seg, "m", "float32", "int32", 16)
        m.insert(1.0, 7)
        m.insert(-1.5, 8)
        self.assertEqual([i for i in range(16) if int(m.slots["state"][i]) == 1], [1, 13])
        m2 = Map.create(seg, "m2", "float64", "int64", 10)
        m2.insert(2.5, 1)
        self.assertEqual(int(m2.slots["state"][0]), 1)
        s = Set.create(seg, "s", "int32", 10)
        s.insert(-1)
        self.assertEqual(int(s.slots["state"][5]), 1)


def blank(size=65536, max_entries=64):
    """A fresh segment image, as `Segment.create` lays it out."""
    buf = bytearray(size)
    table = 32 + 48 * max_entries
    buf[0:32] = (0x5A49504D).to_bytes(4, "little") + (2).to_bytes(4, "little") + bytes(4) + \
        max_entries.to_bytes(4, "little") + size.to_bytes(8, "little") + table.to_bytes(8, "little")
    return bytes(buf)


class Layouts(unittest.TestCase):
    """The entry/node tables of spec §4.5–4.7."""

    def test_map_entries(self):
        for k, v, want in [("int32", "int32", (4, 8, 12)), ("int32", "float64", (4, 8, 16)),
                           ("int64", "int64", (8, 16, 24)), ("uint8", "uint8", (4, 5, 8)),
                           ("int16", "int32", (4, 8, 12)), ("float64", "float32", (8, 16, 24)),
                           ("uint64", "uint8", (8, 16, 24)), ("uint8", "float64", (4, 8, 16))]:
            self.assertEqual(map_entry_layout(elem_dtype(k), elem_dtype(v)), want, (k, v))

    def test_set_entries_and_pool_nodes(self):
        for t, want in [("int32", (4, 8)), ("float64", (8, 16)), ("int64", (8, 16)), ("uint8", (4, 8)),
                        ("int16", (4, 8))]:
            self.assertEqual(set_entry_layout(elem_dtype(t)), want, t)
        for t, want in [("int32", (4, 8)), ("float64", (8, 16)), ("uint8", (4, 8)), ("int16", (4, 8))]:
            self.assertEqual(node_layout(elem_dtype(t)), want, t)


class OnTheCppImage(unittest.TestCase):
    """Mutation paths on a private copy of the C++ image."""

    def setUp(self):
        self.seg = image("standard-cpp.seg")

    def test_map(self):
        m = Map.open(self.seg, "map_i32_f64", "int32", "float64")
        self.assertEqual((m.get(2), len(m)), (2.5, 3))
        self.assertTrue(m.remove(2))
        self.assertEqual((m.get(2), len(m)), (None, 2))
        self.assertTrue(m.insert(18, 9.0))
        self.assertTrue(m.insert(2, 7.0))
        self.assertEqual((m.get(2), len(m)), (7.0, 4))
        self.assertTrue(m.insert(2, 8.0))
        self.assertEqual((m.get(2), len(m)), (8.0, 4))
        floats = Map.create(self.seg, "fm", "float32", "int32", 4)
        with self.assertRaises(errors.InvalidArgument):
            floats.insert(float("nan"), 1)

    def test_set(self):
        s = Set.open(self.seg, "set_i32", "int32")
        self.assertTrue(s.contains(5))
        self.assertFalse(s.contains(7))
        self.assertFalse(s.insert(5))
        self.assertTrue(s.insert(7))
        self.assertEqual(len(s), 3)
        self.assertTrue(s.remove(5))
        self.assertFalse(s.contains(5))

    def test_pool(self):
        p = Pool.open(self.seg, "pool_i32", "int32")
        self.assertEqual(p.alloc(), 2)
        self.assertEqual((p.free_head(), p.allocated()), ((3, 3), 3))
        p.free(0)
        self.assertEqual((p.free_list(), p.allocated()), ([0, 3], 2))
        with self.assertRaises(errors.DoubleFree):
            p.free(0)

    def test_stack_queue_ring(self):
        st = Stack.open(self.seg, "stk_i32", "int32")
        self.assertEqual(st.pop(), 9)
        self.assertTrue(st.push(10))
        self.assertEqual(st.snapshot(), [7, 8, 10])
        q = Queue.open(self.seg, "q_i32", "int32")
        self.assertEqual([q.pop() for _ in range(4)], [30, 40, 50, None])
        for v in range(8):
            self.assertTrue(q.push(v))
        self.assertFalse(q.push(99))
        self.assertEqual([q.pop() for _ in range(8)], list(range(8)))
        r = Ring.open(self.seg, "ring_i32", "int32")
        self.assertEqual(r.peek_all(), [3, 4, 5])
        for v in range(5):
            self.assertTrue(r.write(v))
        self.assertFalse(r.write(9))
        self.assertEqual([r.read() for _ in range(9)], [3, 4, 5, 0, 1, 2, 3, 4, None])

    def test_type_checks(self):
        with self.assertRaises(errors.LayoutMismatch):
            Array.open(self.seg, "arr_i64", "int32")  # 8 + 5*4 != 48
        with self.assertRaises(errors.TypeMismatch):
            Queue.open(self.seg, "q_i32", "int64")
        with self.assertRaises(errors.NotFound):
            Ring.open(self.seg, "nope", "int32")


class SyncOnTheCppImage(unittest.TestCase):
    """Spec §3.8 on a private copy of the C++ image: decoded state and at-rest mutation."""

    def setUp(self):
        self.seg = image("standard-cpp.seg")

    def test_semaphore_and_mutex(self):
        sem = Semaphore.open(self.seg, "sem")
        self.assertEqual((sem.count(), sem.waiting(), sem.max_count), (3, 0, 5))
        self.assertTrue(sem.try_acquire())
        sem.release()
        sem.release()
        sem.release()
        with self.assertRaises(errors.Overflow):
            sem.release()  # 5 of 5
        m = Mutex.open(self.seg, "mtx")
        self.assertIsNone(m.owner, "upstream mutexes have no owner entry")
        self.assertFalse(m.is_locked())
        self.assertTrue(m.try_lock())
        self.assertFalse(m.try_lock())
        m.unlock()
        with self.assertRaises(errors.Overflow):
            m.unlock()
        with self.assertRaises(errors.TypeMismatch):
            Mutex.open(self.seg, "sem")  # max_count 5 is not a mutex

    def test_barrier_latch_once(self):
        self.assertEqual(Barrier.open(self.seg, "bar").to_json(),
                         {"kind": "barrier", "arrived": 0, "generation": 0, "num_participants": 3})
        lat = Latch.open(self.seg, "lat")
        self.assertEqual((lat.count(), lat.initial_count()), (3, 5))
        self.assertFalse(lat.count_down(2))
        self.assertTrue(lat.count_down(5))
        self.assertEqual(lat.count(), 0, "never below 0")
        self.assertFalse(lat.count_down(1), "already released: not by this call")
        with self.assertRaises(errors.InvalidArgument):
            lat.count_down(0)
        ran = []
        self.assertFalse(Once.open(self.seg, "once_done").call(lambda: ran.append(1)))
        pend = Once.open(self.seg, "once_pend")
        self.assertTrue(pend.call(lambda: ran.append(2)))
        self.assertEqual((ran, pend.state()), ([2], Once.DONE))

    def test_composites(self):
        self.assertEqual(RWLock.open(self.seg, "rw").to_json(), {"kind": "rwlock", "readers": 0, "writer_active": 0})
        self.assertEqual(Monitor.open(self.seg, "mon").to_json(), {"kind": "monitor", "waiting_count": 0})
        evt = Event.open(self.seg, "evt")
        self.assertEqual((evt.is_signaled(), evt.mode), (True, Event.MANUAL))
        evt.reset()
        self.assertFalse(evt.is_signaled())
        sig = Signal.open(self.seg, "sig_f64", "float64")
        self.assertEqual((sig.version(), sig.get()), (1, 2.5))
        sig.set(-4.0)
        self.assertEqual((sig.version(), sig.get()), (2, -4.0))
        self.assertEqual(Signal.open(self.seg, "sig_i32", "int32").to_json(),
                         {"kind": "signal", "dtype": "int32", "version": 0, "value": 7})
        sig.mtx.try_lock()
        with self.assertRaises(errors.Timeout):
            sig.get()  # a held mutex is not waited for
        with self.assertRaises(errors.NotFound):
            RWLock.open(self.seg, "nope")

    def test_python_image_signal_minimum_size(self):
        seg = image("standard-py.seg")
        self.assertEqual(seg.find("sig_i32_state").size, 12)
        self.assertEqual(Signal.open(seg, "sig_i32", "int32").get(), 7)
        with self.assertRaises(errors.TypeMismatch):
            Signal.open(seg, "sig_i32", "int64")


class CodataOnTheCppImage(unittest.TestCase):
    """Spec §3.9 on a private copy of the C++ image."""

    def setUp(self):
        self.seg = image("standard-cpp.seg")

    def test_futures(self):
        f = Future.open(self.seg, "fut_f64", "float64")
        self.assertEqual((f.state(), f.try_get()), (2, 3.25))
        self.assertNotEqual(int(f.time[0]), 0)
        with self.assertRaises(errors.AlreadySet):
            f.set_value(1.0)
        e = Future.open(self.seg, "fut_err", "int32")
        with self.assertRaises(errors.Failed) as cm:
            e.try_get()
        self.assertEqual(str(cm.exception), "boom")

    def test_lazy(self):
        self.assertEqual(lazy_layout(elem_dtype("float64")),
                         {"op": 8, "data": 16, "cached": 32, "error": 40, "count": 296, "total": 304})
        self.assertEqual(lazy_layout(elem_dtype("int32")),
                         {"op": 4, "data": 8, "cached": 16, "error": 20, "count": 276, "total": 280})
        self.assertEqual(lazy_layout(elem_dtype("uint8"))["error"], 17)
        lz = Lazy.open(self.seg, "lazy_f64", "float64")
        self.assertEqual((lz.state(), lz.op(), lz.try_get(), lz.force()), (2, Lazy.CONSTANT, 6.5, 6.5))
        with self.assertRaises(errors.LayoutMismatch):
            Lazy.open(self.seg, "lazy_f64", "float32")

    def test_stream_and_channel(self):
        st = Stream.open(self.seg, "stream_i32", "int32")
        self.assertIsNone(st.subs, "upstream streams have no subscriber slots")
        self.assertEqual((st.sequence(), st.buffer_capacity, st.closed()), (3, 16, False))
        self.assertEqual([st.next() for _ in range(4)], [1, 2, 3, None])
        self.assertTrue(st.emit(4))
        self.assertEqual((st.sequence(), st.next()), (4, 4))
        st.close()
        with self.assertRaises(errors.Closed):
            st.emit(5)
        ch = Channel.open(self.seg, "chan_i32", "int32")
        self.assertEqual((ch.capacity, len(ch)), (4, 2))
        self.assertTrue(ch.send(300) and ch.send(400))
        self.assertFalse(ch.send(500), "full at 4")
        self.assertEqual([ch.recv() for _ in range(5)], [100, 200, 300, 400, None])
        ch.close()
        with self.assertRaises(errors.Closed):
            ch.recv()

    def test_python_image(self):
        seg = image("standard-py.seg")
        self.assertEqual(seg.find("fut_err").size, 276)
        with self.assertRaises(errors.Failed):
            Future.open(seg, "fut_err", "int32").try_get()
        with self.assertRaises(errors.LayoutMismatch):
            Lazy.open(seg, "lazy_f64", "float64")
        with self.assertRaises(errors.NotFound):
            Stream.open(seg, "stream_i32", "int32")
        with self.assertRaises(errors.NotFound):
            Channel.open(seg, "chan_i32", "int32")

    def test_messages(self):
        self.assertEqual(len(encode_message("x" * 300)), 256)
        self.assertEqual(encode_message("x" * 300)[255], 0, "at most 255 bytes of text")
        cut = encode_message("é" * 200)  # 2-byte characters: 254 bytes fit, not 256
        self.assertEqual(decode_message(cut), "é" * 127)
        self.assertEqual(decode_message(b"y" * 256), "y" * 255, "no NUL: the first 255 bytes")


class Writing(unittest.TestCase):
    """Created structures: one table update per composite, with the project's aux entries."""

    def test_parts_and_aux_entries(self):
        seg = Segment.from_bytes(blank())
        Mutex.create(seg, "m")
        RWLock.create(seg, "rw")
        Event.create(seg, "e", "auto").signal()
        Lazy.create_constant(seg, "lz", "int32", 9)
        Stream.create(seg, "s", "uint8", 5)
        Channel.create(seg, "c", "float64", 3)
        Mutex.create(seg, "m" * 26)  # no room for "_owner"
        names = [(e.name, e.size) for e in seg.entries()]
        self.assertEqual(names, [("m", 16), ("m_owner", 8), ("rw_state", 8), ("rw_rmtx", 16), ("rw_wmtx", 16),
                                 ("rw", 1), ("e", 12), ("e_sem", 16), ("lz", 280), ("lz_owner", 8),
                                 ("s_header", 56), ("s_buffer", 29), ("s_subs", 288), ("c_header", 32),
                                 ("c_buffer", 16 + 32 + 16), ("c_peers", 272), ("m" * 26, 16)])
        e = Event.open(seg, "e")
        self.assertEqual((e.is_signaled(), e.sem.count()), (True, 1), "auto-reset: a permit accumulates")
        e.reset()
        self.assertEqual((e.is_signaled(), e.sem.count()), (False, 0), "reset discards the permits")
        self.assertEqual(Channel.open(seg, "c", "float64").capacity, 4)
        subs = seg.find("s_subs")
        self.assertEqual((seg.u32(subs.offset), seg.u64(subs.offset + 32)), (16, (1 << 64) - 1))
        m = Mutex.open(seg, "m")
        self.assertTrue(m.try_lock())
        self.assertEqual(m.owner_pid(), os.getpid())
        m.unlock()
        self.assertIsNone(m.owner_pid())

    def test_failed_composite_changes_nothing(self):
        seg = Segment.from_bytes(blank(size=32 + 48 * 64 + 300))
        before = seg.header()
        with self.assertRaises(errors.OutOfSpace):
            Stream.create(seg, "s", "int32", 4)  # 56 + 40 fit, the 288-byte subs do not
        self.assertEqual(seg.header(), before)
        with self.assertRaises(errors.InvalidArgument):
            Semaphore.create(seg, "x", 3, 2)
        with self.assertRaises(errors.Unsupported):
            Channel.create(seg, "u", "int32", 0)

    def test_incomplete(self):
        seg = Segment.from_bytes(blank())
        Semaphore.create(seg, "x_sem", 0, 0)
        with self.assertRaises(errors.Incomplete):
            Event.open(seg, "x")  # "x_sem" present, "x" missing
        with self.assertRaises(errors.NotFound):
            Event.open(seg, "y")  # no part at all
        seg2 = Segment.from_bytes(blank())
        Once.create(seg2, "sig_state")
        with self.assertRaises(errors.Incomplete):
            Signal.open(seg2, "sig", "int32")


class OnThePythonImage(unittest.TestCase):
    def test_rejections(self):
        seg = image("standard-py.seg")
        with self.assertRaises(errors.LayoutMismatch):
            Map.open(seg, "map_i32_i32", "int32", "int32")
        with self.assertRaises(errors.LayoutMismatch):
            Set.open(seg, "set_i32", "int32")
        m = Map.open(seg, "map_i32_f64", "int32", "float64")
        self.assertEqual(sorted(m.items()), [(1, 1.5), (2, 2.5), (3, -3.0)])
        self.assertEqual([m.get(k) for k in (1, 2, 3)], [None, None, None])


class Lifecycle(unittest.TestCase):
    def test_create_open_unlink(self):
        name = f"zipy-test-{os.getpid()}"
        seg = Segment.create(name, 8192, 16)
        try:
            with self.assertRaises(errors.AlreadyExists):
                Segment.create(name, 8192, 16)
            a = Array.create(seg, "a", "int16", 3)
            a.write(0, [1, -2, 3])
            with self.assertRaises(errors.AlreadyExists):
                Array.create(seg, "a", "int16", 3)
            other = Segment.open(name)
            self.assertEqual(Array.open(other, "a", "int16").to_list(), [1, -2, 3])
            self.assertEqual(other.header()["next_offset"], 32 + 48 * 16 + 8 + 6)
            with self.assertRaises(errors.OutOfSpace):
                Array.create(seg, "big", "int64", 1000)
            self.assertEqual(other.header()["next_offset"], 32 + 48 * 16 + 8 + 6, "a failed add changes nothing")
            other.close()
        finally:
            seg.close()
            Segment.unlink(name)
        with self.assertRaises(errors.NotFound):
            Segment.open(name)
        with self.assertRaises(errors.InvalidName):
            Segment.create("a/b", 8192)
        with self.assertRaises(errors.InvalidArgument):
            Segment.create(name, 100, 64)


if __name__ == "__main__":
    unittest.main()
