#!/usr/bin/env bash
# The GPU checks in one short command, for a machine with a CUDA GPU:
#   bash bench/gpu_check.sh            # from the repository root, with .venv set up
# Runs the CUDA tests (tests/test_gpu.py), then the throughput, instrumentation and sweep
# benchmarks on the GPU (they pick cuda when it is there), and writes their tables to
# bench/out/gpu/ (and to $OUT when set, e.g. on a lent device machine).
set -uo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
[ -x "$PY" ] || PY=python3
dest=bench/out/gpu
mkdir -p "$dest"
"$PY" - <<'PYEOF' || { echo "no CUDA GPU visible to torch: nothing to check"; exit 2; }
import torch, sys
sys.exit(0 if torch.cuda.is_available() else 1)
PYEOF
"$PY" -c "import torch; print('GPU:', torch.cuda.get_device_name(0), '| torch', torch.__version__)" | tee "$dest/device.txt"
status=0
"$PY" -m pytest -q -rs tests/test_gpu.py 2>&1 | tee "$dest/tests.txt" || status=1
for b in throughput instrumentation sweep; do
  echo "== bench/$b.py" | tee "$dest/$b.txt"
  timeout 900 "$PY" "bench/$b.py" --reps 3 2>&1 | tee -a "$dest/$b.txt" || status=1
done
if [ -n "${OUT:-}" ]; then cp -r "$dest" "$OUT/"; fi
exit $status
