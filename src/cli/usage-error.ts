// A command line that cannot be run as written: exit code 2 and a hint.

import { NetmeterError } from '../errors.js';

export class UsageError extends NetmeterError {
  override name = 'UsageError';
}
