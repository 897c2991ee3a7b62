"""The stack file made from Compose's view of the project: what Swarm gets, and that no secret is in it."""

from __future__ import annotations

import json

import pytest

from stack.settings import load_settings
from stack.swarm import Release, compose_environment, secret_name, stack_file

from .conftest import write

KEY = "k" * 50
PASSWORD = "pa:ss@word/1"
DATABASE_URL = "postgres://django:pa%3Ass%40word%2F1@db:5432/django"


def compose_config(*, postgres: bool = True) -> dict:
    """A trimmed `docker compose config --format json` of docker-compose.yml, postgres.yml and swarm.yml."""
    web = {
        "build": {"context": "/src", "target": "production"},
        "cap_drop": ["ALL"],
        "command": None,
        "depends_on": {"db": {"condition": "service_healthy"}},
        "deploy": {"replicas": 3, "update_config": {"order": "start-first", "failure_action": "rollback"},
                   "resources": {}, "placement": {}, "endpoint_mode": "dnsrr"},
        "environment": {"ALLOWED_HOSTS": "example.com", "DEBUG": None, "SECRET_KEY": KEY, "MIGRATE": "false",
                        "DATABASE_URL": DATABASE_URL, "STRIPE_API_TOKEN": "tok_live_1", "SHOP_NAME": "Corner"},
        "healthcheck": {"interval": "2s", "retries": 3, "start_period": "30s"},
        "image": "registry.example.com/team/site-web:abc1234@sha256:" + "a" * 64,
        "ports": [{"mode": "ingress", "host_ip": "127.0.0.1", "target": 8000, "published": "8000"}],
        "read_only": True,
        "restart": "unless-stopped",
        "security_opt": ["no-new-privileges:true"],
        "stop_grace_period": "10s",
        "tmpfs": ["/tmp:size=64m,mode=1777"],
        "user": "10001:10001",
        "volumes": [{"type": "volume", "source": "data", "target": "/data", "volume": {}}],
    }
    services = {
        "web": web,
        "proxy": {"image": "registry.example.com/team/site-web-proxy:abc1234@sha256:" + "b" * 64,
                  "environment": {"SITE_ADDRESS": ":80", "UPSTREAM_NAME": "tasks.shop_web"},
                  "deploy": {"replicas": 1}, "volumes": [{"type": "volume", "source": "proxy-data", "target": "/data"}]},
    }
    volumes = {"data": {"name": "x_data"}, "proxy-data": {"name": "x_proxy-data"}}
    if postgres:
        services["db"] = {
            "environment": {"POSTGRES_DB": "django", "POSTGRES_PASSWORD": PASSWORD, "POSTGRES_USER": "django"},
            "healthcheck": {"test": ["CMD", "pg_isready"], "interval": "2s"},
            "image": "postgres:17", "restart": "unless-stopped", "stop_signal": "SIGINT",
            "volumes": [{"type": "volume", "source": "pgdata", "target": "/var/lib/postgresql/data"}],
        }
        volumes["pgdata"] = {"name": "x_pgdata"}
    return {"name": "x", "networks": {"default": {"name": "x_default"}}, "services": services, "volumes": volumes}


@pytest.fixture
def deploy_settings(project_root):
    def make(**values):
        lines = "".join(f"{name}={value}\n" for name, value in {"STACK_NAME": "shop", **values}.items())
        write(project_root, lines)
        return load_settings(project_root, {}).deploy

    return make


def test_the_stack_file_holds_no_secret_and_names_a_secret_for_each(deploy_settings):
    document, secrets = stack_file(compose_config(), deploy_settings(DEPLOY_MEDIA_DIR="/mnt/shared/media"),
                                   sqlite=False)
    text = json.dumps(document)
    for value in (KEY, PASSWORD, DATABASE_URL, "tok_live_1", "pa%3Ass"):
        assert value not in text
    assert {secret.variable for secret in secrets} == {"SECRET_KEY", "DATABASE_URL", "STRIPE_API_TOKEN", "POSTGRES_PASSWORD"}
    web, db = document["services"]["web"], document["services"]["db"]
    assert web["environment"]["SECRET_KEY_FILE"] == "/run/secrets/SECRET_KEY"
    assert web["environment"]["DATABASE_URL_FILE"] == "/run/secrets/DATABASE_URL"
    assert web["environment"]["SHOP_NAME"] == "Corner"
    assert "DEBUG" not in web["environment"]  # unset stays unset, not "None"
    assert db["environment"]["POSTGRES_PASSWORD_FILE"] == "/run/secrets/POSTGRES_PASSWORD"
    by_variable = {secret.variable: secret for secret in secrets}
    assert {"source": by_variable["POSTGRES_PASSWORD"].name, "target": "POSTGRES_PASSWORD"} in db["secrets"]
    assert by_variable["POSTGRES_PASSWORD"].value == PASSWORD
    assert document["secrets"] == {secret.name: {"external": True} for secret in secrets}


def test_web_loses_what_swarm_cannot_take_and_keeps_its_hardening(deploy_settings):
    document, _ = stack_file(compose_config(), deploy_settings(DEPLOY_MEDIA_DIR="/mnt/shared/media"),
                             sqlite=False)
    web = document["services"]["web"]
    for key in ("build", "restart", "depends_on", "ports", "security_opt", "tmpfs", "command"):
        assert key not in web
    assert web["read_only"] is True and web["cap_drop"] == ["ALL"] and web["user"] == "10001:10001"
    assert {"type": "tmpfs", "target": "/tmp", "tmpfs": {"size": 64 * 1024 * 1024}} in web["volumes"]
    assert {"type": "bind", "source": "/mnt/shared/media", "target": "/data/media"} in web["volumes"]
    # With a shared media folder, web spreads over the nodes.
    assert "placement" not in web["deploy"] or not web["deploy"]["placement"].get("constraints")
    assert document["version"] == "3.9"
    assert "name" not in document
    # Volume names are the stack's, not the Compose project's.
    assert document["volumes"] == {"data": {}, "proxy-data": {}, "pgdata": {}}


def test_without_a_shared_media_folder_web_runs_on_the_data_node(deploy_settings):
    document, _ = stack_file(compose_config(), deploy_settings(), sqlite=False)
    assert document["services"]["web"]["deploy"]["placement"]["constraints"] == ["node.labels.shop.data==true"]


def test_sqlite_keeps_web_on_the_data_node_even_with_a_shared_media_folder(deploy_settings):
    document, _ = stack_file(compose_config(postgres=False), deploy_settings(DEPLOY_MEDIA_DIR="/mnt/m"),
                             sqlite=True)
    assert "node.labels.shop.data==true" in document["services"]["web"]["deploy"]["placement"]["constraints"]
    assert "db" not in document["services"]


def test_the_database_is_one_replica_pinned_to_the_data_node_and_never_two_at_once(deploy_settings):
    document, _ = stack_file(compose_config(), deploy_settings(), sqlite=False)
    db = document["services"]["db"]["deploy"]
    assert db["replicas"] == 1
    assert db["placement"]["constraints"] == ["node.labels.shop.data==true"]
    assert db["update_config"]["order"] == "stop-first"
    assert "restart" not in document["services"]["db"]


def test_the_proxy_publishes_deploy_port_in_host_mode_or_80_and_443_with_a_domain(deploy_settings):
    plain, _ = stack_file(compose_config(), deploy_settings(DEPLOY_PORT="8080"), sqlite=False)
    assert plain["services"]["proxy"]["ports"] == [{"target": 8080, "published": 8080, "protocol": "tcp", "mode": "host"}]
    https, _ = stack_file(compose_config(), deploy_settings(DEPLOY_DOMAIN="shop.example.com"), sqlite=False)
    assert [(port["published"], port["target"]) for port in https["services"]["proxy"]["ports"]] == [(80, 8080), (443, 8443)]
    assert all(port["mode"] == "host" for port in https["services"]["proxy"]["ports"])


def test_a_changed_value_gets_a_new_secret_name_and_an_unchanged_one_keeps_it():
    first = secret_name("shop", "POSTGRES_PASSWORD", "hunter2")
    assert first == secret_name("shop", "POSTGRES_PASSWORD", "hunter2")
    assert first != secret_name("shop", "POSTGRES_PASSWORD", "hunter3")
    assert first != secret_name("shop", "SECRET_KEY", "hunter2")
    assert first.startswith("shop_postgres_password_") and len(first) <= 64
    assert "hunter2" not in first
    assert len(secret_name("s" * 32, "A_VERY_LONG_VARIABLE_NAME_OF_THE_USERS_OWN_API_TOKEN", "v")) <= 64


def test_compose_gets_the_release_and_where_the_data_lives(deploy_settings):
    release = Release("abc1234", "r/web:abc1234@sha256:1", "r/web-proxy:abc1234@sha256:2", 3)
    env = compose_environment(deploy_settings(DEPLOY_DOMAIN="shop.example.com"), release)
    assert env == {
        "DEPLOY_WEB_IMAGE": "r/web:abc1234@sha256:1",
        "DEPLOY_PROXY_IMAGE": "r/web-proxy:abc1234@sha256:2",
        "DEPLOY_REPLICAS": "3",
        "DEPLOY_STACK": "shop",
        "DEPLOY_DATA_LABEL": "shop.data",
        "DEPLOY_SITE_ADDRESS": "shop.example.com",
    }
    assert compose_environment(deploy_settings(), release)["DEPLOY_SITE_ADDRESS"] == ""
