import { parseWavHeader, toMonoAtRate } from './wav';

function header(o: { tag?: number; channels?: number; rate?: number; bits?: number; dataBytes?: number; extraChunk?: boolean } = {}): Buffer {
  const fmt = Buffer.alloc(24);
  fmt.write('fmt ', 0, 'ascii');
  fmt.writeUInt32LE(16, 4);
  fmt.writeUInt16LE(o.tag ?? 1, 8);
  fmt.writeUInt16LE(o.channels ?? 1, 10);
  fmt.writeUInt32LE(o.rate ?? 16000, 12);
  fmt.writeUInt16LE(o.bits ?? 16, 22);
  const list = Buffer.concat([Buffer.from('LIST', 'ascii'), Buffer.from([5, 0, 0, 0]), Buffer.from('INFOx', 'ascii'), Buffer.from([0])]);
  const data = Buffer.alloc(8);
  data.write('data', 0, 'ascii');
  data.writeUInt32LE(o.dataBytes ?? 100, 4);
  return Buffer.concat([Buffer.from('RIFF\0\0\0\0WAVE', 'ascii'), fmt, o.extraChunk ? list : Buffer.alloc(0), data]);
}

describe('parseWavHeader', () => {
  it('finds the data chunk after other chunks (odd-sized chunks are padded)', () => {
    const head = header({ extraChunk: true, channels: 2, rate: 48000 });
    expect(parseWavHeader(head, head.length + 100)).toEqual({ sampleRate: 48000, channels: 2, dataOffset: head.length, dataBytes: 100 });
  });

  it('bounds the data by the file size when the header carries a placeholder length (streamed WAV)', () => {
    const head = header({ dataBytes: 0xffffffff });
    expect(parseWavHeader(head, head.length + 51).dataBytes).toBe(50); // whole frames only
  });

  it('refuses what is not 16-bit PCM WAV', () => {
    expect(() => parseWavHeader(Buffer.from('not a wav file at all'), 21)).toThrow('not a RIFF/WAVE file');
    expect(() => parseWavHeader(header({ bits: 8 }), 200)).toThrow('16-bit PCM expected');
    expect(() => parseWavHeader(header({ tag: 3 }), 200)).toThrow('unsupported WAV format');
  });
});

describe('toMonoAtRate', () => {
  it('averages channels', () => {
    expect([...toMonoAtRate(Int16Array.from([100, 300, -50, -150]), 2, 8000, 8000)]).toEqual([200, -100]);
  });

  it('resamples linearly to the timeline rate', () => {
    expect([...toMonoAtRate(Int16Array.from([0, 100, 200, 300]), 1, 2, 4)]).toEqual([0, 50, 100, 150, 200, 250, 300, 300]);
    expect([...toMonoAtRate(Int16Array.from([0, 100, 200, 300]), 1, 4, 2)]).toEqual([0, 200]);
  });
});
