#!/usr/bin/env python3
"""Generate tests/vectors/broken-v1/: golden volumes with one deliberate problem per entry, and
the MANIFEST of what `pfcrypt check` must report for each (test_broken_volume.py checks it).

    /usr/bin/python3 tests/vectors/broken_gen.py [OUTDIR]     (default: tests/vectors/broken-v1)

Everything starts from the golden sample volume sample-v1-aes256gcm/ (master key test-master v1 =
a0..bf, see README.md) and is made with the independent reader's primitives (reader.py), with
fixed keys and nonces: the output is the same bytes at every run.  Its files are copies of the
sample's hello.txt and docs/report.bin under new names (a file's header binds its key to its file
id, not to its name, so a copy is a good file) that are then damaged, one problem each.

OUTDIR/volume/            the volume of the entry-level problems (names, companions, headers,
                          blocks, directory ids, foreign entries, a conflict copy)
OUTDIR/config-tampered/   a volume whose pfcrypt.conf MAC does not verify
OUTDIR/config-key/        a volume whose wrapped name key does not unwrap
OUTDIR/MANIFEST           one line per expected report (see its head)
OUTDIR/keys.json          the master keys the test's keystore must hold, and their states
"""
import json
import os
import shutil
import struct
import sys

import reader as R  # the independent reader's primitives (this directory)

HERE = os.path.dirname(os.path.abspath(__file__))

SAMPLE = os.path.join(HERE, "sample-v1-aes256gcm")
V = json.load(open(os.path.join(HERE, "format_v1.json")))
MK_NAME = V["test_master_key"]["name"]  # test-master
MK1 = bytes.fromhex(V["test_master_key"]["key"])  # a0..bf
MK2 = bytes(range(0xc0, 0xe0))  # test-master v2: retired in the test's keystore
MK3 = bytes(range(0xe0, 0x100))  # test-master v3: the primary there (unused by the volume)
OTHER = ("other-master", 1, bytes(range(0x10, 0x30)))  # not in the test's keystore at all
HELLO = "8Tl0xptb9FjuNBAUB0dU8V9RH96uiw82iGoTIPdHeLE"  # /hello.txt (16 bytes, one block)
DOCS = "oRk3oj8254ZOfqalX_kHe3lLX0ViE7RMnV7itVUmrDQ"  # /docs
REPORT = DOCS + "/wNOysCR89iPHh4GGj9I8yYzxVJZwPBarCWDBpZ_hgwY"  # /docs/report.bin (4 blocks)
STORED = 4096 + 36  # AES-256-GCM, 4 KiB blocks
CONFLICT = ".sync-conflict-20261207-203000-ABCDEFG"  # Syncthing's marker (both rules know it)
# fs/err.c: the messages of the errors a cause below names as @NAME
ERR = {"AUTH": "authentication failed (tampered or wrong key)", "TRUNCATED": "truncated data",
       "BAD_MAGIC": "not a pfcrypt object (bad magic)",
       "UNKNOWN_VERSION": "unknown format or protocol version"}


def nonce(i, n=24):
    """A fixed nonce per use (never a real volume's: these are test bytes)."""
    return struct.pack("<Q", 0xb40ce0 + i) + bytes(n - 8)


class Gen:
    def __init__(self, out):
        self.out = out
        self.vol = os.path.join(out, "volume")
        shutil.copytree(SAMPLE, self.vol, symlinks=True)
        self.v = R.Volume(self.vol, {(MK_NAME, 1): MK1})
        self.c = self.v.config
        self.root_id = R.Volume.dir_ids(self.vol)[0]
        self.manifest = []
        self.n = 0

    def expect(self, what, backing, plain, cause, volume="volume"):
        for k, msg in ERR.items():
            cause = cause.replace("@" + k, msg)
        assert "@" not in cause, cause
        self.manifest.append((what, volume, backing, plain or "-", cause))

    def read(self, rel):
        with open(os.path.join(self.vol, rel), "rb") as f:
            return f.read()

    def write(self, rel, data):
        p = os.path.join(self.vol, rel)
        os.makedirs(os.path.dirname(p), exist_ok=True)
        with open(p, "wb") as f:
            f.write(data)

    def name(self, plain, dir_id=None):
        """(backing entry, companion or None, encoded) of a plaintext name in a directory."""
        return self.v.encrypt_name(dir_id or self.root_id, plain.encode())

    def new_file(self, plain, data, dir_rel="", dir_id=None):
        """A file with a good encrypted name (a short one: no companion); its backing path."""
        entry, comp, _ = self.name(plain, dir_id)
        assert comp is None, plain
        rel = os.path.join(dir_rel, entry) if dir_rel else entry
        self.write(rel, data)
        return rel

    def file_key(self, data):
        h = R.parse_header(data[:R.HEADER_SIZE])
        return h, R.unwrap_blob(h.wrapped, R.file_key_ad(self.c.volume_id, h.file_id),
                                {(MK_NAME, 1): MK1})

    @staticmethod
    def with_blob(data, blob):
        """data with its header's wrapped-key slot holding blob."""
        b = bytearray(data)
        b[56:186] = struct.pack("<H", len(blob)) + blob + bytes(128 - len(blob))
        return bytes(b)

    def rewrapped(self, data, mk_name, mk_version, mk):
        h, fk = self.file_key(data)
        self.n += 1
        blob = R.wrap_blob(mk, mk_name, mk_version, nonce(self.n),
                           R.file_key_ad(self.c.volume_id, h.file_id), fk)
        return self.with_blob(data, blob)

    # ---- the problems ---------------------------------------------------------------------------
    def files(self):
        hello, report = self.read(HELLO), self.read(REPORT)
        assert len(report) == R.HEADER_SIZE + 3 * STORED + 100 + 36

        b = bytearray(report)
        b[R.HEADER_SIZE + STORED + 100] ^= 0x01
        rel = self.new_file("block-tampered.bin", bytes(b))
        self.expect("problem", rel, "/block-tampered.bin",
                    "block 1 does not authenticate (tampered or damaged)")

        rel = self.new_file("block-truncated.bin", report[:R.HEADER_SIZE + 3 * STORED + 20])
        self.expect("problem", rel, "/block-truncated.bin",
                    "block 3 is truncated (torn write at the end of the file)")

        rel = self.new_file("header-truncated", hello[:100])
        self.expect("problem", rel, "/header-truncated", "bad header: @TRUNCATED")

        rel = self.new_file("header-bad-magic", b"PFCRYPTX" + hello[8:])
        self.expect("problem", rel, "/header-bad-magic", "bad header: @BAD_MAGIC")

        rel = self.new_file("header-unknown-version", hello[:8] + struct.pack("<H", 2) + hello[10:])
        self.expect("problem", rel, "/header-unknown-version", "bad header: @UNKNOWN_VERSION")

        b = bytearray(hello)
        b[58 + 6 + len(MK_NAME) + 24 + 5] ^= 0x01  # inside the wrapped key's ciphertext
        rel = self.new_file("key-tampered", bytes(b))
        self.expect("problem", rel, "/key-tampered", "file key does not unwrap (header tampered, "
                    "or moved from another file or volume): @AUTH")

        # hello.txt's wrapped key in report.bin's header: its AD names another file id
        h = R.parse_header(hello[:R.HEADER_SIZE])
        rel = self.new_file("key-from-another-file", self.with_blob(report, h.wrapped))
        self.expect("problem", rel, "/key-from-another-file", "file key does not unwrap (header "
                    "tampered, or moved from another file or volume): @AUTH")

        rel = self.new_file("key-unknown-master", self.rewrapped(hello, *OTHER))
        self.expect("problem", rel, "/key-unknown-master",
                    "unreadable: master key other-master v1 is not in this keystore")

        rel = self.new_file("key-retired-version", self.rewrapped(hello, MK_NAME, 2, MK2))
        self.expect("problem", rel, "/key-retired-version",
                    f"unreadable: its master-key version {MK_NAME} v2 was retired")

        b = bytearray(hello)
        b[40] ^= 0x01  # the generation's MAC
        rel = self.new_file("generation-mac", bytes(b))
        self.expect("problem", rel, "/generation-mac",
                    "header generation field does not authenticate")

        # A good file under a name that decrypts under no directory id (right shape: 32 bytes).
        self.write("A" * 42 + "E", hello)
        self.expect("problem", "A" * 42 + "E", None, "name does not decrypt: @AUTH")

        # A sync client's conflict copy of a good file: a note, its contents checked (clean).
        self.write(HELLO + CONFLICT, hello)
        self.expect("notice", HELLO + CONFLICT, None, "sync-conflict copy")

        # An empty file has no header yet: not a problem (FORMAT.md), so nothing is expected.
        self.new_file("empty-is-fine", b"")

    def long_names(self):
        hello = self.read(HELLO)

        def long(plain):
            entry, comp, enc = self.name(plain + "-" + "x" * 180)
            assert comp is not None
            return entry, comp, enc

        entry, comp, enc = long("companion-missing")
        self.write(entry, hello)
        self.expect("problem", entry, None,
                    f"long-name companion {comp} missing: No such file or directory")

        entry, comp, enc = long("companion-altered")
        self.write(entry, hello)
        i = len(enc) // 2
        self.write(comp, (enc[:i] + ("A" if enc[i] != "A" else "B") + enc[i + 1:]).encode())
        self.expect("problem", entry, None,
                    f"long-name companion {comp} does not match its long name")

        entry, comp, enc = long("companion-malformed")
        self.write(entry, hello)
        self.write(comp, b"not an encoded name!")
        self.expect("problem", entry, None, f"long-name companion {comp} is malformed")

        entry, comp, enc = long("companion-is-a-directory")
        self.write(entry, hello)
        self.write(os.path.join(comp, "x"), b"git keeps no empty directory")
        # never opened (fs/regfile.c): the entry's name cannot be read, and the companion walk
        # reports the directory itself
        self.expect("problem", entry, None,
                    f"long-name companion {comp} is not a regular file "
                    "(directory): the name cannot be read")
        self.expect("problem", comp, None, "long-name companion is not a regular file (directory)")

        entry, comp, enc = long("companion-orphan")
        self.write(comp, enc.encode())
        self.expect("problem", comp, None, f"orphan long-name companion (no entry {entry})")

    def symlinks(self):
        k, vid = self.v.k_symlink, self.c.volume_id
        sdir = R.SYMLINKS_DIR

        def link(plain, target):
            entry, comp, _ = self.name(plain)
            os.symlink(target, os.path.join(self.vol, entry))
            return entry

        def sealed(tag):
            self.n += 1
            return R.symlink_seal(k, vid, b"../" + tag.encode() * 300, nonce(self.n))

        self.n += 1
        good = R.symlink_encrypt(k, vid, b"hello.txt", nonce(self.n))
        raw = bytearray(R.b64url_decode(good))
        raw[30] ^= 0x01
        entry = link("link-does-not-decrypt", R.b64url_encode(bytes(raw)))
        self.expect("problem", entry, "/link-does-not-decrypt",
                    "symlink target does not decrypt: @AUTH")

        h = R.symlink_companion_name(sealed("m"))
        entry = link("longlink-companion-missing", R.SYMLINK_REF_PREFIX + h)
        self.expect("problem", entry, "/longlink-companion-missing",
                    f"symlink companion {sdir}/{h} missing")

        s = bytearray(sealed("a"))
        h = R.symlink_companion_name(bytes(s))
        s[100] ^= 0x01
        self.write(os.path.join(sdir, h), bytes(s))
        entry = link("longlink-companion-altered", R.SYMLINK_REF_PREFIX + h)
        self.expect("problem", entry, "/longlink-companion-altered",
                    f"symlink companion {sdir}/{h} does not authenticate (altered, or not this "
                    "symlink's): @AUTH")

        big = sealed("b") + bytes(R.SYMLINK_SEALED_MAX)
        h = R.symlink_companion_name(big)
        self.write(os.path.join(sdir, h), big)
        entry = link("longlink-companion-too-large", R.SYMLINK_REF_PREFIX + h)
        self.expect("problem", entry, "/longlink-companion-too-large",
                    f"symlink companion {sdir}/{h} too large")

        h = R.symlink_companion_name(sealed("d"))
        self.write(os.path.join(sdir, h, "x"), b"git keeps no empty directory")
        entry = link("longlink-companion-is-a-directory", R.SYMLINK_REF_PREFIX + h)
        # check reads a companion only as a regular file: for the symlink a directory there is a
        # missing companion, and the companion walk reports the directory itself.
        self.expect("problem", entry, "/longlink-companion-is-a-directory",
                    f"symlink companion {sdir}/{h} missing")
        self.expect("problem", f"{sdir}/{h}", None,
                    "symlink companion is not a regular file (directory)")

        s = sealed("o")
        h = R.symlink_companion_name(s)
        self.write(os.path.join(sdir, h), s)
        self.expect("problem", f"{sdir}/{h}", None,
                    "orphan symlink companion (no symlink refers to it)")

        self.write(os.path.join(sdir, "notes.txt"), b"plaintext")
        self.expect("problem", f"{sdir}/notes.txt", None,
                    "not a symlink companion name (foreign entry)")

        self.write(os.path.join(DOCS, sdir), b"a file of that name, not at the root")
        self.expect("problem", f"{DOCS}/{sdir}", None,
                    f"{sdir} is not a directory at the root (foreign entry)")

    def directories(self):
        hello = self.read(HELLO)

        entry, _, _ = self.name("dir-without-id")
        self.write(os.path.join(entry, "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"), hello)
        self.expect("problem", entry, "/dir-without-id",
                    "directory id .pfcrypt.dirid missing: names in it cannot be decrypted")

        # An id file is exactly 16 bytes (FORMAT.md 5.4); any other is no id: the directory has none.
        entry, _, _ = self.name("dir-bad-id")
        self.write(os.path.join(entry, ".pfcrypt.dirid"), b"short")
        self.expect("problem", entry, "/dir-bad-id",
                    "directory id .pfcrypt.dirid missing: names in it cannot be decrypted")

        # Two machines made the same directory before syncing: two ids, names under both decrypt.
        entry, _, _ = self.name("dir-two-ids")
        a, b = bytes(range(0xd1, 0xe1)), bytes(range(0xe1, 0xf1))
        self.write(os.path.join(entry, ".pfcrypt.dirid"), a)
        self.write(os.path.join(entry, ".pfcrypt" + CONFLICT + ".dirid"), b)
        self.new_file("under-the-first-id", hello, entry, a)
        self.new_file("under-the-second-id", hello, entry, b)
        self.expect("notice", entry, "/dir-two-ids", "2 directory ids (a sync conflict); names "
                    "under any of them decrypt (--fold-dirids folds them)")

    def foreign(self):
        self.write("notes.txt", b"plaintext dropped into the backing directory\n")
        self.expect("problem", "notes.txt", None, "not a pfcrypt name (foreign entry, not checked)")
        self.write(os.path.join("photos", "one.jpg"), b"a foreign directory: named once")
        self.expect("problem", "photos", None, "not a pfcrypt name (foreign entry, not checked)")

    def configs(self):
        conf = self.read("pfcrypt.conf")
        for volume, data, cause in (
                ("config-tampered", conf[:-1] + bytes([conf[-1] ^ 0x01]),
                 "config does not authenticate (tampered or damaged)"),
                ("config-key", self.tamper_name_key(conf), "volume name key does not unwrap: @AUTH")):
            d = os.path.join(self.out, volume)
            os.makedirs(d)
            shutil.copy(os.path.join(SAMPLE, ".pfcrypt.dirid"), d)
            with open(os.path.join(d, "pfcrypt.conf"), "wb") as f:
                f.write(data)
            self.expect("problem", "pfcrypt.conf", None, cause, volume=volume)

    def tamper_name_key(self, conf):
        n = conf[36]
        b = bytearray(conf)
        b[39 + n + 6 + n + 24 + 3] ^= 0x01  # inside the wrapped name key's ciphertext
        return bytes(b)

    def write_manifest(self):
        lines = [
            "# tests/vectors/broken-v1/MANIFEST (written by broken_gen.py; checked by",
            "# test_broken_volume.py): what `pfcrypt check --json VOLUME` must report, and nothing",
            "# else.  One line per report, tab-separated:",
            "#   problem|notice  VOLUME  BACKING_PATH  PLAIN_PATH (- for null)  CAUSE",
            "# Not here, because committed bytes cannot hold them: a mount point inside the volume,",
            "# unreadable entries and directory id files (permissions: the tests run as root),",
            "# read errors.  A directory id file of another size than 16 bytes counts as none",
            "# (FORMAT.md 5.4: dir-bad-id is reported as missing its id).",
        ]
        for m in sorted(self.manifest, key=lambda m: (m[1], m[0], m[2])):
            lines.append("\t".join(m))
        with open(os.path.join(self.out, "MANIFEST"), "w") as f:
            f.write("\n".join(lines) + "\n")
        keys = {"passphrase": "broken-v1 test keystore (not secret)", "keys": [
            {"name": MK_NAME, "version": 1, "key": MK1.hex(), "state": "active"},
            {"name": MK_NAME, "version": 2, "key": MK2.hex(), "state": "retired"},
            {"name": MK_NAME, "version": 3, "key": MK3.hex(), "state": "primary"}],
            "absent": [{"name": OTHER[0], "version": OTHER[1]}]}
        with open(os.path.join(self.out, "keys.json"), "w") as f:
            json.dump(keys, f, indent=1)
            f.write("\n")


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(HERE, "broken-v1")
    if os.path.exists(out):
        shutil.rmtree(out)
    os.makedirs(out)
    g = Gen(out)
    g.files()
    g.long_names()
    g.symlinks()
    g.directories()
    g.foreign()
    g.configs()
    g.write_manifest()
    print(f"{out}: {len(g.manifest)} expected reports")


if __name__ == "__main__":
    main()
