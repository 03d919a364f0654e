import { spsPictureSize } from './h264-sps';

describe('spsPictureSize', () => {
  // SPS NAL units written by libx264 (ffmpeg -f lavfi -i testsrc=size=WxH -pix_fmt yuv420p -c:v libx264 -profile:v …).
  it.each([
    ['high 320x240', '6764000dacd94141fb011000000300100000030320f1429960', 320, 240],
    ['high 854x480 (cropped from 864x480)', '6764001eacd940d83de6f011000003000100000300320f162d96', 854, 480],
    ['high 1280x720', '6764001facd9405005bb011000000300100000030320f1831960', 1280, 720],
    ['baseline 640x360 (cropped from 640x368)', '6742c01ed900a02ff97011000003000100000300320f162e48', 640, 360],
  ])('reads %s', (_what, hex, width, height) => {
    expect(spsPictureSize(Buffer.from(hex, 'hex'))).toEqual({ width, height });
  });

  it('returns null for what is not a readable SPS', () => {
    expect(spsPictureSize(Buffer.from('68ce3c80', 'hex'))).toBeNull(); // a PPS
    expect(spsPictureSize(Buffer.from('6764', 'hex'))).toBeNull(); // truncated
    expect(spsPictureSize(Buffer.from('6764001e00000000', 'hex'))).toBeNull(); // Exp-Golomb code with no end
  });
});
