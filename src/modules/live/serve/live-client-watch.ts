import { Injectable, Logger } from '@nestjs/common';
import { PeriodicTask } from '../../../common/async/periodic-task';
import { errorMessage } from '../../../common/errors/error-message';
import { LiveCloseCode } from '../live-protocol';
import { LiveClient } from './live-client';
import { LiveFanout } from './live-fanout.service';
import { LiveSettings } from './live-settings';

/**
 * What is checked of every live client each ping interval, whatever its transport (the
 * WebSocket pings themselves are LiveGateway's): an SSE client that did not drain its
 * buffer below half the limit within the interval is cut as too slow (SSE has no ping to
 * notice a peer that stopped reading), and a client opened with a credential that can end
 * (the console login) is closed once it has ended.
 */
@Injectable()
export class LiveClientWatch extends PeriodicTask {
  private readonly logger = new Logger(LiveClientWatch.name);
  protected readonly intervalMs: number;

  constructor(
    private readonly fanout: LiveFanout,
    settings: LiveSettings,
  ) {
    super();
    this.intervalMs = settings.config.pingIntervalMs;
  }

  /** One round of checks (the interval's; tests call it). */
  override async tick(): Promise<void> {
    const checks: Array<Promise<void>> = [];
    for (const client of this.fanout.connectedClients()) {
      if (client.closed) continue;
      if (client.transport.kind === 'sse' && client.checkDrained()) continue;
      if (client.principal.stillValid) checks.push(this.recheck(client, client.principal.stillValid));
    }
    await Promise.all(checks);
  }

  private async recheck(client: LiveClient, stillValid: () => Promise<boolean>): Promise<void> {
    let valid: boolean;
    try {
      valid = await stillValid();
    } catch (err) {
      // Redis down: nobody can sign out meanwhile either; checked again next interval.
      this.logger.debug(`Live client ${client.id}: its login could not be re-checked: ${errorMessage(err)}`);
      return;
    }
    if (valid || client.closed) return;
    this.logger.log(`Live client ${client.id} closed: its login (${client.principal.keyFingerprint}) ended`);
    client.close(LiveCloseCode.Unauthorized, 'login_ended', 'The login ended: sign in again');
  }
}
