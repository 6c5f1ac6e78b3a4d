/** The config model: Phoenix's files, our plan file, cross-checks, and the resolver that makes the workflow input. */
export { loadAndResolvePlan, type ResolveResult, type ResolveOptions } from './resolve';
export { validatePhoenixConfigs, type ValidatePhoenixResult } from './phoenix';
export { canonicalJson, planDigest } from './digest';
export { parseDuration } from './durations';
export type { Problem, Severity } from './problems';
export type * from './resolved-plan';
