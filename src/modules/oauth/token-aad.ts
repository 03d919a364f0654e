/** AAD binding a token envelope to its oauth_connections row and column. */
export const tokenAad = (connectionId: string, column: 'access_token' | 'refresh_token'): string =>
  `oauth_connections:${connectionId}:${column}`;
