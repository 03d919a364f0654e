import { Injectable, Logger, OnModuleInit } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, EntityManager, EntitySubscriberInterface, QueryRunner, TransactionCommitEvent, TransactionRollbackEvent } from 'typeorm';
import { errorMessage } from '../common/errors/error-message';

type Task = () => Promise<unknown>;

/**
 * Runs work once the caller's transaction has committed (at once when there is none),
 * and never when it rolls back: e.g. queueing a job that must see the committed rows.
 * A failing task is logged, never thrown into the committed caller.
 */
@Injectable()
export class AfterCommit implements OnModuleInit, EntitySubscriberInterface {
  private readonly logger = new Logger(AfterCommit.name);
  private readonly pending = new WeakMap<QueryRunner, Task[]>();

  constructor(@InjectDataSource() private readonly db: DataSource) {}

  onModuleInit(): void {
    if (!this.db.subscribers.includes(this)) this.db.subscribers.push(this);
  }

  async run(em: EntityManager | undefined, task: Task): Promise<void> {
    const qr = em?.queryRunner;
    if (qr && qr.isTransactionActive) {
      const tasks = this.pending.get(qr) ?? [];
      tasks.push(task);
      this.pending.set(qr, tasks);
      return;
    }
    await this.runAll([task]);
  }

  async afterTransactionCommit(e: TransactionCommitEvent): Promise<void> {
    const qr = e.queryRunner;
    if (qr.isTransactionActive) return; // a savepoint released; the outer transaction may still roll back
    const tasks = this.pending.get(qr);
    if (!tasks) return;
    this.pending.delete(qr);
    await this.runAll(tasks);
  }

  afterTransactionRollback(e: TransactionRollbackEvent): void {
    if (!e.queryRunner.isTransactionActive) this.pending.delete(e.queryRunner);
  }

  private async runAll(tasks: Task[]): Promise<void> {
    for (const task of tasks) {
      try {
        await task();
      } catch (err) {
        this.logger.warn(`After-commit task failed: ${errorMessage(err)}`);
      }
    }
  }
}
