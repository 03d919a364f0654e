import { Injectable } from '@nestjs/common';

/** One pass of the retention sweep: expired data of sessions not on hold, oldest first (docs/retention.md). */
@Injectable()
export class RetentionSweepService {
  // Placeholder while the sweep is built (issue 18); the job fails loudly rather than pretend.
  async sweep(): Promise<Record<string, unknown>> {
    throw new Error('retention sweep not implemented yet');
  }
}
