/**
 * The API keys every e2e hub accepts (test/setup-env.ts puts them in API_KEYS). The
 * first is in the legacy bare form (an admin key), the way existing tests use it.
 */
export const TEST_KEYS = {
  /** Legacy bare secret: admin, every owner. */
  admin: 'test-api-key-0123456789abcdef0123456789',
  /** `second:admin:…`: another admin key (Bearer form in foundation tests). */
  second: 'second-test-key-0123456789abcdef012345',
  reader: 'reader-test-key-0123456789abcdef012345',
  operator: 'operator-test-key-0123456789abcdef0123',
  /** Owner-scoped keys: tenant-a (control), tenant-b (admin). */
  tenantA: 'tenant-a-test-key-0123456789abcdef01234',
  tenantB: 'tenant-b-test-key-0123456789abcdef01234',
} as const;

export const TEST_API_KEYS = [
  TEST_KEYS.admin,
  `second:admin:${TEST_KEYS.second}`,
  `reader:read:${TEST_KEYS.reader}`,
  `operator:control:${TEST_KEYS.operator}`,
  `tenant-a:control:${TEST_KEYS.tenantA}:tenant-a`,
  `tenant-b:admin:${TEST_KEYS.tenantB}:tenant-b`,
].join(',');
