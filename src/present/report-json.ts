// The JSON document of a usage report, written a piece at a time. At the end of a long run
// with 100,000 connections, one JSON.stringify of the whole report is a string of ~100 MB
// on top of the report itself (the peak of the memory measurement in docs/accuracy.md);
// written this way, the text is exactly JSON.stringify(report, null, 2) + "\n", but no
// piece is larger than a batch of connections.

import type { UsageReport } from './usage-report.js';

const PLACEHOLDER = '\u0000connections\u0000';
/** Connections per written piece: large enough that writes are few, small enough to stay light. */
const CONNECTIONS_PER_PIECE = 1000;

/** Writes JSON.stringify(report, null, 2) followed by a newline, in pieces. */
export function writeReportJson(report: UsageReport, write: (text: string) => void): void {
  // Everything but the connections, with a marker where their array goes (same key order).
  const outline = JSON.stringify({ ...report, connections: PLACEHOLDER }, null, 2);
  const [before, after] = outline.split(JSON.stringify(PLACEHOLDER)) as [string, string];
  const { connections } = report;
  if (connections.length === 0) {
    write(`${before}[]${after}\n`);
    return;
  }
  write(`${before}[\n`);
  for (let from = 0; from < connections.length; from += CONNECTIONS_PER_PIECE) {
    const piece = connections
      .slice(from, from + CONNECTIONS_PER_PIECE)
      // An element of a top-level key's array is indented by two levels of two spaces.
      .map((c) => `    ${JSON.stringify(c, null, 2).replace(/\n/g, '\n    ')}`)
      .join(',\n');
    const last = from + CONNECTIONS_PER_PIECE >= connections.length;
    write(last ? `${piece}\n  ]` : `${piece},\n`);
  }
  write(`${after}\n`);
}
