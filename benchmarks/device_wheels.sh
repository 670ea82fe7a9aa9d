#!/usr/bin/env bash
# The pure-Python wheels an accelerator machine needs (it has jax with CUDA and no network):
# the versions installed in .venv, downloaded without dependencies into .whl/ (git-ignored),
# which a device run carries (carry=[".whl"]) and benchmarks/gpu_session.sh installs there.
set -euo pipefail
cd "$(dirname "$0")/.."
pins=$(.venv/bin/python -m pip list --format=freeze |
       grep -iE '^(brainstate|braintools|brainunit|saiunit|brainevent|brainpy|braintrace|array.api.compat)==')
mkdir -p .whl
.venv/bin/python -m pip download -q --no-deps --only-binary=:all: -d .whl $pins
ls .whl
