/**
 * Lab port allocation: nothing is bound between handing a port out and the service's own bind, so the OS may offer
 * one free port twice; the gateway's HTTP and HTTPS servers once got the same one and nginx refused to start.
 */
import net from 'node:net';
import { ephemeralPorts, freePort, handOut, preferredPort } from '../../../src/lab/services/ports';

describe('lab ports', () => {
  it('never hands out one port twice on a host, although the OS would offer it again', async () => {
    const ports: number[] = [];
    for (let i = 0; i < 1000; i++) ports.push(await freePort('127.0.0.1'));
    expect(new Set(ports).size).toBe(ports.length);
  });

  it("hands out ports below the kernel's ephemeral range, which outgoing connections take while a service is down", async () => {
    const [low] = ephemeralPorts();
    for (let i = 0; i < 20; i++) expect(await freePort('127.0.0.1')).toBeLessThan(low);
  });

  it('gives a preferred port only once, then any other free one', async () => {
    const preferred = await freePort('127.0.0.1'); // free, and now handed out
    const next = await preferredPort('127.0.0.1', preferred);
    expect(next).not.toBe(preferred);
  });

  it('keeps a resumed world port from being handed out again', async () => {
    const probe = net.createServer();
    const kept = await new Promise<number>((resolve) =>
      probe.listen(0, '127.0.0.1', () => resolve((probe.address() as net.AddressInfo).port)),
    );
    await new Promise((resolve) => probe.close(resolve));
    expect(handOut('127.0.0.1', kept)).toBe(kept);
    expect(await preferredPort('127.0.0.1', kept)).not.toBe(kept);
  });

  it('gives the standard port when it is free and nobody has it', async () => {
    const host = '127.0.0.77';
    const standard = await freePort('127.0.0.1'); // a port free on .1, so most likely free on .77 too
    expect(await preferredPort(host, standard)).toBe(standard);
  });
});
