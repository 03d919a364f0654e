import { QueueName } from './queue-names';

/**
 * Every job name, as stored in Redis. Explicit strings (never a class `.name`) so a
 * refactor cannot orphan jobs already queued.
 */
export enum JobName {
  ZoomEventProcess = 'zoom-event.process',
  RtmsStart = 'rtms.start',
  RtmsStop = 'rtms.stop',
  RtmsPause = 'rtms.pause',
  RtmsResume = 'rtms.resume',
  StreamRun = 'stream.run',
  FrameSave = 'frame.save',
  TranscriptSave = 'transcript.save',
  ChatSave = 'chat.save',
  MediaPurge = 'media.purge',
  RecordingCheck = 'recording.check',
  RoomJoin = 'room.join',
  RoomLeave = 'room.leave',
  RoomsAutoDispatch = 'rooms.auto-dispatch',
  RoomsMeetingEnded = 'rooms.meeting-ended',
  TokenRefresh = 'token.refresh',
  OAuthDeauthorize = 'oauth.deauthorize',
  AppEventFanout = 'app-event.fanout',
  WebhookDeliver = 'webhook.deliver',
  RetentionSweep = 'retention.sweep',
  ErasureRun = 'erasure.run',
  RecordingCompose = 'recording.compose',
}

/** Which queue carries each job. Checked for completeness at compile time. */
export const JOB_QUEUE = {
  [JobName.ZoomEventProcess]: QueueName.ZoomEvents,
  [JobName.RtmsStart]: QueueName.RtmsControl,
  [JobName.RtmsStop]: QueueName.RtmsControl,
  [JobName.RtmsPause]: QueueName.RtmsControl,
  [JobName.RtmsResume]: QueueName.RtmsControl,
  [JobName.StreamRun]: QueueName.RtmsStreams,
  [JobName.FrameSave]: QueueName.MediaFrames,
  [JobName.TranscriptSave]: QueueName.MediaFrames,
  [JobName.ChatSave]: QueueName.MediaFrames,
  [JobName.MediaPurge]: QueueName.MediaFrames,
  [JobName.RecordingCheck]: QueueName.MediaFrames,
  [JobName.RoomJoin]: QueueName.ZoomRooms,
  [JobName.RoomLeave]: QueueName.ZoomRooms,
  [JobName.RoomsAutoDispatch]: QueueName.ZoomRooms,
  [JobName.RoomsMeetingEnded]: QueueName.ZoomRooms,
  [JobName.TokenRefresh]: QueueName.OAuth,
  [JobName.OAuthDeauthorize]: QueueName.OAuth,
  [JobName.AppEventFanout]: QueueName.AppWebhooks,
  [JobName.WebhookDeliver]: QueueName.AppWebhooks,
  [JobName.RetentionSweep]: QueueName.Maintenance,
  [JobName.ErasureRun]: QueueName.Maintenance,
  [JobName.RecordingCompose]: QueueName.MediaCompose,
} as const satisfies Record<JobName, QueueName>;

export function jobsOfQueue(queue: QueueName): JobName[] {
  return (Object.keys(JOB_QUEUE) as JobName[]).filter((name) => JOB_QUEUE[name] === queue);
}
