import { ConflictException, NotFoundException } from '@nestjs/common';
import { SessionStatus } from './entities/session.entity';

export class SessionNotFoundError extends NotFoundException {
  constructor(id: string) {
    super({ code: 'session_not_found', message: `Session ${id} does not exist` });
  }
}

/** A status change the state machine does not allow (409 on the API). */
export class IllegalTransitionError extends ConflictException {
  constructor(
    readonly from: SessionStatus,
    readonly to: SessionStatus,
  ) {
    super({ code: 'illegal_transition', message: `Session cannot move from ${from} to ${to}` });
  }
}
