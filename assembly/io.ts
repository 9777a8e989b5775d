// The host↔core argument window (IO_CAPACITY bytes): hosts write inputs here and read outputs from here. Its own
// file so that the layers that hand results back through it (the store records of client/store.ts) can reach it.
import { IO_CAPACITY } from "./profile";

export const IO: usize = memory.data(IO_CAPACITY, 16);
