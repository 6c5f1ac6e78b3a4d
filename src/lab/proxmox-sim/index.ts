export {
  startProxmoxSim,
  type ProxmoxSim,
  type ProxmoxSimOptions,
  type AuditEntry,
  type SimToken,
  type TokenRole,
} from './server';
export { seedFromPhoenixWorld, type PhoenixWorldOptions } from './world';
export type { FaultSettings, ScriptedFault, FaultShape } from './faults';
export type { WorldSeed, SimGuestSeed, SimGuest, SimState, ExecRule } from './types';
