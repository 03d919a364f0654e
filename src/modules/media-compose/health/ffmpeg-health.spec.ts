import { ConfigService } from '@nestjs/config';
import { AppConfig } from '../../../config/app.config';
import { FfmpegHealth } from './ffmpeg-health';
import { FfmpegProbe, probeFfmpeg } from './ffmpeg-probe';

const config = (compose: boolean) => ({ get: () => ({ compose, ffmpegPath: 'ffmpeg' }) }) as unknown as ConfigService<AppConfig, true>;

describe('ffmpeg presence', () => {
  it('reports a missing binary with its path (no shell, no throw)', async () => {
    const p = await probeFfmpeg('/nonexistent/ffmpeg-xyz');
    expect(p).toEqual({ ok: false, path: '/nonexistent/ffmpeg-xyz', reason: '/nonexistent/ffmpeg-xyz not found' });
  });

  it("reads the installed ffmpeg's version (CI and the Docker image install Debian's ffmpeg)", async () => {
    const p = await probeFfmpeg('ffmpeg');
    expect(p).toMatchObject({ ok: true, path: 'ffmpeg', version: expect.stringMatching(/\d/) });
  });

  it('says why a binary that runs but is not ffmpeg failed', async () => {
    const p = await probeFfmpeg('false');
    expect(p).toMatchObject({ ok: false, reason: expect.stringContaining('false -version failed') });
  });

  it('readiness: up with the version, or down (degraded) as missing', async () => {
    const ok = new FfmpegHealth(config(true), async (): Promise<FfmpegProbe> => ({ ok: true, path: 'ffmpeg', version: '5.1.6' }));
    expect(await ok.readiness()).toEqual({ status: 'up', ffmpeg: 'ok', version: '5.1.6' });
    const missing = new FfmpegHealth(config(true), async (): Promise<FfmpegProbe> => ({ ok: false, path: 'ffmpeg', reason: 'ffmpeg not found' }));
    expect(await missing.readiness()).toEqual({ status: 'down', ffmpeg: 'missing', reason: 'ffmpeg not found', compose_enabled: true });
  });

  it('logs an error at boot only when composition is enabled', async () => {
    const probe = async (): Promise<FfmpegProbe> => ({ ok: false, path: 'ffmpeg', reason: 'ffmpeg not found' });
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
