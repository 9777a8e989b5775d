// Word views of the core's records: the generated layouts (abi.generated.ts) give byte offsets; records whose
// fields are all 32-bit are read through Uint32Array/Int32Array views, indexed by word.

type Fields<T> = Exclude<keyof T, 'SIZE'>;

/** The word index of each field of a record layout, and the record's length in words. */
export function wordOffsets<T extends { readonly SIZE: number }>(layout: T): { readonly [K in Fields<T>]: number } & { readonly WORDS: number } {
  const out: Record<string, number> = { WORDS: layout.SIZE >> 2 };
  for (const [k, v] of Object.entries(layout)) if (k !== 'SIZE') out[k] = (v as number) >> 2;
  return out as { readonly [K in Fields<T>]: number } & { readonly WORDS: number };
}
