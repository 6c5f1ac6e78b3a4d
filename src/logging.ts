/**
 * Structured logs (pino: JSON lines, fast, CommonJS, Node 20) for the worker, the lab and the CLI's `worker` command.
 * The Temporal SDK's own logger (which carries workflowId, runId, activityType … on every line) is adapted onto it.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import pino from 'pino';
import type { Logger as TemporalLogger, LogLevel, LogMetadata } from '@temporalio/common';
import type { WorkerOptions } from '@temporalio/worker';
import type { WorkflowInfo } from '@temporalio/workflow';

export type Logger = pino.Logger;

/** Keys whose values never reach a log line, wherever they appear. */
const redactPaths = [
  '*.tokenSecret',
  '*.password',
  '*.apiKey',
  '*.privateKey',
  '*.passphrase',
  'headers.authorization',
  '*.Authorization',
];

export function createLogger(
  opts: { level?: string; destination?: pino.DestinationStream; base?: Record<string, unknown> } = {},
): Logger {
  return pino(
    {
      level: opts.level ?? process.env.PHOENIX_LOG_LEVEL ?? 'info',
      base: { service: 'phoenix-migrate', ...opts.base },
      redact: { paths: redactPaths, censor: '[redacted]' },
      timestamp: pino.stdTimeFunctions.isoTime,
      // Inside an activity, every line carries the run it works for (workflowId, phase, activityType …), also lines
      // of clients that know nothing of Temporal. Fields given to the log call itself win (pino merges them INTO the
      // mixin's object: hence a fresh copy each time, or one line's fields would leak into the next).
      mixin: () => ({ ...logContext.getStore() }),
    },
    opts.destination,
  );
}

const levels: Record<LogLevel, 'trace' | 'debug' | 'info' | 'warn' | 'error'> = {
  TRACE: 'trace',
  DEBUG: 'debug',
  INFO: 'info',
  WARN: 'warn',
  ERROR: 'error',
};

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

/** The fields every log line carries while the current async context works for one activity of one run. */
export interface RunLogContext {
  workflowId?: string;
  runId?: string;
  phase: string;
  activityType?: string;
  activityId?: string;
  attempt?: number;
}

const logContext = new AsyncLocalStorage<RunLogContext>();

/** Runs `fn` so that every line any Logger from createLogger writes inside it carries `fields`. */
export function withLogContext<T>(fields: RunLogContext, fn: () => T): T {
  return logContext.run(fields, fn);
}

/**
 * The workflow logger's sink (`log.info(…)` in workflow code), routed into pino. The SDK adds workflowId, runId,
 * workflowType, namespace and taskQueue; the workflow interceptor (src/workflows/interceptors.ts) adds the run's phase
 * through the public getLogAttributes hook. Not called during replay: no duplicate lines.
 */
export function workflowLogSinks(logger: Logger): NonNullable<WorkerOptions['sinks']> {
  const at = (level: 'trace' | 'debug' | 'info' | 'warn' | 'error') => ({
    fn(info: WorkflowInfo, message: string, attrs?: Record<string, unknown>) {
      logger[level](
        {
          sdkComponent: 'workflow',
          workflowId: info.workflowId,
          runId: info.runId,
          ...attrs,
          phase: typeof attrs?.phase === 'string' ? attrs.phase : 'unknown',
        },
        message,
      );
    },
  });
  // `defaultWorkerLogger` is the SDK's documented name for overriding the workflow logger sink.
  return {
    defaultWorkerLogger: {
      trace: at('trace'),
      debug: at('debug'),
      info: at('info'),
      warn: at('warn'),
      error: at('error'),
    },
  };
}
