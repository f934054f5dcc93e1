// The Prometheus text of the large counter families (per application, per subscriber),
// written directly: each series carries its label text, escaped once when the series is
// made, and a scrape appends name, labels and value. prom-client's own path formats and
// escapes every sample's labels anew at each scrape (and Counter.inc() hashes them first):
// at 10,000 subscribers, most of a scrape's CPU (docs/benchmarks.md, "Per-subscriber
// metrics"). Everything else stays with prom-client; the text written here is the one it
// would write (test/metrics-exposition.test.ts compares the two).

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

/** A series of a text family: its labels' text (labelText) and, for prom-client's path, the labels themselves. */
export interface TextSeries {
  readonly labelText: string;
  labels(): Record<string, string>;
}

/** A family registered by registerTextCounter: ExpositionRegistry asks it for its text. */
interface TextFamily {
  text(): string;
}

const isTextFamily = (metric: unknown): metric is TextFamily => typeof (metric as Partial<TextFamily>).text === 'function';

/**
 * A counter family served from `series()` (read in the scrape's first synchronous pass, as
 * collectors are). On an ExpositionRegistry its text is written directly; on any other
 * registry (tests, getMetricsAsJSON) prom-client formats the same samples from get().
 */
export function registerTextCounter<S extends TextSeries>(registry: Registry, name: string, help: string, series: () => readonly S[], value: (s: S) => number): void {
  const family = { name, help, type: 'counter', aggregator: 'sum' } as const;
  // The head as prom-client writes it: HELP (backslash and newline escaped), then TYPE.
  const head = `# HELP ${name} ${help.replace(/\\/g, '\\\\').replace(/\n/g, '\\n')}\n# TYPE ${name} counter`;
  const metric: Metric & TextFamily = {
    ...family,
    get: async () => ({ ...family, values: series().map((s) => ({ labels: s.labels(), value: value(s) })) }),
    reset: () => undefined,
    text: () => {
      let text = head;
      const prefix = `\n${name}{`;
      for (const s of series()) text += `${prefix}${s.labelText}} ${numberText(value(s))}`;
      return text;
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

/**
 * A registry that lets text families (registerTextCounter) write their own text, in their
 * place among the others; the Prometheus text format only (MetricsServer never switches
 * the registry to OpenMetrics).
 */
export class ExpositionRegistry extends Registry {
  async getMetricsAsString(metric: Metric): Promise<string> {
    return isTextFamily(metric) ? metric.text() : formatOne.call(this, metric);
  }
}
