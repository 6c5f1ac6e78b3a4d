import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { installPctStandin } from '../../src/lab/services/pct-standin';

let dir: string | undefined;

/** A directory holding the `pct` stand-in (the lab's), to put first on an sshd session's PATH. */
export function pctStandinDir(): string {
  dir ??= installPctStandin(path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'phoenix-pct-')), 'pct-standin'));
  return dir;
}
