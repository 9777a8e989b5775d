// Runs Microsoft's service SDKs (azure-iothub, @azure/event-hubs) unchanged in a child process started with
// NODE_EXTRA_CA_CERTS = the hub's CA (the SDKs have no CA option; Node reads that variable at start). The parent test
// sends {id, op, args} over IPC; the answer is {id, result} or {id, error: {name, message}}.
import iothub from 'azure-iothub';
import common from 'azure-iot-common';
import { EventHubConsumerClient, earliestEventPosition, type ReceivedEventData, type Subscription } from '@azure/event-hubs';
import { PortAgent } from './port-agent.js';

const { Client, Registry } = iothub;

type RestCarrier = { _restApiClient: { setOptions(o: unknown): void } };
function redirect<T>(sdkObject: T, restPort: number): T {
  (sdkObject as unknown as RestCarrier)._restApiClient.setOptions({ http: { agent: new PortAgent(restPort, { keepAlive: true }) } });
  return sdkObject;
}
function registry(a: Args): InstanceType<typeof Registry> {
  return redirect(Registry.fromConnectionString(a['cs'] as string), a['restPort'] as number);
}
function twinView(t: { etag: string; tags: unknown; properties: { desired: unknown; reported: unknown } }): unknown {
  return { etag: t.etag, tags: t.tags, desired: t.properties.desired, reported: t.properties.reported };
}
const { Message } = common;
type ServiceClient = InstanceType<typeof Client>;

const clients = new Map<string, ServiceClient>();
const feedback: unknown[][] = [];
const feedbackWaiters: ((v: unknown[]) => void)[] = [];

async function client(cs: string): Promise<ServiceClient> {
  let c = clients.get(cs);
  if (!c) {
    c = Client.fromConnectionString(cs);
    clients.set(cs, c);
  }
  return c;
}

type Args = Record<string, unknown>;

const ops: Record<string, (a: Args) => Promise<unknown>> = {
  async open(a) {
    const c = await client(a['cs'] as string);
    await c.open();
    return 'open';
  },
  async send(a) {
    const c = await client(a['cs'] as string);
    const m = new Message(a['data'] as string);
    if (a['messageId']) m.messageId = a['messageId'] as string;
    if (a['ack']) m.ack = a['ack'] as string;
    if (a['expiryMs']) m.expiryTimeUtc = Date.now() + (a['expiryMs'] as number);
    for (const [k, v] of Object.entries((a['properties'] as Record<string, string>) ?? {})) m.properties.add(k, v);
    const r = await c.send(a['deviceId'] as string, m);
    return r.result?.constructor?.name ?? 'sent';
  },
  async feedbackReceiver(a) {
    const c = await client(a['cs'] as string);
    const { result: receiver } = await c.getFeedbackReceiver();
    receiver.on('message', (msg: InstanceType<typeof Message>) => {
      const records = JSON.parse(msg.getData().toString()) as unknown[];
      receiver.complete(msg, () => {});
      const w = feedbackWaiters.shift();
      if (w) w(records); else feedback.push(records);
    });
    return 'attached';
  },
  async nextFeedback() {
    const ready = feedback.shift();
    if (ready) return ready;
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error('no feedback within 5 s')), 5000);
      feedbackWaiters.push((v) => { clearTimeout(t); resolve(v); });
    });
  },
  /** Any Registry method, by name, with JSON arguments: answers the response body (or the HTTP status for none). */
  async reg(a) {
    const r = registry(a) as unknown as Record<string, (...args: unknown[]) => Promise<{ responseBody?: unknown; httpResponse?: { statusCode?: number } }>>;
    const method = a['method'] as string;
    if (typeof r[method] !== 'function') throw new Error(`Registry has no method ${method}`);
    const out = await r[method]!.apply(r, a['args'] as unknown[]);
    return out?.responseBody ?? out?.httpResponse?.statusCode ?? null;
  },
  /** Registry.createQuery(sql, pageSize) paged to its end: nextAsTwin (`twin: true`) or next, each page's items and continuation token. */
  async query(a) {
    const q = registry(a).createQuery(a['sql'] as string, a['pageSize'] as number | undefined);
    const pages: { items: unknown[]; continuation: string | null }[] = [];
    while (q.hasMoreResults) {
      if (pages.length > 1000) throw new Error('more than 1000 pages');
      // Query.next() with no argument asks for the first page again (its own token is only used via nextAsTwin)
      const r = a['twin'] ? await q.nextAsTwin() : await q.next(q.continuationToken ?? undefined);
      const items = (r.result as unknown[]).map((t) => (a['twin'] ? { deviceId: (t as { deviceId: string }).deviceId, moduleId: (t as { moduleId?: string }).moduleId, tags: (t as { tags: unknown }).tags, isTwin: t?.constructor?.name === 'Twin' } : t));
      pages.push({ items, continuation: q.continuationToken ?? null });
    }
    return pages;
  },
  async regCreate(a) {
    const r = await registry(a).create({ deviceId: a['deviceId'] as string });
    return r.responseBody;
  },
  async regGet(a) {
    return (await registry(a).get(a['deviceId'] as string)).responseBody;
  },
  async regDelete(a) {
    await registry(a).delete(a['deviceId'] as string);
    return 'deleted';
  },
  async getTwin(a) {
    return twinView((await registry(a).getTwin(a['deviceId'] as string)).responseBody as never);
  },
  async updateTwin(a) {
    return twinView((await registry(a).updateTwin(a['deviceId'] as string, a['patch'], a['etag'] as string)).responseBody as never);
  },
  async invoke(a) {
    const c = redirect(Client.fromConnectionString(a['cs'] as string), a['restPort'] as number);
    try {
      const r = await c.invokeDeviceMethod(a['deviceId'] as string, { methodName: a['methodName'] as string, payload: a['payload'], responseTimeoutInSeconds: (a['timeout'] as number) ?? 5 });
      return r.result;
    } finally {
      await c.close().catch(() => {});
    }
  },
  /** Client.invokeDeviceMethod on a module: (deviceId, moduleId, params). */
  async invokeModule(a) {
    const c = redirect(Client.fromConnectionString(a['cs'] as string), a['restPort'] as number);
    try {
      const r = await c.invokeDeviceMethod(a['deviceId'] as string, a['moduleId'] as string, { methodName: a['methodName'] as string, payload: a['payload'], responseTimeoutInSeconds: (a['timeout'] as number) ?? 5 });
      return r.result;
    } finally {
      await c.close().catch(() => {});
    }
  },
  async closeAll() {
    for (const c of clients.values()) await c.close().catch(() => {});
    clients.clear();
    return 'closed';
  },
  /** Reads `count` events from all partitions with EventHubConsumerClient; `from`: 'earliest' or a sequence number per partition. */
  async readEvents(a) {
    const consumer = new EventHubConsumerClient('$Default', a['cs'] as string, {
      customEndpointAddress: a['endpoint'] as string,
      ...(a['maxRetries'] !== undefined ? { retryOptions: { maxRetries: a['maxRetries'] as number, timeoutInMs: 5000 } } : {}),
    });
    try {
      const props = await consumer.getEventHubProperties();
      const partitionProps = await Promise.all(props.partitionIds.map((p) => consumer.getPartitionProperties(p)));
      const want = a['count'] as number;
      const got: { partitionId: string; sequenceNumber: number; offset: string | number; body: unknown; deviceId: unknown; properties: unknown; enqueuedTimeUtc: string }[] = [];
      const fromSeq = a['fromSequenceNumber'] as Record<string, number> | undefined;
      await new Promise<void>((resolve, reject) => {
        const t = setTimeout(() => { void sub.close(); reject(new Error(`only ${got.length} of ${want} events within 10 s`)); }, 10_000);
        const sub: Subscription = consumer.subscribe({
          processEvents: async (events: ReceivedEventData[], ctx) => {
            for (const e of events) {
              got.push({
                partitionId: ctx.partitionId, sequenceNumber: e.sequenceNumber, offset: e.offset, body: e.body,
                deviceId: e.systemProperties?.['iothub-connection-device-id'], properties: e.properties ?? {},
                enqueuedTimeUtc: e.enqueuedTimeUtc.toISOString(),
              });
            }
            if (got.length >= want) { clearTimeout(t); await sub.close(); resolve(); }
          },
          processError: async (err) => { clearTimeout(t); await sub.close(); reject(err); },
        }, {
          startPosition: fromSeq ? Object.fromEntries(Object.entries(fromSeq).map(([p, s]) => [p, { sequenceNumber: s }])) : earliestEventPosition,
          maxWaitTimeInSeconds: 1,
        });
      });
      return { hub: { name: props.name, partitionIds: props.partitionIds }, partitions: partitionProps.map((p) => ({ id: p.partitionId, last: p.lastEnqueuedSequenceNumber, isEmpty: p.isEmpty })), events: got };
    } finally {
      await consumer.close();
    }
  },
};

process.on('message', (req: { id: number; op: string; args: Args }) => {
  const op = ops[req.op];
  if (!op) { process.send!({ id: req.id, error: { name: 'Error', message: `no op ${req.op}` } }); return; }
  op(req.args ?? {}).then(
    (result) => process.send!({ id: req.id, result }),
    (e: Error) => process.send!({ id: req.id, error: { name: e?.name && e.name !== 'Error' ? e.name : e?.constructor?.name ?? 'Error', message: String(e?.message ?? e) + ((e as Error & { amqpError?: Error }).amqpError ? ` (amqpError: ${(e as Error & { amqpError?: Error }).amqpError!.name}: ${(e as Error & { amqpError?: Error }).amqpError!.message})` : '') } }),
  );
});
process.on('disconnect', () => process.exit(0));
