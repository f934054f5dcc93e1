// Secrets and the files that hold settings: a channel's password or token is read from the
// file or environment variable the config names, only when a message is sent; the config
// and secret files are checked for who else may read them (a warning) and, when the config
// runs a command as root, who else may write it (refused).

import { readFileSync, statSync, type Stats } from 'node:fs';
import { dirname } from 'node:path';
import { loadConfig } from '../config/config-file.js';
import { ConfigError } from '../history/config.js';
import type { AlertsConfig, SecretRef } from './config.js';

export class SecretError extends ConfigError {
  override name = 'SecretError';
}

export interface SecretSource {
  env: NodeJS.ProcessEnv;
  readFile: (path: string) => string;
}

export const PROCESS_SECRETS: SecretSource = { env: process.env, readFile: (path) => readFileSync(path, 'utf8') };

/** The secret's value, trimmed of the newline an editor leaves; the error names the place, never the value. */
export function readSecret(ref: SecretRef, source: SecretSource = PROCESS_SECRETS): string {
  if ('env' in ref) {
    const value = source.env[ref.env];
    if (value === undefined || value === '') throw new SecretError(`the environment variable ${ref.env} named in the alerts config is not set`);
    return value.trim();
  }
  try {
    return source.readFile(ref.file).trim();
  } catch (error) {
    throw new SecretError(`cannot read the secret file ${ref.file} named in the alerts config (${(error as NodeJS.ErrnoException).code ?? 'error'})`);
  }
}

/** The secret files a config names. */
export function secretFiles(config: AlertsConfig): string[] {
  const files: string[] = [];
  for (const c of config.channels) {
    const ref = c.type === 'email' ? c.smtp.password : c.type === 'command' ? undefined : c.token;
    if (ref !== undefined && 'file' in ref) files.push(ref.file);
  }
  return files;
}

export type StatFile = (path: string) => Pick<Stats, 'mode' | 'uid'>;

/**
 * One-line warnings for files other users may read: a secret file, and a config with
 * channels (a push topic URL or a webhook address is often a secret in itself). Throws
 * when a command channel sits in a config that anyone but root can change: the daemon runs
 * as root and would run whatever they wrote.
 */
export function checkFilePermissions(configPath: string, config: AlertsConfig, stat: StatFile = statSync): string[] {
  const warnings: string[] = [];
  const info = stat(configPath);
  if (config.channels.some((c) => c.type === 'command')) {
    for (const path of [configPath, dirname(configPath)]) {
      const s = path === configPath ? info : stat(path);
      const writableByOthers = (s.mode & 0o022) !== 0 && !((s.mode & 0o1000) !== 0 && path !== configPath);
      if (s.uid !== 0 || writableByOthers) {
        throw new ConfigError(`${configPath}: a "command" channel runs as root, but ${path === configPath ? 'this file' : `its directory ${path}`} can be changed by users other than root: make it owned by root and not group/other-writable (chown root: ${path}; chmod go-w ${path}), or remove the command channel`);
      }
    }
  }
  if (config.channels.length > 0 && (info.mode & 0o004) !== 0) {
    warnings.push(`warning: ${configPath} is readable by all users and names alert channels (addresses, URLs): chmod o-r ${configPath}`);
  }
  for (const file of secretFiles(config)) {
    let s: Pick<Stats, 'mode' | 'uid'>;
    try {
      s = stat(file);
    } catch {
      continue; // Reported when the secret is read.
    }
    if ((s.mode & 0o044) !== 0) warnings.push(`warning: the secret file ${file} is readable by other users: chmod 600 ${file}`);
  }
  return warnings;
}

/**
 * The config file's alerts section, checked, with the permission warnings. `required`
 * false: a missing file means no alerts configured.
 */
export function loadAlertsConfig(path: string, required: boolean, stat: StatFile = statSync): { config: AlertsConfig; warnings: string[] } {
  const file = loadConfig(path, required);
  return { config: file.alerts, warnings: file.path === undefined ? [] : checkFilePermissions(path, file.alerts, stat) };
}
