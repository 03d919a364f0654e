import { Controller, Get, Param, Query } from '@nestjs/common';
import { ApiOperation, ApiSecurity, ApiTags } from '@nestjs/swagger';
import { ApiCaller, Caller } from '../../common/auth/api-caller';
import { RequireRole } from '../../common/auth/require-role.decorator';
import { uuidParam } from '../../common/http/uuid-param';
import { DeletionLogService } from './deletion-log.service';
import { ListDeletionsQuery } from './dto/list-deletions.query';

/** The audit trail of deletions (read-only: the log is append-only). */
@ApiTags('deletions')
@ApiSecurity('api-key')
@RequireRole('read')
@Controller('deletions')
export class DeletionLogController {
  constructor(private readonly deletions: DeletionLogService) {}

  @Get()
  @ApiOperation({ summary: 'List deletions (newest first, cursor pagination), by session, reason and time' })
  list(@Query() query: ListDeletionsQuery, @Caller() caller: ApiCaller) {
    return this.deletions.list(query, caller.owner);
  }

  @Get(':id')
  @ApiOperation({ summary: 'One deletion' })
  get(@Param('id', uuidParam) id: string, @Caller() caller: ApiCaller) {
    return this.deletions.get(id, caller.owner);
  }
}
