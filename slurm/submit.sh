#!/usr/bin/env bash
# Submits a sharded run to Slurm: N shard tasks as one array job per round, each round after the one before
# succeeded, then the assembling job after the last round.
#   slurm/submit.sh 8 sec3_2 --preset=paper
# A round builds the parts of one phase of per-example work; sec3_1 has two (D_R / D_NR, then the robust
# evaluation), every other section one. $ROUNDS overrides that. Extra sbatch options for every job go in
# $SBATCH_OPTS (e.g. SBATCH_OPTS="--partition=gpu --time=12:00:00").
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
default_rounds=1
[ "$section" = sec3_1 ] && default_rounds=2
rounds=${ROUNDS:-$default_rounds}
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
