#!/bin/bash
# A protein trial for the peer benchmark: sends $PROTEIN_PARAMS to the
# harness's evaluation server on 127.0.0.1:$1, sleeps as told (parallel
# runs), and writes score= and cost= to $PROTEIN_RESULT. Bash only (its
# /dev/tcp), so that a trial costs milliseconds, not an interpreter start.
set -eu
exec 3<>"/dev/tcp/127.0.0.1/$1"
printf '%s\n' "$PROTEIN_PARAMS" >&3
read -r score cost pause <&3
if [ "$pause" != 0 ]; then sleep "$pause"; fi
printf 'score=%s\ncost=%s\n' "$score" "$cost" >>"$PROTEIN_RESULT"
