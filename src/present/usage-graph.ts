// Bars for the report's --graph, as vnstat draws them: one line per period, the length of
// the bar its share of the largest period, received and sent told apart by the fill.

export const RECEIVED_FILL = '▓';
export const SENT_FILL = '░';

/**
 * A bar of `width` cells at most for a period that received and sent the given bytes, where
 * `max` is the largest period's total. Any traffic at all shows at least one cell.
 */
export function drawBar(received: number, sent: number, max: number, width: number): string {
  const total = received + sent;
  if (total <= 0 || max <= 0 || width <= 0) return '';
  const cells = Math.max(1, Math.round((total / max) * width));
  let receivedCells = Math.round((received / total) * cells);
  // Each direction that moved anything keeps a cell when there is room for both.
  if (received > 0 && receivedCells === 0) receivedCells = 1;
  if (sent > 0 && receivedCells === cells && cells > 1) receivedCells = cells - 1;
  return RECEIVED_FILL.repeat(receivedCells) + SENT_FILL.repeat(cells - receivedCells);
}

export function graphLegend(): string {
  return `${RECEIVED_FILL} received  ${SENT_FILL} sent`;
}
