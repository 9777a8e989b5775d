// iothub-wasm/hub: the local IoT Hub (host simulation). Independent of the WebAssembly core.
export { LocalHub, WEBSOCKET_PATH, DEFAULT_DATA_DIR } from './hub.js';
export type { LocalHubOptions, InvokeOptions, HubEvents, C2DReceipt } from './hub.js';
export { Registry, RegistryError } from './registry.js';
export type { IdentityInfo, IdentityRecord, AddOptions } from './registry.js';
export { TwinStore, TwinError, mergePatch } from './twin-store.js';
export type { Twin, Json, JsonObject } from './twin-store.js';
export { C2DQueue, C2D_MAX_QUEUE, C2D_MAX_BYTES } from './c2d-queue.js';
export type { C2DMessage, C2DOptions, FeedbackRecord, FeedbackStatus, AckMode } from './c2d-queue.js';
export { MethodInvoker, HubError, METHOD_MAX_PAYLOAD_BYTES } from './methods.js';
export type { MethodResult } from './methods.js';
export { D2C_MAX_BYTES, MAX_SUBSCRIPTIONS, c2dTopic } from './broker.js';
export type { TelemetryMessage, ConnectionEvent, RefusedEvent, ReportedEvent } from './broker.js';
export { createSasToken, verifySasToken, parseSasToken } from './sas.js';
export { parsePropertyBag, encodePropertyBag } from './topics.js';
export type { PropertyBag, Identity } from './topics.js';
