import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

/**
 * The dependency rule of docs/architecture.md, enforced: dependency-cruiser with .dependency-cruiser.cjs over the
 * whole tree must find nothing, and the same rules must catch each kind of violation in a small tree made here.
 */
const ROOT = path.resolve(__dirname, '..');
const DEPCRUISE = path.join(ROOT, 'node_modules', 'dependency-cruiser', 'bin', 'dependency-cruise.mjs');

function cruise(cwd: string, targets: string[]): { status: number | null; out: string } {
  const r = spawnSync(process.execPath, [DEPCRUISE, '--config', path.join(ROOT, '.dependency-cruiser.cjs'), '--output-type', 'err', ...targets], {
    cwd,
    encoding: 'utf8',
    timeout: 120_000,
  });
  return { status: r.status, out: `${r.stdout}${r.stderr}` };
}

describe('dependency rule (dependency-cruiser)', () => {
  it('holds on the whole tree: no cycle, no forbidden direction, no relative import across libraries', () => {
    const r = cruise(ROOT, ['libs', 'apps', 'test', 'bench']);
    expect(r.out).toMatch(/no dependency violations found/);
    expect(r.status).toBe(0);
  });

  it('catches each kind of violation', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'depcruise-'));
    try {
      const write = (file: string, text: string) => {
        fs.mkdirSync(path.dirname(path.join(dir, file)), { recursive: true });
        fs.writeFileSync(path.join(dir, file), text);
      };
      const libs = ['errors', 'media', 'livephoto', 'storage', 'jobs'];
      write(
        'tsconfig.json',
        JSON.stringify({
          compilerOptions: {
            baseUrl: '.',
            paths: Object.fromEntries(libs.flatMap((l) => [[`@vid2live/${l}`, [`libs/${l}/src`]], [`@vid2live/${l}/*`, [`libs/${l}/src/*`]]])),
          },
        }),
      );
      write('libs/errors/src/index.ts', "import { x } from '@vid2live/media';\nexport const e = x;\n"); // errors-is-a-leaf
      write('libs/media/src/index.ts', "import { y } from '@vid2live/livephoto';\nexport const x = y;\n"); // media-below-engine
      write('libs/livephoto/src/index.ts', "import { s } from '../../storage/src/index';\nexport const y = s;\n"); // relative across + engine → storage
      write('libs/storage/src/index.ts', "import { a } from './a';\nexport const s = a;\n");
      write('libs/storage/src/a.ts', "import { s } from './index';\nexport const a = s;\n"); // cycle
      write('libs/jobs/src/index.ts', "import { w } from '../../../apps/worker/src/w';\nexport const j = w;\n"); // libs → apps
      write('apps/worker/src/w.ts', "import { api } from '../../api/src/api';\nexport const w = api;\n"); // worker → api
      write('apps/api/src/api.ts', "import { t } from './testing/t';\nexport const api = t;\n"); // production → testing helper
      write('apps/api/src/testing/t.ts', 'export const t = 1;\n');
      write('libs/media/src/ffmpeg.ts', 'export const run = 1;\n');
      write('libs/livephoto/src/stages/render.ts', "import { run } from '@vid2live/media/ffmpeg';\nexport const r = run;\n"); // stage → media process module
      const r = cruise(dir, ['libs', 'apps']);
      expect(r.status).not.toBe(0);
      for (const rule of [
        'errors-is-a-leaf',
        'media-below-engine',
        'engine-knows-no-infrastructure',
        'no-relative-import-across-libraries',
        'no-cycles',
        'libs-never-import-apps',
        'api-and-worker-apart',
        'production-code-uses-no-test-helpers',
        'engine-uses-media-through-its-port',
      ]) {
        expect(r.out).toContain(rule);
      }
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
