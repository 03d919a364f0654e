// RFC 5987 attr-char: everything else in the UTF-8 bytes is percent-encoded.
const ATTR_CHAR = /[A-Za-z0-9!#$&+\-.^_`|~]/;

function encodeExtValue(name: string): string {
  let out = '';
  for (const ch of name) {
    if (ATTR_CHAR.test(ch)) out += ch;
    else for (const byte of Buffer.from(ch, 'utf8')) out += `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

/**
 * A `Content-Disposition` value (RFC 6266) for a file name of any script. Node refuses a
 * header holding characters beyond Latin-1 (the download answered 500), and Latin-1
 * bytes are read differently by each client, so `filename` is an ASCII stand-in and
 * the real name goes in `filename*=UTF-8''…` (RFC 5987), which every current browser
 * prefers when present.
 */
export function contentDisposition(type: 'inline' | 'attachment', name: string, fallback = 'download'): string {
  const ascii = name.replace(/[^\x20-\x7e]|["\\%]/g, '_');
  const plain = /[^_.]/.test(ascii) ? ascii : fallback;
  if (ascii === name) return `${type}; filename="${plain}"`;
  return `${type}; filename="${plain}"; filename*=UTF-8''${encodeExtValue(name)}`;
}
