import { Column, Entity, PrimaryColumn } from 'typeorm';

/** The last app-event sequence number used per session (incremented under its row lock). */
@Entity({ name: 'app_event_sequences' })
export class AppEventSequenceEntity {
  @PrimaryColumn({ name: 'session_id', type: 'uuid' })
  sessionId: string;

  @Column({ name: 'last_sequence', type: 'bigint' })
  lastSequence: string;
}
