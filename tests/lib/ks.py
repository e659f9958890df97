"""Test fixture: a real pfcrypt-keystore in a temp dir, and a Python client
speaking keystore/PROTOCOL.md directly.

    from ks import Keystore
    with Keystore(binary) as k:          # store created with --kdf-profile test
        c = k.client()
        c.create("vol")
        blob = c.wrap("vol", b"ad", b"\\x01" * 32)
    # k.socket, k.store, k.passphrase, k.log_path, k.pid are there for tests

The binary comes from the argument or $PFCRYPT_KEYSTORE (default_binary()).  Everything lives in
a tempfile.mkdtemp() directory that stop() removes (keep=True keeps it).
Use /usr/bin/python3 (the pyenv python has no nacl; this module needs none).
"""
import unittest
import os
import shutil
import signal
import socket
import struct
import subprocess
import tempfile
import time

# PROTOCOL.md section 2: request types (reply = type | 0x80, error = 0xFF)
HELLO, STATUS, CREATE, WRAP, UNWRAP, REWRAP, GENERATE, ROTATE, RETIRE, LIST, LOCK, \
    UNLOCK, PASSWD, EXPORT, IMPORT, CANCEL_RETIRE = range(1, 17)
REPLY = 0x80
RETIRE_FORCE = 0x01  # RETIRE flags (PROTOCOL.md 2.2)
ERROR = 0xFF
FRAME_MAX = 256 * 1024
PROTOCOL_VERSION = 2

# fs/err.h, as positive numbers on the wire
ERR = dict(INVAL=1, NOMEM=2, TRUNCATED=3, TOO_LARGE=4, BAD_MAGIC=5, UNKNOWN_VERSION=6, AUTH=7,
           CORRUPT=8, CIPHER_UNAVAILABLE=9, NAME_INVALID=10, NAME_TOO_LONG=11, IO=12,
           KEY_RETIRED=13, KEY_UNKNOWN=14, LOCKED=15, PROTOCOL=16, DENIED=17, EXISTS=18,
           NOT_FOUND=19, TIMEOUT=20, UNREACHABLE=21, BAD_PASSPHRASE=22, CONFLICT=23, BUSY=24,
           UNTRUSTED=25, KEY_RETIRING=26)
ERR_NAME = {v: k for k, v in ERR.items()}


class KsError(Exception):
    """An error reply: code (positive PFC_ERR number), name and message."""

    def __init__(self, code, msg):
        super().__init__(f"{ERR_NAME.get(code, code)}: {msg}")
        self.code = code
        self.name = ERR_NAME.get(code, str(code))
        self.msg = msg


def lv16(b):
    if isinstance(b, str):
        b = b.encode()
    return struct.pack("<H", len(b)) + b


def frame(type_, payload=b""):
    """A whole frame: u32 length of (type + payload), type, payload."""
    return struct.pack("<IB", 1 + len(payload), type_) + payload


class Reader:
    def __init__(self, b):
        self.b, self.pos = b, 0

    def take(self, n):
        if self.pos + n > len(self.b):
            raise ValueError("reply truncated")
        v = self.b[self.pos:self.pos + n]
        self.pos += n
        return v

    def u8(self):
        return self.take(1)[0]

    def u16(self):
        return struct.unpack("<H", self.take(2))[0]

    def u32(self):
        return struct.unpack("<I", self.take(4))[0]

    def u64(self):
        return struct.unpack("<Q", self.take(8))[0]

    def lv16(self):
        return self.take(self.u16())

    def lv32(self):
        return self.take(self.u32())

    def end(self):
        if self.pos != len(self.b):
            raise ValueError("trailing bytes in reply")


def parse_blob(blob):
    """(name, version) of a wrapped-key blob (layout v1)."""
    assert blob[0] == 1
    n = blob[1]
    name = blob[2:2 + n].decode()
    (ver,) = struct.unpack("<I", blob[2 + n:6 + n])
    assert len(blob) == 78 + n
    return name, ver


class Client:
    """One connection.  Methods raise KsError for an error reply."""

    def __init__(self, path, timeout=10.0):
        self.s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.s.settimeout(timeout)
        end = time.monotonic() + timeout
        while True:
            try:
                self.s.connect(path)
                break
            except BlockingIOError:  # listen backlog full: the keystore is catching up
                if time.monotonic() > end:
                    raise
                time.sleep(0.002)

    def close(self):
        self.s.close()

    def __enter__(self):
        return self

    def __exit__(self, *a):
        self.close()

    def send_raw(self, data):
        self.s.sendall(data)

    def recv_exact(self, n):
        out = b""
        while len(out) < n:
            chunk = self.s.recv(n - len(out))
            if not chunk:
                raise ConnectionError("connection closed by the keystore")
            out += chunk
        return out

    def recv_frame(self):
        """(type, payload) of the next frame."""
        (n,) = struct.unpack("<I", self.recv_exact(4))
        assert 1 <= n <= FRAME_MAX, n
        body = self.recv_exact(n)
        return body[0], body[1:]

    def call(self, type_, payload=b""):
        """Send a request and return a Reader over the reply's fields."""
        self.send_raw(frame(type_, payload))
        t, body = self.recv_frame()
        if t == ERROR:
            r = Reader(body)
            code = r.u32()
            msg = r.lv16().decode()
            r.end()
            raise KsError(code, msg)
        assert t == type_ | REPLY, (t, type_)
        return Reader(body)

    def hello(self):
        r = self.call(HELLO, struct.pack("<I", PROTOCOL_VERSION))
        v, sw = r.u32(), r.lv16()
        r.end()
        return v, sw.decode()

    def status(self):
        r = self.call(STATUS)
        st = dict(locked=bool(r.u8()), protocol=r.u32(), keys=r.u32(), versions=r.u32(),
                  retired=r.u32(), kdf_profile=r.lv16().decode())
        r.end()
        return st

    def create(self, name):
        r = self.call(CREATE, lv16(name))
        v = r.u32()
        r.end()
        return v

    def wrap(self, name, ad, key):
        r = self.call(WRAP, lv16(name) + lv16(ad) + key)
        b = r.lv16()
        r.end()
        return b

    def unwrap(self, blob, ad):
        r = self.call(UNWRAP, lv16(blob) + lv16(ad))
        k = r.take(32)
        r.end()
        return k

    def rewrap(self, blob, ad):
        """(already_primary, blob)"""
        r = self.call(REWRAP, lv16(blob) + lv16(ad))
        already, b = r.u8(), r.lv16()
        r.end()
        return bool(already), b

    def generate(self, name, prefix, count):
        """[(file_id, key, blob)]"""
        r = self.call(GENERATE, lv16(name) + lv16(prefix) + struct.pack("<H", count))
        n = r.u16()
        out = [(r.take(16), r.take(32), r.lv16()) for _ in range(n)]
        r.end()
        return out

    def rotate(self, name):
        r = self.call(ROTATE, lv16(name))
        v = r.u32()
        r.end()
        return v

    def retire(self, name, version, proof=None, force=False, delay=0):
        """(state, time): 3 destroyed at time, 4 retiring until time.  proof: the store
        passphrase (PROTOCOL.md 2.1); None sends the version-1 request.  force: skip the
        keystore's in-use check; delay: seconds of grace (2.2)."""
        p = lv16(name) + struct.pack("<I", version)
        if proof is not None:
            p += lv16(proof) + bytes([RETIRE_FORCE if force else 0]) + struct.pack("<I", delay)
        r = self.call(RETIRE, p)
        out = r.u8(), r.u64()
        r.end()
        return out

    def cancel_retire(self, name, version, proof):
        self.call(CANCEL_RETIRE, lv16(name) + struct.pack("<I", version) + lv16(proof)).end()

    def list(self):
        """[(name, version, state, created, retired)], state 1 primary 2 active 3 retired"""
        r = self.call(LIST)
        n = r.u32()
        out = [(r.lv16().decode(), r.u32(), r.u8(), r.u64(), r.u64()) for _ in range(n)]
        r.end()
        return out

    def lock(self):
        self.call(LOCK).end()

    def unlock(self, pw):
        self.call(UNLOCK, lv16(pw)).end()

    def passwd(self, old, new):
        self.call(PASSWD, lv16(old) + lv16(new)).end()

    def export(self, name, versions, pw, kdf_profile="test", proof=None):
        """The bundle; kdf_profile is its Argon2id cost ("" asks for the keystore's default for
        bundles, "moderate"): the tests' is the cheap "test", asked for explicitly.  proof: the
        store passphrase (PROTOCOL.md 2.1), sent before the profile; None sends the version-1
        request (neither field)."""
        p = lv16(name) + struct.pack("<H", len(versions))
        p += b"".join(struct.pack("<I", v) for v in versions) + lv16(pw)
        if proof is not None:
            p += lv16(proof) + lv16(kdf_profile)
        r = self.call(EXPORT, p)
        b = r.lv32()
        r.end()
        return b

    def import_(self, bundle, pw):
        r = self.call(IMPORT, struct.pack("<I", len(bundle)) + bundle + lv16(pw))
        n = r.u32()
        r.end()
        return n


def default_binary():
    """The keystore daemon: $PFCRYPT_KEYSTORE (what meson sets for every Python test), else
    $PFC_KEYSTORE_BIN (older scripts of tests/bench)."""
    b = os.environ.get("PFCRYPT_KEYSTORE") or os.environ.get("PFC_KEYSTORE_BIN")
    if not b:
        raise RuntimeError("set PFCRYPT_KEYSTORE to the pfcrypt-keystore binary")
    return b


class Keystore:
    """A real keystore daemon in its own temp dir (foreground, verbose, log to a file)."""

    def __init__(self, binary=None, passphrase=b"correct horse battery staple",
                 profile="test", locked=False, args=(), tmpdir=None, keep=False,
                 user=None):
        self.binary = os.path.abspath(binary or default_binary())
        self.passphrase = passphrase
        self.profile = profile
        self.locked = locked
        self.args = list(args)
        self.keep = keep
        self.user = user  # run as this user (setpriv), e.g. "nobody"
        self.dir = tmpdir or tempfile.mkdtemp(prefix="pfcks-")
        self.own_dir = tmpdir is None
        self.socket = os.path.join(self.dir, "run", "keystore.sock")
        self.store = os.path.join(self.dir, "store", "keystore")
        self.pass_file = os.path.join(self.dir, "passphrase")
        self.log_path = os.path.join(self.dir, "keystore.log")
        self.proc = None
        with open(os.open(self.pass_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600),
                  "wb") as f:
            f.write(passphrase + b"\n")
        if user:
            import pwd
            pw = pwd.getpwnam(user)
            os.chmod(self.dir, 0o755)
            for p in (self.dir, self.pass_file):
                os.chown(p, pw.pw_uid, pw.pw_gid)

    def _cmd(self, *extra):
        pre = []
        if self.user:
            import pwd
            gid = pwd.getpwnam(self.user).pw_gid
            pre = ["setpriv", f"--reuid={self.user}", f"--regid={gid}",
                   "--clear-groups", "--"]
        return pre + [self.binary, "--socket", self.socket, "--store", self.store] + list(extra)

    def init_store(self):
        """Create the store (first start does it automatically)."""
        r = subprocess.run(self._cmd("--init", "--kdf-profile", self.profile,
                                     "--passphrase-file", self.pass_file),
                           capture_output=True, text=True, timeout=60)
        if r.returncode != 0:
            raise RuntimeError(f"pfcrypt-keystore --init failed: {r.stderr.strip()}")

    def start(self, wait=True):
        if not os.path.exists(self.store):
            self.init_store()
        extra = ["-f", "-v"] + self.args
        extra += ["--locked"] if self.locked else ["--passphrase-file", self.pass_file]
        self.logf = open(self.log_path, "ab")
        self.proc = subprocess.Popen(self._cmd(*extra), stdin=subprocess.DEVNULL,
                                     stdout=self.logf, stderr=self.logf)
        if wait:
            self.wait_ready()
        return self

    @property
    def pid(self):
        return self.proc.pid

    def wait_ready(self, limit=30.0):
        """Wait until the socket accepts a connection (or the daemon died)."""
        end = time.monotonic() + limit
        while time.monotonic() < end:
            if self.proc.poll() is not None:
                raise RuntimeError(f"keystore exited with {self.proc.returncode}: {self.log()}")
            try:
                with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
                    s.connect(self.socket)
                return
            except OSError:
                time.sleep(0.02)
        raise RuntimeError("keystore socket did not appear: " + self.log())

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def client(self, timeout=10.0):
        return Client(self.socket, timeout)

    def log(self):
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode(errors="replace")
        except OSError:
            return ""

    def stop(self, sig=signal.SIGTERM):
        """Signal the daemon and return its exit status (None if never started)."""
        rc = None
        if self.proc is not None:
            if self.proc.poll() is None:
                self.proc.send_signal(sig)
            try:
                rc = self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                rc = self.proc.wait()
            self.logf.close()
            self.proc = None
        return rc

    def cleanup(self):
        self.stop()
        if self.own_dir and not self.keep:
            shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self):
        return self.start()

    def __exit__(self, *a):
        self.cleanup()

    def create_key(self, name):
        with self.client() as c:
            return c.create(name)


def kdf_subkey(root, subkey_id, ctx):
    """libsodium crypto_kdf_derive_from_key (BLAKE2b, salt = id LE, person = ctx)."""
    import hashlib
    return hashlib.blake2b(b"", digest_size=32, key=root,
                           salt=struct.pack("<Q", subkey_id) + bytes(8),
                           person=ctx + bytes(16 - len(ctx))).digest()


KDF_PROFILES = {1: "test", 2: "interactive", 3: "moderate", 4: "sensitive"}  # PROTOCOL.md 5, 7


def container_header(data):
    """The Argon2id parameters a store file or bundle records (PROTOCOL.md section 5), no
    passphrase needed: dict(magic, profile (name), opslimit, memlimit)."""
    ver, alg, profile, ops, mem = struct.unpack("<HBBQQ", data[8:28])
    assert ver == 1 and alg == 2, (ver, alg)
    return dict(magic=data[:8], profile=KDF_PROFILES.get(profile, profile), opslimit=ops,
                memlimit=mem)


def open_container(data, magic, passphrase):
    """Decrypt a store file or export bundle independently of the C code
    (PROTOCOL.md section 5), with PyNaCl.  Returns the plaintext."""
    from nacl.bindings import crypto_aead_xchacha20poly1305_ietf_decrypt as aead_open
    from nacl.pwhash import argon2id
    assert data[:8] == magic, data[:8]
    ver, alg, _profile, ops, mem = struct.unpack("<HBBQQ", data[8:28])
    assert ver == 1 and alg == 2
    salt, check, nonce = data[28:44], data[44:60], data[60:84]
    (n,) = struct.unpack("<I", data[84:88])
    assert len(data) == 88 + n
    root = argon2id.kdf(32, passphrase, salt, opslimit=ops, memlimit=mem)
    if kdf_subkey(root, 2, magic)[:16] != check:
        raise ValueError("wrong passphrase")
    return aead_open(data[88:], data[:88], nonce, kdf_subkey(root, 1, magic))


def seal_container(magic, plaintext, passphrase, opslimit=1, memlimit=1 << 20, profile=1):
    """A store file or export bundle around plaintext (PROTOCOL.md section 5), with PyNaCl: the
    inverse of open_container.  The defaults are the "test" Argon2id profile."""
    from nacl.bindings import crypto_aead_xchacha20poly1305_ietf_encrypt as aead_seal
    from nacl.pwhash import argon2id
    salt, nonce = os.urandom(16), os.urandom(24)
    root = argon2id.kdf(32, passphrase, salt, opslimit=opslimit, memlimit=memlimit)
    head = magic + struct.pack("<HBBQQ", 1, 2, profile, opslimit, memlimit) + salt + \
        kdf_subkey(root, 2, magic)[:16] + nonce + struct.pack("<I", len(plaintext) + 16)
    return head + aead_seal(plaintext, head, nonce, kdf_subkey(root, 1, magic))


def make_bundle(name, versions, passphrase):
    """An export bundle (PROTOCOL.md section 6) of master key name: versions is
    [(version, key)] in increasing order; `pfcrypt import` reads it with passphrase."""
    nb = name.encode()
    pt = bytes([1, len(nb)]) + nb + struct.pack("<H", len(versions))
    for version, key in versions:
        pt += struct.pack("<IQ", version, 1_700_000_000) + key
    return seal_container(b"PFCKSEXP", pt, passphrase)


def parse_store_plaintext(pt):
    """[(name, version, state, created, retired, key or None)] of a store plaintext (payload
    version 1 or 2; state 4 retiring: retired is its deadline)."""
    r = Reader(pt)
    assert r.u8() in (1, 2)
    out = []
    for _ in range(r.u32()):
        name = r.take(r.u8()).decode()
        ver, state, created, retired = r.u32(), r.u8(), r.u64(), r.u64()
        out.append((name, ver, state, created, retired, None if state == 3 else r.take(32)))
    r.end()
    return out


def parse_bundle_plaintext(pt):
    """(name, [(version, created, key)]) of an export bundle plaintext."""
    r = Reader(pt)
    assert r.u8() == 1
    name = r.take(r.u8()).decode()
    vers = [(r.u32(), r.u64(), r.take(32)) for _ in range(r.u16())]
    r.end()
    return name, vers


class KeystoreCase(unittest.TestCase):
    """A test case with a keystore daemon of its own (self.k, started with the class's args) that
    must exit 0 on SIGTERM at the end."""
    args = ()

    def setUp(self):
        self.k = Keystore(args=self.args)
        self.k.start()

    def tearDown(self):
        rc = self.k.stop()
        log = self.k.log()
        self.k.cleanup()
        self.assertEqual(rc, 0, "daemon did not exit 0 on SIGTERM:\n" + log)
