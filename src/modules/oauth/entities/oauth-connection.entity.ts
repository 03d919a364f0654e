import { Column, CreateDateColumn, Entity, Index, PrimaryColumn, UpdateDateColumn } from 'typeorm';

export enum ConnectionStatus {
  Active = 'active',
  /** Zoom refused the refresh token (invalid_grant / 4735 / 4741): the user must authorize again. */
  ReauthorizationRequired = 'reauthorization_required',
}

/**
 * A Zoom user who authorized the hub (user OAuth). Tokens are stored only as
 * AES-256-GCM envelopes (see TokenCipher), bound to this row's id and column.
 */
@Entity({ name: 'oauth_connections' })
@Index('UQ_oauth_connections_zoom_user_account', ['zoomUserId', 'zoomAccountId'], { unique: true })
export class OAuthConnectionEntity {
  /** Assigned by the service before the first insert (it is part of the tokens' AAD). */
  @PrimaryColumn('uuid')
  id: string;

  @Column({ name: 'zoom_user_id', type: 'varchar', length: 64 })
  zoomUserId: string;

  @Column({ name: 'zoom_account_id', type: 'varchar', length: 64 })
  zoomAccountId: string;

  @Column({ type: 'varchar', length: 320, nullable: true })
  email: string | null;

  @Column({ name: 'display_name', type: 'varchar', length: 256, nullable: true })
  displayName: string | null;

  /** Fingerprint (sha256 prefix) of the API key that started the authorization. */
  @Column({ name: 'owner_key_fingerprint', type: 'varchar', length: 64, nullable: true })
  ownerKeyFingerprint: string | null;

  /** Owner tag of that key (API_KEYS): only keys of this owner, and unscoped keys, see the connection. */
  @Index('IDX_oauth_connections_owner')
  @Column({ type: 'varchar', length: 64, nullable: true })
  owner: string | null;

  /** The caller's own id for the end user, when authorize was given one. */
  @Index('IDX_oauth_connections_app_user_id')
  @Column({ name: 'app_user_id', type: 'varchar', length: 256, nullable: true })
  appUserId: string | null;

  @Column({ name: 'access_token_enc', type: 'text' })
  accessTokenEnc: string;

  @Column({ name: 'refresh_token_enc', type: 'text' })
  refreshTokenEnc: string;

  /** Id of the TOKEN_ENCRYPTION_KEYS key that sealed both token columns. */
  @Index('IDX_oauth_connections_key_id')
  @Column({ name: 'key_id', type: 'varchar', length: 32 })
  keyId: string;

  @Column({ type: 'text', default: '' })
  scopes: string;

  @Column({ name: 'expires_at', type: 'timestamptz' })
  expiresAt: Date;

  /** Bumped on every token change; a refresh compares it to detect a concurrent rotation. */
  @Column({ name: 'token_version', type: 'int', default: 1 })
  tokenVersion: number;

  @Index('IDX_oauth_connections_status')
  @Column({ type: 'varchar', length: 32, default: ConnectionStatus.Active })
  status: ConnectionStatus;

  /** Why the connection needs attention (never holds a token). */
  @Column({ name: 'status_reason', type: 'text', nullable: true })
  statusReason: string | null;

  @Column({ name: 'last_refreshed_at', type: 'timestamptz', nullable: true })
  lastRefreshedAt: Date | null;

  /**
   * When the user last consented (the first authorization, or one that replaced the
   * tokens). An app_deauthorized removes the connection only when it is about a consent
   * given at or before its deauthorization_time.
   */
  @Column({ name: 'authorized_at', type: 'timestamptz', default: () => 'now()' })
  authorizedAt: Date;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt: Date;

  @UpdateDateColumn({ name: 'updated_at', type: 'timestamptz' })
  updatedAt: Date;
}
