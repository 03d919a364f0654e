import { parseClientRequest } from './client-request';

const S1 = '11111111-1111-4111-8111-111111111111';

const parse = (m: unknown) => parseClientRequest(typeof m === 'string' ? m : JSON.stringify(m));

describe('parseClientRequest', () => {
  it('accepts a full subscribe and splits text from binary media', () => {
    const r = parse({ type: 'subscribe', id: 'tx', sessions: [S1.toUpperCase()], media: ['transcript', 'audio', 'transcript'], participants: [1, '2'], resume_from: { [S1]: '17-0' } });
    expect(r).toEqual({
      type: 'subscribe',
      spec: { id: 'tx', sessions: [S1], textMedia: ['transcript'], binaryMedia: ['audio'], participants: [1, '2'], resumeFrom: { [S1]: '17-0' } },
    });
  });

  it('accepts all sessions and a single resume id', () => {
    const r = parse({ type: 'subscribe', id: 'x', sessions: 'all', media: ['events'], resume_from: '1700000000000-1' });
    expect(r).toMatchObject({ type: 'subscribe', spec: { sessions: 'all', resumeFrom: '1700000000000-1', participants: null } });
  });

  it('accepts unsubscribe', () => {
    expect(parse({ type: 'unsubscribe', id: 'x' })).toEqual({ type: 'unsubscribe', id: 'x' });
  });

  it.each([
    ['not JSON', '{nope'],
    ['not an object', '[1]'],
    ['unknown type', { type: 'hello', id: 'x' }],
    ['no id', { type: 'subscribe', sessions: 'all', media: ['events'] }],
    ['bad id', { type: 'subscribe', id: 'has space', sessions: 'all', media: ['events'] }],
    ['unknown field', { type: 'subscribe', id: 'x', sessions: 'all', media: ['events'], extra: 1 }],
    ['sessions not uuids', { type: 'subscribe', id: 'x', sessions: ['abc'], media: ['events'] }],
    ['empty sessions', { type: 'subscribe', id: 'x', sessions: [], media: ['events'] }],
    ['unknown media', { type: 'subscribe', id: 'x', sessions: 'all', media: ['smell'] }],
    ['empty media', { type: 'subscribe', id: 'x', sessions: 'all', media: [] }],
    ['bad participants', { type: 'subscribe', id: 'x', sessions: 'all', media: ['audio'], participants: [{}] }],
    ['bad resume id', { type: 'subscribe', id: 'x', sessions: 'all', media: ['events'], resume_from: 'yesterday' }],
    ['resume of an unsubscribed session', { type: 'subscribe', id: 'x', sessions: [S1], media: ['events'], resume_from: { '22222222-2222-4222-8222-222222222222': '1-0' } }],
    ['unsubscribe with extra fields', { type: 'unsubscribe', id: 'x', sessions: 'all' }],
  ])('refuses %s', (_what, message) => {
    expect(parse(message)).toHaveProperty('error');
  });

  it('echoes a usable id with the error', () => {
    expect(parse({ type: 'subscribe', id: 'mine', sessions: 'all', media: [] })).toMatchObject({ id: 'mine' });
  });
});
