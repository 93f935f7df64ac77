"""Maps container image names to local programs.

There is no container engine: an image is just a name that says which program to start.
The built-in kubesim/* images are Python programs shipped here. A map file (YAML or JSON,
given by --image-map or $KUBESIM_IMAGE_MAP) adds more, for example
`{"tether-shadow:": {"command": ["/path/to/shadow"]}}` for the binary the C++ build produces.

Lookup order: the exact image name, the name without its tag or digest, then the longest key
that is a prefix of the image. An image that matches nothing cannot be "pulled", exactly as an
unknown image on a real cluster.
"""

import json
import os
import sys
from pathlib import Path

import yaml

PROGRAMS = Path(__file__).resolve().parent / "programs"
PYTHON = "/usr/bin/python3"
ENV_VAR = "KUBESIM_IMAGE_MAP"

BUILTINS: dict[str, dict] = {
    "kubesim/echo": {"command": [PYTHON, str(PROGRAMS / "echo.py")]},
    "kubesim/toolbox": {"command": [PYTHON, str(PROGRAMS / "idle.py"), "toolbox"]},
    "kubesim/pause": {"command": [PYTHON, str(PROGRAMS / "idle.py"), "pause"]},
}


def _strip_tag(image: str) -> str:
    if "@" in image:
        image = image.split("@", 1)[0]
    last = image.rsplit("/", 1)[-1]
    if ":" in last:
        image = image[: len(image) - len(last)] + last.split(":", 1)[0]
    return image


class ImageMap:
    def __init__(self, entries: dict[str, dict] | None = None, base: Path | None = None):
        """entries as in a map file; a relative program path (one with a "/") is taken
        relative to `base`, the map file's directory, since containers run in "/"."""
        self.entries = dict(BUILTINS)
        for key, value in (entries or {}).items():
            if isinstance(value, list):
                value = {"command": value}
            if not isinstance(value, dict) or not isinstance(value.get("command"), list) \
                    or not value["command"] or not all(isinstance(a, str) for a in value["command"]):
                raise ValueError(f"image map entry {key!r} needs a non-empty command list")
            value = dict(value)
            program = value["command"][0]
            if base is not None and "/" in program and not os.path.isabs(program):
                value["command"] = [str((base / program).resolve())] + value["command"][1:]
            self.entries[key] = value

    @classmethod
    def load(cls, path: str | os.PathLike | None = None) -> "ImageMap":
        """Reads the map from `path`, else from $KUBESIM_IMAGE_MAP, else built-ins only."""
        path = os.environ.get(ENV_VAR) or path
        if not path:
            return cls()
        text = Path(path).read_text()
        data = json.loads(text) if text.lstrip().startswith("{") else yaml.safe_load(text)
        if data is None:
            data = {}
        if not isinstance(data, dict):
            raise ValueError(f"image map {path} must be a mapping of image -> entry")
        return cls(data, Path(path).resolve().parent)

    def resolve(self, image: str) -> dict | None:
        """Returns {"command": [...], "args": [...]} for `image`, or None if unknown."""
        for key in (image, _strip_tag(image)):
            if key in self.entries:
                return self.entries[key]
        best = None
        for key in self.entries:
            if image.startswith(key) and (best is None or len(key) > len(best)):
                best = key
        return self.entries[best] if best else None

    def argv(self, container: dict) -> list[str] | None:
        """The argv for a container, with Kubernetes command/args override rules.

        `command` replaces the image's entrypoint (and drops its default args); `args`
        replaces the default args. None means the image cannot be resolved.
        """
        entry = self.resolve(container.get("image", ""))
        if entry is None:
            return None
        if container.get("command"):
            return list(container["command"]) + list(container.get("args") or [])
        args = container.get("args")
        return list(entry["command"]) + list(args if args is not None else entry.get("args", []))


if __name__ == "__main__":
    print(ImageMap.load(sys.argv[1] if len(sys.argv) > 1 else None).entries)
