"""Installs PufferLib's Protein (pufferlib/sweep.py) from the pufferlib sdist
on PyPI into the given venv, as the package `pufferlib` holding only sweep.py.

pufferlib 3.0.0 ships as an sdist whose setup.py downloads raylib and builds
C environments, which cannot work offline and is not needed: the benchmark
uses sweep.py alone. pip fetches and unpacks the sdist (`pip download
--no-clean`; its metadata step then fails on the raylib download, which is
expected); this script takes sweep.py unchanged and gives it the one helper
it uses from the package (`unroll_nested_dict`, taken from the same sdist's
pufferlib/pufferlib.py), so that `import pufferlib.sweep` runs PufferLib's
own code.

Usage: python install_pufferlib_sweep.py VENV [VERSION]
"""
import ast
import glob
import os
import shutil
import subprocess
import sys
import tempfile


def main():
    venv = sys.argv[1]
    version = sys.argv[2] if len(sys.argv) > 2 else "3.0.0"
    py = os.path.join(venv, "bin", "python")
    site = subprocess.check_output(
        [py, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        text=True).strip()
    target = os.path.join(site, "pufferlib")
    stamp = os.path.join(target, "VERSION")
    if os.path.exists(stamp) and open(stamp).read().strip() == version:
        return
    with tempfile.TemporaryDirectory() as tmp:
        env = dict(os.environ, TMPDIR=tmp)
        subprocess.run([py, "-m", "pip", "download", "-q", "--no-clean", "--no-deps",
                        "--no-build-isolation", "pufferlib==" + version,
                        "-d", os.path.join(tmp, "dl")],
                       env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        found = glob.glob(os.path.join(tmp, "pip-download-*", "pufferlib*", "pufferlib", "sweep.py"))
        if not found:
            sys.exit("install_pufferlib_sweep: pip did not unpack pufferlib==%s "
                     "(no pufferlib/sweep.py under %s)" % (version, tmp))
        src = os.path.dirname(found[0])
        helper_src = open(os.path.join(src, "pufferlib.py")).read()
        helper = next(n for n in ast.parse(helper_src).body
                      if isinstance(n, ast.FunctionDef) and n.name == "unroll_nested_dict")
        os.makedirs(target, exist_ok=True)
        shutil.copy(found[0], os.path.join(target, "sweep.py"))
        with open(os.path.join(target, "__init__.py"), "w") as f:
            f.write('"""pufferlib %s from PyPI: sweep.py only (see the peer benchmark\'s '
                    'install_pufferlib_sweep.py)."""\n__version__ = "%s"\n\n\n%s\n'
                    % (version, version, ast.get_source_segment(helper_src, helper)))
        with open(stamp, "w") as f:
            f.write(version + "\n")
    print("installed pufferlib %s sweep.py into %s" % (version, target))


if __name__ == "__main__":
    main()
