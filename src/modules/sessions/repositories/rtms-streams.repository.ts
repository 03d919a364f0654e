import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, DeepPartial, EntityManager, In, Not, Repository } from 'typeorm';
import { RtmsStreamEntity, StreamStatus } from '../entities/rtms-stream.entity';

/** A stream in one of these states is over; nothing moves it again. */
export const ENDED_STREAM_STATUSES: readonly StreamStatus[] = [StreamStatus.Stopped, StreamStatus.Failed];

export type StreamRuntimeFields = Partial<Pick<RtmsStreamEntity, 'status' | 'ownerWorkerId' | 'connectedAt' | 'lastKeepaliveAt'>>;

/** The rtms_streams table. */
@Injectable()
export class RtmsStreamsRepository {
  constructor(@InjectDataSource() private readonly dataSource: DataSource) {}

  private repo(em?: EntityManager): Repository<RtmsStreamEntity> {
    return (em ?? this.dataSource.manager).getRepository(RtmsStreamEntity);
  }

  /**
   * Serialises work on one stream (start, failover, stop) with a transaction-scoped
   * advisory lock, released when `em`'s transaction ends.
   */
  async lockStream(rtmsStreamId: string, em: EntityManager): Promise<void> {
    await em.query('SELECT pg_advisory_xact_lock(hashtext($1))', [`stream:${rtmsStreamId}`]);
  }

  findByStreamId(rtmsStreamId: string, em?: EntityManager): Promise<RtmsStreamEntity | null> {
    return this.repo(em).findOne({ where: { rtmsStreamId } });
  }

  /** A session's streams, oldest first. */
  findBySession(sessionId: string): Promise<RtmsStreamEntity[]> {
    return this.repo().find({ where: { sessionId }, order: { createdAt: 'ASC' } });
  }

  /** Inserts a new stream row (defaults filled in by the database) and returns it. */
  insert(fields: DeepPartial<RtmsStreamEntity>, em?: EntityManager): Promise<RtmsStreamEntity> {
    const repo = this.repo(em);
    return repo.save(repo.create(fields));
  }

  /** Writes a loaded stream's changed fields back. */
  save(stream: RtmsStreamEntity, em?: EntityManager): Promise<RtmsStreamEntity> {
    return this.repo(em).save(stream);
  }

  /** How many of a session's streams have not ended. */
  countOpenForSession(sessionId: string, em?: EntityManager): Promise<number> {
    return this.repo(em).count({ where: { sessionId, status: Not(In(ENDED_STREAM_STATUSES)) } });
  }

  /** Sets a stream's status unless it has ended (an ended stream keeps its final status). */
  async setStatusUnlessEnded(rtmsStreamId: string, status: StreamStatus, em?: EntityManager): Promise<void> {
    await this.repo(em).update({ rtmsStreamId, status: Not(In(ENDED_STREAM_STATUSES)) }, { status });
  }

  /**
   * A status among the fields never moves an ended stream: the worker's write may come late
   * (held while Postgres was unreachable), after the webhook side stopped the stream.
   *
   * With `writer` (the worker whose observation this is), the write is fenced by ownership:
   * a worker's claim (`ownerWorkerId: writer`) always applies, anything else only while the
   * row names that worker or no one. A worker that handed a stream over can have its last
   * write ("interrupted, no owner") land after the new owner's claim; without the fence it
   * would show a running stream as interrupted and ownerless.
   */
  async updateRuntime(rtmsStreamId: string, fields: StreamRuntimeFields, writer?: string): Promise<void> {
    const update = this.repo().createQueryBuilder().update(RtmsStreamEntity).set(fields).where('rtms_stream_id = :rtmsStreamId', { rtmsStreamId });
    if (fields.status !== undefined) update.andWhere('status NOT IN (:...ended)', { ended: ENDED_STREAM_STATUSES });
    if (writer !== undefined && fields.ownerWorkerId !== writer) update.andWhere('(owner_worker_id IS NULL OR owner_worker_id = :writer)', { writer });
    await update.execute();
  }

  /** reconnect_counts[cause] += 1, atomically in the database (jsonb). */
  async incrementReconnectCount(rtmsStreamId: string, cause: string): Promise<void> {
    await this.repo()
      .createQueryBuilder()
      .update(RtmsStreamEntity)
      .set({
        reconnectCounts: () =>
          `jsonb_set(reconnect_counts, ARRAY[:cause]::text[], to_jsonb(COALESCE((reconnect_counts->>:cause)::int, 0) + 1))`,
      })
      .setParameters({ cause })
      .where('rtms_stream_id = :rtmsStreamId', { rtmsStreamId })
      .execute();
  }
}
