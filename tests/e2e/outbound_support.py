"""What the outbound tests share: a Go program that fetches a URL with net/http, built here (statically with
CGO_ENABLED=0, so an LD_PRELOAD shim cannot reach it and proxy variables are all it honours)."""
import os
import shutil
import subprocess
from pathlib import Path

FETCH_GO = """package main

import (
	"fmt"
	"io"
	"net/http"
	"os"
)

func main() {
	response, err := http.Get(os.Args[1])
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	body, _ := io.ReadAll(response.Body)
	fmt.Print(string(body))
}
"""


def build_fetch(directory: Path, static: bool = True) -> Path:
    """`directory`/fetch, built from FETCH_GO with Debian's Go (its caches inside `directory`, then removed)."""
    source = directory / "fetch.go"
    source.write_text(FETCH_GO)
    binary = directory / "fetch"
    env = {**os.environ, "GOCACHE": str(directory / "gocache"), "GOPATH": str(directory / "gopath"),
           "GO111MODULE": "off", "CGO_ENABLED": "0" if static else "1"}
    subprocess.run(["go", "build", "-o", str(binary), str(source)], check=True, env=env, capture_output=True,
                   timeout=600)
    shutil.rmtree(directory / "gocache", ignore_errors=True)
    shutil.rmtree(directory / "gopath", ignore_errors=True)
    return binary
