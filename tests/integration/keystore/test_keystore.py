#!/usr/bin/env python3
"""Integration tests of pfcrypt-keystore: a real daemon per test (tests/lib/ks.py),
spoken to over its socket by Python (and by the C client ks_session).

Env (tests/meson.build): PFCRYPT_KEYSTORE (daemon), PFC_KS_SESSION_BIN (C test client), PYTHONPATH
with tests/lib.
Run with /usr/bin/python3 (PyNaCl decrypts the store and bundles independently).
"""
import base64
import os
import pwd
import signal
import socket
import struct
import subprocess
import tempfile
import time
import unittest

import taprun
from ks import (KeystoreCase, ERR, ERROR, FRAME_MAX, HELLO, CREATE, WRAP, UNWRAP, IMPORT, PROTOCOL_VERSION,
                Keystore, KsError, frame, lv16, open_container, parse_bundle_plaintext,
                parse_store_plaintext)

AD = b"pfcrypt/v1 file-key\0" + bytes(range(16)) + bytes(range(16, 32))


def recv_all(s):
    """Everything until the server closes (or a reset)."""
    out = b""
    while True:
        try:
            chunk = s.recv(65536)
        except ConnectionResetError:
            return out
        if not chunk:
            return out
        out += chunk


def error_code(data):
    """Code of the error frame at the start of data."""
    (n,) = struct.unpack("<I", data[:4])
    assert data[4] == ERROR, data[:8]
    return struct.unpack("<I", data[5:9])[0]


class Base(KeystoreCase):
    """The module's keystore test case (tests/lib/ks.py KeystoreCase)."""

    def assert_serves(self):
        self.assertTrue(self.k.alive(), "daemon died:\n" + self.k.log())
        with self.k.client() as c:
            self.assertEqual(c.hello()[0], PROTOCOL_VERSION)

    def raw(self):
        return self.k.client().s


class Session(Base):
    def test_full_session_over_the_protocol(self):
        with self.k.client() as c:
            self.assertEqual(c.status()["kdf_profile"], "test")
            self.assertEqual(c.create("vol"), 1)
            with self.assertRaises(KsError) as e:
                c.create("vol")
            self.assertEqual(e.exception.name, "EXISTS")
            key = os.urandom(32)
            blob = c.wrap("vol", AD, key)
            self.assertEqual(c.unwrap(blob, AD), key)
            for bad_ad in (AD[:-1], AD[:-1] + b"x", b""):
                with self.assertRaises(KsError) as e:
                    c.unwrap(blob, bad_ad)
                self.assertEqual(e.exception.name, "AUTH")
            tampered = bytearray(blob)
            tampered[-1] ^= 1
            with self.assertRaises(KsError) as e:
                c.unwrap(bytes(tampered), AD)
            self.assertEqual(e.exception.name, "AUTH")
            self.assertEqual(c.rotate("vol"), 2)
            # the version field altered to the (existing) primary version: AUTH
            v2 = bytearray(blob)
            v2[5] = 2
            with self.assertRaises(KsError) as e:
                c.unwrap(bytes(v2), AD)
            self.assertEqual(e.exception.name, "AUTH")
            already, blob2 = c.rewrap(blob, AD)
            self.assertFalse(already)
            self.assertEqual(c.rewrap(blob2, AD), (True, blob2))
            self.assertEqual(c.unwrap(blob2, AD), key)
            keys = c.generate("vol", AD[:36], 64)
            self.assertEqual(len(keys), 64)
            for fid, fk, b in keys[:4]:
                self.assertEqual(c.unwrap(b, AD[:36] + fid), fk)
            st = c.list()
            self.assertEqual([(n, v, s) for n, v, s, _, _ in st], [("vol", 1, 2), ("vol", 2, 1)])

    def test_c_client_session(self):
        out = subprocess.run([os.environ["PFC_KS_SESSION_BIN"], self.k.socket,
                              self.k.passphrase.decode(), "cvol"],
                             capture_output=True, text=True, timeout=60)
        self.assertEqual(out.returncode, 0, out.stdout + out.stderr)
        self.assertIn("session ok", out.stdout)

    def test_retire_shreds_the_key_from_the_store_file(self):
        with self.k.client() as c:
            c.create("vol")
            key = os.urandom(32)
            blob = c.wrap("vol", AD, key)
            c.rotate("vol")
            _, vers = parse_bundle_plaintext(
                open_container(c.export("vol", [1], b"e", proof=self.k.passphrase), b"PFCKSEXP",
                               b"e"))
            old = vers[0][2]
            with open(self.k.store, "rb") as f:
                before = open_container(f.read(), b"PFCKSTOR", self.k.passphrase)
            self.assertIn(old, before)
            c.retire("vol", 1, proof=self.k.passphrase, force=True)  # this process wrapped
            with self.assertRaises(KsError) as e:
                c.unwrap(blob, AD)
            self.assertEqual(e.exception.name, "KEY_RETIRED")
            with open(self.k.store, "rb") as f:
                after = open_container(f.read(), b"PFCKSTOR", self.k.passphrase)
            self.assertNotIn(old, after, "retired key bytes still in the decrypted store")
            entries = parse_store_plaintext(after)
            self.assertEqual(entries[0][:3], ("vol", 1, 3))
            self.assertIsNone(entries[0][5])
            self.assertGreater(entries[0][4], 0, "tombstone keeps the retire date")
            with self.assertRaises(KsError) as e:
                c.retire("vol", 2, proof=self.k.passphrase)
            self.assertEqual(e.exception.name, "BUSY")
        # and after a restart the version is still retired
        self.k.stop()
        self.k.start()
        with self.k.client() as c:
            with self.assertRaises(KsError) as e:
                c.unwrap(blob, AD)
            self.assertEqual(e.exception.name, "KEY_RETIRED")

    def test_lock_unlock_and_passphrase_change(self):
        with self.k.client() as c:
            c.create("vol")
            blob = c.wrap("vol", b"", bytes(32))
            c.lock()
            self.assertTrue(c.status()["locked"])
            with self.assertRaises(KsError) as e:
                c.unwrap(blob, b"")
            self.assertEqual(e.exception.name, "LOCKED")
            with self.assertRaises(KsError) as e:
                c.unlock(b"wrong")
            self.assertEqual(e.exception.name, "BAD_PASSPHRASE")
            c.unlock(self.k.passphrase)
            c.passwd(self.k.passphrase, b"second passphrase")
            self.assertEqual(c.unwrap(blob, b""), bytes(32))
        with open(self.k.store, "rb") as f:
            open_container(f.read(), b"PFCKSTOR", b"second passphrase")

    def test_export_import_between_two_keystores(self):
        with self.k.client() as c:
            c.create("vol")
            key = os.urandom(32)
            blob = c.wrap("vol", AD, key)
            bundle = c.export("vol", [], b"export pass", proof=self.k.passphrase)
        with Keystore() as other:
            with other.client() as d:
                with self.assertRaises(KsError) as e:
                    d.import_(bundle, b"wrong")
                self.assertEqual(e.exception.name, "BAD_PASSPHRASE")
                self.assertEqual(d.import_(bundle, b"export pass"), 1)
                self.assertEqual(d.unwrap(blob, AD), key)
                self.assertEqual(d.import_(bundle, b"export pass"), 0)
        with Keystore() as third:
            with third.client() as d:
                d.create("vol")  # a different v1
                with self.assertRaises(KsError) as e:
                    d.import_(bundle, b"export pass")
                self.assertEqual(e.exception.name, "CONFLICT")
                with self.assertRaises(KsError) as e:
                    d.unwrap(blob, AD)
                self.assertEqual(e.exception.name, "AUTH")


class Malformed(Base):
    args = ("--client-timeout", "700")

    def test_zero_length_frame(self):
        with self.raw() as s:
            s.sendall(b"\0\0\0\0")
            self.assertEqual(error_code(recv_all(s)), ERR["PROTOCOL"])
        self.assert_serves()

    def test_max_plus_one_length(self):
        with self.raw() as s:
            s.sendall(struct.pack("<I", FRAME_MAX + 1) + b"\x01")
            self.assertEqual(error_code(recv_all(s)), ERR["TOO_LARGE"])
        self.assert_serves()

    def test_max_length_frame_is_read_whole_then_refused(self):
        with self.raw() as s:
            s.sendall(struct.pack("<IB", FRAME_MAX, 0x7E) + bytes(FRAME_MAX - 1))
            self.assertEqual(error_code(recv_all(s)), ERR["PROTOCOL"])
        self.assert_serves()

    def test_truncated_field(self):
        with self.k.client() as c:
            with self.assertRaises(KsError) as e:
                c.call(CREATE, struct.pack("<H", 8) + b"abc")
            self.assertEqual(e.exception.name, "TRUNCATED")
            self.assertEqual(c.hello()[0], PROTOCOL_VERSION, "same connection still usable")
        self.assert_serves()

    def test_unknown_type(self):
        for t in (0x00, 0x11, 0x81, 0xFE, 0xFF):
            with self.raw() as s:
                s.sendall(frame(t, b"xyz"))
                self.assertEqual(error_code(recv_all(s)), ERR["PROTOCOL"], hex(t))
        self.assert_serves()

    def test_field_length_past_the_frame(self):
        with self.k.client() as c:
            cases = [
                (UNWRAP, struct.pack("<H", 60000) + b"x" * 10),
                (WRAP, lv16("vol") + struct.pack("<H", 300) + b"a"),
                (HELLO, b"\x01\x00"),
                (IMPORT, struct.pack("<I", 0xFFFFFFF0) + b"abc"),
            ]
            for t, p in cases:
                try:
                    c.call(t, p)
                    self.fail("accepted %r" % p)
                except KsError as e:
                    self.assertIn(e.name, ("TRUNCATED", "TOO_LARGE"), p)
                except ConnectionError:
                    c.close()
                    c = self.k.client()
            c.close()
        self.assert_serves()

    def test_trailing_bytes_and_bad_names(self):
        with self.k.client() as c:
            for t, p, want in [(HELLO, struct.pack("<I", 1) + b"!", "CORRUPT"),
                               (CREATE, lv16("a/b"), "NAME_INVALID"),
                               (CREATE, lv16("x" * 33), "NAME_TOO_LONG"),
                               (CREATE, lv16(""), "NAME_INVALID")]:
                with self.assertRaises(KsError) as e:
                    c.call(t, p)
                self.assertEqual(e.exception.name, want)
        self.assert_serves()

    def test_random_garbage(self):
        rnd = __import__("random").Random(4)
        for _ in range(200):
            with self.raw() as s:
                n = rnd.randrange(1, 300)
                body = bytes([rnd.randrange(1, 16)]) + rnd.randbytes(n)
                try:
                    s.sendall(struct.pack("<I", len(body)) + body)
                    s.settimeout(5)
                    s.recv(4)
                except OSError:
                    pass
        self.assert_serves()

    def test_ten_thousand_connections_opened_and_dropped(self):
        for i in range(10000):
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.connect(self.k.socket)
            if i % 1000 == 0:
                s.sendall(b"\x09\x00")  # and some drop mid-header
            s.close()
        self.assert_serves()

    def test_stalled_client_does_not_block_a_good_one(self):
        staller = self.raw()
        staller.sendall(struct.pack("<IB", 200, CREATE) + b"\x05")
        with self.k.client() as c:  # served while the staller holds a partial frame
            c.create("vol")
            self.assertEqual(len(c.generate("vol", b"p", 64)), 64)
        # the staller is dropped by the daemon's per-connection timeout (700 ms)
        staller.settimeout(30)
        self.assertEqual(recv_all(staller), b"")
        staller.close()
        self.assert_serves()
        self.assertIn("timed out", self.k.log())


class PeerAndProcess(unittest.TestCase):
    def test_other_uid_is_refused_even_with_loose_permissions(self):
        nobody = pwd.getpwnam("nobody")
        with Keystore() as k:
            code = ("import socket,struct,sys\n"
                    "s=socket.socket(socket.AF_UNIX);s.connect(sys.argv[1])\n"
                    "try: s.sendall(struct.pack('<IBI',5,1,1))\n"
                    "except BrokenPipeError: pass\n"
                    "d=b''\n"
                    "while True:\n"
                    "  try: c=s.recv(100)\n"
                    "  except ConnectionResetError: break\n"
                    "  if not c: break\n"
                    "  d+=c\n"
                    "print(d.hex())\n")
            cmd = ["setpriv", "--reuid=nobody", "--regid=%d" % nobody.pw_gid, "--clear-groups",
                   "/usr/bin/python3", "-c", code, k.socket]
            # as created: the 0700 directory keeps nobody out entirely
            self.assertEqual(os.stat(os.path.dirname(k.socket)).st_mode & 0o777, 0o700)
            self.assertEqual(os.stat(k.socket).st_mode & 0o777, 0o600)
            r = subprocess.run(cmd, capture_output=True, text=True, timeout=30)
            self.assertNotEqual(r.returncode, 0)
            self.assertIn("Permission", r.stderr)
            # loosened by mistake: SO_PEERCRED still refuses
            os.chmod(k.dir, 0o755)
            os.chmod(os.path.dirname(k.socket), 0o755)
            os.chmod(k.socket, 0o666)
            r = subprocess.run(cmd, capture_output=True, text=True, timeout=30)
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertEqual(error_code(bytes.fromhex(r.stdout.strip())), ERR["DENIED"])
            self.assertIn("uid %d" % nobody.pw_uid, k.log())
            self.assertIn("refused", k.log())
            with k.client() as c:
                self.assertEqual(c.hello()[0], PROTOCOL_VERSION)

    def test_core_dumps_disabled(self):
        with Keystore() as k:
            with open(f"/proc/{k.pid}/limits") as f:
                line = [l for l in f if l.startswith("Max core file size")][0]
            self.assertEqual(line.split()[4:6], ["0", "0"], line)
        # as a non-root user, a non-dumpable process's /proc files belong to root
        with Keystore(user="nobody") as k:
            uid = pwd.getpwnam("nobody").pw_uid
            with open(f"/proc/{k.pid}/status") as f:
                self.assertIn(f"Uid:\t{uid}\t{uid}", f.read())
            self.assertEqual(os.stat(f"/proc/{k.pid}/status").st_uid, 0,
                             "process is dumpable (PR_SET_DUMPABLE not 0)")
            with k.client() as c:  # root is allowed by a keystore owned by nobody
                self.assertEqual(c.hello()[0], PROTOCOL_VERSION)

    def test_signals_wipe_exit_zero_and_remove_the_socket(self):
        for sig in (signal.SIGTERM, signal.SIGINT):
            k = Keystore().start()
            try:
                self.assertEqual(k.stop(sig), 0)
                self.assertFalse(os.path.exists(k.socket))
                self.assertIn("keys wiped", k.log())
            finally:
                k.cleanup()

    def test_logs_never_contain_keys_or_passphrases(self):
        k = Keystore(passphrase=b"log-test passphrase 1")
        secrets = [b"log-test passphrase 1", b"log-test passphrase 2", b"export-pass-xyz"]
        try:
            k.start()
            with k.client() as c:
                c.status()
                c.create("vol")
                key = os.urandom(32)
                secrets.append(key)
                blob = c.wrap("vol", AD, key)
                c.unwrap(blob, AD)
                for fid, fk, b in c.generate("vol", AD[:36], 8):
                    secrets.append(fk)
                c.rotate("vol")
                c.rewrap(blob, AD)
                try:
                    c.unwrap(blob, AD[:-1])
                except KsError:
                    pass
                bundle = c.export("vol", [], b"export-pass-xyz", proof=b"log-test passphrase 1")
                for _, _, mk in parse_bundle_plaintext(
                        open_container(bundle, b"PFCKSEXP", b"export-pass-xyz"))[1]:
                    secrets.append(mk)
                c.import_(bundle, b"export-pass-xyz")
                try:
                    c.unlock(b"log-test passphrase 2")  # wrong, while unlocked
                except KsError:
                    pass
                c.passwd(b"log-test passphrase 1", b"log-test passphrase 2")
                c.lock()
                c.unlock(b"log-test passphrase 2")
                c.retire("vol", 1, proof=b"log-test passphrase 2", force=True)
                c.list()
            self.assertEqual(k.stop(), 0)
            with open(k.log_path, "rb") as f:
                log = f.read()
            self.assertIn(b"debug", log, "verbose logging was on")
            self.assertIn(b"unwrap vol v1 -> ok", log)
            for s in secrets:
                forms = [s, s.hex().encode(), s.hex().upper().encode(),
                         base64.b64encode(s), base64.urlsafe_b64encode(s),
                         base64.b64encode(s).rstrip(b"="), base64.b64encode(s)[:20]]
                for form in forms:
                    self.assertNotIn(form, log, "secret found in the log")
        finally:
            k.cleanup()


class _Second:
    """A second store (same passphrase) inside keystore k's temp dir."""

    def __init__(self, k):
        self.store = os.path.join(k.dir, "store2", "keystore")
        subprocess.run([k.binary, "--init", "--kdf-profile", "test", "--store", self.store,
                        "--socket", os.path.join(k.dir, "unused.sock"),
                        "--passphrase-file", k.pass_file],
                       check=True, capture_output=True, timeout=60)

    def __enter__(self):
        return self

    def __exit__(self, *a):
        pass


class StoreFile(unittest.TestCase):
    def run_daemon(self, k, *extra):
        return subprocess.run(k._cmd("-f", *extra), capture_output=True, text=True, timeout=60)

    def test_wrong_passphrase_and_corrupt_store_are_clear_errors(self):
        k = Keystore()
        try:
            k.init_store()
            with open(k.store, "rb") as f:
                good = f.read()
            bad = os.path.join(k.dir, "bad")
            with open(bad, "wb") as f:
                f.write(b"nope\n")
            r = self.run_daemon(k, "--passphrase-file", bad)
            self.assertEqual(r.returncode, 1)
            self.assertIn("wrong passphrase", r.stderr)
            corrupt = bytearray(good)
            corrupt[-2] ^= 0xFF
            with open(k.store, "wb") as f:
                f.write(corrupt)
            r = self.run_daemon(k, "--passphrase-file", k.pass_file)
            self.assertEqual(r.returncode, 1)
            self.assertIn("corrupt", r.stderr)
            with open(k.store, "rb") as f:
                self.assertEqual(f.read(), bytes(corrupt), "corrupt store was rewritten")
            self.assertFalse(os.path.exists(k.socket), "socket created for an unreadable store")
        finally:
            k.cleanup()

    def test_init_never_overwrites(self):
        k = Keystore()
        try:
            k.init_store()
            with open(k.store, "rb") as f:
                before = f.read()
            r = subprocess.run(k._cmd("--init", "--kdf-profile", "test",
                                      "--passphrase-file", k.pass_file),
                               capture_output=True, text=True, timeout=60)
            self.assertEqual(r.returncode, 1)
            self.assertIn("already exists", r.stderr)
            with open(k.store, "rb") as f:
                self.assertEqual(f.read(), before)
        finally:
            k.cleanup()

    def test_relative_store_and_socket_paths_survive_daemonising(self):
        # The daemon chdirs to / when it detaches: relative paths must already be
        # absolute by then, or the store would later be written to /<name>.
        k = Keystore()
        try:
            k.init_store()
            d = os.path.dirname(k.store)
            r = subprocess.run([k.binary, "--store", os.path.basename(k.store),
                                "--socket", "rel.sock", "--passphrase-file", k.pass_file],
                               cwd=d, capture_output=True, text=True, timeout=60)
            self.assertEqual(r.returncode, 0, r.stderr)
            k.socket = os.path.join(d, "rel.sock")  # the detached daemon listens already
            peer = socket.socket(socket.AF_UNIX)
            peer.connect(k.socket)
            pid = struct.unpack("3i", peer.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED,
                                                      12))[0]
            peer.close()
            try:
                with k.client() as c:
                    self.assertEqual(c.create("rel"), 1)  # a store write after detaching
            finally:
                os.kill(pid, signal.SIGTERM)
                for _ in range(300):
                    if not os.path.exists(f"/proc/{pid}"):
                        break
                    time.sleep(0.01)
            with open(k.store, "rb") as f:
                entries = parse_store_plaintext(open_container(f.read(), b"PFCKSTOR",
                                                               k.passphrase))
            self.assertEqual([e[:3] for e in entries], [("rel", 1, 1)])
            self.assertFalse(os.path.exists("/" + os.path.basename(k.store)))
        finally:
            k.cleanup()

    def test_locked_start_then_unlock_by_request(self):
        with Keystore(locked=True) as k:
            with k.client() as c:
                self.assertTrue(c.status()["locked"])
                with self.assertRaises(KsError) as e:
                    c.create("vol")
                self.assertEqual(e.exception.name, "LOCKED")
                c.unlock(k.passphrase)
                c.create("vol")

    def test_second_daemon_on_the_same_store_or_socket_refuses(self):
        with Keystore() as k:
            # same store, other socket: the store lock refuses
            other_sock = os.path.join(k.dir, "run2", "ks.sock")
            r = subprocess.run([k.binary, "-f", "--socket", other_sock, "--store", k.store,
                                "--passphrase-file", k.pass_file],
                               capture_output=True, text=True, timeout=60)
            self.assertEqual(r.returncode, 1)
            self.assertIn("another keystore serves this store", r.stderr)
            # other store, same socket: the live socket refuses
            with _Second(k) as s2:
                r = subprocess.run([k.binary, "-f", "--socket", k.socket, "--store", s2.store,
                                    "--passphrase-file", k.pass_file],
                                   capture_output=True, text=True, timeout=60)
            self.assertEqual(r.returncode, 1)
            self.assertIn("already listening", r.stderr)
            with k.client() as c:
                c.hello()

    def test_stale_socket_is_replaced_and_store_survives_restart(self):
        k = Keystore()
        try:
            k.start()
            with k.client() as c:
                c.create("vol")
                blob = c.wrap("vol", b"", bytes(range(32)))
            k.stop(signal.SIGKILL)  # leaves the socket file behind
            self.assertTrue(os.path.exists(k.socket))
            k.start()
            with k.client() as c:
                self.assertEqual(c.unwrap(blob, b""), bytes(range(32)))
            leftovers = [n for n in os.listdir(os.path.dirname(k.store)) if ".tmp." in n]
            self.assertEqual(leftovers, [])
        finally:
            k.cleanup()

    def test_passphrase_fd_and_usage(self):
        k = Keystore()
        try:
            k.init_store()
            r, w = os.pipe()
            os.write(w, k.passphrase + b"\n")
            os.close(w)
            p = subprocess.Popen([k.binary, "-f", "--socket", k.socket, "--store", k.store,
                                  "--passphrase-fd", str(r)], pass_fds=(r,),
                                 stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
            os.close(r)
            k.proc, k.logf = p, open(os.devnull, "wb")
            k.wait_ready()
            with k.client() as c:
                self.assertFalse(c.status()["locked"])
            self.assertEqual(k.stop(), 0)
            for args, code in ((["--help"], 0), (["--version"], 0), (["--bogus"], 2),
                               (["--serve"], 2), (["--init", "--locked"], 2),
                               (["--passphrase-file", "x", "--passphrase-fd", "0"], 2)):
                r = subprocess.run([k.binary] + args, capture_output=True, text=True,
                                   timeout=30)
                self.assertEqual(r.returncode, code, args)
        finally:
            k.cleanup()

    def test_tty_prompt_without_echo(self):
        import pty
        k = Keystore()
        try:
            pid, fd = pty.fork()
            if pid == 0:
                os.execv(k.binary, [k.binary, "--init", "--kdf-profile", "test",
                                    "--store", k.store, "--socket", k.socket])
            out = b""

            def expect(what):
                nonlocal out
                while what not in out:
                    try:
                        chunk = os.read(fd, 1024)
                    except OSError:
                        chunk = b""
                    if not chunk:
                        self.fail(f"no {what!r} in {out!r}")
                    out += chunk
            for prompt in (b"New keystore passphrase: ", b"Repeat passphrase: "):
                expect(prompt)
                os.write(fd, b"typed on a tty\n")
            expect(b"created")
            _, st = os.waitpid(pid, 0)
            os.close(fd)
            self.assertEqual(os.waitstatus_to_exitcode(st), 0, out)
            self.assertNotIn(b"typed on a tty", out, "passphrase echoed")
            with open(k.store, "rb") as f:
                open_container(f.read(), b"PFCKSTOR", b"typed on a tty")
        finally:
            k.cleanup()

    def test_default_paths_from_the_environment(self):
        k = Keystore()
        try:
            env = dict(os.environ, XDG_RUNTIME_DIR=os.path.join(k.dir, "xdg-run"),
                       XDG_CONFIG_HOME=os.path.join(k.dir, "xdg-config"))
            env.pop("PFCRYPT_SOCKET", None)
            os.makedirs(os.path.join(env["XDG_RUNTIME_DIR"], "pfcrypt"), mode=0o755)
            os.chmod(os.path.join(env["XDG_RUNTIME_DIR"], "pfcrypt"), 0o755)
            r = subprocess.run([k.binary, "--init", "--kdf-profile", "test",
                                "--passphrase-file", k.pass_file],
                               env=env, capture_output=True, text=True, timeout=60)
            self.assertEqual(r.returncode, 0, r.stderr)
            store = os.path.join(env["XDG_CONFIG_HOME"], "pfcrypt", "keystore")
            self.assertTrue(os.path.exists(store))
            self.assertEqual(os.stat(os.path.dirname(store)).st_mode & 0o777, 0o700)
            k.socket = os.path.join(env["XDG_RUNTIME_DIR"], "pfcrypt", "keystore.sock")
            k.logf = open(k.log_path, "ab")
            k.proc = subprocess.Popen([k.binary, "-f", "--passphrase-file", k.pass_file],
                                      env=env, stdout=k.logf, stderr=k.logf)
            k.wait_ready()
            self.assertEqual(os.stat(os.path.dirname(k.socket)).st_mode & 0o777, 0o700,
                             "default socket directory not tightened to 0700")
            with k.client() as c:
                self.assertEqual(c.status()["kdf_profile"], "test")
            self.assertEqual(k.stop(), 0)
        finally:
            k.cleanup()

    def test_passphrase_file_edge_cases(self):
        k = Keystore()
        try:
            def init_with(content):
                path = os.path.join(k.dir, "pw")
                with open(path, "wb") as f:
                    f.write(content)
                return subprocess.run(k._cmd("--init", "--kdf-profile", "test",
                                             "--passphrase-file", path),
                                      capture_output=True, text=True, timeout=60)
            r = init_with(b"\n")
            self.assertEqual(r.returncode, 1)
            self.assertIn("empty passphrase", r.stderr)
            r = init_with(b"x" * 2000)
            self.assertEqual(r.returncode, 1)
            self.assertFalse(os.path.exists(k.store))
            r = init_with(b"windows line\r\n")
            self.assertEqual(r.returncode, 0, r.stderr)
            with open(k.store, "rb") as f:
                open_container(f.read(), b"PFCKSTOR", b"windows line")
        finally:
            k.cleanup()

    def test_init_and_serve(self):
        k = Keystore()
        try:
            k.logf = open(k.log_path, "ab")
            k.proc = subprocess.Popen(k._cmd("-f", "--init", "--serve", "--kdf-profile", "test",
                                             "--passphrase-file", k.pass_file),
                                      stdout=k.logf, stderr=k.logf)
            k.wait_ready()
            with k.client() as c:
                self.assertEqual(c.create("vol"), 1)
            self.assertEqual(k.stop(), 0)
            with open(k.store, "rb") as f:
                entries = parse_store_plaintext(open_container(f.read(), b"PFCKSTOR",
                                                               k.passphrase))
            self.assertEqual([e[:3] for e in entries], [("vol", 1, 1)])
        finally:
            k.cleanup()

    def test_daemonises_by_default(self):
        k = Keystore()
        try:
            k.init_store()
            r = subprocess.run(k._cmd("--passphrase-file", k.pass_file, "--log-file", k.log_path),
                               capture_output=True, text=True, timeout=60)
            self.assertEqual(r.returncode, 0, r.stderr)
            with k.client() as c:
                c.hello()
            pid = int(k.log().split("pid ")[1].split(")")[0])
            os.kill(pid, signal.SIGTERM)
            for _ in range(500):
                if not os.path.exists(k.socket):
                    break
                time.sleep(0.02)
            self.assertFalse(os.path.exists(k.socket))
        finally:
            k.cleanup()


if __name__ == "__main__":
    taprun.main()
