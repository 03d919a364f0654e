import 'reflect-metadata';
import { DataSource } from 'typeorm';
import { ResealReport, Resealer } from '../common/crypto/reseal-rows';
import { TokenCipher } from '../common/crypto/token-cipher';
import { loadAppConfig } from '../config/app.config';
import { loadEnvFile } from '../config/load-env-file';
import { resealEndpointSecrets } from '../modules/app-webhooks';
import { resealConnectionTokens } from '../modules/oauth';
import { resealErasureSubjects } from '../modules/retention';
import { resealCapturePolicyPasscodes } from '../modules/sessions';
import { resealDispatchPasscodes } from '../modules/zoom-rooms';
import { buildDataSourceOptions } from './data-source-options';

/**
 * Every value sealed with TOKEN_ENCRYPTION_KEYS in Postgres, one re-sealer per owning
 * module. A new sealed column needs its re-sealer here, or the key rotation's last step
 * (dropping the old key) makes its values unreadable.
 */
const RESEALERS: readonly Resealer[] = [
  resealConnectionTokens,
  resealEndpointSecrets,
  resealDispatchPasscodes,
  resealCapturePolicyPasscodes,
  resealErasureSubjects,
];

/**
 * Key rotation step 2: re-seals every sealed value in the database with the newest key
 * of the ring, kind after kind (each idempotent, row by row under a row lock).
 */
export async function reencryptAllSecrets(db: DataSource, cipher: TokenCipher): Promise<ResealReport[]> {
  const reports: ResealReport[] = [];
  for (const reseal of RESEALERS) reports.push(await reseal(db, cipher));
  return reports;
}

/** The command's output: a line per kind on stdout, the ids of rows that failed on stderr. */
export function describeReports(reports: ResealReport[], keyId: string): { out: string[]; err: string[] } {
  const out = [`Re-sealed secrets at rest with key "${keyId}":`];
  const err: string[] = [];
  for (const r of reports) {
    out.push(`  ${r.kind}: ${r.rewritten} rewritten, ${r.alreadyCurrent} already current, ${r.failed.length} failed (of ${r.total})`);
    if (r.failed.length > 0) err.push(`${r.kind}: rows no key in TOKEN_ENCRYPTION_KEYS opens (ids): ${r.failed.join(', ')}`);
  }
  return { out, err };
}

/** `npm run tokens:reencrypt`: uses the hub's own configuration (TOKEN_ENCRYPTION_KEYS, DATABASE_URL). Exit 1 if any row failed. */
async function main(): Promise<number> {
  loadEnvFile();
  const config = loadAppConfig();
  const cipher = new TokenCipher(config.crypto.keyring);
  const dataSource = new DataSource(buildDataSourceOptions(config.database.url, 2));
  await dataSource.initialize();
  try {
    const { out, err } = describeReports(await reencryptAllSecrets(dataSource, cipher), cipher.currentKeyId);
    for (const line of out) console.log(line);
    for (const line of err) console.error(line);
    return err.length > 0 ? 1 : 0;
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
