// A command line that cannot be run as written: exit code 2 and a hint.

import { NetmeterError } from '../errors.js';

export class UsageError extends NetmeterError {
  override name = 'UsageError';
  /** The command whose --help to point to ('' for netmeter itself); unknown when undefined. */
  constructor(
    message: string,
    readonly command?: string,
  ) {
    super(message);
  }
}
