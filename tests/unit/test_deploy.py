"""inv push / deploy / rollback against a scripted docker: the settings, the order of the steps, the refusals."""

from __future__ import annotations

import json
import subprocess

import pytest
from invoke import Result

from stack import deploy, registry
from stack.errors import StackError
from stack.settings import load_settings
from stack.swarm import Release

from .conftest import calls, ran, stack, write

KEY = "k" * 50
RELEASE = Release("abc1234", "r.example/site-web:abc1234@sha256:" + "a" * 64,
                  "r.example/site-web-proxy:abc1234@sha256:" + "b" * 64, 3)
MANAGER = (r"docker info --format", Result("active true\n"))
LABELLED = (r"docker node ls --filter node.label=", Result("node-1\n"))
NODES = (r"docker node ls --format", Result("id1 node-1\nid2 node-2\nid3 node-3\n"))
CONFIG = (r"docker compose .* config --format json", Result(json.dumps({
    "services": {
        "web": {"image": RELEASE.web_image, "environment": {"SECRET_KEY": KEY, "MIGRATE": "false"},
                "deploy": {"replicas": 3}, "user": "10001:10001",
                "volumes": [{"type": "volume", "source": "data", "target": "/data"}]},
        "proxy": {"image": RELEASE.proxy_image, "deploy": {"replicas": 1}},
    },
    "volumes": {"data": {}},
})))


def task_json(state: str, exit_code=None, image: str = RELEASE.web_image, desired: str = "running", error: str = "") -> str:
    return json.dumps({"id": "t1", "state": state, "error": error, "exit": exit_code, "image": image,
                       "desired": desired, "node": "n1", "updated": "2026-11-30T12:00:00Z"}) + "\n"


@pytest.fixture
def shop(project_root):
    """Settings of a project deploying stack `shop` to a registry, with overrides."""
    def make(**values):
        base = {"STACK_NAME": "shop", "REGISTRY": "r.example", "IMAGE_NAME": "site-web", "SECRET_KEY": KEY,
                "DEPLOY_TIMEOUT": "30", **values}
        write(project_root, "".join(f"{name}={value}\n" for name, value in base.items()))
        return load_settings(project_root, {})

    return make


@pytest.fixture(autouse=True)
def no_waiting(monkeypatch):
    monkeypatch.setattr(deploy.time, "sleep", lambda seconds: None)


# ---- settings ----


@pytest.mark.parametrize(("line", "problem"), [
    ("REGISTRY=https://registry.example.com", "REGISTRY must be a registry host"),
    ("REGISTRY=Registry.Example.com", "REGISTRY must be a registry host"),
    ("DEPLOY_HOST=manager.example.com", "DEPLOY_HOST must be a DOCKER_HOST value"),
    ("DEPLOY_DOMAIN=https://shop.example.com", "DEPLOY_DOMAIN must be a domain name"),
    ("DEPLOY_MEDIA_DIR=shared/media", "DEPLOY_MEDIA_DIR must be an absolute path"),
    ("DEPLOY_REPLICAS=0", "DEPLOY_REPLICAS must be a whole number from 1 to 100"),
    ("STACK_NAME=My Shop", "STACK_NAME must be up to 32"),
    ("DEPLOY_URL=shop.example.com", "DEPLOY_URL must be an http:// or https:// URL"),
])
def test_deploy_settings_name_the_bad_line(project_root, line, problem):
    write(project_root, line + "\n")
    with pytest.raises(StackError) as raised:
        load_settings(project_root, {})
    assert problem in str(raised.value)
    assert ".env line 1" in str(raised.value)


@pytest.mark.parametrize(("values", "url"), [
    ({}, "http://127.0.0.1/"),
    ({"DEPLOY_HOST": "ssh://deploy@manager.example.com", "DEPLOY_PORT": "8080"}, "http://manager.example.com:8080/"),
    ({"DEPLOY_HOST": "tcp://10.0.0.2:2376"}, "http://10.0.0.2/"),
    ({"DEPLOY_DOMAIN": "shop.example.com"}, "https://shop.example.com/"),
    ({"DEPLOY_URL": "http://127.0.0.1:18080"}, "http://127.0.0.1:18080/"),
])
def test_the_site_url_comes_from_where_the_proxy_is(shop, values, url):
    assert shop(**values).deploy.site_url == url


def test_defaults_deploy_the_project_as_its_own_stack(project_root):
    deploy_settings = load_settings(project_root, {}).deploy
    assert deploy_settings.stack_name == "proj"
    assert deploy_settings.replicas == 2 and deploy_settings.port == 80 and deploy_settings.host == ""
    assert deploy_settings.data_label == "proj.data"


# ---- releases from git ----


def git(folder, *args):
    subprocess.run(["git", "-C", str(folder), *args], check=True, capture_output=True,
                   env={"GIT_AUTHOR_NAME": "a", "GIT_AUTHOR_EMAIL": "a@b", "GIT_COMMITTER_NAME": "a",
                        "GIT_COMMITTER_EMAIL": "a@b", "HOME": str(folder), "PATH": "/usr/bin:/bin"})


def test_a_release_is_the_commit_and_uncommitted_changes_are_refused_unless_allowed(tmp_path):
    with pytest.raises(StackError, match="commit your code first"):
        registry.current_release(tmp_path)
    git(tmp_path, "init", "--quiet")
    (tmp_path / "manage.py").write_text("")
    with pytest.raises(StackError, match="has none"):
        registry.current_release(tmp_path)
    git(tmp_path, "add", "-A")
    git(tmp_path, "commit", "--quiet", "-m", "one")
    sha = registry.current_release(tmp_path)
    assert len(sha) == 12 and int(sha, 16) >= 0
    (tmp_path / "manage.py").write_text("print()")
    with pytest.raises(StackError, match=r"1 uncommitted change.*inv push --allow-dirty"):
        registry.current_release(tmp_path)
    assert registry.current_release(tmp_path, allow_dirty=True) == f"{sha}-dirty"


@pytest.mark.parametrize("name", ["../x", "a b", "-rm", "x" * 129, "$(reboot)"])
def test_a_hostile_release_name_is_refused(name):
    with pytest.raises(StackError, match="is not a release name"):
        registry.check_release_name(name)


def test_push_without_a_registry_says_where_to_set_it(shop, engine):
    s = stack(shop(REGISTRY=""), engine)
    with pytest.raises(StackError, match="REGISTRY is not set: add the registry"):
        registry.push(s, "abc1234")
    assert not calls(s.c)


def test_push_tags_builds_the_proxy_and_pushes_both_then_reads_the_digests(shop, engine):
    digests = json.dumps(["r.example/site-web@sha256:" + "c" * 64])
    proxy_digests = json.dumps(["r.example/site-web-proxy@sha256:" + "d" * 64])
    s = stack(shop(), engine,
              (r"docker image inspect --format '\{\{json \.RepoDigests\}\}' r.example/site-web:", Result(digests)),
              (r"docker image inspect --format '\{\{json \.RepoDigests\}\}' r.example/site-web-proxy:", Result(proxy_digests)),
              (r"docker image inspect --format '?\{\{\.Id\}\}", Result("sha256:image\n")))
    release = registry.push(s, "abc1234")
    assert release.web_image == "r.example/site-web:abc1234@sha256:" + "c" * 64
    # The proxy by digest alone: its service changes only when its image does.
    assert release.proxy_image == "r.example/site-web-proxy@sha256:" + "d" * 64
    assert ran(s.c, "docker", "tag", "sha256:image", "r.example/site-web:abc1234")
    assert ran(s.c, "build", "--target", "proxy")
    assert ran(s.c, "--tag", "r.example/site-web-proxy:abc1234")
    assert ran(s.c, "docker", "push", "r.example/site-web:abc1234")
    assert ran(s.c, "docker", "push", "r.example/site-web-proxy:abc1234")


def test_deploying_a_release_never_pushed_says_to_push_it(shop, engine):
    s = stack(shop(), engine, (r"docker pull", Result("", exited=1)))
    with pytest.raises(StackError, match="release abc1234 was not pushed .* `inv push` pushes it"):
        registry.pushed_release(s, "abc1234", 2)


# ---- the Swarm ----


def test_a_manager_that_is_not_in_a_swarm_is_told_to_init_one(shop, engine):
    s = stack(shop(), engine, (r"docker info", Result("inactive false\n")))
    with pytest.raises(StackError, match="not part of a Swarm: run `docker swarm init`"):
        deploy.check_swarm(s)


def test_a_worker_is_not_a_deploy_host(shop, engine):
    s = stack(shop(DEPLOY_HOST="tcp://10.0.0.3:2376"), engine, (r"docker info", Result("active false\n")))
    with pytest.raises(StackError, match="tcp://10.0.0.3:2376 is a Swarm worker"):
        deploy.check_swarm(s)
    assert calls(s.c)[0][1]["env"]["DOCKER_HOST"] == "tcp://10.0.0.3:2376"


def test_an_unreachable_manager_is_one_line(shop, engine):
    s = stack(shop(DEPLOY_HOST="ssh://deploy@gone"), engine,
              (r"docker info", Result("", stderr="error during connect: ssh: connect to host gone\n", exited=1)))
    with pytest.raises(StackError, match=r"at ssh://deploy@gone does not answer \(error during connect"):
        deploy.check_swarm(s)


def test_without_a_labelled_node_the_refusal_names_the_nodes_and_the_command(shop, engine):
    s = stack(shop(), engine, NODES, (r"docker node ls --filter", Result("")))
    with pytest.raises(StackError, match=r"node-1, node-2, node-3 and run `docker node update --label-add shop.data=true NODE`"):
        deploy.data_node(s)


def test_a_one_node_swarm_gets_its_node_labelled(shop, engine):
    s = stack(shop(), engine, (r"docker node ls --format", Result("id1 solo\n")), (r"docker node ls --filter", Result("")))
    assert deploy.data_node(s) == "solo"
    assert ran(s.c, "node", "update", "--label-add", "shop.data=true", "id1")


def test_two_labelled_nodes_are_refused(shop, engine):
    s = stack(shop(), engine, NODES, (r"docker node ls --filter", Result("node-1\nnode-2\n")))
    with pytest.raises(StackError, match="node-1, node-2 all carry the label shop.data=true"):
        deploy.data_node(s)


def test_secrets_go_to_docker_on_stdin_never_in_arguments(shop, engine):
    s = stack(shop(), engine, (r"docker secret ls", Result("shop_secret_key_old\n")))
    from stack.swarm import SwarmSecret

    deploy.ensure_secrets(s, [SwarmSecret("SECRET_KEY", "shop_secret_key_old", KEY),
                              SwarmSecret("POSTGRES_PASSWORD", "shop_postgres_password_new", "hunter2")])
    created = [(argv, kwargs) for argv, kwargs in calls(s.c) if argv[1:3] == ["secret", "create"]]
    assert len(created) == 1
    argv, kwargs = created[0]
    assert argv[-2:] == ["shop_postgres_password_new", "-"]
    assert kwargs["in_stream"].read() == "hunter2"
    assert not any("hunter2" in arg or KEY in arg for argv, _ in calls(s.c) for arg in argv)


def test_sqlite_with_several_replicas_is_refused_before_anything_runs(shop, engine):
    s = stack(shop(DATABASE="sqlite"), engine)
    with pytest.raises(StackError, match="DATABASE=sqlite keeps the database in one file on one node.*--replicas 1"):
        deploy.deploy(s, RELEASE)
    assert not calls(s.c)


def test_the_migration_job_gets_web_s_environment_secrets_volumes_and_no_health_probe(shop, engine):
    s = stack(shop(DATABASE="postgres", POSTGRES_PASSWORD="hunter2"), engine)
    document = {"services": {"web": {
        "image": RELEASE.web_image, "user": "10001:10001",
        "environment": {"SECRET_KEY_FILE": "/run/secrets/SECRET_KEY", "MIGRATE": "false"},
        "secrets": [{"source": "shop_secret_key_1", "target": "SECRET_KEY"}],
        "volumes": [{"type": "volume", "source": "data", "target": "/data"}, {"type": "tmpfs", "target": "/tmp"},
                    {"type": "bind", "source": "/mnt/media", "target": "/data/media"}],
        "deploy": {"placement": {"constraints": ["node.labels.shop.data==true"]}},
    }}}
    argv = deploy.job_args(s, "shop_migrate", document, ("migrate",))
    assert argv[:2] == ["service", "create"]
    for words in (["--mode", "replicated-job"], ["--restart-condition", "none"], ["--network", "shop_default"],
                  ["--secret", "source=shop_secret_key_1,target=SECRET_KEY"],
                  ["--mount", "type=volume,source=shop_data,target=/data"], ["--mount", "type=tmpfs,target=/tmp"],
                  ["--mount", "type=bind,source=/mnt/media,target=/data/media"],
                  ["--constraint", "node.labels.shop.data==true"], ["--user", "10001:10001"],
                  ["--label", "com.docker.stack.namespace=shop"], ["--env", "SECRET_KEY_FILE=/run/secrets/SECRET_KEY"]):
        assert any(argv[i:i + len(words)] == words for i in range(len(argv))), words
    assert "--no-healthcheck" in argv
    assert argv[-2:] == [RELEASE.web_image, "migrate"]


def test_a_failed_migration_stops_the_deploy_before_web_changes_and_shows_its_log(shop, engine, capsys):
    service = json.dumps([{"Spec": {"TaskTemplate": {"ContainerSpec": {"Image": "r.example/site-web:old@sha256:0"}}}}])
    s = stack(shop(DATABASE="postgres", POSTGRES_PASSWORD="hunter2"), engine, MANAGER, LABELLED, NODES, CONFIG,
              (r"docker service inspect shop_web", Result(service)),
              (r"docker service ps --quiet --no-trunc shop_migrate", Result("t1\n")),
              (r"docker service ps --quiet --no-trunc shop_web", Result("t2\n")),
              (r"docker inspect --format .* t1$", Result(task_json("failed", 1))),
              (r"docker inspect --format .* t2$", Result(task_json("running", None))),
              (r"docker service logs --raw --timestamps shop_migrate",
               Result("2026-11-30T12:00:01.5Z Applying shop.0004_boom...\n",
                      stderr="2026-11-30T12:00:01.1Z entrypoint: waiting\n2026-11-30T12:00:02Z django.db.utils.ProgrammingError: boom\n")))
    with pytest.raises(StackError) as raised:
        deploy.deploy(s, RELEASE)
    message = str(raised.value)
    assert "the migrations of release abc1234 failed (exit status 1), so it was not deployed" in message
    assert "r.example/site-web:old@sha256:0 goes on serving" in message
    assert "entrypoint: waiting\nApplying shop.0004_boom...\ndjango.db.utils.ProgrammingError: boom" in capsys.readouterr().err
    assert not ran(s.c, "stack", "deploy")
    recorded = [argv for argv, _ in calls(s.c) if argv[1:3] == ["config", "create"]]
    assert recorded and "django-docker.state=failed" in recorded[0]
    # The record's stack file goes as a file: Invoke would feed it to stdin a character at a time.
    assert recorded[0][-1].endswith("/stack.json")


def test_a_release_swarm_rolled_back_is_an_error_with_the_failed_task_s_reason(shop, engine, capsys):
    before = {"Spec": {"TaskTemplate": {"ContainerSpec": {"Image": "old@sha256:0"}}},
              "UpdateStatus": {"State": "completed", "StartedAt": "2026-11-30T11:00:00Z"}}
    after = {"Spec": {"TaskTemplate": {"ContainerSpec": {"Image": "old@sha256:0"}}},
             "UpdateStatus": {"State": "rollback_completed", "StartedAt": "2026-11-30T12:00:00Z",
                              "Message": "rollback completed"}}
    s = stack(shop(DATABASE="postgres", POSTGRES_PASSWORD="hunter2"), engine, MANAGER, LABELLED, NODES, CONFIG,
              (r"docker service inspect shop_web", [Result(json.dumps([before]))] + [Result(json.dumps([after]))] * 20),
              (r"docker service ps --quiet --no-trunc shop_migrate", Result("t1\n")),
              (r"docker service ps --quiet --no-trunc shop_web", Result("t1\nt2\n")),
              (r"docker inspect --format .* t1$", Result(task_json("complete", 0))),
              (r"docker inspect --format .* t1 t2$",
               Result(task_json("failed", None, desired="shutdown", error="task: non-zero exit (1)")
                      + task_json("running", None, image="old@sha256:0"))),
              (r"docker service logs --raw --timestamps --tail", Result(stderr="2026-11-30T12:00:00Z entrypoint: error: boom\n")))
    with pytest.raises(StackError, match=r"release abc1234 was not deployed: rollback completed; old@sha256:0 goes on serving"):
        deploy.deploy(s, RELEASE)
    assert "entrypoint: error: boom" in capsys.readouterr().err
    assert ran(s.c, "stack", "deploy")


def test_rollback_refuses_a_release_older_than_the_applied_migrations_unless_forced(shop, engine):
    def config(name, release, digest, time):
        labels = {"django-docker.release": release, "django-docker.web-image": f"r.example/site-web:{release}@{digest}",
                  "django-docker.proxy-image": "p@sha256:9", "django-docker.replicas": "3",
                  "django-docker.time": time, "django-docker.state": "deployed"}
        return f"{json.dumps(name)} {json.dumps(labels)}"

    listing = "\n".join([config("shop_release_1", "r1", "sha256:1", "2026-11-30T10:00:00+00:00"),
                         config("shop_release_2", "r2", "sha256:2", "2026-11-30T11:00:00+00:00")])
    service = json.dumps([{"Spec": {"TaskTemplate": {"ContainerSpec": {"Image": "r.example/site-web:r2@sha256:2"}},
                                    "Mode": {"Replicated": {"Replicas": 3}}}}])
    s = stack(shop(DATABASE="postgres", POSTGRES_PASSWORD="hunter2"), engine, MANAGER, CONFIG,
              (r"docker config ls", Result("c1\nc2\n")), (r"docker config inspect", Result(listing)),
              (r"docker service inspect shop_web", Result(service)),
              (r"docker service ps --quiet --no-trunc shop_migrate", Result("t1\n")),
              (r"docker inspect --format", Result(task_json("complete", 0))),
              (r"docker service logs --raw --timestamps shop_migrate",
               Result("2026-11-30T12:00:02Z guestbook.0002_entry_rating\n",
                      stderr="2026-11-30T12:00:01Z entrypoint: waiting for the database\n")))
    with pytest.raises(StackError, match=r"release r1 predates migrations the database already has: guestbook.0002_entry_rating"):
        deploy.rollback(s)
    assert not ran(s.c, "stack", "deploy")
    job = next(argv for argv, _ in calls(s.c) if argv[1:3] == ["service", "create"])
    assert job[-3:] == ["python", "/usr/local/lib/django-docker/dbtool.py", "unknown-migrations"]
    rendered = next(kwargs for argv, kwargs in calls(s.c) if argv[-3:] == ["config", "--format", "json"])
    assert rendered["env"]["DEPLOY_WEB_IMAGE"] == "r.example/site-web:r1@sha256:1"


def test_a_database_that_cannot_start_stops_the_deploy_with_its_reason_before_any_migration(shop, engine):
    config = json.loads(CONFIG[1].stdout)
    config["services"]["db"] = {"image": "postgres:17", "environment": {"POSTGRES_PASSWORD": "hunter2"}}
    rejected = task_json("rejected", None, image="postgres:17", desired="shutdown", error="No such image: postgres:17")
    s = stack(shop(DATABASE="postgres", POSTGRES_PASSWORD="hunter2"), engine, MANAGER, LABELLED, NODES,
              (CONFIG[0], Result(json.dumps(config))),
              (r"docker service ps --quiet --no-trunc shop_db", Result("t1\nt2\nt3\n")),
              (r"docker inspect --format", Result(rejected * 3)))
    with pytest.raises(StackError, match=r"the database service did not start \(rejected: No such image: postgres:17\)"):
        deploy.deploy(s, RELEASE)
    assert not ran(s.c, "service", "create")


@pytest.mark.parametrize(("image", "expected"), [
    ("r.example/team/web-proxy:abc@sha256:1", "r.example/team/web-proxy@sha256:1"),
    ("127.0.0.1:5000/web-proxy:abc@sha256:1", "127.0.0.1:5000/web-proxy@sha256:1"),
    ("127.0.0.1:5000/web-proxy@sha256:1", "127.0.0.1:5000/web-proxy@sha256:1"),
])
def test_the_proxy_image_is_named_by_digest_alone(image, expected):
    assert registry.untagged(image) == expected


@pytest.mark.parametrize("replicas", [-1, 101])
def test_a_replica_count_out_of_range_is_refused_before_anything_runs(shop, engine, replicas):
    s = stack(shop(DATABASE="postgres", POSTGRES_PASSWORD="hunter2"), engine)
    with pytest.raises(StackError, match=f"--replicas must be a whole number from 1 to 100, got {replicas}"):
        deploy.deploy(s, Release("abc", "w@sha256:1", "p@sha256:2", replicas))
    assert not calls(s.c)
