import { createHmac } from 'node:crypto';
import { RtmsEventType, RtmsMediaBit, RtmsMessageType } from '../../../zoom/rtms-enums';
import type { CapturePolicy, MediaTypeName } from '../../sessions';
import { videoMediaParams } from '../../sessions';

/** hex(HMAC-SHA256(client secret, "client_id,id,rtms_stream_id")) — the same value in msg 1 and msg 3. */
export function rtmsSignature(clientId: string, clientSecret: string, meetingIdentity: string, rtmsStreamId: string): string {
  return createHmac('sha256', clientSecret).update(`${clientId},${meetingIdentity},${rtmsStreamId}`).digest('hex');
}

/**
 * The app whose credentials sign a stream's handshake: the Video SDK app's SDK key and
 * secret for a Video SDK session (rtms-protocol.md §2), the RTMS app's client id and
 * secret for everything else. A string names the settings missing.
 */
export function signingCredentials(product: string, zoom: { clientId?: string; clientSecret?: string; sdkKey?: string; sdkSecret?: string }): { id: string; secret: string } | string {
  if (product === 'video_sdk') return zoom.sdkKey && zoom.sdkSecret ? { id: zoom.sdkKey, secret: zoom.sdkSecret } : 'ZOOM_SDK_KEY / ZOOM_SDK_SECRET';
  return zoom.clientId && zoom.clientSecret ? { id: zoom.clientId, secret: zoom.clientSecret } : 'ZOOM_CLIENT_ID / ZOOM_CLIENT_SECRET';
}

export interface StreamIdentity {
  /** meeting_uuid / webinar_uuid / session_id / engagement_id exactly as received; sent in `meeting_uuid`. */
  meetingIdentity: string;
  rtmsStreamId: string;
  signature: string;
}

export function signalingHandshake(id: StreamIdentity): Record<string, unknown> {
  return {
    msg_type: RtmsMessageType.SignalingHandshakeReq,
    protocol_version: 1,
    sequence: 1,
    meeting_uuid: id.meetingIdentity,
    rtms_stream_id: id.rtmsStreamId,
    signature: id.signature,
  };
}

export const MEDIA_BITS: Record<MediaTypeName, RtmsMediaBit> = {
  audio: RtmsMediaBit.Audio,
  video: RtmsMediaBit.Video,
  deskshare: RtmsMediaBit.Deskshare,
  transcript: RtmsMediaBit.Transcript,
  chat: RtmsMediaBit.Chat,
};

export type MediaParams = Partial<Record<MediaTypeName, Record<string, number | boolean>>>;

/** The media types a session's capture policy asks for (transcript/chat may be switched off). */
export function requestedMediaTypes(policy: CapturePolicy): MediaTypeName[] {
  return policy.media_types.filter((t) => (t === 'transcript' ? policy.transcript.enabled : t === 'chat' ? policy.chat.enabled : true));
}

/** msg 3 media_params from the capture policy (rtms-protocol.md §2 enums). */
export function mediaParamsFor(types: readonly MediaTypeName[], policy: CapturePolicy, audioSendRateMs = 100): MediaParams {
  const params: MediaParams = {};
  for (const t of types) {
    switch (t) {
      case 'audio':
        // L16 16 kHz mono; data_opt 1 = mixed stream, 2 = one stream per participant.
        params.audio = { content_type: 2, sample_rate: 1, channel: 1, codec: 1, data_opt: policy.audio.mode === 'mixed' ? 1 : 2, send_rate: audioSendRateMs };
        break;
      case 'video':
        // Codec, resolution and fps per the policy (sessions/video-capture.ts); data_opt 3 = the active speaker's video.
        params.video = { content_type: 3, ...videoMediaParams(policy.video), data_opt: 3 };
        break;
      case 'deskshare':
        params.deskshare = { content_type: 3, ...videoMediaParams(policy.deskshare) };
        break;
      case 'transcript': {
        const lang = policy.transcript.src_language;
        params.transcript = lang >= 0 ? { content_type: 5, src_language: lang, enable_lid: false } : { content_type: 5 };
        break;
      }
      case 'chat':
        params.chat = { content_type: 5 };
        break;
    }
  }
  return params;
}

export function mediaBitmask(types: readonly MediaTypeName[]): number {
  return types.reduce((mask, t) => mask | MEDIA_BITS[t], 0);
}

export function dataHandshake(id: StreamIdentity, types: readonly MediaTypeName[], params: MediaParams): Record<string, unknown> {
  const mediaParams: MediaParams = {};
  for (const t of types) if (params[t]) mediaParams[t] = params[t];
  return {
    msg_type: RtmsMessageType.DataHandshakeReq,
    protocol_version: 1,
    sequence: 0,
    meeting_uuid: id.meetingIdentity,
    rtms_stream_id: id.rtmsStreamId,
    signature: id.signature,
    media_type: mediaBitmask(types),
    payload_encryption: false,
    media_params: mediaParams,
  };
}

/** Events we subscribe to (1 and 7 arrive without subscribing). */
export const SUBSCRIBED_EVENTS: readonly RtmsEventType[] = [
  RtmsEventType.ActiveSpeakerChange,
  RtmsEventType.ParticipantJoin,
  RtmsEventType.ParticipantLeave,
  RtmsEventType.SharingStart,
  RtmsEventType.SharingStop,
  RtmsEventType.ParticipantVideoOn,
  RtmsEventType.ParticipantVideoOff,
];

export function eventSubscription(): Record<string, unknown> {
  return { msg_type: RtmsMessageType.EventSubscription, events: SUBSCRIBED_EVENTS.map((event_type) => ({ event_type, subscribe: true })) };
}

/** Media sockets to open from msg 2's `media_server.server_urls`. */
export interface MediaSocketPlan {
  /** Path key in server_urls (`all` or a media type) and the types it carries. */
  sockets: Array<{ key: 'all' | MediaTypeName; url: string; types: MediaTypeName[] }>;
  /** Requested types the server offered no URL for (no scope): not requested. */
  unavailable: MediaTypeName[];
}

/**
 * The types Zoom documents a `server_urls` key of their own for (rtms-protocol.md §2:
 * `{audio, video, transcript, all}`): when msg 2 offers per-type keys and one of these is
 * missing, the app has no scope for it. Deskshare and chat may have no key even with the
 * scope: they are reached through `all` (what Zoom's own library falls back to).
 */
const KEYED_TYPES: ReadonlySet<MediaTypeName> = new Set<MediaTypeName>(['audio', 'video', 'transcript']);

/**
 * - `all` mode: one `all` socket for every wanted type that may be in scope.
 * - `split` mode (or no `all` URL): one socket per wanted type with a key of its own, and
 *   one `all` socket next to them for the wanted types that have none but may ride on `all`.
 * A type with its own key is in scope; a keyed type (audio/video/transcript) without one is
 * not; deskshare/chat without one are unknown, so asked for on `all` (Zoom answers 9–13 if
 * the app has no scope, and the stream drops the type then: StreamConnections). When msg 2
 * offers no per-type key at all, nothing is known: every wanted type is asked on `all`.
 */
export function planMediaSockets(serverUrls: Record<string, unknown>, wanted: readonly MediaTypeName[], mode: 'all' | 'split'): MediaSocketPlan {
  const url = (k: string) => (typeof serverUrls[k] === 'string' && (serverUrls[k] as string).length > 0 ? (serverUrls[k] as string) : undefined);
  const all = url('all');
  const anyTypeKey = Object.keys(MEDIA_BITS).some((k) => url(k));
  const ownKey = wanted.filter((t) => url(t));
  const viaAllOnly = anyTypeKey ? wanted.filter((t) => !url(t) && !KEYED_TYPES.has(t)) : [...wanted];
  const notIn = (types: readonly MediaTypeName[]) => wanted.filter((t) => !types.includes(t));
  if (mode === 'all' && all) {
    const types = wanted.filter((t) => ownKey.includes(t) || viaAllOnly.includes(t));
    return { sockets: types.length > 0 ? [{ key: 'all', url: all, types }] : [], unavailable: notIn(types) };
  }
  const sockets: MediaSocketPlan['sockets'] = ownKey.map((t) => ({ key: t, url: url(t)!, types: [t] }));
  const onAll = all ? viaAllOnly : [];
  if (onAll.length > 0) sockets.push({ key: 'all', url: all!, types: onAll });
  return { sockets, unavailable: notIn([...ownKey, ...onAll]) };
}
