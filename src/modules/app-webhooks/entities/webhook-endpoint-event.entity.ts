import { Column, CreateDateColumn, Entity, Index, JoinColumn, ManyToOne, PrimaryGeneratedColumn } from 'typeorm';
import { WebhookEndpointEntity } from './webhook-endpoint.entity';

/** What happened to an endpoint that an operator should be able to see (e.g. `endpoint.disabled`). */
@Entity({ name: 'webhook_endpoint_events' })
@Index('IDX_webhook_endpoint_events_endpoint', ['endpointId', 'createdAt'])
export class WebhookEndpointEventEntity {
  @PrimaryGeneratedColumn('uuid')
  id: string;

  @Column({ name: 'endpoint_id', type: 'uuid' })
  endpointId: string;

  @ManyToOne(() => WebhookEndpointEntity, { onDelete: 'CASCADE' })
  @JoinColumn({ name: 'endpoint_id' })
  endpoint?: WebhookEndpointEntity;

  /** `endpoint.disabled`, `endpoint.enabled`, `endpoint.secret_rotated`. */
  @Column({ type: 'varchar', length: 64 })
  type: string;

  @Column({ type: 'jsonb', default: () => "'{}'" })
  details: Record<string, unknown>;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt: Date;
}
