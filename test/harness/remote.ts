import { isRemoteError, type RemoteError } from '../../src/remote';

/** The RemoteError `p` rejects with (anything else — a success or another error — fails the test). */
export async function expectRemoteError(p: Promise<unknown>): Promise<RemoteError> {
  try {
    await p;
  } catch (err) {
    if (isRemoteError(err)) return err;
    throw err;
  }
  throw new Error('expected a RemoteError, got success');
}
