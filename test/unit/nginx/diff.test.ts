import { unifiedDiff } from '../../../src/nginx/diff';

describe('unifiedDiff', () => {
  it('is empty for equal texts', () => {
    expect(unifiedDiff('a\nb\n', 'a\nb\n')).toBe('');
  });

  it('shows one changed line with three lines of context', () => {
    const a = Array.from({ length: 20 }, (_, i) => `line ${i + 1}`);
    const b = [...a];
    b[9] = 'changed 10';
    expect(unifiedDiff(`${a.join('\n')}\n`, `${b.join('\n')}\n`, 'old', 'new')).toBe(
      [
        '--- old',
        '+++ new',
        '@@ -7,7 +7,7 @@',
        ' line 7',
        ' line 8',
        ' line 9',
        '-line 10',
        '+changed 10',
        ' line 11',
        ' line 12',
        ' line 13',
        '',
      ].join('\n'),
    );
  });

  it('makes separate hunks for distant changes and counts added lines', () => {
    const a = Array.from({ length: 30 }, (_, i) => `l${i + 1}`);
    const b = [...a.slice(0, 2), 'new', ...a.slice(2, 27), 'L28', ...a.slice(28)];
    const d = unifiedDiff(`${a.join('\n')}\n`, `${b.join('\n')}\n`);
    expect(d.split('\n').filter((l) => l.startsWith('@@'))).toEqual(['@@ -1,5 +1,6 @@', '@@ -25,6 +26,6 @@']);
  });
});
