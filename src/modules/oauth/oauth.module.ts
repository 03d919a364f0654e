import { Module } from '@nestjs/common';
import { OAuthController } from './oauth.controller';
import { OAuthCoreModule } from './oauth-core.module';

/** The OAuth routes (authorize, callback, connections) on top of OAuthCoreModule. */
@Module({
  imports: [OAuthCoreModule],
  controllers: [OAuthController],
})
export class OAuthModule {}
