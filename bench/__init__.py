"""This stack against the classic tutorial Dockerfile, side by side: `inv bench` runs `python -m bench`."""
