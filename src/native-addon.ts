// Loads the project's N-API addon (native/build/Release/netmeter_native.node) once, for
// every module that uses a part of it; remembers why it failed so each can say so.

import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

let loaded: { addon: Record<string, unknown> } | { error: Error } | undefined;

/** The addon's exports, or the error that kept it from loading. */
export function loadNativeAddon(): { addon: Record<string, unknown> } | { error: Error } {
  if (loaded) return loaded;
  try {
    const root = packageRoot(dirname(fileURLToPath(import.meta.url)));
    loaded = { addon: createRequire(import.meta.url)(join(root, 'native', 'build', 'Release', 'netmeter_native.node')) as Record<string, unknown> };
  } catch (error) {
    loaded = { error: error instanceof Error ? error : new Error(String(error)) };
  }
  return loaded;
}

/** A file shipped in the package (e.g. native/bpf/socket_owners.bpf.o), by its path in it. */
export function packagePath(...parts: string[]): string {
  return join(packageRoot(dirname(fileURLToPath(import.meta.url))), ...parts);
}

// Source runs from src/ and compiled code from dist/src/, so find the package by its name
// rather than by a fixed number of "..".
function packageRoot(start: string): string {
  for (let dir = start; ; dir = dirname(dir)) {
    try {
      const manifest = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { name?: unknown };
      if (manifest.name === 'netmeter') return dir;
    } catch {
      // no manifest here, or not readable: keep climbing
    }
    if (dirname(dir) === dir) throw new Error(`no netmeter package.json above ${start}`);
  }
}
