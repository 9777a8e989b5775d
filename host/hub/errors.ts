// One error type for every refusal the hub makes to a caller: an HTTP status, IoT Hub's error code name and a
// message saying what was wrong. The stores and the service API throw it; each surface maps it in one place —
// MQTT twin responses (the status, `{"message":…}`: device/broker.ts), REST (`{"Message":"ErrorCode:<code>;…"}`:
// service/rest.ts) and AMQP dispositions (a condition: amqp/endpoint.ts). Anything else thrown is a bug, and every
// surface answers it with a generic error and logs it.

/** IoT Hub's error code names the hub answers with (the service SDKs turn them into typed errors). */
export type HubErrorCode =
  | 'ArgumentInvalid'
  | 'BadRequest'
  | 'DeviceAlreadyExists'
  | 'DeviceMaximumQueueDepthExceeded'
  | 'DeviceMessageLockLost'
  | 'DeviceNotFound'
  | 'DeviceNotOnline'
  | 'GatewayTimeout'
  | 'InvalidProtocolVersion'
  | 'IotHubUnauthorizedAccess'
  | 'MessageTooLarge'
  | 'ModuleAlreadyExistsOnDevice'
  | 'ModuleNotFound'
  | 'NotFound'
  | 'PreconditionFailed'
  | 'ServerError'
  | 'ServiceUnavailable';

export class HubError extends Error {
  constructor(readonly status: number, readonly code: HubErrorCode, message: string) { super(message); }
}

/** 400 ArgumentInvalid: the caller's input breaks a rule (the message names it). */
export const invalidArgument = (message: string): HubError => new HubError(400, 'ArgumentInvalid', message);

/** 413 MessageTooLarge: over one of IoT Hub's size limits. */
export const tooLarge = (message: string): HubError => new HubError(413, 'MessageTooLarge', message);

/** IoT Hub's REST error body for a refusal: `{"Message":"ErrorCode:{code};{message}", "ExceptionMessage": …}`. */
export function restErrorBody(err: HubError): { Message: string; ExceptionMessage: string } {
  return { Message: `ErrorCode:${err.code};${err.message}`, ExceptionMessage: `Tracking ID:local-${Date.now()} ${err.message}` };
}
