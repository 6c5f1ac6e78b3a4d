/**
 * Writing an operator's file in place: a backup beside it first, then the new text through a temp file renamed
 * over it (atomic; mode kept), so an interrupted write leaves the old file or the new one, never half of each.
 */
import fs from 'node:fs';
import path from 'node:path';

/** `<file>.phoenix-migrate-<UTC stamp>.bak`: sorts by time, names who made it. */
export function backupPathFor(file: string, now: Date): string {
  const stamp = now
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d+Z$/, 'Z');
  return `${file}.phoenix-migrate-${stamp}.bak`;
}

/** Backs up `file` and replaces its content with `text`; returns the backup's path. */
export function writeWithBackup(file: string, text: string, now = new Date()): string {
  const stat = fs.statSync(file);
  let backup = backupPathFor(file, now);
  for (let n = 2; fs.existsSync(backup); n++) backup = `${backupPathFor(file, now)}.${n}`;
  fs.copyFileSync(file, backup, fs.constants.COPYFILE_EXCL);
  const temp = path.join(path.dirname(file), `.${path.basename(file)}.phoenix-migrate.tmp`);
  fs.writeFileSync(temp, text, { mode: stat.mode & 0o7777 });
  fs.chmodSync(temp, stat.mode & 0o7777);
  fs.renameSync(temp, file);
  return backup;
}
