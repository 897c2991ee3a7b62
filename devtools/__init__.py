"""Helpers the tests and the benchmark share; the product, tasks.py and stack/ never import it.

scratch  copies of a checkout (from `git ls-files`) and free ports   load  wrk against a URL
servers  the production servers, as the image's entrypoint lists them
swarmlab a three-node Docker Swarm with a registry on one machine, for the deploy tests and benchmark
"""
