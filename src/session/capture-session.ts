// One live capture's life, for `netmeter` (live), `record` and `daemon` alike: choose and
// open the devices (one LiveSource each), start attribution (/proc reader, kernel events),
// pump batches into the meter, and every tick retire idle connections, read the kernel's
// interface counters and drops, and follow interfaces that come and go. Subscribers get
// the tick; from it they take what they need — a report with rates (built only for one
// that shows it) or cumulative usage totals that never go down (the recorder, the
// exporter). See docs/design.md, "The capture session".

import { Meter } from '../account/meter.js';
import { RateWindow } from '../account/rate-window.js';
import type { Attribution } from '../account/attribution.js';
import type { OwnerSources, ProcessEnd } from '../attribute/live-attribution.js';
import type { SocketSnapshot } from '../attribute/types.js';
import { KernelCounterDelta, type KernelCounters } from '../capture/kernel-counters.js';
import { PrivilegeError } from '../capture/privilege.js';
import type { CaptureEngine, LiveSource, LiveSourceOptions } from '../capture/live-source.js';
import type { PacketBatch } from '../capture/packet-batch.js';
import type { Cidr } from '../decode/address.js';
import { MeterTotals } from '../history/meter-totals.js';
import type { UsageTotal } from '../history/usage-key.js';
import { buildUsageReport, connectionKey, type IntervalUsage, type UsageReport } from '../present/usage-report.js';
import type { Clock } from '../clock.js';
import { SubscriberAttribution } from '../attribute/subscribers.js';

/** Connections quiet this long leave the flow table; their bytes stay with their owners. */
export const IDLE_CONNECTION_SECONDS = 300;
/** `--by host`: seconds of capture before judging whether subscribers can be told apart. */
const ADVICE_AFTER_SECONDS = 5;

export interface CaptureSessionOptions {
  /** Devices the user named; empty: the default set, followed as interfaces come and go. */
  interfaces: string[];
  engine?: CaptureEngine;
  filter?: string;
  promisc?: boolean;
  localCidrs: Cidr[];
  /**
   * `--by host`: count per subscriber (the local end's address, or its IPv6 prefix of this
   * length) instead of per process (attribute/subscribers.ts).
   */
  byHost?: { ipv6Prefix: number };
  /** Every packet its own batch entry (record writes them out); otherwise coalesced per flow. */
  everyPacket?: boolean;
  /** Seconds between ticks; undefined: no timer, the caller calls tick(). */
  tickSeconds?: number;
  /**
   * Keep the traffic of retired connections per process, for reports (live, record). The
   * daemon reads only usageTotals(), which credits it: there it is dropped once credited,
   * or every short-lived process would leave an entry for as long as the daemon runs.
   */
  keepRetired?: boolean;
  /** With the default set: start even when no interface is up yet (a daemon at boot). */
  waitForInterfaces?: boolean;
  /** Called with each batch after the meter took it; the next batch waits for its promise. */
  onBatch?: (batch: PacketBatch) => void | Promise<void>;
  /** Called after every re-read of /proc that changed something (record embeds them). */
  onSnapshot?: (snapshot: SocketSnapshot) => void;
  /** Called when a re-read of /proc fails; the last good snapshot stays in use. */
  onProcError?: (error: unknown) => void;
  /** One line about the capture itself: an interface added, gone, or failing. */
  onNotice?: (line: string) => void;
}

/** What attribution tells the session (it credits waiting records, or ends owners). */
export interface AttributionHooks {
  onRefresh: (snapshot: SocketSnapshot) => void;
  onOwnersFound: () => void;
  onProcessesEnded: (ends: ProcessEnd[]) => void;
  onError: (error: unknown) => void;
}

/** Owners for a live capture: LiveAttribution, or a fake in tests. */
export interface SessionAttribution extends Attribution {
  /** Resolves once a read of /proc that began after the call has finished. */
  refresh(): Promise<void>;
  startPeriodicRefresh(): void;
  close(): void;
  /** Where owners come from: the kernel's socket hooks, its tracepoints or /proc alone, and why not the better ones (absent: /proc alone, as in tests' fakes). */
  readonly ownerSources?: OwnerSources;
}

/** Everything the session takes from the outside world: tests pass fakes. */
export interface SessionIo {
  clock: Clock;
  /** The devices to capture: the named ones checked, or the default set (throws a one-line error when none). */
  resolveInterfaces(requested: string[]): string[];
  /** The default set now (every interface up with an address, loopback aside). */
  defaultInterfaces(): string[];
  hasCapturePrivilege(): boolean;
  openSource(options: LiveSourceOptions): Promise<LiveSource>;
  startAttribution(hooks: AttributionHooks, localCidrs: Cidr[]): SessionAttribution;
  readKernelCounters(device: string): Promise<KernelCounters | undefined>;
  processExists(pid: number): boolean;
}

export interface SessionTick {
  /** Wall clock, milliseconds since the epoch. */
  wallMs: number;
  /** Seconds since the previous tick (monotonic). */
  seconds: number;
  /** Seconds since the session started (monotonic). */
  elapsedSeconds: number;
}

/** One interface's raw kernel counters at the last tick (what the history recorder stores). */
export interface InterfaceReading {
  name: string;
  counters: KernelCounters;
}

/** A device being captured. */
interface DeviceCapture {
  name: string;
  source: LiveSource;
  pumped: Promise<void>;
  closing: boolean;
}

export class CaptureSession {
  readonly meter: Meter;
  readonly attribution: SessionAttribution;
  /** With `byHost`: who the meter credits, and what it saw of the subscribers. */
  readonly subscribers: SubscriberAttribution | undefined;
  /** Whether the advice on where to capture was given (it is given once). */
  private advised = false;
  /** Settles when the capture ends by itself: a named device failed. */
  readonly ended: Promise<void>;
  private readonly captures = new Map<string, DeviceCapture>();
  /** Devices being opened after start (interfaces that came up). */
  private readonly opening = new Set<string>();
  /** The last failure said per device, so a device failing every tick is said once. */
  private readonly toldFailure = new Map<string, string>();
  /** Per device ever captured: kernel counters since it was first seen, and the last raw reading. */
  private readonly kernel = new Map<string, { delta: KernelCounterDelta; reading: KernelCounters | undefined }>();
  /** Drops of sources already closed, so a device's drops never go down. */
  private readonly droppedBefore = new Map<string, number>();
  private readonly usage: MeterTotals;
  private readonly rates = new RateWindow();
  private readonly listeners: Array<(tick: SessionTick) => void | Promise<void>> = [];
  private readonly startedAt: number;
  private lastTickAt: number;
  private lastReportAt: number;
  /** The totals of the previous report, for the next one's interval. */
  private lastTotals: UsageReport['totals'] | undefined;
  private timer: NodeJS.Timeout | undefined;
  private ticking: Promise<void> | undefined;
  private stopping: Promise<Error | undefined> | undefined;
  private failure: Error | undefined;
  private endSession!: () => void;

  private constructor(
    private readonly options: CaptureSessionOptions,
    private readonly io: SessionIo,
  ) {
    let meter: Meter | undefined;
    this.attribution = io.startAttribution(
      {
        onRefresh: (snapshot) => {
          meter?.attributeUnknown();
          options.onSnapshot?.(snapshot);
        },
        // The kernel named owners a packet asked for before: credit those records now.
        onOwnersFound: () => meter?.attributeUnknown(),
        // A port an ended process held may pass to another: its packets from after the end start a new record.
        onProcessesEnded: (ends) => meter?.endOwners(ends),
        onError: (error) => options.onProcError?.(error),
      },
      options.localCidrs,
    );
    this.subscribers = options.byHost ? new SubscriberAttribution(this.attribution, options.localCidrs, options.byHost.ipv6Prefix) : undefined;
    this.meter = meter = new Meter(this.subscribers ?? this.attribution);
    this.usage = new MeterTotals(this.meter, { drainRetired: !options.keepRetired });
    this.ended = new Promise<void>((resolve) => (this.endSession = resolve));
    this.startedAt = this.lastTickAt = this.lastReportAt = io.clock.monotonic();
  }

  /**
   * Checks privileges, reads /proc once (sockets that exist before the first packet are
   * known before it arrives), opens every device and starts pumping. Throws PrivilegeError
   * or CaptureDeviceError, having closed whatever it opened.
   */
  static async start(options: CaptureSessionOptions, io: SessionIo): Promise<CaptureSession> {
    let devices: string[];
    try {
      devices = io.resolveInterfaces(options.interfaces);
    } catch (error) {
      if (!(options.interfaces.length === 0 && options.waitForInterfaces)) throw error;
      devices = [];
    }
    if (!io.hasCapturePrivilege()) throw new PrivilegeError(devices.join(', ') || 'this host');
    const session = new CaptureSession(options, io);
    try {
      await session.attribution.refresh();
      const sources = await Promise.allSettled(devices.map((device) => session.openSource(device)));
      // Those that opened are captured, so that a failure of another closes them below.
      for (const s of sources) if (s.status === 'fulfilled') session.capture(s.value);
      const failed = sources.find((s) => s.status === 'rejected');
      if (failed) throw failed.reason;
    } catch (error) {
      await session.stop();
      throw error;
    }
    if (devices.length === 0) options.onNotice?.('no interface is up with an address yet; capturing each one as it comes up');
    if (options.byHost && options.localCidrs.length === 0) session.adviseOnCapture();
    // The first reading is where the kernel counters start from.
    await session.readCounters();
    session.attribution.startPeriodicRefresh();
    if (options.tickSeconds !== undefined) {
      session.timer = setInterval(() => void session.tick(), options.tickSeconds * 1000);
    }
    return session;
  }

  /** The devices being captured now, in the order they were opened. */
  get devices(): string[] {
    return [...this.captures.keys()];
  }

  /** Calls `listener` at every tick, after the counters were read; ticks wait for its promise. */
  onTick(listener: (tick: SessionTick) => void | Promise<void>): void {
    this.listeners.push(listener);
  }

  /**
   * Retires idle connections, reads the kernel's counters and drops, follows the default
   * interfaces, then tells the listeners. A tick due while one is running is skipped.
   */
  tick(): Promise<void> {
    if (this.stopping) return Promise.resolve();
    this.ticking ??= this.runTick().finally(() => (this.ticking = undefined));
    return this.ticking;
  }

  private async runTick(): Promise<void> {
    const now = this.io.clock.monotonic();
    const tick: SessionTick = {
      wallMs: this.io.clock.now(),
      seconds: (now - this.lastTickAt) / 1000,
      elapsedSeconds: (now - this.startedAt) / 1000,
    };
    this.lastTickAt = now;
    // Packet times are the wall clock's (the kernel stamps them), so idleness is judged on it.
    this.meter.retireIdle(tick.wallMs / 1000 - IDLE_CONNECTION_SECONDS);
    await this.readCounters();
    if (this.options.interfaces.length === 0) this.followDefaultInterfaces();
    // A few seconds of traffic first: a router's own packets alone at the start say nothing.
    if (tick.elapsedSeconds >= ADVICE_AFTER_SECONDS) this.adviseOnCapture();
    for (const listener of this.listeners) await listener(tick);
  }

  /** Says once, when the subscribers seen so far say so, that the capture cannot tell them apart. */
  private adviseOnCapture(): void {
    if (this.advised || !this.subscribers) return;
    const advice = this.subscribers.captureAdvice();
    if (advice === undefined) return;
    this.advised = true;
    this.options.onNotice?.(advice);
  }

  /** Reads every captured device's kernel counters (at start, each tick, and before a last report). */
  async readCounters(): Promise<void> {
    for (const name of this.captures.keys()) {
      const reading = await this.io.readKernelCounters(name);
      let entry = this.kernel.get(name);
      if (!entry) this.kernel.set(name, (entry = { delta: new KernelCounterDelta(), reading: undefined }));
      entry.reading = reading;
      if (reading) entry.delta.update(reading);
    }
  }

  /** The raw kernel counters of the captured devices at the last reading. */
  kernelReadings(): InterfaceReading[] {
    const readings: InterfaceReading[] = [];
    for (const name of this.captures.keys()) {
      const reading = this.kernel.get(name)?.reading;
      if (reading) readings.push({ name, counters: reading });
    }
    return readings;
  }

  /** Packets each device ever captured lost (kernel ring, interface, or inside netmeter). */
  droppedPackets(): Map<string, number> {
    const dropped = new Map(this.droppedBefore);
    for (const [name, capture] of this.captures) dropped.set(name, (dropped.get(name) ?? 0) + capture.source.droppedPackets());
    return dropped;
  }

  /** Cumulative bytes and packets per application, user and interface: they never go down. */
  usageTotals(): UsageTotal[] {
    return this.usage.totals();
  }

  /**
   * The usage report with rates over the time since the previous report (or, `wholeRun`,
   * averages over the whole session), and the kernel counters of the last reading. Built
   * only when asked: at 100,000 connections a report is tens of megabytes.
   */
  report(options: { wholeRun?: boolean } = {}): UsageReport {
    const now = this.io.clock.monotonic();
    const seconds = ((options.wholeRun ? now - this.startedAt : now - this.lastReportAt) || 0) / 1000;
    this.lastReportAt = now;
    const rates = this.rates;
    rates.tick(seconds);
    if (options.wholeRun) rates.forget();
    const devices = this.devices;
    const report = buildUsageReport(this.meter, { kind: 'live', interfaces: devices }, seconds);
    for (const p of report.processes) {
      const key = `p ${p.pid} ${p.name}`;
      p.sentRate = rates.rate(`${key} s`, p.sentBytes);
      p.receivedRate = rates.rate(`${key} r`, p.receivedBytes);
      if (p.pid !== null && !this.io.processExists(p.pid)) p.exited = true;
    }
    for (const c of report.connections) {
      const key = `c ${connectionKey(c)}`;
      c.sentRate = rates.rate(`${key} s`, c.sentBytes);
      c.receivedRate = rates.rate(`${key} r`, c.receivedBytes);
    }
    for (const i of report.interfaces) {
      i.txRate = rates.rate(`i ${i.name} tx`, i.txBytes);
      i.rxRate = rates.rate(`i ${i.name} rx`, i.rxBytes);
    }
    for (const name of devices) {
      let entry = report.interfaces.find((i) => i.name === name);
      if (!entry) report.interfaces.push((entry = { name, rxBytes: 0, txBytes: 0, rxPackets: 0, txPackets: 0, rxRate: 0, txRate: 0 }));
      const kernel = this.kernel.get(name);
      if (!kernel?.reading) continue;
      const since = kernel.delta.sinceStart;
      entry.kernelRxBytes = since.rxBytes;
      entry.kernelTxBytes = since.txBytes;
      entry.kernelRxRate = rates.rate(`k ${name} rx`, since.rxBytes);
      entry.kernelTxRate = rates.rate(`k ${name} tx`, since.txBytes);
    }
    for (const [name, dropped] of this.droppedPackets()) {
      const entry = report.interfaces.find((i) => i.name === name);
      if (entry && dropped > 0) entry.droppedPackets = dropped;
    }
    report.durationSeconds = (now - this.startedAt) / 1000;
    if (this.subscribers) report.by = 'host';
    if (!options.wholeRun) report.interval = intervalOf(report.totals, this.lastTotals, seconds);
    this.lastTotals = report.totals;
    return report;
  }

  /**
   * Stops capturing: every device's source is closed and what it had captured is pumped
   * into the meter, /proc is read once more (the last word on owners), and attribution
   * stops. Resolves to the error that ended the capture by itself, if one did.
   */
  stop(): Promise<Error | undefined> {
    this.stopping ??= (async () => {
      clearInterval(this.timer);
      await this.ticking;
      const captures = [...this.captures.values()];
      for (const capture of captures) capture.closing = true;
      await Promise.all(captures.map((c) => c.source.close().catch(() => undefined)));
      await Promise.all(captures.map((c) => c.pumped));
      // Connections that opened after the previous read, and owners the kernel named meanwhile.
      await this.attribution.refresh().catch(() => undefined);
      this.meter.attributeUnknown();
      this.attribution.close();
      this.endSession();
      return this.failure;
    })();
    return this.stopping;
  }

  private openSource(device: string): Promise<LiveSource> {
    const { engine, filter, promisc, everyPacket } = this.options;
    return this.io.openSource({ device, ...(engine ? { engine } : {}), ...(filter ? { filter } : {}), promisc: promisc ?? false, everyPacket: everyPacket ?? false });
  }

  /** Starts pumping a freshly opened source into the meter. */
  private capture(source: LiveSource): void {
    const capture: DeviceCapture = { name: source.device, source, pumped: Promise.resolve(), closing: false };
    this.captures.set(source.device, capture);
    capture.pumped = (async () => {
      for await (const batch of source.batches()) {
        this.meter.ingest(batch);
        if (this.options.onBatch) await this.options.onBatch(batch);
      }
    })().then(
      () => this.deviceEnded(capture, undefined),
      (error: unknown) => this.deviceEnded(capture, error instanceof Error ? error : new Error(String(error))),
    );
  }

  private deviceEnded(capture: DeviceCapture, error: Error | undefined): void {
    if (capture.closing) return;
    if (this.options.interfaces.length > 0) {
      // A device the user named: its end is the capture's end, as with one device.
      this.failure ??= error ?? new Error(`capture on '${capture.name}' ended`);
      this.endSession();
      return;
    }
    // From the default set: the others go on, and the device is captured again if it returns.
    this.forget(capture);
    this.options.onNotice?.(`${error?.message ?? `capture on '${capture.name}' ended`}; still capturing ${this.devices.join(', ') || 'nothing until an interface comes up'}`);
  }

  private forget(capture: DeviceCapture): void {
    this.captures.delete(capture.name);
    this.droppedBefore.set(capture.name, (this.droppedBefore.get(capture.name) ?? 0) + capture.source.droppedPackets());
  }

  /** Opens interfaces that joined the default set and closes those that left it. */
  private followDefaultInterfaces(): void {
    const wanted = new Set(this.io.defaultInterfaces());
    for (const device of wanted) {
      if (this.captures.has(device) || this.opening.has(device)) continue;
      this.opening.add(device);
      void this.openSource(device).then(
        (source) => {
          this.opening.delete(device);
          this.toldFailure.delete(device);
          if (this.stopping) return void source.close();
          this.capture(source);
          this.options.onNotice?.(`interface ${device} came up: capturing it`);
        },
        (error: unknown) => {
          this.opening.delete(device);
          const message = error instanceof Error ? error.message : String(error);
          if (this.toldFailure.get(device) === message) return;
          this.toldFailure.set(device, message);
          this.options.onNotice?.(`interface ${device} came up but cannot be captured: ${message}`);
        },
      );
    }
    for (const capture of [...this.captures.values()]) {
      if (wanted.has(capture.name)) continue;
      capture.closing = true;
      this.forget(capture);
      void capture.source.close().catch(() => undefined);
      this.options.onNotice?.(`interface ${capture.name} went away: no longer capturing it`);
    }
  }
}

/** What `totals` gained since `before` (the previous report's; none: since the start). */
function intervalOf(totals: UsageReport['totals'], before: UsageReport['totals'] | undefined, seconds: number): IntervalUsage {
  const since = (key: keyof UsageReport['totals']) => totals[key] - (before?.[key] ?? 0);
  return {
    seconds,
    packets: since('packets'),
    bytes: since('bytes'),
    sentBytes: since('sentBytes'),
    receivedBytes: since('receivedBytes'),
    sentPackets: since('sentPackets'),
    receivedPackets: since('receivedPackets'),
  };
}
