/**
 * The tests' SSH peer is the lab's: a REAL OpenSSH sshd on loopback with keys made at start (src/lab/services/sshd.ts).
 */
export { startSshd, type SshdHandle, type SshdOptions } from '../../src/lab/services/sshd';
export { freePort } from '../../src/lab/services/ports';
