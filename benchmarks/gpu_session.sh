#!/usr/bin/env bash
# One accelerator session: install the carried wheels, check the engine on the
# device with the exactness tests, then benchmark.  Usage (from the repo root):
#   bash benchmarks/gpu_session.sh [tests|bench|both] [run.py arguments...]
#   bash benchmarks/gpu_session.sh profile [profile_step.py arguments...]
#   bash benchmarks/gpu_session.sh hlo [dump_step_hlo.py arguments...]
#   bash benchmarks/gpu_session.sh bound [accumulation_bound.py arguments...]
# Wheels: brainstate, braintools, brainunit, saiunit, brainevent, brainpy,
# braintrace and array_api_compat in .whl/ (jax with CUDA comes with the machine).
# The tests run with float32 matmuls at full precision (no TF32): they check exactness.
set -uo pipefail
what=${1:-both}; shift || true
OUT=${OUT:-/tmp/out}; mkdir -p "$OUT"
[[ -d /tmp/site/brainstate ]] || python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl || exit 1
export PYTHONPATH=/tmp/site:$PWD PYTHONUNBUFFERED=1 XLA_PYTHON_CLIENT_PREALLOCATE=false
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
python3 -c "import jax, brainstate; print('jax', jax.__version__, jax.devices(), 'brainstate', brainstate.__version__)"
if [[ $what == tests || $what == both ]]; then
  JAX_DEFAULT_MATMUL_PRECISION=highest python3 -m pytest -p no:nbval -p no:cacheprovider -q -x tests/algorithms/test_exactness.py \
    tests/algorithms/test_rank_and_approximations.py tests/algorithms/test_transforms.py \
    tests/algorithms/test_chunked.py tests/oracle/test_oracle_gradients.py 2>&1 | tee "$OUT/gpu_tests.log" | tail -15
fi
if [[ $what == bench || $what == both ]]; then
  python3 benchmarks/run.py "$@" --json "$OUT/gpu.json" 2>&1 | tee "$OUT/gpu.log"
fi
if [[ $what == profile ]]; then
  python3 benchmarks/profile_step.py "$@" 2>&1 | tee "$OUT/gpu_profile.md"
fi
if [[ $what == bound ]]; then
  python3 benchmarks/accumulation_bound.py "$@" 2>&1 | tee "$OUT/gpu_accumulation_bound.md"
fi
if [[ $what == hlo ]]; then
  python3 benchmarks/dump_step_hlo.py "$@" --out "$OUT/hlo" 2>&1 | tee "$OUT/loop_bodies.md"
  (cd "$OUT" && tar czf hlo.tgz hlo && rm -rf hlo)
fi
