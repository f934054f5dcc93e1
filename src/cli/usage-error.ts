// A command line that cannot be run as written: exit code 2 and a hint.

export class UsageError extends Error {
  override name = 'UsageError';
}
