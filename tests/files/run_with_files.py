"""Runs a file-writing Python script, then a C++ test that reads what it wrote.

Usage: run_with_files.py --needs MODULES --script SCRIPT --exe EXE --dir DIR [--check CHECK]
                         [-- EXE ARGUMENTS]

SCRIPT and CHECK (if given, after the program) run as `python SCRIPT DIR`; "{dir}" in the
program's arguments stands for DIR.

Exits 77 (CTest's SKIP_RETURN_CODE for these tests) when a module in the comma-separated MODULES
cannot be imported, so that a machine without NumPy or PyTorch skips the test instead of passing it.
The C++ test finds the files through the environment variable GLORA_TEST_FILES (= DIR)."""

import argparse
import importlib
import os
import shutil
import subprocess
import sys

SKIP = 77


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--needs", default="")
    parser.add_argument("--script", required=True)
    parser.add_argument("--exe", required=True)
    parser.add_argument("--dir", required=True)
    parser.add_argument("--check")
    parser.add_argument("rest", nargs=argparse.REMAINDER)
    args = parser.parse_args()
    for module in filter(None, args.needs.split(",")):
        try:
            importlib.import_module(module)
        except ImportError:
            print(f"skipped: {sys.executable} cannot import {module}")
            return SKIP
    shutil.rmtree(args.dir, ignore_errors=True)
    os.makedirs(args.dir)
    subprocess.run([sys.executable, args.script, args.dir], check=True)
    rest = args.rest[1:] if args.rest[:1] == ["--"] else args.rest
    rest = [a.replace("{dir}", args.dir) for a in rest]
    env = dict(os.environ, GLORA_TEST_FILES=args.dir)
    status = subprocess.run([args.exe] + rest, env=env).returncode
    if status == 0 and args.check:
        status = subprocess.run([sys.executable, args.check, args.dir]).returncode
    return status


if __name__ == "__main__":
    sys.exit(main())
