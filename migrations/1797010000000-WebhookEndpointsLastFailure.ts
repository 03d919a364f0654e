import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * `webhook_endpoints.last_failure_at`: the last failed delivery of an endpoint's failing
 * run. A failure long after the previous one (more than any wait between two attempts)
 * starts a new run instead of continuing one that began days ago, so an endpoint with few
 * messages is not disabled by one failure (docs/webhooks.md "Retries and disabling").
 * Endpoints failing when this runs take their last attempt's start (or failing_since,
 * if later), so their run goes on as before.
 */
export class WebhookEndpointsLastFailure1797010000000 implements MigrationInterface {
  name = 'WebhookEndpointsLastFailure1797010000000';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`ALTER TABLE "webhook_endpoints" ADD "last_failure_at" TIMESTAMP WITH TIME ZONE`);
    await queryRunner.query(
      `UPDATE "webhook_endpoints" e
          SET "last_failure_at" = GREATEST(
                (SELECT max(a."started_at") FROM "webhook_attempts" a JOIN "webhook_messages" m ON m."id" = a."message_id" WHERE m."endpoint_id" = e."id"),
                e."failing_since")
        WHERE e."failing_since" IS NOT NULL`,
    );
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`ALTER TABLE "webhook_endpoints" DROP COLUMN "last_failure_at"`);
  }
}
