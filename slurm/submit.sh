#!/usr/bin/env bash
# Submits a sharded run to Slurm: N shard tasks as one array job, then the assembling job after all succeeded.
#   slurm/submit.sh 8 sec3_2 --preset=paper
# Extra sbatch options for both jobs go in $SBATCH_OPTS (e.g. SBATCH_OPTS="--partition=gpu --time=12:00:00").
# Prints the two job ids (array, assembling). Run it from the directory whose out/ should hold the cache.
set -euo pipefail
if [ $# -lt 2 ]; then
  echo "usage: slurm/submit.sh <N shards> <section> [options...]" >&2
  exit 2
fi
here=$(cd "$(dirname "$0")" && pwd)
export REPO=${REPO:-$(dirname "$here")}
shards=$1 section=$2
shift 2
# shellcheck disable=SC2086
array=$(sbatch --parsable ${SBATCH_OPTS:-} --array="0-$((shards - 1))" "$here/shards.sbatch" "$shards" "$section" "$@")
array=${array%%;*}
# shellcheck disable=SC2086
assemble=$(sbatch --parsable ${SBATCH_OPTS:-} --dependency="afterok:$array" "$here/assemble.sbatch" "$section" "$@")
echo "$array ${assemble%%;*}"
