import 'reflect-metadata';
import { plainToInstance } from 'class-transformer';
import { validateSync } from 'class-validator';
import { PageQuery } from './page.query';

const check = (limit: unknown) => {
  const q = plainToInstance(PageQuery, { limit });
  return { limit: q.limit, errors: validateSync(q, { whitelist: true, forbidNonWhitelisted: true }).length };
};

describe('DecimalInt (PageQuery.limit)', () => {
  it('takes decimal digits as the number they write', () => {
    expect(check('20')).toEqual({ limit: 20, errors: 0 });
    expect(check('100')).toEqual({ limit: 100, errors: 0 });
  });

  it.each(['0x10', '1e2', '0b11', '100.0', ' 5 ', '+5', '-1', '', 'ten'])('refuses %j, which Number() would have taken or read otherwise', (limit) => {
    expect(check(limit).errors).toBeGreaterThan(0);
  });

  it('refuses a repeated parameter (an array)', () => {
    expect(check(['1', '2']).errors).toBeGreaterThan(0);
  });
});
