// Merges mcu.wasm's active data segments that lie close together, for the C boards: wasm2c turns every segment into
// one bounds-checked copy at instantiation (~36 bytes of Thumb code each), and AssemblyScript emits one per static
// string (281 today). Segments less than `maxGap` bytes apart become one, the gap filled with the zeros the memory
// holds there anyway, so the memory after instantiation is byte for byte the same. Nothing else in the module
// changes meaning (binaryen reads and writes it; the MVP feature set is kept).
import binaryen from 'binaryen';

export function mergeDataSegments(wasm, maxGap = 32) {
  const mod = binaryen.readBinary(wasm);
  try {
    mod.setFeatures(binaryen.Features.MVP);
    const n = mod.getNumMemorySegments();
    const segs = [];
    for (let i = 0; i < n; i++) {
      const s = mod.getMemorySegmentInfoByIndex(i);
      if (s.passive || typeof s.offset !== 'number') throw new Error('merge-data-segments: only active segments at constant offsets');
      segs.push({ offset: s.offset, data: new Uint8Array(s.data) });
    }
    segs.sort((a, b) => a.offset - b.offset);
    const merged = [];
    for (const s of segs) {
      const last = merged.at(-1);
      if (last && s.offset < last.offset + last.data.length) throw new Error('merge-data-segments: overlapping segments');
      if (last && s.offset - (last.offset + last.data.length) < maxGap) {
        const data = new Uint8Array(s.offset + s.data.length - last.offset);
        data.set(last.data, 0);
        data.set(s.data, s.offset - last.offset);
        last.data = data;
      } else {
        merged.push({ offset: s.offset, data: s.data });
      }
    }
    const mem = mod.getMemoryInfo();
    mod.setMemory(mem.initial, mem.max, null, merged.map((s) => ({ offset: mod.i32.const(s.offset), data: s.data, passive: false })), false);
    if (!mod.validate()) throw new Error('merge-data-segments: the merged module does not validate');
    return { wasm: mod.emitBinary(), before: n, after: merged.length };
  } finally {
    mod.dispose();
  }
}
