#!/usr/bin/env bash
# Submits a sharded run to Slurm: N shard tasks as one array job per round, each round after the one before
# succeeded, then the assembling job after the last round.
#   slurm/submit.sh 8 sec3_2 --preset=paper
# Two rounds by default: the first builds the per-example sets (D_R / D_NR, D_rand / D_det, D_det and the
# transferred test set), the second Section 3.1's robust evaluation and, in every section, the models trained on
# the sets, each shard starting on its own (seeds, Figure 3's architectures). $ROUNDS overrides it. Extra sbatch
# options for every job go in $SBATCH_OPTS (e.g. SBATCH_OPTS="--partition=gpu --time=12:00:00").
# Prints the job ids: one array per round, then the assembling job. Run it from the directory whose out/ should
# hold the cache.
set -euo pipefail
if [ $# -lt 2 ]; then
  echo "usage: [ROUNDS=r] slurm/submit.sh <N shards> <section> [options...]" >&2
  exit 2
fi
here=$(cd "$(dirname "$0")" && pwd)
export REPO=${REPO:-$(dirname "$here")}
shards=$1 section=$2
shift 2
if [ "$section" = sec2 ]; then
  echo "sec2 has no per-example work to shard: run it as one job (sbatch --wrap 'deno task sec2')" >&2
  exit 2
fi
rounds=${ROUNDS:-2}
if ! [[ $rounds =~ ^[1-9][0-9]*$ ]]; then
  echo "ROUNDS must be a whole number >= 1, got \"$rounds\"" >&2
  exit 2
fi
ids=() after=()
for ((r = 1; r <= rounds; r++)); do
  # shellcheck disable=SC2086
  id=$(sbatch --parsable ${SBATCH_OPTS:-} "${after[@]}" --array="0-$((shards - 1))" "$here/shards.sbatch" \
    "$shards" "$section" "$@")
  id=${id%%;*}
  ids+=("$id")
  after=("--dependency=afterok:$id")
done
# shellcheck disable=SC2086
assemble=$(sbatch --parsable ${SBATCH_OPTS:-} "${after[@]}" "$here/assemble.sbatch" "$section" "$@")
echo "${ids[*]} ${assemble%%;*}"
