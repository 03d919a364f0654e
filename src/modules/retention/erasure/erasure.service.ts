import { Injectable } from '@nestjs/common';

/** Erasure of one person's data across sessions (docs/retention.md). */
@Injectable()
export class ErasureService {
  // Placeholder while erasure is built (issue 18); the job fails loudly rather than pretend.
  async run(_erasureId: string): Promise<Record<string, unknown>> {
    throw new Error('erasure not implemented yet');
  }
}
