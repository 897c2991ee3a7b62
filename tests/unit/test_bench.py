"""The benchmark's table without an engine: medians, ranges, ratios, targets, JSON, and bad options."""

import json

import pytest

from bench import compare, report
from bench.report import Figures

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
