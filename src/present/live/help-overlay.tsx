// The key list shown in place of the table while '?' is on, which interfaces are captured
// (loopback only when named), and how owners are found.

import { Box, Text } from 'ink';

export const HELP_KEYS: ReadonlyArray<readonly [string, string]> = [
  ['u / d / t', 'sort by upload / download / total'],
  ['m', 'switch rate ↔ cumulative totals'],
  ['b', 'switch bytes ↔ bits per second'],
  ['v', 'next view: processes → applications → connections → hosts'],
  ['1 2 3 4', 'jump to a view'],
  ['↑ ↓ PgUp PgDn', 'select a process (processes view)'],
  ['Home / End', 'first / last process'],
  ['Enter', "show the selected process's connections"],
  ['Esc', 'back to the top of the list (also from connections)'],
  ['Backspace', "back from a process's connections to it"],
  ['/', 'filter by name or command line, or remote host (Enter keeps, Esc clears)'],
  ['n', 'remote hosts by name ↔ by address (connections, hosts)'],
  ['p', 'pause / resume the screen'],
  ['?', 'show / hide this help'],
  ['q', 'quit'],
];

export interface HelpOverlayProps {
  height: number;
  /** Interfaces captured, and interfaces left out (loopback unless named): how to add them. */
  captured?: string[];
  uncaptured?: string[];
  ownersFrom?: string;
  /** Where remote host names come from (and what reverse lookups tell a resolver). */
  namesFrom?: string;
}

/** The command that captures `uncaptured` as well, in `-i` options. */
export function captureCommand(captured: readonly string[], uncaptured: readonly string[]): string {
  return ['netmeter', ...[...captured, ...uncaptured].map((name) => `-i ${name}`)].join(' ');
}

export function HelpOverlay({ height, captured = [], uncaptured = [], ownersFrom, namesFrom }: HelpOverlayProps) {
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
      {uncaptured.length > 0 ? (
        <>
          <Text wrap="truncate-end">{`${uncaptured.join(', ')} not shown: loopback is captured only when named`}</Text>
          <Text wrap="truncate-end">{`to see it too: ${captureCommand(captured, uncaptured)}`}</Text>
        </>
      ) : null}
      {ownersFrom ? <Text wrap="truncate-end">Owners from {ownersFrom}</Text> : null}
      {namesFrom ? <Text wrap="wrap">Host names from {namesFrom}</Text> : null}
      <Text wrap="truncate-end">USER or command line '-': the process ended before it could be read (the kernel gave its name and uid only)</Text>
    </Box>
  );
}
