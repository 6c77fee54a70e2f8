#!/usr/bin/env python3
"""fetch_pufferlib.py - keeps PufferLib's own sources (pufferlib/*.py and
its config/ directory, unmodified) from its sdist on PyPI in DEST, for the
fidelity test of PufferLib INIs (pufferlib_space.py runs PufferLib's config
loader and space building from them).

The package itself cannot be installed here: its setup.py downloads raylib
and builds C environments, and pufferl.py imports torch. pip fetches and
unpacks the sdist (`pip download --no-clean`; its metadata step then fails
on the raylib download, which is expected), as
tests/bench/peers/install_pufferlib_sweep.py does for sweep.py.

usage: fetch_pufferlib.py PYTHON DEST [VERSION]   (VERSION: 3.0.0)
  leaves DEST/pufferlib/{pufferl,sweep,pufferlib}.py, DEST/pufferlib/config
  and DEST/VERSION; does nothing when DEST/VERSION already says VERSION.
"""
import glob
import os
import shutil
import subprocess
import sys
import tempfile


def main():
    py, dest = sys.argv[1], sys.argv[2]
    version = sys.argv[3] if len(sys.argv) > 3 else "3.0.0"
    stamp = os.path.join(dest, "VERSION")
    if os.path.exists(stamp) and open(stamp).read().strip() == version:
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run([py, "-m", "pip", "download", "-q", "--no-clean",
                        "--no-deps", "--no-build-isolation",
                        "--disable-pip-version-check", "pufferlib==" + version,
                        "-d", os.path.join(tmp, "dl")],
                       env=dict(os.environ, TMPDIR=tmp),
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        found = glob.glob(os.path.join(tmp, "pip-download-*", "pufferlib*",
                                       "pufferlib", "pufferl.py"))
        if not found:
            sys.exit("fetch_pufferlib: pip did not unpack pufferlib==%s" %
                     version)
        src = os.path.dirname(found[0])
        if os.path.exists(dest):
            shutil.rmtree(dest)
        os.makedirs(os.path.join(dest, "pufferlib"))
        for name in ("pufferl.py", "sweep.py", "pufferlib.py"):
            shutil.copy(os.path.join(src, name),
                        os.path.join(dest, "pufferlib", name))
        shutil.copytree(os.path.join(src, "config"),
                        os.path.join(dest, "pufferlib", "config"))
    with open(stamp, "w") as f:
        f.write(version + "\n")
    print("fetch_pufferlib: pufferlib %s sources in %s" % (version, dest))
    return 0


if __name__ == "__main__":
    sys.exit(main())
