#!/usr/bin/python3
"""Man pages against --help (issue 10): for each of the three programs, every option that --help
shows has an entry in the man page, and every option entry of the man page is in --help.
For pfcrypt this holds per subcommand (one .SS section of pfcrypt.1 per subcommand).  The pages
also render without a groff warning, and bash completion offers what --help lists.

An "option entry" of a man page is the tag line of a .TP paragraph in the OPTIONS section (for
pfcrypt: GLOBAL OPTIONS, and each subcommand's .SS section, whose heading counts too);
options that a help text mentions as part of another program's command line
("fusermount3 -u") are not pfcrypt options and are left out.
"""
import os
import re
import subprocess
import unittest

import taprun
from clienv import program

SRC = os.environ.get("PFC_SOURCE_ROOT", "")
PAGES = {"pfcrypt": "tools/pfcrypt.1", "pfcryptfs": "fs/daemon/pfcryptfs.8",
         "pfcrypt-keystore": "keystore/pfcrypt-keystore.8"}
SUBCOMMANDS = ["keystore", "init", "mount", "umount", "status", "rotate", "rewrap", "retire",
               "check", "export", "import", "path", "salvage"]
OPT = re.compile(r"(?<![\w-])(--?[A-Za-z][A-Za-z0-9-]*)")
# options of other programs' command lines quoted in a help text ("fusermount3 -u", "sh -c")
FOREIGN = re.compile(r"\b(fusermount3|mount\.fuse3|umount|mount|sh)\s+(-\S+\s*)+")


def help_opts(text):
    return set(OPT.findall(FOREIGN.sub(" ", text)))


def roff_text(line):
    """Roff source line -> plain text (escapes and font requests dropped)."""
    line = re.sub(r"^\.(B|I|BI|IB|BR|RB|IR|RI)\s+", "", line)
    line = line.replace("\\-", "-").replace('"', " ")
    return re.sub(r"\\f[BIRP]|\\\(\w\w|\\&", "", line)


def man_sections(path):
    """{section: set of options in its .TP tags}; a section is a .SH name or a .SS heading (whose
    own options count too)."""
    with open(path) as f:
        lines = f.read().splitlines()
    out, cur, tag_next = {}, "", False
    for line in lines:
        if line.startswith((".SH", ".SS")):
            cur = roff_text(line[3:]).strip()
            out[cur] = set(OPT.findall(cur)) if line.startswith(".SS") else set()
            continue
        if line.startswith(".TP"):
            tag_next = True
            continue
        if tag_next:
            tag_next = False
            out[cur] |= set(OPT.findall(roff_text(line)))
    return out


def run_help(argv):
    p = subprocess.run(argv, capture_output=True, text=True, timeout=30)
    if p.returncode != 0 or not p.stdout.strip():
        raise AssertionError(f"{argv} exited {p.returncode}: {p.stdout}{p.stderr}")
    return p.stdout


class ManPagesMatchHelp(unittest.TestCase):
    def page(self, prog):
        path = os.path.join(SRC, PAGES[prog])
        self.assertTrue(os.path.isfile(path), f"no man page {path}")
        return path

    def compare(self, what, help_set, man_set):
        missing = sorted(help_set - man_set)
        extra = sorted(man_set - help_set)
        self.assertEqual((missing, extra), ([], []),
                         f"{what}: options in --help but not in the man page: {missing}; "
                         f"in the man page but not in --help: {extra}")

    def test_pfcryptfs_options_agree(self):
        self.compare("pfcryptfs", help_opts(run_help([program("PFCRYPTFS"), "--help"])),
                     man_sections(self.page("pfcryptfs"))["OPTIONS"])

    def test_pfcrypt_keystore_options_agree(self):
        self.compare("pfcrypt-keystore",
                     help_opts(run_help([program("PFCRYPT_KEYSTORE"), "--help"])),
                     man_sections(self.page("pfcrypt-keystore"))["OPTIONS"])

    def test_pfcrypt_global_options_agree(self):
        self.compare("pfcrypt", help_opts(run_help([program("PFCRYPT"), "--help"])),
                     man_sections(self.page("pfcrypt"))["GLOBAL OPTIONS"])

    def test_pfcrypt_each_subcommand_options_agree(self):
        secs = man_sections(self.page("pfcrypt"))
        by_cmd = {}
        for head, opts in secs.items():
            words = head.split()
            if len(words) >= 2 and words[0] == "pfcrypt":
                by_cmd[words[1]] = opts
        self.assertEqual(sorted(by_cmd), sorted(SUBCOMMANDS), "one .SS per subcommand")
        for cmd in SUBCOMMANDS:
            h = help_opts(run_help([program("PFCRYPT"), cmd, "--help"]))
            # every subcommand takes -h/--help: the page says so once, not per command
            self.compare(f"pfcrypt {cmd}", h - {"-h", "--help"}, by_cmd[cmd] - {"-h", "--help"})

    def test_every_page_renders_without_warnings(self):
        for prog in PAGES:
            p = subprocess.run(["groff", "-man", "-ww", "-z", self.page(prog)],
                               capture_output=True, text=True, timeout=30)
            self.assertEqual((p.returncode, p.stderr), (0, ""), prog)
            # the page names its program and has the sections a reader looks for
            with open(self.page(prog)) as f:
                src = f.read()
            for sec in ("NAME", "SYNOPSIS", "DESCRIPTION", "EXIT STATUS", "SEE ALSO"):
                self.assertIn(f".SH {sec}", src, f"{prog}: no {sec} section")


class BashCompletion(unittest.TestCase):
    SCRIPT = os.path.join(SRC, "tools/completion/pfcrypt.bash")

    def complete(self, *words):
        """What bash completion offers after typing words (the last one being completed)."""
        arr = " ".join("'" + w.replace("'", "'\\''") + "'" for w in words)
        script = (f"source '{self.SCRIPT}'\nCOMP_WORDS=({arr})\n"
                  f"COMP_CWORD=$((${{#COMP_WORDS[@]}} - 1))\n"
                  f"f=$(complete -p {words[0]} | awk '{{print $3}}')\n"
                  "$f\nprintf '%s\\n' \"${COMPREPLY[@]}\"\n")
        p = subprocess.run(["bash", "--norc", "--noprofile", "-c", script], capture_output=True,
                           text=True, timeout=30)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(p.stderr, "")
        return set(p.stdout.split())

    def test_lists_every_subcommand_of_help(self):
        top = run_help([program("PFCRYPT"), "--help"])
        cmds = set(re.findall(r"^  ([a-z]+)\s", top.split("Commands:")[1].split("Options:")[0],
                              re.M))
        self.assertEqual(cmds, set(SUBCOMMANDS))
        self.assertEqual(self.complete("pfcrypt", ""), cmds)
        self.assertEqual(self.complete("pfcrypt", "--socket", "/s", "re"), {"rewrap", "retire"})
        self.assertEqual(self.complete("pfcrypt", "keystore", ""),
                         {"init", "start", "stop", "status", "lock", "unlock", "passwd",
                          "cancel-retire"})

    def test_options_of_each_subcommand_are_those_of_help(self):
        for cmd in SUBCOMMANDS:
            h = help_opts(run_help([program("PFCRYPT"), cmd, "--help"])) - {"-h"}
            offered = self.complete("pfcrypt", cmd, "-")
            self.assertEqual(offered, h | {"--help"}, f"pfcrypt {cmd}")

    def test_daemons_options_are_those_of_help(self):
        for prog, var in (("pfcryptfs", "PFCRYPTFS"), ("pfcrypt-keystore", "PFCRYPT_KEYSTORE")):
            h = {o for o in help_opts(run_help([program(var), "--help"])) if o.startswith("--")}
            offered = {o for o in self.complete(prog, "--") if o.startswith("--")}
            self.assertEqual(offered, h, prog)

    def test_option_arguments(self):
        self.assertEqual(self.complete("pfcrypt", "init", "b", "--cipher", ""),
                         {"aes256gcm", "xchacha20poly1305"})
        self.assertEqual(self.complete("pfcrypt-keystore", "--kdf-profile", "m"), {"moderate"})


class ZshCompletion(unittest.TestCase):
    SCRIPT = os.path.join(SRC, "tools/completion/_pfcrypt")

    def test_parses_and_lists_every_subcommand_and_option(self):
        p = subprocess.run(["zsh", "-n", self.SCRIPT], capture_output=True, text=True, timeout=30)
        self.assertEqual((p.returncode, p.stderr), (0, ""))
        with open(self.SCRIPT) as f:
            text = f.read()
        self.assertTrue(text.startswith("#compdef pfcrypt pfcryptfs pfcrypt-keystore\n"))
        for cmd in SUBCOMMANDS:
            self.assertIn(f"'{cmd}:", text, cmd)
        every = set()
        for cmd in SUBCOMMANDS:
            every |= help_opts(run_help([program("PFCRYPT"), cmd, "--help"])) - {"-h"}
        for var in ("PFCRYPTFS", "PFCRYPT_KEYSTORE"):
            every |= {o for o in help_opts(run_help([program(var), "--help"]))
                      if o.startswith("--")}
        spelled = set(re.findall(r"(?<![\w-])(--?[A-Za-z][A-Za-z0-9-]*)\[", text))
        spelled |= set(re.findall(r"\{(-\w),(--[\w-]+)\}", text) and
                       sum(re.findall(r"\{(-\w),(--[\w-]+)\}", text), ()))
        self.assertEqual(sorted(every - spelled), [], "options of --help missing in _pfcrypt")


if __name__ == "__main__":
    taprun.main()
