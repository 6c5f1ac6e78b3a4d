/** Pure naming rules (no I/O): kept beside the Portainer tests they serve. */
import { normaliseStackName, sameAgentUrl, composeProjectLabel } from '../../../src/portainer/names';
import { kindForPortainerStatus } from '../../../src/portainer/errors';
import { normaliseFingerprint } from '../../../src/http/tls';

describe('normaliseStackName', () => {
  it.each([
    ['qdrant', 'qdrant'],
    ['Qdrant', 'qdrant'],
    ['Qdrant Stack!', 'qdrantstack'],
    ['my_stack-2', 'my_stack-2'],
    ['vector.db', 'vectordb'],
    ['ÄÖ', ''],
  ])('%s → %s', (input, expected) => expect(normaliseStackName(input)).toBe(expected));
});

describe('sameAgentUrl', () => {
  it('ignores scheme, case and trailing slashes', () => {
    expect(sameAgentUrl('tcp://10.0.0.102:9001', '10.0.0.102:9001')).toBe(true);
    expect(sameAgentUrl('TCP://10.0.0.102:9001/', 'https://10.0.0.102:9001')).toBe(true);
    expect(sameAgentUrl('tcp://10.0.0.102:9001', 'tcp://10.0.0.103:9001')).toBe(false);
    expect(sameAgentUrl('tcp://10.0.0.102:9001', 'tcp://10.0.0.102:9002')).toBe(false);
  });
  it('builds the compose project label filter', () => {
    expect(composeProjectLabel('qdrant')).toBe('com.docker.compose.project=qdrant');
  });
});

describe('kindForPortainerStatus', () => {
  it.each([
    [422, 'Invalid credentials', 'auth'],
    [401, 'Unauthorized', 'auth'],
    [404, 'Not found', 'not-found'],
    [409, 'Name is not unique', 'conflict'],
    [400, 'Invalid request payload Invalid environment name', 'invalid'],
    [500, 'Unable to get environment type', 'agent-unreachable'],
    [500, 'Internal server error', 'http'],
  ])('%i %s → %s', (status, message, kind) => expect(kindForPortainerStatus(status, message)).toBe(kind));
});

describe('normaliseFingerprint', () => {
  it('accepts any case and separators', () => {
    expect(normaliseFingerprint('ab:cd:EF')).toBe('AB:CD:EF');
    expect(normaliseFingerprint('sha256:abcdef')).toBe('AB:CD:EF');
    expect(normaliseFingerprint('AB CD EF')).toBe('AB:CD:EF');
  });
});
