import { Type } from '@nestjs/common';

/** Feature modules whose controllers the API serves. */
export const API_MODULES: Type<unknown>[] = [];
