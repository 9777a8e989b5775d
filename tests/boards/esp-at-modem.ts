// An emulator of the Wi-Fi module the mps2-an385 image talks to on UART0: Espressif's ESP-AT command set in
// single-connection normal transmission mode (the contract in boards/README.md and issue 11), with TLS done here,
// as on the module, trusting the hub's CA (a real module has its CA flashed). QEMU connects to it with
// `-chardev socket,id=modem,host=127.0.0.1,port=P`; the module's side of the UART is that socket.
//
//   AT → OK · ATE0 → OK · AT+CIPSNTPTIME? → +CIPSNTPTIME:<asctime UTC> OK · AT+CIPSSLCSNI="<host>" → OK
//   AT+CIPSTART="SSL","<host>",<port> → CONNECT OK | ERROR · AT+CIPSEND=<n> → OK > (n bytes) Recv <n> bytes, SEND OK
//   AT+CIPCLOSE → CLOSED OK | ERROR · from the peer: +IPD,<n>:<bytes>, and CLOSED when it closes
import { EventEmitter } from 'node:events';
import { createServer, type Server, type Socket } from 'node:net';
import { connect as tlsConnect, type TLSSocket } from 'node:tls';

export interface EspAtModemOptions {
  /** The CA the module trusts (the hub's). */
  ca: string;
  /** The time AT+CIPSNTPTIME? answers (default: now). */
  now?: () => Date;
  /** Largest +IPD chunk (ESP-AT gives what one TCP segment brought). */
  ipdChunk?: number;
}

const DAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
const two = (n: number) => String(n).padStart(2, '0');

/** ESP-AT's +CIPSNTPTIME format: "Thu Aug 04 14:48:05 2016" (UTC here: the module's time zone is 0). */
export function asctime(d: Date): string {
  return `${DAYS[d.getUTCDay()]} ${MONTHS[d.getUTCMonth()]} ${two(d.getUTCDate())} ${two(d.getUTCHours())}:` +
    `${two(d.getUTCMinutes())}:${two(d.getUTCSeconds())} ${d.getUTCFullYear()}`;
}

/**
 * Events: 'command' (line), 'link' (host, port, sni: a CIPSTART connected), 'linkDown' (why: 'peer' | 'close' |
 * 'injected'), 'uart' (the firmware's side connected).
 */
export class EspAtModem extends EventEmitter {
  /** Every AT command line the firmware sent, in order. */
  readonly commands: string[] = [];
  /** CIPSTARTs that connected. */
  links = 0;
  /** Payload bytes the firmware sent through CIPSEND, and bytes delivered to it as +IPD. */
  bytesUp = 0;
  bytesDown = 0;
  /** The next this many CIPSTARTs answer ERROR without connecting (as a module does when the host is unreachable). */
  refuseStarts = 0;

  private uart: Socket | null = null;
  private tls: TLSSocket | null = null;
  private echo = true;
  private sni = '';
  private rx: Buffer = Buffer.alloc(0);
  /** Bytes a CIPSEND still expects, with what has come of them. */
  private dataLeft = 0;
  private dataChunks: Buffer[] = [];
  /** A CLOSED held back while the firmware is in the middle of a CIPSEND's bytes. */
  private closedPending = false;
  private connecting = false;

  private constructor(private readonly server: Server, readonly port: number, private readonly opts: EspAtModemOptions) {
    super();
  }

  static start(opts: EspAtModemOptions): Promise<EspAtModem> {
    return new Promise((resolve, reject) => {
      const server = createServer();
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => {
        const addr = server.address();
        if (!addr || typeof addr === 'string') return reject(new Error('no port'));
        const modem = new EspAtModem(server, addr.port, opts);
        server.on('connection', (s) => modem.attach(s));
        resolve(modem);
      });
    });
  }

  /** Drops the TLS link as if the hub's side closed it: the firmware gets an unsolicited CLOSED. */
  injectClosed(): void {
    const t = this.tls;
    if (!t) throw new Error('injectClosed: no link');
    this.linkGone(t, 'injected');
    t.destroy();
  }

  get linkUp(): boolean { return this.tls !== null; }

  async close(): Promise<void> {
    this.tls?.destroy();
    this.tls = null;
    this.uart?.destroy();
    this.uart = null;
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private attach(s: Socket): void {
    if (this.uart) { s.destroy(); return; } // one UART
    this.uart = s;
    s.setNoDelay(true);
    s.on('data', (b: Buffer) => this.onUart(b));
    s.on('error', () => {});
    s.on('close', () => { if (this.uart === s) { this.uart = null; this.tls?.destroy(); this.tls = null; } });
    this.emit('uart');
  }

  private send(text: string | Buffer): void {
    this.uart?.write(text);
  }

  private onUart(b: Buffer): void {
    this.rx = this.rx.length ? Buffer.concat([this.rx, b]) : b;
    for (;;) {
      if (this.dataLeft > 0) {
        if (this.rx.length === 0) return;
        const n = Math.min(this.dataLeft, this.rx.length);
        this.dataChunks.push(this.rx.subarray(0, n));
        this.rx = this.rx.subarray(n);
        this.dataLeft -= n;
        if (this.dataLeft === 0) this.sendDone();
        continue;
      }
      const nl = this.rx.indexOf(0x0a);
      if (nl < 0) return;
      const line = this.rx.subarray(0, nl).toString('latin1').replace(/\r$/, '');
      this.rx = this.rx.subarray(nl + 1);
      if (line.length) this.onCommand(line);
    }
  }

  private onCommand(line: string): void {
    this.commands.push(line);
    this.emit('command', line);
    if (this.echo) this.send(`${line}\r\n`);
    let m: RegExpExecArray | null;
    if (line === 'AT') this.send('\r\nOK\r\n');
    else if (line === 'ATE0') { this.echo = false; this.send('\r\nOK\r\n'); }
    else if (line === 'ATE1') { this.echo = true; this.send('\r\nOK\r\n'); }
    else if (line === 'AT+CIPSNTPTIME?') this.send(`+CIPSNTPTIME:${asctime((this.opts.now ?? (() => new Date()))())}\r\nOK\r\n`);
    else if ((m = /^AT\+CIPSSLCSNI="([^"]*)"$/.exec(line))) { this.sni = m[1]; this.send('\r\nOK\r\n'); }
    else if ((m = /^AT\+CIPSTART="SSL","([^"]+)",(\d+)$/.exec(line))) this.start(m[1], Number(m[2]));
    else if ((m = /^AT\+CIPSEND=(\d+)$/.exec(line))) {
      const n = Number(m[1]);
      if (!this.tls || this.connecting) this.send('link is not valid\r\n\r\nERROR\r\n');
      else if (n < 1 || n > 8192) this.send('\r\nERROR\r\n');
      else { this.dataLeft = n; this.dataChunks = []; this.send('\r\nOK\r\n\r\n>'); }
    } else if (line === 'AT+CIPCLOSE') {
      const t = this.tls;
      if (!t) { this.send('\r\nERROR\r\n'); return; }
      this.tls = null;
      t.destroy();
      this.emit('linkDown', 'close');
      this.send('CLOSED\r\n\r\nOK\r\n');
    } else this.send('\r\nERROR\r\n');
  }

  private start(host: string, port: number): void {
    if (this.tls) { this.send('ALREADY CONNECTED\r\n\r\nERROR\r\n'); return; }
    if (this.refuseStarts > 0) { this.refuseStarts--; this.send('\r\nERROR\r\nCLOSED\r\n'); return; }
    this.connecting = true;
    const t = tlsConnect({ host, port, servername: this.sni || host, ca: this.opts.ca });
    this.tls = t;
    t.setNoDelay(true);
    let up = false;
    t.once('secureConnect', () => {
      if (this.tls !== t) return;
      up = true;
      this.connecting = false;
      this.links++;
      this.send('CONNECT\r\n\r\nOK\r\n');
      this.emit('link', host, port, this.sni);
    });
    t.on('data', (d: Buffer) => {
      if (this.tls !== t) return;
      const chunk = this.opts.ipdChunk ?? 1460;
      for (let i = 0; i < d.length; i += chunk) {
        const part = d.subarray(i, i + chunk);
        this.bytesDown += part.length;
        this.send(Buffer.concat([Buffer.from(`\r\n+IPD,${part.length}:`, 'latin1'), part]));
      }
    });
    const gone = () => {
      if (this.tls !== t) return;
      if (!up) { this.tls = null; this.connecting = false; this.send('\r\nERROR\r\nCLOSED\r\n'); return; }
      this.linkGone(t, 'peer');
    };
    t.on('error', gone);
    t.on('close', gone);
  }

  private linkGone(t: TLSSocket, why: string): void {
    if (this.tls !== t) return;
    this.tls = null;
    this.emit('linkDown', why);
    if (this.dataLeft > 0) this.closedPending = true; // after the CIPSEND in progress ends
    else this.send('\r\nCLOSED\r\n');
  }

  private sendDone(): void {
    const data = Buffer.concat(this.dataChunks);
    this.dataChunks = [];
    const t = this.tls;
    this.send(`\r\nRecv ${data.length} bytes\r\n`);
    if (!t) {
      this.send('\r\nSEND FAIL\r\n');
    } else {
      this.bytesUp += data.length;
      t.write(data);
      this.send('\r\nSEND OK\r\n');
    }
    if (this.closedPending) { this.closedPending = false; this.send('\r\nCLOSED\r\n'); }
  }
}
