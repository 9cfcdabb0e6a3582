#!/usr/bin/env bash
# Create .venv at the repo root with the pinned stack of requirements/stack.txt and mmcoc in
# editable mode. Idempotent: a second run on a set-up machine only checks a stamp (seconds).
#
#   MMCOC_WHEELHOUSE=/dir[:/dir2]   extra folders holding a prebuilt mmcv wheel (pip --find-links)
#   MMCOC_WHEEL_CACHE=/dir          where an mmcv wheel built here is kept (default ~/.cache/mmcoc/wheels)
#   PYTHON=python3.11               interpreter for the venv
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
venv="$root/.venv"
pins="$root/requirements/stack.txt"
python="${PYTHON:-python3.11}"
cache="${MMCOC_WHEEL_CACHE:-$HOME/.cache/mmcoc/wheels}"
log() { printf '[setup %s] %s\n' "$(date +%H:%M:%S)" "$*"; }
pin() { sed -n "s/^$1==//p" "$pins"; }

stamp_now="$(cat "$pins" pyproject.toml tools/setup_env.sh | sha256sum | cut -c1-16)"
if [[ -f "$venv/.mmcoc-stamp" && "$(cat "$venv/.mmcoc-stamp")" == "$stamp_now" ]]; then
  log "environment up to date ($venv)"
  exit 0
fi

if [[ ! -x "$venv/bin/python" ]]; then
  log "creating $venv with $python"
  "$python" -m venv "$venv"
fi
pip=("$venv/bin/python" -m pip --disable-pip-version-check)
"${pip[@]}" install -q "setuptools==$(pin setuptools)" wheel "ninja==$(pin ninja)"

log "installing torch $(pin torch) / torchvision $(pin torchvision)"
"${pip[@]}" install -q "torch==$(pin torch)" "torchvision==$(pin torchvision)"

# mmcv ships no wheel for this torch; its ops must be compiled. Look for a wheel first.
mmcv_version="$(pin mmcv)"
py_tag="$("$venv/bin/python" -c 'import sys; print("cp%d%d" % sys.version_info[:2])')"
find_links=()
IFS=: read -r -a extra <<< "${MMCOC_WHEELHOUSE:-}"
for dir in "${extra[@]}" "$cache"; do
  [[ -n "$dir" && -d "$dir" ]] && find_links+=(--find-links "$dir")
done
have_wheel() {
  local dir
  for dir in "${extra[@]}" "$cache"; do
    [[ -n "$dir" ]] && compgen -G "$dir/mmcv-${mmcv_version}-${py_tag}-*.whl" > /dev/null && return 0
  done
  return 1
}
if "$venv/bin/python" -c "import mmcv, mmcv.ops, sys; sys.exit(mmcv.__version__ != '$mmcv_version')" 2>/dev/null; then
  log "mmcv $mmcv_version with ops already installed"
elif have_wheel; then
  log "installing mmcv $mmcv_version from a wheelhouse"
  "${pip[@]}" install -q --no-index "${find_links[@]}" --no-deps "mmcv==$mmcv_version"
else
  log "no mmcv $mmcv_version wheel found: building it from source once (15 to 25 minutes on 2 cores);"
  log "the wheel is kept in $cache so that this never happens twice on this machine"
  build="$(mktemp -d)"
  trap 'rm -rf "$build"' EXIT
  # mmcv's setup.py imports torch even to read its metadata: use the venv's, no isolation.
  "${pip[@]}" download -q --no-deps --no-binary :all: --no-build-isolation -d "$build" \
    "mmcv==$mmcv_version"
  tar -xzf "$build"/mmcv-"$mmcv_version".tar.gz -C "$build"
  src="$build/mmcv-$mmcv_version"
  # torch >= 2.6 headers refuse anything older than C++20, and mmcv hard-codes its standard.
  sed -i 's/-std=c++14/-std=c++20/g; s/-std=c++17/-std=c++20/g' "$src/setup.py"
  "${pip[@]}" install -q "mmengine==$(pin mmengine)"
  log "compiling mmcv ops (log: $build/build.log)"
  MMCV_WITH_OPS=1 MAX_JOBS="${MAX_JOBS:-$(nproc)}" "${pip[@]}" wheel --no-build-isolation --no-deps \
    -w "$build/dist" "$src" > "$build/build.log" 2>&1 &
  builder=$!
  # CPU builds compile csrc/pytorch/*.cpp and csrc/pytorch/cpu/*.cpp (77 in mmcv 2.1.0)
  total="$(ls "$src"/mmcv/ops/csrc/pytorch/*.cpp "$src"/mmcv/ops/csrc/pytorch/cpu/*.cpp | wc -l)"
  while kill -0 "$builder" 2> /dev/null; do
    sleep 60
    log "compiling mmcv ops: $(find "$src" -name '*.o' 2> /dev/null | wc -l) of about $total sources done"
  done
  wait "$builder" || { tail -50 "$build/build.log"; log "mmcv build failed (log above)"; exit 1; }
  mkdir -p "$cache"
  cp "$build"/dist/mmcv-*.whl "$cache/"
  log "built $(ls "$build"/dist) -> $cache"
  "${pip[@]}" install -q --no-deps "$cache"/mmcv-"$mmcv_version"-*.whl
fi

log "installing the OpenMMLab stack and mmcoc (editable)"
"${pip[@]}" install -q "${find_links[@]}" -c "$pins" -r "$pins" -e "$root"
"$venv/bin/python" -c "import mmcoc, mmcv.ops, mmdet, mmseg, mmpretrain, timm, sklearn, faiss; print('mmcoc', mmcoc.__version__, '| mmcv', mmcv.__version__, '| torch', __import__('torch').__version__)"
echo "$stamp_now" > "$venv/.mmcoc-stamp"
log "done"
