import { Resealer, resealerOf, sealedColumn, SealedTable } from '../../../common/crypto/reseal-rows';
import { endpointSecretAad } from './endpoint-secrets';

/** webhook_endpoints: the signing secret, and the one rotated out (while it is kept). */
const ENDPOINT_SECRETS: SealedTable = {
  kind: 'webhook_endpoints',
  table: 'webhook_endpoints',
  fields: [
    sealedColumn('secret_enc', (id) => endpointSecretAad(id, 'secret')),
    sealedColumn('previous_secret_enc', (id) => endpointSecretAad(id, 'previous_secret')),
  ],
};

/**
 * Re-seals every endpoint's signing secrets with the newest key of the ring (`npm run
 * tokens:reencrypt`). A rotation of the secret waits for the row lock, or is waited for;
 * deliveries open whichever envelope they read (EndpointSecrets caches by envelope).
 */
export const resealEndpointSecrets: Resealer = resealerOf(ENDPOINT_SECRETS);
