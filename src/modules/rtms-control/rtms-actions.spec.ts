import { JOB_QUEUE, JobName } from '../../jobs/job-names';
import { QueueName } from '../../jobs/queue-names';
import { canTransition, SessionStatus } from '../sessions';
import { actionOfJob, RTMS_ACTION_NAMES, RTMS_ACTIONS } from './rtms-actions';

describe('RTMS actions', () => {
  it.each(RTMS_ACTION_NAMES)('%s: every allowed starting status may move to its target', (action) => {
    const rule = RTMS_ACTIONS[action];
    // Asking again from the target itself (a start that never streamed) is a no-op move.
    for (const from of rule.from) expect(from === rule.to || canTransition(from, rule.to)).toBe(true);
  });

  it('maps each action to its own rtms-control job and back', () => {
    const jobs = RTMS_ACTION_NAMES.map((a) => RTMS_ACTIONS[a].job);
    expect(new Set(jobs).size).toBe(4);
    for (const a of RTMS_ACTION_NAMES) {
      expect(JOB_QUEUE[RTMS_ACTIONS[a].job]).toBe(QueueName.RtmsControl);
      expect(actionOfJob(RTMS_ACTIONS[a].job)).toBe(a);
    }
    expect(actionOfJob(JobName.TokenRefresh)).toBeUndefined();
  });

  it('never starts a stopped session or pauses a paused one', () => {
    expect(RTMS_ACTIONS.start.from).not.toContain(SessionStatus.Stopped);
    expect(RTMS_ACTIONS.pause.from).toEqual([SessionStatus.Streaming]);
    expect(RTMS_ACTIONS.resume.from).toEqual([SessionStatus.Paused]);
  });
});
