/**
 * Structured logs (pino: JSON lines, fast, CommonJS, Node 20) for the worker, the lab and the CLI's `worker` command.
 * The Temporal SDK's own logger (which carries workflowId, runId, activityType … on every line) is adapted onto it.
 */
import pino from 'pino';
import type { Logger as TemporalLogger, LogLevel, LogMetadata } from '@temporalio/common';

export type Logger = pino.Logger;

/** Keys whose values never reach a log line, wherever they appear. */
const redactPaths = ['*.tokenSecret', '*.password', '*.apiKey', '*.privateKey', '*.passphrase', 'headers.authorization', '*.Authorization'];

export function createLogger(opts: { level?: string; destination?: pino.DestinationStream; base?: Record<string, unknown> } = {}): Logger {
  return pino(
    {
      level: opts.level ?? process.env.PHOENIX_LOG_LEVEL ?? 'info',
      base: { service: 'phoenix-migrate', ...opts.base },
      redact: { paths: redactPaths, censor: '[redacted]' },
      timestamp: pino.stdTimeFunctions.isoTime,
    },
    opts.destination,
  );
}

const levels: Record<LogLevel, 'trace' | 'debug' | 'info' | 'warn' | 'error'> = { TRACE: 'trace', DEBUG: 'debug', INFO: 'info', WARN: 'warn', ERROR: 'error' };

/** Routes the SDK's log calls (workflow and activity context loggers included) into pino, keeping their metadata. */
export function temporalLoggerFrom(logger: Logger): TemporalLogger {
  const at =
    (level: LogLevel) =>
    (message: string, meta?: LogMetadata): void =>
      logger[levels[level]]({ ...meta }, message);
  return {
    log: (level: LogLevel, message: string, meta?: LogMetadata) => at(level)(message, meta),
    trace: at('TRACE'),
    debug: at('DEBUG'),
    info: at('INFO'),
    warn: at('WARN'),
    error: at('ERROR'),
  };
}
