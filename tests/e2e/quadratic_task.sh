#!/bin/sh
# quadratic_task.sh - a trial program for the scale tests and the array
# benchmark: sleeps $SLEEP seconds (default 0), then reports a quadratic
# bowl at 0.3 over every PROTEIN_PARAM_X* as score= to $PROTEIN_RESULT
# (nowhere without a sweep).
sleep "${SLEEP:-0}"
env | awk -F= '/^PROTEIN_PARAM_X/ { s -= ($2 - 0.3) ^ 2 }
               END { printf "score=%.6f\n", s }' >> "${PROTEIN_RESULT:-/dev/null}"
