import type { JobProducer } from '../../jobs/job-producer.service';
import { MetricsService } from '../../common/metrics/metrics.service';
import { IngestMetrics } from './ingest-metrics';

const newRegistry = () => new MetricsService({ allQueues: () => [] } as unknown as JobProducer);

/** A counter's value for one label set, as a scrape shows it. */
async function valueOf(metrics: MetricsService, name: string, mediaType: string): Promise<number | undefined> {
  const m = await metrics.registry.getSingleMetric(name)!.get();
  return m.values.find((v) => v.labels.media_type === mediaType)?.value;
}

describe('IngestMetrics media received', () => {
  it('adds what the hot path tallied to the counters when they are read, once', async () => {
    const registry = newRegistry();
    const ingest = new IngestMetrics(registry);
    for (let i = 0; i < 250; i++) ingest.mediaReceived('audio', 640);
    ingest.mediaReceived('video', 9000);
    expect(await valueOf(registry, 'rtms_hub_media_messages_total', 'audio')).toBe(250);
    expect(await valueOf(registry, 'rtms_hub_media_bytes_total', 'audio')).toBe(250 * 640);
    expect(await valueOf(registry, 'rtms_hub_media_bytes_total', 'video')).toBe(9000);
    // Read again with nothing new: the same totals, not twice as much.
    expect(await valueOf(registry, 'rtms_hub_media_messages_total', 'audio')).toBe(250);
    ingest.mediaReceived('audio', 100);
    const text = await registry.registry.metrics();
    expect(text).toContain('rtms_hub_media_messages_total{media_type="audio"} 251');
    expect(text).toContain('rtms_hub_media_bytes_total{media_type="audio"} 160100');
  });

  it('counts from every IngestMetrics of one registry (the counters are shared)', async () => {
    const registry = newRegistry();
    const a = new IngestMetrics(registry);
    const b = new IngestMetrics(registry);
    a.mediaReceived('chat', 10);
    b.mediaReceived('chat', 5);
    expect(await valueOf(registry, 'rtms_hub_media_messages_total', 'chat')).toBe(2);
    expect(await valueOf(registry, 'rtms_hub_media_bytes_total', 'chat')).toBe(15);
  });
});
