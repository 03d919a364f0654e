import { BadRequestException, ParseUUIDPipe } from '@nestjs/common';

/** Route ids are UUIDs; anything else is a 400, not a database error. */
export const uuidParam = new ParseUUIDPipe({ exceptionFactory: () => new BadRequestException({ code: 'invalid_id', message: 'id must be a UUID' }) });
