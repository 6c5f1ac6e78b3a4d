/**
 * Two jest projects:
 * - `unit` (test/unit, test/replay): pure code, the workflow on Temporal's time-skipping test server that each test
 *   file starts itself, and replays of recorded histories on the built bundle — no shared dev server, so
 *   `npx jest test/unit test/replay` starts nothing it does not use and stays fast;
 * - `integration` (everything else): one real Temporal dev server for the whole run (started in globalSetup, which
 *   jest runs only when at least one test of this project is selected) and one workflow bundle. These tests share
 *   that server, so they run in band (see scripts/run-tests.js).
 */
const transform = {
  '^.+\\.ts$': [
    '@swc/jest',
    { jsc: { target: 'es2022', parser: { syntax: 'typescript' } }, module: { type: 'commonjs' } },
  ],
};

const common = {
  testEnvironment: 'node',
  transform,
  moduleFileExtensions: ['ts', 'js', 'json'],
  setupFiles: ['<rootDir>/test/harness/quiet-runtime.ts'],
  testTimeout: 60_000,
  slowTestThreshold: 30,
};

module.exports = {
  // Some options are read only at the top level (testTimeout among them), so they are given here too.
  testTimeout: common.testTimeout,
  projects: [
    {
      ...common,
      displayName: 'unit',
      testMatch: ['<rootDir>/test/unit/**/*.test.ts', '<rootDir>/test/replay/**/*.test.ts'],
    },
    {
      ...common,
      displayName: 'integration',
      testMatch: ['<rootDir>/test/**/*.test.ts'],
      testPathIgnorePatterns: ['/node_modules/', '<rootDir>/test/unit/', '<rootDir>/test/replay/'],
      globalSetup: '<rootDir>/test/harness/global-setup.ts',
      globalTeardown: '<rootDir>/test/harness/global-teardown.ts',
    },
  ],
};
