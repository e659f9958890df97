#!/usr/bin/python3
"""The independent Python reader (reader.py, written from fs/FORMAT.md alone) against the vectors
and sample volumes written by the C format library: every byte must decrypt to the expected
plaintext, every encryption with the same nonce must give the C library's bytes exactly, and every
tampering the format promises to detect must be detected by this reader too."""

import hashlib
import json
import os
import shutil
import struct
import subprocess
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))

import reader as R
import taprun

VEC_DIR = os.environ.get("PFC_VECTOR_DIR", HERE)
with open(os.path.join(VEC_DIR, "format_v1.json")) as _f:
    V = json.load(_f)

H = bytes.fromhex
TMK = V["test_master_key"]
MASTER_KEYS = {(TMK["name"], TMK["version"]): H(TMK["key"])}
SAMPLES = {"aes256gcm": R.CIPHER_AES256GCM, "xchacha20poly1305": R.CIPHER_XCHACHA20POLY1305}
# directory ids of the samples, per tests/vectors/README.md
SAMPLE_DIRIDS = {"aes256gcm": (0xa1, 0xb1), "xchacha20poly1305": (0xa2, 0xb2)}


def flip(data, byte, bit=0):
    b = bytearray(data)
    b[byte] ^= 1 << bit
    return bytes(b)


def other_b64_char(c):
    return "A" if c != "A" else "B"


def keystore_blob_vectors():
    """tests/vectors/keystore_blob.txt: blank-line separated records of key=value lines."""
    out, cur = [], {}
    with open(os.path.join(VEC_DIR, "keystore_blob.txt")) as f:
        for line in f.read().splitlines() + [""]:
            if line.startswith("#"):
                continue
            if not line.strip():
                if cur:
                    out.append(cur)
                cur = {}
                continue
            k, v = line.split("=", 1)
            cur[k] = v
    return out


class KeystoreBlobVectors(unittest.TestCase):
    def test_blob_vectors_wrap_and_unwrap(self):
        vs = keystore_blob_vectors()
        self.assertGreaterEqual(len(vs), 3)
        for v in vs:
            mk, ad, key, blob = H(v["master_key"]), H(v["ad"]), H(v["key"]), H(v["blob"])
            ver = int(v["version"])
            self.assertEqual(R.wrap_blob(mk, v["name"], ver, H(v["nonce"]), ad, key), blob)
            self.assertEqual(R.parse_blob(blob)[:2], (v["name"], ver))
            keys = {(v["name"], ver): mk}
            self.assertEqual(R.unwrap_blob(blob, ad, keys), key)
            for i in range(len(blob)):
                with self.assertRaises(R.FormatError, msg=f"blob byte {i}"):
                    R.unwrap_blob(flip(blob, i), ad, keys)
            with self.assertRaises(R.FormatError):
                R.unwrap_blob(blob, ad + b"x", keys)


class KdfVectors(unittest.TestCase):
    def test_every_kdf_vector_matches(self):
        self.assertGreaterEqual(len(V["kdf"]), 9)
        for k in V["kdf"]:
            got = R.kdf(H(k["key"]), k["subkey_id"], k["context"].encode("ascii"))
            self.assertEqual(got.hex(), k["subkey"], k["context"])

    def test_all_documented_contexts_are_covered_and_distinct(self):
        ctxs = {k["context"] for k in V["kdf"]}
        documented = {R.CTX_NAME_MAC, R.CTX_NAME_STREAM, R.CTX_SYMLINK, R.CTX_XNAME_MAC,
                      R.CTX_XNAME_STREAM, R.CTX_XVALUE, R.CTX_CONFIG, R.CTX_HDR, R.CTX_GENKEY}
        self.assertEqual(len(documented), 9)
        self.assertEqual({c.decode() for c in documented}, ctxs)


class ConfigVector(unittest.TestCase):
    def setUp(self):
        self.v = V["config"]
        self.data = H(self.v["bytes"])

    def open(self, data, keys=MASTER_KEYS):
        c = R.parse_config(data)
        nk = R.unwrap_blob(c.wrapped_name_key, R.name_key_ad(c.volume_id), keys)
        R.verify_config(c, nk)
        return c, nk

    def test_config_fields_name_key_and_mac(self):
        c, nk = self.open(self.data)
        self.assertEqual(c.version, 1)
        self.assertEqual(c.cipher, R.CIPHER_XCHACHA20POLY1305)
        self.assertEqual(c.block_size, 4096)
        self.assertEqual(c.flags, 0)
        self.assertEqual(c.key_name, b"vectors")
        self.assertEqual(c.volume_id.hex(), self.v["volume_id"])
        self.assertEqual(R.name_key_ad(c.volume_id).hex(), self.v["name_key_ad"])
        self.assertEqual(len(R.name_key_ad(c.volume_id)), 36)
        self.assertEqual(nk.hex(), self.v["name_key"])
        self.assertEqual(R.parse_blob(c.wrapped_name_key)[:2], (TMK["name"], TMK["version"]))

    def test_every_bit_flip_of_the_config_is_refused(self):
        for i in range(len(self.data)):
            for bit in range(8):
                with self.assertRaises(R.FormatError, msg=f"byte {i} bit {bit}"):
                    self.open(flip(self.data, i, bit))

    def test_unknown_version_and_flags_are_unknown_version(self):
        for off, val in ((8, 2), (16, 2), (16, 0x80000000)):
            d = bytearray(self.data)
            struct.pack_into("<H" if off == 8 else "<I", d, off, val)
            with self.assertRaises(R.FormatError) as cm:
                R.parse_config(bytes(d))
            self.assertEqual(cm.exception.kind, "UNKNOWN_VERSION")

    def test_trailing_byte_and_truncation_are_refused(self):
        with self.assertRaises(R.FormatError):
            R.parse_config(self.data + b"\0")
        for n in (0, 7, 36, len(self.data) - 1):
            with self.assertRaises(R.FormatError):
                R.parse_config(self.data[:n])

    def test_wrong_master_key_fails_authentication(self):
        keys = {k: bytes(32) for k in MASTER_KEYS}
        with self.assertRaises(R.FormatError) as cm:
            self.open(self.data, keys)
        self.assertEqual(cm.exception.kind, "AUTH")


class HeaderVector(unittest.TestCase):
    def setUp(self):
        self.assertEqual(len(V["headers"]), 1)
        self.v = V["headers"][0]
        self.data = H(self.v["bytes"])

    def open(self, data, volume_id=None):
        h = R.parse_header(data)
        return h, R.open_header(h, volume_id or H(self.v["volume_id"]), R.CIPHER_AES256GCM,
                                MASTER_KEYS)

    def test_header_fields_and_file_key(self):
        self.assertEqual(len(self.data), 256)
        h, keys = self.open(self.data)
        self.assertEqual(h.file_id.hex(), self.v["file_id"])
        self.assertEqual(h.generation, self.v["generation"])
        ad = R.file_key_ad(H(self.v["volume_id"]), h.file_id)
        self.assertEqual(ad.hex(), self.v["file_key_ad"])
        self.assertEqual(len(ad), 52)
        self.assertEqual(keys.fk.hex(), self.v["file_key"])

    def test_every_bit_flip_of_the_header_is_detected(self):
        for i in range(256):
            for bit in range(8):
                with self.assertRaises(R.FormatError, msg=f"byte {i} bit {bit}"):
                    self.open(flip(self.data, i, bit))

    def test_header_in_another_volume_does_not_unwrap(self):
        with self.assertRaises(R.FormatError) as cm:
            self.open(self.data, volume_id=bytes(16))
        self.assertEqual(cm.exception.kind, "AUTH")

    def test_generation_field_bump_with_a_valid_mac_is_accepted(self):
        # the generation field is rewritten alone (24 bytes at 32): a new (g, MAC) is valid
        h, keys = self.open(self.data)
        d = bytearray(self.data)
        d[32:56] = R.le64(6) + R.generation_mac(keys.k_hdr, h.file_id, 6)
        self.assertEqual(self.open(bytes(d))[0].generation, 6)

    def test_unknown_header_version_is_refused(self):
        with self.assertRaises(R.FormatError) as cm:
            R.parse_header(self.data[:8] + b"\x02\x00" + self.data[10:])
        self.assertEqual(cm.exception.kind, "UNKNOWN_VERSION")


class BlockVectors(unittest.TestCase):
    def keys(self, v, file_id=None):
        fk = H(v["file_key"])
        return R.FileKeys(fk, file_id or H(v["file_id"]), SAMPLES[v["cipher"]])

    def blocks(self, v):
        o = 8 + R.CIPHER_NONCE[SAMPLES[v["cipher"]]] + 16
        return R.split_blocks(H(v["stored"]), v["block_size"], o), o

    def test_every_block_vector_decrypts_to_its_plaintext(self):
        self.assertEqual({v["cipher"] for v in V["blocks"]}, set(SAMPLES))
        for v in V["blocks"]:
            keys = self.keys(v)
            blocks, o = self.blocks(v)
            self.assertEqual(len(H(v["stored"])), R.backing_size(len(H(v["plaintext"])),
                             v["block_size"], o) - 256)
            out = b""
            for k, blk in enumerate(blocks):
                g, p = R.decrypt_block(keys, v["first_index"] + k, blk)
                self.assertEqual(g, v["generation"])
                out += p
            self.assertEqual(out.hex(), v["plaintext"], f"{v['cipher']} {len(out)}")

    def test_reencryption_with_the_same_nonce_gives_the_same_bytes(self):
        for v in V["blocks"]:
            keys = self.keys(v)
            blocks, o = self.blocks(v)
            pt = H(v["plaintext"])
            bs = v["block_size"]
            nn = R.CIPHER_NONCE[keys.cipher]
            for k, blk in enumerate(blocks):
                again = R.encrypt_block(keys, v["first_index"] + k, v["generation"],
                                        blk[8:8 + nn], pt[k * bs:(k + 1) * bs])
                self.assertEqual(again, blk)

    def test_every_bit_flip_of_a_small_block_fails_authentication(self):
        for v in V["blocks"]:
            if len(H(v["plaintext"])) != 1:
                continue
            keys = self.keys(v)
            blk = H(v["stored"])
            for i in range(len(blk)):
                for bit in range(8):
                    with self.assertRaises(R.FormatError, msg=f"{v['cipher']} {i}/{bit}"):
                        R.decrypt_block(keys, v["first_index"], flip(blk, i, bit))

    def test_a_flip_in_each_field_of_every_block_fails(self):
        for v in V["blocks"]:
            keys = self.keys(v)
            blocks, o = self.blocks(v)
            nn = o - 24
            for k, blk in enumerate(blocks):
                for pos in (0, 7, 8, 8 + nn - 1, 8 + nn, len(blk) // 2, len(blk) - 17,
                            len(blk) - 16, len(blk) - 1):
                    with self.assertRaises(R.FormatError) as cm:
                        R.decrypt_block(keys, v["first_index"] + k, flip(blk, pos, 3))
                    self.assertEqual(cm.exception.kind, "AUTH")

    def test_block_moved_to_another_index_file_or_generation_fails(self):
        for v in V["blocks"]:
            blocks, o = self.blocks(v)
            i0, blk = v["first_index"], blocks[0]
            with self.assertRaises(R.FormatError):
                R.decrypt_block(self.keys(v), i0 + 1, blk)
            with self.assertRaises(R.FormatError):
                R.decrypt_block(self.keys(v, file_id=bytes(16)), i0, blk)
            relabelled = R.le64(v["generation"] + 1) + blk[8:]
            with self.assertRaises(R.FormatError):
                R.decrypt_block(self.keys(v), i0, relabelled)
            other_fk = R.FileKeys(bytes(32), H(v["file_id"]), SAMPLES[v["cipher"]])
            with self.assertRaises(R.FormatError):
                R.decrypt_block(other_fk, i0, blk)

    def test_truncated_blocks_are_rejected(self):
        for v in V["blocks"]:
            blocks, o = self.blocks(v)
            blk = blocks[0]
            for n in (1, o - 1, o):
                with self.assertRaises(R.FormatError) as cm:
                    R.decrypt_block(self.keys(v), v["first_index"], blk[:n])
                self.assertEqual(cm.exception.kind, "TRUNCATED")
            with self.assertRaises(R.FormatError) as cm:
                R.decrypt_block(self.keys(v), v["first_index"], blk[:-1])
            self.assertEqual(cm.exception.kind, "AUTH" if len(blk) - 1 > o else "TRUNCATED")

    def test_all_zero_blocks_are_holes_unless_no_holes(self):
        v = V["blocks"][0]
        keys = self.keys(v)
        o = 8 + R.CIPHER_NONCE[keys.cipher] + 16
        self.assertEqual(R.decrypt_block(keys, 0, bytes(4096 + o)), (0, bytes(4096)))
        self.assertEqual(R.decrypt_block(keys, 0, bytes(o + 5)), (0, bytes(5)))
        with self.assertRaises(R.FormatError) as cm:
            R.decrypt_block(keys, 0, bytes(4096 + o), no_holes=True)
        self.assertEqual(cm.exception.kind, "AUTH")
        with self.assertRaises(R.FormatError) as cm:
            R.decrypt_block(keys, 0, bytes(o) + b"\x01")
        self.assertEqual(cm.exception.kind, "AUTH")


class Sizes(unittest.TestCase):
    def test_worked_example_of_format_md(self):
        self.assertEqual(R.backing_size(10000, 4096, 36), 10364)
        self.assertEqual(R.plaintext_size(10364, 4096, 36), 10000)
        self.assertEqual(R.backing_size(10000, 4096, 48), 10400)

    def test_sizes_round_trip_and_torn_tails(self):
        for o in (36, 48):
            for b in (4096, 65536):
                for p in (0, 1, b - 1, b, b + 1, 3 * b + 100, 1048577):
                    f = R.backing_size(p, b, o)
                    self.assertEqual(R.plaintext_size(f, b, o), p)
                    if p % b == 0:      # a torn append after full blocks is not counted
                        for torn in (1, o):
                            self.assertEqual(R.plaintext_size(f + torn, b, o), p)
        self.assertEqual(R.plaintext_size(0, 4096, 36), 0)
        self.assertEqual(R.plaintext_size(256, 4096, 36), 0)


class NameVectors(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.vol = object.__new__(R.Volume)
        cls.nk = H(V["config"]["name_key"])
        cls.vol.k_name_mac = R.kdf(cls.nk, 0, R.CTX_NAME_MAC)
        cls.vol.k_name_stream = R.kdf(cls.nk, 0, R.CTX_NAME_STREAM)

    def test_every_name_vector_encrypts_exactly_and_decrypts(self):
        kinds = set()
        for v in V["names"]:
            name, d = H(v["name"]), H(v["dir_id"])
            entry, comp, enc = self.vol.encrypt_name(d, name)
            self.assertEqual(enc, v["encoded"], name)
            self.assertEqual(entry, v["backing_name"], name)
            self.assertEqual(comp, v.get("companion"), name)
            self.assertEqual(v["is_long"], comp is not None)
            self.assertEqual(self.vol.decrypt_name([d], v["encoded"]), (name, d))
            self.assertEqual(len(enc), len(R.b64url_encode(bytes(16 + R._padded_len(len(name))))))
            kinds.add(R.classify(entry))
            if comp:
                self.assertEqual(len(entry), 52)
                self.assertEqual(len(comp), 57)
                self.assertEqual(R.classify(comp), "companion")
        self.assertEqual(kinds, {"name", "long"})

    def test_name_with_several_directory_ids_tells_which_one(self):
        v = V["names"][1]
        d = H(v["dir_id"])
        cands = [bytes(16), b"\xff" * 16, d, b"\x01" * 16]
        self.assertEqual(self.vol.decrypt_name(cands, v["encoded"]), (H(v["name"]), d))

    def test_name_under_another_directory_does_not_decrypt(self):
        for v in V["names"]:
            with self.assertRaises(R.FormatError) as cm:
                self.vol.decrypt_name([bytes(16)], v["encoded"])
            self.assertEqual(cm.exception.kind, "AUTH")

    def test_every_changed_character_of_an_encoded_name_is_detected(self):
        for v in V["names"][:3] + V["names"][-1:]:
            enc, d = v["encoded"], H(v["dir_id"])
            for i in range(len(enc)):
                bad = enc[:i] + other_b64_char(enc[i]) + enc[i + 1:]
                with self.assertRaises(R.FormatError, msg=f"{enc} char {i}"):
                    self.vol.decrypt_name([d], bad)
            for bad in (enc[:-1], enc + "A", enc[:-4], enc + "AAAA"):
                with self.assertRaises(R.FormatError):
                    self.vol.decrypt_name([d], bad)

    def test_invalid_names_are_refused(self):
        d = bytes(16)
        for bad, kind in ((b"", "NAME_INVALID"), (b".", "NAME_INVALID"),
                          (b"..", "NAME_INVALID"), (b"a/b", "NAME_INVALID"),
                          (b"a\0b", "NAME_INVALID"), (b"x" * 256, "NAME_TOO_LONG")):
            with self.assertRaises(R.FormatError) as cm:
                self.vol.encrypt_name(d, bad)
            self.assertEqual(cm.exception.kind, kind)

    def test_non_canonical_padding_does_not_decrypt(self):
        # a 16-byte name padded to 32 bytes authenticates but is not canonical (§5.2)
        d, p = bytes(16), b"a" * 16 + bytes(16)
        siv = R.blake2b(d + p, 16, key=self.vol.k_name_mac)
        enc = R.b64url_encode(siv + R._xor(p, R._keystream(self.vol.k_name_stream, siv, 32)))
        with self.assertRaises(R.FormatError) as cm:
            self.vol.decrypt_name([d], enc)
        self.assertEqual(cm.exception.kind, "CORRUPT")

    def test_classification_of_backing_entries(self):
        enc = V["names"][0]["encoded"]
        long_v = V["names"][-1]
        self.assertEqual(R.classify("pfcrypt.conf", at_root=True), "config")
        self.assertEqual(R.classify(".pfcrypt.dirid"), "dirid")
        self.assertEqual(R.classify(".pfcrypt.dirid.sync-conflict-20260101-000000-ABC"), "dirid")
        self.assertEqual(R.classify(".pfcrypt.dirid (conflicted copy 2026-11-23)"), "dirid")
        self.assertEqual(R.classify(".pfcrypt.sync-conflict-20261123-193000-ABCDEFG.dirid"),
                         "dirid")
        self.assertEqual(R.classify(".pfcrypt (conflicted copy 2026-11-23).dirid"), "dirid")
        self.assertEqual(R.classify(".pfcrypt.dirix"), "other")
        self.assertEqual(R.classify(".pfcryptdirid"), "other")
        self.assertEqual(R.classify(enc), "name")
        self.assertEqual(R.classify(long_v["backing_name"]), "long")
        self.assertEqual(R.classify(long_v["companion"]), "companion")
        self.assertEqual(R.classify(enc + ".sync-conflict-20260101-000000-ABC"), "other")
        self.assertEqual(R.classify(enc[:-1]), "other")
        self.assertEqual(R.classify("notes.txt"), "other")

    def test_strict_base64url(self):
        self.assertEqual(R.b64url_decode("AA"), b"\0")
        for bad in ("A", "AB", "AA=", "A+", "A/", "AA AA"):
            with self.assertRaises(R.FormatError, msg=bad):
                R.b64url_decode(bad)


class SymlinkAndXattrVectors(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.vol = object.__new__(R.Volume)
        nk = H(V["config"]["name_key"])
        cls.volume_id = H(V["config"]["volume_id"])
        cls.vol.config = R.parse_config(H(V["config"]["bytes"]))
        cls.vol.k_symlink = R.kdf(nk, 0, R.CTX_SYMLINK)
        cls.vol.k_xname_mac = R.kdf(nk, 0, R.CTX_XNAME_MAC)
        cls.vol.k_xname_stream = R.kdf(nk, 0, R.CTX_XNAME_STREAM)
        cls.vol.k_xvalue = R.kdf(nk, 0, R.CTX_XVALUE)

    def test_every_symlink_vector_decrypts_and_reencrypts_exactly(self):
        for v in V["symlinks"]:
            t = R.symlink_decrypt(self.vol.k_symlink, self.volume_id, v["encoded"])
            self.assertEqual(t.hex(), v["target"])
            nonce = R.b64url_decode(v["encoded"])[:24]
            self.assertEqual(R.symlink_encrypt(self.vol.k_symlink, self.volume_id, t, nonce),
                             v["encoded"])

    def test_symlink_tampering_and_other_volume_fail(self):
        for v in V["symlinks"]:
            enc = v["encoded"]
            for i in range(0, len(enc), 5):
                bad = enc[:i] + other_b64_char(enc[i]) + enc[i + 1:]
                with self.assertRaises(R.FormatError, msg=f"char {i}"):
                    R.symlink_decrypt(self.vol.k_symlink, self.volume_id, bad)
            with self.assertRaises(R.FormatError) as cm:
                R.symlink_decrypt(self.vol.k_symlink, bytes(16), enc)
            self.assertEqual(cm.exception.kind, "AUTH")

    def test_every_long_symlink_vector_unseals_and_reseals_exactly(self):
        self.assertTrue(V["long_symlinks"])
        for v in V["long_symlinks"]:
            comp, t = H(v["companion"]), H(v["target"])
            self.assertGreater(len(t), R.SYMLINK_INLINE_MAX)
            self.assertEqual(R.symlink_companion_name(comp), v["companion_name"])
            self.assertEqual(v["stored"], R.SYMLINK_REF_PREFIX + v["companion_name"])
            self.assertLess(len(v["stored"]), 1024)
            self.assertEqual(R.symlink_reference(v["stored"]), v["companion_name"])
            self.assertEqual(R.symlink_companion_open(self.vol.k_symlink, self.volume_id,
                                                      v["companion_name"], comp), t)
            self.assertEqual(R.symlink_seal(self.vol.k_symlink, self.volume_id, t, comp[:24]),
                             comp)
            # a reader of the inline form only: an error, never a target
            with self.assertRaises(R.FormatError):
                R.symlink_decrypt(self.vol.k_symlink, self.volume_id, v["stored"])

    def test_long_symlink_companion_tampered_swapped_or_other_volume_fails(self):
        a, b = V["long_symlinks"][0], V["long_symlinks"][1]
        comp = H(a["companion"])
        for i in range(0, len(comp), 37):
            bad = comp[:i] + bytes([comp[i] ^ 0x01]) + comp[i + 1:]
            with self.assertRaises(R.FormatError) as cm:
                R.symlink_companion_open(self.vol.k_symlink, self.volume_id,
                                         a["companion_name"], bad)
            self.assertEqual(cm.exception.kind, "AUTH")
        with self.assertRaises(R.FormatError) as cm:  # another symlink's companion
            R.symlink_companion_open(self.vol.k_symlink, self.volume_id, a["companion_name"],
                                     H(b["companion"]))
        self.assertEqual(cm.exception.kind, "AUTH")
        with self.assertRaises(R.FormatError) as cm:  # right hash, other volume's key/AD
            R.symlink_companion_open(self.vol.k_symlink, bytes(16), a["companion_name"], comp)
        self.assertEqual(cm.exception.kind, "AUTH")
        for bad in (a["stored"][:-1], a["stored"] + "A", "pfc.symlinK." + a["companion_name"]):
            self.assertIsNone(R.symlink_reference(bad))

    def test_every_xattr_vector_matches(self):
        for v in V["xattrs"]:
            name, stored = H(v["name"]), v["encoded_name"]
            self.assertEqual(self.vol.encrypt_xattr_name(name), stored)
            self.assertEqual(self.vol.decrypt_xattr_name(stored), name)
            sv = H(v["stored_value"])
            self.assertEqual(self.vol.decrypt_xattr_value(stored, sv).hex(), v["value"])
            self.assertEqual(self.vol.encrypt_xattr_value(stored, H(v["value"]), sv[:24]), sv)

    def test_xattr_tampering_and_moved_values_fail(self):
        xs = V["xattrs"]
        for k, v in enumerate(xs):
            stored, sv = v["encoded_name"], H(v["stored_value"])
            for i in range(len(sv)):
                with self.assertRaises(R.FormatError, msg=f"value byte {i}"):
                    self.vol.decrypt_xattr_value(stored, flip(sv, i))
            other = xs[(k + 1) % len(xs)]["encoded_name"]
            with self.assertRaises(R.FormatError):
                self.vol.decrypt_xattr_value(other, sv)
            i = len("user.pfc.") + 3
            with self.assertRaises(R.FormatError):
                self.vol.decrypt_xattr_name(stored[:i] + other_b64_char(stored[i]) +
                                            stored[i + 1:])


class VectorVolumeXattrs(unittest.TestCase):
    """The xattr vectors set on a file of a volume made of the config vector, read back through
    the file system (getxattr/listxattr) as a reader of a real backing dir would."""

    def test_xattr_vectors_on_a_backing_file(self):
        tmp = tempfile.mkdtemp(prefix="reader-test-")
        self.addCleanup(shutil.rmtree, tmp)
        with open(os.path.join(tmp, "pfcrypt.conf"), "wb") as f:
            f.write(H(V["config"]["bytes"]))
        d = bytes(range(0x30, 0x40))
        with open(os.path.join(tmp, ".pfcrypt.dirid"), "wb") as f:
            f.write(d)
        vol = R.Volume(tmp, MASTER_KEYS)
        entry = vol.encrypt_name(d, b"tagged")[0]
        path = os.path.join(tmp, entry)
        open(path, "wb").close()
        try:
            os.setxattr(path, "user.not-pfcrypt", b"foreign")
        except OSError as e:
            self.skipTest(f"temp file system has no user xattrs ({e})")
        for v in V["xattrs"]:
            os.setxattr(path, v["encoded_name"], H(v["stored_value"]))
        want = {H(v["name"]): H(v["value"]) for v in V["xattrs"]}
        self.assertEqual(vol.read_xattrs(path), want)
        self.assertEqual([(p, k, val) for p, k, val in vol.walk()], [(b"tagged", "file", b"")])
        v0 = V["xattrs"][1]
        os.setxattr(path, v0["encoded_name"], flip(H(v0["stored_value"]), 30))
        with self.assertRaises(R.FormatError) as cm:
            vol.read_xattrs(path)
        self.assertEqual(cm.exception.kind, "AUTH")


def plain_tree(root):
    """The sample-v1-plain tree in the reader's walk form, keyed by plaintext path."""
    out = {}
    for dirpath, dirs, files in os.walk(os.fsencode(root)):
        rel = os.path.relpath(dirpath, os.fsencode(root))
        rel = b"" if rel == b"." else rel
        for d in dirs:
            out[os.path.join(rel, d)] = ("dir", None)
        for f in files:
            p = os.path.join(dirpath, f)
            if os.path.islink(p):
                out[os.path.join(rel, f)] = ("symlink", os.readlink(p))
            else:
                with open(p, "rb") as fh:
                    out[os.path.join(rel, f)] = ("file", fh.read())
        for d in list(dirs):
            if os.path.islink(os.path.join(dirpath, d)):
                out[os.path.join(rel, d)] = ("symlink", os.readlink(os.path.join(dirpath, d)))
                dirs.remove(d)
    return out


class SampleVolumes(unittest.TestCase):
    """The committed sample backing directories written by the C library."""

    def volume(self, cipher, root=None):
        return R.Volume(root or os.path.join(VEC_DIR, "sample-v1-" + cipher), MASTER_KEYS)

    def find(self, vol, plain_path):
        """Backing path of a plaintext path (by encrypting names, as a lookup does)."""
        bpath = vol.root
        for comp in plain_path.split(b"/"):
            ids = R.Volume.dir_ids(bpath)
            entry, _, _ = vol.encrypt_name(ids[0], comp)
            bpath = os.path.join(bpath, entry)
            self.assertTrue(os.path.lexists(bpath), plain_path)
        return bpath

    def test_samples_decrypt_to_the_plaintext_tree(self):
        want = plain_tree(os.path.join(VEC_DIR, "sample-v1-plain"))
        self.assertIn(b"docs/link", want)
        for cipher, cid in SAMPLES.items():
            vol = self.volume(cipher)
            self.assertEqual(vol.config.cipher, cid)
            self.assertEqual(vol.config.block_size, 4096)
            self.assertEqual(vol.config.key_name, b"sample")
            self.assertEqual(vol.nk.hex(), V["config"]["name_key"])
            got = {p: (k, v) for p, k, v in vol.walk()}
            self.assertEqual(sorted(got), sorted(want), cipher)
            for p in want:
                self.assertEqual(got[p], want[p], f"{cipher} {p!r}")

    def test_sample_directory_ids_and_lookup_by_encryption(self):
        for cipher, (root_first, docs_first) in SAMPLE_DIRIDS.items():
            vol = self.volume(cipher)
            self.assertEqual(R.Volume.dir_ids(vol.root), [bytes(range(root_first,
                                                                       root_first + 16))])
            docs = self.find(vol, b"docs")
            self.assertEqual(R.Volume.dir_ids(docs), [bytes(range(docs_first, docs_first + 16))])
            long_path = self.find(vol, b"docs/" + b"L" * 170 + b".txt")
            self.assertTrue(os.path.basename(long_path).startswith("pfc.long."))
            self.assertTrue(os.path.isfile(long_path + ".name"))

    def test_sample_sizes_from_stat_alone_and_generations(self):
        want = plain_tree(os.path.join(VEC_DIR, "sample-v1-plain"))
        for cipher in SAMPLES:
            vol = self.volume(cipher)
            c = vol.config
            for p, (kind, data) in want.items():
                if kind != "file":
                    continue
                b = self.find(vol, p)
                self.assertEqual(R.plaintext_size(os.stat(b).st_size, c.block_size, c.overhead),
                                 len(data), p)
            plain, h, gens = vol.read_file(self.find(vol, b"hello.txt"))
            self.assertEqual((h.generation, gens), (1, [1]))
            empty = self.find(vol, b"empty")
            self.assertEqual(os.stat(empty).st_size, 256)
            plain, h, gens = vol.read_file(empty)
            self.assertEqual((plain, h.generation, gens), (b"", 0, []))
            plain, h, gens = vol.read_file(self.find(vol, b"docs/report.bin"))
            self.assertEqual((h.generation, gens), (2, [1, 2, 0, 1]), cipher)
            self.assertEqual(plain[2 * 4096:3 * 4096], bytes(4096))

    def test_wrong_master_key_does_not_open_a_sample(self):
        for cipher in SAMPLES:
            with self.assertRaises(R.FormatError) as cm:
                R.Volume(os.path.join(VEC_DIR, "sample-v1-" + cipher),
                         {k: bytes(32) for k in MASTER_KEYS})
            self.assertEqual(cm.exception.kind, "AUTH")


class SampleTampering(unittest.TestCase):
    """Each damage done to a copy of a sample is detected as FORMAT.md says."""

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="reader-test-")
        self.addCleanup(shutil.rmtree, self.tmp)

    def copy(self, cipher):
        dst = os.path.join(self.tmp, cipher)
        shutil.copytree(os.path.join(VEC_DIR, "sample-v1-" + cipher), dst, symlinks=True)
        for dirpath, _, files in os.walk(dst):
            for f in files:
                p = os.path.join(dirpath, f)
                if not os.path.islink(p):
                    os.chmod(p, 0o644)
        vol = R.Volume(dst, MASTER_KEYS)
        return vol, SampleVolumes.find(self, vol, b"docs/report.bin")

    @staticmethod
    def patch(path, off, data):
        with open(path, "r+b") as f:
            f.seek(off)
            f.write(data)

    @staticmethod
    def read(path):
        with open(path, "rb") as f:
            return f.read()

    def expect(self, kind, fn, *args):
        with self.assertRaises(R.FormatError) as cm:
            fn(*args)
        self.assertEqual(cm.exception.kind, kind)

    def test_flipped_byte_in_a_block_or_header_fails(self):
        for cipher in SAMPLES:
            vol, rep = self.copy(cipher)
            s = vol.config.stored_block
            orig = self.read(rep)
            for off in (256 + 40, 256 + s + 8, 256 + 3 * s + 20):   # blocks 0, 1 and 3
                self.patch(rep, off, bytes([orig[off] ^ 0x10]))
                self.expect("AUTH", vol.read_file, rep)
                self.patch(rep, off, orig[off:off + 1])
            # file id, generation, generation MAC, blob nonce and ciphertext; blob name (the
            # keystore has no such master key), reserved bytes, magic
            for off, kind in ((20, "AUTH"), (35, "AUTH"), (45, "AUTH"), (90, "AUTH"),
                              (120, "AUTH"), (61, "KEY_UNKNOWN"), (12, "CORRUPT"),
                              (200, "CORRUPT"), (0, "NOT_PFCRYPT")):
                self.patch(rep, off, bytes([orig[off] ^ 0x01]))
                self.expect(kind, vol.read_file, rep)
                self.patch(rep, off, orig[off:off + 1])
            self.assertEqual(len(vol.read_file(rep)[0]), 12388)

    def test_swapped_moved_and_truncated_blocks_fail(self):
        for cipher in SAMPLES:
            vol, rep = self.copy(cipher)
            s = vol.config.stored_block
            orig = self.read(rep)
            b0, b1 = orig[256:256 + s], orig[256 + s:256 + 2 * s]
            self.patch(rep, 256, b1 + b0)
            self.expect("AUTH", vol.read_file, rep)
            # a block of another file (hello.txt's only block) put in place of the tail block
            hello = self.read(SampleVolumes.find(self, vol, b"hello.txt"))
            with open(rep, "wb") as f:
                f.write(orig[:256 + 3 * s] + hello[256:])
            self.expect("AUTH", vol.read_file, rep)
            with open(rep, "wb") as f:
                f.write(orig[:256 + 3 * s + 10])        # torn tail of 10 bytes
            self.expect("TRUNCATED", vol.read_file, rep)
            with open(rep, "wb") as f:
                f.write(orig[:-1])                      # last block one byte short
            self.expect("AUTH", vol.read_file, rep)

    def test_zeroed_block_reads_as_zeros_as_documented(self):
        # FORMAT.md §4.4: the accepted consequence of holes, so it must read zeros, not fail
        vol, rep = self.copy("xchacha20poly1305")
        s = vol.config.stored_block
        self.patch(rep, 256, bytes(s))
        plain, _, gens = vol.read_file(rep)
        self.assertEqual(plain[:4096], bytes(4096))
        self.assertEqual(gens[0], 0)

    def test_long_symlink_companion_missing_or_changed_fails(self):
        vol, _ = self.copy("aes256gcm")
        link = SampleVolumes.find(self, vol, b"docs/longlink")
        self.assertEqual(len(vol.read_symlink(link)), 1000)
        h = R.symlink_reference(os.readlink(link))
        comp = os.path.join(vol.root, R.SYMLINKS_DIR, h)
        data = self.read(comp)
        self.patch(comp, 50, bytes([data[50] ^ 0x01]))
        self.expect("AUTH", vol.read_symlink, link)
        os.unlink(comp)
        self.expect("NOT_FOUND", vol.read_symlink, link)

    def test_changed_names_dirid_companion_and_symlink_fail(self):
        vol, rep = self.copy("aes256gcm")
        docs = os.path.dirname(rep)
        link = SampleVolumes.find(self, vol, b"docs/link")
        t = os.readlink(link)
        os.unlink(link)
        os.symlink(t[:10] + other_b64_char(t[10]) + t[11:], link)
        self.expect("AUTH", vol.read_symlink, link)
        long_path = SampleVolumes.find(self, vol, b"docs/" + b"L" * 170 + b".txt")
        comp = self.read(long_path + ".name")
        self.patch(long_path + ".name", 100, bytes([comp[100] ^ 0x01]))
        self.expect("CORRUPT", vol.read_companion, docs, os.path.basename(long_path))
        name = os.path.basename(rep)
        bad = name[:5] + other_b64_char(name[5]) + name[6:]
        self.expect("AUTH", vol.decrypt_name, R.Volume.dir_ids(docs), bad)
        dirid = os.path.join(docs, ".pfcrypt.dirid")
        os.chmod(dirid, 0o644)
        self.patch(dirid, 0, b"\x00")
        self.expect("AUTH", vol.decrypt_name, R.Volume.dir_ids(docs), name)

    def test_conflict_copies_of_the_directory_id_are_all_used(self):
        vol, rep = self.copy("xchacha20poly1305")
        docs = os.path.dirname(rep)
        (orig,) = R.Volume.dir_ids(docs)
        low, high = bytes(16), b"\xff" * 16
        for name, d in ((".pfcrypt.sync-conflict-20261123-193000-ABCDEFG.dirid", low),
                        (".pfcrypt (conflicted copy 2026-11-23).dirid", high),
                        (".pfcrypt.dirid.conflict1", orig), (".pfcrypt.dirid.sync-x", b"short")):
            with open(os.path.join(docs, name), "wb") as f:
                f.write(d)
        self.assertEqual(R.Volume.dir_ids(docs), [low, orig, high])
        # a name made under the conflicting id decrypts and tells which id it belongs to
        with open(os.path.join(docs, vol.encrypt_name(high, b"from-the-other-machine")[0]),
                  "wb"):
            pass
        got = {p: (k, v) for p, k, v in vol.walk()}
        self.assertEqual(got[b"docs/from-the-other-machine"], ("file", b""))
        self.assertEqual(got[b"docs/report.bin"][1][:4096], plain_tree(
            os.path.join(VEC_DIR, "sample-v1-plain"))[b"docs/report.bin"][1][:4096])
        self.assertEqual(vol.decrypt_name(R.Volume.dir_ids(docs), os.path.basename(rep)),
                         (b"report.bin", orig))

    def test_changed_config_fails(self):
        vol, _ = self.copy("aes256gcm")
        conf = os.path.join(vol.root, "pfcrypt.conf")
        orig = self.read(conf)
        # block size 4096 -> 8192 (valid, so the MAC catches it), cipher 1 -> 2, volume id (also
        # in the name-key AD), key name, MAC; block size not a power of two; version; magic
        for off, x, kind in ((13, 0x30, "AUTH"), (10, 0x03, "AUTH"), (21, 0x02, "AUTH"),
                             (37, 0x02, "AUTH"), (len(orig) - 1, 0x02, "AUTH"),
                             (12, 0x02, "CORRUPT"), (8, 0x02, "UNKNOWN_VERSION"),
                             (0, 0x02, "NOT_PFCRYPT")):
            self.patch(conf, off, bytes([orig[off] ^ x]))
            self.expect(kind, R.Volume, vol.root, MASTER_KEYS)
            self.patch(conf, off, orig[off:off + 1])
        self.assertEqual(R.Volume(vol.root, MASTER_KEYS).nk, vol.nk)


class ReaderProgram(unittest.TestCase):
    """reader.py run as a program prints the decrypted tree and fails (exit 1) naming the file."""

    def run_reader(self, root):
        mk = f"{TMK['name']}:{TMK['version']}:{TMK['key']}"
        return subprocess.run([sys.executable, os.path.join(HERE, "reader.py"), "--master-key", mk,
                               root], capture_output=True, text=True, timeout=60)

    def test_program_lists_a_sample_and_fails_on_damage(self):
        src = os.path.join(VEC_DIR, "sample-v1-xchacha20poly1305")
        r = self.run_reader(src)
        self.assertEqual((r.returncode, r.stderr), (0, ""))
        lines = r.stdout.splitlines()
        self.assertIn("symlink ../hello.txt docs/link", lines)
        self.assertIn("file 0 " + hashlib.sha256(b"").hexdigest() + " empty", lines)
        tmp = tempfile.mkdtemp(prefix="reader-test-")
        self.addCleanup(shutil.rmtree, tmp)
        dst = os.path.join(tmp, "v")
        shutil.copytree(src, dst, symlinks=True)
        vol = R.Volume(dst, MASTER_KEYS)
        hello = SampleVolumes.find(self, vol, b"hello.txt")
        os.chmod(hello, 0o644)
        SampleTampering.patch(hello, 300, b"\xff")
        r = self.run_reader(dst)
        self.assertEqual(r.returncode, 1)
        self.assertIn(os.path.basename(hello), r.stderr)
        self.assertIn("AUTH", r.stderr)

if __name__ == "__main__":
    taprun.main()
