import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { extname, join } from 'node:path';

export interface ConsoleAsset {
  body: Buffer;
  contentType: string;
  /** Strong ETag (sha256 of the bytes): served with `Cache-Control: no-cache`, so browsers revalidate and get 304s. */
  etag: string;
}

const TYPES: Record<string, string> = { '.js': 'text/javascript; charset=utf-8', '.css': 'text/css; charset=utf-8' };

/** Assets any visitor may load (the login page's style); every other asset needs a console login. */
export const PUBLIC_ASSETS = new Set(['console.css']);

/**
 * The client's files (plain ES modules and one stylesheet, no build step), read once at
 * boot. `npm run build` copies them next to the compiled module (nest-cli.json
 * "assets"); from the sources (ts-jest, ts-node) they are beside this file too.
 */
export function loadConsoleAssets(dir = join(__dirname, 'assets')): Map<string, ConsoleAsset> {
  if (!existsSync(dir)) throw new Error(`Console assets not found in ${dir} (was the build run without nest-cli.json "assets"?)`);
  const assets = new Map<string, ConsoleAsset>();
  for (const name of readdirSync(dir)) {
    const contentType = TYPES[extname(name)];
    if (!contentType) continue;
    const body = readFileSync(join(dir, name));
    assets.set(name, { body, contentType, etag: `"${createHash('sha256').update(body).digest('base64url')}"` });
  }
  return assets;
}

/** Whether an If-None-Match header names this ETag (or `*`). */
export function etagMatches(ifNoneMatch: string | undefined, etag: string): boolean {
  if (!ifNoneMatch) return false;
  return ifNoneMatch.split(',').some((t) => {
    const tag = t.trim().replace(/^W\//, '');
    return tag === '*' || tag === etag;
  });
}
