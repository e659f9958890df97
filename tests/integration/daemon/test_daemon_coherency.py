#!/usr/bin/env python3
"""Page-cache coherency between handles of one file: a write that bypasses the page cache (a
write-only handle, which the daemon opens FOPEN_DIRECT_IO; an O_DIRECT write, synchronous or
asynchronous) must not leave older bytes cached for buffered reads through other handles
(xfstests generic/451: asynchronous O_DIRECT writes racing buffered reads)."""
import ctypes
import mmap
import os
import threading
import time

import pfcfs
import taprun

_libc = ctypes.CDLL(None, use_errno=True)
SYS_io_setup, SYS_io_destroy, SYS_io_getevents, SYS_io_submit = 206, 207, 208, 209  # x86_64
IOCB_CMD_PWRITE = 1


class IOCB(ctypes.Structure):           # struct iocb of <linux/aio_abi.h> (little endian)
    _fields_ = [("aio_data", ctypes.c_uint64), ("aio_key", ctypes.c_uint32),
                ("aio_rw_flags", ctypes.c_int32), ("aio_lio_opcode", ctypes.c_uint16),
                ("aio_reqprio", ctypes.c_int16), ("aio_fildes", ctypes.c_uint32),
                ("aio_buf", ctypes.c_uint64), ("aio_nbytes", ctypes.c_uint64),
                ("aio_offset", ctypes.c_int64), ("aio_reserved2", ctypes.c_uint64),
                ("aio_flags", ctypes.c_uint32), ("aio_resfd", ctypes.c_uint32)]


class IOEvent(ctypes.Structure):
    _fields_ = [("data", ctypes.c_uint64), ("obj", ctypes.c_uint64),
                ("res", ctypes.c_int64), ("res2", ctypes.c_int64)]


def syscall(*args):
    r = _libc.syscall(*args)
    if r < 0:
        e = ctypes.get_errno()
        raise OSError(e, os.strerror(e))
    return r


def aio_pwrite(fd, buf, off):
    """One asynchronous write (io_submit), waited for; the kernel returns from io_submit before
    the daemon has answered, so buffered reads can run while it is in flight."""
    ctx = ctypes.c_ulong(0)
    syscall(ctypes.c_long(SYS_io_setup), ctypes.c_uint(1), ctypes.byref(ctx))
    try:
        addr = ctypes.addressof(ctypes.c_char.from_buffer(buf))
        cb = IOCB(aio_lio_opcode=IOCB_CMD_PWRITE, aio_fildes=fd, aio_buf=addr,
                  aio_nbytes=len(buf), aio_offset=off)
        cbp = ctypes.pointer(cb)
        syscall(ctypes.c_long(SYS_io_submit), ctx, ctypes.c_long(1), ctypes.byref(cbp))
        ev = IOEvent()
        syscall(ctypes.c_long(SYS_io_getevents), ctx, ctypes.c_long(1), ctypes.c_long(1),
                ctypes.byref(ev), None)
        if ev.res != len(buf):
            raise OSError(-ev.res if ev.res < 0 else 5, "aio write: %d" % ev.res)
    finally:
        syscall(ctypes.c_long(SYS_io_destroy), ctx)


class Coherency(pfcfs.MountTestCase):

    def test_write_only_handle_write_is_seen_by_a_cached_reader(self):
        p = os.path.join(self.mnt, "wo")
        with open(p, "wb") as f:
            f.write(b"a" * 65536)
        r = os.open(p, os.O_RDONLY)
        try:
            self.assertEqual(os.pread(r, 65536, 0), b"a" * 65536)       # now cached
            w = os.open(p, os.O_WRONLY)                                 # FOPEN_DIRECT_IO
            try:
                for i, c in enumerate(b"bcdefgh"):
                    os.pwrite(w, bytes([c]) * 4096, 4096 * i)
                    self.assertEqual(os.pread(r, 65536, 0)[4096 * i:4096 * (i + 1)],
                                     bytes([c]) * 4096, f"write {i} seen through the reader")
            finally:
                os.close(w)
        finally:
            os.close(r)

    def test_async_direct_writes_racing_buffered_reads_leave_no_stale_pages(self):
        p = os.path.join(self.mnt, "aio")
        size = 655360
        with open(p, "wb") as f:
            f.write(bytes(size))
        stop = threading.Event()

        def reader():
            while not stop.is_set():
                fd = os.open(p, os.O_RDWR)
                try:
                    os.pread(fd, size, 0)
                finally:
                    os.close(fd)

        readers = [threading.Thread(target=reader) for _ in range(2)]
        for t in readers:
            t.start()
        buf = mmap.mmap(-1, size)                   # page-aligned, as O_DIRECT wants
        stale, rounds, deadline = None, 0, time.monotonic() + 8
        try:
            while stale is None and time.monotonic() < deadline:
                c = 0x41 + rounds % 26
                buf[:] = bytes([c]) * size
                fd = os.open(p, os.O_RDWR | os.O_DIRECT)
                try:
                    aio_pwrite(fd, buf, 0)
                finally:
                    os.close(fd)
                fd = os.open(p, os.O_RDONLY)
                try:
                    got = os.pread(fd, size, 0)
                finally:
                    os.close(fd)
                if got != bytes([c]) * size:
                    stale = (rounds, c, got[:1], got.count(bytes([c])))
                rounds += 1
        finally:
            stop.set()
            for t in readers:
                t.join()
            buf.close()
        self.assertIsNone(stale, "stale bytes from a buffered read (round, wanted, got, "
                                 "right bytes)")
        self.assertGreater(rounds, 10)


if __name__ == "__main__":
    taprun.main()
