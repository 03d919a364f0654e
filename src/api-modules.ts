import { Type } from '@nestjs/common';
import { OAuthModule } from './modules/oauth/oauth.module';

/** Feature modules whose controllers the API serves. */
export const API_MODULES: Type<unknown>[] = [OAuthModule];
