"""The proxy image (the Dockerfile's `proxy` stage: Caddy from Debian, with compose/Caddyfile) in
front of two upstreams, on a real engine, without a Swarm.

Two containers of the base image serve their host name with `python3 -m http.server 8000` under
one network alias, so Docker's DNS returns both addresses for it, as a Swarm's `tasks.<service>`
returns every web task's. The proxy runs hardened (read-only root, no capabilities, its volume at
/data), published on 127.0.0.1 only. Everything is labelled with the run and removed afterwards,
the image too, whatever happened. The tests share it and run in file order: after
test_an_upstream_that_goes_away_costs_no_request, one upstream is left.
"""

import http.client
import json
import os
import ssl
import subprocess
import threading
import time
import urllib.error
import urllib.request

import pytest

from devtools.scratch import copy_checkout, free_ports

from .harness import DOCKER, REPO, RUN_ID, docker

pytestmark = pytest.mark.e2e

LABEL = f"e2e-proxy-run={RUN_ID}"
ALIAS = "upstream"
UPSTREAMS = ("upstream-1", "upstream-2")
# Serve the container's host name at /, from a folder of its own.
UPSTREAM_COMMAND = "mkdir -p /tmp/www && hostname > /tmp/www/index.html && cd /tmp/www && exec python3 -m http.server 8000"
HARDENED = ("--read-only", "--cap-drop", "ALL", "--security-opt", "no-new-privileges", "--volume", "/data")


def base_image() -> str:
    return os.environ.get("BASE_IMAGE") or "python:3.13-slim"


def remove_labelled() -> None:
    containers = docker("ps", "-aq", "--filter", f"label={LABEL}", check=False).stdout.split()
    if containers:
        docker("rm", "-f", "-v", *containers, check=False)
    networks = docker("network", "ls", "-q", "--filter", f"label={LABEL}", check=False).stdout.split()
    if networks:
        docker("network", "rm", *networks, check=False)


@pytest.fixture(scope="module")
def proxy_image(engine, tmp_path_factory):
    """The proxy stage, built from a scratch copy of the checkout; removed at the end."""
    copy = tmp_path_factory.mktemp("proxy") / "project"
    copy_checkout(REPO, copy)
    tag = f"e2e-{RUN_ID}-proxy:e2e"
    try:
        # BuildKit builds only the stages the target needs; the legacy builder would build them all.
        built = subprocess.run(
            [*DOCKER, "build", "--target", "proxy", "--build-arg", f"BASE_IMAGE={base_image()}",
             "--label", LABEL, "--tag", tag, str(copy)],
            env={**os.environ, "DOCKER_BUILDKIT": "1"}, capture_output=True, text=True, timeout=900, check=False,
        )
        assert built.returncode == 0, built.stderr[-3000:]
        yield tag
    finally:
        remove_labelled()
        docker("image", "rm", "-f", tag, check=False)


def run_proxy(image: str, network: str, *options: str) -> str:
    return docker("run", "--detach", "--label", LABEL, "--network", network, "--env", f"UPSTREAM_NAME={ALIAS}",
                  *HARDENED, *options, image).stdout.strip()


@pytest.fixture(scope="module")
def proxied(proxy_image):
    """The two upstreams and the proxy before them, answering on base_url."""
    network = f"e2e-{RUN_ID}-proxy"
    port = free_ports()
    try:
        docker("network", "create", "--label", LABEL, network)
        upstreams = {
            name: docker("run", "--detach", "--label", LABEL, "--network", network, "--network-alias", ALIAS,
                         "--hostname", name, base_image(), "sh", "-c", UPSTREAM_COMMAND).stdout.strip()
            for name in UPSTREAMS
        }
        proxy = run_proxy(proxy_image, network, "--publish", f"127.0.0.1:{port}:8080")
        lab = Lab(f"http://127.0.0.1:{port}", proxy, upstreams, network, proxy_image)
        lab.wait_until_answering()
        yield lab
    finally:
        remove_labelled()


class Lab:
    def __init__(self, base_url: str, proxy: str, upstreams: dict[str, str], network: str, image: str) -> None:
        self.base_url = base_url
        self.proxy = proxy
        self.upstreams = upstreams
        self.network = network
        self.image = image

    def get(self, path: str = "/", timeout: float = 15) -> tuple[int, str]:
        try:
            with urllib.request.urlopen(self.base_url + path, timeout=timeout) as response:
                return response.status, response.read().decode().strip()
        except urllib.error.HTTPError as error:
            return error.code, ""

    def wait_until_answering(self, within: float = 30) -> None:
        deadline = time.monotonic() + within
        while True:
            try:
                if self.get(timeout=2)[0] == 200:
                    return
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise AssertionError(f"the proxy did not answer within {within:.0f}s:\n{self.logs()}")
            time.sleep(0.2)

    def logs(self) -> str:
        result = docker("logs", self.proxy, check=False)
        return result.stdout + result.stderr


def adapted(image: str, **variables: str) -> dict:
    """The JSON config Caddy makes of the image's Caddyfile under these variables."""
    options = [option for name, value in variables.items() for option in ("--env", f"{name}={value}")]
    return json.loads(docker("run", "--rm", *options, image, "caddy", "adapt", "--config", "/etc/caddy/Caddyfile").stdout)


def listeners(config: dict) -> list[str]:
    return sorted(address for server in config["apps"]["http"]["servers"].values() for address in server["listen"])


def test_debians_caddy_adapts_the_caddyfile_and_an_empty_variable_is_taken_as_unset(proxy_image, report):
    version = docker("run", "--rm", proxy_image, "caddy", "version").stdout.strip()
    report(f"caddy {version} (Debian's package in the base image's release)")
    plain = adapted(proxy_image, SITE_ADDRESS="", UPSTREAM_NAME="")
    assert listeners(plain) == ["127.0.0.1:8081", ":8080"]
    site = next(server for server in plain["apps"]["http"]["servers"].values() if server["listen"] == [":8080"])
    upstreams = site["routes"][0]["handle"][0]["dynamic_upstreams"]
    assert (upstreams["source"], upstreams["name"], upstreams["port"]) == ("a", "web", "8000")
    assert plain["admin"] == {"disabled": True}
    assert listeners(adapted(proxy_image, SITE_ADDRESS="example.com")) == ["127.0.0.1:8081", ":8443"]


def test_requests_are_shared_by_both_upstreams(proxied):
    answers = [proxied.get() for _ in range(10)]
    assert {status for status, _ in answers} == {200}
    assert sorted({body for _, body in answers}) == list(UPSTREAMS)


def test_the_proxy_runs_unprivileged_and_becomes_healthy_by_its_own_healthcheck(proxied):
    assert docker("exec", proxied.proxy, "id", "-u").stdout.strip() == "10002"
    status = docker("exec", proxied.proxy, "cat", "/proc/1/status").stdout
    assert "CapEff:\t0000000000000000" in status
    deadline = time.monotonic() + 20
    while (health := json.loads(docker("inspect", proxied.proxy).stdout)[0]["State"]["Health"]["Status"]) != "healthy":
        assert time.monotonic() < deadline, f"still {health} after 20 s"
        time.sleep(0.5)


def test_the_access_log_is_on_stdout_without_the_health_probes(proxied):
    path = f"/access-log-{RUN_ID}"
    assert proxied.get(path)[0] == 404
    deadline = time.monotonic() + 10
    while path not in (stdout := docker("logs", proxied.proxy).stdout) and time.monotonic() < deadline:
        time.sleep(0.2)
    logged = [json.loads(line) for line in stdout.splitlines() if line.startswith("{")]
    requests = [entry["request"]["uri"] for entry in logged if entry.get("msg") == "handled request"]
    assert path in requests
    assert not any(uri.startswith("/health") for uri in requests)


def test_an_upstream_that_goes_away_costs_no_request(proxied, report):
    outcomes: list[tuple[int | str, float]] = []
    halt = threading.Event()

    def visit() -> None:
        while not halt.is_set():
            started = time.monotonic()
            try:
                status, body = proxied.get()
                outcomes.append((status if status != 200 else body, time.monotonic() - started))
            except OSError as error:
                outcomes.append((f"{type(error).__name__}: {error}", time.monotonic() - started))
            time.sleep(0.02)

    visitor = threading.Thread(target=visit, daemon=True)
    visitor.start()
    time.sleep(1)
    gone, stays = UPSTREAMS
    # SIGKILL: the task vanishes as a crashed one does, nothing drained, its address left unanswered.
    docker("kill", proxied.upstreams[gone])
    killed_at = len(outcomes)
    # At least 3 s and 30 requests after: past Caddy's next look-up of the name, which no longer
    # returns the address, so the last requests show who answers then.
    deadline = time.monotonic() + 30
    time.sleep(3)
    while len(outcomes) < killed_at + 30 and time.monotonic() < deadline:
        time.sleep(0.1)
    halt.set()
    visitor.join(timeout=30)
    failures = [answer for answer, _ in outcomes if answer not in UPSTREAMS]
    slowest = max(seconds for _, seconds in outcomes)
    report(f"{len(outcomes)} requests, one of two upstreams killed after {killed_at}: "
           f"{len(failures)} failed, slowest {slowest:.2f} s")
    assert failures == []
    assert {answer for answer, _ in outcomes[-10:]} == {stays}


def test_a_domain_gets_https_and_http_is_redirected_to_it_without_the_inside_port(proxied):
    # localhost: Caddy's own CA issues the certificate, so no ACME server is needed.
    http_port = free_ports(2)
    https_port = http_port + 1
    proxy = run_proxy(proxied.image, proxied.network, "--env", "SITE_ADDRESS=localhost",
                      "--publish", f"127.0.0.1:{http_port}:8080", "--publish", f"127.0.0.1:{https_port}:8443")
    deadline = time.monotonic() + 30
    while True:
        try:
            plain = http.client.HTTPConnection("127.0.0.1", http_port, timeout=5)
            plain.request("GET", "/page?x=1", headers={"Host": "localhost"})
            redirect = plain.getresponse()
            break
        except OSError:
            assert time.monotonic() < deadline, docker("logs", proxy, check=False).stderr
            time.sleep(0.2)
    assert (redirect.status, redirect.getheader("Location")) == (308, "https://localhost/page?x=1")
    # Not verified: the point is that HTTPS answers through the proxy, not whose CA signed it.
    unverified = ssl.create_default_context()
    unverified.check_hostname = False
    unverified.verify_mode = ssl.CERT_NONE
    secure = http.client.HTTPSConnection("localhost", https_port, timeout=10, context=unverified)
    secure.request("GET", "/")
    answer = secure.getresponse()
    assert answer.status == 200 and answer.read().decode().strip() in UPSTREAMS
    # HTTP/3 would be offered on the inside port, which no client reaches.
    assert answer.getheader("Alt-Svc") is None
    certificates = docker("exec", proxy, "find", "/data/caddy/certificates", "-name", "localhost.crt").stdout
    assert certificates.strip().endswith("/localhost/localhost.crt")
