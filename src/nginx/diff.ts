/**
 * A small unified diff of two texts, line by line, for showing the operator what a cutover would change.
 * Trims the common head and tail first (a cutover changes a few lines of a long file), then runs an LCS on
 * what is left.
 */
export function unifiedDiff(oldText: string, newText: string, oldName = 'a', newName = 'b', context = 3): string {
  if (oldText === newText) return '';
  const a = splitLines(oldText);
  const b = splitLines(newText);
  let head = 0;
  while (head < a.length && head < b.length && a[head] === b[head]) head++;
  let tail = 0;
  while (tail < a.length - head && tail < b.length - head && a[a.length - 1 - tail] === b[b.length - 1 - tail]) tail++;

  type Op = { kind: ' ' | '-' | '+'; line: string };
  const ops: Op[] = [];
  for (let i = 0; i < head; i++) ops.push({ kind: ' ', line: a[i] });
  ops.push(...lcsOps(a.slice(head, a.length - tail), b.slice(head, b.length - tail)));
  for (let i = a.length - tail; i < a.length; i++) ops.push({ kind: ' ', line: a[i] });

  // group changes into hunks with `context` lines around them
  const out: string[] = [`--- ${oldName}`, `+++ ${newName}`];
  let idx = 0;
  while (idx < ops.length) {
    while (idx < ops.length && ops[idx].kind === ' ') idx++;
    if (idx >= ops.length) break;
    const start = Math.max(0, idx - context);
    // extend the hunk while changes are within 2*context of each other
    let end = idx;
    let lastChange = idx;
    while (end < ops.length && (ops[end].kind !== ' ' || end - lastChange <= 2 * context)) {
      if (ops[end].kind !== ' ') lastChange = end;
      end++;
    }
    end = Math.min(ops.length, lastChange + context + 1);
    let aLine = 1;
    let bLine = 1;
    for (let k = 0; k < start; k++) {
      if (ops[k].kind !== '+') aLine++;
      if (ops[k].kind !== '-') bLine++;
    }
    const hunk = ops.slice(start, end);
    const aCount = hunk.filter((o) => o.kind !== '+').length;
    const bCount = hunk.filter((o) => o.kind !== '-').length;
    out.push(`@@ -${aCount === 0 ? aLine - 1 : aLine},${aCount} +${bCount === 0 ? bLine - 1 : bLine},${bCount} @@`);
    for (const o of hunk) out.push(`${o.kind}${o.line}`);
    idx = end;
  }
  return `${out.join('\n')}\n`;
}

function splitLines(text: string): string[] {
  const lines = text.split('\n');
  if (lines[lines.length - 1] === '') lines.pop();
  return lines;
}

function lcsOps(a: string[], b: string[]): { kind: ' ' | '-' | '+'; line: string }[] {
  const m = a.length;
  const n = b.length;
  const table: Uint32Array[] = Array.from({ length: m + 1 }, () => new Uint32Array(n + 1));
  for (let i = m - 1; i >= 0; i--) {
    for (let j = n - 1; j >= 0; j--)
      table[i][j] = a[i] === b[j] ? table[i + 1][j + 1] + 1 : Math.max(table[i + 1][j], table[i][j + 1]);
  }
  const ops: { kind: ' ' | '-' | '+'; line: string }[] = [];
  let i = 0;
  let j = 0;
  while (i < m && j < n) {
    if (a[i] === b[j]) {
      ops.push({ kind: ' ', line: a[i] });
      i++;
      j++;
    } else if (table[i + 1][j] >= table[i][j + 1]) {
      ops.push({ kind: '-', line: a[i++] });
    } else {
      ops.push({ kind: '+', line: b[j++] });
    }
  }
  while (i < m) ops.push({ kind: '-', line: a[i++] });
  while (j < n) ops.push({ kind: '+', line: b[j++] });
  return ops;
}
