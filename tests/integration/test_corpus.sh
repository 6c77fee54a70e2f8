#!/usr/bin/env bash
# test_corpus.sh - the sweep files of tests/configs (written by others;
# sources in tests/configs/README.md) as they are:
#  - every W&B file (YAML or JSON) runs through `protein run` (a few
#    trials, a trivial objective); wandb_space.py checks that each trial
#    got exactly the file's parameters, of W&B's types and in W&B's
#    ranges; a grid file without --trials runs W&B's whole grid;
#  - every PufferLib INI gives, in `protein config`, the space PufferLib
#    builds from it (pufferlib_space.py: PufferLib 3.0.0's own loader for
#    its layout, a re-implementation of the newer rules otherwise), and
#    runs through `protein run` with its values inside that space and its
#    PROTEIN_ARGS parsed by PufferLib's own CLI (load_config);
#  - so does every INI of PufferLib 3.0.0's own config directory;
#  - sweep_only over PufferLib's default.ini keeps what PufferLib keeps.
# Needs a Python with PyYAML and numpy, and PufferLib's sources (the venv
# and $venv/share/pufferlib-3.0.0 that .ci/install-deps makes); skips (77)
# without the Python, fails without the sources.
set -eu
. "$top_srcdir/tests/common/cli_test.sh"

cli_test_python yaml numpy
cli_test_init test_corpus
puffer_src=${PROTEIN_PUFFERLIB_SRC:-/opt/protein-venv/share/pufferlib-3.0.0}
[ -f "$puffer_src/pufferlib/pufferl.py" ] ||
    fail "no PufferLib sources in $puffer_src (.ci/install-deps fetches them)"
corpus=$top_srcdir/tests/configs
here=$top_srcdir/tests/integration

# metric FILE: the name of the score of FILE's sweep
metric() {
    "$PROTEIN" config "$1" 2>/dev/null |
        "$python" -c 'import sys, yaml; print(yaml.safe_load(sys.stdin)["metric"]["name"])'
}

# The trial: records its parameters and arguments, reports a score
# ($METRIC).
cat >"$tmp/dump.sh" <<EOF
#!/bin/sh
printf '%s\n' "\$PROTEIN_PARAMS" >>"$tmp/params.jsonl"
printf '%s\n' "\$PROTEIN_ARGS" >>"$tmp/args.lines"
echo "\$METRIC=1" >>"\$PROTEIN_RESULT"
EOF
chmod +x "$tmp/dump.sh"

n=0
for f in "$corpus"/wandb/*.yaml "$corpus"/wandb/*.yml "$corpus"/wandb/*.json; do
    rm -f "$tmp/params.jsonl"
    METRIC=$(metric "$f")
    export METRIC
    "$PROTEIN" run "$f" --trials 4 --parallel 2 --seed 3 -- "$tmp/dump.sh" \
        >"$tmp/run.out" 2>&1 || { fail "$f: $(tail -n 3 "$tmp/run.out")"; continue; }
    "$python" "$here/wandb_space.py" "$f" "$tmp/params.jsonl" >"$tmp/check.out" ||
        fail "$(cat "$tmp/check.out")"
    n=$((n + 1))
done
[ "$n" -ge 52 ] || fail "only $n W&B files in the corpus"

# a grid file without --trials runs W&B's whole grid, each point once:
# every value of a categorical, every integer of an int_uniform,
# arange(min, max, q) of a q_uniform (wandb/sweeps grid_search.py)
f=$corpus/wandb/tp-gdcbf-grid.yaml
rm -f "$tmp/params.jsonl"
METRIC=cost "$PROTEIN" run "$f" --parallel 4 -- "$tmp/dump.sh" >"$tmp/run.out" 2>&1 ||
    fail "$f: $(tail -n 3 "$tmp/run.out")"
"$python" - "$f" "$tmp/params.jsonl" <<'EOF' || fail "$f: not W&B's grid"
import json, math, sys, yaml
spec = yaml.safe_load(open(sys.argv[1]))["parameters"]
size = 1
for p in spec.values():
    d = p.get("distribution")
    if "values" in p:
        size *= len(p["values"])
    elif d == "int_uniform":
        size *= p["max"] - p["min"] + 1
    elif d == "q_uniform":
        size *= math.ceil((p["max"] - p["min"]) / p.get("q", 1.0))
points = [json.dumps(json.loads(l), sort_keys=True) for l in open(sys.argv[2])]
assert len(points) == len(set(points)) == size, (len(points), len(set(points)), size)
EOF

n=0
for f in $(find "$corpus/pufferlib" -name '*.ini' | sort); do
    "$python" "$here/pufferlib_space.py" "$PROTEIN" "$f" >"$tmp/check.out" ||
        fail "$(cat "$tmp/check.out")"
    n=$((n + 1))
    grep -q 'as PufferLib reads them' "$tmp/check.out" || continue
    rm -f "$tmp/params.jsonl" "$tmp/args.lines"
    METRIC=$(metric "$f")
    export METRIC
    "$PROTEIN" run "$f" --trials 3 --seed 3 -- "$tmp/dump.sh" >"$tmp/run.out" 2>&1 ||
        fail "$f: $(tail -n 3 "$tmp/run.out")"
    "$PROTEIN" config "$f" 2>/dev/null >"$tmp/space.yaml"
    "$python" - "$tmp/space.yaml" "$tmp/params.jsonl" <<'EOF' || fail "$f: values outside the space"
import json, sys, yaml
space = yaml.safe_load(open(sys.argv[1]))["parameters"]
for line in open(sys.argv[2]):
    params = json.loads(line)
    # PufferLib's CLI names: PROTEIN_PARAMS keeps protein's names
    assert set(params) == set(space), (sorted(params), sorted(space))
    for name, spec in space.items():
        v = params[name]
        lo, hi = float(spec["min"]), float(spec["max"])
        assert lo - 1e-12 * abs(lo) <= v <= hi + 1e-12 * abs(hi), (name, v)
        if spec["distribution"] in ("int_uniform", "uniform_pow2"):
            assert isinstance(v, int), (name, v)
EOF
    # PufferLib's own CLI takes each trial's PROTEIN_ARGS
    while read -r args; do
        # shellcheck disable=SC2086
        "$python" "$here/pufferlib_space.py" "$PROTEIN" --args "$f" $args \
            >"$tmp/check.out" || fail "$(cat "$tmp/check.out")"
    done <"$tmp/args.lines"
done
[ "$n" -ge 19 ] || fail "only $n PufferLib INIs in the corpus"

# every INI of PufferLib 3.0.0's own config directory, read by its loader
n=0
for f in $(find "$puffer_src/pufferlib/config" -name '*.ini' | sort); do
    "$python" "$here/pufferlib_space.py" "$PROTEIN" "$f" >"$tmp/check.out" ||
        fail "$(cat "$tmp/check.out")"
    grep -q "checked by PufferLib 3.0.0's own loader" "$tmp/check.out" ||
        fail "$f: not checked by PufferLib's own code: $(cat "$tmp/check.out")"
    n=$((n + 1))
done
[ "$n" -ge 60 ] || fail "only $n INIs in PufferLib 3.0.0's config directory"

# sweep_only on PufferLib's own default.ini: "policy, learning_rate" keeps
# train/learning_rate only (PufferLib matches the last name part)
cp "$corpus/pufferlib/pufferlib-4-github/default.ini" "$tmp/default.ini"
printf '[base]\nenv_name = only\n[sweep]\nsweep_only = policy, learning_rate\n' \
    >"$tmp/only.ini"
"$python" "$here/pufferlib_space.py" "$PROTEIN" "$tmp/only.ini" >"$tmp/check.out" ||
    fail "$(cat "$tmp/check.out")"
grep -q ': 1 parameters as PufferLib reads them' "$tmp/check.out" ||
    fail "sweep_only: $(cat "$tmp/check.out")"

# PROTEIN_ARGS takes the form PufferLib's CLI parses
cat >"$tmp/args.sh" <<EOF
#!/bin/sh
printf '%s\n' "\$PROTEIN_ARGS" >"$tmp/args.txt"
echo "score=1" >>"\$PROTEIN_RESULT"
EOF
chmod +x "$tmp/args.sh"
"$PROTEIN" run "$tmp/only.ini" --trials 1 -- "$tmp/args.sh" >/dev/null 2>&1 ||
    fail "run only.ini"
grep -q '^--train.learning-rate=[0-9.e-]*$' "$tmp/args.txt" ||
    fail "PROTEIN_ARGS: $(cat "$tmp/args.txt")"

cli_test_finish
