import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { CompositionState, RecordingCompositionEntity } from './entities/recording-composition.entity';

/** The SQL of `recording_compositions`. */
@Injectable()
export class RecordingCompositionsRepository {
  constructor(@InjectDataSource() private readonly db: DataSource) {}

  find(sessionId: string): Promise<RecordingCompositionEntity | null> {
    return this.db.getRepository(RecordingCompositionEntity).findOne({ where: { sessionId } });
  }

  /**
   * A new re-compose revision: the row's revision + 1 (the row made at 1 when the session
   * had none), state queued. Returns the revision to queue.
   */
  async nextRevision(sessionId: string): Promise<number> {
    const rows: Array<{ revision: number }> = await this.db.query(
      `INSERT INTO recording_compositions (session_id, revision, state) VALUES ($1, 1, 'queued')
       ON CONFLICT (session_id) DO UPDATE SET revision = recording_compositions.revision + 1, state = 'queued', requested_at = now(), updated_at = now()
       RETURNING revision`,
      [sessionId],
    );
    return rows[0].revision;
  }

  /** The revision's request could not be queued: failed, unless a newer request or its job moved the row on. */
  async failUnqueued(sessionId: string, revision: number, error: { code: string; message: string }): Promise<void> {
    await this.db.query(
      `UPDATE recording_compositions SET state = 'failed', error = $3, updated_at = now() WHERE session_id = $1 AND revision = $2 AND state = 'queued'`,
      [sessionId, revision, JSON.stringify(error)],
    );
  }

  /**
   * Records where revision `revision` (0: the automatic composition) of the session's
   * composition is; the row is made if missing. Only while the row is at that revision: a
   * run of an older revision (the automatic one after a re-compose was asked for, say)
   * must not report its state or its failure as the newer one's.
   */
  async setState(sessionId: string, revision: number, state: CompositionState, fields: { error?: { code: string; message: string } | null; artifactId?: string | null } = {}): Promise<void> {
    await this.db.query(
      `INSERT INTO recording_compositions (session_id, revision, state, error, artifact_id) VALUES ($1, $2, $3, $4, $5)
       ON CONFLICT (session_id) DO UPDATE SET state = EXCLUDED.state, updated_at = now(),
         error = CASE WHEN $6 THEN EXCLUDED.error ELSE recording_compositions.error END,
         artifact_id = CASE WHEN $7 THEN EXCLUDED.artifact_id ELSE recording_compositions.artifact_id END
       WHERE recording_compositions.revision = EXCLUDED.revision`,
      [sessionId, revision, state, fields.error === undefined || fields.error === null ? null : JSON.stringify(fields.error), fields.artifactId ?? null, fields.error !== undefined, fields.artifactId !== undefined],
    );
  }
}
