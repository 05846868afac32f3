/**
 * Three projects:
 *  - `fast`: tests that start no process (test/support/no-processes.js makes sure): the engine's plan/pair/convert
 *    logic against recorded probe/analysis answers (`*.fast.spec.ts`, libs/livephoto/src/recorded/) and the specs
 *    that were pure already (FAST_SPECS). `npm run test:fast`; under 30 s.
 *  - `unit`: the other specs beside the code, which run real ffmpeg/ffprobe/heif-enc/ExifTool, Redis or sockets.
 *  - `e2e`: cross-process tests under test/.
 * `npm test` runs all three.
 */
const tsJest = ['ts-jest', { tsconfig: 'tsconfig.json', isolatedModules: true }];
/** `@vid2live/<lib>[/<path>]` → libs/<lib>/src[/<path>] (the tsconfig paths) */
const moduleNameMapper = {
  '^@vid2live/([a-z-]+)$': '<rootDir>/libs/$1/src',
  '^@vid2live/([a-z-]+)/(.*)$': '<rootDir>/libs/$1/src/$2',
};
/** Specs beside the code that start no process, open no socket and need no Redis: they run in `fast`. */
const FAST_SPECS = [
  'apps/api/src/errors.spec.ts',
  'apps/cli/src/convert-command.spec.ts',
  'apps/studio/src/limiter.spec.ts',
  'apps/worker/src/conversion.processor.spec.ts',
  'apps/worker/src/errors.spec.ts',
  'libs/config/src/config.spec.ts',
  'libs/config/src/redact.spec.ts',
  'libs/jobs/src/conversion-backoff.spec.ts',
  'libs/jobs/src/lifecycle.spec.ts',
  'libs/jobs/src/webhook-backoff.spec.ts',
  'libs/livephoto/src/exif/add-maker-note.spec.ts',
  'libs/livephoto/src/exif/apple-maker-note.spec.ts',
  'libs/livephoto/src/exif/tiff.spec.ts',
  'libs/livephoto/src/quicktime/golden.spec.ts',
  'libs/livephoto/src/stages/plan/policy.spec.ts',
  'libs/storage/src/local-storage.spec.ts',
  'libs/storage/src/output-names.spec.ts',
  'libs/storage/src/scope.spec.ts',
  'libs/studio/src/http.spec.ts',
  'libs/webhooks/src/signature.spec.ts',
  'libs/webhooks/src/target-guard.spec.ts',
];
const escape = (p) => p.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
const FAST_SPEC_PATTERNS = ['\\.fast\\.spec\\.ts$', ...FAST_SPECS.map((p) => `<rootDir>/${escape(p)}$`)];

module.exports = {
  testTimeout: 180000,
  projects: [
    {
      displayName: 'fast',
      testEnvironment: 'node',
      transform: { '^.+\\.ts$': tsJest },
      moduleNameMapper,
      testMatch: ['<rootDir>/libs/**/*.fast.spec.ts', '<rootDir>/apps/**/*.fast.spec.ts', ...FAST_SPECS.map((p) => `<rootDir>/${p}`)],
      setupFilesAfterEnv: ['<rootDir>/test/support/no-processes.js'],
    },
    {
      displayName: 'unit',
      testEnvironment: 'node',
      transform: { '^.+\\.ts$': tsJest },
      moduleNameMapper,
      testMatch: ['<rootDir>/libs/**/*.spec.ts', '<rootDir>/apps/**/*.spec.ts'],
      testPathIgnorePatterns: ['/node_modules/', ...FAST_SPEC_PATTERNS],
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
