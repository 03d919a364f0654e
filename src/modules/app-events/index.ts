/* The app-events module's door: record an event (in the caller's transaction) and its catalogue. */
export { AppEventsModule } from './app-events.module';
export { AppEventsService } from './app-events.service';
export { AppEventRetentionService } from './app-event-retention.service';
export type { SessionOutboxScope } from './app-event-retention.service';
export { ALL_EVENTS, APP_EVENT_TYPES, AppEventType, isAppEventType, OPT_IN_EVENT_TYPES, subscribes } from './app-event-types';
export type { AppEvent, AppEventInput } from './app-event-types';
