/*
 * The core's provisioning exports (dps_*), as the board library calls them: the same rules as iothub_core.h (the
 * export's name behind the `iothub_core_` prefix, every value an i32). They are in build/mcu-full.wasm (and
 * gateway.wasm), not in build/mcu.wasm: a board that provisions hosts mcu-full.wasm, and core_wasm2c_dps.c binds
 * these to wasm2c's translation of it. An interpreter binding implements them over its call API, as iothub_core.h says.
 */
#ifndef IOTHUB_CORE_DPS_H
#define IOTHUB_CORE_DPS_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

int32_t iothub_core_dps_init(uint32_t scope, uint32_t scope_len, uint32_t reg, uint32_t reg_len);
int32_t iothub_core_dps_symmetric_key_set(uint32_t key, uint32_t key_len);
int32_t iothub_core_dps_group_key_set(uint32_t key, uint32_t key_len);
int32_t iothub_core_dps_x509_set(int32_t on);
int32_t iothub_core_dps_payload_set(uint32_t ptr, uint32_t len);
int32_t iothub_core_dps_host_set(uint32_t ptr, uint32_t len);
uint32_t iothub_core_dps_endpoint_ptr(void);
int32_t iothub_core_dps_endpoint_len(void);
int32_t iothub_core_dps_endpoint_port(uint32_t transport);
int32_t iothub_core_dps_option_set(uint32_t opt, int32_t value);
void iothub_core_dps_seed_set(uint32_t seed);
void iothub_core_dps_time_set(uint32_t unix_seconds, uint32_t now_ms);

int32_t iothub_core_dps_start(uint32_t now_ms);
void iothub_core_dps_stop(uint32_t now_ms);
uint32_t iothub_core_dps_wants(void);
uint32_t iothub_core_dps_state(void);
int32_t iothub_core_dps_result(void);
int32_t iothub_core_dps_transport_up(uint32_t now_ms);
void iothub_core_dps_transport_down(uint32_t now_ms);
uint32_t iothub_core_dps_rx_window(void);
int32_t iothub_core_dps_rx_space(void);
int32_t iothub_core_dps_rx_commit(uint32_t n);
uint32_t iothub_core_dps_tx_ptr(void);
int32_t iothub_core_dps_tx_len(void);
int32_t iothub_core_dps_tx_consumed(uint32_t n);
uint32_t iothub_core_dps_poll(uint32_t now_ms);
uint32_t iothub_core_dps_event_ptr(void);
int32_t iothub_core_dps_next_timeout(void);

uint32_t iothub_core_dps_assigned_hub_ptr(void);
int32_t iothub_core_dps_assigned_hub_len(void);
uint32_t iothub_core_dps_device_id_ptr(void);
int32_t iothub_core_dps_device_id_len(void);
int32_t iothub_core_dps_connection_string(uint32_t out, uint32_t cap);

#ifdef __cplusplus
}
#endif

#endif
