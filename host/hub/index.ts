// iothub-wasm/hub: the local IoT Hub (host simulation). Independent of the WebAssembly core.
export { LocalHub, WEBSOCKET_PATH, DEFAULT_DATA_DIR } from './hub.js';
export type { LocalHubOptions, InvokeOptions, HubEvents, C2DReceipt } from './hub.js';
export { Registry, normalizeThumbprint } from './state/registry.js';
export type { IdentityInfo, IdentityRecord, AddOptions } from './state/registry.js';
export { TwinStore, mergePatch } from './state/twin-store.js';
export type { Twin, Json, JsonObject } from './state/twin-store.js';
export { C2DQueue, C2D_MAX_QUEUE, C2D_MAX_BYTES } from './state/c2d-queue.js';
export type { C2DMessage, C2DOptions, FeedbackRecord, FeedbackStatus, AckMode } from './state/c2d-queue.js';
export { MethodInvoker, METHOD_MAX_PAYLOAD_BYTES } from './state/methods.js';
export type { MethodResult } from './state/methods.js';
export { D2C_MAX_BYTES, MAX_SUBSCRIPTIONS, c2dTopic } from './device/broker.js';
export type { TelemetryMessage, ConnectionEvent, RefusedEvent, ReportedEvent } from './device/broker.js';
export { createSasToken, verifySasToken, parseSasToken } from './auth/sas.js';
export { parsePropertyBag, encodePropertyBag } from './device/topics.js';
export type { PropertyBag, Identity } from './state/messages.js';
export { Policies, DEFAULT_POLICIES } from './service/policies.js';
export type { PolicyRecord, Right, ServiceClaims } from './service/policies.js';
export { EventStore, parseSelector } from './state/events.js';
export type { StoredEvent, StartPosition, PartitionInfo } from './state/events.js';
export { AmqpService, FEEDBACK_CONTENT_TYPE, DEVICEBOUND_ADDRESS, FEEDBACK_ADDRESS } from './amqp/endpoint.js';
export { RestService } from './service/rest.js';
export { HubError } from './errors.js';
export type { HubErrorCode } from './errors.js';
/** The stores' refusals are HubErrors now; the old names stay for code written against them. */
export { HubError as RegistryError, HubError as TwinError } from './errors.js';
