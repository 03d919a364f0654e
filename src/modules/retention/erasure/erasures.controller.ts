import { Body, Controller, Get, HttpCode, Param, Post, Query } from '@nestjs/common';
import { ApiOperation, ApiSecurity, ApiTags } from '@nestjs/swagger';
import { ApiCaller, Caller } from '../../../common/auth/api-caller';
import { RequireRole } from '../../../common/auth/require-role.decorator';
import { PageQuery } from '../../../common/http/page.query';
import { uuidParam } from '../../../common/http/uuid-param';
import { CreateErasureDto } from './dto/create-erasure.dto';
import { parseErasureSubject } from './erasure-subject';
import { ErasureService } from './erasure.service';

@ApiTags('erasures')
@ApiSecurity('api-key')
// Erasure deletes data for good, like deleting a session: admin keys only. An
// owner-scoped admin key erases within its owner's sessions and sees its owner's erasures.
@RequireRole('admin')
@Controller('erasures')
export class ErasuresController {
  constructor(private readonly erasures: ErasureService) {}

  @Post()
  @HttpCode(202)
  @ApiOperation({ summary: "Erase one person's media, transcript, chat and participant rows across sessions (a job)" })
  create(@Body() dto: CreateErasureDto, @Caller() caller: ApiCaller) {
    return this.erasures.request(parseErasureSubject(dto as Record<string, unknown>), caller);
  }

  @Get()
  @ApiOperation({ summary: 'List erasures (newest first, cursor pagination)' })
  list(@Query() query: PageQuery, @Caller() caller: ApiCaller) {
    return this.erasures.list(query, caller.owner);
  }

  @Get(':id')
  @ApiOperation({ summary: "An erasure's progress and report" })
  get(@Param('id', uuidParam) id: string, @Caller() caller: ApiCaller) {
    return this.erasures.get(id, caller.owner);
  }
}
