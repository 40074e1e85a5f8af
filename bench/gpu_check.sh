#!/usr/bin/env bash
# GPU check of the generator runtime: parity, reduced-precision error, CUDA graphs, timings,
# texture upload (host vs CUDA-GL interop). One prepared run for a session that is lent an
# H100/H200 for a few minutes; under 6 minutes in all. What it checks: bench/gpu_check.py.
#
# 1. Here (dev machine, repo root), once, to bring what the GPU image lacks (moderngl and
#    glcontext wheels for Python 3.12; the GL/EGL loader packages):
#        bash bench/gpu_check.sh --prepare
#    (adds /.whl/ and /.gl/ to .git/info/exclude; without them the upload checks are skipped.)
# 2. On the GPU, through the device tool, with carry [".whl", ".gl"], timeout_s 480:
#        bash bench/gpu_check.sh
#    Output also lands in $OUT/gpu_check.log when $OUT is set.
# 3. Here, to know the script runs without a GPU:
#        bash bench/gpu_check.sh --device cpu --quick
set -u
cd "$(dirname "$0")/.."

if [ "${1:-}" = "--prepare" ]; then
    set -e
    EXCLUDE=$(git rev-parse --git-path info/exclude)
    mkdir -p "$(dirname "$EXCLUDE")"
    for entry in /.whl/ /.gl/; do
        grep -qxF "$entry" "$EXCLUDE" 2>/dev/null || echo "$entry" >> "$EXCLUDE"
    done
    PIP_PY=${PYTHON:-.venv/bin/python}
    "$PIP_PY" -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 \
        --implementation cp --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 \
        --platform manylinux2014_x86_64 --platform manylinux1_x86_64 -d .whl \
        moderngl==5.13.0 glcontext==3.1.0
    mkdir -p .gl /tmp/amd64/partial
    o='-oAPT::Architecture=amd64 -oAPT::Architectures=amd64 -oDir::State::Lists=/tmp/amd64'
    apt-get $o update -qq
    (cd .gl && apt-get $o download libegl1 libglvnd0 libopengl0 libgl1 libglx0 libgles2)
    ls -la .whl .gl
    exit 0
fi

# The python with torch: $PYTHON, else the project venv (dev machine), else python3 (GPU image).
if [ -n "${PYTHON:-}" ]; then PY=$PYTHON
elif [ -x .venv/bin/python ]; then PY=.venv/bin/python
else PY=python3; fi
LOG=${OUT:-/tmp}/gpu_check.log
: > "$LOG"

{
echo "== setup"
if ls .gl/*.deb >/dev/null 2>&1 && [ "$(id -u)" = 0 ] && command -v nvidia-smi >/dev/null; then
    for f in .gl/*.deb; do dpkg -x "$f" /; done
    ldconfig
    echo "GL/EGL loader packages unpacked"
fi
NV_EGL=/usr/local/nvidia/share/glvnd/egl_vendor.d/10_nvidia.json
if [ -f "$NV_EGL" ] && [ -z "${__EGL_VENDOR_LIBRARY_FILENAMES:-}" ]; then
    export __EGL_VENDOR_LIBRARY_FILENAMES=$NV_EGL
fi
if ! (cd /tmp && "$PY" -c "import moderngl" 2>/dev/null) && ls .whl/*.whl >/dev/null 2>&1; then
    "$PY" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
        --target /tmp/gpu_check_site .whl/*.whl && export PYTHONPATH=/tmp/gpu_check_site
    echo "wheels installed: $(ls .whl | tr '\n' ' ')"
fi
if ! (cd /tmp && "$PY" -c "import liveGAN" 2>/dev/null); then
    "$PY" -m pip install -q -e . --no-deps --no-build-isolation 2>&1 | tail -2 \
        || echo "pip install -e . failed; using PYTHONPATH"
fi
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
export PYTHONUNBUFFERED=1
command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,driver_version,memory.total \
    --format=csv,noheader

echo "== tests (runtime, upload, bench; CUDA-only tests run when CUDA is there)"
timeout 150 "$PY" -m pytest -q -p no:cacheprovider -x -k "not compile" \
    tests/test_runtime.py tests/test_upload.py tests/test_bench.py \
    "tests/test_train_loop.py::test_bf16_mixed_precision_run" 2>&1 | tail -15

echo "== checks and timings"
timeout 330 "$PY" bench/gpu_check.py "$@"
echo "exit status $?"

echo "== latent edits inside a replayed CUDA graph (bends, blends, W+ edits)"
timeout 60 "$PY" bench/latent_gpu_check.py
echo "exit status $?"

if [ "${1:-}" != "--device" ]; then
    echo "== training: stylegan2 256x256, batch 32, bf16 autocast (images/s per tick)"
    TRAIN=$(mktemp -d)
    "$PY" -m liveGAN.train.procedural "$TRAIN/data" --count 256 --res 256 --seed 0 >/dev/null
    timeout 120 "$PY" -m liveGAN.cli train "$TRAIN/data" --out "$TRAIN/run" --arch stylegan2 \
        --res 256 --batch 32 --kimg 1.6 --tick 0.32 --swd-every 0 --no-progress 2>&1 | tail -3
    "$PY" - "$TRAIN/run/metrics.jsonl" <<'PYEOF'
import json, statistics, sys
rows = [json.loads(x) for x in open(sys.argv[1])][1:]   # first tick: warm-up
rates = [r["img_per_s"] for r in rows]
if rates:
    print(f"stylegan2-256 training: {statistics.median(rates):.1f} img/s median "
          f"(min {min(rates):.1f}, max {max(rates):.1f}, {len(rates)} ticks)")
PYEOF
fi
} 2>&1 | tee -a "$LOG"
