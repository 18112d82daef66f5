# Shared by the prepared GPU scripts (gpu_check.sh, gpu_validate.sh); source it after
# setting LOG and STEP_TIMEOUT. `step NAME CMD...` runs CMD under `timeout`, logs its output
# and exit status to $LOG, and remembers NAME if it failed; `finish` reports and exits.
failed=()

step() {
  local name=$1
  shift
  echo "=== $name  ($(date -u +%H:%M:%S) UTC)" | tee -a "$LOG"
  local t0=$SECONDS
  timeout "$STEP_TIMEOUT" "$@" 2>&1 | tee -a "$LOG"
  local rc=${PIPESTATUS[0]}
  echo "=== $name: exit $rc after $((SECONDS - t0)) s" | tee -a "$LOG"
  [ "$rc" -eq 0 ] || failed+=("$name")
}

finish() {
  if [ ${#failed[@]} -eq 0 ]; then
    echo "$(basename "$0"): all steps passed${1:+; $1}" | tee -a "$LOG"
    exit 0
  fi
  echo "$(basename "$0"): FAILED steps: ${failed[*]}" | tee -a "$LOG"
  exit 1
}
