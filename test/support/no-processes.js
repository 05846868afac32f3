/**
 * setupFilesAfterEnv of the `fast` jest project: a fast test starts no process. Every child_process entry point
 * throws, naming the call, so a test that would reach a real ffmpeg/ffprobe/heif-enc (a MediaTools port left
 * un-injected) fails instead of silently running it.
 */
const childProcess = require('node:child_process');

for (const name of ['spawn', 'spawnSync', 'exec', 'execSync', 'execFile', 'execFileSync', 'fork']) {
  jest.spyOn(childProcess, name).mockImplementation(() => {
    throw new Error(`the fast jest project starts no process: child_process.${name} was called`);
  });
}
