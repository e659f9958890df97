#!/usr/bin/env python3
"""The keystore's authority (issue 17 point 1, PROTOCOL.md section 2.1): a same-uid client with no
passphrase may use the keys but may not destroy or extract them.  The attack of the issue, by a
raw protocol client (tests/lib/ks.py): EXPORT every version under a passphrase it chose, ROTATE,
RETIRE v1.  Each destructive or extracting request is refused without the store passphrase and
with a wrong one, and works with the right one.

Env (tests/meson.build): PFCRYPT_KEYSTORE, PYTHONPATH with tests/lib.
"""
import os
import unittest

import taprun
from ks import (EXPORT, RETIRE, Keystore, KsError, lv16, open_container,
                parse_bundle_plaintext)

AD = b"pfcrypt/v1 file-key\0" + bytes(range(16)) + bytes(range(16, 32))


class Base(unittest.TestCase):
    args = ()

    def setUp(self):
        self.k = Keystore(args=self.args)
        self.k.start()

    def tearDown(self):
        rc = self.k.stop()
        log = self.k.log()
        self.k.cleanup()
        self.assertEqual(rc, 0, "daemon did not exit 0 on SIGTERM:\n" + log)

    def refused(self, fn, name, *args, **kw):
        with self.assertRaises(KsError) as e:
            fn(*args, **kw)
        self.assertEqual(e.exception.name, name, e.exception.msg)
        return e.exception.msg


class Proof(Base):
    def test_the_attack_without_the_passphrase_destroys_and_steals_nothing(self):
        with self.k.client() as c:
            c.create("vol")
            key = os.urandom(32)
            blob = c.wrap("vol", AD, key)
            # EXPORT of every live version under the attacker's own bundle passphrase
            msg = self.refused(c.export, "DENIED", "vol", [], b"attacker's bundle pass")
            self.assertIn("export needs the store passphrase", msg)
            self.refused(c.export, "BAD_PASSPHRASE", "vol", [], b"attacker's bundle pass",
                         proof=b"a guess")
            # ROTATE needs none (PROTOCOL.md 2.1: it destroys nothing, its key is random)
            self.assertEqual(c.rotate("vol"), 2)
            msg = self.refused(c.retire, "DENIED", "vol", 1)
            self.assertIn("retire needs the store passphrase", msg)
            msg = self.refused(c.retire, "BAD_PASSPHRASE", "vol", 1, proof=b"a guess")
            self.assertIn("wrong store passphrase", msg)
            self.refused(c.retire, "BAD_PASSPHRASE", "vol", 1, proof=b"")
            # nothing happened: v1 still unwraps, the connection still serves
            self.assertEqual(c.unwrap(blob, AD), key)
            self.assertEqual([(n, v, s) for n, v, s, _, _ in c.list()],
                             [("vol", 1, 2), ("vol", 2, 1)])
            # with the right passphrase both work
            bundle = c.export("vol", [], b"bundle pass", proof=self.k.passphrase)
            _, vers = parse_bundle_plaintext(open_container(bundle, b"PFCKSEXP", b"bundle pass"))
            self.assertEqual([v for v, _, _ in vers], [1, 2])
        log = self.k.log()
        self.assertIn("retire vol v1 -> PFC_ERR_DENIED", log)
        self.assertIn("retire vol v1 -> PFC_ERR_BAD_PASSPHRASE", log)
        self.assertNotIn("a guess", log)

    def test_a_version_1_frame_is_refused_with_a_clear_reply_and_the_connection_kept(self):
        with self.k.client() as c:
            c.create("vol")
            c.rotate("vol")
            for t, p in [(RETIRE, lv16("vol") + (1).to_bytes(4, "little")),
                         (EXPORT, lv16("vol") + bytes(2) + lv16(b"x"))]:
                with self.assertRaises(KsError) as e:
                    c.call(t, p)
                self.assertEqual(e.exception.name, "DENIED")
                self.assertIn("(protocol 2)", e.exception.msg)
            self.assertEqual(c.status()["versions"], 2)

    def test_the_proof_is_the_current_passphrase_after_passwd(self):
        with self.k.client() as c:
            c.create("vol")
            c.rotate("vol")
            c.passwd(self.k.passphrase, b"the new one")
            self.refused(c.export, "BAD_PASSPHRASE", "vol", [1], b"b", proof=self.k.passphrase)
            c.export("vol", [1], b"b", proof=b"the new one")

    def test_locked_keystore_answers_locked_before_looking_at_the_proof(self):
        with self.k.client() as c:
            c.create("vol")
            c.lock()
            self.refused(c.retire, "LOCKED", "vol", 1, proof=b"whatever")
            self.refused(c.export, "LOCKED", "vol", [], b"b")


if __name__ == "__main__":
    taprun.main()
