#!/usr/bin/env python3
"""Write generations (ARCHITECTURE.md section 2, issue 5 point 2) seen from the backing file.

A file edited in three sessions holds blocks of three generations; the header counter is bumped once
per session (one field write), never by an open that does not modify; a truncate by path is a
generation of its own; overlapping writers share one generation until the last one closes.
"""
import os
import struct

import ks  # (a protocol client: unwraps the file key for the check below)
import pfcfs
import reader  # (the independent Python reader of fs/FORMAT.md)
import taprun
from pfcfs import backing_of, repeated as pattern
from pfcformat import BS, GEN_OFFSET, HEADER_SIZE, stored_block_size


def header_generation(bpath):
    with open(bpath, "rb") as f:
        f.seek(GEN_OFFSET)
        return struct.unpack("<Q", f.read(8))[0]


def block_generations(m, bpath):
    sbs = stored_block_size(m)
    with open(bpath, "rb") as f:
        data = f.read()
    gens = []
    for off in range(HEADER_SIZE, len(data), sbs):
        gens.append(struct.unpack_from("<Q", data, off)[0])
    return gens


class Generations(pfcfs.MountTestCase):

    def test_three_sessions_give_three_generations(self):
        p = os.path.join(self.mnt, "three")
        want = bytearray(pattern(b"one.", 3 * BS))
        with open(p, "wb") as f:          # session 1: every block
            f.write(want)
        b = backing_of(self.m, p)
        self.assertEqual(block_generations(self.m, b), [1, 1, 1])
        with open(p, "r+b") as f:          # session 2: block 1, a partial write (merge)
            f.seek(BS + 10)
            f.write(b"two")
        want[BS + 10:BS + 13] = b"two"
        with open(p, "r+b") as f:          # session 3: block 2, two writes, one generation
            f.seek(2 * BS)
            f.write(b"three")
            f.seek(3 * BS - 5)
            f.write(b"3333")
        want[2 * BS:2 * BS + 5] = b"three"
        want[3 * BS - 5:3 * BS - 1] = b"3333"
        gens = block_generations(self.m, b)
        self.assertEqual(gens, [1, 2, 3], "one generation per session, carried by its blocks")
        self.assertEqual(len(set(gens)), 3)
        self.assertEqual(header_generation(b), 3)
        with open(p, "rb") as f:
            self.assertEqual(f.read(), bytes(want))
        # and after a remount (nothing from the page cache or the key cache)
        self.m.remount()
        with open(p, "rb") as f:
            self.assertEqual(f.read(), bytes(want))

    def test_three_generations_decrypt_under_three_different_keys(self):
        """Issue 5 point 2, checked outside the daemon: the file key is unwrapped through the
        keystore, the generation keys derived by the independent reader (tests/vectors/reader.py),
        and each block opens under its own generation's key and under no other."""
        p = os.path.join(self.mnt, "keys")
        with open(p, "wb") as f:
            f.write(pattern(b"1", 3 * BS))
        for g in (1, 2):
            with open(p, "r+b") as f:
                f.seek(g * BS)
                f.write(pattern(str(g + 1).encode(), BS))
        b = backing_of(self.m, p)
        with open(b, "rb") as f:
            data = f.read()
        with open(os.path.join(self.m.backing, "pfcrypt.conf"), "rb") as f:
            conf = reader.parse_config(f.read())
        h = reader.parse_header(data)
        with ks.Client(self.m.keystore.sock) as c:
            fk = c.unwrap(h.wrapped, reader.file_key_ad(conf.volume_id, h.file_id))
        keys = reader.FileKeys(fk, h.file_id, conf.cipher)
        blocks = reader.split_blocks(data[reader.HEADER_SIZE:], BS,
                                     stored_block_size(self.m) - BS)
        gens = [struct.unpack_from("<Q", blk)[0] for blk in blocks]
        self.assertEqual(gens, [1, 2, 3])
        gks = {g: keys.gk(g) for g in gens}
        self.assertEqual(len(set(gks.values())), 3, "three different generation keys")
        for i, blk in enumerate(blocks):
            g, plain = reader.decrypt_block(keys, i, blk)
            self.assertEqual(plain, pattern(str(i + 1).encode(), BS))
            nn = reader.CIPHER_NONCE[conf.cipher]
            nonce, ct = blk[8:8 + nn], blk[8 + nn:]
            ad = reader.block_ad(h.file_id, i, g)
            self.assertEqual(reader._aead_decrypt(conf.cipher, gks[g], nonce, ad, ct), plain)
            for other in gens:              # same bytes, same AD, another generation's key
                if other != g:
                    with self.assertRaises(reader.FormatError):
                        reader._aead_decrypt(conf.cipher, gks[other], nonce, ad, ct)

    def test_unmodified_opens_start_no_generation(self):
        p = os.path.join(self.mnt, "quiet")
        with open(p, "wb") as f:
            f.write(pattern(b"q", 2 * BS + 7))
        b = backing_of(self.m, p)
        with open(b, "rb") as f:
            before = f.read()
        with open(p, "rb") as f:           # read only
            f.read()
        with open(p, "r+b") as f:          # open for writing, no write
            f.read(10)
        fd = os.open(p, os.O_WRONLY)       # write-only, no write
        os.close(fd)
        os.truncate(p, 2 * BS + 7)         # same size: not a modification
        with open(b, "rb") as f:
            self.assertEqual(f.read(), before, "no byte of the backing file changed")
        self.assertEqual(header_generation(b), 1)

    def test_a_create_for_writing_starts_generation_1(self):
        # FORMAT.md 3: the header a create for writing writes already carries generation 1 and
        # the creating handle's writes join it (so its first write needs no header update); a
        # create that does not open for writing (O_RDONLY, mknod) leaves generation 0.
        p = os.path.join(self.mnt, "created")
        fd = os.open(p, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        b = backing_of(self.m, p)
        self.assertEqual(header_generation(b), 1, "before any write")
        os.write(fd, pattern(b"c", BS + 5))
        os.close(fd)
        self.assertEqual(header_generation(b), 1)
        self.assertEqual(block_generations(self.m, b), [1, 1])
        with open(b, "rb") as f:            # the generation MAC verifies (independent reader)
            h = reader.parse_header(f.read())
        with open(os.path.join(self.m.backing, "pfcrypt.conf"), "rb") as f:
            conf = reader.parse_config(f.read())
        with ks.Client(self.m.keystore.sock) as c:
            fk = c.unwrap(h.wrapped, reader.file_key_ad(conf.volume_id, h.file_id))
        keys = reader.FileKeys(fk, h.file_id, conf.cipher)
        self.assertEqual(reader.generation_mac(keys.k_hdr, h.file_id, 1), h.gen_mac)
        with open(p, "r+b") as f:           # the next session: generation 2
            f.write(b"C")
        self.assertEqual(header_generation(b), 2)
        self.assertEqual(block_generations(self.m, b), [2, 1])
        empty = os.path.join(self.mnt, "created-empty")
        with open(empty, "wb"):             # created for writing, nothing written
            pass
        self.assertEqual(header_generation(backing_of(self.m, empty)), 1)
        for name, make in (("created-ro", lambda q: os.close(os.open(q, os.O_RDONLY | os.O_CREAT,
                                                                         0o644))),
                           ("mknod", lambda q: os.mknod(q, 0o644 | 0o100000))):
            q = os.path.join(self.mnt, name)
            make(q)
            self.assertEqual(header_generation(backing_of(self.m, q)), 0, name)
            with open(q, "ab") as f:
                f.write(b"x")
            self.assertEqual(header_generation(backing_of(self.m, q)), 1, name)
        with open(p, "rb") as f:
            self.assertEqual(f.read(), b"C" + pattern(b"c", BS + 5)[1:])

    def test_truncate_by_path_is_its_own_generation(self):
        p = os.path.join(self.mnt, "trunc")
        with open(p, "wb") as f:
            f.write(pattern(b"t", 3 * BS))
        b = backing_of(self.m, p)
        os.truncate(p, BS + 100)           # shortens block 1: rewritten in generation 2
        self.assertEqual(header_generation(b), 2)
        self.assertEqual(block_generations(self.m, b), [1, 2])
        os.truncate(p, 2 * BS)             # pads block 1: generation 3
        self.assertEqual(header_generation(b), 3)
        with open(p, "rb") as f:
            self.assertEqual(f.read(), pattern(b"t", BS + 100) + bytes(BS - 100))

    def test_overlapping_writers_share_one_generation(self):
        p = os.path.join(self.mnt, "shared")
        with open(p, "wb") as f:
            f.write(bytes(4 * BS))
        b = backing_of(self.m, p)
        g0 = header_generation(b)
        a = os.open(p, os.O_WRONLY)
        c = os.open(p, os.O_WRONLY)
        os.pwrite(a, b"A" * BS, 0)
        os.close(a)                        # c is still open: the generation goes on
        os.pwrite(c, b"C" * BS, 2 * BS)
        os.close(c)
        self.assertEqual(header_generation(b), g0 + 1)
        gens = block_generations(self.m, b)
        self.assertEqual(gens[0], g0 + 1)
        self.assertEqual(gens[2], g0 + 1)
        self.assertEqual(gens[1], g0)
        fd = os.open(p, os.O_WRONLY)       # a new session after all closed: a new generation
        os.pwrite(fd, b"D", 3 * BS)
        os.close(fd)
        self.assertEqual(header_generation(b), g0 + 2)
        self.assertEqual(block_generations(self.m, b)[3], g0 + 2)


if __name__ == "__main__":
    taprun.main()
