/**
 * Msg 3 `media_params` (rtms-protocol.md §2): every field a client may set, its allowed
 * values, the status code Zoom answers when one is wrong, and the defaults it confirms.
 */
import { int, isRecord } from './http-util';
import { Codec, Status, type MediaKind } from './protocol';

export type Params = Record<string, number | boolean>;

type Validation = { status: number } | { confirmed: Partial<Record<MediaKind, Params>> };

const DEFAULTS: Record<MediaKind, Params> = {
  audio: { content_type: 2, sample_rate: 1, channel: 1, codec: 1, data_opt: 1, send_rate: 20 },
  video: { content_type: 3, codec: 5, resolution: 2, data_opt: 3, fps: 5 },
  deskshare: { content_type: 3, codec: 5, resolution: 3, fps: 1 },
  transcript: { content_type: 5, src_language: -1, enable_lid: true },
  chat: { content_type: 5 },
};

const PARAM_STATUS = {
  audio: { params: 18, content_type: 19, sample_rate: 20, channel: 21, codec: 22, data_opt: 23, send_rate: 24 },
  video: { params: 25, content_type: 26, codec: 27, resolution: 28, data_opt: 29, fps: 30 },
  deskshare: { params: 31, content_type: 32, codec: 33, resolution: 34, fps: 35 },
  transcript: { params: 36, content_type: 37, src_language: 43 },
  chat: { params: 38, content_type: 39 },
} as const;

/** Validate msg 3 `media_params` for the negotiated kinds; fills defaults. */
export function validateMediaParams(kinds: MediaKind[], mediaParams: unknown): Validation {
  if (mediaParams !== undefined && mediaParams !== null && !isRecord(mediaParams)) return { status: Status.INVALID_MEDIA_PARAMS };
  const mp = isRecord(mediaParams) ? mediaParams : {};
  const confirmed: Partial<Record<MediaKind, Params>> = {};
  for (const kind of kinds) {
    const raw = mp[kind];
    if (raw !== undefined && raw !== null && !isRecord(raw)) return { status: PARAM_STATUS[kind].params };
    const given = isRecord(raw) ? raw : {};
    const out: Params = { ...DEFAULTS[kind] };
    const num = (k: string): number | undefined | null => {
      if (given[k] === undefined) return undefined;
      return int(given[k]) ?? null; // null = present but not an integer
    };
    const check = (k: string, ok: (v: number) => boolean, code: number): number | undefined => {
      const v = num(k);
      if (v === undefined) return undefined;
      if (v === null || !ok(v)) return code;
      out[k] = v;
      return undefined;
    };
    let bad: number | undefined;
    if (kind === 'audio') {
      const S = PARAM_STATUS.audio;
      bad =
        check('content_type', (v) => v === 2 || v === 1, S.content_type) ??
        check('sample_rate', (v) => v >= 0 && v <= 3, S.sample_rate) ??
        check('channel', (v) => v === 1 || v === 2, S.channel) ??
        check('codec', (v) => v >= 1 && v <= 4, S.codec) ??
        check('data_opt', (v) => v === 1 || v === 2, S.data_opt) ??
        check('send_rate', (v) => v > 0 && v % 20 === 0, S.send_rate);
      if (bad === undefined && out.channel === 2 && out.codec !== Codec.OPUS) bad = S.channel;
      if (bad === undefined && out.codec === Codec.OPUS && out.sample_rate !== 3) bad = S.sample_rate;
      if (bad === undefined) out.send_rate = Math.min(1000, Number(out.send_rate));
    } else if (kind === 'video' || kind === 'deskshare') {
      const S = PARAM_STATUS[kind];
      bad =
        check('content_type', (v) => v === 3, S.content_type) ??
        check('codec', (v) => v === 5 || v === 6 || v === 7, S.codec) ??
        check('resolution', (v) => v >= 1 && v <= 4, S.resolution) ??
        (kind === 'video' ? check('data_opt', (v) => v >= 3 && v <= 5, PARAM_STATUS.video.data_opt) : undefined) ??
        check('fps', (v) => v >= 1 && v <= 30, S.fps);
      if (bad === undefined) {
        const stillMax = 5; // JPG/PNG up to 5 fps (video per docs; deskshare per SDK)
        if (given.codec === undefined && Number(out.fps) > stillMax) out.fps = kind === 'video' ? 5 : 1;
        else if ((out.codec === Codec.JPG || out.codec === Codec.PNG) && Number(out.fps) > stillMax) bad = S.fps;
      }
    } else if (kind === 'transcript') {
      bad = check('content_type', (v) => v === 5, PARAM_STATUS.transcript.content_type) ?? check('src_language', (v) => v >= -1 && v <= 36, PARAM_STATUS.transcript.src_language);
      if (bad === undefined && typeof given.enable_lid === 'boolean') out.enable_lid = given.enable_lid;
    } else {
      bad = check('content_type', (v) => v === 5, PARAM_STATUS.chat.content_type);
    }
    if (bad !== undefined) return { status: bad };
    confirmed[kind] = out;
  }
  return { confirmed };
}
