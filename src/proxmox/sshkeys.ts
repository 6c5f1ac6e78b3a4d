/**
 * Proxmox wants `sshkeys` percent-encoded (spaces as %20, newlines as %0A) and stores/returns it encoded.
 * A form body then encodes that value once more on the wire; a JSON body carries it encoded once. Both are
 * handled by the HTTP core: callers pass the value from `encodeSshKeys` as a plain string.
 */
export function encodeSshKeys(keys: string): string {
  const lines = keys
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter((l) => l !== '');
  return encodeURIComponent(lines.join('\n'));
}

/** The keys as OpenSSH lines, from the stored (encoded) value; tolerant of values someone stored unencoded. */
export function decodeSshKeys(stored: string | undefined): string[] {
  if (!stored) return [];
  let text = stored;
  try {
    text = decodeURIComponent(stored);
  } catch {
    // Not valid percent-encoding: it was stored raw; compare it as it is.
  }
  return text
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter((l) => l !== '');
}
