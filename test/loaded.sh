#!/usr/bin/env bash
# `npm run test:loaded`: the whole suite while two CPU-bound processes compete for the CPUs, so
# tests that lean on timing instead of events fail here rather than on a busy CI machine.
# Arguments go to tap (e.g. a test file). Exits with tap's status.
set -uo pipefail
cd "$(dirname "$0")/.."

busy=()
stop_busy() {
  for pid in "${busy[@]}"; do kill "$pid" 2>/dev/null; done
  wait "${busy[@]}" 2>/dev/null
}
trap stop_busy EXIT
for _ in 1 2; do
  node -e 'for (;;) {}' &
  busy+=($!)
done

npx tap "$@"
