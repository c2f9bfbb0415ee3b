// "Did you mean" suggestions for an unknown name (config keys, datasets, architectures): edit distance.

/** Levenshtein distance between two strings (insertions, deletions, substitutions each cost 1). */
export function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) {
      cur[j] = Math.min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    prev = cur;
  }
  return prev[b.length];
}

/** `; did you mean "x"?` for the closest of `known` when it is close enough to `name`, else "". */
export function suggest(name: string, known: Iterable<string>): string {
  let best = "", bestD = Infinity;
  for (const k of known) {
    const dist = editDistance(name, k);
    if (dist < bestD) [best, bestD] = [k, dist];
  }
  return bestD <= Math.max(2, name.length / 3) ? `; did you mean "${best}"?` : "";
}
