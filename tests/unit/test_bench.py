"""The benchmark without an engine: its table (medians, ranges, ratios, targets, JSON), bad options,
the servers it measures, and a start timed while polling for the first 200."""

import http.server
import importlib.util
import json
import threading
import time

import pytest

import tasks
from bench import compare, report
from bench.__main__ import main as bench_main
from bench.report import Figures
from devtools.scratch import free_ports

from .conftest import REPO, calls, mock_context

FACTS = {"cores": "2", "docker engine": "20.10.24"}


def figures_with(key="rps", label="req/s on /", unit="req/s", ours=(), base=(), **details) -> Figures:
    figures = Figures()
    row = figures.row(key, label, unit, **details)
    row.ours.extend(ours)
    row.base.extend(base)
    return figures


def test_a_row_shows_the_median_and_the_range_of_its_samples_and_the_ratio_of_medians():
    figures = figures_with(ours=[900, 1200, 1000], base=[250, 200, 300], target=report.at_least_times(3.5))
    row = figures.rows["rps"]
    assert row.ratio == pytest.approx(4.0)
    assert row.met is True
    line = figures.markdown(FACTS).splitlines()[2]
    assert line == "| req/s on / | 1,000 req/s (900–1,200) | tutorial: 250 req/s (200–300) | 4.00 | ≥ 3.5× tutorial | yes |"


def test_a_missed_target_is_marked_in_bold():
    figures = figures_with(ours=[600], base=[200], target=report.at_least_times(3.5))
    assert figures.rows["rps"].met is False
    assert figures.markdown(FACTS).splitlines()[2].endswith("| ≥ 3.5× tutorial | **no** |")


@pytest.mark.parametrize("target, ours, base, met", [
    (report.at_most_fraction(0.1), 90, 1000, True),
    (report.at_most_fraction(0.1), 110, 1000, False),
    (report.at_most(1, "s", and_baseline=True), 0.8, 1.5, True),
    (report.at_most(1, "s", and_baseline=True), 0.8, 0.5, False),
    (report.at_most(1, "s", and_baseline=True), 1.2, 3.0, False),
    (report.at_most(150, "ms"), 149, None, True),
    (report.NOT_ABOVE_BASELINE, 60, 120, True),
    (report.NOT_ABOVE_BASELINE, 130, 120, False),
    # Without a baseline figure a relative target cannot be met.
    (report.at_least_times(8), 5000, None, False),
])
def test_targets(target, ours, base, met):
    assert target.met(ours, base) is met


def test_a_row_without_baseline_or_target_leaves_those_cells_empty():
    figures = figures_with("up", "`inv up` until healthy", "s", ours=[3.2, 3.0, 3.4], baseline="")
    assert figures.markdown(FACTS).splitlines()[2] == "| `inv up` until healthy | 3.2 s (3–3.4) | – | – |  |  |"


def test_the_table_ends_with_the_machine_facts():
    text = figures_with(ours=[1], base=[1]).markdown(FACTS)
    assert text.splitlines()[-1] == "Median (min–max) of each figure's samples. cores: 2; docker engine: 20.10.24."


def test_the_json_holds_every_sample_the_medians_and_the_verdicts():
    figures = figures_with(ours=[900, 1200, 1000], base=[250, 200, 300], target=report.at_least_times(3.5))
    data = json.loads(figures.as_json(FACTS))
    assert data["machine"] == FACTS
    (row,) = data["rows"]
    assert row["ours"] == {"median": 1000, "min": 900, "max": 1200, "samples": [900, 1200, 1000]}
    assert row["base"]["median"] == 250 and row["ratio"] == pytest.approx(4.0)
    assert row["target"] == "≥ 3.5× tutorial" and row["met"] is True


@pytest.mark.parametrize("value, text", [(0, "0"), (0.01234, "0.0123"), (4.567, "4.57"), (1234.5, "1,234"), (99.95, "100")])
def test_numbers_keep_three_significant_figures(value, text):
    assert report.number(value) == text


def test_servers_default_to_all_three_and_refuse_an_unknown_one():
    assert compare.parse_servers("") == compare.SERVERS
    assert compare.parse_servers(" granian , gunicorn-sync ") == ("granian", "gunicorn-sync")
    with pytest.raises(compare.BenchError) as caught:
        compare.parse_servers("granian,nginx")
    assert "'nginx'" in caught.value.message and "gunicorn-gthread" in caught.value.message


def test_the_servers_are_the_entrypoints_with_its_default_first():
    spec = importlib.util.spec_from_file_location("entrypoint", REPO / "docker" / "entrypoint.py")
    entrypoint = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(entrypoint)
    assert compare.SERVERS[0] == entrypoint.DEFAULT_WEB_SERVER
    assert sorted(compare.SERVERS) == sorted(entrypoint.SERVERS)


class _Ok(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture
def answering_url():
    """A URL on 127.0.0.1 that answers 200."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Ok)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()
    server.server_close()


def test_the_first_200_is_timed_while_the_action_runs(answering_url):
    took, first = compare.timed_while_polling(lambda: time.sleep(0.2), answering_url)
    assert took >= 0.2
    assert first is not None and first < took


def test_an_action_that_fails_fails_at_once_without_waiting_for_a_200():
    def up():
        raise compare.BenchError("inv up failed")

    started = time.monotonic()
    with pytest.raises(compare.BenchError):
        compare.timed_while_polling(up, f"http://127.0.0.1:{free_ports()}/")
    assert time.monotonic() - started < compare.START_TIMEOUT / 10


@pytest.mark.parametrize("field", ["repeat", "duration", "connections"])
def test_options_below_one_are_refused(field):
    with pytest.raises(compare.BenchError) as caught:
        compare.check_options(compare.Options(**{field: 0}))
    assert f"--{field} must be at least 1" in caught.value.message


def test_the_tutorial_dockerfile_is_the_tutorials():
    lines = [line for line in compare.TUTORIAL_DOCKERFILE.read_text().splitlines() if line.strip()]
    assert lines == [
        "ARG BASE_IMAGE=python:3.13-slim",
        "FROM ${BASE_IMAGE}",
        "WORKDIR /app",
        "COPY requirements.txt .",
        "RUN pip install -r requirements.txt --no-cache-dir",
        "COPY . .",
        "CMD python manage.py runserver 0.0.0.0:8000",
    ]


@pytest.mark.parametrize(("argv", "line"), [
    (["--repeat", "0", "--duration", "5", "--connections", "8", "--servers", "", "--output", "out"],
     "error: --repeat must be at least 1, got 0"),
    (["--repeat", "1", "--duration", "5", "--connections", "8", "--servers", "nginx", "--output", "out"],
     "error: unknown server 'nginx': choose from granian, gunicorn-gthread, gunicorn-sync"),
])
def test_python_m_bench_refuses_bad_options_with_one_line_before_anything_runs(argv, line, capsys):
    assert bench_main(argv) == 1
    assert capsys.readouterr().err.strip() == line


def test_inv_bench_runs_python_m_bench_with_every_option(monkeypatch):
    monkeypatch.setattr(tasks.os, "chdir", lambda path: None)
    c = mock_context()
    tasks.bench(c, repeat=1, duration=5, servers="granian")
    (argv, _), = calls(c)
    assert argv[1:] == ["-m", "bench", "--repeat", "1", "--duration", "5", "--connections", "32",
                        "--servers", "granian", "--output", "bench-results"]
