import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, Repository } from 'typeorm';
import { ParticipantEntity } from '../entities/participant.entity';

/** The participants table: one row per (session, Zoom user). */
@Injectable()
export class ParticipantsRepository {
  constructor(@InjectDataSource() private readonly dataSource: DataSource) {}

  private repo(): Repository<ParticipantEntity> {
    return this.dataSource.getRepository(ParticipantEntity);
  }

  /** Inserts or updates on join: a rejoin clears left_at; a known name is kept when none is given. */
  async upsertJoined(sessionId: string, zoomUserId: string, userName: string | null, at: Date): Promise<void> {
    await this.repo()
      .createQueryBuilder()
      .insert()
      .into(ParticipantEntity)
      .values({ sessionId, zoomUserId, userName, joinedAt: at, leftAt: null })
      .orUpdate(userName === null ? ['left_at'] : ['user_name', 'left_at'], ['session_id', 'zoom_user_id'])
      .execute();
  }

  /** Inserts or updates on leave: sets left_at only (a leave without a join still leaves a row). */
  async upsertLeft(sessionId: string, zoomUserId: string, at: Date): Promise<void> {
    await this.repo()
      .createQueryBuilder()
      .insert()
      .into(ParticipantEntity)
      .values({ sessionId, zoomUserId, userName: null, joinedAt: null, leftAt: at })
      .orUpdate(['left_at'], ['session_id', 'zoom_user_id'])
      .execute();
  }

  /** A session's participants by join time (then user id). */
  findBySession(sessionId: string): Promise<ParticipantEntity[]> {
    return this.repo().find({ where: { sessionId }, order: { joinedAt: 'ASC', zoomUserId: 'ASC' } });
  }
}
