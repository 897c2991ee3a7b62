"""The deploy benchmark without an engine: its options, its table and JSON, the edits it makes to each
release, the release it reads from a service's image, and the phases it reads from `inv deploy`."""

import json
import sys
from pathlib import Path

import pytest

import tasks
from bench import deploy
from bench.compare import BenchError
from bench.deploy import FAILING, FIRST, GOOD, Release

from .conftest import REPO, calls, mock_context

FACTS = {"cores": "2", "swarm lab": "3 nodes"}


def releases(*, failed: int = 0, rolled_back_to: str = "c3", exit_status: int = 1) -> list[Release]:
    """A first deploy, two good releases and one that Swarm rolled back, as a run records them."""
    return [
        Release(1, FIRST, "a1", 9.8, 108.0, phases={"preparation": 3.0, "stack and database": 30.0,
                                                    "migrations": 20.0, "rolling update": 55.0},
                serving="a1", expected="a1"),
        Release(2, GOOD, "b2", 4.5, 88.0, 0, 30000, failed, 416.0,
                phases={"preparation": 3.0, "migrations": 20.0, "rolling update": 65.0}, serving="b2", expected="b2"),
        Release(3, GOOD, "c3", 2.5, 86.0, 0, 31000, 0, 316.0,
                phases={"preparation": 3.0, "migrations": 22.0, "rolling update": 61.0}, serving="c3", expected="c3"),
        Release(4, FAILING, "d4", 2.3, 104.0, exit_status, 36000, 0, 277.0,
                phases={"preparation": 3.0, "migrations": 20.0, "rolling update": 81.0},
                serving=rolled_back_to, expected="c3", said="error: release d4 was not deployed: update rolled back"),
    ]


def summary_lines(table: str) -> dict[str, str]:
    """The summary's rows by their first cell."""
    rows = [line for line in table.split("\n\n")[0].splitlines()[2:]]
    return {row.split(" | ")[0].removeprefix("| "): row for row in rows}


def test_the_summary_gives_release_time_failed_requests_and_time_to_rollback():
    table = deploy.markdown(releases(), FACTS)
    assert table.split("\n\n")[0].splitlines() == [
        "| figure | value | target | met |",
        "|---|---|---|---|",
        "| first deploy (`inv deploy`: stack, database, migrations, 3 replicas) | 108 s |  |  |",
        "| `inv push` of a release (production build, push) | 2.5 s (2.3–4.5) |  |  |",
        "| release time (`inv deploy`, replicas replaced one at a time) | 87 s (86–88) |  |  |",
        "| … of which the migrations job | 21 s (20–22) |  |  |",
        "| … of which the rolling update | 63 s (61–65) |  |  |",
        "| failed requests during the 2 releases | 0 of 61,000 | 0 | yes |",
        "| time to automatic rollback (`inv deploy` until it exits non-zero) | 104 s |  |  |",
        "| … of which the rolling update, until Swarm rolled it back | 81 s |  |  |",
        "| failed requests during the rolled back release | 0 of 36,000 | 0 | yes |",
        "| serving after the rollback | release 3 (c3) | the release before | yes |",
    ]


def test_each_release_has_a_row_with_its_push_deploy_phases_load_and_what_served_after():
    rows = deploy.markdown(releases(), FACTS).split("\n\n")[1].splitlines()
    assert rows[0].startswith("| release | `inv push` | `inv deploy` | migrations | rolling update | exit status |")
    assert rows[2] == "| 1 (a1): first deploy | 9.8 s | 108 s | 20 s | 55 s | 0 | – | – | – | release 1 |"
    assert rows[5] == "| 4 (d4): /healthz answers 503 | 2.3 s | 104 s | 20 s | 81 s | 1 | 36,000 | 0 | 277 ms | release 3 |"


def test_failed_requests_miss_the_goal_in_bold():
    table = deploy.markdown(releases(failed=12), FACTS)
    assert summary_lines(table)["failed requests during the 2 releases"].endswith("| 12 of 61,000 | 0 | **no** |")
    assert "| 30,000 | **12** | 416 ms | release 2 |" in table


@pytest.mark.parametrize("serving, exit_status", [("d4", 1), ("c3", 0)])
def test_a_release_not_rolled_back_to_the_one_before_misses_in_bold(serving, exit_status):
    table = deploy.markdown(releases(rolled_back_to=serving, exit_status=exit_status), FACTS)
    assert summary_lines(table)["serving after the rollback"].endswith("| the release before | **no** |")


def test_the_table_ends_with_the_machine_and_the_run():
    text = deploy.markdown(releases(), FACTS)
    assert text.splitlines()[-1] == "Median (min–max) over the releases. cores: 2; swarm lab: 3 nodes."


def test_the_json_holds_every_figure_and_every_release():
    data = json.loads(deploy.as_json(releases(), FACTS))
    assert data["machine"] == FACTS
    figures = {figure["key"]: figure for figure in data["figures"]}
    assert figures["release"]["samples"] == [88.0, 86.0]
    assert figures["rollback"]["samples"] == [104.0]
    assert figures["release_failed"]["met"] is True and figures["rollback_serving"]["met"] is True
    assert [r["kind"] for r in data["releases"]] == [FIRST, GOOD, GOOD, FAILING]
    assert data["releases"][3]["said"].endswith("update rolled back")


def test_options_default_to_three_releases_into_bench_results():
    assert deploy.parse_options([]) == deploy.Options(releases=3, output=Path("bench-results"))
    assert deploy.parse_options(["--releases", "1", "--output", "out"]) == deploy.Options(1, Path("out"))


def test_python_m_bench_deploy_refuses_fewer_than_one_release_with_one_line_before_anything_runs(capsys):
    assert deploy.main(["--releases", "0"]) == 1
    assert capsys.readouterr().err.strip() == "error: --releases must be at least 1, got 0"


def test_inv_bench_deploy_runs_python_m_bench_deploy_with_the_releases_and_the_output(monkeypatch):
    monkeypatch.setattr(tasks.os, "chdir", lambda path: None)
    c = mock_context()
    tasks.bench(c, repeat=2, output="out", deploy=True)
    (argv, _), = calls(c)
    assert argv[1:] == ["-m", "bench.deploy", "--releases", "2", "--output", "out"]


def test_each_release_changes_the_first_heading_of_the_sites_front_page():
    template = (REPO / deploy.TEMPLATE).read_text()
    changed = deploy.with_heading(template, deploy.heading_of(2))
    assert "<h1>Guestbook, release 2</h1>" in changed and "<h1>Guestbook</h1>" not in changed
    assert deploy.with_heading("<h1>a</h1><h1>b</h1>", "c") == "<h1>c</h1><h1>b</h1>"
    with pytest.raises(ValueError):
        deploy.with_heading("<h2>none</h2>", "c")


def test_the_failing_release_keeps_the_application_the_site_names():
    assert "def application(environ, start_response):" in deploy.UNHEALTHY_WSGI
    assert "application = " in (REPO / deploy.WSGI).read_text()


@pytest.mark.parametrize("image, release", [
    ("127.0.0.1:32844/bench-web:ec4c1fb09213@sha256:15f2a7e5", "ec4c1fb09213"),
    ("registry.example.com:5000/team/web:r1", "r1"),
    ("127.0.0.1:5000/web@sha256:15f2a7e5", ""),
])
def test_the_release_serving_is_the_tag_of_the_services_image(image, release):
    assert deploy.release_of(image) == release


def test_the_phases_of_a_deploy_are_timed_from_its_progress_lines():
    lines = [(101.0, "+ docker secret ls\n"),
             (103.0, "deploy: running the migrations of release b2, once\n"),
             (123.0, "deploy: replacing the web replicas with release b2, one at a time\n"),
             (150.0, "error: release b2 was not deployed\n")]
    assert deploy.phase_seconds(lines, 100.0, 188.0) == {"preparation": 3.0, "migrations": 20.0, "rolling update": 65.0}
    assert deploy.phase_seconds([], 100.0, 101.5) == {"preparation": 1.5}


def test_a_command_is_run_with_the_time_of_each_line_it_writes_on_stderr(tmp_path):
    code = "import sys, time; print('out'); sys.stderr.write('one\\n'); sys.stderr.flush(); time.sleep(0.3); sys.stderr.write('two\\n')"
    result, lines = deploy.run_stamped([sys.executable, "-c", code], env={}, cwd=tmp_path)
    assert result.returncode == 0 and result.stdout == "out\n" and result.stderr == "one\ntwo\n"
    assert [text for _, text in lines] == ["one\n", "two\n"]
    assert lines[1][0] - lines[0][0] >= 0.25


def test_a_command_that_runs_too_long_is_ended(tmp_path):
    with pytest.raises(BenchError) as caught:
        deploy.run_stamped([sys.executable, "-c", "import time; time.sleep(30)"], env={}, cwd=tmp_path, timeout=1)
    assert caught.value.message.endswith("did not finish within 1 s")
