/** Two projects: `unit` (specs beside the code) and `e2e` (cross-process tests under test/). */
const tsJest = ['ts-jest', { tsconfig: 'tsconfig.json', isolatedModules: true }];
/** `@vid2live/<lib>[/<path>]` → libs/<lib>/src[/<path>] (the tsconfig paths) */
const moduleNameMapper = {
  '^@vid2live/([a-z-]+)$': '<rootDir>/libs/$1/src',
  '^@vid2live/([a-z-]+)/(.*)$': '<rootDir>/libs/$1/src/$2',
};
module.exports = {
  testTimeout: 180000,
  projects: [
    {
      displayName: 'unit',
      testEnvironment: 'node',
      transform: { '^.+\\.ts$': tsJest },
      moduleNameMapper,
      testMatch: ['<rootDir>/libs/**/*.spec.ts', '<rootDir>/apps/**/*.spec.ts'],
    },
    {
      displayName: 'e2e',
      testEnvironment: 'node',
      transform: { '^.+\\.ts$': tsJest },
      moduleNameMapper,
      testMatch: ['<rootDir>/test/**/*.e2e-spec.ts'],
      // Builds dist/ once: the e2e tests spawn the built api/worker/CLI as real processes.
      globalSetup: '<rootDir>/test/support/global-setup.js',
    },
  ],
};
