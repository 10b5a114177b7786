// A unified diff of two texts, line by line (what `diff -u` prints), for `kubectl mcp tools diff`.
// The npm `diff` package would do this, but it is not a dependency of the shipped plugin; tool
// definitions are small (at most 32 KiB each, a few hundred lines), so a plain longest-common-
// subsequence table is fast enough and keeps the output exact.

type Op = { kind: ' ' | '-' | '+'; line: string; a: number; b: number };

/** Lines of `a` and `b` as an edit script: kept (' '), removed ('-'), added ('+'). */
export function lineEdits(a: readonly string[], b: readonly string[]): Op[] {
  const n = a.length;
  const m = b.length;
  // lcs[i][j]: length of the longest common subsequence of a[i..] and b[j..].
  const lcs = Array.from({ length: n + 1 }, () => new Uint32Array(m + 1));
  for (let i = n - 1; i >= 0; i--) {
    for (let j = m - 1; j >= 0; j--) lcs[i]![j] = a[i] === b[j] ? lcs[i + 1]![j + 1]! + 1 : Math.max(lcs[i + 1]![j]!, lcs[i]![j + 1]!);
  }
  const ops: Op[] = [];
  let i = 0;
  let j = 0;
  while (i < n || j < m) {
    // Removals before additions, as diff -u prints a replaced line.
    if (i < n && j < m && a[i] === b[j]) ops.push({ kind: ' ', line: a[i]!, a: i++, b: j++ });
    else if (i < n && (j === m || lcs[i + 1]![j]! >= lcs[i]![j + 1]!)) ops.push({ kind: '-', line: a[i]!, a: i++, b: j });
    else ops.push({ kind: '+', line: b[j]!, a: i, b: j++ });
  }
  return ops;
}

/** `diff -u` output (without a trailing newline after the last line); '' when the texts are equal. */
export function unifiedDiff(a: string, b: string, labels: { from: string; to: string }, context = 3): string {
  const ops = lineEdits(a.split('\n'), b.split('\n'));
  if (ops.every((o) => o.kind === ' ')) return '';
  const out = [`--- ${labels.from}`, `+++ ${labels.to}`];
  let k = 0;
  while (k < ops.length) {
    while (k < ops.length && ops[k]!.kind === ' ') k++;
    if (k >= ops.length) break;
    const start = Math.max(0, k - context);
    // Extend the hunk while changes are closer than two contexts apart.
    let last = k;
    for (let e = k; e < ops.length && e - last <= 2 * context; e++) if (ops[e]!.kind !== ' ') last = e;
    const end = Math.min(ops.length, last + context + 1);
    const hunk = ops.slice(start, end);
    const aLen = hunk.filter((o) => o.kind !== '+').length;
    const bLen = hunk.filter((o) => o.kind !== '-').length;
    const aStart = hunk[0]!.a + (aLen > 0 ? 1 : 0);
    const bStart = hunk[0]!.b + (bLen > 0 ? 1 : 0);
    out.push(`@@ -${aStart},${aLen} +${bStart},${bLen} @@`);
    for (const o of hunk) out.push(`${o.kind}${o.line}`);
    k = end;
  }
  return out.join('\n');
}
