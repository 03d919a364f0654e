import { jsonDeeperThan, MAX_JSON_DEPTH } from './json-depth';
import { mayHoldUnstorableText, replaceUnstorableText } from './json-text';

describe('JSON bounds', () => {
  it('measures nesting in one pass, ignoring brackets inside strings', () => {
    const deep = (n: number) => Buffer.from(`${'['.repeat(n)}${']'.repeat(n)}`);
    expect(jsonDeeperThan(deep(MAX_JSON_DEPTH), MAX_JSON_DEPTH)).toBe(false);
    expect(jsonDeeperThan(deep(MAX_JSON_DEPTH + 1), MAX_JSON_DEPTH)).toBe(true);
    expect(jsonDeeperThan(deep(100_000), MAX_JSON_DEPTH)).toBe(true);
    expect(jsonDeeperThan(Buffer.from(JSON.stringify({ a: '{'.repeat(500), b: '\\"[[[[' })), 2)).toBe(false);
    expect(jsonDeeperThan(Buffer.from(JSON.stringify({ event: 'x', payload: { object: { participants: [{ id: 1 }] } } })), 5)).toBe(false);
  });

  it('replaces NUL and lone surrogates (keys too) with U+FFFD and leaves everything else as it is', () => {
    const body = JSON.parse('{"payload":{"user_name":"Ann\\u0000Lee","bad":"x\\ud800y","ok":"😀 \\\\u0000","k\\u0000":1,"n":[1,null,true]}}');
    expect(mayHoldUnstorableText(JSON.stringify(body))).toBe(true);
    const { value, changed } = replaceUnstorableText(body);
    expect(changed).toBe(true);
    expect(value).toEqual({ payload: { user_name: 'Ann\uFFFDLee', bad: 'x\uFFFDy', ok: '😀 \\u0000', 'k\uFFFD': 1, n: [1, null, true] } });
    expect(replaceUnstorableText({ a: '😀 \\u0000' }).changed).toBe(false);
    expect(mayHoldUnstorableText('{"a":"plain"}')).toBe(false);
  });
});
