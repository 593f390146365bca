#!/usr/bin/env bash
# Set up .venv with the pinned OpenMMLab stack and mmsfda (editable).
#
# Idempotent: a finished install leaves a stamp holding the hash of every requirements file; with the
# stamp current this script returns at once. A half-finished install (no stamp, or an environment whose
# imports fail) is repaired by re-running every step; a venv whose interpreter is broken is recreated.
# mmcv 2.1.0 has no binary wheel on PyPI: it is built once from source with its compiled ops and the
# wheel is cached outside the repo (MMSFDA_CACHE, default ~/.cache/mmsfda), keyed by Python and torch.
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
VENV=${VENV:-$ROOT/.venv}
PY_BIN=${PYTHON:-python3.11}
CACHE=${MMSFDA_CACHE:-$HOME/.cache/mmsfda}
STAMP=$VENV/.mmsfda-install-stamp
HASH=$(cat requirements/*.txt setup.py tools/install/install.sh | sha256sum | cut -c1-16)

say() { printf '[install %s] %s\n' "$(date +%H:%M:%S)" "$*"; }

if [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$HASH" ] && "$VENV/bin/python" -c "import mmsfda" 2>/dev/null; then
  say "environment up to date ($VENV)"; exit 0
fi
T_START=$(date +%s)

if [ -x "$VENV/bin/python" ] && ! "$VENV/bin/python" -c "import sys, pip" 2>/dev/null; then
  say "broken venv at $VENV: recreating it"; rm -rf "$VENV"
fi
if [ ! -x "$VENV/bin/python" ]; then
  say "creating $VENV with $PY_BIN"; "$PY_BIN" -m venv "$VENV"
fi
rm -f "$STAMP"
PY="$VENV/bin/python"
PIP="$PY -m pip --disable-pip-version-check"
$PIP install -q --upgrade "pip<25"

say "installing torch (pinned, CPU wheel where one lies on disk)"
$PIP install -q -r requirements/torch.txt
say "installing build requirements for mmcv"
# torch declares setuptools>=77 but mmcv 2.1.0's setup.py needs pkg_resources (setuptools<70);
# pip's resolver warning about it is expected and harmless.
$PIP install -q -r requirements/build.txt > "$VENV/.build-req.log" 2>&1 || { cat "$VENV/.build-req.log"; exit 1; }

PYTAG=$($PY -c "import sys; print(f'cp{sys.version_info[0]}{sys.version_info[1]}')")
TORCHV=$($PY -c "import torch; print(torch.__version__.replace('+', '_'))")
MMCV_VER=$(sed -n 's/^mmcv==//p' requirements/mmcv.txt)
WHEELS=$CACHE/wheels/$PYTAG-torch$TORCHV
mkdir -p "$WHEELS"
MMCV_WHL=$(ls "$WHEELS"/mmcv-"$MMCV_VER"-*.whl 2>/dev/null | head -1 || true)
if [ -z "$MMCV_WHL" ]; then
  say "building mmcv $MMCV_VER from source with its ops (about 14 min on 2 cores; once per machine)"
  TMP=$(mktemp -d "$CACHE/build.XXXXXX")
  T0=$(date +%s)
  MMCV_WITH_OPS=1 FORCE_CUDA=0 MAX_JOBS=${MAX_JOBS:-$(nproc)} \
    $PIP wheel --no-build-isolation --no-deps --no-binary mmcv -w "$TMP" "mmcv==$MMCV_VER" \
    > "$CACHE/mmcv-build.log" 2>&1 || { tail -30 "$CACHE/mmcv-build.log"; say "mmcv build failed (log: $CACHE/mmcv-build.log)"; exit 1; }
  BUILT=$(ls "$TMP"/mmcv-*.whl)
  # Move into place only when complete: an interrupted build leaves no half wheel in the cache.
  mv "$BUILT" "$WHEELS/"
  rm -rf "$TMP"
  MMCV_WHL=$(ls "$WHEELS"/mmcv-"$MMCV_VER"-*.whl | head -1)
  say "mmcv built in $(( $(date +%s) - T0 )) s, cached at $MMCV_WHL"
else
  say "mmcv from cached wheel $MMCV_WHL"
fi
$PIP install -q "$MMCV_WHL"

say "installing mmengine, mmsegmentation and runtime requirements"
$PIP install -q -r requirements/runtime.txt -r requirements/toy.txt -r requirements/tests.txt
# mmengine depends on opencv-python (needs system libGL); the headless build provides the same cv2.
$PIP install -q --force-reinstall --no-deps "$($PY -c "import importlib.metadata as m; print('opencv-python-headless=='+m.version('opencv-python-headless'))")"
say "installing mmsfda (editable)"
$PIP install -q --no-build-isolation --no-deps -e .

say "checking imports"
$PY - <<'PYEOF'
import torch, mmcv, mmengine, mmseg, mmsfda
from mmcv.ops import point_sample  # compiled ops present
print(f'torch {torch.__version__}  mmcv {mmcv.__version__}  mmengine {mmengine.__version__}  '
      f'mmseg {mmseg.__version__}  mmsfda {mmsfda.__version__}')
PYEOF
echo "$HASH" > "$STAMP"
say "done in $(( $(date +%s) - T_START )) s"
