import { findReservedKey, mayHoldReservedKey, RESERVED_KEYS } from './reserved-keys';

describe('findReservedKey', () => {
  it('finds __proto__, constructor and prototype as JSON.parse makes them (own keys), at any depth, with their path', () => {
    expect(findReservedKey(JSON.parse('{"metadata":{"__proto__":{"admin":true}}}'))).toEqual({ key: '__proto__', path: 'metadata.__proto__' });
    expect(findReservedKey(JSON.parse('{"metadata":{"team":{"constructor":1}}}'))).toEqual({ key: 'constructor', path: 'metadata.team.constructor' });
    expect(findReservedKey(JSON.parse('{"metadata":{"list":[{"ok":1},{"prototype":2}]}}'))).toEqual({ key: 'prototype', path: 'metadata.list[1].prototype' });
    expect(findReservedKey(JSON.parse('[{"toString":"x"}]'))).toEqual({ key: 'toString', path: '[0].toString' });
    // A JSON escape spells the same key.
    expect(findReservedKey(JSON.parse('{"\\u005f_proto__":1}'))).toEqual({ key: '__proto__', path: '__proto__' });
  });

  it('covers every name ValidationPipe or class-transformer drops: the members of Object.prototype and prototype', () => {
    for (const name of [...Object.getOwnPropertyNames(Object.prototype), 'prototype']) expect(RESERVED_KEYS.has(name)).toBe(true);
  });

  it('lets everything else through: values that spell those names, near misses, other types', () => {
    expect(findReservedKey(JSON.parse('{"metadata":{"note":"__proto__","Constructor":1,"proto":2,"prototypes":[3],"x":null}}'))).toBeNull();
    for (const v of [null, undefined, 1, 'constructor', [], {}]) expect(findReservedKey(v)).toBeNull();
    // A query parsed by querystring has a null prototype.
    const query = (fields: object) => Object.assign(Object.create(null) as object, fields);
    expect(findReservedKey(query({ limit: '10' }))).toBeNull();
    expect(findReservedKey(query({ limit: '10', constructor: 'x' }))).toEqual({ key: 'constructor', path: 'constructor' });
  });

  it('the raw-bytes pre-check never misses a reserved key the walk would find, and passes a plain body without a walk', () => {
    for (const raw of ['{"metadata":{"__proto__":1}}', '{"a":[{"toString":1}]}', '{"\\u005f_proto__":1}', '{"x":"\\u0041"}']) expect(mayHoldReservedKey(Buffer.from(raw))).toBe(true);
    for (const name of RESERVED_KEYS) {
      const raw = JSON.stringify({ metadata: { [name]: 1 } });
      expect(findReservedKey(JSON.parse(raw))).not.toBeNull();
      expect(mayHoldReservedKey(Buffer.from(raw))).toBe(true);
    }
    expect(mayHoldReservedKey(Buffer.from(JSON.stringify({ meeting_id: '123', metadata: { team: 'a', note: 'proto' } })))).toBe(false);
  });
});
