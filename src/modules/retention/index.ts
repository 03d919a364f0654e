/* The retention module's door: the maintenance processor and its module (docs/retention.md). */
export { RetentionModule } from './retention.module';
export { MaintenanceProcessor } from './maintenance.processor';
export { ErasuresApiModule } from './erasures-api.module';
