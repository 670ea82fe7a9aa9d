#!/usr/bin/env bash
# Binder smoke test without Docker: rebuild the binder/ environment the way repo2docker
# does (Python from binder/runtime.txt, `pip install -r binder/requirements.txt` from the
# repository root, then binder/postBuild) in a fresh virtual environment, on a fresh copy
# of the working tree, and run the tutorials in it with nbval.
#
#   scripts/binder_smoke.sh            # build in a temporary folder, remove it afterwards
#   scripts/binder_smoke.sh --keep     # keep the folder (its path is printed)
#
# Needs Python 3.12 (scripts/find-python312) and access to a package index; takes a few
# minutes (about 1 GB of packages). Exit status: that of the nbval run.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
KEEP=0
for arg in "$@"; do
  case "$arg" in
    --keep) KEEP=1 ;;
    -h|--help) sed -n '2,12p' "$0"; exit 0 ;;
    *) echo "binder_smoke.sh: unknown argument '$arg' (use --keep or --help)" >&2; exit 2 ;;
  esac
done

want=$(tr -d '[:space:]' < binder/runtime.txt)
[ "$want" = "python-3.12" ] || { echo "binder/runtime.txt asks for '$want'; this script builds python-3.12" >&2; exit 1; }
PY=$(scripts/find-python312)

WORK=$(mktemp -d "${TMPDIR:-/tmp}/binder-smoke.XXXXXX")
cleanup() { if [ "$KEEP" = 1 ]; then echo "kept: $WORK"; else rm -rf "$WORK"; fi; }
trap cleanup EXIT
start=$(date +%s)

# 1. a fresh checkout: the files git would ship (tracked and untracked, minus ignored ones)
mkdir -p "$WORK/repo"
git ls-files -z --cached --others --exclude-standard | while IFS= read -r -d '' f; do
  [ -e "$f" ] && printf '%s\0' "$f"
done | tar --null -T - -cf - | tar -xf - -C "$WORK/repo"

# 2. the Binder environment
"$PY" -m venv "$WORK/venv"
export PATH="$WORK/venv/bin:$PATH"
export PIP_DISABLE_PIP_VERSION_CHECK=1
python -m pip install -q --upgrade pip
(cd "$WORK/repo" && python -m pip install -q -r binder/requirements.txt)
(cd "$WORK/repo" && bash binder/postBuild)
built=$(date +%s)
echo "binder environment built in $((built - start)) s ($(du -sh "$WORK/venv" | cut -f1))"

# 3. the tutorials, as tests (nbval and pytest are test tools, not part of the Binder image)
python -m pip install -q pytest nbval
cd "$WORK/repo"
set +e
python -m pytest -q -p no:cacheprovider --nbval-lax --nbval-current-env \
  --nbval-sanitize-with tutorials/nbval_sanitize.cfg tutorials
status=$?
set -e
end=$(date +%s)
echo "tutorials ran in $((end - built)) s; binder smoke test took $((end - start)) s in all (exit $status)"
exit $status
