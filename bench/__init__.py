"""Measuring the site under load: `load.py` drives wrk and returns its figures."""
