import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { etagMatches, loadConsoleAssets, PUBLIC_ASSETS } from './console-assets';
import { escapeHtml, loginPage, sessionPage, sessionsPage } from './console-pages';

const ASSETS = join(__dirname, 'assets');

describe('console assets and pages', () => {
  it('loads every client file with its type and a strong ETag; only the stylesheet is public', () => {
    const assets = loadConsoleAssets();
    expect([...assets.keys()].sort()).toEqual(readdirSync(ASSETS).sort());
    expect(assets.get('console.css')?.contentType).toBe('text/css; charset=utf-8');
    expect(assets.get('session-page.js')?.contentType).toBe('text/javascript; charset=utf-8');
    for (const a of assets.values()) expect(a.etag).toMatch(/^"[A-Za-z0-9_-]{43}"$/);
    expect([...PUBLIC_ASSETS]).toEqual(['console.css']);
  });

  it('is copied by `npm run build`: nest-cli.json "assets" covers every file type in the folder', () => {
    const cli = JSON.parse(readFileSync(join(__dirname, '../../../nest-cli.json'), 'utf8')) as { compilerOptions: { assets: Array<{ include: string; outDir: string }> } };
    const entry = cli.compilerOptions.assets.find((a) => a.include.startsWith('modules/console/assets/'));
    expect(entry).toEqual(expect.objectContaining({ include: 'modules/console/assets/*.{js,css}', outDir: 'dist/src' }));
    for (const name of readdirSync(ASSETS)) expect(name).toMatch(/\.(js|css)$/);
  });

  it('matches If-None-Match lists, weak forms and *', () => {
    expect(etagMatches('"a", "b"', '"b"')).toBe(true);
    expect(etagMatches('W/"b"', '"b"')).toBe(true);
    expect(etagMatches('*', '"b"')).toBe(true);
    expect(etagMatches('"a"', '"b"')).toBe(false);
    expect(etagMatches(undefined, '"b"')).toBe(false);
  });

  it('renders shells with no inline script or style, every value escaped', () => {
    const hostile = '"><script>alert(1)</script>';
    const pages = [loginPage({ error: hostile, next: '/console', username: hostile }), sessionsPage({ username: hostile, csrf: 'tok' }), sessionPage({ username: 'ops', csrf: hostile }, '6f4b2c1a-8e5d-4c3b-a2f1-0e9d8c7b6a50')];
    for (const html of pages) {
      expect(html).not.toContain('<script>');
      expect(html).not.toMatch(/<script(?![^>]*\bsrc="\/console\/assets\/[a-z-]+\.js")/);
      expect(html).not.toMatch(/<style|\sstyle=|\son[a-z]+=/i);
    }
    expect(escapeHtml(`<a href="x">'&`)).toBe('&lt;a href=&quot;x&quot;&gt;&#39;&amp;');
  });
});
