export { CONSOLE_CSP, CONSOLE_DIST, consoleRoutes } from "./routes.ts";
