// Where the history database and the config file live by default: system-wide for root
// (the daemon under systemd), per user otherwise, following the XDG base directories.

import { join } from 'node:path';

export interface PathContext {
  uid: number;
  env: NodeJS.ProcessEnv;
  home: string;
}

export const SYSTEM_DATABASE = '/var/lib/netmeter/netmeter.db';
export const SYSTEM_CONFIG = '/etc/netmeter/config.json';

/** Where the daemon writes unless --db says otherwise. */
export function defaultDatabasePath(context: PathContext): string {
  if (context.uid === 0) return SYSTEM_DATABASE;
  const state = context.env.XDG_STATE_HOME || join(context.home, '.local', 'state');
  return join(state, 'netmeter', 'netmeter.db');
}

/**
 * Where a report reads unless --db says otherwise: the user's own history when there is
 * one, else the system daemon's (which any user may read).
 */
export function reportDatabasePath(context: PathContext, exists: (path: string) => boolean): string {
  const own = defaultDatabasePath(context);
  return own === SYSTEM_DATABASE || exists(own) || !exists(SYSTEM_DATABASE) ? own : SYSTEM_DATABASE;
}

/** The config file to read unless --config says otherwise: the user's, else the system's. */
export function defaultConfigPath(context: PathContext, exists: (path: string) => boolean): string {
  if (context.uid === 0) return SYSTEM_CONFIG;
  const config = context.env.XDG_CONFIG_HOME || join(context.home, '.config');
  const own = join(config, 'netmeter', 'config.json');
  return exists(own) ? own : SYSTEM_CONFIG;
}
