import { DynamicModule } from '@nestjs/common';
import { ConfigModule } from '@nestjs/config';
import { loadAppConfig } from './app.config';

/**
 * Global configuration, built when the app module is built (not at import time), so
 * each app instance validates the environment it is started with. `validate` turns the
 * raw environment into the typed AppConfig: ConfigService<AppConfig, true>.get('redis',
 * { infer: true }) is typed, and a bad variable stops boot with its name.
 */
export function appConfigModule(): Promise<DynamicModule> {
  return ConfigModule.forRoot({
    isGlobal: true,
    ignoreEnvFile: true,
    validate: (raw) => loadAppConfig(raw) as unknown as Record<string, unknown>,
  });
}
