/** A person as an erasure names them (values already normalised: email lower-cased, name NFC). */
export interface PersonRef {
  kind: 'zoom_user_id' | 'user_email' | 'user_name';
  value: string;
}

/**
 * SQL that is true when a stored JSON payload (`column`, jsonb) is about the person
 * (docs/retention.md "Erasure"), with its parameters numbered from `$first`:
 * - a user id: any `user_id` member at any depth (Zoom sends them as numbers or strings);
 * - an email: any string value equal to it, ignoring case (`email`, `operator`, `host_email`… Zoom has many);
 * - a name: any string value equal to it after NFC normalisation (exact otherwise, as names are matched elsewhere).
 * Emails and names are looked for as whole JSON string literals in the payload's text:
 * Postgres prints jsonb strings escaped as JSON.stringify does, so `"Ann"` matches the
 * value "Ann", never "Anne" or a key.
 */
export function payloadMentions(column: string, person: PersonRef, first: number): { sql: string; params: string[] } {
  switch (person.kind) {
    case 'zoom_user_id':
      return { sql: `EXISTS (SELECT 1 FROM jsonb_path_query(${column}, 'lax $.**.user_id') AS u(v) WHERE u.v #>> '{}' = $${first})`, params: [person.value] };
    case 'user_email':
      return { sql: `strpos(lower(${column}::text), $${first}) > 0`, params: [jsonStringLiteral(person.value.toLowerCase())] };
    case 'user_name':
      return { sql: `strpos(normalize(${column}::text, NFC), $${first}) > 0`, params: [jsonStringLiteral(person.value.normalize('NFC'))] };
  }
}

/** SQL that is true when a payload carries one of these user ids (`$first`: a text[]) in a `user_id` member at any depth. */
export function payloadHasUserIds(column: string, first: number): string {
  return `EXISTS (SELECT 1 FROM jsonb_path_query(${column}, 'lax $.**.user_id') AS u(v) WHERE u.v #>> '{}' = ANY($${first}::text[]))`;
}

/** The value as a JSON string literal, quotes included (how Postgres prints it inside jsonb text). */
export function jsonStringLiteral(value: string): string {
  return JSON.stringify(value);
}
