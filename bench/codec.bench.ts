// Codec throughput vs mqtt-packet, same process, same packets: QoS 1 PUBLISH shaped like IoT Hub telemetry.
//  - core level: bytes already in module memory → decoded fields, and fields → bytes (what an MCU sees);
//  - JavaScript level: PacketDecoder.push / encodePacket vs mqtt-packet's parser / generate.
// Also the size of the codec alone, compiled for the MCU profile, and of the built modules.
import { readFileSync, statSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import mqttPacket from 'mqtt-packet';
import asc from 'assemblyscript/asc';
import { Core, wasmPath } from '../host/wasm/core.js';
import { encodePacket, PacketDecoder, type PublishPacket } from '../host/codec/index.js';
import { F, RECORD_WORDS } from '../host/codec/record.js';
import { opsPerSecond, fmtRate, type BenchSuite, type BenchRow } from './harness.js';

const TOPIC = 'devices/thermostat-0042/messages/events/%24.mid=7d3c1f0a-9a2b-4c1e-8f00-000000000001&%24.ct=application%2Fjson&%24.ce=utf-8&alert=high';

function publish(size: number): PublishPacket {
  return { cmd: 'publish', topic: TOPIC, payload: Buffer.alloc(size, 0x7b), qos: 1, messageId: 4242, retain: false, dup: false };
}

/** The codec alone (assembly/mqtt/abi.ts), compiled with the MCU target's own options from asconfig.json. */
async function codecOnlySize(): Promise<number> {
  const root = fileURLToPath(new URL('../../', import.meta.url));
  const mcu = JSON.parse(readFileSync(`${root}asconfig.json`, 'utf8')).targets.mcu as { use: string[]; disable: string[] };
  let size = 0;
  const { error, stderr } = await asc.main([
    `${root}assembly/mqtt/abi.ts`, '--runtime', `${root}assembly/runtime/no-alloc`, '-O3', '--shrinkLevel', '2',
    ...mcu.use.flatMap((u) => ['--use', u]), '--disable', mcu.disable.join(','),
    '--initialMemory', '1', '--maximumMemory', '1', '--stackSize', '2048', '--outFile', 'codec.wasm',
  ], {
    // Only the codec's sources: not the project's asconfig.json, whose entry is the whole core.
    readFile: (name: string, baseDir: string) => {
      if (name.endsWith('asconfig.json')) return null;
      try { return readFileSync(name.startsWith('/') ? name : `${baseDir}/${name}`, 'utf8'); } catch { return null; }
    },
    writeFile: (_n: string, contents: string | Uint8Array) => { size = contents.length; },
  });
  if (error) throw new Error(`codec-only build failed: ${error.message} ${String(stderr)}`);
  return size;
}

/** A full GC when the process can have one (v8 flag set at run time, as the bench is started without --expose-gc). */
function collect(): void {
  setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as () => void;
  gc();
  gc();
}

/**
 * What a decoder costs to have: to create (the first one also instantiates the profile's shared core), to keep
 * (2,000 decoders each holding half a packet, heap and external memory after GC), and to decode a 200-packet
 * stream with a fresh decoder each time — beside mqtt-packet's parser.
 */
function decoderCosts(log: (line: string) => void): BenchRow[] {
  const t0 = performance.now();
  new PacketDecoder();
  const firstMs = performance.now() - t0;
  const ours = 1e6 / opsPerSecond(() => { new PacketDecoder(); }, 500);
  const theirs = 1e6 / opsPerSecond(() => { mqttPacket.parser({ protocolVersion: 4 }); }, 500);
  const half = mqttPacket.generate(publish(100) as never).subarray(0, 60);
  const perDecoder = (make: () => (b: Buffer) => unknown): number => {
    const keep: unknown[] = [];
    collect();
    const m0 = process.memoryUsage();
    for (let i = 0; i < 2000; i++) { const push = make(); push(half); keep.push(push); }
    collect();
    const m1 = process.memoryUsage();
    if (keep.length !== 2000) throw new Error('lost decoders');
    return (m1.heapUsed + m1.external - m0.heapUsed - m0.external) / 2000;
  };
  const oursMem = perDecoder(() => { const d = new PacketDecoder(); return (b) => d.push(b); });
  const theirsMem = perDecoder(() => { const p = mqttPacket.parser({ protocolVersion: 4 }); p.on('packet', () => {}); return (b) => p.parse(b); });
  const stream = Buffer.concat(Array.from({ length: 200 }, (_, i) => mqttPacket.generate({ ...publish(100), messageId: i + 1 } as never)));
  let n = 0;
  const oursStream = opsPerSecond(() => { n += new PacketDecoder().push(stream).length; }, 500);
  const theirsStream = opsPerSecond(() => { const p = mqttPacket.parser({ protocolVersion: 4 }); p.on('packet', () => { n++; }); p.parse(stream); }, 500);
  if (n === 0) throw new Error('decoded nothing');
  log(`decoder: create ${ours.toFixed(2)} µs (the first ${firstMs.toFixed(1)} ms: it instantiates the shared core), mqtt-packet parser ${theirs.toFixed(2)} µs → ${(ours / theirs).toFixed(2)}× (target ≤ 2×)`);
  log(`  memory per decoder holding half a packet ${(oursMem / 1024).toFixed(2)} KiB, mqtt-packet's ${(theirsMem / 1024).toFixed(2)} KiB (heap + external, after GC, 2,000 of each)`);
  log(`  200-packet stream with a fresh decoder: ${fmtRate(oursStream)} vs mqtt-packet ${fmtRate(theirsStream)} → ${(oursStream / theirsStream).toFixed(2)}×`);
  return [{
    name: 'decoder cost', createUs: +ours.toFixed(3), mqttPacketCreateUs: +theirs.toFixed(3), createRatio: +(ours / theirs).toFixed(3), firstCreateMs: +firstMs.toFixed(1),
    bytesPerDecoder: Math.round(oursMem), mqttPacketBytesPerDecoder: Math.round(theirsMem),
    freshStream200PerSec: Math.round(oursStream), mqttPacketFreshStream200PerSec: Math.round(theirsStream), freshStreamRatio: +(oursStream / theirsStream).toFixed(3),
  }];
}

const suite: BenchSuite = {
  name: 'codec',
  async run({ log }) {
    // First, while no core exists in this process: the first decoder pays for the shared core's instance.
    const rows: BenchRow[] = decoderCosts(log);
    for (const size of [100, 1024, 4096, 16384]) {
      const pkt = publish(size);
      const bytes = mqttPacket.generate(pkt as never);

      // Core level: the packet bytes sit in module memory; decode fills the Packet record (views, no copies).
      const core = new Core('gateway');
      const ex = core.exports;
      const at = core.io;
      core.u8.set(bytes, at);
      if (ex.mqtt_packet_decode_at(at, bytes.length) !== bytes.length) throw new Error('core decode failed');
      const coreDecode = opsPerSecond(() => { ex.mqtt_packet_decode_at(at, bytes.length); });

      // Core level encode: topic and payload already in memory, fields set in the record.
      const topic = Buffer.from(TOPIC);
      core.u8.set(topic, at);
      core.u8.set(pkt.payload as Buffer, at + topic.length);
      const rec = new Uint32Array(core.memory.buffer, ex.mqtt_packet_encode_ptr(), RECORD_WORDS);
      const fill = () => {
        rec[F.type] = 3; rec[F.qos] = 1; rec[F.messageId] = 4242;
        rec[F.topicPtr] = at; rec[F.topicLen] = topic.length; rec[F.payloadPtr] = at + topic.length; rec[F.payloadLen] = size;
      };
      fill();
      if (ex.mqtt_packet_encode() !== bytes.length) throw new Error('core encode failed');
      const coreEncode = opsPerSecond(() => { fill(); ex.mqtt_packet_encode(); });

      // mqtt-packet: its parser (a fresh parse of the same bytes) and generate.
      const parser = mqttPacket.parser({ protocolVersion: 4 });
      let got = 0;
      parser.on('packet', () => { got++; });
      const mpParse = opsPerSecond(() => { parser.parse(bytes); });
      const mpGenerate = opsPerSecond(() => { mqttPacket.generate(pkt as never); });

      // JavaScript level: our streaming decoder and encoder producing the same objects/bytes.
      const decoder = new PacketDecoder();
      const jsDecode = opsPerSecond(() => { decoder.push(bytes); });
      const jsEncode = opsPerSecond(() => { encodePacket(pkt); });
      if (got === 0) throw new Error('mqtt-packet parsed nothing');

      const row = {
        name: `publish qos1 ${size} B`,
        coreDecodePerSec: Math.round(coreDecode), coreEncodePerSec: Math.round(coreEncode),
        jsDecodePerSec: Math.round(jsDecode), jsEncodePerSec: Math.round(jsEncode),
        mqttPacketParsePerSec: Math.round(mpParse), mqttPacketGeneratePerSec: Math.round(mpGenerate),
        coreDecodeVsParse: +(coreDecode / mpParse).toFixed(2), coreEncodeVsGenerate: +(coreEncode / mpGenerate).toFixed(2),
        jsDecodeVsParse: +(jsDecode / mpParse).toFixed(2), jsEncodeVsGenerate: +(jsEncode / mpGenerate).toFixed(2),
      };
      rows.push(row);
      log(`${row.name}`);
      log(`  decode  core ${fmtRate(coreDecode).padStart(10)}  js ${fmtRate(jsDecode).padStart(10)}  mqtt-packet parse    ${fmtRate(mpParse).padStart(10)}  → core ${row.coreDecodeVsParse}×, js ${row.jsDecodeVsParse}×`);
      log(`  encode  core ${fmtRate(coreEncode).padStart(10)}  js ${fmtRate(jsEncode).padStart(10)}  mqtt-packet generate ${fmtRate(mpGenerate).padStart(10)}  → core ${row.coreEncodeVsGenerate}×, js ${row.jsEncodeVsGenerate}×`);
    }
    const codecOnly = await codecOnlySize();
    const sizes = { name: 'wasm size (bytes)', codecOnlyMcu: codecOnly, mcu: statSync(wasmPath('mcu')).size, gateway: statSync(wasmPath('gateway')).size };
    rows.push(sizes);
    log(`wasm size: codec alone (MCU profile) ${(codecOnly / 1024).toFixed(1)} KiB; build/mcu.wasm ${(sizes.mcu / 1024).toFixed(1)} KiB; build/gateway.wasm ${(sizes.gateway / 1024).toFixed(1)} KiB`);
    return rows;
  },
};
export default suite;
