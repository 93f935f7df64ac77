#!/usr/bin/python3
"""The arrow check must pass on the real tree and fail on a copy where server/kube includes server/tunnel
or server/core includes Boost.JSON; a check that never fails would protect nothing."""
import pathlib
import shutil
import subprocess
import sys
import tempfile

cmake, root = sys.argv[1], pathlib.Path(sys.argv[2])


def check(tree):
    return subprocess.run([cmake, f"-DROOT={tree}", "-P", str(root / "cmake/CheckArrows.cmake")],
                          capture_output=True, text=True)


real = check(root)
assert real.returncode == 0, "the real tree violates the arrows:\n" + real.stderr

for module, include, expected in [
        ("server/kube", '#include "server/tunnel/Mux.hpp"', "server/kube may not include server/tunnel/Mux.hpp"),
        ("server/core", "#include <boost/json.hpp>", "server/core may not include <boost/json.hpp>"),
        ("protocol/jsonrpc", '#include "server/rpc/Dispatcher.hpp"', "protocol/jsonrpc may not include server/rpc")]:
    with tempfile.TemporaryDirectory() as tmp:
        tree = pathlib.Path(tmp)
        (tree / module).mkdir(parents=True)
        (tree / module / "Bad.cpp").write_text(include + "\n")
        result = check(tree)
        assert result.returncode != 0, f"{module}: a forbidden include passed the check"
        # CMake wraps long messages, so compare with whitespace collapsed.
        assert expected in " ".join(result.stderr.split()), f"{module}: unexpected message:\n{result.stderr}"
print("arrow check rejects forbidden includes and accepts the real tree")
