/**
 * The header that carries the run's phase to each activity it schedules (set by src/workflows/interceptors.ts, read
 * by the worker's activity logging interceptor). A neutral module with no imports: workflow and worker code share it.
 */
export const PHASE_HEADER = 'phoenix-phase';

/** What log lines say before the run has published a phase of its own (and for activities of older bundles). */
export const UNKNOWN_PHASE = 'unknown';
