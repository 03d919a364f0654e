import { videoFrame } from '../../../simulator/media';
import { frameFormat } from './media-saver.service';

describe('frameFormat', () => {
  const size = { width: 32, height: 18 };
  it('keeps each frame in the container Zoom sent: JPEG (codec 5), PNG (6), H.264 Annex-B (7)', () => {
    expect(frameFormat(Buffer.from(videoFrame(1, 0, size, 5).base64, 'base64'))).toEqual({ ext: 'jpg', contentType: 'image/jpeg' });
    expect(frameFormat(Buffer.from(videoFrame(1, 0, size, 6).base64, 'base64'))).toEqual({ ext: 'png', contentType: 'image/png' });
    const h264 = Buffer.from(videoFrame(1, 0, size, 7).base64, 'base64');
    expect(h264.subarray(0, 4)).toEqual(Buffer.from([0, 0, 0, 1])); // an Annex-B start code
    expect(frameFormat(h264)).toEqual({ ext: 'h264', contentType: 'video/h264' });
  });

  it('does not take a truncated signature for an image', () => {
    expect(frameFormat(Buffer.from([0xff, 0xd8]))).toEqual({ ext: 'h264', contentType: 'video/h264' });
    expect(frameFormat(Buffer.from([0x89, 0x50, 0x4e, 0x47]))).toEqual({ ext: 'h264', contentType: 'video/h264' });
  });
});
