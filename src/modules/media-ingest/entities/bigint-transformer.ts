import { ValueTransformer } from 'typeorm';

/** Postgres bigint ↔ JS number (Zoom ms timestamps fit in 2^53). */
export const bigintNumber: ValueTransformer = {
  to: (v: number | null | undefined) => v,
  from: (v: string | null) => (v === null || v === undefined ? null : Number(v)),
};
