// Builds the apps once before the e2e project runs: the tests spawn `node dist/apps/{api,worker}/src/main.js`
// as real child processes, so they must exercise the code as it is now, not a stale dist/.
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

module.exports = async function globalSetup() {
  const root = path.join(__dirname, '..', '..');
  // Child-process logs of the previous run (.tmp/e2e/*.log); the generated media under .tmp/e2e/media stay.
  const logs = path.join(root, '.tmp', 'e2e');
  if (fs.existsSync(logs)) for (const f of fs.readdirSync(logs)) if (f.endsWith('.log')) fs.rmSync(path.join(logs, f));
  const started = Date.now();
  // the same steps as `npm run build`: a clean dist/ (a file left from a moved module would shadow its new folder),
  // compile, then turn the @vid2live/* imports into relative paths
  fs.rmSync(path.join(root, 'dist'), { recursive: true, force: true });
  let res = spawnSync(process.execPath, [require.resolve('typescript/bin/tsc'), '-p', 'tsconfig.build.json'], {
    cwd: root,
    encoding: 'utf8',
  });
  if (res.status === 0) {
    res = spawnSync(process.execPath, [require.resolve('tsc-alias/dist/bin/index.js'), '-p', 'tsconfig.build.json'], { cwd: root, encoding: 'utf8' });
  }
  const entry = path.join(root, 'dist', 'apps', 'api', 'src', 'main.js');
  if (res.status !== 0 || !fs.existsSync(entry)) {
    throw new Error(`e2e: the build failed (npm run build):\n${(res.stdout || '') + (res.stderr || '')}`);
  }
  process.stderr.write(`\ne2e: built dist/ in ${((Date.now() - started) / 1000).toFixed(1)} s\n`);
};
