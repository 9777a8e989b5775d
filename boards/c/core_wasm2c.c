/*
 * iothub_core.h bound to wasm2c's translation of the core (build/wasm2c/mcu.c from mcu.wasm, or
 * build/wasm2c/mcu-full/mcu.c from mcu-full.wasm for a board that provisions; generated at build time): the core
 * runs as native code. wasm2c names an export `e` of module `mcu` Z_mcuZ_e and passes the instance first.
 */
#include "iothub_core.h"

#include "core_wasm2c.h"
#include "iothub_wasm_abi.h"

/* The one instance: all of the core's state is module-global (one device per instance). */
Z_mcu_instance_t iothub_core_wasm2c;
#define core iothub_core_wasm2c

int32_t iothub_core_load(void) {
  static uint8_t loaded;
  static int32_t result;
  /* Once per boot: provisioning and then the device client run on the same instance (a second instantiation would
   * wipe the assignment the device is about to use). */
  if (loaded) return result;
  loaded = 1;
  if (!wasm_rt_is_initialized()) wasm_rt_init();
  Z_mcu_init_module();
  Z_mcu_instantiate(&core);
  result = IOTHUB_WASM_OK;
  if (Z_mcuZ_abi_version(&core) != IOTHUB_WASM_ABI_VERSION) result = IOTHUB_WASM_BAD_STATE;
  /* A memory reserved shorter than the module declares must still hold everything the core uses. */
  else if (Z_mcuZ_abi_heap_base(&core) > core.w2c_memory.size) result = IOTHUB_WASM_BAD_STATE;
  return result;
}

uint8_t *iothub_core_memory(void) { return core.w2c_memory.data; }
uint32_t iothub_core_memory_size(void) { return core.w2c_memory.size; }

uint32_t iothub_core_abi_version(void) { return Z_mcuZ_abi_version(&core); }
uint32_t iothub_core_abi_io_ptr(void) { return Z_mcuZ_abi_io_ptr(&core); }
uint32_t iothub_core_abi_io_capacity(void) { return Z_mcuZ_abi_io_capacity(&core); }
uint32_t iothub_core_abi_status_name(int32_t code) { return Z_mcuZ_abi_status_name(&core, (u32)code); }

int32_t iothub_core_client_init(uint32_t ptr, uint32_t len) { return (int32_t)Z_mcuZ_client_init(&core, ptr, len); }
int32_t iothub_core_client_option_set(uint32_t opt, int32_t value) {
  return (int32_t)Z_mcuZ_client_option_set(&core, opt, (u32)value);
}
int32_t iothub_core_client_model_id_set(uint32_t ptr, uint32_t len) {
  return (int32_t)Z_mcuZ_client_model_id_set(&core, ptr, len);
}
void iothub_core_client_seed_set(uint32_t seed) { Z_mcuZ_client_seed_set(&core, seed); }
void iothub_core_client_time_set(uint32_t unix_seconds, uint32_t now_ms) {
  Z_mcuZ_client_time_set(&core, unix_seconds, now_ms);
}
uint32_t iothub_core_client_endpoint_ptr(void) { return Z_mcuZ_client_endpoint_ptr(&core); }
int32_t iothub_core_client_endpoint_len(void) { return (int32_t)Z_mcuZ_client_endpoint_len(&core); }
int32_t iothub_core_client_endpoint_port(uint32_t transport) {
  return (int32_t)Z_mcuZ_client_endpoint_port(&core, transport);
}
uint32_t iothub_core_client_hostname_ptr(void) { return Z_mcuZ_client_hostname_ptr(&core); }
int32_t iothub_core_client_hostname_len(void) { return (int32_t)Z_mcuZ_client_hostname_len(&core); }
int32_t iothub_core_client_x509_enabled(void) { return (int32_t)Z_mcuZ_client_x509_enabled(&core); }

int32_t iothub_core_client_start(uint32_t now_ms) { return (int32_t)Z_mcuZ_client_start(&core, now_ms); }
void iothub_core_client_stop(uint32_t now_ms) { Z_mcuZ_client_stop(&core, now_ms); }
uint32_t iothub_core_client_wants(void) { return Z_mcuZ_client_wants(&core); }
uint32_t iothub_core_client_state(void) { return Z_mcuZ_client_state(&core); }
int32_t iothub_core_client_transport_up(uint32_t now_ms) { return (int32_t)Z_mcuZ_client_transport_up(&core, now_ms); }
void iothub_core_client_transport_down(uint32_t now_ms) { Z_mcuZ_client_transport_down(&core, now_ms); }
uint32_t iothub_core_client_rx_window(void) { return Z_mcuZ_client_rx_window(&core); }
int32_t iothub_core_client_rx_space(void) { return (int32_t)Z_mcuZ_client_rx_space(&core); }
int32_t iothub_core_client_rx_commit(uint32_t n) { return (int32_t)Z_mcuZ_client_rx_commit(&core, n); }
uint32_t iothub_core_client_tx_ptr(void) { return Z_mcuZ_client_tx_ptr(&core); }
int32_t iothub_core_client_tx_len(void) { return (int32_t)Z_mcuZ_client_tx_len(&core); }
int32_t iothub_core_client_tx_consumed(uint32_t n) { return (int32_t)Z_mcuZ_client_tx_consumed(&core, n); }
uint32_t iothub_core_client_poll(uint32_t now_ms) { return Z_mcuZ_client_poll(&core, now_ms); }
uint32_t iothub_core_client_event_ptr(void) { return Z_mcuZ_client_event_ptr(&core); }
int32_t iothub_core_client_next_timeout(void) { return (int32_t)Z_mcuZ_client_next_timeout(&core); }

void iothub_core_client_telemetry_begin(void) { Z_mcuZ_client_telemetry_begin(&core); }
int32_t iothub_core_client_telemetry_property_add(uint32_t name, uint32_t name_len, uint32_t value, int32_t value_len) {
  return (int32_t)Z_mcuZ_client_telemetry_property_add(&core, name, name_len, value, (u32)value_len);
}
int32_t iothub_core_client_telemetry_system_add(int32_t which, uint32_t value, int32_t value_len) {
  return (int32_t)Z_mcuZ_client_telemetry_system_add(&core, (u32)which, value, (u32)value_len);
}
int32_t iothub_core_client_telemetry_send(uint32_t payload, uint32_t len, int32_t qos) {
  return (int32_t)Z_mcuZ_client_telemetry_send(&core, payload, len, (u32)qos);
}
int32_t iothub_core_client_c2d_ack(uint32_t packet_id) { return (int32_t)Z_mcuZ_client_c2d_ack(&core, packet_id); }
int32_t iothub_core_client_method_respond(uint32_t rid, uint32_t rid_len, int32_t status, uint32_t payload,
                                          uint32_t len) {
  return (int32_t)Z_mcuZ_client_method_respond(&core, rid, rid_len, (u32)status, payload, len);
}
int32_t iothub_core_client_twin_get(uint32_t now_ms) { return (int32_t)Z_mcuZ_client_twin_get(&core, now_ms); }
int32_t iothub_core_client_twin_patch(uint32_t body, uint32_t len, uint32_t now_ms) {
  return (int32_t)Z_mcuZ_client_twin_patch(&core, body, len, now_ms);
}
int32_t iothub_core_client_twin_error(int32_t status) { return (int32_t)Z_mcuZ_client_twin_error(&core, (u32)status); }
void iothub_core_client_twin_desired_applied(uint32_t version) { Z_mcuZ_client_twin_desired_applied(&core, version); }
int32_t iothub_core_client_telemetry_store(uint32_t payload, uint32_t len, uint32_t now_ms) {
  return (int32_t)Z_mcuZ_client_telemetry_store(&core, payload, len, now_ms);
}
uint32_t iothub_core_client_store_ptr(void) { return Z_mcuZ_client_store_ptr(&core); }
int32_t iothub_core_client_store_len(void) { return (int32_t)Z_mcuZ_client_store_len(&core); }
int32_t iothub_core_client_store_done(uint32_t token) { return (int32_t)Z_mcuZ_client_store_done(&core, token); }
int32_t iothub_core_client_store_check(uint32_t ptr, uint32_t len) {
  return (int32_t)Z_mcuZ_client_store_check(&core, ptr, len);
}
uint32_t iothub_core_client_store_token(void) { return Z_mcuZ_client_store_token(&core); }
int32_t iothub_core_client_store_kind(void) { return (int32_t)Z_mcuZ_client_store_kind(&core); }
int32_t iothub_core_client_store_restore(uint32_t ptr, uint32_t len) {
  return (int32_t)Z_mcuZ_client_store_restore(&core, ptr, len);
}
int32_t iothub_core_client_bag_begin(uint32_t ptr, int32_t len) {
  return (int32_t)Z_mcuZ_client_bag_begin(&core, ptr, (u32)len);
}
int32_t iothub_core_client_bag_next(void) { return (int32_t)Z_mcuZ_client_bag_next(&core); }
uint32_t iothub_core_client_bag_item_ptr(void) { return Z_mcuZ_client_bag_item_ptr(&core); }
