import { ZoomSimulator } from './index';
import { JsonSocket, mediaHandshake, mediaUrls, sign, signalingHandshake, type Msg, type StartedEvent } from './spec-client.spec-helper';

/** Which field names the simulator reads and sends on the RTMS sockets (rtms-protocol.md §2, §4). */
describe('RTMS wire field names', () => {
  const creds = { clientId: 'fields_client', clientSecret: 'fields_secret' };
  let sim: ZoomSimulator;
  const sockets: JsonSocket[] = [];
  const track = <T extends { sock: JsonSocket }>(x: T): T => {
    sockets.push(x.sock);
    return x;
  };

  beforeAll(async () => {
    sim = await ZoomSimulator.start({ ...creds, autoUrlValidation: false, keepAliveIntervalMs: 1000 });
  });
  afterEach(async () => {
    await Promise.all(sockets.splice(0).map((s) => s.close()));
  });
  afterAll(async () => {
    await sim.stop();
  });

  async function started(kind: 'meeting' | 'webinar' = 'meeting'): Promise<StartedEvent> {
    const m = sim.createMeeting({ kind, participants: [{ userId: 1, name: 'Ann' }] });
    const st = await sim.startRtms(m.id);
    return { meeting_uuid: m.uuid, rtms_stream_id: st.streamId, server_urls: st.serverUrls };
  }

  /** msg 1 with the id in `field` instead of `meeting_uuid`. */
  async function msg1With(field: string, ev: StartedEvent): Promise<Msg> {
    const sock = track({ sock: await JsonSocket.open(ev.server_urls) }).sock;
    sock.send({ msg_type: 1, protocol_version: 1, sequence: 1, [field]: ev.meeting_uuid, rtms_stream_id: ev.rtms_stream_id, signature: sign(creds.clientId, creds.clientSecret, ev.meeting_uuid, ev.rtms_stream_id) });
    return sock.next(2);
  }

  it('reads the id only from `meeting_uuid` (§2: webinar and session ids are sent in that field too); without it: 4 INVALID_PAYLOAD', async () => {
    const webinar = await started('webinar');
    expect((await msg1With('webinar_uuid', webinar)).status_code).toBe(4);
    expect((await msg1With('session_id', webinar)).status_code).toBe(4);
    const ok = track(await signalingHandshake(creds, webinar)); // the webinar's uuid in meeting_uuid
    expect(ok.resp.status_code).toBe(0);
    // The media handshake (msg 3) names the id the same way.
    const sock = track({ sock: await JsonSocket.open(mediaUrls(ok.resp).all) }).sock;
    sock.send({ msg_type: 3, protocol_version: 1, sequence: 0, webinar_uuid: webinar.meeting_uuid, rtms_stream_id: webinar.rtms_stream_id, signature: sign(creds.clientId, creds.clientSecret, webinar.meeting_uuid, webinar.rtms_stream_id), media_type: 1, payload_encryption: false });
    expect((await sock.next(4)).status_code).toBe(4);
    expect(track(await mediaHandshake(creds, webinar, mediaUrls(ok.resp).all, 1)).resp.status_code).toBe(0);
    const statuses = sim.record(webinar.rtms_stream_id).handshakes.map((h) => h.statusCode);
    expect(statuses).toEqual([4, 4, 0, 4, 0]);
  });

  it('msg 9 names the stop reason `stop_reason` only (§4: send the documented form), on pause, resume and stop', async () => {
    const ev = await started();
    const { sock: sig } = track(await signalingHandshake(creds, ev));
    sim.pauseRtms(ev.rtms_stream_id);
    sim.resumeRtms(ev.rtms_stream_id);
    await sim.stopRtms(ev.rtms_stream_id, 6);
    await sig.until(() => sig.msgs.filter((m) => m.msg_type === 9).length === 3, 3000, 'three msg 9');
    const m9 = sig.msgs.filter((m) => m.msg_type === 9);
    expect(m9.map((m) => [m.state, m.stop_reason])).toEqual([
      [3, 0],
      [4, 0],
      [5, 6],
    ]);
    for (const m of m9) {
      expect(m).not.toHaveProperty('reason');
      expect(Object.keys(m).sort()).toEqual(['msg_type', 'rtms_session_id', 'state', 'stop_reason', 'timestamp']);
    }
  });

  it("sessionStateReasonField: 'reason' sends the docs table's form instead (for clients that must read both)", async () => {
    const other = await ZoomSimulator.start({ ...creds, autoUrlValidation: false, keepAliveIntervalMs: 1000, sessionStateReasonField: 'reason' });
    try {
      const m = other.createMeeting({ participants: [] });
      const st = await other.startRtms(m.id);
      const { sock: sig } = track(await signalingHandshake(creds, { meeting_uuid: m.uuid, rtms_stream_id: st.streamId, server_urls: st.serverUrls }));
      await other.stopRtms(st.streamId, 6);
      const m9 = await sig.next(9);
      expect(m9).toMatchObject({ state: 5, reason: 6 });
      expect(m9).not.toHaveProperty('stop_reason');
    } finally {
      await other.stop();
    }
  });
});
