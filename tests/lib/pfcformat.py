"""The on-disk format's constants and small helpers, for the tests (one place; fs/format.h and
fs/FORMAT.md are the authority).  tests/vectors/reader.py keeps its own: it is an independent
reader written from FORMAT.md alone.

    from pfcformat import BS, HEADER_SIZE, stored_block_size
"""
import os
import struct

BS = 4096                  # the default plaintext block size (`pfcrypt init` without --block-size)
HEADER_SIZE = 256          # PFC_HEADER_SIZE: every non-empty file starts with it
GEN_OFFSET = 32            # PFC_HEADER_GEN_OFFSET: u64 LE generation, then its 16-byte MAC
GEN_FIELD = range(GEN_OFFSET, 56)          # generation + MAC (FORMAT.md section 3)
WRAPPED_OFFSET = 56        # PFC_HEADER_WRAPPED_OFFSET: u16 length, then the wrapped-key blob
WRAPPED_FIELD = range(WRAPPED_OFFSET, 186)  # the length + the 128-byte blob slot
CIPHER_AES256GCM = 1
CIPHER_XCHACHA20POLY1305 = 2
CIPHER_NAMES = {CIPHER_AES256GCM: "aes256gcm", CIPHER_XCHACHA20POLY1305: "xchacha20poly1305"}
# stored block overhead: generation (8) + nonce (12 or 24) + tag (16)
OVERHEAD = {CIPHER_AES256GCM: 36, CIPHER_XCHACHA20POLY1305: 48}
OVERHEAD_BY_NAME = {CIPHER_NAMES[c]: o for c, o in OVERHEAD.items()}
CONFIG_NAME = "pfcrypt.conf"
CONFIG_CIPHER_OFFSET = 10  # u16 cipher id in pfcrypt.conf
SYMLINKS_DIR = ".pfcrypt.symlinks"  # long symlink targets' companions (FORMAT.md 8.2)
SYMLINK_INLINE_MAX = 720   # longer targets get a companion
LONG_PREFIX = "pfc.long."  # long-name entries (FORMAT.md 5.5); companion: entry + ".name"


def volume_cipher(backing):
    """The cipher id of the volume at backing (from its pfcrypt.conf)."""
    with open(os.path.join(backing, CONFIG_NAME), "rb") as f:
        return struct.unpack_from("<H", f.read(), CONFIG_CIPHER_OFFSET)[0]


def stored_block_size(backing, block_size=BS):
    """Bytes of one stored block of the volume at backing (a path, or a pfcfs.Mount)."""
    backing = getattr(backing, "backing", backing)
    return block_size + OVERHEAD[volume_cipher(backing)]
