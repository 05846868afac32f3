import { attachment, byteRange } from './http';

describe('byteRange (what a <video> asks for)', () => {
  it('reads the three forms of one range', () => {
    expect(byteRange('bytes=0-99', 1000)).toEqual({ start: 0, end: 99 });
    expect(byteRange('bytes=900-', 1000)).toEqual({ start: 900, end: 999 });
    expect(byteRange('bytes=-100', 1000)).toEqual({ start: 900, end: 999 });
    // an end past the object is cut to it
    expect(byteRange('bytes=500-5000', 1000)).toEqual({ start: 500, end: 999 });
  });

  it('sends the whole object for no range, several ranges or another unit', () => {
    for (const h of [undefined, '', 'bytes=-', 'bytes=0-1,5-9', 'items=0-1', 'bytes=a-b']) expect(byteRange(h, 1000)).toBeUndefined();
    expect(byteRange('bytes=0-1', 0)).toBeUndefined();
  });

  it('is unsatisfiable past the end or backwards', () => {
    expect(byteRange('bytes=1000-', 1000)).toBe('unsatisfiable');
    expect(byteRange('bytes=50-10', 1000)).toBe('unsatisfiable');
  });
});

it('names a download without quoting tricks', () => {
  expect(attachment('IMG_3853.zip')).toBe('attachment; filename="IMG_3853.zip"');
  expect(attachment('a"b\r\nc;.zip')).toBe('attachment; filename="a_b__c_.zip"');
});
