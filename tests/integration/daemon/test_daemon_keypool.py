#!/usr/bin/env python3
"""The daemon's prefetched file keys follow a master-key rotation.

pfcryptfs fetches fresh file keys 64 at a time (generate-file-keys) so that create needs no keystore
round trip.  Those keys are wrapped under the version that was primary when the batch was made; if
the daemon kept handing them out after `pfcrypt rotate`, new files would land under the old version
and become unreadable once it is retired.  A batch is therefore used for at most
PFCD_KEYPOOL_MAX_AGE (5) seconds: a file created after that is under the new primary version.
"""
import json
import os
import time
import unittest

import pfcfs
import taprun

POOL_MAX_AGE_S = 5


def versions(m):
    out = m.keystore.ctl("status", "--json", m.backing, what="pfcrypt status").stdout
    return {v["version"]: v["files"] for v in json.loads(out)["versions"]}


class KeyPool(unittest.TestCase):
    def test_files_created_after_rotate_use_the_new_primary_version(self):
        with pfcfs.Mount() as m:
            with open(os.path.join(m.mnt, "before"), "wb") as f:
                f.write(b"made under version 1")  # fills the pool with version-1 keys
            m.keystore.ctl("rotate", "--key", pfcfs.KEY_NAME, what="pfcrypt rotate")
            time.sleep(POOL_MAX_AGE_S + 1)
            with open(os.path.join(m.mnt, "after"), "wb") as f:
                f.write(b"made under version 2")
            self.assertEqual(versions(m), {1: 1, 2: 1})
            for name, text in (("before", b"made under version 1"),
                               ("after", b"made under version 2")):
                with open(os.path.join(m.mnt, name), "rb") as f:
                    self.assertEqual(f.read(), text)


if __name__ == "__main__":
    taprun.main()
