// The key list shown in place of the table while '?' is on, and how owners are found.

import { Box, Text } from 'ink';

export const HELP_KEYS: ReadonlyArray<readonly [string, string]> = [
  ['u / d / t', 'sort by upload / download / total'],
  ['m', 'switch rate ↔ cumulative totals'],
  ['b', 'switch bytes ↔ bits per second'],
  ['v', 'next view: processes → applications → connections → hosts'],
  ['1 2 3 4', 'jump to a view'],
  ['↑ / ↓', 'select a process (processes view)'],
  ['Enter', "show the selected process's connections"],
  ['Esc / Backspace', 'back from a process\'s connections'],
  ['/', 'filter by name or command line (Enter keeps, Esc clears)'],
  ['p', 'pause / resume the screen'],
  ['?', 'show / hide this help'],
  ['q', 'quit'],
];

export function HelpOverlay({ height, ownersFrom }: { height: number; ownersFrom?: string }) {
  return (
    <Box flexDirection="column" height={Math.max(1, height)} overflow="hidden">
      <Text bold wrap="truncate-end">
        Keys
      </Text>
      {HELP_KEYS.map(([keys, meaning]) => (
        <Box key={keys} columnGap={1}>
          <Box width={16} flexShrink={0}>
            <Text bold wrap="truncate-end">
              {keys}
            </Text>
          </Box>
          <Text wrap="truncate-end">{meaning}</Text>
        </Box>
      ))}
      {ownersFrom ? <Text wrap="truncate-end">Owners from {ownersFrom}</Text> : null}
    </Box>
  );
}
