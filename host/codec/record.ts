// The core's Packet record as word offsets of its u32 fields, from the generated layout (PACKET_RECORD).
import { PACKET_RECORD } from '../wasm/abi.generated.js';
import { wordOffsets } from '../wasm/layout.js';

export const F = wordOffsets(PACKET_RECORD);
export const RECORD_WORDS = F.WORDS;
