#!/usr/bin/env bash
# What a CI job runs against a remote server (no database here): DECISIONS_SERVER, DECISIONS_TOKEN.
# Exit codes name the step that went wrong, for the test that drives this script.
set -u
decisions="${DECISIONS_BIN:-decisions}"
work="${WORK_DIR:?}"

# A tier-1 change: filed and resolved at once; the job goes on.
"$decisions" require pipeline risk_score=12 --title "Raise the batch size" --link "$CHANGE_URL/tier1" \
  > "$work/tier1.out" || exit 10

# A tier-2 change: filed once, and the job stops here until a tech PM approves it.
if "$decisions" require quality_threshold deviation_pct=3.5 --title "Loosen the code bound" \
  --link "$CHANGE_URL" > "$work/require.out"; then
  exit 11
fi
grep -q "approve at $DECISIONS_SERVER/decisions/" "$work/require.out" || exit 12
id=$(cut -d: -f1 "$work/require.out")

# A re-run of the pipeline finds the same decision, and still fails.
"$decisions" require quality_threshold deviation_pct=3.5 --title "Loosen the code bound" \
  --link "$CHANGE_URL" > "$work/again.out" && exit 13
[ "$(cut -d: -f1 "$work/again.out")" = "$id" ] || exit 14

# Block until approved (the test approves it while this waits).
touch "$work/waiting"
"$decisions" gate "$id" --wait 120 --interval 0.2 > "$work/gate.out" || exit 15

# Approved now: a further re-run of `require` passes without filing anything new.
"$decisions" require quality_threshold deviation_pct=3.5 --title "Loosen the code bound" \
  --link "$CHANGE_URL" > "$work/after.out" || exit 16
[ "$(cut -d: -f1 "$work/after.out")" = "$id" ] || exit 17
echo "$id"
