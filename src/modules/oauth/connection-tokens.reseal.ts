import { Resealer, resealerOf, sealedColumn, SealedTable } from '../../common/crypto/reseal-rows';
import { tokenAad } from './token-aad';

/** oauth_connections: both tokens, and the key id that names the key they are sealed with. */
const CONNECTION_TOKENS: SealedTable = {
  kind: 'oauth_connections',
  table: 'oauth_connections',
  fields: [sealedColumn('access_token_enc', (id) => tokenAad(id, 'access_token')), sealedColumn('refresh_token_enc', (id) => tokenAad(id, 'refresh_token'))],
  keyIdColumn: 'key_id',
};

/**
 * Re-seals every connection's tokens with the newest key of the ring (`npm run
 * tokens:reencrypt`). A concurrent refresh waits for the row lock, or is waited for.
 */
export const resealConnectionTokens: Resealer = resealerOf(CONNECTION_TOKENS);
