#!/usr/bin/python3
"""Every C++ source and header in the tree matches .clang-format.

Usage: check_format.py ROOT [--self-test]. Without --self-test it checks ROOT and names every file that
differs, with the command that fixes it. With --self-test it also proves the check can fail: a copy of
.clang-format next to a badly formatted file must be reported. In a git work tree the files are the tracked
ones; elsewhere the tree is walked, skipping build trees and node_modules. No file at all is a failure: a
wrong ROOT must not pass.
"""
import pathlib
import shutil
import subprocess
import sys
import tempfile

SUFFIXES = {".cpp", ".hpp", ".h", ".cc"}
SKIPPED_DIRS = {"build", "node_modules", ".git", ".vscode-test"}
# The tree is formatted with Debian 12's clang-format 14; other versions wrap some lines differently.
FORMATTER = shutil.which("clang-format-14") or "clang-format"


def sources(root):
    tracked = subprocess.run(["git", "-C", str(root), "ls-files", "-z", "--", *(f"*{s}" for s in SUFFIXES)],
                             capture_output=True, text=True)
    if tracked.returncode == 0 and subprocess.run(
            ["git", "-C", str(root), "rev-parse", "--show-toplevel"], capture_output=True,
            text=True).stdout.strip() == str(root):
        return sorted(root / name for name in tracked.stdout.split("\0") if name and (root / name).is_file())
    return [path for path in sorted(root.rglob("*"))
            if path.suffix in SUFFIXES and path.is_file()
            and not SKIPPED_DIRS.intersection(path.relative_to(root).parts)]


def misformatted(root):
    """The files clang-format would change, relative to root."""
    files = sources(root)
    if not files:
        raise SystemExit(f"no C++ file under {root}: is that the repository's root?")
    result = subprocess.run([FORMATTER, "--dry-run", "-Werror", *map(str, files)],
                            capture_output=True, text=True, cwd=root)
    if result.returncode == 0:
        return []
    named = set()
    for line in result.stderr.splitlines():
        # "path/File.cpp:12:3: error: code should be clang-formatted [-Wclang-format-violations]"
        if ": error: code should be clang-formatted" in line:
            named.add(pathlib.Path(line.split(":", 1)[0]).resolve().relative_to(root.resolve()))
    if not named:
        raise SystemExit("clang-format failed without naming a file:\n" + result.stderr)
    return sorted(named)


def main():
    root = pathlib.Path(sys.argv[1]).resolve()
    if "--self-test" in sys.argv[2:]:
        with tempfile.TemporaryDirectory() as tmp:
            tree = pathlib.Path(tmp)
            shutil.copy(root / ".clang-format", tree / ".clang-format")
            (tree / "server").mkdir()
            (tree / "server" / "Good.cpp").write_text("int answer() {\n  return 42;\n}\n")
            (tree / "server" / "Bad.cpp").write_text("int  answer( ){return 42;}\n")
            (tree / "build").mkdir()
            (tree / "build" / "Generated.cpp").write_text("int  skipped( ){return 0;}\n")
            found = misformatted(tree)
            assert found == [pathlib.Path("server/Bad.cpp")], f"the check reported {found}, not server/Bad.cpp"
        print("the format check reports a misformatted file and skips build trees")
        return
    found = misformatted(root)
    if found:
        print(f"{len(found)} file(s) do not match .clang-format:")
        for path in found:
            print(f"  {path}")
        print(f"fix with: {pathlib.Path(FORMATTER).name} -i " + " ".join(map(str, found)))
        sys.exit(1)
    print(f"{len(sources(root))} C++ files match .clang-format")


if __name__ == "__main__":
    main()
