import { LiveBinaryMedia, mediaOfRegistryMember } from '../live-protocol';

/** Which binary media some live client wants for a session. */
export type WantedMedia = Readonly<Record<LiveBinaryMedia, boolean>>;

export const NOTHING_WANTED: WantedMedia = Object.freeze({ audio: false, video: false, deskshare: false });

/** The media named by unexpired registry members (of the session and of ALL_SESSIONS). */
export function wantedMediaOf(members: readonly string[]): WantedMedia {
  if (members.length === 0) return NOTHING_WANTED;
  const wanted = { audio: false, video: false, deskshare: false };
  for (const member of members) for (const media of mediaOfRegistryMember(member)) wanted[media] = true;
  return wanted;
}

export function sameWanted(a: WantedMedia, b: WantedMedia): boolean {
  return a.audio === b.audio && a.video === b.video && a.deskshare === b.deskshare;
}
