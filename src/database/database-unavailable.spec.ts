import { QueryFailedError } from 'typeorm';
import { isDatabaseUnavailable, isUniqueViolation } from './database-unavailable';

const pgError = (code: string, message = 'x', constraint?: string) => Object.assign(new Error(message), { code, constraint });

describe('isDatabaseUnavailable', () => {
  it('is true for an unreachable or restarting server, whatever wraps the error', () => {
    for (const err of [
      Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' }),
      Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' }),
      new Error('Connection terminated unexpectedly'),
      new Error('Client has encountered a connection error and is not queryable'),
      new Error('timeout exceeded when trying to connect'),
      pgError('57P01', 'terminating connection due to administrator command'),
      pgError('57P03', 'the database system is starting up'),
      pgError('08006'),
      pgError('53300', 'sorry, too many clients already'),
      new QueryFailedError('SELECT 1', [], pgError('57P01')),
      new QueryFailedError('SELECT 1', [], new Error('Connection terminated')),
    ])
      expect(isDatabaseUnavailable(err)).toBe(true);
  });

  it('is true for what PgBouncer answers while Postgres is away (all SQLSTATE 08P01)', () => {
    for (const message of ['query_wait_timeout', 'pgbouncer cannot connect to server', 'server conn crashed?', 'server login has been failing, try again later (server_login_retry)', 'client_idle_timeout'])
      expect({ message, unavailable: isDatabaseUnavailable(new QueryFailedError('SELECT 1', [], pgError('08P01', message))) }).toEqual({ message, unavailable: true });
  });

  it('is false for what would fail again', () => {
    for (const err of [pgError('23505', 'duplicate key'), pgError('23503', 'violates foreign key constraint'), pgError('22P02', 'invalid input syntax'), new Error('boom'), null, 'text'])
      expect(isDatabaseUnavailable(err)).toBe(false);
  });
});

describe('isUniqueViolation', () => {
  it('matches the constraint, bare or wrapped', () => {
    const e = pgError('23505', 'duplicate key', 'UQ_session_events_dedupe_key');
    expect(isUniqueViolation(e, 'UQ_session_events_dedupe_key')).toBe(true);
    expect(isUniqueViolation(new QueryFailedError('INSERT', [], e), 'UQ_session_events_dedupe_key')).toBe(true);
    expect(isUniqueViolation(e, 'other')).toBe(false);
    expect(isUniqueViolation(pgError('23503'), undefined)).toBe(false);
  });
});
