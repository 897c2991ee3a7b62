#!/bin/sh
# A lab node: forward the registry's host address into the node, then run the engine.
#
# LAB_REGISTRY_PORT  the port the registry is published on at 127.0.0.1 on the host; the
#                    node listens on the same loopback address, so one image name works
#                    for the host's pushes and the node's pulls (loopback needs no TLS)
# LAB_REGISTRY       where the registry answers on the lab network (host:port)
set -eu

node="$(hostname)"
if [ -n "${LAB_REGISTRY_PORT:-}" ]; then
    socat "TCP-LISTEN:${LAB_REGISTRY_PORT},bind=127.0.0.1,fork,reuseaddr" "TCP:${LAB_REGISTRY}" &
fi
# --tls=false said outright: without it an unencrypted TCP socket costs a 15 s warning pause.
# Each node's containers go under a cgroup of its own name, which the lab's teardown removes.
exec dockerd \
    --host=unix:///var/run/docker.sock \
    --host=tcp://0.0.0.0:2375 \
    --tls=false \
    --cgroup-parent="/${node}" \
    --storage-driver=overlay2 \
    "$@"
