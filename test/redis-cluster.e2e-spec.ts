import { useMeetingThroughRedis } from './utils/meeting-through-redis';
import { RedisClusterSet } from './utils/redis-topologies';

jest.setTimeout(180_000);

/**
 * Issue 20: the same meeting against a local 3-primary Redis Cluster. QUEUE_PREFIX
 * carries a hash tag, so every key of the hub (BullMQ's and its own) shares one slot:
 * multi-key scripts and transactions stay legal.
 */
describe('Redis Cluster: a meeting on a 3-primary cluster', () => {
  let cluster: RedisClusterSet;
  const prefix = `{${process.env.QUEUE_PREFIX}}`;
  beforeAll(async () => {
    cluster = await RedisClusterSet.start();
  });
  const meeting = useMeetingThroughRedis(() => ({ ...cluster.env(), QUEUE_PREFIX: prefix }));
  afterAll(async () => {
    await cluster?.stop();
  });

  it('stores everything sent and drains every queue; all of the hub’s keys sit on one node (one hash tag)', async () => {
    const counts = await meeting.run(async () => {
      // The hash tag puts the whole prefix in one slot, hence on one of the three primaries.
      const perNode = await cluster.keysPerNode();
      expect(perNode.filter((n) => n > 0)).toHaveLength(1);
    });
    console.log(`cluster keys per node ${(await cluster.keysPerNode()).join('/')}; ${counts}`);
  });
});
