// Unit specs for the device client's building blocks: the outbox (slots, arena, order, compaction) and the
// twin request table. The whole machine is tested from node:test against the local hub and a scripted peer.
import * as Ob from "../client/outbox";
import * as Rq from "../client/requests";

function fill(i: i32, byte: u8): void {
  const s = Ob.slotAt(i);
  const p = Ob.slotBytes(s);
  for (let k: u32 = 0; k < s.len; k++) store<u8>(p + <usize>k, byte);
}

describe("outbox", () => {
  it("reserves slots up to the profile's count, then refuses", () => {
    Ob.outboxReset();
    let last = 0;
    for (let i = 0; i < Ob.slotCount(); i++) {
      last = Ob.reserve(Ob.KIND_TELEMETRY_QOS1, 10);
      expect(last).toBeGreaterThanOrEqual(0);
    }
    expect(Ob.reserve(Ob.KIND_TELEMETRY_QOS1, 10)).toBe(-1);
    expect(Ob.liveCount()).toBe(Ob.slotCount());
  });

  it("hands out the oldest unsent first and finds in-flight messages by packet id", () => {
    Ob.outboxReset();
    const a = Ob.reserve(Ob.KIND_TELEMETRY_QOS1, 8);
    const b = Ob.reserve(Ob.KIND_TELEMETRY_QOS1, 8);
    // QoS 1 ids are chosen by slot (machine.ts slotPacketId): id - 1 ≡ slot modulo the slot count
    const n = <u32>Ob.slotCount();
    const idA = 3 * n + <u32>a + 1, idB = 5 * n + <u32>b + 1;
    Ob.slotAt(a).packetId = idA;
    Ob.slotAt(b).packetId = idB;
    expect(Ob.oldest(Ob.UNSENT)).toBe(a);
    Ob.setState(Ob.slotAt(a), Ob.INFLIGHT);
    expect(Ob.oldest(Ob.UNSENT)).toBe(b);
    expect(Ob.findInflight(idA)).toBe(a);
    expect(Ob.findInflight(idA + n)).toBe(-1); // the same slot, another id: a stale PUBACK
    expect(Ob.findInflight(idB)).toBe(-1); // not in flight yet
    expect(Ob.findInflight(0)).toBe(-1);
    expect(Ob.findInflight(65536)).toBe(-1);
    Ob.setState(Ob.slotAt(b), Ob.INFLIGHT);
    expect(Ob.findInflight(idB)).toBe(b);
    Ob.release(a);
    expect(Ob.findInflight(idA)).toBe(-1);
    expect(Ob.oldest(Ob.FAILED)).toBe(-1);
  });

  it("compacts the arena in sending order when an append does not fit at its end", () => {
    Ob.outboxReset();
    const big = Ob.slotCount() > 8 ? 4096 : 2000; // a third of the arena or so
    const a = Ob.reserve(Ob.KIND_TELEMETRY_QOS1, big);
    const b = Ob.reserve(Ob.KIND_TELEMETRY_QOS1, big);
    const c = Ob.reserve(Ob.KIND_TELEMETRY_QOS1, big);
    fill(a, 0xAA); fill(b, 0xBB); fill(c, 0xCC);
    Ob.release(a); // a hole at the front
    expect(Ob.roomFor(big * 2)).toBe(true); // only after compaction
    expect(Ob.slotAt(b).offset).toBe(0);
    expect(load<u8>(Ob.slotBytes(Ob.slotAt(b)))).toBe(0xBB);
    expect(load<u8>(Ob.slotBytes(Ob.slotAt(c)) + <usize>(big - 1))).toBe(0xCC);
    expect(Ob.oldest(Ob.UNSENT)).toBe(b);
  });
});

describe("twin requests", () => {
  it("correlates answers by request id once, and refuses when full", () => {
    Rq.requestsReset();
    expect(Rq.requestOpen(1, 1000, 0)).toBe(true);
    expect(Rq.requestOpen(2, 2000, 1)).toBe(true);
    expect(Rq.requestAnswered(1)).toBe(true);
    expect(Rq.requestAnswered(1)).toBe(false); // late duplicate
    while (!Rq.requestsFull()) Rq.requestOpen(99, 5000, 2);
    expect(Rq.requestOpen(100, 5000, 3)).toBe(false);
  });

  it("reports expiry (with the unsent slot to drop) and failures of sent requests", () => {
    Rq.requestsReset();
    Rq.requestOpen(5, 1000, 3);
    Rq.requestOpen(6, 9000, 4);
    Rq.requestSent(6);
    expect(Rq.requestsNextDeadline(500)).toBe(500);
    expect(Rq.requestTakeDone(999)).toBe(false);
    expect(Rq.requestTakeDone(1000)).toBe(true);
    expect(Rq.doneRid).toBe(5);
    expect(Rq.doneExpired).toBe(true);
    expect(Rq.doneSlot).toBe(3);
    Rq.requestsFail(-315, true);
    expect(Rq.requestTakeDone(1001)).toBe(true);
    expect(Rq.doneRid).toBe(6);
    expect(Rq.doneExpired).toBe(false);
    expect(Rq.doneStatus).toBe(-315);
    expect(Rq.requestTakeDone(1002)).toBe(false);
  });
});
