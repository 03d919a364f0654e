/**
 * Which access unit of each user's H.264 loop goes out in a frame, for one stream and media kind.
 * A decoder keeps state per stream, so the rules are a decoder's (docs/simulator.md "H.264 video"):
 * - a user who comes on screen (first frame, speaker switch, camera on, share start) starts at
 *   unit 0: SPS+PPS+IDR, a clean entry point;
 * - while a user stays on screen on the same socket the units follow in order, one per frame
 *   (P-frames need their predecessor), and the loop goes on at unit 0 (an IDR) after the last;
 * - on a media socket that replaced a dropped one, a user who was on screen continues where the
 *   meeting clock is (units that would have been sent meanwhile are skipped), which may be
 *   mid-GOP, as a live stream resumes: the client must wait for the next IDR.
 */

interface Position {
  /** Unit index last sent. */
  unit: number;
  /** Script time (ms) of that frame. */
  t: number;
  /** Media connection it went out on. */
  connId: number;
}

export interface SequenceUser {
  userId: number;
  /** Access units in the user's loop. */
  units: number;
}

export class H264Sequence {
  private readonly positions = new Map<number, Position>();
  private onScreen = new Set<number>();

  /** Unit index to send for each of `users` (the users of this frame, in order). */
  frame(t: number, connId: number, intervalMs: number, users: readonly SequenceUser[]): number[] {
    const out = users.map((u) => {
      const last = this.positions.get(u.userId);
      let unit: number;
      if (!last || !this.onScreen.has(u.userId)) unit = 0;
      else if (last.connId === connId) unit = last.unit + 1;
      else unit = last.unit + Math.max(1, Math.round((t - last.t) / intervalMs));
      unit %= u.units;
      this.positions.set(u.userId, { unit, t, connId });
      return unit;
    });
    this.onScreen = new Set(users.map((u) => u.userId));
    return out;
  }
}
