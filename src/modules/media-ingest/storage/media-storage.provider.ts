import { Provider } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { AppConfig } from '../../../config/app.config';
import { LocalMediaStorage } from './local-media-storage';
import { MEDIA_STORAGE, MediaStorage } from './media-storage';
import { S3MediaStorage } from './s3-media-storage';

export function createMediaStorage(storage: AppConfig['storage']): MediaStorage {
  if (storage.driver === 's3') {
    if (!storage.s3.bucket) throw new Error('STORAGE_DRIVER=s3 needs S3_BUCKET');
    return new S3MediaStorage({ ...storage.s3, bucket: storage.s3.bucket });
  }
  return new LocalMediaStorage(storage.localDir);
}

export const mediaStorageProvider: Provider = {
  provide: MEDIA_STORAGE,
  inject: [ConfigService],
  useFactory: (config: ConfigService<AppConfig, true>) => createMediaStorage(config.get('storage', { infer: true })),
};
