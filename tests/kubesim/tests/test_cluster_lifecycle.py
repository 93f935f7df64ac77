"""`kubesim up` / `kubesim down` (issue item 10): what they print, what they leave behind, two
clusters side by side, recovery from a crashed run, signals, non-root use, the image map."""

import json
import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest
import yaml

from conftest import (KUBESIM, ClusterHandle, Kubectl, echo_pod, process_alive, readline,
                      start_cluster, stop_cluster)
from kubesim.node.images import ImageMap


def kubectl_for(handle, tmp_path, name="home"):
    home = tmp_path / name
    home.mkdir()
    return Kubectl(handle, home)


def test_up_detach_serves_and_down_removes_everything(tmp_path):
    handle = start_cluster(tmp_path / "state")
    try:
        assert handle.netns() == [f"{handle.prefix}node"]
        kubectl = kubectl_for(handle, tmp_path)
        assert "default" in kubectl("get", "namespaces").stdout
        kubectl.apply(echo_pod("e"), "default")
        kubectl.wait_ready("default", "e")
        assert len(handle.netns()) == 2
        # A second `up` on the same state dir refuses instead of clobbering the running cluster.
        again = subprocess.run([KUBESIM, "up", "--detach", "--state", str(handle.state)],
                               capture_output=True, text=True, timeout=60)
        assert again.returncode == 1 and "already runs with state dir" in again.stderr
        assert kubectl.json("get", "pod", "e")["status"]["phase"] == "Running"
    finally:
        stop_cluster(handle)


def test_two_clusters_do_not_collide(tmp_path):
    one = start_cluster(tmp_path / "one")
    try:
        two = start_cluster(tmp_path / "two")
        try:
            assert one.cluster_id != two.cluster_id
            for handle, name in ((one, "h1"), (two, "h2")):
                k = kubectl_for(handle, tmp_path, name)
                k.apply(echo_pod("same"), "default")
                k.wait_ready("default", "same")
            assert all(n.startswith(one.prefix) for n in one.netns())
            assert len(one.netns()) == 2 and len(two.netns()) == 2
        finally:
            stop_cluster(two)
        # The first cluster still works after the second is gone (routes, namespaces intact).
        k = kubectl_for(one, tmp_path, "again")
        assert k.json("get", "pod", "same")["status"]["phase"] == "Running"
        assert "10.244.0.0/16" in subprocess.run(["ip", "route", "show", "type", "blackhole"],
                                                 capture_output=True, text=True).stdout
    finally:
        stop_cluster(one)


def test_up_removes_leftovers_of_a_crashed_run(tmp_path):
    state = tmp_path / "state"
    crashed = start_cluster(state)
    k = kubectl_for(crashed, tmp_path)
    k.apply(echo_pod("orphan"), "default")
    k.wait_ready("default", "orphan")
    kill_and_wait(crashed.pid)
    # The pod's process outlives the crashed cluster process, in its namespace.
    assert len(crashed.netns()) == 2
    fresh = start_cluster(state)
    try:
        assert fresh.cluster_id != crashed.cluster_id
        assert crashed.netns() == []
    finally:
        stop_cluster(fresh)


def kill_and_wait(pid: int) -> None:
    os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 10
    while process_alive(pid):
        assert time.monotonic() < deadline, f"pid {pid} survived SIGKILL"


def test_up_collects_clusters_whose_process_died_and_whose_state_is_gone(tmp_path):
    crashed = start_cluster(tmp_path / "a")
    k = kubectl_for(crashed, tmp_path)
    k.apply(echo_pod("orphan"), "default")
    k.wait_ready("default", "orphan")
    kill_and_wait(crashed.pid)
    shutil.rmtree(crashed.state)
    fresh = start_cluster(tmp_path / "b")
    try:
        assert crashed.netns() == []
        assert not os.path.exists(f"/run/kubesim/{crashed.cluster_id}")
    finally:
        stop_cluster(fresh)


def test_sigterm_on_foreground_up_cleans_up(tmp_path):
    state = tmp_path / "state"
    proc = subprocess.Popen([KUBESIM, "up", "--state", str(state)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        kubeconfig = readline(proc, 60).strip()
        assert kubeconfig == str(state / "kubeconfig"), proc.stderr.read() if not kubeconfig else kubeconfig
        handle = ClusterHandle(state, Path(kubeconfig))
        assert handle.netns()
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=60) == 0
        assert handle.netns() == [] and not state.exists()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_without_root_it_exits_at_once_with_a_clear_message(tmp_path):
    res = subprocess.run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
                          KUBESIM, "up", "--state", str(tmp_path / "state")],
                         capture_output=True, text=True, timeout=30)
    assert res.returncode == 1
    assert "kubesim needs root" in res.stderr
    assert not (tmp_path / "state").exists()


def test_image_map_lookup_rules(tmp_path):
    path = tmp_path / "map.yaml"
    path.write_text(yaml.safe_dump({"tether-shadow:": {"command": ["/opt/shadow"], "args": ["--x"]},
                                    "repo/app": ["/bin/app"]}))
    images = ImageMap.load(path)
    assert images.argv({"image": "tether-shadow:dev"}) == ["/opt/shadow", "--x"]
    assert images.argv({"image": "tether-shadow:dev", "args": ["--y"]}) == ["/opt/shadow", "--y"]
    assert images.argv({"image": "repo/app:1.2"}) == ["/bin/app"]
    assert images.argv({"image": "kubesim/toolbox", "command": ["sh", "-c", "true"]}) == ["sh", "-c", "true"]
    assert images.argv({"image": "unknown/thing"}) is None
    other = tmp_path / "other.json"
    other.write_text(json.dumps({"only/here": {"command": ["/bin/true"]}}))
    os.environ["KUBESIM_IMAGE_MAP"] = str(other)
    try:
        overridden = ImageMap.load(path)
    finally:
        del os.environ["KUBESIM_IMAGE_MAP"]
    assert overridden.argv({"image": "only/here"}) == ["/bin/true"]
    assert overridden.argv({"image": "tether-shadow:dev"}) is None
    # A relative program path is relative to the map file (containers run in "/").
    rel = tmp_path / "rel.yaml"
    rel.write_text(yaml.safe_dump({"local/tool": ["bin/tool", "-v"], "on/path": ["sh", "-c", "true"]}))
    relative = ImageMap.load(rel)
    assert relative.argv({"image": "local/tool"}) == [str(tmp_path / "bin" / "tool"), "-v"]
    assert relative.argv({"image": "on/path"}) == ["sh", "-c", "true"]
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump({"x/y": {"command": []}}))
    with pytest.raises(ValueError, match="non-empty command list"):
        ImageMap.load(bad)


def test_cluster_runs_images_from_the_map_file(tmp_path):
    echo = Path(__file__).resolve().parent.parent / "kubesim" / "node" / "programs" / "echo.py"
    path = tmp_path / "map.json"
    path.write_text(json.dumps({"tether-shadow:": {"command": ["/usr/bin/python3", str(echo)]}}))
    handle = start_cluster(tmp_path / "state", "--image-map", str(path))
    try:
        k = kubectl_for(handle, tmp_path)
        k("run", "shadow", "--image=tether-shadow:latest", "--port=8080")
        k.wait_ready("default", "shadow")
        assert "listening on :8080" in k("logs", "shadow").stdout
    finally:
        stop_cluster(handle)


def test_a_bad_image_map_fails_up_with_a_clear_message(tmp_path):
    state = tmp_path / "state"
    bad = tmp_path / "map.yaml"
    bad.write_text("{not yaml")
    def nodes():
        out = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
        return {line.split()[0] for line in out.splitlines() if line.split()[0].endswith("-node")}

    before = nodes()
    res = subprocess.run([KUBESIM, "up", "--detach", "--state", str(state), "--image-map", str(bad)],
                         capture_output=True, text=True, timeout=60)
    assert res.returncode == 1
    assert "cannot use the image map" in res.stderr
    # It failed before making any namespace.
    assert nodes() <= before
    down = subprocess.run([KUBESIM, "down", "--state", str(state)], capture_output=True, text=True, timeout=60)
    assert down.returncode == 0 and not state.exists()
