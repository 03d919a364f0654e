import { Module } from '@nestjs/common';
import { ConsoleController } from './console.controller';
import { ConsoleLogin } from './console-login.service';

/** The session console (/console), API processes only: pages, login and assets. Its data comes from the public API. */
@Module({ controllers: [ConsoleController], providers: [ConsoleLogin] })
export class ConsoleModule {}
