/* The retention module's door: the maintenance processor and its module (docs/retention.md), and the key rotation's re-sealer of erasure subjects. */
export { RetentionModule } from './retention.module';
export { MaintenanceProcessor } from './maintenance.processor';
export { ErasuresApiModule } from './erasures-api.module';
export { resealErasureSubjects } from './erasure/erasure-subjects.reseal';
