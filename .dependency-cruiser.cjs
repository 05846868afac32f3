/**
 * The dependency rule (docs/architecture.md), checked by test/architecture.e2e-spec.ts on every `npm test`:
 *
 *   apps (api, worker, cli, studio) → libs;   libs: errors ← media ← livephoto;  errors ← storage, sources, jobs …
 *   the engine's stages/convert/preview reach the media processes only through its MediaTools port
 *
 * A library is imported by its name (`@vid2live/<lib>`), never by a relative path that leaves it; nothing depends
 * on an app; the engine knows nothing of Nest, Redis, S3 or the job system; no cycles anywhere.
 */
module.exports = {
  forbidden: [
    {
      name: 'no-cycles',
      severity: 'error',
      comment: 'a cycle ties modules into one unit nobody can test or replace alone',
      from: {},
      to: { circular: true },
    },
    {
      name: 'errors-is-a-leaf',
      severity: 'error',
      comment: 'the error library is what everyone may import; it imports no other part of the project',
      from: { path: '^libs/errors/' },
      to: { path: '^(libs|apps|test|bench)/', pathNot: '^libs/errors/' },
    },
    {
      name: 'media-below-engine',
      severity: 'error',
      comment: 'libs/media runs the tools; the engine uses it, not the other way round',
      from: { path: '^libs/media/' },
      to: { path: '^libs/(livephoto|jobs|storage|sources|webhooks)/' },
    },
    {
      name: 'engine-knows-no-infrastructure',
      severity: 'error',
      comment: 'the engine (libs/livephoto) is plain TypeScript: no Nest, no Redis, no S3, no queue, no config',
      from: { path: '^libs/livephoto/' },
      to: {
        path: '^(libs/(jobs|storage|sources|webhooks|config)/|apps/|node_modules/(@nestjs|bullmq|ioredis|@aws-sdk)/)',
      },
    },
    {
      name: 'engine-uses-media-through-its-port',
      severity: 'error',
      comment:
        'the stages, the other sources (Motion Photos, Live Photo pairs), the share files, convert and preview reach ffprobe/ffmpeg/heif-enc only through the MediaTools port ' +
        '(libs/livephoto/src/ports/media-tools.ts, injected as StageContext.media); of libs/media they may import ' +
        'only its pure modules (source naming, demuxer lists, frame measures, the shapes of probe/ffmpeg/heif-enc runs)',
      from: { path: '^libs/livephoto/src/(stages/|sources/|share/|convert\\.ts$|preview\\.ts$)', pathNot: '\\.spec\\.ts$' },
      to: {
        path: '^libs/media/',
        pathNot: '^libs/media/src/(source-url|demuxers|measures|ffprobe-data|ffmpeg-job|heif-params)\\.ts$',
      },
    },
    {
      name: 'libs-never-import-apps',
      severity: 'error',
      from: { path: '^libs/' },
      to: { path: '^apps/' },
    },
    {
      name: 'api-and-worker-apart',
      severity: 'error',
      comment: 'the api and the worker share libs, never each other\'s internals',
      from: { path: '^apps/(api|worker)/' },
      to: { path: '^apps/', pathNot: '^apps/$1/' },
    },
    {
      name: 'no-relative-import-across-libraries',
      severity: 'error',
      comment: 'import another library as @vid2live/<lib>: the name shows the dependency and keeps it checkable',
      from: { path: '^libs/([^/]+)/' },
      to: { path: '^libs/', pathNot: '^libs/$1/', dependencyTypes: ['local'], dependencyTypesNot: ['aliased'] },
    },
    {
      name: 'production-code-uses-no-test-helpers',
      severity: 'error',
      comment: 'test helpers: test/, */testing/, the recorded media answers of the fast tests (*/recorded/), specs',
      from: { path: '^(libs|apps)/', pathNot: '(\\.spec\\.ts$|/testing/|/recorded/)' },
      to: { path: '(^test/|/testing/|/recorded/|\\.spec\\.ts$)' },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '(^dist/|^node_modules/|\\.d\\.ts$)' },
    tsConfig: { fileName: 'tsconfig.json' },
    tsPreCompilationDeps: true,
    enhancedResolveOptions: { exportsFields: ['exports'], conditionNames: ['import', 'require', 'node', 'default'] },
  },
};
