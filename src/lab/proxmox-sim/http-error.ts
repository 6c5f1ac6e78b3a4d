/** An error the simulator answers with, shaped like pve-http-server's: reason phrase = first line of the message. */
export class SimHttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly errors?: Record<string, string>,
  ) {
    super(message);
  }
}

export const paramError = (errors: Record<string, string>) =>
  new SimHttpError(400, 'Parameter verification failed.', errors);
export const fail500 = (message: string) => new SimHttpError(500, message);
