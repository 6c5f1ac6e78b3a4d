/** Portainer's naming rules, shared by the client, the activities and the simulator. */

/** Portainer lower-cases stack names and drops anything outside `[-_a-z0-9]` (it is also the compose project). */
export function normaliseStackName(name: string): string {
  return name.toLowerCase().replace(/[^-_a-z0-9]/g, '');
}

/**
 * Agent URLs compared the way an operator means them: `tcp://10.0.0.102:9001`, `10.0.0.102:9001` and
 * `https://10.0.0.102:9001/` all name the same agent.
 */
export function sameAgentUrl(a: string, b: string): boolean {
  const strip = (u: string) =>
    u
      .trim()
      .toLowerCase()
      .replace(/^[a-z]+:\/\//, '')
      .replace(/\/+$/, '');
  return strip(a) === strip(b);
}

/** The Docker label that ties a container to its compose project (= normalised stack name). */
export function composeProjectLabel(project: string): string {
  return `com.docker.compose.project=${project}`;
}
