// Keep test output readable: the SDK's own INFO lines (worker state changes) drown jest's report.
import { DefaultLogger, Runtime } from '@temporalio/worker';

try {
  Runtime.install({ logger: new DefaultLogger('WARN') });
} catch {
  // Already installed in this process (jest reuses workers between files): nothing to do.
}
