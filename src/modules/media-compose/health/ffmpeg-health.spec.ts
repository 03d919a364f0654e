import { ConfigService } from '@nestjs/config';
import { AppConfig } from '../../../config/app.config';
import { FfmpegHealth } from './ffmpeg-health';
import type { FfmpegProbe } from '../engine/ffmpeg-probe';

const config = (compose: boolean) => ({ get: (key: string) => (key === 'composeEngine' ? { ffmpegPath: 'ffmpeg', ffprobePath: 'ffprobe' } : { compose }) }) as unknown as ConfigService<AppConfig, true>;

describe('ffmpeg presence', () => {
  it("probes the installed ffmpeg (CI and the Docker image install Debian's ffmpeg)", async () => {
    const health = new FfmpegHealth(config(true));
    expect(await health.readiness()).toEqual({ status: 'up', ffmpeg: 'ok', version: expect.stringMatching(/\d/), ffprobe_version: expect.stringMatching(/\d/) });
  });

  it('readiness: up with the version, or down (degraded) as missing', async () => {
    const ok = new FfmpegHealth(config(true), async (): Promise<FfmpegProbe> => ({ ok: true, version: '5.1.6', ffprobeVersion: '5.1.6' }));
    expect(await ok.readiness()).toEqual({ status: 'up', ffmpeg: 'ok', version: '5.1.6', ffprobe_version: '5.1.6' });
    const missing = new FfmpegHealth(config(true), async (): Promise<FfmpegProbe> => ({ ok: false, reason: 'ffmpeg not found' }));
    expect(await missing.readiness()).toEqual({ status: 'down', ffmpeg: 'missing', reason: 'ffmpeg not found', compose_enabled: true });
  });

  it('logs an error at boot only when composition is enabled', async () => {
    const probe = async (): Promise<FfmpegProbe> => ({ ok: false, reason: 'ffmpeg not found' });
    const enabled = new FfmpegHealth(config(true), probe);
    const disabled = new FfmpegHealth(config(false), probe);
    const errors = jest.spyOn((enabled as unknown as { logger: { error: () => void } }).logger, 'error').mockImplementation(() => undefined);
    const warns = jest.spyOn((disabled as unknown as { logger: { warn: () => void } }).logger, 'warn').mockImplementation(() => undefined);
    await enabled.checkAtBoot();
    await disabled.checkAtBoot();
    expect(errors).toHaveBeenCalledWith(expect.stringContaining('ffmpeg is missing (ffmpeg not found): recordings cannot be composed'));
    expect(warns).toHaveBeenCalledWith(expect.stringContaining('composition is off'));
  });
});
