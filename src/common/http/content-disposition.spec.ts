import { ServerResponse, IncomingMessage } from 'node:http';
import { Socket } from 'node:net';
import { contentDisposition } from './content-disposition';

describe('contentDisposition', () => {
  it('keeps a plain ASCII name as filename only', () => {
    expect(contentDisposition('inline', 'frame-000012.jpg')).toBe('inline; filename="frame-000012.jpg"');
  });

  it('gives other scripts an ASCII filename and the real name in filename* (UTF-8)', () => {
    const v = contentDisposition('inline', '会议-Zoë (1).wav');
    expect(v).toBe(`inline; filename="__-Zo_ (1).wav"; filename*=UTF-8''%E4%BC%9A%E8%AE%AE-Zo%C3%AB%20%281%29.wav`);
    expect(decodeURIComponent(v.split("UTF-8''")[1])).toBe('会议-Zoë (1).wav');
    // Node accepts it as a header value (it threw for the raw name).
    const res = new ServerResponse(new IncomingMessage(new Socket()));
    expect(() => res.setHeader('Content-Disposition', v)).not.toThrow();
    expect(() => res.setHeader('Content-Disposition', 'inline; filename="会议.wav"')).toThrow();
  });

  it('escapes quotes, backslashes and percent signs out of the quoted filename', () => {
    expect(contentDisposition('attachment', 'a"b\\c%d.txt')).toBe(`attachment; filename="a_b_c_d.txt"; filename*=UTF-8''a%22b%5Cc%25d.txt`);
  });

  it('falls back to a neutral name when nothing of the name is ASCII', () => {
    expect(contentDisposition('inline', '会议', 'artifact')).toMatch(/^inline; filename="artifact"; filename\*=UTF-8''/);
  });
});
