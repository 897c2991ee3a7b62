#!/usr/bin/env python3
"""A three-node Docker Swarm and an image registry on one machine, for deploy tests and benchmarks.

    with SwarmLab.start(published_ports=(8080,)) as lab:
        ref = lab.push_image("local/python:3.13-slim-trixie", "web:1")   # "127.0.0.1:R/web:1"
        lab.docker("service", "create", "--name", "web", "--endpoint-mode", "dnsrr",
                   "--constraint", f"node.hostname=={lab.manager}",
                   "--publish", "mode=host,published=8080,target=8080", ref, "python3", "-m", "http.server", "8080")
        urllib.request.urlopen(lab.url(8080))

Each node is a container running Debian's Docker Engine (Docker-in-Docker, without
--privileged: see NODE_SECURITY), on a bridge network of the lab's own. Node 1 is the
manager; its engine API and the ports a test publishes on it (in `mode: host`) are
published on 127.0.0.1 of the host. The registry is published on 127.0.0.1:R of the
host, and every node forwards its own 127.0.0.1:R to it, so `127.0.0.1:R/repo:tag` is
one name for the host's pushes and the nodes' pulls; loopback registries need no TLS.

Everything the lab makes carries the label `django-docker.lab=<name>`, so `teardown()`
finds it whatever broke, also from another process (`SwarmLab.attach(name)`, or
`python -m devtools.swarmlab down NAME`). The lab's two images are cached under tags
hashed from their build files and the base image; `teardown()` removes them unless
KEEP_LAB_IMAGES=1 (BuildKit's layer cache still makes the next build take seconds).

Needs a Docker engine that may run containers with every capability but
CAP_SYS_RESOURCE, with cgroup folders writable through a bind mount (a rootful engine
on Linux). The base image must be Debian 13 or newer with python3 (its Docker Engine
is 26.1, with `docker-cli` packaged apart).
"""

from __future__ import annotations

import argparse
import concurrent.futures
import hashlib
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Self

BUILD_DIR = Path(__file__).with_suffix("")
LABEL = "django-docker.lab"
ROLE_LABEL = f"{LABEL}.role"
SHARED_LABEL = f"{LABEL}.shared-dir"
BASE_LABEL = f"{LABEL}.base-image"
IMAGE_LABEL = f"{LABEL}.image"
IMAGE_REPOSITORY = "django-docker-lab"
IMAGE_KINDS = ("node", "registry")
DEFAULT_BASE_IMAGE = "python:3.13-slim"
CGROUP_ROOT = Path("/sys/fs/cgroup")
# Where the nodes find the registry on the lab network.
REGISTRY_ALIAS = "registry"
REGISTRY_PORT = 5000
API_PORT = 2375
# --privileged fails where the host's capability bounding set lacks CAP_SYS_RESOURCE
# ("unable to apply caps"); these are what the nested engine needs instead. Its
# containers' cgroups are made through the host's hierarchy, mounted writable, from the
# host's cgroup namespace (the default on cgroup v1; v2 hosts give containers their own).
NODE_SECURITY = (
    "--cap-add", "ALL", "--cap-drop", "SYS_RESOURCE", "--cgroupns", "host",
    "--security-opt", "seccomp=unconfined",
    "--security-opt", "apparmor=unconfined",
    "--security-opt", "systempaths=unconfined",
    "--volume", f"{CGROUP_ROOT}:{CGROUP_ROOT}:rw",
)
# A stopped node is marked Down after a few missed heartbeats: 2 s instead of Swarm's 5 s.
DISPATCHER_HEARTBEAT = "2s"
NAME_PATTERN = re.compile(r"[a-z][a-z0-9-]{0,39}")
# The lab is on loopback: an http_proxy from the environment must not be asked for it.
DIRECT = urllib.request.build_opener(urllib.request.ProxyHandler({}))


class LabError(RuntimeError):
    """A step of the lab failed; the message names the step and ends with what docker said."""


def docker_command() -> list[str]:
    """The docker client: DOCKER from the environment (split like a shell would), else `docker`."""
    return shlex.split(os.environ.get("DOCKER", "docker")) or ["docker"]


def random_name() -> str:
    return f"djlab-{uuid.uuid4().hex[:6]}"


def check_name(name: str) -> str:
    """`name` itself; ValueError unless it is a lowercase letter, then up to 39 letters, digits or dashes.

    It becomes container, network, volume and host names and cgroup folders, so it is kept to what all allow.
    """
    if not NAME_PATTERN.fullmatch(name):
        raise ValueError(f"lab name {name!r}: a lowercase letter, then up to 39 lowercase letters, digits or dashes")
    return name


def node_names(name: str, count: int) -> list[str]:
    """The node container names, which are also their hostnames in the swarm: `<name>-node1` first."""
    if count < 1:
        raise ValueError(f"a lab needs at least one node, not {count}")
    return [f"{name}-node{index}" for index in range(1, count + 1)]


def node_index(node: str) -> int:
    """1 for `<lab>-node1` (or `/<lab>-node1`, as docker inspect names it); 0 for a name without one."""
    digits = re.search(r"-node(\d+)$", node)
    return int(digits.group(1)) if digits else 0


def image_tag(kind: str, base_image_id: str, build_dir: Path = BUILD_DIR) -> str:
    """`django-docker-lab/<kind>:<12 hex digits>`, hashed from the files of `build_dir/kind` and the base image's ID.

    A change to either gives a new tag, so a cached image is never stale.
    """
    digest = hashlib.sha256(base_image_id.encode())
    folder = build_dir / kind
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        digest.update(str(path.relative_to(folder)).encode() + b"\0")
        digest.update(path.read_bytes() + b"\0")
    return f"{IMAGE_REPOSITORY}/{kind}:{digest.hexdigest()[:12]}"


def build_args(kind: str, tag: str, base_image: str, extra_ca: Path | None,
               build_dir: Path = BUILD_DIR) -> list[str]:
    """Arguments after `docker` that build one lab image. Never --no-cache: with a concurrent build
    it can make Docker 20.10's BuildKit panic (moby/moby#42414)."""
    args = ["build", "--quiet", "--build-arg", f"BASE_IMAGE={base_image}",
            "--label", f"{IMAGE_LABEL}={kind}", "--tag", tag]
    if extra_ca is not None:
        args += ["--secret", f"id=extra_ca,src={extra_ca}"]
    return [*args, str(build_dir / kind)]


def registry_run_args(name: str, image: str) -> list[str]:
    """Arguments after `docker` that start the lab's registry, published on a random port of 127.0.0.1."""
    return [
        "run", "--detach", "--name", f"{name}-registry",
        "--label", f"{LABEL}={name}", "--label", f"{ROLE_LABEL}=registry",
        "--network", name, "--network-alias", REGISTRY_ALIAS,
        "--publish", f"127.0.0.1::{REGISTRY_PORT}",
        "--volume", f"{name}-registry:/var/lib/docker-registry",
        image,
    ]


def node_run_args(name: str, node: str, image: str, *, manager: bool, registry_port: int,
                  shared_dir: Path, base_image: str, published_ports: Sequence[int] = ()) -> list[str]:
    """Arguments after `docker` that start one node.

    Its /var/lib/docker is the labelled volume `<node>-docker`; `shared_dir` is mounted at
    its own path. The manager's engine API (2375) and `published_ports` are published on
    random ports of 127.0.0.1; a worker publishes nothing.
    """
    args = [
        "run", "--detach", "--name", node, "--hostname", node,
        "--label", f"{LABEL}={name}", "--label", f"{ROLE_LABEL}={'manager' if manager else 'worker'}",
        "--label", f"{SHARED_LABEL}={shared_dir}", "--label", f"{BASE_LABEL}={base_image}",
        *NODE_SECURITY,
        "--network", name,
        "--volume", f"{node}-docker:/var/lib/docker",
        "--volume", f"{shared_dir}:{shared_dir}",
        "--env", f"LAB_REGISTRY_PORT={registry_port}",
        "--env", f"LAB_REGISTRY={REGISTRY_ALIAS}:{REGISTRY_PORT}",
    ]
    if manager:
        for port in (API_PORT, *published_ports):
            args += ["--publish", f"127.0.0.1::{port}"]
    return [*args, image]


def cgroup_dirs(nodes: Iterable[str], root: Path | None = None) -> list[Path]:
    """The cgroup folders the nodes' engines made: `root/<node>` (cgroup v2) and `root/*/<node>` (v1).

    `root` is /sys/fs/cgroup (CGROUP_ROOT) unless given.
    """
    root = root or CGROUP_ROOT
    found = []
    for node in nodes:
        found += [path for path in (root / node, *root.glob(f"*/{node}")) if path.is_dir()]
    return found


def remove_tree_of_dirs(top: Path) -> None:
    """rmdir every folder under `top`, deepest first, then `top`: what cgroup folders allow.

    Raises OSError from the first one that cannot go (EBUSY while a process is still in it).
    """
    for parent, dirs, _files in os.walk(top, topdown=False):
        for child in dirs:
            path = Path(parent, child)
            if not path.is_symlink():
                path.rmdir()
    top.rmdir()


@dataclass
class Leftovers:
    """What `leftovers()` found of a lab: container, volume and network names, cgroup folders and image tags."""

    containers: list[str] = field(default_factory=list)
    volumes: list[str] = field(default_factory=list)
    networks: list[str] = field(default_factory=list)
    cgroups: list[str] = field(default_factory=list)
    images: list[str] = field(default_factory=list)
    shared_dir: str | None = None

    def __bool__(self) -> bool:
        return any((self.containers, self.volumes, self.networks, self.cgroups, self.images, self.shared_dir))

    def __str__(self) -> str:
        parts = [f"{kind}: {', '.join(names)}" for kind, names in
                 (("containers", self.containers), ("volumes", self.volumes), ("networks", self.networks),
                  ("cgroup folders", self.cgroups), ("images", self.images)) if names]
        if self.shared_dir:
            parts.append(f"shared folder: {self.shared_dir}")
        return "; ".join(parts) or "nothing"


@dataclass
class SwarmLab:
    """A running lab; make one with `SwarmLab.start()` (or `attach()`), end it with `teardown()`.

    name          the label value and the prefix of every name the lab uses
    nodes         node names, which are their swarm hostnames: the manager first
    deploy_host   "tcp://127.0.0.1:PORT": the manager's engine API, for DOCKER_HOST
    registry      "127.0.0.1:PORT": push to it from the host, pull from it on every node
    shared_dir    a host folder mounted at the same path in every node, writable by any uid
    ports         {port published on node 1: its port on 127.0.0.1 of the host}
    timings       seconds each start step took: "images", "nodes", "swarm", "total"
    """

    name: str
    nodes: list[str] = field(default_factory=list)
    deploy_host: str = ""
    registry: str = ""
    shared_dir: Path | None = None
    ports: dict[int, int] = field(default_factory=dict)
    base_image: str = DEFAULT_BASE_IMAGE
    images: dict[str, str] = field(default_factory=dict)
    keep_images: bool = False
    timings: dict[str, float] = field(default_factory=dict)
    docker_argv: list[str] = field(default_factory=docker_command)

    # ---- making one ----

    @classmethod
    def start(cls, name: str | None = None, base_image: str | None = None, nodes: int = 3,
              published_ports: Sequence[int] = (), extra_ca: str | Path | None = None,
              keep_images: bool | None = None, timeout: float = 180) -> SwarmLab:
        """Build (or reuse) the images, start the registry and `nodes` nodes, and join them in a swarm.

        name             default `djlab-<6 hex digits>`; ValueError if not a valid name (see check_name)
        base_image       default BASE_IMAGE from the environment, else python:3.13-slim; pulled if missing
        published_ports  ports on node 1 to publish on 127.0.0.1 (for `mode: host` service ports)
        extra_ca         a PEM file trusted by apt in the image builds (a TLS-intercepting proxy's CA)
        keep_images      keep the lab's images at teardown; default: KEEP_LAB_IMAGES=1 in the environment
        timeout          seconds for the nodes to answer and then to be Ready in the swarm

        Returns when every node is Ready and the registry answers. On any failure
        (LabError, or an interruption) everything made so far is removed before it raises.
        """
        lab = cls(
            name=check_name(name or random_name()),
            base_image=base_image or os.environ.get("BASE_IMAGE") or DEFAULT_BASE_IMAGE,
            keep_images=os.environ.get("KEEP_LAB_IMAGES") == "1" if keep_images is None else keep_images,
        )
        names = node_names(lab.name, nodes)
        if any(not 0 < port < 65536 for port in published_ports):
            raise ValueError(f"published ports must be between 1 and 65535: {tuple(published_ports)}")
        try:
            lab._start(names, tuple(published_ports), Path(extra_ca) if extra_ca else None, timeout)
        except BaseException as error:
            try:
                lab.teardown()
            except LabError as cleanup:
                error.add_note(f"and the cleanup after it left {cleanup}")
            raise
        return lab

    @classmethod
    def attach(cls, name: str) -> SwarmLab:
        """The lab called `name` as its labels describe it, e.g. to tear down one another process left.

        Works on a partial lab too; LabError only when docker cannot be asked.
        """
        lab = cls(name=check_name(name))
        for network in lab._labelled("network", "ls", "--quiet"):
            labels = json.loads(lab._docker("network", "inspect", "--format", "{{json .Labels}}", network,
                                            what="inspect the lab network").stdout or "{}") or {}
            if shared := labels.get(SHARED_LABEL):
                lab.shared_dir = Path(shared)
        found = lab._labelled("ps", "--all", "--quiet")
        if found:
            details = json.loads(lab._docker("inspect", *found, what="inspect the lab's containers").stdout)
            nodes = sorted((c for c in details if c["Config"]["Labels"].get(ROLE_LABEL) in ("manager", "worker")),
                           key=lambda c: (c["Config"]["Labels"][ROLE_LABEL] != "manager", node_index(c["Name"])))
            lab.nodes = [c["Name"].lstrip("/") for c in nodes]
            for container in details:
                labels = container["Config"]["Labels"]
                if shared := labels.get(SHARED_LABEL):
                    lab.shared_dir = Path(shared)
                lab.base_image = labels.get(BASE_LABEL, lab.base_image)
                kind = "registry" if labels.get(ROLE_LABEL) == "registry" else "node"
                lab.images[kind] = container["Config"]["Image"]
            lab._read_addresses(details)
        lab.keep_images = os.environ.get("KEEP_LAB_IMAGES") == "1"
        return lab

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info) -> None:
        self.teardown()

    def _start(self, names: list[str], published_ports: tuple[int, ...], extra_ca: Path | None,
               timeout: float) -> None:
        began = time.monotonic()
        self._build_images(extra_ca)
        self.timings["images"] = time.monotonic() - began

        step = time.monotonic()
        label = ("--label", f"{LABEL}={self.name}")
        self.shared_dir = Path(tempfile.mkdtemp(prefix=f"{self.name}-shared-"))
        # Any uid: the services write there as their own user (the project's runs as 10001).
        self.shared_dir.chmod(0o777)
        # The network names the shared folder too, for attach() to find it when no node started.
        self._docker("network", "create", *label, "--label", f"{SHARED_LABEL}={self.shared_dir}", self.name,
                     what="create the lab network")
        for volume in (f"{self.name}-registry", *(f"{node}-docker" for node in names)):
            self._docker("volume", "create", *label, volume, what=f"create the volume {volume}")
        self._docker(*registry_run_args(self.name, self.images["registry"]), what="start the registry")
        registry_port = self._published_port(f"{self.name}-registry", REGISTRY_PORT)
        self.registry = f"127.0.0.1:{registry_port}"
        self.nodes = names

        def run_node(node: str) -> None:
            manager = node == names[0]
            args = node_run_args(self.name, node, self.images["node"], manager=manager, registry_port=registry_port,
                                 shared_dir=self.shared_dir, base_image=self.base_image,
                                 published_ports=published_ports if manager else ())
            self._docker(*args, what=f"start the node {node}")

        parallel(run_node, names)
        self.deploy_host = f"tcp://127.0.0.1:{self._published_port(names[0], API_PORT)}"
        self.ports = {port: self._published_port(names[0], port) for port in published_ports}
        deadline = time.monotonic() + timeout
        parallel(lambda node: self._wait_for_engine(node, deadline), names)
        self.timings["nodes"] = time.monotonic() - step

        step = time.monotonic()
        manager = names[0]
        self.on_node(manager, "swarm", "init", "--advertise-addr", "eth0",
                     "--dispatcher-heartbeat", DISPATCHER_HEARTBEAT, what="start the swarm")
        token = self.on_node(manager, "swarm", "join-token", "--quiet", "worker",
                             what="read the join token").stdout.strip()
        address = self._docker("inspect", "--format",
                               f"{{{{(index .NetworkSettings.Networks {json.dumps(self.name)}).IPAddress}}}}",
                               manager, what="read the manager's address").stdout.strip()
        # The interface rather than an address: a node that is restarted may get another one.
        parallel(lambda node: self.on_node(node, "swarm", "join", "--advertise-addr", "eth0", "--token", token,
                                           f"{address}:2377", what=f"join {node} to the swarm"), names[1:])
        self.wait_until_nodes(dict.fromkeys(names, "Ready"), timeout=max(1.0, deadline - time.monotonic()))
        self._wait_for_registry(deadline)
        self.timings["swarm"] = time.monotonic() - step
        self.timings["total"] = time.monotonic() - began

    def _build_images(self, extra_ca: Path | None) -> None:
        if extra_ca is not None and not extra_ca.is_file():
            raise LabError(f"the extra CA {extra_ca} is not a file")
        inspected = self._docker("image", "inspect", "--format", "{{.Id}}", self.base_image, check=False)
        if inspected.returncode != 0:
            self._docker("pull", "--quiet", self.base_image, what=f"pull the base image {self.base_image}",
                         timeout=600)
            inspected = self._docker("image", "inspect", "--format", "{{.Id}}", self.base_image,
                                     what=f"inspect the base image {self.base_image}")
        base_id = inspected.stdout.strip()
        self.images = {kind: image_tag(kind, base_id) for kind in IMAGE_KINDS}

        def build(kind: str) -> None:
            tag = self.images[kind]
            if self._docker("image", "inspect", tag, check=False).returncode != 0:
                self._docker(*build_args(kind, tag, self.base_image, extra_ca), what=f"build the lab's {kind} image",
                             env={"DOCKER_BUILDKIT": "1"}, timeout=900)

        parallel(build, IMAGE_KINDS)

    def _wait_for_engine(self, node: str, deadline: float) -> None:
        while True:
            if self.on_node(node, "version", "--format", "{{.Server.Version}}", check=False).returncode == 0:
                return
            state = self._docker("inspect", "--format", "{{.State.Status}}", node, check=False).stdout.strip()
            if state != "running" or time.monotonic() > deadline:
                logs = self._docker("logs", "--tail", "15", node, check=False)
                raise LabError(f"the engine in {node} did not answer (container {state or 'gone'}):\n"
                               f"{(logs.stdout + logs.stderr).strip()}")
            time.sleep(0.3)

    def _wait_for_registry(self, deadline: float) -> None:
        while True:
            try:
                with DIRECT.open(f"http://{self.registry}/v2/", timeout=2) as answer:
                    if answer.status == 200:
                        return
            except (OSError, urllib.error.URLError):
                pass
            if time.monotonic() > deadline:
                logs = self._docker("logs", "--tail", "15", f"{self.name}-registry", check=False)
                raise LabError(f"the registry at {self.registry} did not answer:\n{(logs.stdout + logs.stderr).strip()}")
            time.sleep(0.2)

    def _published_port(self, container: str, port: int) -> int:
        said = self._docker("port", container, f"{port}/tcp", what=f"read {container}'s port {port}").stdout
        return int(said.split()[0].rpartition(":")[2])

    def _read_addresses(self, details: list[dict]) -> None:
        for container in details:
            bindings = container["NetworkSettings"]["Ports"] or {}
            host_port = {int(key.partition("/")[0]): int(value[0]["HostPort"])
                         for key, value in bindings.items() if value}
            role = container["Config"]["Labels"].get(ROLE_LABEL)
            if role == "registry" and REGISTRY_PORT in host_port:
                self.registry = f"127.0.0.1:{host_port[REGISTRY_PORT]}"
            elif role == "manager":
                if API_PORT in host_port:
                    self.deploy_host = f"tcp://127.0.0.1:{host_port.pop(API_PORT)}"
                self.ports = host_port

    # ---- using one ----

    @property
    def manager(self) -> str:
        return self.nodes[0]

    def url(self, port: int) -> str:
        """"http://127.0.0.1:PORT": where node 1's `port` answers on the host. ValueError if it was not published."""
        if port not in self.ports:
            raise ValueError(f"port {port} is not published on the lab: SwarmLab.start(published_ports=({port},))")
        return f"http://127.0.0.1:{self.ports[port]}"

    def env(self) -> dict[str, str]:
        """The environment for a docker client (or a deploy tool) aimed at the lab's manager."""
        environ = {k: v for k, v in os.environ.items() if k not in ("DOCKER_CONTEXT", "DOCKER_TLS_VERIFY", "DOCKER_CERT_PATH")}
        return {**environ, "DOCKER_HOST": self.deploy_host}

    def docker(self, *args: str, check: bool = True, timeout: float = 300,
               input: str | None = None) -> subprocess.CompletedProcess[str]:
        """`docker ARGS` against the manager (DOCKER_HOST=deploy_host) with the host's client; output captured as text.

        With check=True a non-zero exit raises LabError with docker's error output.
        """
        return self._docker(*args, check=check, timeout=timeout, input=input, env=self.env(), replace_env=True,
                            what=f"run `docker {shlex.join(args)}` on the lab")

    def on_node(self, node: str, *args: str, check: bool = True, what: str = "",
                timeout: float = 300) -> subprocess.CompletedProcess[str]:
        """`docker ARGS` run inside `node` with its own client (the node's Engine 26). LabError on failure with check."""
        return self._docker("exec", node, "docker", *args, check=check, timeout=timeout,
                            what=what or f"run `docker {shlex.join(args)}` in {node}")

    def node_states(self) -> dict[str, str]:
        """{hostname: "Ready" | "Down" | "Unknown" | ...} as the manager sees the nodes."""
        listed = self.on_node(self.manager, "node", "ls", "--format", "{{.Hostname}} {{.Status}}",
                              what="list the swarm's nodes")
        return dict(line.split(maxsplit=1) for line in listed.stdout.splitlines() if line.strip())

    def wait_until_nodes(self, wanted: dict[str, str], timeout: float = 60) -> float:
        """Wait until each named node has its wanted status; returns the seconds it took. LabError after `timeout` s."""
        began = time.monotonic()
        while True:
            states = self.node_states()
            if all(states.get(node) == status for node, status in wanted.items()):
                return time.monotonic() - began
            if time.monotonic() - began > timeout:
                raise LabError(f"nodes not as wanted after {timeout:.0f} s: wanted {wanted}, have {states}")
            time.sleep(0.3)

    def stop_node(self, node: str, *, wait: bool = True, grace: float = 10) -> float:
        """Stop a worker's container (its engine gets `grace` seconds), and with `wait` wait until the manager marks it Down.

        Returns the seconds from the stop until Down (0 without `wait`). ValueError for the manager
        or a name not in the lab; LabError if it is not marked Down within 60 s.
        """
        self._check_worker(node)
        began = time.monotonic()
        self._docker("stop", "--time", str(int(grace)), node, what=f"stop {node}", timeout=grace + 60)
        if not wait:
            return 0.0
        self.wait_until_nodes({node: "Down"})
        return time.monotonic() - began

    def start_node(self, node: str, *, wait: bool = True) -> float:
        """Start a stopped worker again; with `wait`, wait until it is Ready in the swarm.

        Returns the seconds from the start until Ready (0 without `wait`). ValueError as for stop_node.
        """
        self._check_worker(node)
        began = time.monotonic()
        self._docker("start", node, what=f"start {node}")
        if not wait:
            return 0.0
        self.wait_until_nodes({node: "Ready"})
        return time.monotonic() - began

    def _check_worker(self, node: str) -> None:
        if node not in self.nodes:
            raise ValueError(f"{node!r} is not a node of the lab {self.name}: {self.nodes}")
        if node == self.manager:
            raise ValueError(f"{node} is the manager: stopping it would take the lab's API with it")

    def push_image(self, local_ref: str, repo: str) -> str:
        """Tag `local_ref` as `<registry>/<repo>` and push it; returns that reference.

        `repo` may carry a tag ("postgres:17"); without one, `local_ref`'s tag (or "latest") is used.
        The host keeps the new tag until teardown. LabError when the push fails.
        """
        name, _, tag = repo.partition(":")
        if not tag:
            last = local_ref.rpartition("/")[2]
            tag = last.partition(":")[2] if ":" in last else "latest"
        ref = f"{self.registry}/{name}:{tag}"
        self._docker("tag", local_ref, ref, what=f"tag {local_ref} as {ref}")
        self._docker("push", "--quiet", ref, what=f"push {ref}", timeout=600)
        return ref

    # ---- ending one ----

    def teardown(self) -> None:
        """Remove everything of the lab: containers with their volumes, the registry's volume, the network,
        the shared folder, the nodes' cgroup folders, the host's tags on the lab registry, and the lab's
        images unless `keep_images`. Every step is tried; safe to call again and after a partial start.

        Raises LabError naming what is left when something could not be removed (or docker cannot be asked).
        """
        containers = self._labelled("ps", "--all", "--format", "{{.Names}}", check=False)
        nodes = list(dict.fromkeys([*self.nodes, *(n for n in containers if not n.endswith("-registry"))]))
        if containers:
            self._docker("rm", "--force", "--volumes", *containers, check=False, timeout=180)
        self._remove_cgroups(nodes)
        volumes = self._labelled("volume", "ls", "--quiet", check=False)
        if volumes:
            self._docker("volume", "rm", "--force", *volumes, check=False)
        for network in self._labelled("network", "ls", "--format", "{{.Name}}", check=False):
            self._docker("network", "rm", network, check=False)
        if self.shared_dir is not None and self.shared_dir.exists():
            self._remove_shared_dir()
        if self.registry:
            pushed = [ref for ref in self._docker("images", "--format", "{{.Repository}}:{{.Tag}}", check=False)
                      .stdout.split() if ref.startswith(f"{self.registry}/")]
            if pushed:
                self._docker("image", "rm", *pushed, check=False)
        if not self.keep_images and self.images:
            # Without --force: another lab still running on the same images keeps them, and removes them itself.
            self._docker("image", "rm", *self.images.values(), check=False)
        if left := self.leftovers(nodes):
            raise LabError(f"the lab {self.name} could not remove all it made: {left}")

    def leftovers(self, nodes: Iterable[str] = ()) -> Leftovers:
        """What is still there of the lab, found by its label and names (images only when not kept)."""
        all_nodes = list(dict.fromkeys([*self.nodes, *nodes]))
        left = Leftovers(
            containers=self._labelled("ps", "--all", "--format", "{{.Names}}"),
            volumes=self._labelled("volume", "ls", "--format", "{{.Name}}"),
            networks=self._labelled("network", "ls", "--format", "{{.Name}}"),
            cgroups=[str(path) for path in cgroup_dirs(all_nodes)],
            shared_dir=str(self.shared_dir) if self.shared_dir and self.shared_dir.exists() else None,
        )
        listed = self._docker("images", "--format", "{{.Repository}}:{{.Tag}}", check=False).stdout.split()
        if not self.keep_images:
            # An image another lab's containers still run on is that lab's to remove.
            left.images = [tag for tag in self.images.values() if tag in listed and not
                           self._docker("ps", "--all", "--quiet", "--filter", f"ancestor={tag}", check=False).stdout.strip()]
        if self.registry:
            left.images += [ref for ref in listed if ref.startswith(f"{self.registry}/")]
        return left

    def _remove_cgroups(self, nodes: list[str], attempts: int = 40) -> None:
        # The nested containers' processes die with the node's PID namespace, a moment after it:
        # until then their folders are busy.
        for _ in range(attempts):
            busy = False
            for path in cgroup_dirs(nodes):
                try:
                    remove_tree_of_dirs(path)
                except PermissionError:
                    self._remove_cgroups_as_root(nodes)
                    return
                except OSError:
                    busy = True
            if not busy:
                return
            time.sleep(0.25)

    def _remove_cgroups_as_root(self, nodes: list[str]) -> None:
        # A client in the docker group is not root on the host: the engine is.
        paths = [str(path) for path in cgroup_dirs(nodes)]
        if paths:
            self._docker("run", "--rm", "--network", "none", "--volume", f"{CGROUP_ROOT}:{CGROUP_ROOT}:rw",
                         self.base_image, "find", *paths, "-depth", "-type", "d", "-exec", "rmdir", "{}", "+",
                         check=False)

    def _remove_shared_dir(self) -> None:
        try:
            shutil.rmtree(self.shared_dir)
        except PermissionError:
            # Files the services wrote as another uid, in folders of their own.
            self._docker("run", "--rm", "--network", "none", "--volume", f"{self.shared_dir}:/shared",
                         self.base_image, "find", "/shared", "-mindepth", "1", "-delete", check=False)
            shutil.rmtree(self.shared_dir, ignore_errors=True)

    # ---- docker ----

    def _labelled(self, *listing: str, check: bool = True) -> list[str]:
        found = self._docker(*listing, "--filter", f"label={LABEL}={self.name}", check=check,
                             what="list the lab's objects")
        return found.stdout.split() if found.returncode == 0 else []

    def _docker(self, *args: str, check: bool = True, what: str = "", timeout: float = 120,
                input: str | None = None, env: dict[str, str] | None = None,
                replace_env: bool = False) -> subprocess.CompletedProcess[str]:
        environ = env if replace_env else {**os.environ, **(env or {})}
        try:
            result = subprocess.run([*self.docker_argv, *args], check=False, capture_output=True, text=True, timeout=timeout,
                                    input=input, env=environ, stdin=None if input is not None else subprocess.DEVNULL)
        except subprocess.TimeoutExpired:
            raise LabError(f"could not {what or 'run docker'}: `docker {shlex.join(args)}` took over {timeout:.0f} s") from None
        except FileNotFoundError:
            raise LabError(f"could not {what or 'run docker'}: no {self.docker_argv[0]!r} command") from None
        if check and result.returncode != 0:
            said = result.stderr.strip() or result.stdout.strip() or f"exit status {result.returncode}"
            raise LabError(f"could not {what or 'run docker'}: {said}")
        return result


def parallel(function: Callable[[str], object], items: Sequence[str]) -> None:
    """Call `function` on each item in threads; re-raise the first failure once all have finished."""
    if len(items) <= 1:
        for item in items:
            function(item)
        return
    with concurrent.futures.ThreadPoolExecutor(max_workers=len(items)) as pool:
        futures = [pool.submit(function, item) for item in items]
    for future in futures:
        future.result()


def lab_names(docker_argv: Sequence[str] | None = None) -> list[str]:
    """The names of every lab with a container, volume or network on the engine."""
    argv = list(docker_argv or docker_command())
    names: set[str] = set()
    for listing in (("ps", "--all"), ("volume", "ls"), ("network", "ls")):
        said = subprocess.run([*argv, *listing, "--filter", f"label={LABEL}",
                               "--format", f'{{{{.Label "{LABEL}"}}}}'], check=False,
                              capture_output=True, text=True)
        names.update(said.stdout.split())
    return sorted(names)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m devtools.swarmlab", description=__doc__.split("\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    up = commands.add_parser("up", help="start a lab and print its addresses; it runs until `down`")
    up.add_argument("--name")
    up.add_argument("--nodes", type=int, default=3)
    up.add_argument("--publish", type=int, action="append", default=[], metavar="PORT",
                    help="a port of node 1 to publish on 127.0.0.1 (repeatable)")
    up.add_argument("--extra-ca", default=os.environ.get("EXTRA_CA_CERT") or None)
    down = commands.add_parser("down", help="remove labs, even half-made ones")
    down.add_argument("names", nargs="*")
    down.add_argument("--all", action="store_true", help="every lab on the engine")
    commands.add_parser("ls", help="the labs on the engine")
    options = parser.parse_args(argv)
    try:
        if options.command == "up":
            lab = SwarmLab.start(options.name, nodes=options.nodes, published_ports=options.publish,
                                 extra_ca=options.extra_ca)
            print(f"export DOCKER_HOST={lab.deploy_host}")
            print(f"# registry {lab.registry}, shared folder {lab.shared_dir}, nodes {' '.join(lab.nodes)}")
            for port in lab.ports:
                print(f"# port {port} of {lab.manager}: {lab.url(port)}")
            print(f"# started in {lab.timings['total']:.1f} s; remove with: python -m devtools.swarmlab down {lab.name}")
        elif options.command == "ls":
            print("\n".join(lab_names()))
        else:
            names = lab_names() if options.all else options.names
            for name in names:
                SwarmLab.attach(name).teardown()
                print(f"removed {name}")
    except (LabError, ValueError) as error:
        print(f"swarmlab: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
