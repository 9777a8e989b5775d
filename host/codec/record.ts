// The core's Packet record as word offsets of its u32 fields, from the generated layout.
import { PACKET_RECORD_WORDS } from '../wasm/abi.generated.js';

export const F = PACKET_RECORD_WORDS;
export const RECORD_WORDS = F.WORDS;
