/**
 * The Temporal Web UI, checked in a real browser: a lab run waiting at Phase 4 on a dev server WITH its UI (the jest
 * server is headless), worked by the product's worker wiring, and Debian's chromium driven by playwright-core. The
 * operator must find there: the current-details checklist, the MigrationPhase search attribute (also as a list
 * filter) and the activity summaries. Screenshots go to test-artifacts/ui/ (git-ignored).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { WorkflowHandle } from '@temporalio/client';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { temporalDevServer, type TemporalDevServer } from '../../src/lab/processes';
import { freePort } from '../../src/lab/services/ports';
import { requireOrSkip } from '../harness/tools';
import { startWorkerWorld, type WorkerWorld } from '../integration/worker/worker-world';

const CHROMIUM = process.env.PHOENIX_CHROMIUM ?? '/usr/bin/chromium';
const ARTIFACTS = path.join(__dirname, '..', '..', 'test-artifacts', 'ui');
const PHASE_4 = 'Application Deployment and Cutover';

function chromiumOrSkip(): boolean {
  if (fs.existsSync(CHROMIUM)) return true;
  const msg = `no chromium at ${CHROMIUM} (apt-get install chromium, or set PHOENIX_CHROMIUM)`;
  if (process.env.CI === 'true') throw new Error(`CI=true and ${msg}: the Web UI test must run in CI.`);
  console.warn(`skipping the Web UI test: ${msg}`);
  return false;
}

const describeIf = requireOrSkip('sshd', 'nginx') && chromiumOrSkip() ? describe : describe.skip;

/** What the page shows, frames included (the UI may render Markdown in a frame of its own). */
async function pageText(page: Page): Promise<string> {
  const parts = await Promise.all(
    page.frames().map((f) =>
      f
        .locator('body')
        .innerText()
        .catch(() => ''),
    ),
  );
  return parts.join('\n');
}

/** Waits until the page shows `pattern` (the UI loads and refreshes asynchronously); returns what it showed. */
async function shows(page: Page, pattern: RegExp, shot: string, timeoutMs = 30_000): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  let text = '';
  while (Date.now() < deadline) {
    text = await pageText(page);
    if (pattern.test(text)) break;
    await page.waitForTimeout(250);
  }
  await page.screenshot({ path: path.join(ARTIFACTS, `${shot}.png`), fullPage: true });
  return text;
}

async function openTab(page: Page, name: string): Promise<void> {
  await page
    .getByRole('tab', { name })
    .or(page.getByRole('link', { name, exact: true }))
    .first()
    .click();
}

describeIf('Temporal Web UI (chromium)', () => {
  let dir: string;
  let server: TemporalDevServer;
  let ww: WorkerWorld;
  let handle: WorkflowHandle;
  let browser: BrowserContext;
  let page: Page;
  let workflowUrl: string;
  const blocked = new Set<string>();

  beforeAll(async () => {
    const cliPath = process.env.PHOENIX_TEST_TEMPORAL_CLI;
    const bundlePath = process.env.PHOENIX_TEST_WORKFLOW_BUNDLE;
    if (!cliPath || !bundlePath)
      throw new Error(
        'PHOENIX_TEST_TEMPORAL_CLI / PHOENIX_TEST_WORKFLOW_BUNDLE are not set: run through jest (npm test)',
      );
    fs.mkdirSync(ARTIFACTS, { recursive: true });
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'phoenix-ui-'));
    server = await temporalDevServer({
      cliPath,
      dbFile: path.join(dir, 'temporal.db'),
      logFile: path.join(dir, 'temporal.log'),
      port: await freePort(),
      uiPort: await freePort(),
    });
    await server.start();
    ww = await startWorkerWorld({ address: server.address, bundlePath });
    handle = await ww.start();
    await ww.waitFor(handle, (s) => s.waitingFor?.what === 'portainer-deploy');
    workflowUrl = `${server.uiUrl}/namespaces/default/workflows/${encodeURIComponent(handle.workflowId)}`;

    // An empty profile and no background traffic: chromium must not try to reach the internet.
    browser = await chromium.launchPersistentContext(path.join(dir, 'chromium-profile'), {
      executablePath: CHROMIUM,
      headless: true,
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-background-networking',
        '--disable-component-update',
        '--no-first-run',
        '--disable-sync',
      ],
      viewport: { width: 1400, height: 1000 },
    });
    // Tests talk to loopback only: whatever the page would fetch elsewhere is refused (and listed, for the curious).
    await browser.route(
      (url) => !['127.0.0.1', 'localhost'].includes(url.hostname) && url.protocol.startsWith('http'),
      (route) => {
        blocked.add(new URL(route.request().url()).origin);
        return route.abort();
      },
    );
    page = await browser.newPage();
  }, 120_000);

  afterAll(async () => {
    if (blocked.size) console.warn(`the Web UI tried to reach (refused): ${[...blocked].join(', ')}`);
    await browser?.close();
    await ww?.close();
    await server?.stop();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  it('shows the current-details checklist: waiting for a person, and the command to continue', async () => {
    await page.goto(workflowUrl);
    await openTab(page, 'User Metadata');
    const text = await shows(page, /Waiting for a person/, 'current-details');
    expect(text).toMatch(new RegExp(`Migration ${ww.world.plan.name}\\s+— ${PHASE_4}`));
    // Portainer CE's own steps: the agent environment, then a stack from the web editor or an upload.
    expect(text).toMatch(/Waiting for a person: In Portainer .*Add environment .*Add stack .qdrant.: Web editor/);
    expect(text).toContain(`phoenix-migrate confirm-portainer --id ${handle.workflowId}`);
    expect(text).toMatch(/Infrastructure Provisioning[\s\S]*VM 1002 Dr-Phoenix — clone 9000 → 1002/);
    // The static summary (the UI shows "/" as a fraction slash).
    expect(text).toMatch(new RegExp(`Migration ${ww.world.plan.name}: Qdrant → VM 1001[/⁄]1002`));
  });

  it('shows the MigrationPhase search attribute, and finds the run by it in the list', async () => {
    await page.goto(workflowUrl);
    await openTab(page, 'Search Attributes');
    const attrs = await shows(page, /"MigrationPhase"/, 'search-attributes');
    expect(attrs).toContain(`"MigrationPhase": "${PHASE_4}"`);
    expect(attrs).toContain(`"PlanName": "${ww.world.plan.name}"`);

    await page.goto(
      `${server.uiUrl}/namespaces/default/workflows?query=${encodeURIComponent(`MigrationPhase="${PHASE_4}"`)}`,
    );
    const list = await shows(page, new RegExp(handle.workflowId), 'list-by-phase');
    expect(list).toContain(`MigrationPhase = "${PHASE_4}"`);
    expect(list).toContain(handle.workflowId);

    // The same filter with another phase does not list it: the page really filters.
    await page.goto(
      `${server.uiUrl}/namespaces/default/workflows?query=${encodeURIComponent('MigrationPhase="Verification and Decommissioning"')}`,
    );
    const other = await shows(page, /No Workflows Found/, 'list-other-phase');
    expect(other).toContain('No Workflows Found');
    expect(other).not.toContain(handle.workflowId);
  });

  it('shows the activity summaries in the timeline', async () => {
    await page.goto(workflowUrl);
    const text = await shows(page, /clone 9000 → 1002/, 'timeline');
    expect(text).toContain('ensureVm • clone 9000 → 1002 (Dr-Phoenix)');
    expect(text).toContain('ensureVm • adopt VM 1001 in place (Portainer), or clone 9000 if absent');
    expect(text).toContain('preflight • preflight: template, vmids, gateway, NFS export, legacy guests');
    expect(text).toMatch(/provisionComposeFiles • push qdrant\/docker-compose\.yml → 127\.0\.0\.13/);
  });
});
