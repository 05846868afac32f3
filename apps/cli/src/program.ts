import { Command, InvalidArgumentError, Option } from 'commander';
import { describeMediaBinaries } from '@vid2live/media';
import { isLivePhotoError, isPvtPath, MAX_CLIP_SECONDS, MIN_CLIP_SECONDS, type ConvertOptions } from '@vid2live/livephoto';
import { describeSummary, failedRunSummary, runConvert } from './convert-command';
import { describeReport, runInspect } from './inspect-command';
import { runMotionPhoto } from './motion-photo-command';
import { runSubmit } from './submit-command';
import { startStudioServer } from '../../studio/src/local-server';

function seconds(name: string, min = 0, max = Number.POSITIVE_INFINITY) {
  return (raw: string): number => {
    const v = Number(raw);
    if (!Number.isFinite(v) || v < min || v > max) {
      throw new InvalidArgumentError(`${name} must be a number of seconds between ${min} and ${max}`);
    }
    return v;
  };
}

function keyFrame(raw: string): number | 'auto' {
  return raw === 'auto' ? 'auto' : seconds('--key-frame')(raw);
}

/** `--crop WxH+X+Y` (ImageMagick geometry), in upright source pixels. */
function cropRect(raw: string): { x: number; y: number; width: number; height: number } {
  const m = /^(\d+(?:\.\d+)?)x(\d+(?:\.\d+)?)\+(\d+(?:\.\d+)?)\+(\d+(?:\.\d+)?)$/.exec(raw.trim());
  if (!m) throw new InvalidArgumentError('--crop is WxH+X+Y, e.g. 607x1080+400+0');
  return { width: Number(m[1]), height: Number(m[2]), x: Number(m[3]), y: Number(m[4]) };
}

function positiveInt(raw: string): number {
  const v = Number(raw);
  if (!Number.isInteger(v) || v < 1 || v > 64) throw new InvalidArgumentError('must be a whole number from 1 to 64');
  return v;
}

function packageVersion(): string {
  // dist/apps/cli/src → the repository root holds package.json
  for (const rel of ['../../../package.json', '../../../../package.json']) {
    try {
      return (require(require('node:path').join(__dirname, rel)) as { version: string }).version;
    } catch {
      /* try the next layout (ts-jest runs from source, node from dist) */
    }
  }
  return 'unknown';
}

export function buildProgram(): Command {
  const program = new Command();
  program
    .name('vid2live')
    .description('Turn ordinary videos into genuine Apple Live Photos (still + MOV joined by a content identifier).')
    .version(packageVersion(), '-V, --version')
    .showHelpAfterError();

  program
    .command('convert')
    .description('convert video files and folders (recursively) into Live Photo pairs, locally')
    .argument('<inputs...>', 'video files or folders')
    .requiredOption('-o, --output <dir>', 'output folder (NAME.JPG|HEIC + NAME.MOV side by side, or NAME.pvt/ with --pvt)')
    .option('--start <s>', 'clip start in seconds (default: the calmest moment)', seconds('--start'))
    .option('--duration <s>', `clip length in seconds, ${MIN_CLIP_SECONDS}–${MAX_CLIP_SECONDS} (default 3)`, seconds('--duration', MIN_CLIP_SECONDS, MAX_CLIP_SECONDS))
    .option('--key-frame <t|auto>', 'still time in seconds into the source, or auto (sharpest frame near the middle)', keyFrame)
    .addOption(new Option('--still <format>', 'still format').choices(['jpeg', 'heic']).default('jpeg'))
    .addOption(new Option('--codec <codec>', 'video codec of the MOV').choices(['h264', 'hevc']).default('h264'))
    .option('--motion-photo', 'also write a Google Motion Photo NAME.MP.jpg', false)
    .option('--pvt', 'write each pair as a NAME.pvt/ package (NAME.JPG|HEIC + NAME.MOV + metadata.plist) that Photos on a Mac imports as one Live Photo', false)
    .addOption(
      new Option('--profile <profile>', 'wallpaper: iOS lock-screen Live Wallpaper (1080×1920, 60 fps, 1 s, HEIC; not verified on a device — docs/wallpaper.md)')
        .choices(['standard', 'wallpaper'])
        .default('standard'),
    )
    .option('--crop <WxH+X+Y>', 'wallpaper framing: a 9:16 rectangle of the upright source, e.g. 607x1080+400+0 (default: around the motion of the clip, else centred)', cropRect)
    .option('--concurrency <n>', 'files converted at once', positiveInt, 1)
    .option('--json', 'print a JSON summary on stdout instead of text', false)
    .action(async (inputs: string[], o) => {
      const controller = new AbortController();
      const onSignal = () => controller.abort();
      process.once('SIGINT', onSignal);
      process.once('SIGTERM', onSignal);
      const convert: ConvertOptions = {
        start: o.start,
        duration: o.duration,
        keyFrame: o.keyFrame,
        still: o.still,
        codec: o.codec,
        motionPhoto: o.motionPhoto,
        ...(o.profile === 'wallpaper' ? { profile: 'wallpaper' as const } : {}),
        ...(o.crop ? { crop: o.crop } : {}),
      };
      if (o.crop && o.profile !== 'wallpaper') throw new InvalidArgumentError('--crop needs --profile wallpaper');
      if (o.pvt && o.motionPhoto) throw new InvalidArgumentError('--pvt cannot be combined with --motion-photo: a .pvt package holds only the Live Photo pair');
      const tty = !o.json && process.stderr.isTTY === true;
      const log = (line: string) => process.stderr.write(line + '\n');
      if (!o.json) log(describeMediaBinaries());
      const started = Date.now();
      let summary;
      try {
        summary = await runConvert(
          inputs,
          { output: o.output, convert, concurrency: o.concurrency, json: o.json, tty, pvt: o.pvt, signal: controller.signal },
          log,
        );
      } catch (e) {
        // `--json` promises JSON on stdout whatever happens: the run's error, exit code 2.
        if (!o.json) throw e;
        const failed = failedRunSummary(e, started);
        process.stderr.write(`vid2live: ${failed.error!.code}: ${failed.error!.message}\n`);
        process.stdout.write(JSON.stringify(failed, null, 2) + '\n');
        process.exitCode = 2;
        return;
      }
      if (o.json) process.stdout.write(JSON.stringify(summary, null, 2) + '\n');
      else for (const line of describeSummary(summary)) process.stdout.write(line + '\n');
      process.exitCode = summary.failed > 0 || controller.signal.aborted ? 1 : 0;
    });

  program
    .command('motion-photo')
    .description('turn Live Photo pairs (NAME.JPG + NAME.MOV side by side, in files or folders) into Google Motion Photos NAME.MP.jpg (iPhone → Android)')
    .argument('<inputs...>', 'pair files or folders (recursively; pairs are matched by folder and name)')
    .requiredOption('-o, --output <dir>', 'output folder (sub-folders kept)')
    .option('--json', 'print a JSON summary on stdout instead of text', false)
    .action(async (inputs: string[], o) => {
      const controller = new AbortController();
      process.once('SIGINT', () => controller.abort());
      const summary = await runMotionPhoto(inputs, { output: o.output, signal: controller.signal }, (line) => process.stderr.write(line + '\n'));
      if (o.json) process.stdout.write(JSON.stringify(summary, null, 2) + '\n');
      else {
        process.stdout.write(`${summary.done} Motion Photo(s) written, ${summary.failed} failed, ${summary.unpaired.length} file(s) without their other half\n`);
        for (const f of summary.unpaired) process.stdout.write(`  unpaired: ${f}\n`);
      }
      process.exitCode = summary.failed > 0 || controller.signal.aborted ? 1 : 0;
    });

  program
    .command('inspect')
    .description('check a Live Photo pair (still + MOV, or a NAME.pvt package folder) or a Motion Photo (one .MP.jpg) against the format spec')
    .argument('<still>', 'JPEG/HEIC still, a NAME.pvt package folder, or a Motion Photo JPEG')
    .argument('[movie]', 'the paired MOV')
    .option('--json', 'print the report as JSON', false)
    .option('--wallpaper', 'also report each lock-screen Live Wallpaper requirement (met / not met / unknown)', false)
    .action(async (still: string, movie: string | undefined, o) => {
      if (o.wallpaper && !movie && !isPvtPath(still)) throw new InvalidArgumentError('--wallpaper needs the pair: <still> <movie> (or a .pvt package)');
      if (movie && isPvtPath(still)) throw new InvalidArgumentError('a .pvt package holds its pair: give the package alone');
      const report = await runInspect(still, movie, { wallpaper: o.wallpaper });
      if (o.json) process.stdout.write(JSON.stringify(report, null, 2) + '\n');
      else for (const line of describeReport(report)) process.stdout.write(line + '\n');
      process.exitCode = report.valid && (!report.wallpaper || report.wallpaper.ready) ? 0 : 1;
    });

  program
    .command('submit')
    .description('submit every video (or, with --live-photo-pairs, every Live Photo pair) under an S3 prefix to a running vid2live API as one batch')
    .requiredOption('--api <url>', 'API base URL, e.g. http://localhost:3000')
    .requiredOption('--bucket <bucket>', 'source bucket')
    .requiredOption('--prefix <prefix>', 'source key prefix')
    .option('--out-bucket <bucket>', 'output bucket (default: the source bucket)')
    .option('--out-prefix <prefix>', 'output key prefix', 'live/')
    .option('--api-key <key>', 'API key (default: $VID2LIVE_API_KEY)')
    .option('--live-photo-pairs', 'the prefix holds Live Photo pairs (NAME.HEIC|JPG + NAME.MOV): make each one a Google Motion Photo NAME.MP.HEIC|.MP.jpg', false)
    .option('--wait', 'wait for the batch to end, with a progress bar', false)
    .option('--json', 'print the final summary as JSON', false)
    .action(async (o) => {
      const apiKey: string | undefined = o.apiKey ?? process.env.VID2LIVE_API_KEY;
      if (!apiKey) throw new InvalidArgumentError('an API key is needed: --api-key or VID2LIVE_API_KEY');
      const ok = await runSubmit({
        api: o.api,
        apiKey,
        bucket: o.bucket,
        prefix: o.prefix,
        outBucket: o.outBucket ?? o.bucket,
        outPrefix: o.outPrefix,
        livePhotoPairs: o.livePhotoPairs,
        wait: o.wait,
        json: o.json,
        tty: process.stderr.isTTY === true && !o.json,
      });
      process.exitCode = ok ? 0 : 1;
    });

  program
    .command('studio')
    .description('open the Live Photo studio in your browser: see the moment, move it, pick the key photo, make and preview the pair (this machine only, 127.0.0.1)')
    .argument('[folder]', 'a folder whose videos the studio lists')
    .option('--port <n>', 'port on 127.0.0.1 (default: a free one)', (raw: string) => {
      const n = Number(raw);
      if (!Number.isInteger(n) || n < 0 || n > 65535) throw new InvalidArgumentError('a port is 0–65535');
      return n;
    }, 0)
    .action(async (folder: string | undefined, o) => {
      if (folder !== undefined && !(await import('node:fs')).statSync(folder, { throwIfNoEntry: false })?.isDirectory()) {
        throw new InvalidArgumentError(`${folder} is not a folder`);
      }
      const studio = await startStudioServer({ folder, port: o.port });
      process.stdout.write(`vid2live studio: open ${studio.url} in your browser (Ctrl+C stops it)\n`);
      await new Promise<void>((resolve) => {
        process.once('SIGINT', resolve);
        process.once('SIGTERM', resolve);
      });
      await studio.close();
    });

  return program;
}

export async function main(argv: string[] = process.argv): Promise<void> {
  try {
    await buildProgram().parseAsync(argv);
  } catch (e) {
    if (isLivePhotoError(e)) {
      process.stderr.write(`vid2live: ${e.code}: ${e.message}\n`);
    } else {
      process.stderr.write(`vid2live: ${e instanceof Error ? e.message : String(e)}\n`);
    }
    process.exitCode = 2;
  }
}

