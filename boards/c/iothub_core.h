/*
 * The core's exports, as the board library calls them: one C function per export of build/mcu.wasm that the
 * library uses, with the export's name behind the `iothub_core_` prefix and its WebAssembly signature (every value
 * an i32, passed as int32_t/uint32_t).
 *
 * How the core is hosted is behind this header. core_wasm2c.c binds it to wasm2c's translation of mcu.wasm (native
 * code, no interpreter). A board that runs mcu.wasm in an interpreter implements these same functions over the
 * interpreter's call API instead (wasm3: m3_FindFunction once, then m3_CallV/m3_GetResultsV per call; WAMR:
 * wasm_runtime_lookup_function once, then wasm_runtime_call_wasm), and iothub_core_memory() returns the base of the
 * instance's linear memory (m3_GetMemory, wasm_runtime_addr_app_to_native(inst, 0)). Nothing else changes.
 */
#ifndef IOTHUB_CORE_H
#define IOTHUB_CORE_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Instantiates the core (once per boot: later calls return the first one's result and change nothing). Returns 0, or
 * IOTHUB_WASM_BAD_STATE if the module's ABI version is not the one iothub_wasm_abi.h was generated for, or its
 * memory is shorter than abi_heap_base(). */
int32_t iothub_core_load(void);
/* Base of the core's linear memory and its size in bytes: a core pointer p is iothub_core_memory() + p. */
uint8_t *iothub_core_memory(void);
uint32_t iothub_core_memory_size(void);

uint32_t iothub_core_abi_version(void);
uint32_t iothub_core_abi_io_ptr(void);
uint32_t iothub_core_abi_io_capacity(void);
uint32_t iothub_core_abi_status_name(int32_t code);

int32_t iothub_core_client_init(uint32_t ptr, uint32_t len);
int32_t iothub_core_client_option_set(uint32_t opt, int32_t value);
int32_t iothub_core_client_model_id_set(uint32_t ptr, uint32_t len);
void iothub_core_client_seed_set(uint32_t seed);
void iothub_core_client_time_set(uint32_t unix_seconds, uint32_t now_ms);
uint32_t iothub_core_client_endpoint_ptr(void);
int32_t iothub_core_client_endpoint_len(void);
int32_t iothub_core_client_endpoint_port(uint32_t transport);
uint32_t iothub_core_client_hostname_ptr(void);
int32_t iothub_core_client_hostname_len(void);
int32_t iothub_core_client_x509_enabled(void);

int32_t iothub_core_client_start(uint32_t now_ms);
void iothub_core_client_stop(uint32_t now_ms);
uint32_t iothub_core_client_wants(void);
uint32_t iothub_core_client_state(void);
int32_t iothub_core_client_transport_up(uint32_t now_ms);
void iothub_core_client_transport_down(uint32_t now_ms);
uint32_t iothub_core_client_rx_window(void);
int32_t iothub_core_client_rx_space(void);
int32_t iothub_core_client_rx_commit(uint32_t n);
uint32_t iothub_core_client_tx_ptr(void);
int32_t iothub_core_client_tx_len(void);
int32_t iothub_core_client_tx_consumed(uint32_t n);
uint32_t iothub_core_client_poll(uint32_t now_ms);
uint32_t iothub_core_client_event_ptr(void);
int32_t iothub_core_client_next_timeout(void);

void iothub_core_client_telemetry_begin(void);
int32_t iothub_core_client_telemetry_property_add(uint32_t name, uint32_t name_len, uint32_t value, int32_t value_len);
int32_t iothub_core_client_telemetry_system_add(int32_t which, uint32_t value, int32_t value_len);
int32_t iothub_core_client_telemetry_send(uint32_t payload, uint32_t len, int32_t qos);
int32_t iothub_core_client_c2d_ack(uint32_t packet_id);
int32_t iothub_core_client_method_respond(uint32_t rid, uint32_t rid_len, int32_t status, uint32_t payload,
                                          uint32_t len);
int32_t iothub_core_client_twin_get(uint32_t now_ms);
int32_t iothub_core_client_twin_patch(uint32_t body, uint32_t len, uint32_t now_ms);
int32_t iothub_core_client_twin_error(int32_t status);
void iothub_core_client_twin_desired_applied(uint32_t version);
int32_t iothub_core_client_telemetry_store(uint32_t payload, uint32_t len, uint32_t now_ms);
uint32_t iothub_core_client_store_ptr(void);
int32_t iothub_core_client_store_len(void);
int32_t iothub_core_client_store_done(uint32_t token);
int32_t iothub_core_client_store_check(uint32_t ptr, uint32_t len);
uint32_t iothub_core_client_store_token(void);
int32_t iothub_core_client_store_kind(void);
int32_t iothub_core_client_store_restore(uint32_t ptr, uint32_t len);
int32_t iothub_core_client_bag_begin(uint32_t ptr, int32_t len);
int32_t iothub_core_client_bag_next(void);
uint32_t iothub_core_client_bag_item_ptr(void);

#ifdef __cplusplus
}
#endif

#endif
