#!/usr/bin/env bash
# ThreadSanitizer run of the FUSE daemon (issue 5 point 3): builds pfcryptfs with
# -Db_sanitize=thread in its own build dir and runs the daemon's concurrency test against it
# (8 processes on 8 files + 4 writers on unaligned disjoint ranges of one file, several rounds),
# then the generation, lifecycle and descriptor-limit tests (the last closes and reopens inode
# descriptors all the time under a 512-descriptor limit).  Any ThreadSanitizer report goes to the daemon's
# stderr, which tests/lib/pfcfs.py treats as a test failure.  Not part of tests/run-all (time).
#
#   tests/bench/daemon_tsan.sh            # PFC_BUILD_ROOT (default: source root) holds the dirs
#   PFC_CONCURRENCY_ROUNDS=5 tests/bench/daemon_tsan.sh
set -eu
cd "$(dirname "$0")/../.."
root=${PFC_BUILD_ROOT:-$PWD}
normal=$root/build
tsan=$root/build-tsan
[ -f "$normal/build.ninja" ] || meson setup "$normal" >/dev/null
ninja -C "$normal" tools/pfcrypt keystore/pfcrypt-keystore >/dev/null
[ -f "$tsan/build.ninja" ] || meson setup "$tsan" -Db_sanitize=thread -Db_lundef=false \
	-Dbuildtype=debugoptimized -Dtests=false >/dev/null
ninja -C "$tsan" fs/daemon/pfcryptfs >/dev/null
export PFCRYPTFS=$tsan/fs/daemon/pfcryptfs PFCRYPT=$normal/tools/pfcrypt \
	PFCRYPT_KEYSTORE=$normal/keystore/pfcrypt-keystore PYTHONPATH=$PWD/tests/lib \
	TSAN_OPTIONS=${TSAN_OPTIONS:-second_deadlock_stack=1}
export PFC_CONCURRENCY_ROUNDS=${PFC_CONCURRENCY_ROUNDS:-3}
status=0
for t in concurrency generations lifecycle fdlimit; do
	/usr/bin/python3 tests/integration/daemon/test_daemon_$t.py || status=1
done
exit $status
