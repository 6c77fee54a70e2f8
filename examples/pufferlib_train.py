#!/usr/bin/env python3
"""pufferlib_train.py - `puffer train ENV [ARGS...]` as one protein trial.

PufferLib's trainer logs to W&B or Neptune, and `puffer train` writes no
result a sweep can read. This runs PufferLib's own training loop
(pufferlib.pufferl.train, as `puffer train` runs it) with a logger that
reports what `puffer sweep` observes of a run: the environment's value
of the sweep's metric (environment/score by default), the run's uptime
in seconds as its cost, and agent_steps as its step, from 20% of the
training on as PufferLib's sweep keeps them, then the final evaluation.
Each report goes through `protein report`, which appends it to
$PROTEIN_RESULT and, under Slurm and `protein agent`, sends it to the
sweep as progress (PufferLib's downsample, early stopping); when the sweep
asks the run to stop, training ends there and the last report is its
result.

usage, with PufferLib 3.0 installed (and its environments built):
  protein run config/ocean/breakout.ini -- \\
      sh -c 'python3 pufferlib_train.py puffer_breakout $PROTEIN_ARGS'
or in the batch script of `sbatch --array=... --sweep=NAME`:
  python3 pufferlib_train.py puffer_breakout $PROTEIN_ARGS

`protein` is found on PATH, or named by $PROTEIN. Without --wandb and
--neptune: PufferLib's train() replaces this logger with theirs.
"""
import os
import shutil
import subprocess
import sys

STOP = 3  # protein report's exit status: the sweep asks the trial to stop


class SweepStopped(Exception):
    """The sweep asked this trial to stop (protein report exited 3)."""


class ProteinReporter:
    """PufferLib's logger interface (run_id, log, close), reporting to
    protein instead of W&B."""

    def __init__(self, total_timesteps, protein=None, env=os.environ):
        self.run_id = 'protein-trial-' + env.get('PROTEIN_TRIAL', '0')
        self.metric = env.get('PROTEIN_METRIC_KEY') or 'score'
        # PufferLib logs the environment's values as environment/NAME; a
        # sweep may name its metric either way (score or environment/score)
        self.log_key = (self.metric if self.metric.startswith('environment/')
                        else 'environment/' + self.metric)
        self.cost_key = env.get('PROTEIN_COST_KEY') or 'cost'
        self.total = float(total_timesteps)
        self.protein = protein or env.get('PROTEIN') or shutil.which('protein')
        self.reports = 0
        if not self.protein:
            raise SystemExit('pufferlib_train.py: no protein command on PATH '
                             '(set $PROTEIN to its path)')

    def log(self, logs, step):
        """Called by PufferLib after each logged epoch and after the final
        evaluation, with its logs dict and agent_steps."""
        value = logs.get(self.log_key)
        if value is None or step < 0.2 * self.total:
            return
        args = [self.protein, 'report', 'step=%d' % step,
                '%s=%r' % (self.cost_key, float(logs['uptime'])),
                '%s=%r' % (self.metric, float(value))]
        rc = subprocess.run(args).returncode
        self.reports += 1
        if rc == STOP:
            raise SweepStopped()
        if rc != 0:
            print('pufferlib_train.py: protein report exited %d' % rc,
                  file=sys.stderr)

    def close(self, model_path):
        pass


def main(argv):
    if len(argv) < 2 or argv[1].startswith('-'):
        print(__doc__, file=sys.stderr)
        return 2
    if '--wandb' in argv or '--neptune' in argv:
        print('pufferlib_train.py: --wandb and --neptune replace the logger '
              'that reports to protein; leave them out', file=sys.stderr)
        return 2
    try:
        from pufferlib import pufferl
    except ImportError as e:
        print('pufferlib_train.py: cannot import PufferLib\'s trainer (%s): '
              'install it in the Python this trial runs (pip install '
              'pufferlib, with its environments built)' % e, file=sys.stderr)
        return 2

    env_name = argv.pop(1)
    sys.argv = argv  # load_config parses PufferLib's arguments from it
    args = pufferl.load_config(env_name)
    reporter = ProteinReporter(args['train']['total_timesteps'])
    try:
        pufferl.train(env_name, args=args, logger=reporter)
    except SweepStopped:
        print('pufferlib_train.py: the sweep stopped this trial early; its '
              'last report is its result', file=sys.stderr)
    if reporter.reports == 0:
        print('pufferlib_train.py: no log had %s: the sweep\'s '
              'metric must be one the environment reports' % reporter.log_key,
              file=sys.stderr)
        return 1
    return 0


if __name__ == '__main__':
    sys.exit(main(list(sys.argv)))
