import { Injectable } from '@nestjs/common';
import { TokenCipher } from '../../../common/crypto/token-cipher';

type SecretColumn = 'secret' | 'previous_secret';

/** AAD binding a sealed secret to its endpoint row and column. */
export const endpointSecretAad = (endpointId: string, column: SecretColumn) => `webhook_endpoints:${endpointId}:${column}`;

/** Opening a sealed secret costs a decrypt; deliveries to one endpoint reuse the result. */
const CACHE_MAX = 1000;

/**
 * Endpoint signing secrets at rest: sealed with the token key ring (bound to the row and
 * column), opened only to sign. A rotated-out secret keeps signing until its overlap ends.
 */
@Injectable()
export class EndpointSecrets {
  private readonly opened = new Map<string, string>();

  constructor(private readonly cipher: TokenCipher) {}

  seal(endpointId: string, secret: string, column: SecretColumn = 'secret'): string {
    return this.cipher.encrypt(secret, endpointSecretAad(endpointId, column));
  }

  /** The current secret, sealed again for the previous-secret column: a rotation moves it there. */
  resealAsPrevious(endpointId: string, sealedCurrent: string): string {
    return this.seal(endpointId, this.open(endpointId, sealedCurrent, 'secret'), 'previous_secret');
  }

  /** The secrets that sign a message now: the current one, and the previous one during its overlap. */
  signingSecrets(
    e: { endpointId: string; secretEnc: string; previousSecretEnc: string | null; previousSecretExpiresAt: Date | null },
    now = new Date(),
  ): string[] {
    const secrets = [this.open(e.endpointId, e.secretEnc, 'secret')];
    if (e.previousSecretEnc && e.previousSecretExpiresAt && e.previousSecretExpiresAt > now) {
      secrets.push(this.open(e.endpointId, e.previousSecretEnc, 'previous_secret'));
    }
    return secrets;
  }

  private open(endpointId: string, sealed: string, column: SecretColumn): string {
    const hit = this.opened.get(sealed);
    if (hit !== undefined) return hit;
    const secret = this.cipher.decrypt(sealed, endpointSecretAad(endpointId, column));
    if (this.opened.size >= CACHE_MAX) this.opened.delete(this.opened.keys().next().value as string);
    this.opened.set(sealed, secret);
    return secret;
  }
}
