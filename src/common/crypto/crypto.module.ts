import { Global, Module } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { AppConfig } from '../../config/app.config';
import { TokenCipher } from './token-cipher';

/**
 * The one TokenCipher of a process, built from TOKEN_ENCRYPTION_KEYS. Global because
 * every module that seals a secret at rest (oauth tokens, room passcodes, webhook
 * secrets) must use the same key ring, and none of them owns it.
 */
@Global()
@Module({
  providers: [
    {
      provide: TokenCipher,
      inject: [ConfigService],
      useFactory: (config: ConfigService<AppConfig, true>) => new TokenCipher(config.get('crypto', { infer: true }).keyring),
    },
  ],
  exports: [TokenCipher],
})
export class CryptoModule {}
