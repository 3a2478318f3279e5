#!/usr/bin/env bash
# Prints the Python to use: the Lambda runtime's (3.13) where this machine has it, else the default python3.
# A pyenv shim can exist for a version that is not selected, so every candidate is actually run.
set -u
want="${1:-3.13}"
candidates=("python${want}")
for root in "${PYENV_ROOT:-}" "$HOME/.pyenv" /root/.pyenv; do
  [ -n "$root" ] || continue
  for p in "$root"/versions/"${want}"*/bin/python"${want}"; do candidates+=("$p"); done
done
candidates+=(python3)
for p in "${candidates[@]}"; do
  if out=$("$p" -c 'import sys; print(sys.executable)' 2>/dev/null); then
    echo "$out"
    exit 0
  fi
done
echo "no python3 found" >&2
exit 1
