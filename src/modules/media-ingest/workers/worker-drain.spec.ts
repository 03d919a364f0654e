import { FleetRedis, QN, registrationJson } from './fleet-redis.spec-helper';
import { runWorkerDrain } from './worker-drain';

describe('worker:drain --wait', () => {
  it('does not say "Drained" while a drained worker has a handed-over stream that no worker runs yet', async () => {
    const fleet = new FleetRedis();
    const workers = fleet.hash(`${QN}:workers`);
    const write = (handingOver: number) => workers.set('a', JSON.stringify({ ...JSON.parse(registrationJson('a', 0, { draining: true })), spoolHost: 'host-a', handingOver }));
    write(1);
    workers.set('b', registrationJson('b', 3));
    const lines: string[] = [];
    expect(await runWorkerDrain(fleet.client(), QN, ['host-a', '--wait'], (l) => lines.push(l), 700)).toBe(1);
    expect(lines.join('\n')).not.toContain('Drained');
    expect(lines.join('\n')).toContain('handing a stream over');
    // The stream runs elsewhere now.
    write(0);
    expect(await runWorkerDrain(fleet.client(), QN, ['host-a', '--wait'], (l) => lines.push(l), 700)).toBe(0);
    expect(lines.at(-1)).toContain('Drained');
  });

  it('says so when no other worker can take the streams (they stay where they are)', async () => {
    const fleet = new FleetRedis();
    fleet.hash(`${QN}:workers`).set('a', registrationJson('a', 2, { draining: true }));
    const lines: string[] = [];
    expect(await runWorkerDrain(fleet.client(), QN, ['a', '--wait'], (l) => lines.push(l), 300)).toBe(1);
    expect(lines.join('\n')).toContain('No other worker can take their streams');
  });
});
