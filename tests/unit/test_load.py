"""devtools/load.py without a server: reading wrk's output, and one-line errors on bad input."""

import json
import subprocess
import sys

import pytest

from devtools import load

from .conftest import REPO

WRK_OUTPUT = """\
Running 30s test @ http://127.0.0.1:8000/
  2 threads and 64 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency   151.20ms   40.11ms    1.02s    80.00%
    Req/Sec   210.33     50.10   300.00     70.00%
  Latency Distribution
     50%  148.50ms
     75%  170.00ms
     90%  200.00ms
     99%    1.25s
  12640 requests in 30.04s, 40.12MB read
  Socket errors: connect 0, read 2, write 0, timeout 5
  Non-2xx or 3xx responses: 3
Requests/sec:    420.77
Transfer/sec:      1.34MB
Non-2xx responses: 4
"""


def test_wrk_output_becomes_figures_in_milliseconds():
    figures = load.parse_wrk_output(WRK_OUTPUT, url="http://127.0.0.1:8000/", connections=64, threads=2)
    assert figures.requests == 12640
    assert figures.seconds == pytest.approx(30.04)
    assert figures.requests_per_second == pytest.approx(420.77)
    assert figures.p50_ms == pytest.approx(148.5)
    assert figures.p99_ms == pytest.approx(1250.0)
    # The script's count (every status outside 2xx), not wrk's own 4xx/5xx-only line.
    assert figures.non_2xx == 4
    assert figures.socket_errors == {"connect": 0, "read": 2, "write": 0, "timeout": 5}
    assert figures.errors == 11
    assert "4 responses outside 2xx" in figures.failure() and "2 read, 5 timeout" in figures.failure()


def test_a_clean_run_has_no_socket_errors_line_and_no_failure():
    clean = WRK_OUTPUT.replace("  Socket errors: connect 0, read 2, write 0, timeout 5\n", "")
    clean = clean.replace("Non-2xx responses: 4", "Non-2xx responses: 0").replace("    1.25s", "  900.00us")
    figures = load.parse_wrk_output(clean, url="http://127.0.0.1:8000/", connections=64, threads=2)
    assert figures.errors == 0 and figures.failure() is None
    assert figures.p99_ms == pytest.approx(0.9)
    assert "req/s          420.8" in figures.table()


def test_output_without_the_figures_is_a_load_error():
    with pytest.raises(load.LoadError, match="the request count"):
        load.parse_wrk_output("unable to connect", url="http://x/", connections=1, threads=1)


def run_script(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(REPO / "devtools" / "load.py"), *args], capture_output=True, text=True,
                          env={"PATH": "/usr/bin:/bin", **env}, stdin=subprocess.DEVNULL, timeout=60)


@pytest.mark.parametrize("args, fragment", [
    (["ftp://127.0.0.1/"], "expected an http:// or https:// URL"),
    (["http://127.0.0.1:9/", "--duration", "soon"], "argument --duration: invalid int value: 'soon'"),
    (["http://127.0.0.1:9/", "--connections", "0"], "connections must be at least 1"),
    ([], "the following arguments are required: url"),
])
def test_bad_input_gets_one_line_and_exit_status_2(args, fragment):
    result = run_script(*args)
    assert result.returncode == 2
    assert result.stdout == "" and "Traceback" not in result.stderr
    assert result.stderr.count("\n") == 1 and result.stderr.startswith("error: ") and fragment in result.stderr


def test_a_missing_wrk_says_how_to_install_it():
    result = run_script("http://127.0.0.1:9/", WRK="/nonexistent/wrk")
    assert result.returncode == 2
    assert result.stderr.startswith("error: the load generator '/nonexistent/wrk' was not found")
    assert "apt-get install wrk" in result.stderr and result.stderr.count("\n") == 1


def test_figures_as_json_hold_the_error_total():
    figures = load.parse_wrk_output(WRK_OUTPUT, url="http://127.0.0.1:8000/", connections=64, threads=2)
    assert json.loads(json.dumps(figures.as_dict()))["errors"] == 11
