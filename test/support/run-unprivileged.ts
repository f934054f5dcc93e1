// Runs an ES module script as the unprivileged user nobody (setpriv, else runuser), from a
// test running as root: how the capture sources' "no privileges" message is checked for real.

import { spawn } from 'node:child_process';
import { once } from 'node:events';

/** The script's exit code and stderr, or undefined when neither setpriv nor runuser is installed. */
export async function runModuleAsNobody(script: string): Promise<{ code: number | null; stderr: string } | undefined> {
  const nodeArgs = [process.execPath, '--input-type=module', '-e', script];
  for (const [command, ...args] of [
    ['setpriv', '--reuid=65534', '--regid=65534', '--clear-groups', ...nodeArgs],
    ['runuser', '-u', 'nobody', '--', ...nodeArgs],
  ] as string[][]) {
    const child = spawn(command!, args, { cwd: '/', stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (s: string) => (stderr += s));
    const outcome = await Promise.race([once(child, 'close'), once(child, 'error').then(() => 'missing' as const)]);
    if (outcome === 'missing') continue;
    return { code: (outcome as [number | null])[0], stderr };
  }
  return undefined;
}
