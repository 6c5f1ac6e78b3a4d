/**
 * JSON.parse keeps the last of two equal keys in an object without a word, so a plan with two `legacyGuests`
 * validates and silently drops the first list. This scanner walks the (already valid, depth-checked) JSON text and
 * names every key that appears twice in the same object, by JSON path.
 */
import type { PathPart } from './problems';

export interface DuplicateKey {
  /** Path of the repeated key itself, e.g. ['legacyGuests'] or ['vms', 0, 'name']. */
  at: PathPart[];
  /** 1-based line of the second occurrence. */
  line: number;
}

export function findDuplicateKeys(text: string): DuplicateKey[] {
  const found: DuplicateKey[] = [];
  let i = 0;
  const skipSpace = () => {
    while (i < text.length && ' \t\r\n'.includes(text[i])) i++;
  };
  const readString = (): string => {
    // text[i] is the opening quote; JSON.parse decodes the escapes exactly
    const start = i;
    i++;
    while (text[i] !== '"') i += text[i] === '\\' ? 2 : 1;
    i++;
    return JSON.parse(text.slice(start, i)) as string;
  };
  const lineAt = (pos: number) => text.slice(0, pos).split('\n').length;
  const value = (at: PathPart[]): void => {
    skipSpace();
    const c = text[i];
    if (c === '{') {
      i++;
      const keys = new Set<string>();
      skipSpace();
      if (text[i] === '}') {
        i++;
        return;
      }
      for (;;) {
        skipSpace();
        const keyPos = i;
        const key = readString();
        if (keys.has(key)) found.push({ at: [...at, key], line: lineAt(keyPos) });
        keys.add(key);
        skipSpace();
        i++; // ':'
        value([...at, key]);
        skipSpace();
        if (text[i++] === '}') return; // else ','
      }
    }
    if (c === '[') {
      i++;
      skipSpace();
      if (text[i] === ']') {
        i++;
        return;
      }
      for (let n = 0; ; n++) {
        value([...at, n]);
        skipSpace();
        if (text[i++] === ']') return;
      }
    }
    if (c === '"') {
      readString();
      return;
    }
    while (i < text.length && !',}] \t\r\n'.includes(text[i])) i++; // number, true, false, null
  };
  value([]);
  return found;
}
