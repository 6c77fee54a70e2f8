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
[ "$n" -ge 75 ] || fail "only $n W&B files in the corpus"

# the files W&B's own schema refuses: protein refuses them too, naming
# file, line and key (wandb-refused/, sources in tests/configs/README.md)
while IFS='|' read -r file message; do
    rc=0
    "$PROTEIN" config "$corpus/wandb-refused/$file" >/dev/null 2>"$tmp/refused.err" || rc=$?
    expect_rc 2 "$rc" "protein config $file"
    grep -qF "$file:$message" "$tmp/refused.err" ||
        fail "$file: not refused as expected: $(cat "$tmp/refused.err")"
done <<'REFUSED'
tp-blpo.yaml|17: parameters.CLIP_EPS.values: values makes a categorical but distribution is uniform; remove one of them
tp-platalea.yaml|4: metric.goal: unknown goal 'hello world wrt wandb sweep function'; write maximize or minimize
tp-plaid.yml|6: early_terminate: expected a mapping {type: hyperband, ...}, found a scalar
REFUSED
[ "$(find "$corpus/wandb-refused" -type f | wc -l)" = 3 ] ||
    fail "a file of wandb-refused/ without its expected message"

# the command line each trial's program gets without COMMAND, as `wandb
# agent` builds it: stand-ins for python, python3 and torchrun (first in
# $PATH) record their arguments as "[a] [b] ..." and report the score
mkdir -p "$tmp/bin" "$tmp/wb"
cat >"$tmp/bin/python" <<STANDIN
#!/bin/sh
for a in "\$@"; do printf '[%s] ' "\$a"; done >>"$tmp/argv.lines"
echo >>"$tmp/argv.lines"
echo "\$METRIC=1" >>"\$PROTEIN_RESULT"
STANDIN
chmod +x "$tmp/bin/python"
cp "$tmp/bin/python" "$tmp/bin/python3"
cp "$tmp/bin/python" "$tmp/bin/torchrun"
for program in main_graphgym.py hparam_search_act.py taylor.py main_fairness.py \
    train_ctm.py main.py; do
    : >"$tmp/wb/$program"
done
# wbrun FILE: protein run FILE --trials 2 in $tmp/wb, with no COMMAND
wbrun() {
    rm -f "$tmp/argv.lines"
    cp "$corpus/wandb/$1" "$tmp/wb/"
    METRIC=$(metric "$corpus/wandb/$1")
    (cd "$tmp/wb" && PATH="$tmp/bin:$PATH" METRIC=$METRIC \
        "$PROTEIN" run "$1" --trials 2 --seed 3) >"$tmp/wbrun.out" 2>&1
}
while IFS='|' read -r file argv; do
    wbrun "$file" || fail "$file: $(tail -n 3 "$tmp/wbrun.out")"
    grep -qxF "$argv" "$tmp/argv.lines" ||
        fail "$file: no trial ran $argv: $(cat "$tmp/argv.lines")"
done <<'ARGV'
tp-copt.yaml|[main_graphgym.py] [--cfg] [copt_graphgym/configs/maxcut_er.yaml] [gnn.layers_mp=8] [optim.max_epoch=10] 
tp-continuity.yaml|[taylor.py] [--taylor=0.1] 
tp-constrained-vs-regularized.yml|[main_fairness.py] [config_fairness.py] 
tp-latent-refinement.yaml|[hparam_search_act.py] [--dataset-path] [./preprocessed_dataset_83208_9318] [--output-root] [./results/hparam_act] [--csv-path] [./results/hparam_act/results-act-ce-film-wandb-sweep-tmp.csv] [--use-wandb] [--group] [act-ce-film-sweep-4] [--max-steps] [500] [--eval-steps] [50] [--eval-samples] [500] [--max-length] [2048] [--grad-checkpointing] [--per-device-train-batch-size] [2] [--kmax=8] [--tau=0.999] [--lambda-ponder=0.0025] [--halting-mass-scale=1.0] [--film-rank=512] [--lambda-deep-supervision=0.06] [--lrs=0.0005] [--grad-accum=4] 
ARGV
# ${args} amid literal arguments: torchrun ... ${program} ${args} --data_dir ...
wbrun tp-exhale-cvae.yaml || fail "tp-exhale-cvae.yaml: $(tail -n 3 "$tmp/wbrun.out")"
grep -qx '\[--nproc_per_node=4\] \[train_ctm.py\] \[--lr=[0-9.e-]*\] \[--alpha=[0-9.]*\] \[--lambda_cycle=[0-9.]*\] \[--lambda_expansion=-0\.[0-9]*\] \[--data_dir\] \[/mnt/hot/public/Akul/exhale_pred_data_10pct\] \[--save_dir\] \[wandb_save\] \[--epochs\] \[50\] \[--batch_size\] \[3\] \[--n_workers\] \[8\] \[--val_interval\] \[1\] \[--dataset_fraction\] \[1\] ' \
    "$tmp/argv.lines" || fail "tp-exhale-cvae.yaml: $(cat "$tmp/argv.lines")"
# commands that cannot start here stop the sweep before its first trial;
# a macro W&B does not know (${interpereter}) is left out, as wandb agent
# leaves it out, and what remains is checked: env runs main.py from $PATH
while IFS='|' read -r file message; do
    rc=0
    wbrun "$file" || rc=$?
    expect_rc 2 "$rc" "protein run $file"
    grep -qF "protein run: $file: $message" "$tmp/wbrun.out" ||
        fail "$file: $(cat "$tmp/wbrun.out")"
    [ ! -e "$tmp/argv.lines" ] || fail "$file: a trial ran"
done <<'NORUN'
tp-fastmri.yaml|cannot run its command 'python3.8 train.py': No such file or directory (looked in $PATH); no trial was run
tp-misconception-agent.yaml|cannot run its command 'D:/no_backup/python_environments/multi-agent-misconceptions/Scripts/python.exe': No such file or directory; no trial was run
tp-dreamprolog.yaml|cannot run its program 'main.py': No such file or directory (looked in $PATH); no trial was run
NORUN
# shellcheck disable=SC2016
grep -qF 'protein run: warning: tp-dreamprolog.yaml: command: '"'"'${interpereter}'"'"' is no W&B macro, so each trial'"'"'s command line leaves it out, as wandb agent does' \
    "$tmp/wbrun.out" || fail "tp-dreamprolog.yaml: no warning: $(cat "$tmp/wbrun.out")"

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
[ "$n" -ge 24 ] || fail "only $n PufferLib INIs in the corpus"

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

# PufferLib's GitHub bat.ini (its C trainer's layout): 33 parameters, the
# bounds as written (min/max of a section, not its neighbour's), metric perf
bat="$corpus/pufferlib/pufferlib-4-github-18358a5/bat.ini"
"$PROTEIN" config "$bat" 2>/dev/null >"$tmp/bat.yaml" || fail "protein config $bat"
"$python" - "$tmp/bat.yaml" <<'EOF' || fail "bat.ini: the space differs"
import sys, yaml
cfg = yaml.safe_load(open(sys.argv[1]))
space = cfg["parameters"]
assert cfg["metric"] == {"name": "perf", "goal": "maximize"}, cfg["metric"]
assert len(space) == 33, len(space)
p = space["env/curriculum_start_bug_distance"]
assert (p["distribution"], p["min"], p["max"]) == ("uniform", 8.0, 20.0), p
p = space["train/total_timesteps"]
assert (p["min"], p["max"], p["integer"]) == (30000000, 50000000, True), p
assert space["policy/hidden_size"]["distribution"] == "uniform_pow2"
EOF

# PufferLib's C reader (src/ini.h) ends a line at '#' or ';' outside
# quotes: bat.ini with such comments after its values, section headers
# and bounds is the same sweep
sed -e 's/^\(min = .*\)$/\1 # lower bound/' -e 's/^\(max = .*\)$/\1;upper/' \
    -e 's/^\(\[sweep[^]]*\]\)$/\1 ; section/' \
    -e "s/^metric = perf$/metric = 'perf' # the env's perf/" \
    "$bat" >"$tmp/bat.ini"
grep -q "^min = 30_000_000 # lower bound$" "$tmp/bat.ini" || fail "sed: no comments"
"$PROTEIN" config "$tmp/bat.ini" 2>"$tmp/bat.err" >"$tmp/bat-commented.yaml" ||
    fail "inline comments: $(cat "$tmp/bat.err")"
cmp -s "$tmp/bat.yaml" "$tmp/bat-commented.yaml" ||
    fail "inline comments change the space: $(diff "$tmp/bat.yaml" "$tmp/bat-commented.yaml" | head)"

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
