/**
 * Edits (insert, delete, replace, swap two neighbours: optimal string alignment) from `a` to `b`: "chian" is 1
 * from "chain", "rnu" 1 from "run".
 */
export function editDistance(a: string, b: string): number {
  const d = Array.from({ length: a.length + 1 }, (_, i) =>
    Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)),
  );
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let best = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1])
        best = Math.min(best, d[i - 2]![j - 2]! + 1);
      d[i]![j] = best;
    }
  }
  return d[a.length]![b.length]!;
}

/**
 * The candidate closest to what was typed, if it is a likely typo of it: at most one edit per four letters
 * (at least one), case ignored. "governence" → governance, "chian" → chain, "valdate" → validate; "nope" is
 * not "mode". Ties go to the earlier candidate.
 */
export function nearMatch(typed: string, candidates: readonly string[]): string | undefined {
  const limit = Math.max(1, Math.floor(typed.length / 4));
  let best: { name: string; distance: number } | undefined;
  for (const name of candidates) {
    const distance = editDistance(name.toLowerCase(), typed.toLowerCase());
    if (distance <= limit && (!best || distance < best.distance)) best = { name, distance };
  }
  return best?.name;
}
