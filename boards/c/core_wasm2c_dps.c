/*
 * iothub_core_dps.h bound to wasm2c's translation of mcu-full.wasm (build/wasm2c/mcu-full/mcu.c): the provisioning
 * exports of the same instance core_wasm2c.c loads. Link it only with that translation (mcu.wasm has no dps_*).
 */
#include "iothub_core_dps.h"

#include "core_wasm2c.h"

#define core iothub_core_wasm2c

int32_t iothub_core_dps_init(uint32_t scope, uint32_t scope_len, uint32_t reg, uint32_t reg_len) {
  return (int32_t)Z_mcuZ_dps_init(&core, scope, scope_len, reg, reg_len);
}
int32_t iothub_core_dps_symmetric_key_set(uint32_t key, uint32_t key_len) {
  return (int32_t)Z_mcuZ_dps_symmetric_key_set(&core, key, key_len);
}
int32_t iothub_core_dps_group_key_set(uint32_t key, uint32_t key_len) {
  return (int32_t)Z_mcuZ_dps_group_key_set(&core, key, key_len);
}
int32_t iothub_core_dps_x509_set(int32_t on) { return (int32_t)Z_mcuZ_dps_x509_set(&core, (u32)on); }
int32_t iothub_core_dps_payload_set(uint32_t ptr, uint32_t len) {
  return (int32_t)Z_mcuZ_dps_payload_set(&core, ptr, len);
}
int32_t iothub_core_dps_host_set(uint32_t ptr, uint32_t len) { return (int32_t)Z_mcuZ_dps_host_set(&core, ptr, len); }
uint32_t iothub_core_dps_endpoint_ptr(void) { return Z_mcuZ_dps_endpoint_ptr(&core); }
int32_t iothub_core_dps_endpoint_len(void) { return (int32_t)Z_mcuZ_dps_endpoint_len(&core); }
int32_t iothub_core_dps_endpoint_port(uint32_t transport) {
  return (int32_t)Z_mcuZ_dps_endpoint_port(&core, transport);
}
int32_t iothub_core_dps_option_set(uint32_t opt, int32_t value) {
  return (int32_t)Z_mcuZ_dps_option_set(&core, opt, (u32)value);
}
void iothub_core_dps_seed_set(uint32_t seed) { Z_mcuZ_dps_seed_set(&core, seed); }
void iothub_core_dps_time_set(uint32_t unix_seconds, uint32_t now_ms) {
  Z_mcuZ_dps_time_set(&core, unix_seconds, now_ms);
}
int32_t iothub_core_dps_start(uint32_t now_ms) { return (int32_t)Z_mcuZ_dps_start(&core, now_ms); }
void iothub_core_dps_stop(uint32_t now_ms) { Z_mcuZ_dps_stop(&core, now_ms); }
uint32_t iothub_core_dps_wants(void) { return Z_mcuZ_dps_wants(&core); }
uint32_t iothub_core_dps_state(void) { return Z_mcuZ_dps_state(&core); }
int32_t iothub_core_dps_result(void) { return (int32_t)Z_mcuZ_dps_result(&core); }
int32_t iothub_core_dps_transport_up(uint32_t now_ms) { return (int32_t)Z_mcuZ_dps_transport_up(&core, now_ms); }
void iothub_core_dps_transport_down(uint32_t now_ms) { Z_mcuZ_dps_transport_down(&core, now_ms); }
uint32_t iothub_core_dps_rx_window(void) { return Z_mcuZ_dps_rx_window(&core); }
int32_t iothub_core_dps_rx_space(void) { return (int32_t)Z_mcuZ_dps_rx_space(&core); }
int32_t iothub_core_dps_rx_commit(uint32_t n) { return (int32_t)Z_mcuZ_dps_rx_commit(&core, n); }
uint32_t iothub_core_dps_tx_ptr(void) { return Z_mcuZ_dps_tx_ptr(&core); }
int32_t iothub_core_dps_tx_len(void) { return (int32_t)Z_mcuZ_dps_tx_len(&core); }
int32_t iothub_core_dps_tx_consumed(uint32_t n) { return (int32_t)Z_mcuZ_dps_tx_consumed(&core, n); }
uint32_t iothub_core_dps_poll(uint32_t now_ms) { return Z_mcuZ_dps_poll(&core, now_ms); }
uint32_t iothub_core_dps_event_ptr(void) { return Z_mcuZ_dps_event_ptr(&core); }
int32_t iothub_core_dps_next_timeout(void) { return (int32_t)Z_mcuZ_dps_next_timeout(&core); }
uint32_t iothub_core_dps_assigned_hub_ptr(void) { return Z_mcuZ_dps_assigned_hub_ptr(&core); }
int32_t iothub_core_dps_assigned_hub_len(void) { return (int32_t)Z_mcuZ_dps_assigned_hub_len(&core); }
uint32_t iothub_core_dps_device_id_ptr(void) { return Z_mcuZ_dps_device_id_ptr(&core); }
int32_t iothub_core_dps_device_id_len(void) { return (int32_t)Z_mcuZ_dps_device_id_len(&core); }
int32_t iothub_core_dps_connection_string(uint32_t out, uint32_t cap) {
  return (int32_t)Z_mcuZ_dps_connection_string(&core, out, cap);
}
