"""The Swarm lab the deploy tests run on (devtools/swarmlab.py): three nodes, a registry, overlay traffic,
a host-mode port, a node lost and back, and a teardown that leaves nothing.

The tests share the session's lab and run in file order, each building on the one before.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
import urllib.request
from pathlib import Path

import pytest

from devtools.swarmlab import LABEL, LabError, SwarmLab, cgroup_dirs

from .harness import DOCKER, RUN_ID, docker

pytestmark = [pytest.mark.e2e, pytest.mark.swarm]

PROBE_FOLDER = "probe-nodes"

# Each task serves its node's name (its hostname is set from the node's) on port 8000.
WEB_COMMAND = "mkdir -p /srv/www && hostname > /srv/www/node && cd /srv/www && exec python3 -m http.server 8000"
# The front service, on node 1's host-mode port 8080: asks every task behind `tasks.probe-web`
# (dnsrr: one address per task, no virtual IP) for its node, and answers with the list.
FRONT_PROGRAM = """
import http.server, socket, urllib.request
class Front(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        tasks = sorted({info[4][0] for info in socket.getaddrinfo("tasks.probe-web", 8000, proto=socket.IPPROTO_TCP)})
        names = [urllib.request.urlopen(f"http://{task}:8000/node", timeout=2).read().decode().strip() for task in tasks]
        self.send_response(200)
        self.end_headers()
        self.wfile.write(" ".join(names).encode())
http.server.ThreadingHTTPServer(("", 8080), Front).serve_forever()
"""


def wait_for(check, what: str, timeout: float = 60):
    """check()'s first truthy value, tried every 0.3 s; fails the test after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            if last := check():
                return last
        except OSError as error:
            last = error
        time.sleep(0.3)
    pytest.fail(f"{what}: not within {timeout:.0f} s (last: {last!r})")


def front_answer(lab: SwarmLab) -> list[str]:
    with urllib.request.urlopen(lab.url(8080) + "/", timeout=5) as response:
        return sorted(response.read().decode().split())


def running_tasks(lab: SwarmLab, service: str) -> list[str]:
    """The nodes `service`'s running tasks are on, one entry per task."""
    listed = lab.docker("service", "ps", service, "--filter", "desired-state=running",
                        "--format", "{{.Node}} {{.CurrentState}}", check=True).stdout
    return sorted(line.split()[0] for line in listed.splitlines() if " Running " in f" {line} ")


@pytest.fixture(scope="module", autouse=True)
def lab_left_as_found(swarm_lab):
    """The session's lab as the deploy tests expect it: this module's services, network and files gone."""
    yield
    swarm_lab.docker("service", "rm", "probe-web", "probe-front", check=False)
    # The network goes once the services' tasks have left it.
    def network_gone() -> bool:
        swarm_lab.docker("network", "rm", "probe-net", check=False)
        return "probe-net" not in swarm_lab.docker("network", "ls", "--format", "{{.Name}}").stdout.split()

    wait_for(network_gone, "the probe network removed", timeout=30)
    shutil.rmtree(swarm_lab.shared_dir / PROBE_FOLDER, ignore_errors=True)


@pytest.fixture(scope="module")
def web_image(swarm_lab) -> str:
    """The base image, pushed from the host to the lab's registry."""
    return swarm_lab.push_image(os.environ.get("BASE_IMAGE") or "python:3.13-slim", f"lab-web-{RUN_ID}:1")


def test_every_node_is_ready_and_the_host_reaches_the_manager_api(swarm_lab):
    assert len(swarm_lab.nodes) == 3
    assert swarm_lab.node_states() == dict.fromkeys(swarm_lab.nodes, "Ready")
    answer = swarm_lab.docker("info", "--format", "{{.Swarm.LocalNodeState}} {{.Swarm.ControlAvailable}}", check=True)
    assert answer.stdout.split() == ["active", "true"], "deploy_host must be the swarm's manager"


def test_a_pushed_image_runs_as_three_tasks_on_three_nodes_and_each_answers_over_the_overlay(
        swarm_lab, web_image, report):
    lab = swarm_lab
    began = time.monotonic()
    lab.docker("network", "create", "--driver", "overlay", "--attachable", "probe-net", check=True)
    # --init: python as PID 1 would ignore SIGTERM, and each stop would wait out its 10 s.
    lab.docker("service", "create", "--detach", "--name", "probe-web", "--replicas", "3", "--init",
               "--endpoint-mode", "dnsrr", "--network", "probe-net", "--hostname", "{{.Node.Hostname}}",
               web_image, "sh", "-c", WEB_COMMAND, check=True)
    # Only the nodes' pulls from the lab registry can put a task on nodes 2 and 3: the host pushed there alone.
    placed = wait_for(lambda: (nodes := running_tasks(lab, "probe-web")) == lab.nodes and nodes, "web on every node")
    assert placed == lab.nodes

    lab.docker("service", "create", "--detach", "--name", "probe-front", "--init", "--network", "probe-net",
               "--constraint", f"node.hostname=={lab.manager}",
               "--publish", "mode=host,published=8080,target=8080",
               web_image, "python3", "-c", FRONT_PROGRAM, check=True)
    answered = wait_for(lambda: (names := front_answer(lab)) == lab.nodes and names, "an answer from each task")
    assert answered == lab.nodes
    report(f"3 tasks from the lab registry answering through node 1's port 8080 in {time.monotonic() - began:.1f} s")


def test_the_shared_folder_is_one_folder_writable_by_uid_10001_on_every_node(swarm_lab, web_image):
    # A folder of its own: other tests of the session share the lab's folder.
    shared = swarm_lab.shared_dir / PROBE_FOLDER
    shared.mkdir()
    shared.chmod(0o777)
    for node in swarm_lab.nodes:
        swarm_lab.on_node(node, "run", "--rm", "--user", "10001:10001", "--volume", f"{shared}:/shared",
                          web_image, "sh", "-c", f"echo {node} > /shared/{node}")
    assert sorted(path.read_text().strip() for path in shared.iterdir()) == swarm_lab.nodes


def test_a_stopped_node_goes_down_its_task_moves_and_it_rejoins_when_started(swarm_lab, report):
    lab = swarm_lab
    lost = lab.nodes[2]

    down_after = lab.stop_node(lost)
    moved = wait_for(lambda: len(nodes := running_tasks(lab, "probe-web")) == 3 and lost not in nodes and nodes,
                     "web's third task on the nodes left")
    assert lost not in moved
    assert lost not in wait_for(lambda: len(names := front_answer(lab)) == 3 and names, "three answers")

    ready_after = lab.start_node(lost)
    assert lab.node_states() == dict.fromkeys(lab.nodes, "Ready")
    report(f"node stopped: Down after {down_after:.1f} s; started: Ready again after {ready_after:.1f} s")


def test_teardown_leaves_no_container_volume_network_cgroup_folder_shared_folder_or_tag(swarm_lab, report):
    # A lab of its own, on the session lab's images, which stay for it (it removes them at its end).
    lab = SwarmLab.start(name=f"djlab-{RUN_ID}-down", nodes=2, keep_images=True)
    try:
        base = os.environ.get("BASE_IMAGE") or "python:3.13-slim"
        load_image(lab.nodes[1], base)
        lab.on_node(lab.nodes[1], "run", "--detach", base, "sleep", "600")
        pushed = f"{lab.registry}/left-on-the-host:1"
        docker("tag", lab.images["registry"], pushed)
        # The inner engine's container has a cgroup folder under the node's name: the check below means something.
        assert cgroup_dirs([lab.nodes[1]]), "a running nested container must have a cgroup folder"
    finally:
        began = time.monotonic()
        lab.teardown()
        report(f"a two-node lab removed in {time.monotonic() - began:.1f} s")

    assert_nothing_left(lab.name, lab.nodes, lab.shared_dir)
    assert pushed not in docker("images", "--format", "{{.Repository}}:{{.Tag}}").stdout.split()
    lab.teardown()


def test_a_start_that_fails_halfway_removes_what_it_made(swarm_lab):
    name = f"djlab-{RUN_ID}-half"
    # A container already holding node 2's name makes the start fail after the network,
    # the volumes, the registry and node 1 exist.
    blocker = docker("create", "--name", f"{name}-node2", os.environ.get("BASE_IMAGE") or "python:3.13-slim").stdout.strip()
    try:
        with pytest.raises(LabError, match=f"{name}-node2"):
            SwarmLab.start(name=name, nodes=2, keep_images=True)
    finally:
        docker("rm", "--force", "--volumes", blocker)
    assert_nothing_left(name, [f"{name}-node1", f"{name}-node2"], None)


def load_image(node: str, image: str) -> None:
    """Copy an image of the host into a node's engine, without a registry."""
    saved = subprocess.Popen([*DOCKER, "save", image], stdout=subprocess.PIPE)
    loaded = subprocess.run([*DOCKER, "exec", "-i", node, "docker", "load", "--quiet"], stdin=saved.stdout,
                            capture_output=True, text=True, timeout=120, check=False)
    saved.stdout.close()
    assert saved.wait(timeout=30) == 0 and loaded.returncode == 0, loaded.stderr


def assert_nothing_left(name: str, nodes: list[str], shared_dir: Path | None) -> None:
    for listing in (("ps", "--all"), ("volume", "ls"), ("network", "ls")):
        by_label = docker(*listing, "--quiet", "--filter", f"label={LABEL}={name}").stdout.split()
        by_name = docker(*listing, "--quiet", "--filter", f"name={name}").stdout.split()
        assert by_label == by_name == [], f"`docker {' '.join(listing)}` still lists the lab {name}"
    assert cgroup_dirs(nodes) == []
    assert not list(Path(tempfile.gettempdir()).glob(f"{name}-shared-*"))
    if shared_dir is not None:
        assert not shared_dir.exists()
