// The alerts inside `netmeter daemon`: every stored speed test result goes to the alert
// engine (AlertService), the early retests it asks for are handed to the speed test
// schedule, usage samples (quota, programs, capture loss) come at each flush, and waiting
// messages are delivered between ticks. A config reloaded on SIGHUP starts a new service
// over the same outbox, so nothing waiting is lost.

import { interfaceIsUp } from '../capture/capture-interfaces.js';
import type { NetmeterConfig } from '../config/config-file.js';
import type { SpeedtestResult } from '../speedtest/result.js';
import { checkFilePermissions } from './secrets.js';
import { AlertService, type RetestRequest } from './service.js';
import type { HistoryDb } from '../history/database.js';
import type { SpeedMeasurement, UsageSample } from './types.js';

export interface DaemonAlertsOptions {
  db: HistoryDb;
  config: () => NetmeterConfig;
  log: (line: string) => void;
  /** Wall clock, milliseconds. */
  now: () => number;
  /** Runs an early test at `at` (ms), on `server` when one is named. */
  retest: (request: RetestRequest) => void;
  /** Default: /sys/class/net's word. */
  interfaceIsUp?: (name: string) => boolean;
}

export class DaemonAlerts {
  private service: AlertService | undefined;
  private serviceFor: NetmeterConfig['alerts'] | undefined;
  private delivering: Promise<unknown> | undefined;

  constructor(private readonly options: DaemonAlertsOptions) {}

  /** Checks the config file's permissions (a command channel in a file others can change is refused). */
  static check(config: NetmeterConfig, log: (line: string) => void): void {
    if (config.path === undefined) return;
    for (const warning of checkFilePermissions(config.path, config.alerts)) log(warning);
  }

  /** Judges a stored speed test result; `retest`: it was a retest the engine asked for. */
  speedResult(result: SpeedtestResult, retest: boolean): void {
    const service = this.current();
    if (!service) return;
    const m = measurementOf(result, retest);
    // A result over an interface that is down says nothing about the provider.
    if (m.interface !== undefined) service.observeLocal({ at: m.at, interface: m.interface, up: (this.options.interfaceIsUp ?? interfaceIsUp)(m.interface) });
    for (const request of service.observeSpeed(m)) this.options.retest(request);
  }

  usage(sample: UsageSample): void {
    this.current()?.observeUsage(sample);
  }

  /** Reminders and held messages, then delivery of what is due (one delivery at a time). */
  tick(): void {
    const service = this.current();
    if (!service) return;
    service.tick();
    const due = service.nextDelivery();
    if (this.delivering || due === undefined || due > this.options.now()) return;
    this.delivering = service
      .deliver()
      .catch((error: unknown) => this.options.log(`alerts: delivery: ${error instanceof Error ? error.message : String(error)}`))
      .finally(() => (this.delivering = undefined));
  }

  /** Resolves when a delivery under way has ended (what it did not send stays in the outbox). */
  async idle(): Promise<void> {
    await this.delivering;
  }

  private current(): AlertService | undefined {
    const config = this.options.config().alerts;
    if (config.detectors.length === 0 && config.channels.length === 0) return undefined;
    if (this.serviceFor !== config) {
      this.serviceFor = config;
      this.service = new AlertService(this.options.db, config, { now: this.options.now, log: (line) => this.options.log(`alerts: ${line}`) });
    }
    return this.service;
  }
}

/** A speed test result as the alert engine judges it. */
export function measurementOf(result: SpeedtestResult, retest: boolean): SpeedMeasurement {
  const loaded = [result.download?.loadedLatency?.medianMs, result.upload?.loadedLatency?.medianMs].filter((v): v is number => typeof v === 'number');
  const m: SpeedMeasurement = {
    at: Date.parse(result.startedAt),
    server: result.server.url,
    family: result.path.family === 6 ? 'ipv6' : 'ipv4',
    failed: result.status === 'failed',
    contended: result.contention?.contended ?? false,
    ...(retest ? { retest } : {}),
  };
  if (result.path.interface) m.interface = result.path.interface;
  if (typeof result.download?.mbps === 'number') m.downloadMbps = result.download.mbps;
  if (typeof result.upload?.mbps === 'number') m.uploadMbps = result.upload.mbps;
  if (typeof result.idleLatency?.medianMs === 'number') m.latencyMs = result.idleLatency.medianMs;
  if (typeof result.idleLatency?.jitterMs === 'number') m.jitterMs = result.idleLatency.jitterMs;
  if (loaded.length > 0) m.loadedLatencyMs = Math.max(...loaded);
  return m;
}
