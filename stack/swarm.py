"""The stack file for `docker stack deploy`, made from the project's own Compose files; nothing here runs anything.

`docker compose config --format json` merges docker-compose.yml, compose/postgres.yml and
compose/swarm.yml with the values of .env; `stack_file` turns that into what Swarm takes:
each image by digest, every secret as a Swarm secret mounted at /run/secrets/NAME (the
container gets NAME_FILE, docker/settingsrules.py reads it back), no build, no ports but
the proxy's, and placement by where the data lives. The result holds no secret value, so it
can be written to disk and kept as the release's record.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from typing import Any, Mapping

from .compose import DB, WEB
from .settings import SECRET_NAME, DeploySettings

PROXY = "proxy"
# The stack file schema the oldest supported client (Docker 20.10's) reads.
STACK_FILE_VERSION = "3.9"
SECRETS_DIR = "/run/secrets"
# Besides the variables SECRET_NAME matches: the site's database URL carries the password.
SECRET_VARIABLES = ("DATABASE_URL",)
# What a Swarm service takes of a Compose service; the rest is for one machine (build,
# restart, depends_on) or has no Swarm counterpart (security_opt: Swarm sets no-new-privileges
# only from Docker 23 on).
SERVICE_KEYS = (
    "image", "command", "entrypoint", "environment", "healthcheck", "volumes", "user", "read_only",
    "cap_drop", "cap_add", "stop_grace_period", "stop_signal", "deploy", "ports", "working_dir", "labels", "init",
)
# Docker's object names: at most 64 characters of these.
_NAME_CHARACTERS = re.compile(r"[^a-zA-Z0-9_.-]")
# The proxy's ports inside its container (compose/Caddyfile): unprivileged, so Caddy needs no capability.
PROXY_HTTP_PORT, PROXY_HTTPS_PORT = 8080, 8443


@dataclass(frozen=True)
class Release:
    """What one release runs: images as `repository:tag@sha256:...`, and the number of web replicas."""

    name: str
    web_image: str
    proxy_image: str
    replicas: int


@dataclass(frozen=True)
class SwarmSecret:
    """A value to create as a Swarm secret: `name` changes whenever the value does (secrets are immutable)."""

    variable: str
    name: str
    value: str


def compose_environment(deploy: DeploySettings, release: Release) -> dict[str, str]:
    """The variables compose/swarm.yml reads, for `docker compose config`."""
    return {
        "DEPLOY_WEB_IMAGE": release.web_image,
        "DEPLOY_PROXY_IMAGE": release.proxy_image,
        "DEPLOY_REPLICAS": str(release.replicas),
        "DEPLOY_STACK": deploy.stack_name,
        "DEPLOY_DATA_LABEL": deploy.data_label,
        # Empty: plain HTTP for any host name (compose/Caddyfile).
        "DEPLOY_SITE_ADDRESS": deploy.domain,
    }


def secret_name(stack: str, variable: str, value: str) -> str:
    """`<stack>_<variable>_<12 hex of a SHA-256 of the value>`: a new value gets a new name, the same value
    keeps its name (so nothing restarts for it). Whoever can list a Swarm's secrets can also mount them
    in a service and read them, so the digest tells such a reader nothing they could not learn."""
    digest = hashlib.sha256(f"{stack}\0{variable}\0{value}".encode()).hexdigest()[:12]
    prefix = _NAME_CHARACTERS.sub("-", f"{stack}_{variable.lower()}")[: 64 - 13]
    return f"{prefix}_{digest}"


def is_secret(variable: str) -> bool:
    return bool(SECRET_NAME.search(variable)) or variable in SECRET_VARIABLES


def stack_file(
    config: Mapping[str, Any],
    deploy: DeploySettings,
    *,
    sqlite: bool,
) -> tuple[dict[str, Any], list[SwarmSecret]]:
    """The stack file (a dict to write as JSON, which YAML readers take) and the secrets it names.

    `config` is `docker compose config --format json` of the Compose files with swarm.yml. With `sqlite`, or without a
    DEPLOY_MEDIA_DIR, web runs on the data node next to its volume; else it spreads and the
    uploads live in DEPLOY_MEDIA_DIR, which every node must mount.
    """
    stack = deploy.stack_name
    services: dict[str, Any] = {}
    secrets: dict[str, SwarmSecret] = {}
    on_data_node = f"node.labels.{deploy.data_label}==true"
    for name, service in config.get("services", {}).items():
        spec = {key: value for key, value in service.items() if key in SERVICE_KEYS and value not in (None, {}, [])}
        environment = {k: str(v) for k, v in (service.get("environment") or {}).items() if v not in (None, "")}
        mounted = []
        for variable in sorted(environment):
            if is_secret(variable):
                value = environment.pop(variable)
                secret = secrets.setdefault(variable, SwarmSecret(variable, secret_name(stack, variable, value), value))
                environment[f"{variable}_FILE"] = f"{SECRETS_DIR}/{variable}"
                mounted.append({"source": secret.name, "target": variable})
        spec["environment"] = environment
        if mounted:
            spec["secrets"] = mounted
        spec["volumes"] = [_swarm_volume(volume) for volume in service.get("volumes", [])]
        spec["volumes"] += [{"type": "tmpfs", "target": target, "tmpfs": {"size": size}}
                            for target, size in map(_tmpfs, service.get("tmpfs", []))]
        spec["deploy"] = dict(service.get("deploy") or {})
        spec["deploy"].pop("resources", None)
        if name == WEB:
            spec.pop("ports", None)
            if sqlite or not deploy.media_dir:
                _constrain(spec, on_data_node)
            if deploy.media_dir:
                spec["volumes"].append({"type": "bind", "source": deploy.media_dir, "target": "/data/media"})
        elif name == DB:
            spec["deploy"] = {
                "replicas": 1,
                "endpoint_mode": "dnsrr",
                "placement": {"constraints": [on_data_node]},
                # Never two servers on one data directory.
                "update_config": {"order": "stop-first"},
                "restart_policy": {"condition": "any", "delay": "2s"},
            }
        elif name == PROXY:
            spec["ports"] = _proxy_ports(deploy)
        services[name] = {key: value for key, value in spec.items() if value not in ({}, [])}
    volumes = {name: {} for name in config.get("volumes", {})}
    document = {
        "version": STACK_FILE_VERSION,
        "services": services,
        # The stack's own network; Swarm names it <stack>_default.
        "networks": {"default": {"driver": "overlay"}},
        "volumes": volumes,
        "secrets": {secret.name: {"external": True} for secret in secrets.values()},
    }
    return document, list(secrets.values())


def _swarm_volume(volume: Mapping[str, Any]) -> dict[str, Any]:
    kept = {key: volume[key] for key in ("type", "source", "target", "read_only") if key in volume}
    return kept


def _tmpfs(entry: str) -> tuple[str, int]:
    """`/tmp:size=64m,mode=1777` as (target, size in bytes); Swarm's tmpfs mounts take a size and mode."""
    target, _, options = entry.partition(":")
    size = 0
    for option in options.split(","):
        key, _, value = option.partition("=")
        if key == "size" and value:
            units = {"k": 1024, "m": 1024**2, "g": 1024**3}
            size = int(value[:-1]) * units[value[-1].lower()] if value[-1].lower() in units else int(value)
    return target, size


def _constrain(spec: dict[str, Any], constraint: str) -> None:
    placement = spec["deploy"].setdefault("placement", {})
    placement["constraints"] = [*placement.get("constraints", []), constraint]


def _proxy_ports(deploy: DeploySettings) -> list[dict[str, Any]]:
    """Host-mode ports on the proxy's node: 80 and 443 with a domain (certificates need both), else DEPLOY_PORT."""
    def port(published: int, target: int) -> dict[str, Any]:
        return {"target": target, "published": published, "protocol": "tcp", "mode": "host"}

    if deploy.domain:
        return [port(80, PROXY_HTTP_PORT), port(443, PROXY_HTTPS_PORT)]
    return [port(deploy.port, PROXY_HTTP_PORT)]
