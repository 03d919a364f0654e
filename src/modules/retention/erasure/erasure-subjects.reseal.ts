import { Resealer, resealerOf, sealedColumn, SealedTable } from '../../../common/crypto/reseal-rows';
import { subjectAad } from './erasure-subject';

/** erasures: the subject's value, kept sealed while the erasure has not ended (NULL after). */
const ERASURE_SUBJECTS: SealedTable = {
  kind: 'erasures',
  table: 'erasures',
  fields: [sealedColumn('subject_sealed', subjectAad)],
};

/**
 * Re-seals the subject of every erasure that still holds one with the newest key of the
 * ring (`npm run tokens:reencrypt`). An erasure ending meanwhile clears it after the row
 * lock, or is seen cleared.
 */
export const resealErasureSubjects: Resealer = resealerOf(ERASURE_SUBJECTS);
