import 'reflect-metadata';
import { DataSource } from 'typeorm';
import { loadAppConfig } from '../../config/app.config';
import { loadEnvFile } from '../../config/load-env-file';
import { buildDataSourceOptions } from '../../database/data-source-options';
import { OAuthConnectionEntity } from './entities/oauth-connection.entity';
import { tokenAad } from './token-aad';
import { TokenCipher } from '../../common/crypto/token-cipher';

export interface ReencryptSummary {
  total: number;
  rewritten: number;
  alreadyCurrent: number;
  /** Rows that no key of the ring opens (ids only). */
  failed: string[];
  keyId: string;
}

const BATCH = 100;

/**
 * Re-seals every stored token with the newest key of the ring (key rotation step 2:
 * after every process runs with `new,old`, before `old` is removed). Each row is
 * rewritten under a row lock, so a concurrent refresh either waits for it or is seen by
 * it. Idempotent: rows already on the newest key are left alone.
 */
export async function reencryptConnectionTokens(dataSource: DataSource, cipher: TokenCipher): Promise<ReencryptSummary> {
  const summary: ReencryptSummary = { total: 0, rewritten: 0, alreadyCurrent: 0, failed: [], keyId: cipher.currentKeyId };
  const current = cipher.currentKeyId;
  let after = '00000000-0000-0000-0000-000000000000';
  for (;;) {
    const ids = await dataSource
      .getRepository(OAuthConnectionEntity)
      .createQueryBuilder('c')
      .select('c.id', 'id')
      .where('c.id > :after', { after })
      .orderBy('c.id', 'ASC')
      .limit(BATCH)
      .getRawMany<{ id: string }>();
    if (ids.length === 0) break;
    after = ids[ids.length - 1].id;
    for (const { id } of ids) {
      await dataSource.transaction(async (em) => {
        const row = await em.getRepository(OAuthConnectionEntity).findOne({ where: { id }, lock: { mode: 'pessimistic_write' } });
        if (!row) return; // deleted meanwhile
        summary.total++;
        const onCurrent =
          row.keyId === current &&
          TokenCipher.keyIdOf(row.accessTokenEnc) === current &&
          TokenCipher.keyIdOf(row.refreshTokenEnc) === current;
        if (onCurrent) {
          summary.alreadyCurrent++;
          return;
        }
        try {
          const access = cipher.decrypt(row.accessTokenEnc, tokenAad(id, 'access_token'));
          const refresh = cipher.decrypt(row.refreshTokenEnc, tokenAad(id, 'refresh_token'));
          await em.getRepository(OAuthConnectionEntity).update(
            { id },
            {
              accessTokenEnc: cipher.encrypt(access, tokenAad(id, 'access_token')),
              refreshTokenEnc: cipher.encrypt(refresh, tokenAad(id, 'refresh_token')),
              keyId: current,
            },
          );
          summary.rewritten++;
        } catch {
          summary.failed.push(id);
        }
      });
    }
  }
  return summary;
}

/** `npm run tokens:reencrypt`: uses the hub's own configuration (TOKEN_ENCRYPTION_KEYS, DATABASE_URL). */
async function main(): Promise<number> {
  loadEnvFile();
  const config = loadAppConfig();
  const cipher = new TokenCipher(config.crypto.keyring);
  const dataSource = new DataSource(buildDataSourceOptions(config.database.url, 2));
  await dataSource.initialize();
  try {
    const s = await reencryptConnectionTokens(dataSource, cipher);
    console.log(
      `Re-encrypted OAuth tokens with key "${s.keyId}": ${s.rewritten} rewritten, ${s.alreadyCurrent} already current, ${s.failed.length} unreadable (of ${s.total})`,
    );
    if (s.failed.length > 0) {
      console.error(`Rows no key in TOKEN_ENCRYPTION_KEYS could open (ids): ${s.failed.join(', ')}`);
      return 1;
    }
    return 0;
  } finally {
    await dataSource.destroy();
  }
}

if (require.main === module) {
  main().then(
    (code) => process.exit(code),
    (err: unknown) => {
      console.error('Re-encryption failed:', err instanceof Error ? err.message : err);
      process.exit(1);
    },
  );
}
