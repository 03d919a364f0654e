import { parseRange } from './http-range';

describe('parseRange', () => {
  it.each([
    [undefined, { kind: 'none' }],
    ['items=0-1', { kind: 'none' }],
    ['bytes=0-9', { kind: 'range', range: { start: 0, end: 9 } }],
    ['bytes=5-', { kind: 'range', range: { start: 5, end: 99 } }],
    ['bytes=-10', { kind: 'range', range: { start: 90, end: 99 } }],
    ['bytes=90-500', { kind: 'range', range: { start: 90, end: 99 } }],
    ['bytes=-500', { kind: 'range', range: { start: 0, end: 99 } }],
    ['bytes=100-', { kind: 'unsatisfiable' }],
    ['bytes=9-3', { kind: 'unsatisfiable' }],
    ['bytes=-0', { kind: 'unsatisfiable' }],
    ['bytes=0-1,3-4', { kind: 'unsatisfiable' }],
    ['bytes=abc', { kind: 'unsatisfiable' }],
  ])('%j', (header, expected) => {
    expect(parseRange(header, 100)).toEqual(expected);
  });
});
