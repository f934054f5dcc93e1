// The Prometheus text of the large counter families (per application, per subscriber),
// written directly as bytes: each series carries its label text, escaped and encoded once
// when the series is made, and a scrape copies name and labels and writes the value's
// digits. prom-client's own path formats and escapes every sample's labels anew at each
// scrape (and Counter.inc() hashes them first), and a 3.7 MB string built of 44,000 lines
// costs again to flatten and to encode: at 10,000 subscribers, most of a scrape's CPU
// (docs/benchmarks.md, "Per-subscriber metrics"). Everything else stays with prom-client;
// the bytes written here are the text it would write (test/metrics-exposition.test.ts).

import { Registry, type Metric } from 'prom-client';

/** A label value as the text format quotes it: backslash, newline and double quote escaped (as prom-client does). */
export function escapeLabelValue(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"');
}

/** `name="value",...` for labels in this order, escaped: what goes between a sample's braces. */
export function labelText(labels: ReadonlyArray<readonly [string, string]>): string {
  let text = '';
  for (const [name, value] of labels) text += `${text === '' ? '' : ','}${name}="${escapeLabelValue(value)}"`;
  return text;
}

/** A series of a text family: its labels' text (labelText) as UTF-8 and, for prom-client's path, the labels themselves. */
export interface TextSeries {
  readonly labelBytes: Uint8Array;
  labels(): Record<string, string>;
}

/** A family registered by registerTextCounter: ExpositionRegistry asks it for its bytes. */
interface TextFamily {
  bytes(): Buffer;
}

const isTextFamily = (metric: unknown): metric is TextFamily => typeof (metric as Partial<TextFamily>).bytes === 'function';

const CLOSE_BRACE = 0x7d;
const SPACE = 0x20;
const ZERO = 0x30;

/** One scrape's text of a family, written in place into a buffer that grows by doubling. */
class ByteWriter {
  private buf: Buffer;
  private at = 0;

  constructor(capacity: number) {
    this.buf = Buffer.allocUnsafe(Math.max(capacity, 256));
  }

  bytes(b: Uint8Array): void {
    this.room(b.length);
    this.buf.set(b, this.at);
    this.at += b.length;
  }

  byte(c: number): void {
    this.room(1);
    this.buf[this.at++] = c;
  }

  /** A value as prom-client writes it (`${value}`): a non-negative safe integer digit by digit. */
  number(value: number): void {
    if (!(Number.isSafeInteger(value) && value >= 0)) {
      this.bytes(Buffer.from(numberText(value)));
      return;
    }
    this.room(16);
    if (value === 0) {
      this.buf[this.at++] = ZERO;
      return;
    }
    let digits = 0;
    for (let x = value; x >= 1; x = Math.floor(x / 10)) digits++;
    let at = this.at + digits;
    this.at = at;
    for (let x = value; x >= 1; x = Math.floor(x / 10)) this.buf[--at] = ZERO + (x % 10);
  }

  /** The bytes written (a view of the buffer). */
  written(): Buffer {
    return this.buf.subarray(0, this.at);
  }

  private room(n: number): void {
    if (this.at + n <= this.buf.length) return;
    const grown = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.at + n));
    this.buf.copy(grown, 0, 0, this.at);
    this.buf = grown;
  }
}

/**
 * A counter family served from `series()` (read in the scrape's first synchronous pass, as
 * collectors are). On an ExpositionRegistry its text is written directly; on any other
 * registry (tests, getMetricsAsJSON) prom-client formats the same samples from get().
 */
export function registerTextCounter<S extends TextSeries>(registry: Registry, name: string, help: string, series: () => readonly S[], value: (s: S) => number): void {
  const family = { name, help, type: 'counter', aggregator: 'sum' } as const;
  // The head as prom-client writes it: HELP (backslash and newline escaped), then TYPE.
  const head = Buffer.from(`# HELP ${name} ${help.replace(/\\/g, '\\\\').replace(/\n/g, '\\n')}\n# TYPE ${name} counter`);
  const prefix = Buffer.from(`\n${name}{`);
  // A new buffer each scrape (two scrapes may overlap), sized as the last one was.
  let lastSize = 0;
  const metric: Metric & TextFamily = {
    ...family,
    get: async () => ({ ...family, values: series().map((s) => ({ labels: s.labels(), value: value(s) })) }),
    reset: () => undefined,
    bytes: () => {
      const out = new ByteWriter(lastSize + 1024);
      out.bytes(head);
      for (const s of series()) {
        out.bytes(prefix);
        out.bytes(s.labelBytes);
        out.byte(CLOSE_BRACE);
        out.byte(SPACE);
        out.number(value(s));
      }
      const bytes = out.written();
      lastSize = bytes.length;
      return bytes;
    },
  } as unknown as Metric & TextFamily;
  registry.registerMetric(metric);
}

/** A sample's value as prom-client writes it. */
function numberText(value: number): string {
  if (Number.isFinite(value)) return `${value}`;
  if (Number.isNaN(value)) return 'Nan';
  return value < 0 ? '-Inf' : '+Inf';
}

/** prom-client's per-metric formatting, which ExpositionRegistry overrides for text families (not in its typings). */
type FormatOne = (this: Registry, metric: Metric) => Promise<string>;
const formatOne = (Registry.prototype as unknown as { getMetricsAsString: FormatOne }).getMetricsAsString;

const BLANK_LINE = Buffer.from('\n\n');
const NEWLINE = Buffer.from('\n');

/**
 * A registry that lets text families (registerTextCounter) write their own text, in their
 * place among the others; the Prometheus text format only (MetricsServer never switches
 * the registry to OpenMetrics).
 */
export class ExpositionRegistry extends Registry {
  async getMetricsAsString(metric: Metric): Promise<string> {
    return isTextFamily(metric) ? metric.bytes().toString('utf8') : formatOne.call(this, metric);
  }

  /**
   * What metrics() returns, as bytes in pieces (to be sent in order; joined, they are that
   * text), the text families' never made a string nor copied again. As metrics() does,
   * every family is read in one synchronous pass (the collectors share a reading per
   * scrape), then the texts are joined by a blank line.
   */
  async exposition(): Promise<Buffer[]> {
    const parts = await Promise.all(this.getMetricsAsArray().map((metric) => (isTextFamily(metric) ? metric.bytes() : this.getMetricsAsString(metric as unknown as Metric))));
    const chunks: Buffer[] = [];
    for (const part of parts) {
      if (chunks.length > 0) chunks.push(BLANK_LINE);
      chunks.push(typeof part === 'string' ? Buffer.from(part, 'utf8') : part);
    }
    chunks.push(NEWLINE);
    return chunks;
  }
}
