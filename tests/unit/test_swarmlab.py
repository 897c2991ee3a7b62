"""devtools/swarmlab.py without an engine: names, the exact docker arguments, the image cache key,
cgroup folder removal, and what teardown removes or keeps (against a scripted docker)."""

from __future__ import annotations

import json
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest

from devtools import swarmlab
from devtools.swarmlab import (
    LABEL,
    Leftovers,
    SwarmLab,
    build_args,
    cgroup_dirs,
    check_name,
    image_tag,
    node_index,
    node_names,
    node_run_args,
    parallel,
    registry_run_args,
    remove_tree_of_dirs,
)


def published(args: list[str]) -> list[str]:
    return [args[i + 1] for i, word in enumerate(args) if word == "--publish"]


def options(args: list[str], flag: str) -> list[str]:
    return [args[i + 1] for i, word in enumerate(args) if word == flag]


# ---- names ----

@pytest.mark.parametrize("name", ["djlab-1a2b3c", "a", "lab-" + "x" * 36])
def test_a_valid_name_is_returned(name):
    assert check_name(name) == name


@pytest.mark.parametrize("name", ["", "Lab", "1lab", "lab_1", "lab.1", "lab 1", "lab/1", "l" * 41])
def test_a_name_that_cannot_be_a_hostname_and_cgroup_folder_is_refused(name):
    with pytest.raises(ValueError, match="lowercase letter"):
        check_name(name)


def test_random_names_are_valid_and_differ():
    names = {swarmlab.random_name() for _ in range(20)}
    assert len(names) == 20 and all(check_name(name) for name in names)


def test_nodes_are_numbered_from_one_with_the_manager_first():
    assert node_names("lab", 3) == ["lab-node1", "lab-node2", "lab-node3"]
    assert [node_index(n) for n in ("/lab-node1", "lab-node10", "lab-registry")] == [1, 10, 0]
    with pytest.raises(ValueError, match="at least one node"):
        node_names("lab", 0)


# ---- the images ----

@pytest.fixture
def build_dir(tmp_path) -> Path:
    for kind in ("node", "registry"):
        (tmp_path / kind).mkdir()
        (tmp_path / kind / "Dockerfile").write_text(f"FROM base\n# {kind}\n")
    (tmp_path / "node" / "entrypoint.sh").write_text("exec dockerd\n")
    return tmp_path


def test_the_image_tag_is_stable_and_changes_with_a_build_file_or_the_base(build_dir):
    first = image_tag("node", "sha256:aaa", build_dir)
    assert first.startswith("django-docker-lab/node:") and len(first.rpartition(":")[2]) == 12
    assert image_tag("node", "sha256:aaa", build_dir) == first
    assert image_tag("node", "sha256:bbb", build_dir) != first
    assert image_tag("registry", "sha256:aaa", build_dir) != first

    (build_dir / "node" / "entrypoint.sh").write_text("exec dockerd --debug\n")
    edited = image_tag("node", "sha256:aaa", build_dir)
    (build_dir / "node" / "entrypoint.sh").rename(build_dir / "node" / "start.sh")
    assert len({first, edited, image_tag("node", "sha256:aaa", build_dir)}) == 3


def test_the_shipped_build_folders_give_tags():
    assert image_tag("node", "x") != image_tag("registry", "x")


def test_a_build_never_uses_no_cache_and_gets_the_extra_ca_only_as_a_secret(build_dir):
    plain = build_args("node", "t:1", "local/base:1", None, build_dir)
    assert plain == ["build", "--quiet", "--build-arg", "BASE_IMAGE=local/base:1",
                     "--label", f"{LABEL}.image=node", "--tag", "t:1", str(build_dir / "node")]
    with_ca = build_args("registry", "t:2", "local/base:1", Path("/certs/proxy.pem"), build_dir)
    assert options(with_ca, "--secret") == ["id=extra_ca,src=/certs/proxy.pem"]
    assert with_ca[-1] == str(build_dir / "registry")
    assert "--no-cache" not in plain + with_ca


# ---- the containers ----

def node_args(manager: bool, ports=(8080, 8443)) -> list[str]:
    return node_run_args("lab", "lab-node2", "django-docker-lab/node:abc", manager=manager, registry_port=40001,
                         shared_dir=Path("/tmp/lab-shared-x"), base_image="local/base:1", published_ports=ports)


def test_the_manager_publishes_its_api_and_the_ports_asked_for_on_loopback_only():
    assert published(node_args(manager=True)) == ["127.0.0.1::2375", "127.0.0.1::8080", "127.0.0.1::8443"]


def test_a_worker_publishes_nothing():
    assert published(node_args(manager=False)) == []


def test_a_node_runs_without_privileged_but_with_what_its_engine_needs():
    args = node_args(manager=False)
    assert "--privileged" not in args
    assert args[args.index("--cap-add") + 1] == "ALL" and args[args.index("--cap-drop") + 1] == "SYS_RESOURCE"
    assert options(args, "--cgroupns") == ["host"]
    assert set(options(args, "--security-opt")) == {"seccomp=unconfined", "apparmor=unconfined",
                                                     "systempaths=unconfined"}
    assert set(options(args, "--volume")) == {"/sys/fs/cgroup:/sys/fs/cgroup:rw", "lab-node2-docker:/var/lib/docker",
                                              "/tmp/lab-shared-x:/tmp/lab-shared-x"}


def test_a_node_is_named_labelled_and_told_where_the_registry_is():
    args = node_args(manager=False)
    assert args[:2] == ["run", "--detach"] and args[-1] == "django-docker-lab/node:abc"
    assert options(args, "--name") == options(args, "--hostname") == ["lab-node2"]
    assert options(args, "--network") == ["lab"]
    assert f"{LABEL}=lab" in options(args, "--label")
    assert f"{LABEL}.role=worker" in options(args, "--label")
    assert f"{LABEL}.role=manager" in options(node_args(manager=True), "--label")
    assert options(args, "--env") == ["LAB_REGISTRY_PORT=40001", "LAB_REGISTRY=registry:5000"]


def test_the_registry_is_on_the_lab_network_under_its_alias_and_published_on_loopback():
    args = registry_run_args("lab", "django-docker-lab/registry:abc")
    assert options(args, "--name") == ["lab-registry"]
    assert options(args, "--network") == ["lab"] and options(args, "--network-alias") == ["registry"]
    assert published(args) == ["127.0.0.1::5000"]
    assert options(args, "--volume") == ["lab-registry:/var/lib/docker-registry"]
    assert f"{LABEL}=lab" in options(args, "--label") and args[-1] == "django-docker-lab/registry:abc"


# ---- cgroup folders ----

def test_the_nodes_cgroup_folders_are_found_under_every_controller_and_removed_deepest_first(tmp_path):
    for folder in ("cpu/lab-node1/abc/def", "memory/lab-node1/abc", "lab-node2/abc", "cpu/lab-node10",
                   "cpu/other-node1", "pids/system.slice"):
        (tmp_path / folder).mkdir(parents=True)

    found = cgroup_dirs(["lab-node1", "lab-node2"], root=tmp_path)
    assert sorted(path.relative_to(tmp_path).as_posix() for path in found) == [
        "cpu/lab-node1", "lab-node2", "memory/lab-node1"]

    for path in found:
        remove_tree_of_dirs(path)
    assert cgroup_dirs(["lab-node1", "lab-node2"], root=tmp_path) == []
    assert sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.glob("*/*")) == [
        "cpu/lab-node10", "cpu/other-node1", "pids/system.slice"]


def test_a_busy_folder_stops_the_removal_with_oserror(tmp_path):
    (tmp_path / "lab-node1" / "abc").mkdir(parents=True)
    (tmp_path / "lab-node1" / "abc" / "tasks").write_text("1234\n")
    with pytest.raises(OSError):
        remove_tree_of_dirs(tmp_path / "lab-node1")


# ---- the lab object ----

def test_url_names_the_host_port_and_refuses_a_port_not_published():
    lab = SwarmLab(name="lab", nodes=["lab-node1"], ports={8080: 40123})
    assert lab.url(8080) == "http://127.0.0.1:40123"
    with pytest.raises(ValueError, match=r"published_ports=\(9000,\)"):
        lab.url(9000)


def test_only_a_worker_of_the_lab_can_be_stopped_or_started():
    lab = SwarmLab(name="lab", nodes=node_names("lab", 3), docker_argv=["false"])
    for method in (lab.stop_node, lab.start_node):
        with pytest.raises(ValueError, match="manager"):
            method("lab-node1")
        with pytest.raises(ValueError, match="not a node"):
            method("lab-node9")


def test_docker_against_the_lab_aims_at_the_manager_and_drops_the_machines_context(monkeypatch):
    monkeypatch.setenv("DOCKER_CONTEXT", "remote")
    monkeypatch.setenv("DOCKER_HOST", "ssh://elsewhere")
    print_target = "import os; print(os.environ.get('DOCKER_HOST'), os.environ.get('DOCKER_CONTEXT'))"
    lab = SwarmLab(name="lab", deploy_host="tcp://127.0.0.1:40000", docker_argv=[sys.executable, "-c", print_target])
    assert lab.docker("info").stdout.split() == ["tcp://127.0.0.1:40000", "None"]


def test_a_failed_docker_command_raises_lab_error_with_what_docker_said():
    lab = SwarmLab(name="lab", docker_argv=[sys.executable, "-c", "import sys; sys.exit('no such service: web')"])
    with pytest.raises(swarmlab.LabError, match="no such service: web"):
        lab.docker("service", "ps", "web")
    assert lab.docker("service", "ps", "web", check=False).returncode == 1


def test_parallel_runs_together_and_raises_once_all_have_finished():
    finished = []
    started = threading.Barrier(3, timeout=5)

    def work(item: str) -> None:
        started.wait()
        if item == "b":
            raise RuntimeError("b failed")
        time.sleep(0.05)
        finished.append(item)

    with pytest.raises(RuntimeError, match="b failed"):
        parallel(work, ["a", "b", "c"])
    assert sorted(finished) == ["a", "c"]


def test_leftovers_are_false_when_empty_and_listed_by_kind():
    assert not Leftovers() and str(Leftovers()) == "nothing"
    left = Leftovers(containers=["lab-node1"], cgroups=["/sys/fs/cgroup/cpu/lab-node1"])
    assert left and str(left) == "containers: lab-node1; cgroup folders: /sys/fs/cgroup/cpu/lab-node1"


# ---- against a scripted docker ----

FAKE_DOCKER = textwrap.dedent("""
    import json, sys
    from pathlib import Path
    state_file = Path(sys.argv[1])
    state = json.loads(state_file.read_text())
    args = sys.argv[2:]
    state["calls"].append(args)
    def labelled(kind):
        wanted = next((a.split("=", 1)[1] for a in args if a.startswith("label=")), None)
        return [n for n, lab in state[kind].items() if wanted is None or lab == wanted.split("=", 1)[1]]
    if args[:1] == ["ps"]:
        print("\\n".join([] if any(a.startswith("ancestor=") for a in args) else labelled("containers")))
    elif args[:2] == ["volume", "ls"]:
        print("\\n".join(labelled("volumes")))
    elif args[:2] == ["network", "ls"]:
        print("\\n".join(labelled("networks")))
    elif args[:1] == ["images"]:
        print("\\n".join(state["images"]))
    elif args[:1] == ["rm"]:
        for name in args[3:]:
            state["containers"].pop(name, None)
    elif args[:2] == ["volume", "rm"]:
        for name in args[3:]:
            state["volumes"].pop(name, None)
    elif args[:2] == ["network", "rm"]:
        state["networks"].pop(args[2], None)
    elif args[:2] == ["image", "rm"]:
        state["images"] = [i for i in state["images"] if i not in args[2:]]
    elif args[:1] == ["tag"]:
        state["images"].append(args[2])
    state_file.write_text(json.dumps(state))
""")


@pytest.fixture
def fake_docker(tmp_path, monkeypatch):
    """A docker that keeps its containers, volumes, networks and images in a JSON file; returns that state's reader."""
    monkeypatch.setattr(swarmlab, "CGROUP_ROOT", tmp_path / "cgroup")
    script = tmp_path / "docker.py"
    script.write_text(FAKE_DOCKER)
    state_file = tmp_path / "state.json"
    state_file.write_text(json.dumps({
        "calls": [],
        "containers": {"lab-node1": "lab", "lab-node2": "lab", "lab-registry": "lab", "other-node1": "other"},
        "volumes": {"lab-node1-docker": "lab", "lab-registry": "lab", "other-node1-docker": "other"},
        "networks": {"lab": "lab", "other": "other"},
        "images": ["django-docker-lab/node:abc", "django-docker-lab/registry:abc", "127.0.0.1:40001/web:1",
                   "127.0.0.1:40002/web:1", "local/python:3.13"],
    }))

    def state() -> dict:
        return json.loads(state_file.read_text())

    state.argv = [sys.executable, str(script), str(state_file)]
    return state


def fake_lab(fake_docker, tmp_path, keep_images: bool) -> SwarmLab:
    shared = tmp_path / "lab-shared"
    (shared / "uploads").mkdir(parents=True)
    (shared / "uploads" / "photo.jpg").write_bytes(b"jpeg")
    return SwarmLab(name="lab", nodes=["lab-node1", "lab-node2"], registry="127.0.0.1:40001", shared_dir=shared,
                    images={"node": "django-docker-lab/node:abc", "registry": "django-docker-lab/registry:abc"},
                    keep_images=keep_images, docker_argv=fake_docker.argv)


@pytest.mark.parametrize("keep_images", [False, True])
def test_teardown_removes_the_labs_own_things_only_and_the_images_unless_kept(fake_docker, tmp_path, keep_images):
    lab = fake_lab(fake_docker, tmp_path, keep_images)

    lab.teardown()

    state = fake_docker()
    assert list(state["containers"]) == ["other-node1"]
    assert list(state["volumes"]) == ["other-node1-docker"]
    assert list(state["networks"]) == ["other"]
    assert not lab.shared_dir.exists()
    kept = ["django-docker-lab/node:abc", "django-docker-lab/registry:abc"] if keep_images else []
    assert state["images"] == [*kept, "127.0.0.1:40002/web:1", "local/python:3.13"]
    assert ["rm", "--force", "--volumes", "lab-node1", "lab-node2", "lab-registry"] in state["calls"]


def test_teardown_twice_is_harmless(fake_docker, tmp_path):
    lab = fake_lab(fake_docker, tmp_path, keep_images=False)
    lab.teardown()
    lab.teardown()
    assert not lab.leftovers()


def test_push_image_tags_for_the_lab_registry_and_pushes(fake_docker, tmp_path):
    lab = fake_lab(fake_docker, tmp_path, keep_images=False)
    assert lab.push_image("local/python:3.13", "web") == "127.0.0.1:40001/web:3.13"
    assert lab.push_image("local/python", "web") == "127.0.0.1:40001/web:latest"
    assert lab.push_image("localhost:5000/python:3.13", "db:17") == "127.0.0.1:40001/db:17"
    calls = fake_docker()["calls"]
    assert ["tag", "local/python:3.13", "127.0.0.1:40001/web:3.13"] in calls
    assert ["push", "--quiet", "127.0.0.1:40001/db:17"] in calls
