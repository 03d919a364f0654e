import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ensureFreeSpace } from './compose-files';

describe('ensureFreeSpace', () => {
  let dir: string;
  beforeAll(() => (dir = mkdtempSync(join(tmpdir(), 'compose-files-'))));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('lets the downloads start when the work dir has room for the sources', async () => {
    await expect(ensureFreeSpace(dir, 1024)).resolves.toBeUndefined();
  });

  it('fails the attempt retryably, before downloading, when it has not', async () => {
    await expect(ensureFreeSpace(dir, Number.MAX_SAFE_INTEGER)).rejects.toMatchObject({ name: 'ComposeFailure', code: 'internal_error', retryable: true, message: expect.stringContaining('not enough free space') });
  });
});
