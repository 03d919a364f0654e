/*
 * The session console's door: the module (API processes only), its route and the
 * middleware bootstrap mounts ahead of it (security headers, the login form's parser).
 */
export { ConsoleModule } from './console.module';
export { CONSOLE_ROUTE } from './console-pages';
export { consoleHttpMiddleware, CONSOLE_CSP } from './console-http';
