import { jsonStringLiteral, payloadHasUserIds, payloadMentions } from './payload-match';

describe('payloadMentions', () => {
  it('looks a user id up in every user_id member, as text (Zoom sends numbers and strings)', () => {
    expect(payloadMentions('payload', { kind: 'zoom_user_id', value: '16778240' }, 3)).toEqual({
      sql: `EXISTS (SELECT 1 FROM jsonb_path_query(payload, 'lax $.**.user_id') AS u(v) WHERE u.v #>> '{}' = $3)`,
      params: ['16778240'],
    });
  });

  it('looks an email up as a whole JSON string, lower-cased on both sides', () => {
    const m = payloadMentions('e.data', { kind: 'user_email', value: 'Ann@Example.com' }, 1);
    expect(m.sql).toBe(`strpos(lower(e.data::text), $1) > 0`);
    expect(m.params).toEqual(['"ann@example.com"']);
  });

  it('looks a name up as a whole JSON string in NFC, escaped as Postgres prints it', () => {
    const decomposed = 'Zoe\u0308 "Z" \\';
    const m = payloadMentions('payload', { kind: 'user_name', value: decomposed }, 2);
    expect(m.sql).toBe(`strpos(normalize(payload::text, NFC), $2) > 0`);
    expect(m.params).toEqual(['"Zo\u00eb \\"Z\\" \\\\"']);
  });
});

describe('payloadHasUserIds', () => {
  it('matches any of the ids in a user_id member at any depth', () => {
    expect(payloadHasUserIds('data', 2)).toBe(`EXISTS (SELECT 1 FROM jsonb_path_query(data, 'lax $.**.user_id') AS u(v) WHERE u.v #>> '{}' = ANY($2::text[]))`);
  });
});

describe('jsonStringLiteral', () => {
  it('quotes and escapes like JSON', () => {
    expect(jsonStringLiteral('a"b')).toBe('"a\\"b"');
  });
});
