# SPDX-License-Identifier: MIT
# The scripted model server of tests/e2e, as a pod for the real-node tests
# (pods cannot reach the host's loopback).  Context: a directory holding
# model_server.py.
ARG BASE=debian:bookworm-slim
FROM ${BASE}
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 \
 && rm -rf /var/lib/apt/lists/*
COPY model_server.py /model_server.py
USER 65532:65532
ENTRYPOINT ["python3", "/model_server.py"]
