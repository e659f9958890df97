#!/usr/bin/python3
"""An independent reader of the pfcrypt on-disk format, version 1.

Written from fs/FORMAT.md and keystore/PROTOCOL.md (section 3, the wrapped-key blob) ALONE, without
looking at the C implementation: if this reader decrypts what the C library writes, the documents
are complete.  Section numbers in comments ("§4.2") are those of fs/FORMAT.md.

Primitives: Debian's python3-nacl (libsodium bindings) for BLAKE2b and XChaCha20-Poly1305, and
python3-cryptography for AES-256-GCM (PyNaCl 1.5 has no AES-GCM binding; FORMAT.md §4.2 names
cryptography's AESGCM as equivalent).  The keystore's job (unwrapping blobs) is done here with
master keys given by the caller, e.g. the public test master key of tests/vectors.

Run as a program:  reader.py --master-key NAME:VERSION:HEX BACKING_DIR
prints the decrypted tree (kind, plaintext size, sha256 or symlink target, path).
"""

import argparse
import base64
import hashlib
import hmac
import os
import stat
import struct
import sys

import nacl.bindings as sodium
import nacl.encoding
import nacl.exceptions
import nacl.hash

try:
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM
    from cryptography.exceptions import InvalidTag
except ImportError:  # only AES-256-GCM volumes need it; the error says what is missing
    AESGCM = None
    InvalidTag = Exception

FORMAT_VERSION = 1


class FormatError(Exception):
    """A refusal of the format, with a kind named like the C library's PFC_ERR_* codes."""

    def __init__(self, kind, msg):
        super().__init__(f"{kind}: {msg}")
        self.kind, self.msg = kind, msg


def _need(cond, kind, msg):
    if not cond:
        raise FormatError(kind, msg)


# --- conventions (FORMAT.md, preamble) -----------------------------------------------------

B64_ALPHABET = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"


def b64url_encode(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(text):
    """Strict base64url without padding: alphabet only, length != 1 mod 4, unused bits zero."""
    raw = text.encode("ascii") if isinstance(text, str) else bytes(text)
    _need(all(c in B64_ALPHABET for c in raw), "CORRUPT", "base64url: character outside alphabet")
    _need(len(raw) % 4 != 1, "CORRUPT", "base64url: length is 1 mod 4")
    out = base64.urlsafe_b64decode(raw + b"=" * (-len(raw) % 4))
    # exactly one encoding per byte string: re-encoding must give the input back (this is the
    # "unused low bits of the last character are zero" rule)
    _need(b64url_encode(out).encode("ascii") == raw, "CORRUPT", "base64url: non-zero unused bits")
    return out


def le64(x):
    return struct.pack("<Q", x)


def blake2b(msg, size, key=b"", salt=b"", person=b""):
    return nacl.hash.blake2b(msg, digest_size=size, key=key, salt=salt, person=person,
                             encoder=nacl.encoding.RawEncoder)


def ct_equal(a, b):
    return hmac.compare_digest(a, b)


# --- §7 key derivation ----------------------------------------------------------------------

# KDF contexts (§7); each distinct, never reused for another purpose.
CTX_NAME_MAC = b"pfcnmmac"
CTX_NAME_STREAM = b"pfcnmstr"
CTX_SYMLINK = b"pfcsymln"
CTX_XNAME_MAC = b"pfcxnmac"
CTX_XNAME_STREAM = b"pfcxnstr"
CTX_XVALUE = b"pfcxaval"
CTX_CONFIG = b"pfccfmac"
CTX_HDR = b"pfchdgen"
CTX_GENKEY = b"pfcgenky"


def kdf(key, subkey_id, ctx):
    """libsodium crypto_kdf_derive_from_key(out, 32, id, ctx, key), as spelled out in §7."""
    assert len(key) == 32 and len(ctx) == 8
    return blake2b(b"", 32, key=key, salt=le64(subkey_id) + bytes(8), person=ctx + bytes(8))


# --- §6 associated data; PROTOCOL.md §3 wrapped-key blob ----------------------------------

AD_NAME_KEY = b"pfcrypt/v1 name-key\0"
AD_FILE_KEY = b"pfcrypt/v1 file-key\0"
AD_BLOCK = b"pfcrypt/v1 block\0"
AD_SYMLINK = b"pfcrypt/v1 symlink\0"
AD_XATTR_VALUE = b"pfcrypt/v1 xattr-value\0"

WRAPPED_MAX = 128
KEY_NAME_CHARS = set(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-")


def name_key_ad(volume_id):
    return AD_NAME_KEY + volume_id


def file_key_ad(volume_id, file_id):
    return AD_FILE_KEY + volume_id + file_id


def _valid_key_name(name):
    return 1 <= len(name) <= 32 and all(c in KEY_NAME_CHARS for c in name)


def parse_blob(blob):
    """PROTOCOL.md §3: returns (name, key_version, header_len) without a key."""
    _need(1 <= len(blob) <= WRAPPED_MAX, "TOO_LARGE" if len(blob) else "TRUNCATED",
          "wrapped blob length")
    _need(blob[0] == 1, "UNKNOWN_VERSION", f"blob version {blob[0]}")
    _need(len(blob) >= 2, "TRUNCATED", "blob too short")
    n = blob[1]
    _need(len(blob) == 78 + n, "TRUNCATED" if len(blob) < 78 + n else "CORRUPT",
          "blob length is not 78 + name_len")
    name = blob[2:2 + n]
    _need(_valid_key_name(name), "NAME_INVALID", "blob master-key name")
    (version,) = struct.unpack_from("<I", blob, 2 + n)
    _need(version >= 1, "CORRUPT", "blob key version 0")
    return name.decode("ascii"), version, 6 + n


def wrap_blob(master_key, name, version, nonce, ad, key):
    """The keystore's WRAP with a given nonce (PROTOCOL.md §3); tests check it against the
    keystore blob vectors."""
    nb = name.encode("ascii")
    head = bytes([1, len(nb)]) + nb + struct.pack("<I", version)
    ct = sodium.crypto_aead_xchacha20poly1305_ietf_encrypt(key, ad + head, nonce, master_key)
    return head + nonce + ct


def unwrap_blob(blob, ad, master_keys):
    """The keystore's UNWRAP: master_keys maps (name, version) -> 32-byte master key."""
    name, version, hlen = parse_blob(bytes(blob))
    mk = master_keys.get((name, version))
    _need(mk is not None, "KEY_UNKNOWN", f"no master key {name} v{version}")
    nonce = blob[hlen:hlen + 24]
    try:
        key = sodium.crypto_aead_xchacha20poly1305_ietf_decrypt(
            bytes(blob[hlen + 24:]), ad + bytes(blob[:hlen]), bytes(nonce), mk)
    except nacl.exceptions.CryptoError:
        raise FormatError("AUTH", "wrapped key does not authenticate") from None
    _need(len(key) == 32, "CORRUPT", "wrapped payload is not a 32-byte key")
    return key


# --- §2 volume config -----------------------------------------------------------------------

CONFIG_NAME = "pfcrypt.conf"
CONFIG_TMP_NAME = ".pfcrypt.conf.tmp"
CONFIG_MAGIC = b"PFCRYPTC"
CONFIG_MAX = 1024
CIPHER_AES256GCM = 1
CIPHER_XCHACHA20POLY1305 = 2
FLAG_NO_HOLES = 1
CIPHER_NONCE = {CIPHER_AES256GCM: 12, CIPHER_XCHACHA20POLY1305: 24}
CIPHER_NAMES = {CIPHER_AES256GCM: "aes256gcm", CIPHER_XCHACHA20POLY1305: "xchacha20poly1305"}


class Config:
    pass


def parse_config(data):
    """§2, in the documented check order; the MAC is checked by verify_config once NK is known."""
    data = bytes(data)
    _need(len(data) <= CONFIG_MAX, "TOO_LARGE", "config larger than 1024 bytes")
    _need(len(data) >= 8 and data[:8] == CONFIG_MAGIC, "NOT_PFCRYPT", "not a pfcrypt config")
    _need(len(data) >= 37, "TRUNCATED", "config too short")
    version, cipher, bsize, flags = struct.unpack_from("<HHII", data, 8)
    _need(version == FORMAT_VERSION, "UNKNOWN_VERSION", f"unknown format version {version}")
    _need(flags & ~FLAG_NO_HOLES == 0, "UNKNOWN_VERSION", f"unknown config flags {flags:#x}")
    _need(cipher in CIPHER_NONCE, "CORRUPT", f"unknown cipher {cipher}")
    _need(4096 <= bsize <= 1048576 and bsize & (bsize - 1) == 0, "CORRUPT",
          f"block size {bsize}")
    c = Config()
    c.version, c.cipher, c.block_size, c.flags = version, cipher, bsize, flags
    c.volume_id = data[20:36]
    n = data[36]
    _need(len(data) >= 39 + n, "TRUNCATED", "config too short for key name")
    c.key_name = data[37:37 + n]
    _need(_valid_key_name(c.key_name), "NAME_INVALID", "config master-key name")
    (w,) = struct.unpack_from("<H", data, 37 + n)
    _need(1 <= w <= WRAPPED_MAX, "CORRUPT" if w == 0 else "TOO_LARGE", f"wrapped length {w}")
    _need(len(data) >= 39 + n + w + 32, "TRUNCATED", "config too short")
    _need(len(data) == 39 + n + w + 32, "CORRUPT", "trailing bytes after config MAC")
    c.wrapped_name_key = data[39 + n:39 + n + w]
    c.mac = data[39 + n + w:]
    c.mac_input = data[:37 + n]
    c.nonce_len = CIPHER_NONCE[cipher]
    c.overhead = 8 + c.nonce_len + 16
    c.stored_block = bsize + c.overhead
    return c


def verify_config(c, nk):
    mac = blake2b(c.mac_input, 32, key=kdf(nk, 0, CTX_CONFIG))
    _need(ct_equal(mac, c.mac), "AUTH", "config MAC does not verify")


# --- §4 blocks and §4.3 sizes --------------------------------------------------------------

HEADER_SIZE = 256


def plaintext_size(backing_size, block_size, overhead):
    """§4.3: the plaintext size from the backing size alone."""
    if backing_size <= HEADER_SIZE:
        return 0
    r = backing_size - HEADER_SIZE
    full, tail = divmod(r, block_size + overhead)
    return full * block_size + (tail - overhead if tail > overhead else 0)


def backing_size(plain_size, block_size, overhead):
    rem = plain_size % block_size
    return HEADER_SIZE + (plain_size // block_size) * (block_size + overhead) + \
        (rem + overhead if rem else 0)


def block_ad(file_id, index, gen):
    return AD_BLOCK + file_id + le64(index) + le64(gen)


def _aead_encrypt(cipher, key, nonce, ad, msg):
    if cipher == CIPHER_AES256GCM:
        _need(AESGCM is not None, "CIPHER_UNAVAILABLE", "python3-cryptography is needed for AES")
        return AESGCM(key).encrypt(nonce, msg, ad)
    return sodium.crypto_aead_xchacha20poly1305_ietf_encrypt(msg, ad, nonce, key)


def _aead_decrypt(cipher, key, nonce, ad, ct):
    try:
        if cipher == CIPHER_AES256GCM:
            _need(AESGCM is not None, "CIPHER_UNAVAILABLE",
                  "python3-cryptography is needed for AES")
            return AESGCM(key).decrypt(nonce, ct, ad)
        return sodium.crypto_aead_xchacha20poly1305_ietf_decrypt(ct, ad, nonce, key)
    except (InvalidTag, nacl.exceptions.CryptoError):
        raise FormatError("AUTH", "AEAD tag mismatch") from None


class FileKeys:
    """FK and its derived keys (§3, §7); generation keys derived on demand and cached."""

    def __init__(self, fk, file_id, cipher):
        self.fk, self.file_id, self.cipher = fk, file_id, cipher
        self.k_hdr = kdf(fk, 0, CTX_HDR)
        self._gk = {}

    def gk(self, g):
        if g not in self._gk:
            self._gk[g] = kdf(self.fk, g, CTX_GENKEY)
        return self._gk[g]


def encrypt_block(keys, index, gen, nonce, plaintext):
    """§4.2 with a given nonce (tests reproduce the C library's stored bytes exactly)."""
    assert gen >= 1 and len(nonce) == CIPHER_NONCE[keys.cipher]
    return le64(gen) + nonce + _aead_encrypt(keys.cipher, keys.gk(gen), nonce,
                                             block_ad(keys.file_id, index, gen), plaintext)


def decrypt_block(keys, index, stored, no_holes=False):
    """One stored block at plaintext index `index`; returns (generation, plaintext).
    An all-zero stored block is a hole (§4.4): generation 0 and zeros, unless NO_HOLES."""
    stored = bytes(stored)
    nn = CIPHER_NONCE[keys.cipher]
    overhead = 8 + nn + 16
    _need(len(stored) > overhead, "TRUNCATED", f"block {index}: {len(stored)} bytes is torn")
    (gen,) = struct.unpack_from("<Q", stored, 0)
    if gen == 0:
        if stored.count(0) == len(stored):
            _need(not no_holes, "AUTH", f"block {index}: all-zero block in a NO_HOLES volume")
            return 0, bytes(len(stored) - overhead)
        raise FormatError("AUTH", f"block {index}: generation 0 in a non-zero block")
    nonce = stored[8:8 + nn]
    plain = _aead_decrypt(keys.cipher, keys.gk(gen), nonce, block_ad(keys.file_id, index, gen),
                          stored[8 + nn:])
    return gen, plain


def split_blocks(data, block_size, overhead):
    """The stored blocks of `data` (everything after the header), in order."""
    s = block_size + overhead
    return [data[o:o + s] for o in range(0, len(data), s)]


# --- §3 file header -------------------------------------------------------------------------

FILE_MAGIC = b"PFCRYPTF"


class Header:
    pass


def parse_header(data):
    data = bytes(data)
    _need(len(data) >= 8 and data[:8] == FILE_MAGIC, "NOT_PFCRYPT", "not a pfcrypt file")
    _need(len(data) >= HEADER_SIZE, "TRUNCATED", "file header shorter than 256 bytes")
    h = Header()
    (h.version,) = struct.unpack_from("<H", data, 8)
    _need(h.version == FORMAT_VERSION, "UNKNOWN_VERSION", f"unknown format version {h.version}")
    _need(data[10:16] == bytes(6), "CORRUPT", "header reserved bytes 10..15 not zero")
    h.file_id = data[16:32]
    (h.generation,) = struct.unpack_from("<Q", data, 32)
    h.gen_mac = data[40:56]
    (w,) = struct.unpack_from("<H", data, 56)
    _need(w != 0, "CORRUPT", "wrapped file key length 0")
    _need(w <= WRAPPED_MAX, "TOO_LARGE", f"wrapped file key length {w}")
    h.wrapped = data[58:58 + w]
    _need(data[58 + w:186] == bytes(128 - w), "CORRUPT", "unused end of the wrapped slot")
    _need(data[186:256] == bytes(70), "CORRUPT", "header reserved bytes 186..255 not zero")
    return h


def generation_mac(k_hdr, file_id, gen):
    return blake2b(file_id + le64(gen), 16, key=k_hdr)


def open_header(h, volume_id, cipher, master_keys):
    """Unwrap FK (§3) and verify the generation MAC; returns FileKeys."""
    fk = unwrap_blob(h.wrapped, file_key_ad(volume_id, h.file_id), master_keys)
    keys = FileKeys(fk, h.file_id, cipher)
    _need(ct_equal(generation_mac(keys.k_hdr, h.file_id, h.generation), h.gen_mac), "AUTH",
          "header generation MAC does not verify")
    return keys


# --- §5 names -------------------------------------------------------------------------------

NAME_MAX = 255
DIRID_PREFIX = ".pfcrypt.dirid"
DIRID_CONFLICT_PREFIX, DIRID_CONFLICT_SUFFIX = ".pfcrypt", ".dirid"
LONG_PREFIX = "pfc.long."
LONG_SUFFIX = ".name"


def _padded_len(n):
    return max(16, 16 * -(-n // 16))


def _keystream(key, siv, n):
    """XChaCha20 keystream from block counter 1 with nonce SIV || 0^8 (§5.2, PyNaCl-only form)."""
    return sodium.crypto_aead_xchacha20poly1305_ietf_encrypt(bytes(n), b"", siv + bytes(8),
                                                             key)[:n]


def _xor(a, b):
    return bytes(x ^ y for x, y in zip(a, b))


def siv_encrypt(mac_key, stream_key, dir_id, name):
    p = name + bytes(_padded_len(len(name)) - len(name))
    siv = blake2b(dir_id + p, 16, key=mac_key)
    return b64url_encode(siv + _xor(p, _keystream(stream_key, siv, len(p))))


def siv_decrypt(mac_key, stream_key, dir_ids, encoded):
    """§5.2 decryption: returns (name, matching dir id). Raises AUTH if no dir id fits."""
    raw = b64url_decode(encoded)
    _need(len(raw) >= 32 and len(raw) % 16 == 0, "CORRUPT", "encoded name length")
    siv, c = raw[:16], raw[16:]
    p = _xor(c, _keystream(stream_key, siv, len(c)))
    for d in dir_ids:
        if ct_equal(blake2b(d + p, 16, key=mac_key), siv):
            break
    else:
        raise FormatError("AUTH", "name does not authenticate under any directory id")
    name = p.split(b"\0", 1)[0]
    _need(p[len(name):] == bytes(len(p) - len(name)), "CORRUPT", "name padding not zero")
    _need(len(name) >= 1 and len(p) == _padded_len(len(name)), "CORRUPT",
          "name padding not canonical")
    return name, d


def check_name(name):
    """§5.1."""
    _need(len(name) <= NAME_MAX, "NAME_TOO_LONG", "name longer than 255 bytes")
    _need(len(name) >= 1 and b"/" not in name and b"\0" not in name and name not in (b".", b".."),
          "NAME_INVALID", f"invalid name {name!r}")


def is_dirid_name(entry):
    """§5.4: the id file and its sync-conflict copies: `.pfcrypt.dirid…`, or `.pfcrypt` + at least
    one byte + `.dirid` (clients that put their marker before the last extension, Syncthing's
    `.pfcrypt.sync-conflict-….dirid`, Dropbox's `.pfcrypt (conflicted copy …).dirid`)."""
    return entry.startswith(DIRID_PREFIX) or (
        entry.startswith(DIRID_CONFLICT_PREFIX) and entry.endswith(DIRID_CONFLICT_SUFFIX) and
        len(entry) > len(DIRID_CONFLICT_PREFIX) + len(DIRID_CONFLICT_SUFFIX))


def long_name_entry(encoded):
    """§5.5: the directory entry (and companion) of an encoded name longer than 255."""
    h = LONG_PREFIX + b64url_encode(blake2b(encoded.encode("ascii"), 32))
    return h, h + LONG_SUFFIX


def classify(entry, at_root=False):
    """§5.6, by name alone."""
    if entry in (".", ".."):
        return "dot"
    if at_root and entry in (CONFIG_NAME, CONFIG_TMP_NAME):
        return "config"
    if at_root and entry == SYMLINKS_DIR:
        return "symlinks"
    if is_dirid_name(entry):
        return "dirid"
    for suffix, kind in (("", "long"), (LONG_SUFFIX, "companion")):
        if entry.startswith(LONG_PREFIX) and entry.endswith(suffix):
            core = entry[len(LONG_PREFIX):len(entry) - len(suffix)]
            if len(core) == 43:
                try:
                    if len(b64url_decode(core)) == 32:
                        return kind
                except (FormatError, UnicodeEncodeError):
                    pass
    if len(entry.encode("utf-8", "surrogateescape")) <= NAME_MAX:
        try:
            raw = b64url_decode(entry)
            if len(raw) >= 32 and len(raw) % 16 == 0:
                return "name"
        except (FormatError, UnicodeEncodeError):
            pass
    return "other"


# --- §8 symlinks, §9 xattrs -----------------------------------------------------------------

SYMLINK_MAX = 3024  # the inline form, §8.1 (readers accept it up to this; writers up to 720)
SYMLINK_INLINE_MAX = 720
SYMLINK_TARGET_MAX = 4095
SYMLINK_SEALED_MAX = 24 + 4096 + 16
SYMLINK_REF_PREFIX = "pfc.symlink."
SYMLINKS_DIR = ".pfcrypt.symlinks"


def _unpad_nul(p, what):
    t = p.split(b"\0", 1)[0]
    _need(len(t) >= 1 and p[len(t):] == bytes(len(p) - len(t)), "CORRUPT", f"{what} padding")
    _need(len(p) == 16 * -(-len(t) // 16), "CORRUPT", f"{what} padding not canonical")
    return t


def symlink_encrypt(k_symlink, volume_id, target, nonce):
    assert 1 <= len(target) <= SYMLINK_MAX and b"\0" not in target
    p = target + bytes(16 * -(-len(target) // 16) - len(target))
    ct = sodium.crypto_aead_xchacha20poly1305_ietf_encrypt(p, AD_SYMLINK + volume_id, nonce,
                                                           k_symlink)
    return b64url_encode(nonce + ct)


def symlink_seal(k_symlink, volume_id, target, nonce):
    """§8: S = nonce || AEAD(padded target), for a target of 1..4095 bytes."""
    assert 1 <= len(target) <= SYMLINK_TARGET_MAX and b"\0" not in target
    p = target + bytes(16 * -(-len(target) // 16) - len(target))
    return nonce + sodium.crypto_aead_xchacha20poly1305_ietf_encrypt(p, AD_SYMLINK + volume_id,
                                                                    nonce, k_symlink)


def symlink_companion_name(sealed):
    """§8.2: the companion's name H (and the reference is SYMLINK_REF_PREFIX + H)."""
    return b64url_encode(blake2b(sealed, 32))


def symlink_reference(stored):
    """§8.2: H if the backing target is a companion reference, else None (the inline form)."""
    if len(stored) != len(SYMLINK_REF_PREFIX) + 43 or not stored.startswith(SYMLINK_REF_PREFIX):
        return None
    h = stored[len(SYMLINK_REF_PREFIX):]
    try:
        return h if len(b64url_decode(h)) == 32 else None
    except (FormatError, UnicodeEncodeError):
        return None


def symlink_unseal(k_symlink, volume_id, raw):
    _need(len(raw) <= SYMLINK_SEALED_MAX, "TOO_LARGE", "sealed symlink target")
    _need(len(raw) >= 24 + 16 + 16 and (len(raw) - 40) % 16 == 0, "CORRUPT",
          "stored symlink target length")
    try:
        p = sodium.crypto_aead_xchacha20poly1305_ietf_decrypt(raw[24:], AD_SYMLINK + volume_id,
                                                              raw[:24], k_symlink)
    except nacl.exceptions.CryptoError:
        raise FormatError("AUTH", "symlink target does not authenticate") from None
    return _unpad_nul(p, "symlink target")


def symlink_decrypt(k_symlink, volume_id, stored):
    """§8.1, the inline form."""
    _need(len(stored) <= 4086, "TOO_LARGE", "inline symlink target")  # base64url(24 + 3024 + 16)
    return symlink_unseal(k_symlink, volume_id, b64url_decode(stored))


def symlink_companion_open(k_symlink, volume_id, name, content):
    """§8.2 step 3-4: the companion must hash to its name, then unseal."""
    _need(len(content) <= SYMLINK_SEALED_MAX, "TOO_LARGE", "symlink companion")
    _need(symlink_companion_name(content) == name, "AUTH",
          "symlink companion does not belong to its reference")
    return symlink_unseal(k_symlink, volume_id, content)


XATTR_USER = b"user."
XATTR_STORED_PREFIX = "user.pfc."
XATTR_SUFFIX_MAX = 160
XATTR_ZERO_DIR = bytes(16)


def xattr_value_ad(volume_id, stored_name):
    return AD_XATTR_VALUE + volume_id + stored_name.encode("ascii")


# --- a whole volume -------------------------------------------------------------------------


class Volume:
    """A backing directory opened with the given master keys ((name, version) -> key)."""

    def __init__(self, root, master_keys):
        self.root = root
        self.master_keys = master_keys
        with open(os.path.join(root, CONFIG_NAME), "rb") as f:
            self.config = parse_config(f.read(CONFIG_MAX + 1))
        c = self.config
        self.nk = unwrap_blob(c.wrapped_name_key, name_key_ad(c.volume_id), master_keys)
        verify_config(c, self.nk)
        self.k_name_mac = kdf(self.nk, 0, CTX_NAME_MAC)
        self.k_name_stream = kdf(self.nk, 0, CTX_NAME_STREAM)
        self.k_symlink = kdf(self.nk, 0, CTX_SYMLINK)
        self.k_xname_mac = kdf(self.nk, 0, CTX_XNAME_MAC)
        self.k_xname_stream = kdf(self.nk, 0, CTX_XNAME_STREAM)
        self.k_xvalue = kdf(self.nk, 0, CTX_XVALUE)

    # names
    def encrypt_name(self, dir_id, name):
        """Returns (backing entry name, companion name or None, encoded name)."""
        check_name(name)
        enc = siv_encrypt(self.k_name_mac, self.k_name_stream, dir_id, name)
        if len(enc) > NAME_MAX:
            h, comp = long_name_entry(enc)
            return h, comp, enc
        return enc, None, enc

    def decrypt_name(self, dir_ids, encoded):
        name, d = siv_decrypt(self.k_name_mac, self.k_name_stream, dir_ids, encoded)
        check_name(name)
        return name, d

    def read_companion(self, dirpath, entry):
        with open(os.path.join(dirpath, entry + LONG_SUFFIX), "rb") as f:
            data = f.read(364)
        _need(len(data) <= 363, "CORRUPT", "long-name companion larger than 363 bytes")
        enc = data.decode("ascii", "replace")
        b64url_decode(enc)
        _need(len(enc) > NAME_MAX, "CORRUPT", "long-name companion is not a long encoding")
        _need(long_name_entry(enc)[0] == entry, "CORRUPT", "companion does not hash to entry")
        return enc

    @staticmethod
    def dir_ids(dirpath):
        """§5.4: every directory id file of exactly 16 bytes, duplicates folded, sorted (the
        first is the primary id)."""
        ids = set()
        for e in os.listdir(dirpath):
            if is_dirid_name(e):
                p = os.path.join(dirpath, e)
                if stat.S_ISREG(os.lstat(p).st_mode):
                    with open(p, "rb") as f:
                        d = f.read(17)
                    if len(d) == 16:
                        ids.add(d)
        return sorted(ids)

    # files
    def read_file(self, path, check_generations=True):
        """Returns (plaintext, header or None, per-block generations)."""
        c = self.config
        with open(path, "rb") as f:
            data = f.read()
        if len(data) == 0:
            return b"", None, []
        h = parse_header(data)
        keys = open_header(h, c.volume_id, c.cipher, self.master_keys)
        out, gens = [], []
        for i, blk in enumerate(split_blocks(data[HEADER_SIZE:], c.block_size, c.overhead)):
            g, p = decrypt_block(keys, i, blk, no_holes=bool(c.flags & FLAG_NO_HOLES))
            if check_generations:
                _need(g <= h.generation, "AUTH", f"block {i}: generation {g} from the future")
            out.append(p)
            gens.append(g)
        plain = b"".join(out)
        assert len(plain) == plaintext_size(len(data), c.block_size, c.overhead)
        return plain, h, gens

    def read_symlink(self, path):
        stored = os.readlink(os.fsencode(path)).decode("ascii", "replace")
        h = symlink_reference(stored)
        if h is None:
            return symlink_decrypt(self.k_symlink, self.config.volume_id, stored)
        # §8.2 step 2: the directory and the companion, neither through a symlink
        d = os.path.join(self.root, SYMLINKS_DIR)
        c = os.path.join(d, h)
        _need(os.path.isdir(d) and not os.path.islink(d), "NOT_FOUND",
              f"{SYMLINKS_DIR} missing")
        _need(os.path.isfile(c) and not os.path.islink(c), "NOT_FOUND",
              f"symlink companion {SYMLINKS_DIR}/{h} missing")
        with open(c, "rb") as f:
            content = f.read(SYMLINK_SEALED_MAX + 1)
        return symlink_companion_open(self.k_symlink, self.config.volume_id, h, content)

    # xattrs
    def encrypt_xattr_name(self, name):
        _need(name.startswith(XATTR_USER), "NOT_SUPPORTED", "only user. xattrs are encrypted")
        x = name[len(XATTR_USER):]
        _need(1 <= len(x) <= XATTR_SUFFIX_MAX and b"\0" not in x, "NAME_INVALID", "xattr name")
        return XATTR_STORED_PREFIX + siv_encrypt(self.k_xname_mac, self.k_xname_stream,
                                                 XATTR_ZERO_DIR, x)

    def decrypt_xattr_name(self, stored):
        _need(stored.startswith(XATTR_STORED_PREFIX), "NOT_PFCRYPT", "not an encrypted xattr")
        x, _ = siv_decrypt(self.k_xname_mac, self.k_xname_stream, [XATTR_ZERO_DIR],
                           stored[len(XATTR_STORED_PREFIX):])
        return XATTR_USER + x

    def encrypt_xattr_value(self, stored_name, value, nonce):
        return nonce + sodium.crypto_aead_xchacha20poly1305_ietf_encrypt(
            value, xattr_value_ad(self.config.volume_id, stored_name), nonce, self.k_xvalue)

    def decrypt_xattr_value(self, stored_name, stored_value):
        _need(len(stored_value) >= 40, "TRUNCATED", "stored xattr value shorter than 40 bytes")
        try:
            return sodium.crypto_aead_xchacha20poly1305_ietf_decrypt(
                bytes(stored_value[24:]), xattr_value_ad(self.config.volume_id, stored_name),
                bytes(stored_value[:24]), self.k_xvalue)
        except nacl.exceptions.CryptoError:
            raise FormatError("AUTH", "xattr value does not authenticate") from None

    def read_xattrs(self, path):
        out = {}
        for s in os.listxattr(path, follow_symlinks=False):
            if s.startswith(XATTR_STORED_PREFIX):
                v = os.getxattr(path, s, follow_symlinks=False)
                out[self.decrypt_xattr_name(s)] = self.decrypt_xattr_value(s, v)
        return out

    # the tree
    def walk(self, rel=b"", plain_rel=b""):
        """Like _walk_dir, with the backing path of the failing entry named in any FormatError."""
        try:
            yield from self._walk_dir(rel, plain_rel)
        except FormatError as e:
            raise FormatError(e.kind, f"{self._at}: {e.msg}") from None

    def _walk_dir(self, rel, plain_rel):
        """Yields (plaintext path bytes, kind, value) for every entry below rel:
        ("file", plaintext), ("dir", None), ("symlink", target), ("other", backing name) for
        entries that are not pfcrypt's (§5.6), ("special", st_mode) for fifos and devices.
        rel is the backing path of the directory, plain_rel its plaintext path."""
        dirpath = os.path.join(self.root, os.fsdecode(rel))
        self._at = dirpath
        ids = self.dir_ids(dirpath)
        _need(ids, "CORRUPT", f"directory {dirpath} has no directory id")
        for entry in sorted(os.listdir(dirpath)):
            kind = classify(entry, at_root=(rel == b""))
            if kind in ("dot", "config", "dirid", "companion", "symlinks"):
                continue
            if kind == "other":
                yield os.path.join(plain_rel, os.fsencode(entry)), "other", entry
                continue
            self._at = os.path.join(dirpath, entry)
            enc = self.read_companion(dirpath, entry) if kind == "long" else entry
            name, _ = self.decrypt_name(ids, enc)
            prel = os.path.join(plain_rel, name)
            bpath = os.path.join(dirpath, entry)
            st = os.lstat(bpath)
            if stat.S_ISDIR(st.st_mode):
                yield prel, "dir", None
                yield from self._walk_dir(os.path.join(rel, os.fsencode(entry)), prel)
            elif stat.S_ISLNK(st.st_mode):
                yield prel, "symlink", self.read_symlink(bpath)
            elif stat.S_ISREG(st.st_mode):
                yield prel, "file", self.read_file(bpath)[0]
            else:
                yield prel, "special", st.st_mode


def _parse_master_key(text):
    name, version, key = text.split(":")
    return (name, int(version)), bytes.fromhex(key)


def main(argv=None):
    ap = argparse.ArgumentParser(description="Independent reader of a pfcrypt v1 backing dir.")
    ap.add_argument("--master-key", action="append", required=True, metavar="NAME:VERSION:HEX",
                    help="a master key (as the keystore would hold it); repeatable")
    ap.add_argument("backing_dir")
    a = ap.parse_args(argv)
    try:
        vol = Volume(a.backing_dir, dict(_parse_master_key(m) for m in a.master_key))
        c = vol.config
        print(f"# volume {c.volume_id.hex()} cipher {CIPHER_NAMES[c.cipher]} "
              f"block {c.block_size} flags {c.flags:#x}")
        for path, kind, value in vol.walk():
            p = path.decode("utf-8", "backslashreplace")
            if kind == "file":
                print(f"file {len(value)} {hashlib.sha256(value).hexdigest()} {p}")
            elif kind == "symlink":
                print(f"symlink {value.decode('utf-8', 'backslashreplace')} {p}")
            else:
                print(f"{kind} {p}")
    except (FormatError, OSError) as e:
        print(f"reader: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
