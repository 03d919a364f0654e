import { useE2eContext } from './utils/e2e-context';
import { ADMIN_AUTH } from './utils/test-app';

/** Findings of the security review (issue 17) about the HTTP surface, each as a request. */
describe('HTTP hardening (security review)', () => {
  const ctx = useE2eContext({ hub: { api: true } });

  describe('OpenAPI documents', () => {
    it.each([
      ['/docs', 'Swagger UI'],
      ['/docs-json', 'RTMS Hub API'],
      ['/docs-yaml', 'RTMS Hub API'],
    ])('%s needs admin credentials', async (url, content) => {
      const anonymous = await ctx.http().get(url).expect(401);
      expect(anonymous.body).toMatchObject({ error: 'invalid_admin_credentials' });
      expect(anonymous.text).not.toContain(content);
      const res = await ctx.http().get(url).set('Authorization', ADMIN_AUTH).expect(200);
      expect(res.text).toContain(content);
    });
  });

});
