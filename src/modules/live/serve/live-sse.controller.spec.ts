import { ServiceUnavailableException } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import type { Request, Response } from 'express';
import { AppConfig } from '../../../config/app.config';
import { SessionsService } from '../../sessions';
import { LIVE_TEXT_MEDIA } from '../live-protocol';
import { LiveAuth } from './live-auth';
import { LiveFanout } from './live-fanout.service';
import { LiveMetrics } from './live-metrics';
import { LiveSettings } from './live-settings';
import { LiveSseController, parseSseTypes, singleQueryValue } from './live-sse.controller';
import { LiveTickets } from './live-tickets.service';

describe('SSE query parameters', () => {
  it('takes types as one comma-separated list, default all', () => {
    expect(parseSseTypes(undefined)).toEqual([...LIVE_TEXT_MEDIA]);
    expect(parseSseTypes('')).toEqual([...LIVE_TEXT_MEDIA]);
    expect(parseSseTypes('chat, events,chat')).toEqual(['chat', 'events']);
    expect(parseSseTypes('events,audio')).toBeNull();
  });

  it('refuses types that are not one string (a repeated ?types=, a nested object)', () => {
    expect(parseSseTypes(['events', 'chat'])).toBeNull();
    expect(parseSseTypes({ a: 'events' })).toBeNull();
  });

  it('tells a single query value from an absent or repeated one', () => {
    expect(singleQueryValue(undefined)).toBeUndefined();
    expect(singleQueryValue('x')).toBe('x');
    expect(singleQueryValue(['x', 'y'])).toBeNull();
  });
});

describe('LiveSseController', () => {
  it('answers 503 service_unavailable, as the WebSocket upgrade does, when the ticket cannot be redeemed (Redis unreachable)', async () => {
    const tickets = { redeem: jest.fn().mockRejectedValue(new Error('Connection is closed.')) } as unknown as LiveTickets;
    const config = { get: () => ({ apiKeys: [] }) } as unknown as ConfigService<AppConfig, true>;
    const sessions = { get: jest.fn() } as unknown as SessionsService;
    const controller = new LiveSseController(new LiveAuth(config, tickets), sessions, {} as LiveFanout, {} as LiveSettings, {} as LiveMetrics);
    const req = { headers: {}, protocol: 'http', host: 'hub.test' } as unknown as Request;
    const err: unknown = await controller.stream('11111111-1111-4111-8111-111111111111', undefined, 'a-ticket', undefined, req, {} as Response).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ServiceUnavailableException);
    expect((err as ServiceUnavailableException).getStatus()).toBe(503);
    expect((err as ServiceUnavailableException).getResponse()).toMatchObject({ code: 'service_unavailable' });
    expect(tickets.redeem).toHaveBeenCalledWith('a-ticket');
    expect(sessions.get).not.toHaveBeenCalled();
  });
});
