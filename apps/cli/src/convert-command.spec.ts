import { decideResume, describeOutcome, type ExistingPair } from './convert-command';

const ID = '71DCA213-5710-4A6C-BC6D-CE6306AEB8D8';
const pair = (over: Partial<ExistingPair> = {}): ExistingPair => ({
  valid: true,
  contentIdentifier: ID,
  stillTime: 1.5,
  fingerprint: 'v1:aaaa',
  ...over,
});

describe('resume decision', () => {
  it('converts when nothing is in the output folder yet (no redo reason)', () => {
    expect(decideResume(undefined, 'v1:aaaa')).toEqual({ keep: false });
  });

  it('keeps a valid pair that records this very fingerprint', () => {
    expect(decideResume(pair(), 'v1:aaaa')).toEqual({ keep: true, contentIdentifier: ID, stillTime: 1.5 });
  });

  it('redoes a pair made from other bytes or options, one without a fingerprint, and one that fails inspect', () => {
    expect(decideResume(pair(), 'v1:bbbb')).toMatchObject({ keep: false, redo: expect.stringMatching(/different source file or with different options/) });
    expect(decideResume(pair({ fingerprint: null }), 'v1:aaaa')).toMatchObject({ keep: false, redo: expect.stringMatching(/no vid2live fingerprint/) });
    expect(decideResume(pair({ valid: false }), 'v1:aaaa')).toMatchObject({ keep: false, redo: expect.stringMatching(/does not pass inspect/) });
    expect(decideResume(pair({ contentIdentifier: null }), 'v1:aaaa')).toMatchObject({ keep: false });
  });

  it('does not keep a pair it cannot check against an unreadable source', () => {
    expect(decideResume(pair(), undefined)).toMatchObject({ keep: false, redo: expect.any(String) });
  });

  it('says in the file line why a pair was redone', () => {
    const line = describeOutcome({
      source: '/v/clip.mov',
      status: 'converted',
      still: '/o/clip.JPG',
      movie: '/o/clip.MOV',
      contentIdentifier: ID,
      stillTime: 1,
      warnings: [],
      reasons: [],
      redone: 'the pair in the output folder was made from a different source file or with different options',
      seconds: 2,
    });
    expect(line).toMatch(/^✓ \/v\/clip\.mov → clip\.JPG \+ clip\.MOV .*\[redone: the pair in the output folder was made from a different source/);
  });
});
