import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * What the retention sweep needs to prune the Zoom-event inbox and the app-event outbox by
 * age, in index order and bounded batches (docs/retention.md "Unlinked events, app events
 * and webhook messages"):
 * - `session_events` not linked to a session, by age (partial: the linked rows go by session);
 * - `session_events` still `received`, by age: the pending-events sweeper's query every
 *   minute (partial: a handful of rows instead of a scan of the largest table);
 * - `app_events` by age, and `webhook_messages` by their event (a session's or a person's
 *   events take their messages along) and, once finished, by age.
 */
export class InboxOutboxRetention1796700000000 implements MigrationInterface {
  name = 'InboxOutboxRetention1796700000000';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`CREATE INDEX "IDX_session_events_unlinked_created_at" ON "session_events" ("created_at") WHERE session_id IS NULL`);
    await queryRunner.query(`CREATE INDEX "IDX_session_events_received_created_at" ON "session_events" ("created_at") WHERE status = 'received'`);
    await queryRunner.query(`CREATE INDEX "IDX_app_events_created_at_id" ON "app_events" ("created_at", "id") `);
    await queryRunner.query(`CREATE INDEX "IDX_webhook_messages_event_id" ON "webhook_messages" ("event_id") `);
    await queryRunner.query(`CREATE INDEX "IDX_webhook_messages_finished_created" ON "webhook_messages" ("created_at") WHERE status <> 'pending'`);
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP INDEX "public"."IDX_webhook_messages_finished_created"`);
    await queryRunner.query(`DROP INDEX "public"."IDX_webhook_messages_event_id"`);
    await queryRunner.query(`DROP INDEX "public"."IDX_app_events_created_at_id"`);
    await queryRunner.query(`DROP INDEX "public"."IDX_session_events_received_created_at"`);
    await queryRunner.query(`DROP INDEX "public"."IDX_session_events_unlinked_created_at"`);
  }
}
