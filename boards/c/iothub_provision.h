/*
 * Provisioning on a board: registers the device with the Device Provisioning Service through the core's provisioning
 * client (dps_*), then hands the assignment (assigned hub, device id, and the device key the core derived for a
 * group enrollment) to the device client, in the core's memory, without copying the key out.
 *
 * The same loop as the device's (iothub_board.h), over the same board interfaces: the board calls
 * iothub_provision_step() until iothub_provision_done(), sleeping at most what it returns. The CONNECT identity, SAS
 * token, topics, polling, retry-after and back-off are all the core's. Needs a core with the dps_* exports
 * (mcu-full.wasm; see iothub_core_dps.h). C99, no dynamic memory; provisioning and the device client take turns
 * (they share the core's receive buffer), so provision first, then start the device.
 */
#ifndef IOTHUB_PROVISION_H
#define IOTHUB_PROVISION_H

#include <stddef.h>
#include <stdint.h>

#include "iothub_board.h"

#ifdef __cplusplus
extern "C" {
#endif

/* An event of the registration: the record at dps_event_ptr(), views resolved to C pointers (valid only during the
 * callback). type is IOTHUB_WASM_DPS_EV_*; status OK, the outcome, or a retry's cause (IOTHUB_WASM_DPS_*). */
typedef struct iothub_provision_event {
  uint32_t type;
  int32_t status;
  int32_t service_status;  /* the service's status (200, 202, 401, 429…), 0 when there was no answer */
  int32_t retry_after_ms;  /* ms until the next request or connection (ASSIGNING, RETRY), else -1 */
  int32_t error_code;      /* the service's errorCode (e.g. 401002), 0 if none; CONNACK's code for a refused CONNECT;
                            * for DPS_TIMEOUT the last transient cause (a DPS_* status) */
  const uint8_t *hub; int32_t hub_len;             /* assignedHub */
  const uint8_t *device; int32_t device_len;       /* deviceId */
  const uint8_t *operation; int32_t operation_len; /* operationId */
  const uint8_t *payload; int32_t payload_len;     /* registrationState.payload (JSON) */
  const uint8_t *message; int32_t message_len;     /* the service's errorMessage */
  const uint8_t *body; int32_t body_len;           /* the whole answer (JSON) */
} iothub_provision_event_t;

struct iothub_provision;
typedef void (*iothub_provision_event_fn)(struct iothub_provision *prov, const iothub_provision_event_t *ev,
                                          void *user);

typedef struct iothub_provision {
  /* set by iothub_provision_init */
  iothub_transport_t transport;
  iothub_clock_t clock;
  iothub_entropy_fn entropy; void *entropy_ctx;
  iothub_provision_event_fn on_event; void *user;
  /* loop state (private) */
  uint8_t transport_open;     /* open() has returned 0 and dps_transport_up was called */
  uint8_t opening;            /* open() is in progress */
  uint8_t started;
  int32_t failure;            /* a transport failure retrying cannot fix (DPS_TRANSPORT_CLOSED), 0 while none */
  const char *failure_detail; /* the transport's detail() for it */
  char host[256];             /* the provisioning endpoint (also the TLS host name), NUL-terminated */
  uint16_t port;
} iothub_provision_t;

/* A new registration: loads the core, sets the id scope and registration id (the MQTT client id) and the board's
 * interfaces. on_event may be NULL. Returns a core status (< 0: refused, e.g. IOTHUB_WASM_IOTHUB_ID_*). */
int32_t iothub_provision_init(iothub_provision_t *prov, const char *id_scope, const char *registration_id,
                              const iothub_transport_t *transport, const iothub_clock_t *clock,
                              iothub_entropy_fn entropy, void *entropy_ctx, iothub_provision_event_fn on_event,
                              void *user);

/* One credential, before iothub_provision_start: an individual enrollment's key, a group enrollment's key (the core
 * derives the device's key from it and the registration id), or X.509 (the board's transport presents the device
 * certificate). Keys are base64. Return core statuses. */
int32_t iothub_provision_symmetric_key(iothub_provision_t *prov, const char *key);
int32_t iothub_provision_group_key(iothub_provision_t *prov, const char *group_key);
int32_t iothub_provision_x509(iothub_provision_t *prov);

/* Optional, before iothub_provision_start: the registration's payload (one JSON value, e.g. {"modelId":…}), the
 * service's `host[:port]` (default global.azure-devices-provisioning.net:8883), a core option (IOTHUB_WASM_DPS_OPT_*). */
int32_t iothub_provision_payload(iothub_provision_t *prov, const char *json);
int32_t iothub_provision_host(iothub_provision_t *prov, const char *host_port);
int32_t iothub_provision_option(iothub_provision_t *prov, uint32_t opt, int32_t value);

/* Starts registering. A core status: IOTHUB_WASM_DPS_TIME_NOT_SET for a SAS registration while the clock's unix_ms is
 * still 0 (call again once the board has the time), IOTHUB_WASM_DPS_NOT_CONFIGURED without a credential,
 * IOTHUB_WASM_DPS_BUSY while the device client is connected. */
int32_t iothub_provision_start(iothub_provision_t *prov);

/* One non-blocking turn, as iothub_device_step: returns the longest the board may sleep before the next call (ms). */
uint32_t iothub_provision_step(iothub_provision_t *prov);

/* Ends a registration under way (its outcome is then DPS_CLOSED); keep stepping until iothub_provision_done(). */
void iothub_provision_stop(iothub_provision_t *prov);

/* The registration is over and the transport closed. */
int iothub_provision_done(const iothub_provision_t *prov);

/* Once done: IOTHUB_WASM_OK (assigned) or the core's status for the refusal (DPS_UNAUTHORIZED, DPS_DISABLED,
 * DPS_FAILED, DPS_THROTTLED, DPS_TIMEOUT…, or DPS_TRANSPORT_CLOSED when the transport returned IOTHUB_IO_FAILED: then
 * *detail says why, e.g. the certificate problem). IOTHUB_WASM_BAD_STATE before it is done. detail may be NULL. */
int32_t iothub_provision_result(const iothub_provision_t *prov, const char **detail);

/* After an assignment: the assigned hub's host name and the device id, copied NUL-terminated (truncated to cap - 1).
 * Return their full lengths, or IOTHUB_WASM_BAD_STATE before an assignment. */
int32_t iothub_provision_assigned_hub(const iothub_provision_t *prov, char *buf, size_t cap);
int32_t iothub_provision_device_id(const iothub_provision_t *prov, char *buf, size_t cap);

/* After an assignment: the device's connection string (HostName=…;DeviceId=…;SharedAccessKey=… or x509=true), for a
 * board that stores the assignment to reuse it on the next boot. Its length (NUL-terminated in buf), or
 * IOTHUB_WASM_BUFFER_TOO_SMALL / IOTHUB_WASM_BAD_STATE. It carries the device key: store it as a secret. */
int32_t iothub_provision_connection_string(const iothub_provision_t *prov, char *buf, size_t cap);

/* After an assignment: iothub_device_init for the assigned device, its connection string built by the core in the
 * core's own memory (the key never leaves it). The arguments as iothub_device_init's. */
int32_t iothub_device_init_provisioned(iothub_device_t *dev, const iothub_provision_t *prov,
                                       const iothub_transport_t *transport, const iothub_clock_t *clock,
                                       iothub_entropy_fn entropy, void *entropy_ctx, iothub_event_fn on_event,
                                       void *user);

#ifdef __cplusplus
}
#endif

#endif
