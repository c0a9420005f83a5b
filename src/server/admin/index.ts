export { type AdminOptions, adminRoutes } from "./plugin.ts";
export { openStoreServices, type StoreServices } from "./wiring.ts";
