"""FIFOs, sockets and device nodes where the volume expects a regular file (issue 17 point 2).
Shared by test_faults_special.py (every kind in every place, CI) and hostilelib.py (random junk of
these kinds, tests/bench/reliability's long rounds).

A FIFO opened for reading blocks until a writer comes, so a daemon that opens one in place of a
long-name companion leaves the `ls` of that directory waiting on the daemon for ever (D state), and
`pfcrypt check` hangs until SIGKILL.  Every operation on the mount therefore runs in a child
process (`probe`) under a timeout; on expiry the daemon is SIGKILLed first (the kernel then fails
the child's pending requests, so the child can be reaped at all) and the test fails loudly.
"""
import hashlib
import json
import os
import signal
import stat
import subprocess
import sys

# kind -> (st_mode file type, what the daemon and check call it)
KINDS = {
    "fifo": (stat.S_IFIFO, "FIFO"),
    "socket": (stat.S_IFSOCK, "socket"),
    "chardev": (stat.S_IFCHR, "character device"),
    "blockdev": (stat.S_IFBLK, "block device"),
}

PROBE_TIMEOUT_S = float(os.environ.get("PFC_SPECIAL_TIMEOUT", "20"))
CHECK_TIMEOUT_S = float(os.environ.get("PFC_SPECIAL_CHECK_TIMEOUT", "60"))


def plant(path, kind):
    """Put a `kind` node at path (mknod: a socket node needs no bind, whatever the path length).
    Devices are /dev/null's and loop0's numbers: harmless if anything ever opened them."""
    ftype = KINDS[kind][0]
    dev = os.makedev(1, 3) if kind == "chardev" else os.makedev(7, 0) if kind == "blockdev" else 0
    if kind == "fifo":
        os.mkfifo(path, 0o644)
    else:
        os.mknod(path, 0o644 | ftype, dev)


def refusal(kind):
    """The words the daemon's log line and check's problem must contain."""
    return f"not a regular file ({KINDS[kind][1]})"


# ---- the probe (runs as a separate process) ------------------------------------------------------

def _one(op, path):
    if op == "listdir":
        return sorted(os.listdir(path))
    if op == "lstat":
        return os.lstat(path).st_mode
    if op == "read":
        with open(path, "rb") as f:
            return hashlib.sha256(f.read()).hexdigest()
    if op == "readlink":
        return os.readlink(path)
    if op == "rmdir":
        os.rmdir(path)
        return True
    if op == "create":
        with open(path, "wb") as f:
            f.write(b"created")
        return True
    if op == "unlink":
        os.unlink(path)
        return True
    raise ValueError(op)


def probe_main(ops):
    out = []
    for op, path in ops:
        try:
            out.append({"ok": _one(op, path)})
        except OSError as e:
            out.append({"errno": e.errno})
    json.dump(out, sys.stdout)


def probe(m, ops, timeout=None):
    """Run ops ([op, path], ...) on the mount in a child process.  Returns (results, None) or
    (None, what went wrong); on a timeout the daemon is SIGKILLed so that the child can end."""
    timeout = timeout or PROBE_TIMEOUT_S
    p = subprocess.Popen([sys.executable, os.path.abspath(__file__), "probe", json.dumps(ops)],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        out, err = p.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        if m.daemon is not None and m.daemon.poll() is None:
            m.daemon.send_signal(signal.SIGKILL)   # its requests then fail: the child ends
        p.kill()
        try:
            p.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            pass
        m._kill_daemon()
        return None, f"HANG: {ops} did not finish in {timeout:g}s (daemon SIGKILLed)"
    if p.returncode != 0:
        return None, f"probe failed: {err.decode(errors='replace')[-1500:]}"
    return json.loads(out), None


def check(m, timeout=None):
    """`pfcrypt check` of the backing dir: (exit code, output) or (None, 'HANG ...')."""
    timeout = timeout or CHECK_TIMEOUT_S
    try:
        p = subprocess.run([m.keystore.cli, "--socket", m.keystore.sock, "check", m.backing],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=m.keystore.env,
                           timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        return None, f"HANG: pfcrypt check did not finish in {timeout:g}s (killed)"
    return p.returncode, p.stdout.decode(errors="replace")


if __name__ == "__main__" and len(sys.argv) == 3 and sys.argv[1] == "probe":
    probe_main(json.loads(sys.argv[2]))
