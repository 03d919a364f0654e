import 'reflect-metadata';
import { plainToInstance } from 'class-transformer';
import { validateSync } from 'class-validator';
import { TokenCipher } from '../../common/crypto/token-cipher';
import { CapturePolicyDto, capturePolicyView, resolveCapturePolicy, zoomRoomsPasscodeAad } from '../sessions';
import { CreateDispatchDto, ListRoomsQuery } from './dto/zoom-rooms.dto';
import { RATE_HEADROOM, slotIntervalMs } from './rooms-rate-limiter';

const errorsOf = <T extends object>(cls: new () => T, plain: unknown): string[] =>
  validateSync(plainToInstance(cls, plain) as object, { whitelist: true, forbidNonWhitelisted: true }).flatMap((e) => [
    ...Object.values(e.constraints ?? {}),
    ...(e.children ?? []).flatMap((c) => Object.values(c.constraints ?? {})),
  ]);

describe('rooms rate limiter spacing', () => {
  it('spaces calls 10 % below the account limit', () => {
    expect(RATE_HEADROOM).toBe(0.9);
    expect(slotIntervalMs(2)).toBe(556);
    expect(slotIntervalMs(20)).toBe(56);
    expect(slotIntervalMs(60)).toBe(19);
  });

  it('never puts more than the limit into one wall-clock second, even with send jitter below the headroom', () => {
    for (const rate of [2, 20, 60]) {
      const interval = slotIntervalMs(rate);
      const jitterMax = (1000 / rate) * 0.09; // under the 10 % headroom
      for (let offset = 0; offset < 1000; offset += 37) {
        const perSecond = new Map<number, number>();
        for (let i = 0; i < 200; i++) {
          const at = offset + i * interval + ((i * 7919) % 100) / 100 * jitterMax;
          const s = Math.floor(at / 1000);
          perSecond.set(s, (perSecond.get(s) ?? 0) + 1);
        }
        expect(Math.max(...perSecond.values())).toBeLessThanOrEqual(rate);
      }
    }
  });
});


describe('CreateDispatchDto', () => {
  it('accepts a minimal and a full body', () => {
    expect(errorsOf(CreateDispatchDto, { meeting_number: '81234567890' })).toEqual([]);
    expect(
      errorsOf(CreateDispatchDto, {
        meeting_number: '81234567890',
        passcode: 'x',
        room_ids: ['qMOLddnySIGGVycz8aX_JQ'],
        leave_after_seconds: 0,
        session_id: '7c9e6679-7425-40de-944b-e07fc1f90ae7',
      }),
    ).toEqual([]);
  });

  it.each([
    [{ meeting_number: '12a' }],
    [{ meeting_number: '81234567890', room_ids: [] }],
    [{ meeting_number: '81234567890', room_ids: ['a', 'a'] }],
    [{ meeting_number: '81234567890', room_ids: ['../x'] }],
    [{ meeting_number: '81234567890', leave_after_seconds: 86401 }],
    [{ meeting_number: '81234567890', passcode: 'p'.repeat(65) }],
    [{ meeting_number: '81234567890', session_id: 'nope' }],
  ])('rejects %j', (body) => {
    expect(errorsOf(CreateDispatchDto, body).length).toBeGreaterThan(0);
  });

  it('takes room statuses in any case', () => {
    expect(plainToInstance(ListRoomsQuery, { status: 'available' }).status).toBe('Available');
    expect(errorsOf(ListRoomsQuery, { status: 'inmeeting' })).toEqual([]);
    expect(errorsOf(ListRoomsQuery, { status: 'Sleeping' }).length).toBeGreaterThan(0);
  });
});

describe('capture_policy.zoom_rooms', () => {
  const cipher = new TokenCipher([{ id: 'k1', key: Buffer.alloc(32, 7) }]);
  const defaults = resolveCapturePolicy(undefined, {
    media_types: ['video'],
    include_user_ids: [],
    exclude_user_ids: [],
    video: { skip_first_frames: 0, interval_ms: 1000, max_frames_per_user: 0, store: true },
    deskshare: { skip_first_frames: 0, interval_ms: 1000, max_frames_per_user: 0, store: true },
    audio: { mode: 'mixed', segment_seconds: 10, store: true },
    transcript: { enabled: true, src_language: -1, store: true },
    chat: { enabled: true, store: true },
  });

  it('needs room_ids or all_available, not both', () => {
    expect(errorsOf(CapturePolicyDto, { zoom_rooms: { room_ids: ['r1'] } })).toEqual([]);
    expect(errorsOf(CapturePolicyDto, { zoom_rooms: { all_available: true } })).toEqual([]);
    expect(errorsOf(CapturePolicyDto, { zoom_rooms: {} }).join()).toContain('room_ids');
    expect(errorsOf(CapturePolicyDto, { zoom_rooms: { all_available: false } }).join()).toContain('room_ids');
    expect(errorsOf(CapturePolicyDto, { zoom_rooms: { room_ids: ['r1'], all_available: true } }).join()).toContain('not both');
    expect(errorsOf(CapturePolicyDto, { zoom_rooms: { all_available: true, leave_after_seconds: -1 } }).length).toBeGreaterThan(0);
  });

  it('stores the passcode sealed to the session and never shows it', () => {
    const dto = plainToInstance(CapturePolicyDto, { zoom_rooms: { all_available: true, passcode: 'secret-pw', leave_after_seconds: 5 } });
    const aad = zoomRoomsPasscodeAad('s-1');
    const policy = resolveCapturePolicy(dto, defaults, (p) => cipher.encrypt(p, aad));
    expect(policy.zoom_rooms).toMatchObject({ room_ids: null, all_available: true, meeting_number: null, leave_after_seconds: 5 });
    expect(JSON.stringify(policy)).not.toContain('secret-pw');
    expect(cipher.decrypt(policy.zoom_rooms!.passcode_enc!, aad)).toBe('secret-pw');
    expect(() => cipher.decrypt(policy.zoom_rooms!.passcode_enc!, zoomRoomsPasscodeAad('s-2'))).toThrow();
    const view = capturePolicyView(policy as unknown as Record<string, unknown>);
    expect(JSON.stringify(view)).not.toContain('passcode_enc');
    expect((view.zoom_rooms as { has_passcode: boolean }).has_passcode).toBe(true);
    expect(() => resolveCapturePolicy(dto, defaults)).toThrow(/sealPasscode/);
    expect(resolveCapturePolicy(undefined, defaults).zoom_rooms).toBeUndefined();
  });
});
