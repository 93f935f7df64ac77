#!/usr/bin/python3
"""Runs one transcript test against the real `tether` binary (clangd's lit tests are the model).

A transcript is the input to `tether serve --stdio`, with directives in `#` comment lines:

  # ARGS: --input-style=delimited      arguments after `serve --stdio` (this is the default)
  # EXIT: 0                            expected exit code (default 0)
  # CHECK: {json pattern}              the next output message must match the pattern
  # STDERR: text                       the log (stderr) must contain this text

Default input style is delimited: messages separated by `---` lines, `#` lines are comments, which the
binary skips itself. With `# INPUT: raw` the input is built from directives instead, to test framing:

  # FRAME: {json}                      a correctly framed message
  # BYTES: text                        raw bytes, Python escapes allowed (\\r\\n, \\x00)
  # REPEAT: x 67108865                 one byte repeated N times (oversized bodies)

A pattern matches when every key it names matches recursively; arrays must have the same length;
the string "<any>" matches any value. Every output message must be matched by a CHECK, in order.
"""
import json
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "support"))
from tethertest import framing  # noqa: E402


def decode_frames(data: bytes):
    try:
        return framing.decode_frames(data)
    except ValueError as error:
        raise AssertionError(f"stdout is not only frames: {error}") from None


def matches(pattern, actual, path="$"):
    if pattern == "<any>":
        return None
    if isinstance(pattern, dict):
        if not isinstance(actual, dict):
            return f"{path}: expected an object, got {json.dumps(actual)}"
        for key, value in pattern.items():
            if key not in actual:
                return f"{path}.{key}: missing"
            problem = matches(value, actual[key], f"{path}.{key}")
            if problem:
                return problem
        return None
    if isinstance(pattern, list):
        if not isinstance(actual, list) or len(actual) != len(pattern):
            return f"{path}: expected {json.dumps(pattern)}, got {json.dumps(actual)}"
        for index, (p, a) in enumerate(zip(pattern, actual)):
            problem = matches(p, a, f"{path}[{index}]")
            if problem:
                return problem
        return None
    if pattern != actual or type(pattern) is not type(actual):
        return f"{path}: expected {json.dumps(pattern)}, got {json.dumps(actual)}"
    return None


def build_raw_input(lines):
    data = bytearray()
    for line in lines:
        if line.startswith("# FRAME:"):
            body = line[len("# FRAME:"):].strip().encode()
            data += framing.frame(body)
        elif line.startswith("# BYTES:"):
            data += line[len("# BYTES:"):].lstrip().encode().decode("unicode_escape").encode("latin-1")
        elif line.startswith("# REPEAT:"):
            byte, count = line[len("# REPEAT:"):].split()
            data += byte.encode() * int(count)
    return bytes(data)


def main():
    binary, transcript = sys.argv[1], sys.argv[2]
    with open(transcript, encoding="utf-8") as handle:
        text = handle.read()
    lines = text.splitlines()
    args = ["--input-style=delimited"]
    exit_code = 0
    checks, stderr_expectations = [], []
    raw = False
    for line in lines:
        if line.startswith("# ARGS:"):
            args = line[len("# ARGS:"):].split()
        elif line.startswith("# EXIT:"):
            exit_code = int(line[len("# EXIT:"):])
        elif line.startswith("# CHECK:"):
            checks.append(json.loads(line[len("# CHECK:"):]))
        elif line.startswith("# STDERR:"):
            stderr_expectations.append(line[len("# STDERR:"):].strip())
        elif line.strip() == "# INPUT: raw":
            raw = True
    stdin = build_raw_input(lines) if raw else text.encode()
    if raw:
        args = [a for a in args if not a.startswith("--input-style")]
    completed = subprocess.run([binary, "serve", "--stdio", "--log-level=debug", *args], input=stdin,
                               capture_output=True, timeout=60)
    stderr = completed.stderr.decode(errors="replace")
    failures = []
    try:
        outputs = decode_frames(completed.stdout)
    except AssertionError as error:
        outputs = []
        failures.append(str(error))
    for index, pattern in enumerate(checks):
        if index >= len(outputs):
            failures.append(f"CHECK {index + 1}: no output message left for {json.dumps(pattern)}")
            continue
        problem = matches(pattern, outputs[index])
        if problem:
            failures.append(f"CHECK {index + 1}: {problem}\n  message: {json.dumps(outputs[index])}")
    for extra in outputs[len(checks):]:
        failures.append(f"unexpected output message: {json.dumps(extra)}")
    if completed.returncode != exit_code:
        failures.append(f"exit code {completed.returncode}, expected {exit_code}")
    for expected in stderr_expectations:
        if expected not in stderr:
            failures.append(f"stderr does not contain {expected!r}")
    if failures:
        print(f"{transcript}: FAILED")
        for failure in failures:
            print("  " + failure)
        print("--- stderr ---\n" + stderr[-4000:])
        return 1
    print(f"{transcript}: {len(checks)} checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
